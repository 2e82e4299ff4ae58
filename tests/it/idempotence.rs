//! Re-running the same night replaces, never duplicates; one new version per table per run.

use crate::support::*;

#[test]
fn rerunning_the_same_input_is_idempotent() {
    let ws = Workspace::new();
    let cfg = sendlake_test::sim::sen2(2, 60, 7);
    sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    std::fs::remove_file(ws.inputs("sen2").join("summary.json")).ok();
    let p = ws.pipeline(&["sen2"]);
    let first = ws.run(&p);
    assert_eq!(first.exit_code(), 0);
    let tables = SEN2_TABLES;
    let before: Vec<_> = tables
        .iter()
        .map(|t| content(&ws.read("restricted", t)))
        .collect();
    let versions: Vec<_> = tables
        .iter()
        .map(|t| ws.version("restricted", t).unwrap())
        .collect();

    let second = ws.run(&p);
    assert_eq!(second.exit_code(), 0);
    for (i, t) in tables.iter().enumerate() {
        assert_eq!(
            content(&ws.read("restricted", t)),
            before[i],
            "{t} changed on re-run"
        );
        assert_eq!(
            ws.version("restricted", t).unwrap(),
            versions[i] + 1,
            "{t}: exactly one commit per run"
        );
    }
    // Run ids differ; each run has its own manifest.
    assert_ne!(first.manifest.run_id, second.manifest.run_id);
    assert_eq!(
        ws.manifest(&second.manifest.run_id).status,
        sendlake_pipeline::RunStatus::Succeeded
    );
}

#[test]
fn reloading_a_submission_replaces_only_that_submission() {
    let ws = Workspace::new();
    let cfg = sendlake_test::sim::sen2(2, 40, 3);
    let summary = sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let p = ws.pipeline(&["sen2"]);
    ws.run(&p);
    assert_eq!(rows(&ws.read("restricted", "person")), 80);
    // Next night only LA 919 is re-sent, with fewer persons.
    for f in &summary.files {
        std::fs::remove_file(&f.path).unwrap();
    }
    let smaller = sendlake_test::sim::sen2(1, 25, 3);
    sendlake_sim::write_sen2_returns(&smaller, &ws.inputs("sen2")).unwrap();
    ws.run(&p);
    let person = ws.read("restricted", "person");
    let subs = strings(&person, "submission_id");
    assert_eq!(
        subs.iter()
            .filter(|s| s.as_deref() == Some("919-2026"))
            .count(),
        25
    );
    assert_eq!(
        subs.len(),
        25 + 40,
        "the other LA's submission is untouched"
    );
}
