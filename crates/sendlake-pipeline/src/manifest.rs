//! The run manifest (`_runs/<run id>.json`): what a run read, loaded, quarantined and committed,
//! and the proof that the counts reconcile.

use std::collections::BTreeMap;

use sendlake_transform::{FileStats, KeySource, TableStats};
use serde::{Deserialize, Serialize};

/// A new run id: the UTC start time and a random suffix, so ids sort by time and two runs
/// started in the same second still differ.
pub fn new_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}-{:06x}",
        now.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// Overall outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started; a manifest left in this state means the run was interrupted.
    Running,
    /// Every file loaded and every table committed.
    Succeeded,
    /// Something failed (a file quarantined whole, a source or a table commit failed), the
    /// rest was committed.
    Partial,
    /// Nothing was committed.
    Failed,
}

impl RunStatus {
    /// How the process ends with this status (see docs/operations.md).
    pub fn exit_status(self) -> crate::error::ExitStatus {
        use crate::error::ExitStatus;
        match self {
            RunStatus::Succeeded => ExitStatus::Success,
            RunStatus::Partial => ExitStatus::Partial,
            RunStatus::Running | RunStatus::Failed => ExitStatus::Failed,
        }
    }

    /// The process exit code for this status.
    pub fn exit_code(self) -> i32 {
        self.exit_status().code()
    }
}

/// Pseudonymisation as used by the run (never the key itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyInfo {
    /// `environment` or `demo`.
    pub source: KeySource,
    /// Environment variable the key came from (production).
    pub key_env: Option<String>,
    /// Non-reversible fingerprint: changes when the key changes (linkage breaks then).
    pub fingerprint: String,
}

/// One input file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the content read.
    pub sha256: String,
    /// Loaded, or quarantined whole.
    pub status: FileStatus,
    /// Submission, when the header was read.
    pub submission_id: Option<String>,
    /// For a quarantined file: reason code and message with line and column.
    pub error: Option<FileError>,
    /// Person elements read before the end (or the error).
    pub persons_read: u64,
    /// Counts per table, field rejects and warnings (empty for a quarantined file: none of its
    /// records were loaded).
    pub stats: FileStats,
}

/// Why a file was quarantined.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileError {
    /// Rule id (e.g. `FILE_TRUNCATED`).
    pub reason: String,
    /// Message naming line and column.
    pub message: String,
    /// Line, when known.
    pub line: Option<u32>,
    /// Column, when known.
    pub column: Option<u32>,
}

/// One source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceEntry {
    /// Source name.
    pub name: String,
    /// Source type.
    #[serde(rename = "type")]
    pub source_type: String,
    /// Folder read.
    pub path: String,
    /// Whether synthetic files were generated for it in this run.
    pub generated: bool,
    /// Files, in processing order.
    pub files: Vec<FileEntry>,
    /// Submissions loaded (replaced) by this run.
    pub submissions: Vec<String>,
    /// `ok`, or `stale` when the source failed and its last good data stays current (absent
    /// in manifests written before every kind had a status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SourceStatus>,
    /// Why the source is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_reason: Option<String>,
    /// Whose fault it is that the source is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<crate::error::Fault>,
    /// Declared sources: one entry per stream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamEntry>,
}

impl SourceEntry {
    /// Marks the source stale: it failed, `fault` says whose fault, and its last good data
    /// stays current.
    pub fn mark_stale(&mut self, fault: crate::error::Fault, reason: impl Into<String>) {
        self.status = Some(SourceStatus::Stale);
        self.stale_reason = Some(reason.into());
        self.fault = Some(fault);
    }
}

/// One stream of a declared source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamEntry {
    /// Stream name.
    pub name: String,
    /// Target table.
    pub table: String,
    /// `full` (replaces every row of the stream) or `incremental` (replaces the ids read).
    pub mode: ReadMode,
    /// Cursor committed by the previous run, if any.
    pub cursor_before: Option<String>,
    /// Cursor committed with this run's rows (unchanged when nothing changed).
    pub cursor_after: Option<String>,
    /// Files read (file sources).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Record counts.
    pub records: StreamStats,
    /// The data commit.
    pub data_commit: CommitEntry,
    /// The quarantine commit.
    pub quarantine_commit: CommitEntry,
}

/// Record counts of one stream. `read = loaded + quarantined + deleted + superseded`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStats {
    /// API pages fetched.
    pub pages: u64,
    /// Records read (tombstones included).
    pub read: u64,
    /// Rows staged for the table.
    pub loaded: u64,
    /// Records not loaded, by reason.
    pub quarantined: BTreeMap<String, u64>,
    /// Tombstones: ids deleted from the table.
    pub deleted: u64,
    /// Older copies of a record the same walk returned again (the newer copy counts instead).
    pub superseded: u64,
    /// Values nulled and quarantined (their records loaded), by reason.
    pub field_rejects: BTreeMap<String, u64>,
    /// Files that could not be read at all.
    pub files_quarantined: u64,
    /// Schema drift found, by `RULE field`.
    pub drift: BTreeMap<String, u64>,
}

impl StreamStats {
    /// Whether every record read is accounted for.
    pub fn reconciles(&self) -> bool {
        self.read
            == self.loaded + self.quarantined.values().sum::<u64>() + self.deleted + self.superseded
    }
}

/// Whether a table commit happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitStatus {
    /// Nothing to write and nothing to replace: the table is as it was.
    #[default]
    Skipped,
    /// A new version was committed.
    Committed,
    /// The commit failed; the table keeps its previous version.
    Failed,
}

impl CommitStatus {
    /// The manifest's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitStatus::Skipped => "skipped",
            CommitStatus::Committed => "committed",
            CommitStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for CommitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a source's data is this run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// Staged and committed.
    Ok,
    /// Nothing (or not all) of it was committed; its last good data stays current.
    Stale,
}

/// Whether an input file was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Its records were loaded (some perhaps quarantined one by one).
    Loaded,
    /// It could not be read whole; nothing of it was loaded.
    Quarantined,
}

/// How a stream was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Everything: replaces every row of the stream (or of the files read).
    #[default]
    Full,
    /// From a cursor: replaces the ids read.
    Incremental,
}

impl std::fmt::Display for ReadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadMode::Full => "full",
            ReadMode::Incremental => "incremental",
        })
    }
}

/// One Delta commit: a stream's data or quarantine, or a SEN2 table's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CommitEntry {
    /// Whether it happened.
    pub commit: CommitStatus,
    /// New table version.
    pub version: Option<i64>,
    /// Rows written.
    pub rows_written: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

impl CommitEntry {
    /// A failed commit.
    pub fn failed(error: String) -> Self {
        Self {
            commit: CommitStatus::Failed,
            error: Some(error),
            ..Self::default()
        }
    }

    /// Adds another commit of the same table in the same run (SEN2 tables of two sources):
    /// rows add up, the version is the newest, and a failure wins over a success.
    pub fn absorb(&mut self, other: CommitEntry) {
        self.rows_written = match (self.rows_written, other.rows_written) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.version = self.version.max(other.version);
        self.commit = self.commit.max(other.commit);
        if other.error.is_some() {
            self.error = other.error;
        }
    }
}

/// One table's totals and commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    /// Table location.
    pub uri: String,
    /// Counts over the loaded files.
    #[serde(flatten)]
    pub counts: TableStats,
    /// The commit (`commit`, `version`, `rows_written`, `error`).
    #[serde(flatten)]
    pub commit: CommitEntry,
}

/// One reconciliation check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// The numbers.
    pub detail: String,
}

/// The manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub manifest_version: u32,
    /// Run id.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Pipeline file.
    pub pipeline_file: String,
    /// sendlake version.
    pub sendlake_version: String,
    /// Status.
    pub status: RunStatus,
    /// Exit code the run ended with (None while running).
    pub exit_code: Option<i32>,
    /// Start (RFC 3339, UTC).
    pub started_at: String,
    /// End (RFC 3339, UTC).
    pub finished_at: Option<String>,
    /// Lake root.
    pub store: String,
    /// Pseudonymisation.
    pub pseudonymisation: KeyInfo,
    /// Sources.
    pub sources: Vec<SourceEntry>,
    /// Tables, by name.
    pub tables: BTreeMap<String, TableEntry>,
    /// Field rejects over all loaded files, by reason.
    pub field_rejects: BTreeMap<String, u64>,
    /// Warnings over all loaded files, by rule.
    pub warnings: BTreeMap<String, u64>,
    /// Files quarantined whole, by reason.
    pub files_quarantined: BTreeMap<String, u64>,
    /// Reconciliation: read = loaded + quarantined per table, and rows committed = loaded.
    pub reconciliation: Vec<Check>,
    /// Whether every check held.
    pub reconciled: bool,
    /// The modelling layer: each output table's outcome and every data-quality check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<sendlake_model::ModelReport>,
    /// Why the models could not be built at all (a broken project or session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models_error: Option<String>,
    /// What the run was limited to; absent for a full run.
    #[serde(default, skip_serializing_if = "RunScope::is_full")]
    pub scope: RunScope,
    /// Locks the run held in the store (`_locks/<unit>.json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<String>,
    /// Stale locks of interrupted runs that this run took over, with whose they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovered_locks: Vec<String>,
    /// What the retention policy removed after the commits (`[retention] after_run`). A step
    /// that failed is listed in its `warnings`; it never changes the run's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionReport>,
}

/// A run limited to part of the pipeline: a backfill, a replay, or one pod of a fan-out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunScope {
    /// Only these sources (`--source`); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Only the SEN2 files whose names match this pattern (`--files`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<String>,
    /// Partner streams re-read from this cursor value (`--since`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// No model build (`--no-models`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_models: bool,
    /// No source read (`--models-only`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub models_only: bool,
}

impl RunScope {
    /// Whether this is a full run.
    pub fn is_full(&self) -> bool {
        *self == RunScope::default()
    }

    /// A one-line description, e.g. `--source council_cms --since 2026-01-01`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for s in &self.sources {
            parts.push(format!("--source {s}"));
        }
        if let Some(f) = &self.files {
            parts.push(format!("--files {f}"));
        }
        if let Some(s) = &self.since {
            parts.push(format!("--since {s}"));
        }
        if self.no_models {
            parts.push("--no-models".into());
        }
        if self.models_only {
            parts.push("--models-only".into());
        }
        parts.join(" ")
    }
}

/// What one application of the policy removed: `manifest.retention` after a run, and what
/// `sendlake vacuum` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// Nothing was removed; the counts say what would have been.
    pub dry_run: bool,
    /// When the policy was applied (RFC 3339, UTC).
    pub applied_at: String,
    /// The policy: days old versions stay readable.
    pub versions_days: u32,
    /// The policy: days a quarantine row is kept.
    pub quarantine_days: u32,
    /// Quarantine rows loaded before this (RFC 3339, UTC) were deleted.
    pub quarantine_cutoff: String,
    /// Each table that exists, by name. Tables not written yet are left out.
    pub tables: BTreeMap<String, TableRetention>,
    /// Sums over the tables.
    pub totals: RetentionTotals,
    /// Why the policy was not applied at all: another run held part of the lake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// One line per table the policy could not be applied to in full, naming it and the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What the policy removed from one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRetention {
    /// Table location.
    pub uri: String,
    /// The table's version afterwards (retention commits too: the delete, the vacuum's start
    /// and end, the retention table properties).
    pub version: Option<i64>,
    /// Data files deleted.
    pub files_removed: u64,
    /// Their names, relative to the table folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Their size in bytes, when known.
    pub bytes_removed: Option<u64>,
    /// `_delta_log` entries of expired versions removed (not counted in a dry run).
    pub log_entries_removed: Option<u64>,
    /// Quarantine tables: rows deleted because they were older than `quarantine_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_rows_deleted: Option<u64>,
    /// Whether every version before this one was removed (after deleting expired rows).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub purged: bool,
    /// What failed, naming the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Sums over the tables of a [`RetentionReport`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionTotals {
    /// Tables the policy was applied to (they exist).
    pub tables: u64,
    /// Data files deleted.
    pub files_removed: u64,
    /// Bytes deleted, over the tables that know theirs.
    pub bytes_removed: u64,
    /// `_delta_log` entries removed.
    pub log_entries_removed: u64,
    /// Quarantine rows deleted.
    pub quarantine_rows_deleted: u64,
    /// Tables where a step failed.
    pub tables_failed: u64,
}
