//! The plans active on census day: the caseload and its placements (`fact_caseload`,
//! `kpi_placements`), a dual-registered plan counted once, a census day that other dates in the
//! return do not move, and the annual reviews of those plans (`kpi_annual_reviews`).

use crate::keys::la_year;
use crate::support::{Builds, Inputs, TestLake};

// ---------------------------------------------------------------------------------------
// 8. Dual registration.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_registered_plan_counts_once_under_its_main_placement() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    i.add(
        "gias_establishment",
        &[
            ("urn", "117001"),
            ("establishment_name", "A Special School"),
            ("setting_category", "special_la_maintained"),
        ],
    )
    .add(
        "gias_establishment",
        &[
            ("urn", "137002"),
            ("establishment_name", "An Academy"),
            ("setting_category", "mainstream_academy"),
        ],
    );
    // 2026 return: a plan issued in 2024 (its request is historical now), active on census
    // day 15 January 2026, reviewed 20 November 2025 (a 2025/26 date, which keeps that census
    // day in dim_date: see the ignored test below). Rank 1 at the special school from
    // 8 April 2024, rank 2 at the academy from 6 January 2025; neither has left, so the
    // spans [2024-04-08, open) and [2025-01-06, open) overlap: dual registration.
    i.child("c1", "SG1")
        .historical_plan("r1", "c1", "2023-11-06", "2024-03-25")
        .add(
            "active_plan",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("review_meeting_date", "2025-11-20"),
            ],
        )
        .add(
            "sen_need",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("sen_type", "ASD"),
                ("sen_type_rank", "1"),
            ],
        )
        .add(
            "placement",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("placement_rank", "1"),
                ("urn", "117001"),
                ("entry_date", "2024-04-08"),
            ],
        )
        .add(
            "placement",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("placement_rank", "2"),
                ("urn", "137002"),
                ("entry_date", "2025-01-06"),
            ],
        );
    t.build(&i).await;

    let placements = t.read("fact_placement").await;
    let main = placements.row(&[("source_system", "sen2"), ("placement_ref", "r1/1")]);
    assert_eq!(main.int("placement_rank"), Some(1));
    assert_eq!(
        main.text("setting_category").as_deref(),
        Some("special_la_maintained")
    );
    assert_eq!(main.bool("is_dual_registered"), Some(true));
    let second = placements.row(&[("source_system", "sen2"), ("placement_ref", "r1/2")]);
    assert_eq!(second.int("placement_rank"), Some(2));
    assert_eq!(
        second.text("setting_category").as_deref(),
        Some("mainstream_academy")
    );
    assert_eq!(second.bool("is_dual_registered"), Some(true));

    // One caseload row: the plan on the 2026 census day (third Thursday: 1 Jan 2026 is a
    // Thursday, so 1, 8, 15 → 15 January), under its rank 1 placement.
    let caseload = t.read("fact_caseload").await;
    assert_eq!(caseload.len(), 1);
    let c = caseload.row(&[("request_ref", "r1"), ("snapshot_date", "2026-01-15")]);
    assert_eq!(
        c.text("setting_category").as_deref(),
        Some("special_la_maintained")
    );
    assert_eq!(c.text("setting_group").as_deref(), Some("special"));
    assert_eq!(c.text("primary_need").as_deref(), Some("ASD"));

    // kpi_placements, calendar year 2026 (the January 2026 census), LA 919: one category row.
    let kpi = t.read("kpi_placements").await;
    let rows = kpi.find(&la_year("2026-01-01"));
    assert_eq!(rows.len(), 1, "one category: the plan is counted once");
    let row = &rows[0];
    assert_eq!(
        row.text("setting_category").as_deref(),
        Some("special_la_maintained")
    );
    row.assert_ints(&[("ehc_plans", 1), ("caseload_total", 1)]);
    // 1 / 1 = 100 %.
    row.assert_float("ehc_plans_pc", 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_census_snapshot_does_not_depend_on_other_dates_in_the_return() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // The 2026 return lists one active plan, issued 25 March 2024, main placement since
    // 8 April 2024, no review recorded. Every date in the data is before September 2024, but
    // the plan is active on the return's census day, 15 January 2026: caseload 1.
    i.child("c1", "SG1")
        .historical_plan("r1", "c1", "2023-11-06", "2024-03-25")
        .add(
            "active_plan",
            &[("request_key", "r1"), ("person_key", "c1")],
        )
        .add(
            "placement",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("placement_rank", "1"),
                ("sen_setting", "OTH"),
                ("setting_basis", "sen_setting"),
                ("entry_date", "2024-04-08"),
            ],
        );
    t.build(&i).await;

    // Where it goes wrong: dates span 2023-11-06 … 2024-04-08, so dim_date runs from
    // 1 September 2023 to 31 August 2024 and has no 2026 census day to join active_plan to.
    let census = t
        .read("dim_date")
        .await
        .find(&[("date", "2026-01-15")])
        .len();
    assert_eq!(census, 1, "dim_date has the census day of the 2026 return");
    let caseload = t.read("fact_caseload").await;
    assert_eq!(
        caseload.len(),
        1,
        "the active plan on census day 2026-01-15"
    );
    t.read("kpi_placements")
        .await
        .row(&[
            ("period_type", "calendar_year"),
            ("period_start", "2026-01-01"),
            ("geography_level", "la"),
            ("source", "sen2"),
            ("setting_category", "other_placement_settings"),
        ])
        .assert_ints(&[("ehc_plans", 1), ("caseload_total", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_decision_dated_before_its_meeting_is_not_within_4_weeks() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // Two plans issued in 2022, active at the January 2026 census (15 January 2026), each
    // reviewed on 1 October 2025: c1's decision 15 October (14 days, within 4 weeks), c2's
    // dated 1 September, before the meeting (an earlier review's date).
    for (child, request, decision) in [("c1", "r1", "2025-10-15"), ("c2", "r2", "2025-09-01")] {
        i.child(child, "SG1")
            .issued_plan(request, child, "2022-01-10", "2022-05-02")
            .add(
                "active_plan",
                &[
                    ("request_key", request),
                    ("person_key", child),
                    ("review_meeting_date", "2025-10-01"),
                    ("last_review_date", decision),
                ],
            );
    }
    t.build(&i).await;

    let y2026 = t
        .read("kpi_annual_reviews")
        .await
        .row(&la_year("2026-01-01"));
    y2026.assert_ints(&[
        ("plans_due_review", 2),
        ("reviews_within_12_months", 2),
        ("reviews_with_decision", 2),
        ("reviews_decision_within_4_weeks", 1),
    ]);
    y2026.assert_float("pc_reviews_decision_within_4_weeks", 50.0);
}
