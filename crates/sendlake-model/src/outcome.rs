//! What a build reports: each output table's outcome and every check result.

use crate::checks::CheckResult;
use crate::suppress::SuppressionStats;

/// What happened to one output table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Built, checked and committed.
    Committed,
    /// Built, but a failing check kept it back: its previous version stays current.
    Blocked,
    /// Not built: an input it reads failed or was blocked.
    Skipped,
    /// Its SQL or its output was wrong.
    Failed,
}

/// One output table's outcome.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModelOutcome {
    /// Table name.
    pub table: String,
    /// Zone.
    pub zone: String,
    /// Outcome.
    pub status: ModelStatus,
    /// Rows built.
    pub rows: u64,
    /// Committed version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Tables it read.
    pub reads: Vec<String>,
    /// Why it was blocked, skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Suppression applied (published tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<SuppressionStats>,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// Of which: running the SQL, conforming, suppressing and staging the output.
    #[serde(default)]
    pub query_millis: u64,
    /// Of which: the data-quality checks on the candidate rows.
    #[serde(default)]
    pub check_millis: u64,
    /// Of which: the Delta commit.
    #[serde(default)]
    pub commit_millis: u64,
}

/// The whole build.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ModelReport {
    /// Per table, in build order.
    pub models: Vec<ModelOutcome>,
    /// Every check result.
    pub checks: Vec<CheckResult>,
    /// Range of `dim_date`.
    pub date_range: Option<(String, String)>,
}

impl ModelReport {
    /// True when every table was committed and no check failed.
    pub fn ok(&self) -> bool {
        self.models
            .iter()
            .all(|m| m.status == ModelStatus::Committed)
            && !self.checks.iter().any(CheckResult::blocks)
    }
}

impl ModelOutcome {
    /// A model that was not built (skipped for a blocked input, or failed): nothing written,
    /// the previous version current.
    pub(crate) fn not_built(
        def: &sendlake_schema::TableDef,
        status: ModelStatus,
        reads: Vec<String>,
        reason: String,
        millis: u64,
    ) -> Self {
        Self {
            table: def.name.clone(),
            zone: def.zone.as_str().into(),
            status,
            rows: 0,
            version: None,
            reads,
            reason: Some(reason),
            suppression: None,
            millis,
            query_millis: 0,
            check_millis: 0,
            commit_millis: 0,
        }
    }
}

pub(crate) fn elapsed(t: std::time::Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
