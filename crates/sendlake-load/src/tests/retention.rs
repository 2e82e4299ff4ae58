//! Retention against real Delta tables: vacuum (full mode, 0-day and longer periods, dry run),
//! expiring the log, deleting expired quarantine rows without leaving the Power BI-safe
//! profile.

use std::time::Duration;

use chrono::TimeZone as _;
use deltalake::DeltaTable;

use super::*;

const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 3600);

/// `count` rows of SEN2 submission 919-2026 in the base schema, `n` from `start`.
fn sen2_rows(count: usize, start: i64) -> RecordBatch {
    batch(&base_schema(), "sen2", "919-2026", count, start)
}

/// A table with three versions of one submission: v0 and v1's data files are replaced by v2's,
/// so only v2's file is current. Returns the table URI.
async fn three_versions(f: &Fixture) -> String {
    let uri = f.lake.table_uri(Zone::Restricted, "person");
    for (run, start) in [("run-1", 0), ("run-2", 100), ("run-3", 200)] {
        f.load(
            &uri,
            &base_schema(),
            &[sen2_rows(10, start)],
            replace(&["919-2026"]),
            run,
        )
        .await
        .unwrap();
    }
    assert_eq!(table_version(&uri).await.unwrap(), Some(2));
    uri
}

/// A table with one version (appended `batches`), as a run's first commit leaves it.
async fn one_version(f: &Fixture, zone: Zone, name: &str, batches: &[RecordBatch]) -> String {
    let uri = f.lake.table_uri(zone, name);
    f.load(&uri, &base_schema(), batches, WriteMode::Append, "run-1")
        .await
        .unwrap();
    uri
}

/// The quarantine table holding `batches`, in one version.
async fn rejects(f: &Fixture, batches: &[RecordBatch]) -> String {
    one_version(f, Zone::Secure, "quarantine/rejects", batches).await
}

/// Vacuums a table that exists.
async fn vacuum(uri: &str, retention: Duration, dry_run: bool) -> VacuumOutcome {
    vacuum_table(uri, retention, dry_run)
        .await
        .unwrap()
        .unwrap()
}

/// A copy of a data file beside it, named like delta-rs's files with `tag` in place of a UUID.
fn copy_data_file(from: &Path, tag: &str) -> PathBuf {
    let to = from.with_file_name(format!(
        "part-00000-{tag}-0000-0000-0000-000000000000-c000.zstd.parquet"
    ));
    std::fs::copy(from, &to).unwrap();
    to
}

async fn open(uri: &str) -> DeltaTable {
    DeltaTable::try_from_url(deltalake::ensure_table_uri(uri).unwrap())
        .await
        .unwrap()
}

/// Rows of an older version (time travel), or the error that stopped the read.
async fn rows_at(uri: &str, version: u64) -> Result<usize> {
    let url = deltalake::ensure_table_uri(uri)?;
    let table = deltalake::open_table_with_version(url, version).await?;
    let (_, stream) = table.scan_table().await?;
    let batches = deltalake::datafusion::physical_plan::common::collect(stream).await?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

/// The protocol must stay reader 1 / writer 2 with no table features, and no data file may
/// carry a deletion vector: what Power BI's Delta connector reads.
async fn assert_power_bi_safe(uri: &str) {
    let table = open(uri).await;
    let state = table.snapshot().unwrap();
    let protocol = serde_json::to_value(state.protocol()).unwrap();
    assert_eq!(protocol["minReaderVersion"], json!(1), "{protocol}");
    assert_eq!(protocol["minWriterVersion"], json!(2), "{protocol}");
    assert!(protocol.get("readerFeatures").is_none(), "{protocol}");
    assert!(protocol.get("writerFeatures").is_none(), "{protocol}");
    for file in state.log_data() {
        assert!(
            file.remove_action(true).deletion_vector.is_none(),
            "{} has a deletion vector",
            file.path()
        );
    }
}

/// The table's `delta.deletedFileRetentionDuration` and `delta.logRetentionDuration`.
async fn retention_properties(uri: &str) -> (Option<Duration>, Option<Duration>) {
    let table = open(uri).await;
    let props = table.snapshot().unwrap().table_config().clone();
    (
        props.deleted_file_retention_duration,
        props.log_retention_duration,
    )
}

fn file_names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn sizes(files: &[PathBuf]) -> BTreeMap<PathBuf, u64> {
    files
        .iter()
        .map(|p| (p.clone(), std::fs::metadata(p).unwrap().len()))
        .collect()
}

#[tokio::test]
async fn zero_day_vacuum_removes_old_versions_and_keeps_the_current_rows() {
    let f = fixture();
    let uri = three_versions(&f).await;
    let dir = local_path(&uri);
    let before = content(&uri).await;
    let files_before = data_files(&dir);
    assert_eq!(files_before.len(), 3);
    let size_before = sizes(&files_before);
    assert_eq!(
        rows_at(&uri, 0).await.unwrap(),
        10,
        "time travel works first"
    );

    let out = vacuum(&uri, Duration::ZERO, false).await;

    let files_after = data_files(&dir);
    assert_eq!(files_after.len(), 1, "{files_after:?}");
    let removed: Vec<PathBuf> = files_before
        .iter()
        .filter(|p| !files_after.contains(p))
        .cloned()
        .collect();
    assert_eq!(out.files_deleted, file_names(&removed));
    assert_eq!(
        out.bytes_deleted,
        Some(removed.iter().map(|p| size_before[p]).sum())
    );
    assert!(!out.dry_run);
    // The retention properties (v3), then START and END record the vacuum in the history.
    assert_eq!(out.version, 5);
    assert_eq!(
        retention_properties(&uri).await,
        (Some(Duration::ZERO), Some(Duration::ZERO))
    );

    // The current version reads exactly as before; older ones are gone.
    assert_eq!(content(&uri).await, before);
    assert_eq!(table_version(&uri).await.unwrap(), Some(5));
    for old in [0, 1] {
        assert!(
            rows_at(&uri, old).await.is_err(),
            "version {old} should no longer be readable"
        );
    }
    // The log: every commit before the vacuum's END is gone, a checkpoint keeps it readable.
    assert_eq!(out.log_entries_removed, Some(5));
    let log = dir.join("_delta_log");
    assert!(!log.join(format!("{:020}.json", 0)).exists());
    assert!(!log.join(format!("{:020}.json", 4)).exists());
    assert!(log.join(format!("{:020}.checkpoint.parquet", 5)).exists());
    assert_power_bi_safe(&uri).await;

    // A second pass finds nothing more to remove and commits nothing (the checkpoint still
    // records the removals, but the files are gone).
    let again = vacuum(&uri, Duration::ZERO, false).await;
    assert!(again.files_deleted.is_empty(), "{:?}", again.files_deleted);
    assert_eq!(again.bytes_deleted, Some(0));
    assert_eq!(again.version, 5);
    assert_eq!(content(&uri).await, before);
}

#[tokio::test]
async fn dry_run_deletes_nothing_and_names_the_same_files() {
    let f = fixture();
    let uri = three_versions(&f).await;
    let dir = local_path(&uri);
    let files_before = data_files(&dir);

    // Inside a 30-day policy nothing is old enough to go.
    let kept = vacuum(&uri, THIRTY_DAYS, false).await;
    assert!(kept.files_deleted.is_empty(), "{:?}", kept.files_deleted);
    assert_eq!(kept.log_entries_removed, Some(0));
    assert_eq!(kept.version, 3, "one commit: the retention properties");

    let dry = vacuum(&uri, Duration::ZERO, true).await;
    assert!(dry.dry_run);
    assert_eq!(dry.files_deleted.len(), 2, "{:?}", dry.files_deleted);
    assert_eq!(dry.log_entries_removed, None);
    assert_eq!(dry.version, 3, "a dry run commits nothing");
    assert_eq!(data_files(&dir), files_before, "a dry run deletes nothing");
    assert_eq!(rows_at(&uri, 0).await.unwrap(), 10);

    let real = vacuum(&uri, Duration::ZERO, false).await;
    assert_eq!(real.files_deleted, dry.files_deleted);
    assert_eq!(real.bytes_deleted, dry.bytes_deleted);
    assert!(dry.bytes_deleted.is_some_and(|b| b > 0));
    assert!(data_files(&dir).len() == 1);
}

#[tokio::test]
async fn full_vacuum_removes_files_no_version_references() {
    let f = fixture();
    let uri = rejects(&f, &[sen2_rows(10, 0)]).await;
    let dir = local_path(&uri);
    let committed = data_files(&dir);
    // What a run that crashed between writing its data file and committing leaves behind.
    let orphan = copy_data_file(&committed[0], "0rphan00");

    // Younger than the period: kept (it could be a concurrent writer's file).
    let kept = vacuum(&uri, THIRTY_DAYS, false).await;
    assert!(kept.files_deleted.is_empty(), "{:?}", kept.files_deleted);
    assert!(orphan.exists());

    let out = vacuum(&uri, Duration::ZERO, false).await;
    assert_eq!(out.files_deleted, file_names(std::slice::from_ref(&orphan)));
    assert!(!orphan.exists(), "the orphan is gone");
    assert_eq!(data_files(&dir), committed, "the committed file stays");
    assert_eq!(count_rows(&uri).await.unwrap(), 10);
}

#[tokio::test]
async fn missing_tables_are_skipped() {
    let f = fixture();
    let uri = f.lake.table_uri(Zone::Secure, "quarantine/never_written");
    assert_eq!(
        vacuum_table(&uri, Duration::ZERO, false).await.unwrap(),
        None
    );
    let cutoff = chrono::Utc::now();
    assert_eq!(
        delete_older_than(&uri, "loaded_at", cutoff, false)
            .await
            .unwrap(),
        0
    );
    assert_eq!(table_version(&uri).await.unwrap(), None, "nothing created");
}

#[tokio::test]
async fn expired_quarantine_rows_are_deleted_and_the_table_stays_power_bi_safe() {
    let f = fixture();
    // One data file holding both expired and current rows, so the delete must rewrite it.
    // `loaded_at` is 2026-01-01T00:00:00Z plus about `n` seconds.
    let uri = rejects(&f, &[sen2_rows(10, 0), sen2_rows(10, 1000)]).await;
    let dir = local_path(&uri);
    assert_eq!(data_files(&dir).len(), 1);
    let cutoff = chrono::Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 10, 0)
        .single()
        .unwrap();

    let would = delete_older_than(&uri, "loaded_at", cutoff, true)
        .await
        .unwrap();
    assert_eq!(would, 10);
    assert_eq!(
        count_rows(&uri).await.unwrap(),
        20,
        "a dry run deletes nothing"
    );
    assert_eq!(table_version(&uri).await.unwrap(), Some(0));

    let deleted = delete_older_than(&uri, "loaded_at", cutoff, false)
        .await
        .unwrap();
    assert_eq!(deleted, 10);
    assert_eq!(
        table_version(&uri).await.unwrap(),
        Some(1),
        "one delete commit"
    );
    let left = content(&uri).await;
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(|row| row.3 >= 1000), "only newer rows stay");
    assert_power_bi_safe(&uri).await;

    // Nothing more has expired: no empty commit.
    assert_eq!(
        delete_older_than(&uri, "loaded_at", cutoff, false)
            .await
            .unwrap(),
        0
    );
    assert_eq!(table_version(&uri).await.unwrap(), Some(1));

    // Purged, the file that held the expired rows is gone, and so is the log before now (its
    // statistics name values of the expired rows); the table keeps its 30-day policy. The
    // rewritten file keeps the published Parquet format.
    let out = purge_table(&uri, THIRTY_DAYS, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.files_deleted.len(), 1);
    let files = data_files(&dir);
    assert_eq!(files.len(), 1);
    assert!(out.log_entries_removed.is_some_and(|n| n >= 2), "{out:?}");
    assert!(
        !dir.join("_delta_log")
            .join(format!("{:020}.json", 0))
            .exists()
    );
    assert_eq!(
        retention_properties(&uri).await,
        (Some(THIRTY_DAYS), Some(THIRTY_DAYS))
    );
    let reader = SerializedFileReader::new(std::fs::File::open(&files[0]).unwrap()).unwrap();
    let meta = reader.metadata();
    let descr = meta.file_metadata().schema_descr();
    let ts = (0..descr.num_columns())
        .map(|i| descr.column(i))
        .find(|c| c.name() == "loaded_at")
        .unwrap();
    assert_eq!(
        ts.logical_type_ref(),
        Some(&LogicalType::timestamp(
            true,
            parquet::basic::TimeUnit::MICROS
        ))
    );
    for rg in meta.row_groups() {
        for c in rg.columns() {
            assert!(matches!(c.compression(), Compression::ZSTD(_)));
        }
    }
    assert_power_bi_safe(&uri).await;

    // The next run's commit still replaces rows in the rewritten file.
    f.load(
        &uri,
        &base_schema(),
        &[sen2_rows(3, 5000)],
        replace(&["919-2026"]),
        "run-2",
    )
    .await
    .unwrap();
    assert_eq!(count_rows(&uri).await.unwrap(), 3);
    assert_power_bi_safe(&uri).await;
}

#[tokio::test]
async fn delete_refuses_a_missing_or_non_timestamp_column_naming_the_table() {
    let f = fixture();
    let uri = rejects(&f, &[sen2_rows(5, 0)]).await;
    let cutoff = chrono::Utc::now();
    for (column, says) in [("rejected_on", "no column"), ("n", "not a UTC timestamp")] {
        let err = delete_older_than(&uri, column, cutoff, false)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Retention { .. }), "{msg}");
        assert!(msg.contains(&uri), "{msg}");
        assert!(msg.contains(column) && msg.contains(says), "{msg}");
    }
    assert_eq!(count_rows(&uri).await.unwrap(), 5);
}

/// A file written long ago and replaced 8 days ago is still needed by the versions of the last
/// 8 days. Checkpoints forget such a removal after the table's `deletedFileRetentionDuration`
/// (7 days unless set); full mode would then judge the file by its age and delete it under a
/// 30-day policy. The policy set as the table's property keeps the removal on record.
#[tokio::test]
async fn a_file_replaced_inside_the_period_survives_checkpoints_and_full_vacuum() {
    use deltalake::kernel::Action;
    use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
    use deltalake::protocol::{DeltaOperation, SaveMode};

    let f = fixture();
    let uri = one_version(&f, Zone::Restricted, "person", &[sen2_rows(10, 0)]).await;
    let dir = local_path(&uri);
    let old = data_files(&dir).remove(0);
    let day = Duration::from_secs(24 * 3600);

    // v1 replaces the old file by a copy, as if 8 days ago; the old file was written 40 days
    // ago.
    let copy = copy_data_file(&old, "c0py0000");
    let table = open(&uri).await;
    let state = table.snapshot().unwrap();
    let file = state.log_data().into_iter().next().unwrap();
    let mut remove = file.remove_action(true);
    let eight_days_ago = chrono::Utc::now() - chrono::Duration::days(8);
    remove.deletion_timestamp = Some(eight_days_ago.timestamp_millis());
    let add = deltalake::kernel::Add {
        path: copy.file_name().unwrap().to_string_lossy().into_owned(),
        size: i64::try_from(std::fs::metadata(&copy).unwrap().len()).unwrap(),
        modification_time: eight_days_ago.timestamp_millis(),
        data_change: true,
        ..Default::default()
    };
    CommitBuilder::from(CommitProperties::default())
        .with_actions(vec![Action::Remove(remove), Action::Add(add)])
        .build(
            Some(state),
            table.log_store(),
            DeltaOperation::Write {
                mode: SaveMode::Overwrite,
                partition_by: None,
                predicate: None,
            },
        )
        .await
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - 40 * day)
        .unwrap();

    // Twice: the first pass checkpoints, the second reads the table from that checkpoint.
    for pass in 0..2 {
        let out = vacuum(&uri, THIRTY_DAYS, false).await;
        assert!(out.files_deleted.is_empty(), "pass {pass}: {out:?}");
    }
    assert!(old.exists());
    assert_eq!(rows_at(&uri, 0).await.unwrap(), 10, "version 0 still reads");
    assert_eq!(count_rows(&uri).await.unwrap(), 10);
}
