//! The sources a run reads, one module per kind, behind one seam.
//!
//! Every kind turns its inputs into the same thing, a [`StagedSource`]: the source's manifest
//! entry and its [`Unit`]s (a table, the Parquet parts staged for it, how they replace what the
//! table holds, and the commit metadata that must land with them, such as a stream's cursor),
//! grouped so that a failed commit skips the rest of its group. The run commits every kind
//! the same way ([`crate::commit`]) and reconciles every unit the same way
//! ([`crate::reconcile`]). Adding a kind is a module here and an arm in [`stage`]; the run
//! does not change.
//!
//! | kind | module | staged units |
//! |---|---|---|
//! | SEN2 returns (XML files) | [`sen2`] | each table of the return, then the quarantine |
//! | partner REST APIs | [`rest`] | per stream: its quarantine, then its rows with the cursor |
//! | partner files (CSV, JSON, Excel) | [`file`] | per stream: its quarantine, then its rows |
//! | DfE statistics (EES API) | [`ees`] | per stream: its quarantine, then its rows |
//!
//! A source that cannot be staged (an API down past its retries, a delivery missing, a folder
//! that cannot be listed) returns [`SourceFailed`]: nothing of it is committed, its last good
//! data stays current, and the run goes on with the next source.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sendlake_load::{Lake, StagedPart, StagingArea, WriteMode};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::{PseudonymisationKey, TableStats};

use crate::config::SourcePlan;
use crate::error::Fault;
use crate::manifest::{Check, RunScope, SourceEntry};
use crate::progress::Progress;
use crate::sources::{DeclaredSource, SourceDef};

mod dry_run;
mod ees;
mod file;
mod rest;
pub(crate) mod sen2;
pub(crate) mod simulator;
mod stream;

pub use dry_run::dry_run;

/// What every source of a run shares: who is running, when, where to, with which key.
pub(crate) struct RunContext<'a> {
    /// The run's id, stamped on every row and quarantine entry.
    pub run_id: &'a str,
    /// The run's clock: when it started (`loaded_at` of every row).
    pub started: DateTime<Utc>,
    /// The lake the run reads links and cursors from.
    pub lake: &'a Lake,
    /// The schema.
    pub registry: &'a Arc<SchemaRegistry>,
    /// The pseudonymisation key.
    pub key: Arc<PseudonymisationKey>,
    /// Local staging for the Parquet parts.
    pub staging: &'a StagingArea,
    /// Rows per Arrow batch.
    pub batch_rows: usize,
    /// What the run is limited to (`--files`, `--since`).
    pub scope: &'a RunScope,
    /// Secrets by environment-variable name (the simulator's credentials, the caller's,
    /// then the process environment).
    pub env: &'a (dyn Fn(&str) -> Option<String> + Send + Sync),
    /// Base URL of the in-process partner simulator, when one runs (demo builds).
    pub sim_url: Option<String>,
    /// Progress sink.
    pub progress: Arc<dyn Progress>,
}

/// Why a source could not be staged; nothing of it is committed this run.
#[derive(Debug)]
pub(crate) struct SourceFailed {
    /// Who has to act.
    pub fault: Fault,
    /// What went wrong, naming the stream, file or endpoint (never an input value).
    pub reason: String,
}

impl SourceFailed {
    pub(crate) fn partner(reason: impl Into<String>) -> Self {
        Self {
            fault: Fault::Partner,
            reason: reason.into(),
        }
    }

    pub(crate) fn environment(reason: impl Into<String>) -> Self {
        Self {
            fault: Fault::Environment,
            reason: reason.into(),
        }
    }

    pub(crate) fn configuration(reason: impl Into<String>) -> Self {
        Self {
            fault: Fault::Configuration,
            reason: reason.into(),
        }
    }
}

/// A source, staged: its manifest entry, what to commit, and what to check.
pub(crate) struct StagedSource {
    /// The manifest entry, filled in by the commits.
    pub entry: SourceEntry,
    /// Units to commit, in groups: a group commits in order and a failed commit skips the
    /// rest of its group (a stream's rows are not committed without its quarantine). Groups
    /// are independent.
    pub groups: Vec<Vec<Unit>>,
    /// Checks only this kind can make (each SEN2 file reconciles per table).
    pub checks: Vec<Check>,
    /// Run-wide tallies the manifest keeps beside the tables (SEN2 field rejects, warnings
    /// and whole-file quarantines by reason).
    pub totals: RunTotals,
    /// Something was loaded for this source (a submission, a stream), even if not all of it.
    pub delivered: bool,
    /// Part of the input was lost to the quarantine whole (a file), though the source
    /// staged: the run is partial.
    pub degraded: bool,
}

/// Run-wide tallies by reason.
#[derive(Debug, Default)]
pub(crate) struct RunTotals {
    pub field_rejects: BTreeMap<String, u64>,
    pub warnings: BTreeMap<String, u64>,
    pub files_quarantined: BTreeMap<String, u64>,
}

/// One table commit a source asks for.
pub(crate) struct Unit {
    /// Table name (schema name, e.g. `quarantine/sen2_rejects`).
    pub table: String,
    /// Parts staged for it.
    pub parts: Vec<StagedPart>,
    /// What the parts replace; `None` when there is nothing to replace and nothing to write,
    /// so the table is left as it is (the manifest says `skipped`).
    pub mode: Option<WriteMode>,
    /// Commit-info entries that land atomically with the rows.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// A cursor committed with the rows: the next run reads from it.
    pub cursor: Option<Cursor>,
    /// Where the outcome goes in the manifest.
    pub slot: Slot,
    /// What reconciliation expects of the commit.
    pub expect: Expect,
}

/// A stream's cursor as committed.
pub(crate) struct Cursor {
    /// Commit-info key.
    pub key: String,
    /// The value the next run starts from.
    pub value: String,
}

/// Where a unit's commit is recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Slot {
    /// `tables[<table>]`, with the counts behind it (SEN2 tables, summed over SEN2 sources).
    Table(Box<TableStats>),
    /// `streams[index].data_commit` of the source entry.
    StreamData(usize),
    /// `streams[index].quarantine_commit` of the source entry.
    StreamQuarantine(usize),
}

/// What a unit's counts promise, for the reconciliation.
#[derive(Debug, Clone)]
pub(crate) struct Expect {
    /// How checks name the unit, e.g. `sen2_returns/person` or `council_cms/referrals`.
    pub label: String,
    /// The counts.
    pub tally: Tally,
}

/// The one counts shape every unit reconciles with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tally {
    /// Rows of a data table: `read = loaded + quarantined + deleted + superseded`, and the
    /// commit writes `loaded` rows.
    Rows {
        read: u64,
        loaded: u64,
        quarantined: u64,
        deleted: u64,
        superseded: u64,
    },
    /// Quarantine rows: the commit writes one per record, field and file reject.
    Rejects {
        records: u64,
        fields: u64,
        files: u64,
    },
}

/// The order sources are staged and committed in: SEN2 returns first, since they establish
/// the children that partner records link to (`person_key` by NHS number), then the others in
/// pipeline order.
pub(crate) fn commit_order(sources: &[SourcePlan]) -> Vec<&SourcePlan> {
    let mut ordered: Vec<&SourcePlan> = sources.iter().collect();
    ordered.sort_by_key(|s| !matches!(s, SourcePlan::Sen2Xml(_)));
    ordered
}

/// Stages one source: reads it whole into local parts, committing nothing.
pub(crate) async fn stage(
    cx: &RunContext<'_>,
    source: &SourcePlan,
) -> Result<StagedSource, SourceFailed> {
    match source {
        SourcePlan::Sen2Xml(s) => sen2::stage(cx, s),
        SourcePlan::Declared(d) => match &d.def {
            SourceDef::Rest(def) => rest::stage(cx, d, def).await,
            SourceDef::File(def) => file::stage(cx, d, def).await,
            SourceDef::Ees(def) => ees::stage(cx, d, def).await,
        },
    }
}

/// The manifest entry of a source before it is staged (and as it stays when it fails).
pub(crate) fn entry(source: &SourcePlan) -> SourceEntry {
    match source {
        SourcePlan::Sen2Xml(s) => new_entry(&s.name, "sen2_xml", &s.path),
        SourcePlan::Declared(d) => entry_of(d),
    }
}

fn entry_of(d: &DeclaredSource) -> SourceEntry {
    new_entry(d.def.name(), d.def.kind(), &d.file)
}

pub(super) fn new_entry(name: &str, kind: &str, path: &std::path::Path) -> SourceEntry {
    SourceEntry {
        name: name.to_owned(),
        source_type: kind.to_owned(),
        path: path.display().to_string(),
        generated: false,
        files: Vec::new(),
        submissions: Vec::new(),
        status: Some(crate::manifest::SourceStatus::Ok),
        stale_reason: None,
        fault: None,
        streams: Vec::new(),
    }
}
