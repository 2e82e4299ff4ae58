//! Retention: removing what a table no longer has to keep, so children's data is not kept longer
//! than agreed.
//!
//! * [`vacuum_table`] deletes the data files no version newer than the retention period needs
//!   (Delta VACUUM in **full** mode, which also removes files a crashed run wrote but never
//!   committed: they can hold children's data too), then expires the `_delta_log` entries older
//!   than the period. After it, time travel and restore reach back only that far.
//! * [`delete_older_than`] deletes the rows whose timestamp column is before a cutoff in one
//!   Delta commit (the quarantine's raw values). The rows stay in older versions' files until
//!   the table is vacuumed.
//!
//! Both work on table URIs through delta-rs only (its object store and log store), never on
//! local paths, so they work wherever the lake lives. Neither changes the Power BI-safe
//! profile: vacuum and checkpoints add no table feature, and delta-rs's delete rewrites the
//! files holding deleted rows (copy on write) rather than writing deletion vectors.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deltalake::checkpoints::{cleanup_expired_logs_for, create_checkpoint};
use deltalake::datafusion::prelude::{Expr, ident, lit};
use deltalake::datafusion::scalar::ScalarValue;
use deltalake::kernel::DataType as DeltaDataType;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::logstore::object_store::path::Path as ObjectPath;
use deltalake::operations::vacuum::{VacuumMetrics, VacuumMode};
use deltalake::{DeltaTable, ObjectStoreError};

use crate::commit::{open_existing, table_frame};
use crate::error::{Error, Result};
use crate::profile;

/// What [`vacuum_table`] removed, or in a dry run would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacuumOutcome {
    /// The table.
    pub table_uri: String,
    /// Nothing was deleted; the lists say what would have been.
    pub dry_run: bool,
    /// Data files deleted, relative to the table root, sorted: files replaced or removed by a
    /// version older than the retention period, and files no version references at all.
    pub files_deleted: Vec<String>,
    /// Their size in bytes, when delta-rs or the store says (it does for local stores).
    pub bytes_deleted: Option<u64>,
    /// `_delta_log` entries (commits and checkpoints) of expired versions removed. `None` in a
    /// dry run: delta-rs decides which entries are safe to remove only while removing them.
    pub log_entries_removed: Option<u64>,
    /// The table's version afterwards (a vacuum that deletes files commits two versions,
    /// `VACUUM START` and `VACUUM END`, which record what it removed).
    pub version: i64,
}

/// Vacuums a table: deletes every data file that no version newer than `retention` needs, and
/// the expired `_delta_log` entries. `None` if there is no table at `table_uri`.
///
/// Full mode: besides files removed by old versions, files in the table folder that no version
/// references (a run that crashed between writing a data file and committing it) and that
/// are older than `retention` are deleted too. delta-rs's safety check against periods shorter
/// than the table's `deletedFileRetentionDuration` is off, because the policy decides (0 days
/// is allowed). A short period is only safe while nothing else writes the table: a file another
/// process has written but not yet committed looks like an orphan.
///
/// The table properties `delta.deletedFileRetentionDuration` and `delta.logRetentionDuration`
/// are set to `retention` first (one metadata commit, only when they differ). That is what
/// makes full mode safe: a checkpoint forgets the removal of a file once it is older than
/// `deletedFileRetentionDuration` (7 days by default), and full mode then judges the file by
/// its age alone, so a file written long ago but replaced recently, still needed by a version
/// inside the period, would be deleted. It also makes delta-rs's own log clean-up after
/// commits, and other Delta engines, keep what the policy keeps.
///
/// The log: the current version is checkpointed (unless it already is), then delta-rs removes
/// log entries older than `retention` up to the newest checkpoint all remaining versions can
/// be read from, so the table stays readable. Checkpointing every time the policy runs, rather
/// than only when something has expired, is what lets tomorrow's run remove today's entries
/// as soon as they expire: delta-rs only removes entries older than a checkpoint whose own
/// version has expired.
///
/// # Errors
/// [`Error::Retention`] naming the table and the step that failed.
pub async fn vacuum_table(
    table_uri: &str,
    retention: Duration,
    dry_run: bool,
) -> Result<Option<VacuumOutcome>> {
    vacuum(table_uri, retention, retention, dry_run).await
}

/// [`vacuum_table`] with the table's `retention` policy kept in its properties, but removing
/// now everything the current version does not need, whatever its age, and every log entry
/// before it. For a table whose expired rows were just deleted ([`delete_older_than`]): until
/// then, the files and the log entries (whose statistics hold column minimums and maximums)
/// of older versions still carry those rows. The table's history before now is gone.
///
/// # Errors
/// As [`vacuum_table`].
pub async fn purge_table(
    table_uri: &str,
    retention: Duration,
    dry_run: bool,
) -> Result<Option<VacuumOutcome>> {
    vacuum(table_uri, retention, Duration::ZERO, dry_run).await
}

/// Vacuums with `keep` this time; `policy` goes to the table properties.
async fn vacuum(
    table_uri: &str,
    policy: Duration,
    keep: Duration,
    dry_run: bool,
) -> Result<Option<VacuumOutcome>> {
    let Some(mut table) = open_existing(table_uri)
        .await
        .map_err(failed(table_uri, "opening the table"))?
    else {
        return Ok(None);
    };
    let keep = chrono::Duration::from_std(keep)
        .map_err(failed(table_uri, "setting the retention period"))?;
    if !dry_run {
        table = set_retention_properties(table, policy)
            .await
            .map_err(failed(table_uri, "setting the retention table properties"))?;
    }

    // Planned as a dry run first: the plan also lists files whose removal is still recorded
    // but which an earlier vacuum already deleted (delta-rs then reports them deleted again,
    // and commits), so only the files that exist are reported, with their sizes, and the
    // vacuum runs only if there is one.
    let (table, plan) = full_vacuum(table, keep, true)
        .await
        .map_err(failed(table_uri, "planning the vacuum"))?;
    let mut files_deleted = Vec::new();
    let mut bytes_deleted = Some(0u64);
    let store = table.object_store();
    for file in plan.files_deleted {
        // `parse`, not `from`: the names come from the store already percent-encoded.
        let Ok(path) = ObjectPath::parse(&file) else {
            bytes_deleted = None;
            files_deleted.push(file);
            continue;
        };
        match store.head(&path).await {
            Ok(meta) => {
                bytes_deleted = bytes_deleted.map(|b| b.saturating_add(meta.size));
                files_deleted.push(file);
            }
            Err(ObjectStoreError::NotFound { .. }) => {}
            Err(e) => return Err(failed(table_uri, "planning the vacuum")(e)),
        }
    }
    files_deleted.sort();
    let table = if dry_run || files_deleted.is_empty() {
        table
    } else {
        // Its plan is the dry run's, plus whatever expired in the milliseconds between.
        full_vacuum(table, keep, false)
            .await
            .map_err(failed(table_uri, "vacuum"))?
            .0
    };
    let log_entries_removed = if dry_run {
        None
    } else {
        Some(
            expire_log(&table, keep)
                .await
                .map_err(failed(table_uri, "expiring the log"))?,
        )
    };
    let version = table
        .version()
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| Error::Retention {
            table_uri: table_uri.to_owned(),
            step: "reading the version",
            detail: "the table has no version after vacuum".into(),
        })?;
    let outcome = VacuumOutcome {
        table_uri: table_uri.to_owned(),
        dry_run,
        files_deleted,
        bytes_deleted,
        log_entries_removed,
        version,
    };
    tracing::info!(
        table_uri,
        dry_run,
        files = outcome.files_deleted.len(),
        bytes = outcome.bytes_deleted,
        log_entries = outcome.log_entries_removed,
        "vacuumed table"
    );
    Ok(Some(outcome))
}

/// delta-rs's VACUUM in full mode with our period and commit properties.
async fn full_vacuum(
    table: DeltaTable,
    keep: chrono::Duration,
    dry_run: bool,
) -> Result<(DeltaTable, VacuumMetrics)> {
    Ok(table
        .vacuum()
        .with_mode(VacuumMode::Full)
        .with_retention_period(keep)
        .with_enforce_retention_duration(false)
        .with_dry_run(dry_run)
        .with_commit_properties(retention_commit())
        .await?)
}

/// Sets `delta.deletedFileRetentionDuration` and `delta.logRetentionDuration` to `policy`
/// when either differs (see [`vacuum_table`] for why).
async fn set_retention_properties(table: DeltaTable, policy: Duration) -> Result<DeltaTable> {
    let secs = policy.as_secs();
    let interval = if secs.is_multiple_of(86_400) {
        format!("interval {} days", secs / 86_400)
    } else {
        format!("interval {secs} seconds")
    };
    let wanted: HashMap<String, String> = [
        "delta.deletedFileRetentionDuration",
        "delta.logRetentionDuration",
    ]
    .into_iter()
    .map(|k| (k.to_owned(), interval.clone()))
    .collect();
    let props = table.snapshot()?.table_config();
    if props.deleted_file_retention_duration == Some(policy)
        && props.log_retention_duration == Some(policy)
    {
        return Ok(table);
    }
    Ok(table
        .set_tbl_properties()
        .with_properties(wanted)
        .with_commit_properties(retention_commit())
        .await?)
}

/// Deletes the rows whose `column` (a UTC timestamp) is before `cutoff`, in one Delta commit,
/// and returns how many; in a dry run only counts them. No table at `table_uri` counts 0. Rows
/// with no value in `column` are kept (whether they expired cannot be known).
///
/// Files that hold expired rows next to rows that stay are rewritten by delta-rs (with the
/// published Parquet settings); the expired rows remain readable in the older versions until
/// [`vacuum_table`] removes them.
///
/// # Errors
/// [`Error::Retention`] naming the table and the step: the column is missing or not a
/// timestamp, or counting or the delete failed.
pub async fn delete_older_than(
    table_uri: &str,
    column: &str,
    cutoff: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64> {
    let step = "deleting expired rows";
    let Some(table) = open_existing(table_uri)
        .await
        .map_err(failed(table_uri, "opening the table"))?
    else {
        return Ok(0);
    };
    let schema = table.snapshot().map_err(failed(table_uri, step))?.schema();
    let refuse = |detail: String| Error::Retention {
        table_uri: table_uri.to_owned(),
        step,
        detail,
    };
    match schema.field(column) {
        None => return Err(refuse(format!("the table has no column {column:?}"))),
        Some(f) if f.data_type() != &DeltaDataType::TIMESTAMP => {
            return Err(refuse(format!(
                "column {column:?} is {}, not a UTC timestamp",
                f.data_type()
            )));
        }
        Some(_) => {}
    }
    let expired: Expr = ident(column).lt(lit(ScalarValue::TimestampMicrosecond(
        Some(cutoff.timestamp_micros()),
        Some("UTC".into()),
    )));
    // Counted first in both modes, so a dry run reports what the delete would, and a table
    // with nothing expired gets no empty commit.
    let matching = table_frame(&table)
        .await
        .and_then(|frame| Ok(frame.filter(expired.clone())?))
        .map_err(failed(table_uri, "counting expired rows"))?
        .count()
        .await
        .map_err(failed(table_uri, "counting expired rows"))?;
    let matching = u64::try_from(matching).unwrap_or(u64::MAX);
    if dry_run || matching == 0 {
        return Ok(matching);
    }
    let props = profile::rewrite_writer_properties().map_err(failed(table_uri, step))?;
    let (_, metrics) = table
        .delete()
        .with_predicate(expired)
        .with_writer_properties(props)
        .with_commit_properties(retention_commit())
        .await
        .map_err(failed(table_uri, step))?;
    let deleted = metrics
        .num_deleted_rows
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(matching);
    tracing::info!(table_uri, column, %cutoff, rows = deleted, "deleted expired rows");
    Ok(deleted)
}

/// Commit properties of the retention's own commits (the delete, `VACUUM START`/`END`).
fn retention_commit() -> CommitProperties {
    CommitProperties::default()
        .with_metadata([("userMetadata".to_owned(), "sendlake retention".into())])
        // The policy decides which log entries expire (`expire_log`); delta-rs's clean-up after
        // a commit would apply the table's `logRetentionDuration` instead.
        .with_cleanup_expired_logs(Some(false))
}

/// Checkpoints the current version (a no-op when it already is), then removes the log entries
/// older than `period` that delta-rs finds safe to remove. Returns how many it removed.
async fn expire_log(table: &DeltaTable, period: chrono::Duration) -> Result<u64> {
    let Some(version) = table.version().filter(|v| *v > 0) else {
        return Ok(0);
    };
    create_checkpoint(table, None).await?;
    // Taken after the checkpoint, so with a period of 0 the checkpoint itself has expired and
    // every older entry can go.
    let cutoff = (Utc::now() - period).timestamp_millis();
    let removed =
        cleanup_expired_logs_for(version, table.log_store().as_ref(), cutoff, None).await?;
    Ok(u64::try_from(removed).unwrap_or(u64::MAX))
}

/// Wraps an error of `step` on `table_uri` into [`Error::Retention`].
fn failed<E: std::fmt::Display>(table_uri: &str, step: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Retention {
        table_uri: table_uri.to_owned(),
        step,
        detail: e.to_string(),
    }
}
