//! Vamos engine: the protection status of every person, household and community against the
//! service catalogue at an explicit reference date, concurrent protection, and the ten Logros
//! per district, department and nation with their breakdowns.
//! Architecture invariant: no SQL, no HTTP, no clock — the registry arrives through
//! `RegistrySink`, the date as a parameter.

pub mod classify;
pub mod costing;
pub mod data;
pub mod ipm;
pub mod logros;
pub mod needs;
pub mod sql;

pub use classify::{Because, Classifier, Decision, Status, Unit};
pub use data::RegistryData;
