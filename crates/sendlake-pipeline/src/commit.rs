//! The one commit path: every unit of every source kind is committed here, the same way, and
//! its outcome recorded in the manifest.
//!
//! A unit is one Delta commit: its staged parts replace what its mode names, with the run id,
//! the pipeline and the unit's metadata (a stream's cursor, the submissions) in the same
//! commit, so a table and the position the next run starts from can never disagree. A failed
//! commit is reported, not fatal: the table keeps its previous version, the rest of the unit's
//! group is skipped, and the source is marked stale.

use std::collections::BTreeMap;
use std::sync::Arc;

use sendlake_load::{Lake, TableCommit, commit_table};
use sendlake_schema::SchemaRegistry;
use serde_json::Value as Json;
use tracing::{error, info};

use crate::error::{Fault, RunError};
use crate::manifest::{CommitEntry, CommitStatus, SourceEntry, TableEntry};
use crate::progress::Progress;
use crate::source::{Expect, Slot, Unit};

/// Commits units for one run, counting the commits it makes.
pub(crate) struct Committer<'a> {
    pub lake: &'a Lake,
    pub registry: &'a SchemaRegistry,
    pub run_id: &'a str,
    pub pipeline: &'a str,
    pub progress: Arc<dyn Progress>,
    /// Stop as if the process were killed after this many commits (the crash tests).
    #[cfg(feature = "failpoints")]
    pub crash_after: Option<usize>,
    /// Commits made so far in the run.
    pub commits: usize,
}

/// One unit's promise and what its commit wrote: a line of the reconciliation.
pub(crate) struct Ledger {
    pub expect: Expect,
    pub rows_written: Option<u64>,
}

impl Committer<'_> {
    /// Commits a source's unit groups in order, recording each outcome in the source's entry
    /// or in `tables`. Marks the source stale if a commit failed.
    ///
    /// # Errors
    /// Only the crash-simulation hook stops the run; a failed commit is recorded.
    pub(crate) async fn commit_source(
        &mut self,
        groups: Vec<Vec<Unit>>,
        entry: &mut SourceEntry,
        tables: &mut BTreeMap<String, TableEntry>,
    ) -> Result<Vec<Ledger>, RunError> {
        let mut ledger = Vec::new();
        let mut failed = false;
        for group in groups {
            let mut skip_rest = false;
            for mut unit in group {
                let outcome = if skip_rest {
                    CommitEntry::default()
                } else {
                    self.commit(&mut unit).await?
                };
                if outcome.commit == CommitStatus::Failed {
                    skip_rest = true;
                    failed = true;
                }
                ledger.push(Ledger {
                    expect: unit.expect.clone(),
                    rows_written: outcome.rows_written,
                });
                self.record(unit, outcome, entry, tables);
            }
        }
        if failed {
            entry.mark_stale(
                Fault::Environment,
                "a commit failed; see the commit entries",
            );
        }
        for st in &entry.streams {
            let r = &st.records;
            info!(source = %entry.name, stream = %st.name, read = r.read, loaded = r.loaded, quarantined = r.quarantined.values().sum::<u64>(), deleted = r.deleted, mode = %st.mode, "Stream done.");
        }
        Ok(ledger)
    }

    /// One table commit. A unit with nothing to replace is skipped.
    async fn commit(&mut self, unit: &mut Unit) -> Result<CommitEntry, RunError> {
        let Some(mode) = &unit.mode else {
            return Ok(CommitEntry::default());
        };
        let table = unit.table.as_str();
        let Some(def) = self.registry.table(table) else {
            return Ok(CommitEntry::failed(format!(
                "no table {table} in the schema"
            )));
        };
        #[cfg(feature = "failpoints")]
        if self.crash_after == Some(self.commits) {
            // Leave the manifest as `running`, exactly as a killed process would.
            return Err(RunError::SimulatedCrash(self.commits));
        }
        self.progress.phase(&format!("committing {table}"));
        let mut meta = serde_json::Map::new();
        meta.insert("pipeline".into(), Json::String(self.pipeline.to_owned()));
        meta.extend(unit.metadata.clone());
        if let Some(c) = &unit.cursor {
            meta.insert(c.key.clone(), Json::String(c.value.clone()));
        }
        let result = commit_table(TableCommit {
            table_uri: self.lake.table_uri(def.zone, table),
            schema: def.arrow_schema(),
            parts: std::mem::take(&mut unit.parts),
            mode: mode.clone(),
            run_id: self.run_id.to_owned(),
            app_metadata: meta,
        })
        .await;
        Ok(match result {
            Ok(o) => {
                self.commits += 1;
                info!(table = %table, version = o.version, rows = o.rows_written, "Table committed.");
                CommitEntry {
                    commit: CommitStatus::Committed,
                    version: Some(o.version),
                    rows_written: Some(o.rows_written),
                    error: None,
                }
            }
            Err(e) => {
                error!(table = %table, error = %e, "Table commit failed; its previous version stays current.");
                CommitEntry::failed(e.to_string())
            }
        })
    }

    /// Puts a commit's outcome where the manifest shows it.
    fn record(
        &self,
        unit: Unit,
        outcome: CommitEntry,
        entry: &mut SourceEntry,
        tables: &mut BTreeMap<String, TableEntry>,
    ) {
        match unit.slot {
            Slot::Table(counts) => {
                let t = tables
                    .entry(unit.table)
                    .or_insert_with_key(|table| TableEntry {
                        uri: self
                            .registry
                            .table(table)
                            .map(|d| self.lake.table_uri(d.zone, table))
                            .unwrap_or_default(),
                        counts: sendlake_transform::TableStats::default(),
                        commit: CommitEntry::default(),
                    });
                t.counts.merge(&counts);
                t.commit.absorb(outcome);
            }
            Slot::StreamQuarantine(i) => {
                if let Some(st) = entry.streams.get_mut(i) {
                    st.quarantine_commit = outcome;
                }
            }
            Slot::StreamData(i) => {
                if let Some(st) = entry.streams.get_mut(i) {
                    if outcome.commit == CommitStatus::Committed {
                        st.cursor_after = unit
                            .cursor
                            .map(|c| c.value)
                            .or_else(|| st.cursor_before.clone());
                    }
                    st.data_commit = outcome;
                }
            }
        }
    }
}
