//! Retention end to end: the demo pipeline run twice (the second night replaces the first
//! night's files), then the policy at 0 days. What the report says was removed is gone, and
//! every table still reads as before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sendlake_pipeline::config::RetentionConfig;
use sendlake_pipeline::lock::{self, RunLocks};
use sendlake_pipeline::retention::{self, RetentionReport};
use sendlake_pipeline::{RunStatus, load_plan};
use sendlake_schema::SchemaRegistry;

use crate::published::demo_pipeline;
use crate::support::*;

/// Parquet files under `dir` (data files, and checkpoints in `_delta_log`), recursively.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(parquet_files(&path));
        } else if path.extension().is_some_and(|x| x == "parquet") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Rows of every table the lake holds, by `zone/name`.
fn row_counts(ws: &Workspace, registry: &SchemaRegistry) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for def in registry.tables() {
        let zone = def.zone.as_str();
        if ws.version(zone, &def.name).is_some() {
            out.insert(
                format!("{zone}/{}", def.name),
                rows(&ws.read(zone, &def.name)),
            );
        }
    }
    out
}

fn apply(ws: &Workspace, policy: &RetentionConfig, dry_run: bool) -> RetentionReport {
    let plan = load_plan(&demo_pipeline(ws)).unwrap();
    let lake = sendlake_load::Lake::open(ws.lake().to_str().unwrap()).unwrap();
    let registry = sendlake_pipeline::registry().unwrap();
    assert_eq!(plan.store_url, ws.lake().display().to_string());
    block_on(retention::apply(
        &lake,
        policy,
        &registry,
        chrono::Utc::now(),
        dry_run,
    ))
}

#[test]
fn zero_day_retention_after_two_nights_removes_old_versions_and_expired_quarantine() {
    let ws = Workspace::new();
    let p = demo_pipeline(&ws);
    let registry = SchemaRegistry::embedded().unwrap();
    ws.run(&p);
    let second = ws.run(&p).manifest;
    assert_eq!(second.status, RunStatus::Succeeded);

    // The nightly run applied the demo's policy (30 and 180 days): nothing is that old yet,
    // and the report is in the manifest, on disk too.
    let nightly = second
        .retention
        .as_ref()
        .expect("the run applied the policy");
    assert_eq!((nightly.versions_days, nightly.quarantine_days), (30, 180));
    assert!(!nightly.dry_run);
    assert_eq!(nightly.totals.files_removed, 0, "{:#?}", nightly.totals);
    assert_eq!(nightly.totals.quarantine_rows_deleted, 0);
    assert_eq!(nightly.totals.tables_failed, 0, "{:?}", nightly.warnings);
    let counts = row_counts(&ws, &registry);
    assert_eq!(nightly.totals.tables as usize, counts.len());
    for name in ["person", "quarantine/sen2_rejects", "kpi_timeliness"] {
        let entry = &nightly.tables[name];
        assert_eq!(entry.error, None, "{name}");
        let zone = registry.table(name).unwrap().zone.as_str();
        assert_eq!(entry.version, ws.version(zone, name), "{name}");
    }
    assert_eq!(
        ws.manifest(&second.run_id).retention.as_ref(),
        Some(nightly),
        "the manifest written to the lake carries the report"
    );

    let quarantined: usize = ["quarantine/sen2_rejects", "quarantine/record_rejects"]
        .iter()
        .map(|t| counts[&format!("secure/{t}")])
        .sum();
    assert!(quarantined > 0, "the demo quarantines records");
    let files_before = parquet_files(&ws.lake());
    let zero = RetentionConfig {
        versions_days: 0,
        quarantine_days: 0,
        after_run: false,
    };

    // A dry run removes nothing and says what would go.
    let dry = apply(&ws, &zero, true);
    assert!(dry.dry_run);
    assert_eq!(parquet_files(&ws.lake()), files_before);
    assert_eq!(row_counts(&ws, &registry), counts);
    assert_eq!(dry.totals.quarantine_rows_deleted as usize, quarantined);
    assert!(dry.totals.files_removed > 0);

    let done = apply(&ws, &zero, false);
    assert_eq!(done.totals.tables_failed, 0, "{:?}", done.warnings);
    assert!(done.warnings.is_empty());
    assert_eq!(done.totals.quarantine_rows_deleted as usize, quarantined);
    assert_eq!(
        done.totals.files_removed,
        done.tables.values().map(|t| t.files_removed).sum::<u64>()
    );
    // The second night replaced every SEN2 table's first-night file; the tables the dry run
    // found the same files in (those with no quarantine rows to delete first).
    for t in SEN2_TABLES {
        let entry = &done.tables[t];
        assert!(entry.files_removed >= 1, "{t}: {entry:?}");
        assert_eq!(entry.files, dry.tables[t].files, "{t}");
        assert!(entry.log_entries_removed.is_some_and(|n| n > 0), "{t}");
        assert!(
            !ws.lake()
                .join("restricted")
                .join(t)
                .join("_delta_log/00000000000000000000.json")
                .exists()
        );
    }
    for q in ["quarantine/sen2_rejects", "quarantine/record_rejects"] {
        let entry = &done.tables[q];
        let had = counts[&format!("secure/{q}")];
        assert_eq!(entry.quarantine_rows_deleted, Some(had as u64), "{q}");
        // Purged when rows expired: no version from before the delete is left.
        assert_eq!(entry.purged, had > 0, "{q}: {entry:?}");
        assert_eq!(rows(&ws.read("secure", q)), 0, "{q}");
    }
    assert!(done.tables["quarantine/sen2_rejects"].purged);
    // What the report names is gone from disk, and nothing else went.
    let files_after = parquet_files(&ws.lake());
    let removed: Vec<&PathBuf> = files_before
        .iter()
        .filter(|f| !files_after.contains(f))
        .collect();
    let reported: usize = done.tables.values().map(|t| t.files.len()).sum();
    assert_eq!(
        removed
            .iter()
            .filter(|f| !f.to_string_lossy().contains("_delta_log"))
            .count(),
        reported
    );

    // Every other table reads exactly as before: the published ones above all.
    let mut expected = counts.clone();
    for q in ["quarantine/sen2_rejects", "quarantine/record_rejects"] {
        expected.insert(format!("secure/{q}"), 0);
    }
    assert_eq!(row_counts(&ws, &registry), expected);
    assert!(expected.keys().any(|k| k.starts_with("published/")));

    // Nothing more to remove; and the next night loads on top of the vacuumed lake.
    let again = apply(&ws, &zero, false);
    assert_eq!(again.totals.files_removed, 0, "{:#?}", again.tables);
    let third = ws.run(&p).manifest;
    assert_eq!(third.status, RunStatus::Succeeded);
    assert_eq!(
        rows(&ws.read("restricted", "person")),
        counts["restricted/person"]
    );
}

/// Retention needs the lake to itself: a full vacuum deletes files no version references,
/// which is what a running job's uploaded-but-uncommitted files look like.
#[test]
fn sendlake_vacuum_waits_for_running_jobs_and_takes_no_lock_half_way() {
    let ws = Workspace::new();
    let plan = load_plan(&demo_pipeline(&ws)).unwrap();
    let registry = sendlake_pipeline::registry().unwrap();
    let store = plan.store_url.clone();
    block_on(async {
        let lake = sendlake_pipeline::open_store(&store).unwrap();
        let holder = "20270101T023000Z-abcdef";
        let mut running = RunLocks::acquire(
            &lake,
            &[lock::MODELS_UNIT.to_owned()],
            holder,
            &plan.name,
            std::time::Duration::from_secs(900),
        )
        .await
        .unwrap();
        let err = retention::vacuum(&plan, &store, &registry, false)
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(err.to_string().contains(holder), "names the holder: {err}");
        // All or nothing: the source locks it took before meeting the held one are released.
        let held: Vec<String> = lock::list(&lake)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.run_id)
            .collect();
        assert_eq!(held, [holder]);

        running.release().await;
        let report = retention::vacuum(&plan, &store, &registry, true)
            .await
            .unwrap();
        assert_eq!(report.skipped, None);
        assert!(lock::list(&lake).await.unwrap().is_empty(), "released");
    });
}
