//! The use cases of Vamos, shared by every interface: the command line, the JSON API, the web
//! pages and DCI call these functions, so a rule is written once. Measurements (classify, save,
//! explain, the Logros), referrals (generation, routes, delivery points, reports),
//! counter-referrals (checking, the server's intake writer, the incremental Logros updater),
//! accounts (password policy, users, tokens, data-sharing agreements, sessions), the audit
//! trail, DCI (senders, transactions, searches, subscriptions) and backups.
//!
//! **Architecture invariant:** no HTTP here (no axum, tower or hyper) and no SQL text — storage
//! goes through `vamos_store`'s typed functions, which only this crate calls (the interfaces
//! call the use cases: a tidy test checks it). Errors are [`Error`]: a kind and a Spanish
//! message; the HTTP crate decides the status code.

pub mod accounts;
pub mod anonymise;
pub mod audit;
pub mod backup;
pub mod barriers;
pub mod budget;
pub mod cases;
pub mod changes;
pub mod clock;
pub mod context;
pub mod costing;
pub mod counter_referrals;
pub mod dci;
pub mod dci_signing;
pub mod error;
pub mod fuzzing;
pub mod geo;
pub mod governance;
pub mod grievances;
pub mod history;
pub mod imports;
pub mod ipm;
pub mod ipm_method;
pub mod linkage;
pub mod management_agreements;
pub mod measurements;
pub mod microdata;
pub mod orientations;
pub mod pdf;
pub mod plans;
pub mod priorities;
pub mod referrals;
pub mod registry;
pub mod reports;
pub mod rollout;
pub mod self_registration;
pub mod suppression;
pub mod targets;
pub mod units;
pub mod versions;
pub mod vocabulary;

pub use context::Actor;
pub use error::{Error, ErrorKind, Result};
