//! A run interrupted between table commits leaves every table readable (some on the new
//! version, the rest on the previous one), and a re-run makes the lake correct.

use sendlake_pipeline::{RunError, RunOptions, RunStatus};

use crate::support::*;

#[test]
fn interrupted_run_leaves_readable_state_and_rerun_repairs_it() {
    let ws = Workspace::new();
    let cfg = sendlake_test::sim::sen2(1, 50, 11);
    let summary = sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let p = ws.pipeline(&["sen2"]);
    ws.run(&p);
    let tables = SEN2_TABLES;
    let v1: Vec<i64> = tables
        .iter()
        .map(|t| ws.version("restricted", t).unwrap())
        .collect();

    // The next night's return is smaller; the process dies after three table commits.
    std::fs::remove_file(&summary.files[0].path).unwrap();
    let next = sendlake_sim::Sen2SimConfig {
        persons_per_la: 30,
        ..cfg
    };
    let next_summary = sendlake_sim::write_sen2_returns(&next, &ws.inputs("sen2")).unwrap();
    let err = ws
        .run_with(
            &p,
            RunOptions {
                demo: true,
                crash_after_commits: Some(3),
                ..RunOptions::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, RunError::SimulatedCrash(3)), "{err}");

    let mut committed = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let v = ws.version("restricted", t).unwrap();
        let batches = ws.read("restricted", t); // readable either way
        if v == v1[i] + 1 {
            committed.push(*t);
        } else {
            assert_eq!(v, v1[i], "{t} keeps its previous version");
            assert!(
                rows(&batches) > 0,
                "{t} still has the previous night's rows"
            );
        }
    }
    assert_eq!(committed.len(), 3, "{committed:?}");
    // Parents are committed before children.
    assert!(
        committed.contains(&"person") && committed.contains(&"request"),
        "{committed:?}"
    );
    assert_eq!(rows(&ws.read("restricted", "person")), 30);
    // The crashed run's manifest says it never finished.
    // The manifests (each finished run also leaves its HTML report there).
    let runs: Vec<_> = std::fs::read_dir(ws.lake().join("_runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    let crashed = runs
        .iter()
        .map(|p| {
            serde_json::from_slice::<sendlake_pipeline::Manifest>(&std::fs::read(p).unwrap())
                .unwrap()
        })
        .filter(|m| m.status == RunStatus::Running)
        .count();
    assert_eq!(crashed, 1);

    // The re-run brings every table to the new night's data.
    let report = ws.run(&p);
    assert_eq!(report.exit_code(), 0);
    let t = next_summary.totals();
    assert_eq!(rows(&ws.read("restricted", "person")) as u64, t.persons);
    assert_eq!(rows(&ws.read("restricted", "request")) as u64, t.requests);
    assert_eq!(
        rows(&ws.read("restricted", "placement")) as u64,
        t.placements
    );
    assert_eq!(rows(&ws.read("restricted", "sen_need")) as u64, t.sen_needs);
}
