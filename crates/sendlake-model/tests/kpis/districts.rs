//! The district rows of the KPI tables: a child whose postcode district is not mapped counts
//! in the LA row only, and a small district is suppressed with its sibling while the LA is shown.

use sendlake_schema::SuppressionPolicy;

use crate::keys::{ST_ALBANS, STEVENAGE, district_year, la_year};
use crate::support::{self, Builds, Inputs, TestLake};

// ---------------------------------------------------------------------------------------
// 9. Suppression.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_of_three_plans_is_suppressed_with_its_sibling_and_the_la_is_shown() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // 9 plans, all received 1 March 2024 and issued 3 June 2024 (30 + 30 + 31 + 3 = 94
    // days, within 20 weeks): 3 children in Stevenage (SG1), 6 in St Albans (AL1).
    let children = [
        ("c1", "SG1"),
        ("c2", "SG1"),
        ("c3", "SG1"),
        ("c4", "AL1"),
        ("c5", "AL1"),
        ("c6", "AL1"),
        ("c7", "AL1"),
        ("c8", "AL1"),
        ("c9", "AL1"),
    ];
    for (child, postcode) in children {
        let request = format!("r-{child}");
        i.child(child, postcode)
            .issued_plan(&request, child, "2024-03-01", "2024-06-03");
    }
    // The default policy, spelled out: counts 1..=4 hidden, rates need a denominator of 10.
    let policy = SuppressionPolicy {
        suppress_max: 4,
        min_rate_denominator: 10,
        round_to: None,
        rules: Vec::new(),
    };
    assert_eq!(policy, SuppressionPolicy::default());
    i.write(&t.lake, &t.registry).await;
    let report = t.build_with(&t.project(), policy, "run-1").await;
    support::assert_all_committed(&report);

    let kpi = t.read("kpi_timeliness").await;
    // Stevenage: 3 plans → primary suppression ("c").
    let stevenage = kpi.row(&district_year("2024-01-01", STEVENAGE));
    assert_eq!(stevenage.int("plans_issued_den"), None);
    assert_eq!(
        stevenage.text("plans_issued_den_status").as_deref(),
        Some("c")
    );
    assert_eq!(stevenage.int("plans_issued_within_20_weeks"), None);
    assert_eq!(stevenage.float("pc_plans_issued_within_20_weeks"), None);
    assert_eq!(
        stevenage
            .text("pc_plans_issued_within_20_weeks_status")
            .as_deref(),
        Some("c")
    );
    assert_eq!(stevenage.float("avg_weeks_issue_plan"), None);
    assert_eq!(stevenage.text("rag_status"), None);
    // A zero is shown: nobody is behind it.
    assert_eq!(stevenage.int("plans_issued_gt_1_year"), Some(0));
    // St Albans: 6 plans, not small, but LA 9 − St Albans 6 would give Stevenage's 3 back,
    // so the only other district sibling is suppressed too (secondary).
    let st_albans = kpi.row(&district_year("2024-01-01", ST_ALBANS));
    assert_eq!(st_albans.int("plans_issued_den"), None);
    assert_eq!(
        st_albans.text("plans_issued_den_status").as_deref(),
        Some("c")
    );
    assert_eq!(st_albans.int("plans_issued_within_20_weeks"), None);
    assert_eq!(
        st_albans
            .text("plans_issued_within_20_weeks_status")
            .as_deref(),
        Some("c")
    );
    // The LA row: 9 plans, shown; the rate's denominator 9 is under 10, so the rate is "c".
    let la = kpi.row(&la_year("2024-01-01"));
    la.assert_ints(&[("plans_issued_den", 9), ("plans_issued_within_20_weeks", 9)]);
    assert_eq!(la.text("plans_issued_den_status"), None);
    assert_eq!(la.float("pc_plans_issued_within_20_weeks"), None);
    assert_eq!(
        la.text("pc_plans_issued_within_20_weeks_status").as_deref(),
        Some("c")
    );
    // The headline (pc_plans_issued_20_weeks_ex, also 9 / 9) is hidden, so is its colour.
    assert_eq!(
        la.text("pc_plans_issued_20_weeks_ex_status").as_deref(),
        Some("c")
    );
    assert_eq!(la.text("rag_status"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_whose_postcode_district_is_not_mapped_counts_in_the_la_row_only() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // c1 in SG1 (Stevenage), c2 in ZZ9 (no district): both plans 1 Mar → 5 Jul 2024, 126 days.
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-03-01", "2024-07-05");
    i.child("c2", "ZZ9")
        .issued_plan("r2", "c2", "2024-03-01", "2024-07-05");
    t.build(&i).await;

    let kpi = t.read("kpi_timeliness").await;
    // LA: both children, 2; Stevenage: c1 only, 1; no other district row.
    kpi.row(&la_year("2024-01-01"))
        .assert_ints(&[("plans_issued_den", 2)]);
    kpi.row(&district_year("2024-01-01", STEVENAGE))
        .assert_ints(&[("plans_issued_den", 1)]);
    let districts = kpi.find(&[
        ("period_type", "calendar_year"),
        ("geography_level", "district"),
        ("source", "sen2"),
    ]);
    assert_eq!(districts.len(), 1);
}
