//! Record linkage (issue 40): finding the same person across registries without a cédula.
//! Fellegi–Sunter with u from random pairs and m by EM, comparisons built from levels over
//! names prepared the Paraguayan way, blocking rules counted before they run, term-frequency
//! adjustments, an explanation of every score, and entities with stable ids. Pure: no SQL, no
//! HTTP, no files — the application reads the data and keeps the results.

pub mod block;
pub mod cluster;
pub mod compare;
pub mod evaluate;
pub mod model;
pub mod names;
pub mod settings;
pub mod table;

pub use block::{Input, Keys};
pub use model::{train, Model, Scored, Waterfall};
pub use settings::Settings;
pub use table::Table;
