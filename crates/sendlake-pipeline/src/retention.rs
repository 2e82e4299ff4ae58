//! Retention: a pipeline's `[retention]` policy applied to every table the lake holds, so
//! children's data is not kept longer than agreed (docs/operations.md, "Retention").
//!
//! For each table of the schema registry that exists (SEN2, partner, quarantine and model
//! tables alike):
//! 1. quarantine tables (zone `secure`, which hold rejected raw values): rows whose load time
//!    (the column derived from `lineage_loaded_at`) is older than `quarantine_days` are
//!    deleted in one commit; if any were, the table is then purged, so the older versions that
//!    still hold them are gone too, whatever their age;
//! 2. every table is vacuumed: data files that no version younger than `versions_days` needs,
//!    files no version references (left by a crashed run), and expired log entries are
//!    deleted.
//!
//! A table that fails is reported and the others go on: retention never fails a load.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use sendlake_calendar::Clock;
use sendlake_load::{Lake, VacuumOutcome, delete_older_than, purge_table, vacuum_table};
use sendlake_schema::{Derive, SchemaRegistry, TableDef, Zone};
use tracing::{info, warn};

use crate::config::{PipelinePlan, RetentionConfig};
use crate::error::RunError;
use crate::lock::RunLocks;

pub use crate::manifest::{RetentionReport, RetentionTotals, TableRetention};

/// Applies the policy to every table of `registry` that exists in `lake`, as of `now`. In a
/// dry run nothing is changed and the report says what would be removed (files and rows; log
/// entries are only counted when removed).
///
/// Never fails: a table where a step fails is reported (`error`, `warnings`) and the others
/// go on.
pub async fn apply(
    lake: &Lake,
    policy: &RetentionConfig,
    registry: &SchemaRegistry,
    now: DateTime<Utc>,
    dry_run: bool,
) -> RetentionReport {
    let versions = Duration::from_secs(u64::from(policy.versions_days) * 86_400);
    // A period reaching back before chrono's calendar keeps every row.
    let quarantine_cutoff = TimeDelta::try_days(i64::from(policy.quarantine_days))
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut report = RetentionReport {
        dry_run,
        applied_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        versions_days: policy.versions_days,
        quarantine_days: policy.quarantine_days,
        quarantine_cutoff: quarantine_cutoff.to_rfc3339_opts(SecondsFormat::Millis, true),
        ..RetentionReport::default()
    };
    for def in registry.tables() {
        let uri = lake.table_uri(def.zone, &def.name);
        let Some(entry) = apply_to_table(def, uri, versions, quarantine_cutoff, dry_run).await
        else {
            continue;
        };
        if let Some(e) = &entry.error {
            warn!(table = %def.name, error = %e, "Retention could not be applied in full to this table; the run is not affected.");
            report.warnings.push(format!("{}: {e}", def.name));
        }
        report.tables.insert(def.name.clone(), entry);
    }
    report.totals = totals(&report.tables);
    let t = &report.totals;
    info!(
        dry_run,
        tables = t.tables,
        files = t.files_removed,
        bytes = t.bytes_removed,
        log_entries = t.log_entries_removed,
        quarantine_rows = t.quarantine_rows_deleted,
        failed = t.tables_failed,
        "Retention applied."
    );
    report
}

/// The run's hook: applies the pipeline's policy now unless `[retention] after_run` is off.
///
/// Retention needs the whole lake to itself: its vacuum deletes files no version references,
/// which is what another run's written-but-not-yet-committed data files look like. So the run
/// also takes the locks of the units it did not run (a `--source` or `--models-only` run, a
/// fan-out pod). When another run holds one, retention is skipped, with the reason in the
/// report, and the next run or `sendlake vacuum` applies it. Stale locks of crashed runs taken
/// over on the way are added to `recovered`.
pub(crate) async fn after_run(
    lake: &Lake,
    plan: &PipelinePlan,
    registry: &SchemaRegistry,
    run_id: &str,
    held: &[String],
    recovered: &mut Vec<String>,
    clock: &dyn Clock,
) -> Option<RetentionReport> {
    if !plan.retention.after_run {
        return None;
    }
    // The run's own locks (`held`) are still held, and re-taking one of ours is refused as
    // held: take only the others.
    let others: Vec<String> = crate::lock::pipeline_units(plan)
        .into_iter()
        .filter(|u| !held.contains(u))
        .collect();
    let mut extra = match RunLocks::acquire(
        lake,
        &others,
        run_id,
        &plan.name,
        plan.lock_stale_after,
    )
    .await
    {
        Ok(locks) => locks,
        Err(e) => {
            let why = format!("retention skipped: {e}");
            info!(reason = %why, "Retention skipped this time: another run is writing to the lake.");
            return Some(RetentionReport {
                applied_at: clock.now().to_rfc3339_opts(SecondsFormat::Millis, true),
                versions_days: plan.retention.versions_days,
                quarantine_days: plan.retention.quarantine_days,
                skipped: Some(why),
                ..RetentionReport::default()
            });
        }
    };
    recovered.extend(extra.recovered.iter().cloned());
    let report = apply(lake, &plan.retention, registry, clock.now(), false).await;
    extra.release().await;
    Some(report)
}

/// `sendlake vacuum`: opens `store` (the pipeline's, or another) and applies the pipeline's
/// policy now, holding every lock of the pipeline meanwhile (a run that is writing would
/// otherwise lose its uncommitted files).
///
/// # Errors
/// [`RunError::Locked`] (exit code 4) when a run holds one of the locks; [`RunError::Environment`]
/// (exit code 3) when the store cannot be opened or its locks cannot be read.
pub async fn vacuum(
    plan: &PipelinePlan,
    store: &str,
    registry: &SchemaRegistry,
    dry_run: bool,
) -> Result<RetentionReport, RunError> {
    let lake = crate::open_store(store).map_err(RunError::environment)?;
    let id = format!("vacuum-{}", crate::manifest::new_run_id(Utc::now()));
    crate::lock::check_conditional_writes(&lake).await?;
    let units = crate::lock::pipeline_units(plan);
    let mut locks =
        RunLocks::acquire(&lake, &units, &id, &plan.name, plan.lock_stale_after).await?;
    for r in &locks.recovered {
        warn!(lock = %r, "Took over a stale lock of an interrupted run.");
    }
    let report = apply(&lake, &plan.retention, registry, Utc::now(), dry_run).await;
    locks.release().await;
    Ok(report)
}

/// One table; `None` if it does not exist.
async fn apply_to_table(
    def: &TableDef,
    uri: String,
    versions: Duration,
    quarantine_cutoff: DateTime<Utc>,
    dry_run: bool,
) -> Option<TableRetention> {
    let mut errors = Vec::new();
    let mut rows_deleted = None;
    if def.zone == Zone::Secure {
        match loaded_at_column(def) {
            Some(column) => {
                match delete_older_than(&uri, column, quarantine_cutoff, dry_run).await {
                    Ok(n) => rows_deleted = Some(n),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            None => errors.push(format!(
                "quarantine table {} has no column derived from the load time (`derive = \"lineage_loaded_at\"`), so its rows cannot expire",
                def.name
            )),
        }
    }
    let purge = rows_deleted.is_some_and(|n| n > 0);
    let vacuumed = if purge {
        purge_table(&uri, versions, dry_run).await
    } else {
        vacuum_table(&uri, versions, dry_run).await
    };
    let mut entry = TableRetention {
        uri,
        quarantine_rows_deleted: rows_deleted,
        purged: purge && !dry_run,
        ..TableRetention::default()
    };
    match vacuumed {
        Ok(None) => return None,
        Ok(Some(outcome)) => fill(&mut entry, outcome),
        Err(e) => errors.push(e.to_string()),
    }
    if !errors.is_empty() {
        entry.error = Some(errors.join("; "));
    }
    Some(entry)
}

fn fill(entry: &mut TableRetention, outcome: VacuumOutcome) {
    entry.version = Some(outcome.version);
    entry.files_removed = outcome.files_deleted.len() as u64;
    entry.files = outcome.files_deleted;
    entry.bytes_removed = outcome.bytes_deleted;
    entry.log_entries_removed = outcome.log_entries_removed;
}

/// The column a quarantine row's age is measured by: the one the schema fills with the load
/// time of the run that rejected it (`rejected_at` today), found by how it is derived rather
/// than by name.
fn loaded_at_column(def: &TableDef) -> Option<&str> {
    def.columns
        .iter()
        .find(|c| c.derive == Some(Derive::LineageLoadedAt))
        .map(|c| c.name.as_str())
}

fn totals(tables: &BTreeMap<String, TableRetention>) -> RetentionTotals {
    let mut t = RetentionTotals::default();
    for e in tables.values() {
        t.tables += 1;
        t.files_removed += e.files_removed;
        t.bytes_removed += e.bytes_removed.unwrap_or(0);
        t.log_entries_removed += e.log_entries_removed.unwrap_or(0);
        t.quarantine_rows_deleted += e.quarantine_rows_deleted.unwrap_or(0);
        t.tables_failed += u64::from(e.error.is_some());
    }
    t
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn every_quarantine_table_has_a_load_time_column() {
        let registry = crate::registry().unwrap();
        let secure: Vec<&TableDef> = registry
            .tables()
            .iter()
            .filter(|t| t.zone == Zone::Secure)
            .collect();
        assert!(secure.len() >= 2, "the SEN2 and partner quarantines");
        for def in secure {
            let column = loaded_at_column(def)
                .unwrap_or_else(|| panic!("{} has no load-time column", def.name));
            assert_eq!(
                def.column(column).unwrap().data_type,
                sendlake_schema::ColumnType::TimestampUsUtc,
                "{}",
                def.name
            );
        }
    }

    #[test]
    fn totals_add_up_and_count_failures() {
        let mut tables = BTreeMap::new();
        tables.insert(
            "a".to_owned(),
            TableRetention {
                files_removed: 2,
                bytes_removed: Some(10),
                log_entries_removed: Some(3),
                quarantine_rows_deleted: Some(4),
                ..TableRetention::default()
            },
        );
        tables.insert(
            "b".to_owned(),
            TableRetention {
                files_removed: 1,
                bytes_removed: None,
                error: Some("vacuum failed".into()),
                ..TableRetention::default()
            },
        );
        assert_eq!(
            totals(&tables),
            RetentionTotals {
                tables: 2,
                files_removed: 3,
                bytes_removed: 10,
                log_entries_removed: 3,
                quarantine_rows_deleted: 4,
                tables_failed: 1,
            }
        );
    }
}
