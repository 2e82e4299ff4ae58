//! Data-quality checks in the build: a failing check blocks its table, keeps the table's
//! previous version and skips its readers; a duplicated primary key blocks its table with the
//! exact count of the SQL check.

use sendlake_model::{CheckStatus, ModelStatus};

use crate::keys::la_year;
use crate::support::{self, Builds, Inputs, TestLake};

// ---------------------------------------------------------------------------------------
// 10. A failing data-quality check blocks the table and what is built from it.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_blocks_fact_plan_keeps_its_version_and_skips_its_readers() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-03-01", "2024-07-05");
    t.build(&i).await;
    let fact_plan_v1 = t.version("fact_plan").await.expect("fact_plan committed");
    let timeliness_v1 = t.version("kpi_timeliness").await.expect("kpi committed");
    let fact_request_v1 = t.version("fact_request").await.expect("committed");

    // The same project with one more check on fact_plan that every row fails.
    let dir = support::models_with(
        "checks.toml",
        "\n[[checks]]\ntable = \"fact_plan\"\nname = \"test: always fails\"\nexpression = \"false\"\n",
    );
    let failing = t.project_in(dir.path());

    // A second plan arrives, and the build runs with the failing check.
    i.child("c2", "SG1")
        .issued_plan("r2", "c2", "2024-03-01", "2024-07-05");
    i.write(&t.lake, &t.registry).await;
    let report = t
        .build_with(&failing, support::NO_SUPPRESSION, "run-2")
        .await;

    assert!(!report.ok());
    let outcome = |name: &str| {
        report
            .models
            .iter()
            .find(|m| m.table == name)
            .unwrap_or_else(|| panic!("no outcome for {name}"))
    };
    let fact_plan = outcome("fact_plan");
    assert_eq!(fact_plan.status, ModelStatus::Blocked);
    assert!(
        fact_plan
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("test: always fails"),
        "{:?}",
        fact_plan.reason
    );
    // Every model that reads fact_plan was skipped (kpi_timeliness, kpi_ceased, ...).
    let readers: Vec<_> = report
        .models
        .iter()
        .filter(|m| m.reads.iter().any(|r| r == "fact_plan"))
        .collect();
    assert!(readers.iter().any(|m| m.table == "kpi_timeliness"));
    assert!(readers.iter().any(|m| m.table == "kpi_ceased"));
    for m in &readers {
        assert_eq!(m.status, ModelStatus::Skipped, "{}", m.table);
    }
    // Models that do not read it went on.
    assert_eq!(outcome("fact_request").status, ModelStatus::Committed);
    assert_eq!(
        t.version("fact_request").await,
        Some(fact_request_v1 + 1),
        "fact_request is rebuilt"
    );

    // fact_plan and kpi_timeliness keep the versions (and rows) of the first build.
    assert_eq!(t.version("fact_plan").await, Some(fact_plan_v1));
    assert_eq!(t.version("kpi_timeliness").await, Some(timeliness_v1));
    assert_eq!(t.read("fact_plan").await.len(), 1);
    t.read("kpi_timeliness")
        .await
        .row(&la_year("2024-01-01"))
        .assert_ints(&[("plans_issued_den", 1)]);

    // The check's result is in published/data_quality: failing on fact_plan's 2 rows.
    let quality = t.read("data_quality").await;
    let row = quality.row(&[("run_id", "run-2"), ("check_name", "test: always fails")]);
    assert_eq!(row.text("table_name").as_deref(), Some("fact_plan"));
    assert_eq!(row.text("check_type").as_deref(), Some("expression"));
    assert_eq!(row.text("severity").as_deref(), Some("fail"));
    assert_eq!(row.text("status").as_deref(), Some("fail"));
    assert_eq!(row.int("failing_rows"), Some(2));
    let result = report
        .checks
        .iter()
        .find(|c| c.name == "test: always fails")
        .unwrap();
    assert_eq!(result.status, CheckStatus::Fail);
}

// ---------------------------------------------------------------------------------------
// The primary-key check: its fingerprint fast path must still find a duplicated key, with
// the exact count the SQL check gives.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_primary_key_blocks_the_table_with_its_exact_count() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-03-01", "2024-07-05");

    // dim_sen_need with two needs listed twice (its key is sen_need).
    let dir = support::models_with(
        "dim_sen_need.sql",
        "\nUNION ALL SELECT 'SLD', 'again', 'x'\nUNION ALL SELECT 'ASD', 'again', 'x'\nUNION ALL SELECT 'ASD', 'and again', 'x'\n",
    );
    i.write(&t.lake, &t.registry).await;
    let report = t
        .build_with(&t.project_in(dir.path()), support::NO_SUPPRESSION, "run-1")
        .await;

    let outcome = report
        .models
        .iter()
        .find(|m| m.table == "dim_sen_need")
        .unwrap();
    assert_eq!(outcome.status, ModelStatus::Blocked, "{:?}", outcome.reason);
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "dim_sen_need: primary key (sen_need) is unique")
        .unwrap();
    assert_eq!(check.status, CheckStatus::Fail);
    // Two keys repeat (SLD twice, ASD three times): the SQL count, not a fingerprint guess.
    assert_eq!(check.failing_rows, Some(2), "{}", check.detail);
    // Every other table's key was found unique and committed.
    let unique = report
        .checks
        .iter()
        .filter(|c| c.name.contains("primary key") && c.table != "dim_sen_need")
        .collect::<Vec<_>>();
    assert!(unique.len() > 20, "{}", unique.len());
    for c in unique {
        assert_eq!(c.status, CheckStatus::Pass, "{}: {}", c.name, c.detail);
        assert_eq!(c.failing_rows, Some(0));
    }
}
