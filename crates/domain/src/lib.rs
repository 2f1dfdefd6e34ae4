//! Vamos domain types: the vocabulary every other crate speaks.
//!
//! Territory codes, national identity numbers, the questionnaire schema (which answers a
//! household, person or community record carries), the registry records themselves and where
//! evidence about a person came from.
//! Architecture invariant: this crate knows nothing of SQL, HTTP, files or the clock —
//! dates such as the import date or a measurement's `as_of` arrive as parameters.

pub mod authz;
pub mod cases;
pub mod changes;
pub mod csv_safe;
pub mod evidence;
pub mod grievance;
pub mod ids;
pub mod limits;
pub mod numbers;
pub mod referral;
pub mod registry;
pub mod schema;
pub mod services;
pub mod territory;
pub mod versions;

pub use authz::{FieldPolicy, Permission, Role, Scope};
pub use evidence::{EvidenceKind, EvidenceSource};
pub use ids::{CommunityId, HouseholdId, NationalId, PersonId, ReferralId};
pub use referral::{Mover, ReferralStatus};
pub use registry::{
    AdminEventRow, AdminRecord, AnswerRef, Community, CommunityRow, CommunitySurvey, Household,
    HouseholdRow, ImportKind, PartitionedSink, Person, PersonRow, Provenance, RegistryCounts,
    RegistrySink, Sex,
};
pub use schema::{FieldKind, FieldSpec, Value};
pub use territory::{DepartmentCode, DistrictCode, Territory, TerritoryCode, TerritoryLevel};
pub use versions::{Effect, UnitStatus, VersionMeta};
