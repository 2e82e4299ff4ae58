//! The modelling layer inside a run: a failing data-quality check keeps the table's previous
//! version published and makes the run partial (exit code 1); `--models-only` rebuilds from the
//! lake without reading a source.

use std::path::Path;

use crate::support::*;

/// Copies `pipelines/models` into the workspace, so a test can add a check.
fn models_copy(ws: &Workspace) -> std::path::PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/models");
    let to = ws.dir.path().join("models");
    std::fs::create_dir_all(&to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
    to
}

#[test]
fn a_failing_check_keeps_the_previous_version_and_makes_the_run_partial() {
    let ws = Workspace::new();
    let cfg = sendlake_test::sim::sen2(1, 150, 4);
    sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let models = models_copy(&ws);
    let mut text = std::fs::read_to_string(ws.pipeline(&["sen2"])).unwrap();
    text.push_str(&format!(
        "[models]\ndir = {:?}\n",
        models.display().to_string()
    ));
    let p = ws.dir.path().join("with-models.toml");
    std::fs::write(&p, text).unwrap();

    let first = ws.run(&p);
    assert_eq!(
        first.manifest.status,
        sendlake_pipeline::RunStatus::Succeeded
    );
    assert_eq!(first.exit_code(), 0);
    let version = ws.version("published", "kpi_timeliness").unwrap();
    let rows = rows(&ws.read("published", "kpi_timeliness"));
    assert!(rows > 0);

    // A check that every row fails.
    let mut checks = std::fs::read_to_string(models.join("checks.toml")).unwrap();
    checks.push_str(
        "\n[[checks]]\nname = \"test: always fails\"\ntable = \"kpi_timeliness\"\nexpression = \"false\"\n",
    );
    std::fs::write(models.join("checks.toml"), checks).unwrap();
    let second = ws.run_with(
        &p,
        sendlake_pipeline::RunOptions {
            demo: true,
            models_only: true,
            ..Default::default()
        },
    );
    let second = second.unwrap();
    assert_eq!(
        second.manifest.status,
        sendlake_pipeline::RunStatus::Partial
    );
    assert_eq!(second.exit_code(), 1);
    let report = second.manifest.models.as_ref().unwrap();
    let kpi = report
        .models
        .iter()
        .find(|m| m.table == "kpi_timeliness")
        .unwrap();
    assert_eq!(kpi.status, sendlake_model::ModelStatus::Blocked);
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "test: always fails")
        .unwrap();
    assert_eq!(check.status, sendlake_model::CheckStatus::Fail);
    assert_eq!(check.failing_rows, Some(rows as i64));
    // The previous version is still the current one, with the same rows.
    assert_eq!(ws.version("published", "kpi_timeliness"), Some(version));
    assert_eq!(
        crate::support::rows(&ws.read("published", "kpi_timeliness")),
        rows
    );
    // Everything else was rebuilt from the lake, and no source was read.
    assert!(second.manifest.sources.is_empty());
    assert!(
        report
            .models
            .iter()
            // dfe_reconciliation reads kpi_timeliness, so it is skipped with it.
            .filter(|m| m.table != "kpi_timeliness" && m.table != "dfe_reconciliation")
            .all(|m| m.status == sendlake_model::ModelStatus::Committed),
        "{:?}",
        report.models
    );
    let dq = ws.read("published", "data_quality");
    let names = strings(&dq, "check_name");
    let statuses = strings(&dq, "status");
    assert!(
        names.iter().zip(&statuses).any(
            |(n, s)| n.as_deref() == Some("test: always fails") && s.as_deref() == Some("fail")
        )
    );
}
