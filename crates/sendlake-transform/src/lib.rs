//! Conforming extracted records to the shared SEND schema: validate, pseudonymise, degrade.
//!
//! Brief overview:
//! - [`Sen2Conformer`] is built once per run from the [`sendlake_schema::SchemaRegistry`] and
//!   the [`PseudonymisationKey`]. [`Sen2Conformer::start_file`] gives a [`FileConformer`],
//!   which takes one [`sendlake_extract::RawPerson`] at a time and produces rows for each table
//!   (as Arrow record batches of bounded size, via [`TableRows`]) plus quarantine entries
//!   ([`Reject`], rows of the secure quarantine table via [`QuarantineRows`]).
//! - Every record it sees is counted in [`FileStats`]: loaded, or quarantined with a reason
//!   code. The run manifest checks `read = loaded + quarantined` per table.
//! - [`identifiers`] holds the UPN, ULN and NHS number check algorithms and postcode
//!   degradation; [`privacy`] holds the key and the HMAC.
//!
//! Rules are declared in `schemas/rules.toml` (id, severity, basis) and implemented here; the
//! conformer refuses to start if the two disagree ([`RULE_IDS`]). The table walk is generic over
//! the schema's table definitions: adding a column to a SEN2 table is a schema change only.
//!
//! A new source format plugs in by producing [`sendlake_extract::RawElement`]-shaped records
//! (for tree-shaped sources) or by mapping into [`TableRows`] directly (for flat sources).

pub mod conform;
pub mod identifiers;
pub mod mapping;
pub mod privacy;
pub mod quarantine;
pub mod rows;
pub mod stats;

pub use conform::{
    FileConformer, FileOutcome, HeaderInfo, Sen2Conformer, SubmissionContext, read_header,
};
pub use privacy::{KeyError, KeySource, PseudonymisationKey};
pub use quarantine::{QuarantineRows, Reject, RejectLevel};
pub use rows::{TableRows, Value};
pub use stats::{FileStats, TableStats};

/// Errors building a conformer.
#[derive(Debug, thiserror::Error)]
pub enum ConformError {
    /// The schema files and this code disagree.
    #[error("schema: {0}")]
    Schema(String),
    /// An internal Arrow error (a bug).
    #[error("internal error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// Every rule id this crate implements; `schemas/rules.toml` must declare exactly these.
pub const RULE_IDS: &[&str] = &[
    "FILE_NOT_XML",
    "FILE_ENCODING",
    "FILE_MALFORMED",
    "FILE_TRUNCATED",
    "FILE_WRONG_ROOT",
    "FILE_TOO_LARGE",
    "FILE_IO",
    "HEADER_INVALID",
    "MISSING_REQUIRED_FIELD",
    "DUPLICATE_ELEMENT",
    "INVALID_DATE",
    "INVALID_BOOLEAN",
    "INVALID_NUMBER",
    "INVALID_FORMAT",
    "CODE_NOT_IN_LIST",
    "DATE_AFTER_CENSUS",
    "UPN_FORMAT",
    "UPN_CHECK_LETTER",
    "UPN_LA_RANGE",
    "ULN_FORMAT",
    "ULN_CHECK_DIGIT",
    "POSTCODE_FORMAT",
    "NO_IDENTIFIER",
    "DUPLICATE_PERSON",
    "AGE_OUT_OF_RANGE",
    "REQUEST_DATE_ORDER",
    "ASSESSMENT_DATE_ORDER",
    "PLAN_DATE_ORDER",
    "CEASE_DATE_ORDER",
    "PLACEMENT_DATE_ORDER",
    "CEASE_REASON_PAIRING",
    "ASSESSMENT_UNEXPECTED",
    "ASSESSMENT_MISSING",
    "PLAN_UNEXPECTED",
    "PLAN_MISSING",
    "ACTIVE_PLAN_AFTER_CEASE",
    "CARDINALITY",
    "DUPLICATE_RANK",
    "NEED_PRIMARY",
    "NEED_DUPLICATE_TYPE",
    "SETTING_MISSING",
    "REVIEW_OUTCOME_WITHOUT_MEETING",
    "REVIEW_DECISION_BEFORE_MEETING",
    "UNKNOWN_ELEMENT",
    "PARENT_REJECTED",
];
