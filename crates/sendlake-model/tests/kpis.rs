//! The KPI models checked against figures worked out by hand: each test writes a handful of
//! SEN2 rows into a temp lake, builds the real model project (`pipelines/models`) and reads
//! the published KPI tables. The comment above each assertion shows the arithmetic; the
//! numbers are never recomputed with the models' own logic.
//!
//! Every test child lives in LA 919 (Hertfordshire). Postcode districts used: SG1 (Stevenage,
//! E07000243, DSPL2, North) and AL1 (St Albans, E07000240, DSPL7, South).
//! Suppression is off (`suppress_max = 0`) except in the test that checks it.
//!
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sendlake_model::{CheckStatus, ModelStatus};
use sendlake_schema::SuppressionPolicy;
use support::{Inputs, TestLake};

const STEVENAGE: &str = "E07000243";
const ST_ALBANS: &str = "E07000240";

/// The key of a calendar-year, LA 919, SEN2 row.
fn la_year(period_start: &'static str) -> [(&'static str, &'static str); 5] {
    [
        ("period_type", "calendar_year"),
        ("period_start", period_start),
        ("geography_level", "la"),
        ("geography_code", "919"),
        ("source", "sen2"),
    ]
}

/// The key of a month, LA 919, SEN2 row.
fn la_month(period_start: &'static str) -> [(&'static str, &'static str); 5] {
    [
        ("period_type", "month"),
        ("period_start", period_start),
        ("geography_level", "la"),
        ("geography_code", "919"),
        ("source", "sen2"),
    ]
}

/// The key of a calendar-year, SEN2 row for a district.
fn district_year(
    period_start: &'static str,
    district: &'static str,
) -> [(&'static str, &'static str); 5] {
    [
        ("period_type", "calendar_year"),
        ("period_start", period_start),
        ("geography_level", "district"),
        ("geography_code", district),
        ("source", "sen2"),
    ]
}

fn sen2_plan(request: &'static str) -> [(&'static str, &'static str); 2] {
    [("source_system", "sen2"), ("request_ref", request)]
}

// ---------------------------------------------------------------------------------------
// 1. 140 days is within 20 weeks, 141 is not.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_issued_on_day_140_is_within_20_weeks_and_day_141_is_not() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // Both requests received 1 March 2024, in the 2025 return (activity year 2024, so 2024
    // is a whole year and gets its colour).
    //   1 Mar → 1 Apr 31, → 1 May 30 (61), → 1 Jun 31 (92), → 1 Jul 30 (122), → 19 Jul 18
    //   = 140 days = exactly 20 weeks: 19 July 2024 is the last day within; 20 July is day 141.
    i.in_return(2025);
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-03-01", "2024-07-19");
    i.child("c2", "SG1")
        .issued_plan("r2", "c2", "2024-03-01", "2024-07-20");
    t.build(&i).await;

    let plans = t.read("fact_plan").await;
    let p1 = plans.row(&sen2_plan("r1"));
    assert_eq!(p1.int("days_to_issue"), Some(140));
    assert_eq!(
        p1.text("timeliness_band").as_deref(),
        Some("within_20_weeks")
    );
    let p2 = plans.row(&sen2_plan("r2"));
    assert_eq!(p2.int("days_to_issue"), Some(141));
    assert_eq!(
        p2.text("timeliness_band").as_deref(),
        Some("gt20weeks_ltyear")
    );

    let kpi = t.read("kpi_timeliness").await;
    let y2024 = kpi.row(&la_year("2024-01-01"));
    // 2 plans issued in 2024, no exception: 1 within (day 140), 1 over 20 weeks (day 141).
    y2024.assert_ints(&[
        ("plans_issued_den", 2),
        ("plans_issued_den_ex", 2),
        ("plans_issued_within_20_weeks", 1),
        ("plans_issued_20_weeks_ex", 1),
        ("plans_issued_gt20weeks_ltyear", 1),
        ("plans_issued_gt_1_year", 0),
    ]);
    // 1 / 2 = 50 %.
    y2024.assert_float("pc_plans_issued_within_20_weeks", 50.0);
    y2024.assert_float("pc_plans_issued_20_weeks_ex", 50.0);
    y2024.assert_float("pc_plans_issued_gt20weeks_ltyear", 50.0);
    // (140 + 141) / 2 = 140.5 days = 140.5 / 7 = 20.0714285… weeks.
    y2024.assert_float("avg_weeks_issue_plan", 140.5 / 7.0);
    // targets.csv: LA, calendar year, from 2020: 60 %, amber within 10. 50 ≥ 60 − 10: amber.
    y2024.assert_float("target", 60.0);
    assert_eq!(y2024.text("rag_status").as_deref(), Some("amber"));

    // Both plans were issued in July 2024, by children of Stevenage.
    kpi.row(&la_month("2024-07-01"))
        .assert_ints(&[("plans_issued_den", 2), ("plans_issued_within_20_weeks", 1)]);
    kpi.row(&district_year("2024-01-01", STEVENAGE))
        .assert_ints(&[("plans_issued_den", 2), ("plans_issued_within_20_weeks", 1)]);
}

// ---------------------------------------------------------------------------------------
// 2. Leap years.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leap_day_counts_as_a_day_and_29_february_anniversary_is_28_february() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // Received 10 January 2024 (a leap year):
    //   10 Jan → 10 Feb 31, → 10 Mar 29 (60: February has 29 days), → 10 Apr 31 (91),
    //   → 10 May 30 (121), → 29 May 19 = 140 days. Day 140 is 29 May 2024 (it would be
    //   30 May without 29 February); 30 May 2024 is day 141.
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-01-10", "2024-05-29");
    i.child("c2", "SG1")
        .issued_plan("r2", "c2", "2024-01-10", "2024-05-30");
    // Received 29 February 2024. Its anniversary: 2024-02-29 + INTERVAL '1 year' is 2025-02-28
    // in DataFusion (the day is clamped to the end of February), which fact_plan.sql documents
    // ("29 February + 1 year = 28 February"). `gt20weeks_ltyear` needs start_date < anniversary:
    //   issued 2025-02-28: 1 Mar 2024 → 1 Mar 2025 is 365 days, so 29 Feb 2024 → 28 Feb 2025
    //   is 1 + 365 − 1 = 365 days; 28 Feb is not before 28 Feb → gt_1_year.
    //   issued 2025-02-27: 364 days, before the anniversary → gt20weeks_ltyear.
    i.child("c3", "SG1")
        .issued_plan("r3", "c3", "2024-02-29", "2025-02-28");
    i.child("c4", "SG1")
        .issued_plan("r4", "c4", "2024-02-29", "2025-02-27");
    t.build(&i).await;

    let plans = t.read("fact_plan").await;
    let band = |r: &'static str| plans.row(&sen2_plan(r)).text("timeliness_band");
    let days = |r: &'static str| plans.row(&sen2_plan(r)).int("days_to_issue");
    assert_eq!(days("r1"), Some(140));
    assert_eq!(band("r1").as_deref(), Some("within_20_weeks"));
    assert_eq!(days("r2"), Some(141));
    assert_eq!(band("r2").as_deref(), Some("gt20weeks_ltyear"));
    assert_eq!(days("r3"), Some(365));
    assert_eq!(band("r3").as_deref(), Some("gt_1_year"));
    assert_eq!(days("r4"), Some(364));
    assert_eq!(band("r4").as_deref(), Some("gt20weeks_ltyear"));

    let kpi = t.read("kpi_timeliness").await;
    // 2024: r1 within, r2 over 20 weeks.
    kpi.row(&la_year("2024-01-01")).assert_ints(&[
        ("plans_issued_den", 2),
        ("plans_issued_within_20_weeks", 1),
        ("plans_issued_gt20weeks_ltyear", 1),
        ("plans_issued_gt_1_year", 0),
    ]);
    // 2025: r4 under a year, r3 a year or more.
    let y2025 = kpi.row(&la_year("2025-01-01"));
    y2025.assert_ints(&[
        ("plans_issued_den", 2),
        ("plans_issued_within_20_weeks", 0),
        ("plans_issued_gt20weeks_ltyear", 1),
        ("plans_issued_gt_1_year", 1),
    ]);
    // (365 + 364) / 2 / 7 = 364.5 / 7 = 52.0714… weeks; 0 / 2 within.
    y2025.assert_float("avg_weeks_issue_plan", 364.5 / 7.0);
    y2025.assert_float("pc_plans_issued_within_20_weeks", 0.0);
    y2025.assert_float("pc_plans_issued_gt_1_year", 50.0);
}

// ---------------------------------------------------------------------------------------
// 3. A request received in December and decided in January: December's request, January's
//    decision (the DfE counts decisions in the year they are made, send-domain.md §3.5).
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_counts_in_the_year_received_and_its_decision_in_the_year_decided() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // The 2025 return (census 16 January 2025) holds the request undecided (A); the 2026
    // return holds it again, decided Y on 20 January 2025. fact_request keeps the latest.
    i.in_return(2025).child("c1", "SG1").add(
        "request",
        &[
            ("request_key", "r1-2025"),
            ("person_key", "c1"),
            ("received_date", "2024-12-20"),
            ("request_outcome", "A"),
        ],
    );
    i.in_return(2026).child("c1", "SG1").add(
        "request",
        &[
            ("request_key", "r1-2026"),
            ("person_key", "c1"),
            ("received_date", "2024-12-20"),
            ("request_outcome", "Y"),
            ("request_outcome_date", "2025-01-20"),
        ],
    );
    t.build(&i).await;

    // 20 Dec → 31 Dec 11 days, + 20 January = 31 days ≤ 42: decided within 6 weeks.
    let requests = t.read("fact_request").await;
    assert_eq!(requests.find(&[("source_system", "sen2")]).len(), 1);
    let r = requests.row(&[("source_system", "sen2"), ("request_ref", "r1-2026")]);
    assert_eq!(r.int("decision_days"), Some(31));
    assert_eq!(r.bool("decided_within_6_weeks"), Some(true));

    let kpi = t.read("kpi_requests").await;
    let y2024 = kpi.row(&la_year("2024-01-01"));
    // Received in 2024: one request, agreed (Y): request_assess_pc = 1 / 1 received = 100 %.
    // No decision was made in 2024, so 2024 has no 6-week figure.
    y2024.assert_ints(&[
        ("requests_received_in_year", 1),
        ("requests_decided_to_assess", 1),
        ("requests_decided_not_to_assess", 0),
        ("requests_decision_not_made", 0),
        ("requests_withdrawn", 0),
        ("requests_decided", 1),
        ("request_decisions_in_year", 0),
        ("request_outcome_six_weeks", 0),
        ("request_outcome_over_6_weeks", 0),
    ]);
    y2024.assert_float("request_assess_pc", 100.0);
    assert_eq!(y2024.float("request_outcome_six_weeks_pc"), None);
    // Decided in 2025: one decision, within 6 weeks: 1 / 1 = 100 %, and no request received.
    // So 2025's six + over (1) exceeds its requests received (0), as the DfE's files can.
    let y2025 = kpi.row(&la_year("2025-01-01"));
    y2025.assert_ints(&[
        ("requests_received_in_year", 0),
        ("requests_decided", 0),
        ("request_decisions_in_year", 1),
        ("request_outcome_six_weeks", 1),
        ("request_outcome_over_6_weeks", 0),
    ]);
    y2025.assert_float("request_outcome_six_weeks_pc", 100.0);
    assert_eq!(y2025.float("request_assess_pc"), None);
    // targets.csv: 90 % for LAs: 100 ≥ 90 → green. The 2026 return's activity year, 2025,
    // is whole; so is 2024 (the 2025 return's).
    assert_eq!(y2025.text("rag_status").as_deref(), Some("green"));
    assert_eq!(y2025.bool("period_complete"), Some(true));
    assert_eq!(y2024.bool("period_complete"), Some(true));
    // The month rows split the same way: December 2024 the request, January 2025 the decision.
    kpi.row(&la_month("2024-12-01")).assert_ints(&[
        ("requests_received_in_year", 1),
        ("request_outcome_six_weeks", 0),
    ]);
    kpi.row(&la_month("2025-01-01")).assert_ints(&[
        ("requests_received_in_year", 0),
        ("request_outcome_six_weeks", 1),
    ]);
}

// ---------------------------------------------------------------------------------------
// 4. Exceptions.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_plan_with_an_exception_is_left_out_of_the_ex_figures_only() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // r1: 1 Mar → 30 Aug 2024 = 122 (to 1 Jul) + 31 (to 1 Aug) + 29 = 182 days = 26 weeks,
    //     late, but a 20-week exception applied.
    // r2: 1 Mar → 5 Jul 2024 = 122 + 4 = 126 days = 18 weeks, on time, no exception.
    // Both in the 2025 return, whose activity year is 2024.
    i.in_return(2025);
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-03-01", "2024-08-30")
        .set("assessment", "r1", "week20_exception", "true");
    i.child("c2", "SG1")
        .issued_plan("r2", "c2", "2024-03-01", "2024-07-05")
        .set("assessment", "r2", "week20_exception", "false");
    t.build(&i).await;

    let y2024 = t.read("kpi_timeliness").await.row(&la_year("2024-01-01"));
    y2024.assert_ints(&[
        // Including exceptions: both plans; 1 within, 1 over 20 weeks.
        ("plans_issued_den", 2),
        ("plans_issued_within_20_weeks", 1),
        ("plans_issued_gt20weeks_ltyear", 1),
        // Excluding exceptions: r2 only.
        ("plans_issued_den_ex", 1),
        ("plans_issued_20_weeks_ex", 1),
        ("plans_issued_gt20weeks_ltyear_ex", 0),
        ("plans_issued_gt_1_year_ex", 0),
    ]);
    // 1 / 2 = 50 % including, 1 / 1 = 100 % excluding exceptions.
    y2024.assert_float("pc_plans_issued_within_20_weeks", 50.0);
    y2024.assert_float("pc_plans_issued_20_weeks_ex", 100.0);
    y2024.assert_float("pc_plans_issued_gt20weeks_ltyear_ex", 0.0);
    // (26 + 18) / 2 = 22 weeks with, 18 without the exception.
    y2024.assert_float("avg_weeks_issue_plan", 22.0);
    y2024.assert_float("avg_weeks_issue_plan_exc", 18.0);
    // The RAG judges the _ex rate: 100 ≥ 60 → green.
    assert_eq!(y2024.text("rag_status").as_deref(), Some("green"));
}

// ---------------------------------------------------------------------------------------
// 5. Historical and transferred-in plans.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn historical_and_transferred_in_plans_are_outside_the_timeliness_population() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // r1: an ordinary plan, 1 Mar → 5 Jul 2024 = 126 days = 18 weeks.
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-03-01", "2024-07-05");
    // r2: historical (H): decided before the collection period, plan dated 2024 all the same.
    i.child("c2", "SG1")
        .add(
            "request",
            &[
                ("request_key", "r2"),
                ("person_key", "c2"),
                ("received_date", "2023-10-02"),
                ("request_outcome", "H"),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", "r2"),
                ("person_key", "c2"),
                ("assessment_outcome", "H"),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", "r2"),
                ("person_key", "c2"),
                ("start_date", "2024-04-15"),
            ],
        );
    // r3: assessed and issued by LA 201, transferred in: 1 Feb → 1 Oct 2024, 243 days (late).
    i.child("c3", "SG1")
        .issued_plan("r3", "c3", "2024-02-01", "2024-10-01")
        .add(
            "active_plan",
            &[
                ("request_key", "r3"),
                ("person_key", "c3"),
                ("transfer_la", "201"),
            ],
        );
    t.build(&i).await;

    let plans = t.read("fact_plan").await;
    let r2 = plans.row(&sen2_plan("r2"));
    assert_eq!(r2.bool("is_historical"), Some(true));
    assert_eq!(r2.bool("in_timeliness_scope"), Some(false));
    assert_eq!(r2.text("timeliness_band"), None);
    let r3 = plans.row(&sen2_plan("r3"));
    assert_eq!(r3.bool("is_transferred_in"), Some(true));
    assert_eq!(r3.bool("in_timeliness_scope"), Some(false));
    assert_eq!(r3.text("timeliness_band"), None);

    // Only r1 is in 2024's population: 1 plan, within, 18 weeks.
    let y2024 = t.read("kpi_timeliness").await.row(&la_year("2024-01-01"));
    y2024.assert_ints(&[
        ("plans_issued_den", 1),
        ("plans_issued_den_ex", 1),
        ("plans_issued_within_20_weeks", 1),
        ("plans_issued_gt20weeks_ltyear", 0),
        ("plans_issued_gt_1_year", 0),
    ]);
    y2024.assert_float("avg_weeks_issue_plan", 18.0);
    y2024.assert_float("pc_plans_issued_within_20_weeks", 100.0);
}

// ---------------------------------------------------------------------------------------
// 6. Two requests for one child in one year.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_requests_for_one_child_in_a_year_are_two_requests_and_two_plans() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // rA: received 15 Jan 2024, decided 12 Feb (17 + 11 = 28 days ≤ 42),
    //     plan 20 May: 31 + 29 + 31 + 30 (to 15 May) + 5 = 126 days = 18 weeks.
    // rB: received 2 Sep 2024, decided 28 Oct (30 + 26 = 56 days > 42),
    //     plan 16 Dec: 30 + 31 + 30 (to 2 Dec) + 14 = 105 days = 15 weeks.
    i.child("c1", "SG1")
        .issued_plan("rA", "c1", "2024-01-15", "2024-05-20")
        .set("request", "rA", "request_outcome_date", "2024-02-12")
        .issued_plan("rB", "c1", "2024-09-02", "2024-12-16")
        .set("request", "rB", "request_outcome_date", "2024-10-28")
        .set("request", "rB", "request_seq", "2");
    t.build(&i).await;

    let requests = t.read("kpi_requests").await.row(&la_year("2024-01-01"));
    // 2 requests, both decided Y; 1 of 2 within 6 weeks = 50 %.
    requests.assert_ints(&[
        ("requests_received_in_year", 2),
        ("requests_decided_to_assess", 2),
        ("requests_decided", 2),
        ("request_outcome_six_weeks", 1),
        ("request_outcome_over_6_weeks", 1),
    ]);
    requests.assert_float("request_outcome_six_weeks_pc", 50.0);

    let timeliness = t.read("kpi_timeliness").await.row(&la_year("2024-01-01"));
    // 2 plans, both within 20 weeks; (18 + 15) / 2 = 16.5 weeks.
    timeliness.assert_ints(&[("plans_issued_den", 2), ("plans_issued_within_20_weeks", 2)]);
    timeliness.assert_float("pc_plans_issued_within_20_weeks", 100.0);
    timeliness.assert_float("avg_weeks_issue_plan", 16.5);
}

// ---------------------------------------------------------------------------------------
// 7. A plan ceased, then a new request and plan.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ceased_plan_counts_in_its_cease_year_and_the_new_plan_in_its_issue_year() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // 2025 return (activity in 2024): the first plan, from a request decided long before
    // (H), ceased 30 June 2024 because needs were met without a plan (reason 2).
    i.in_return(2025)
        .child("c1", "SG1")
        .add(
            "request",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("received_date", "2022-05-03"),
                ("request_outcome", "H"),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("assessment_outcome", "H"),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("start_date", "2022-09-20"),
                ("cease_date", "2024-06-30"),
                ("cease_reason", "2"),
            ],
        );
    // 2026 return (activity in 2025): a new request on 3 March 2025, plan on 14 July:
    //   31 (to 3 Apr) + 30 (3 May) + 31 (3 Jun) + 30 (3 Jul) + 11 = 133 days = 19 weeks.
    i.in_return(2026)
        .child("c1", "SG1")
        .issued_plan("r2", "c1", "2025-03-03", "2025-07-14");
    t.build(&i).await;

    let ceased = t.read("kpi_ceased").await;
    let y2024 = ceased.row(&la_year("2024-01-01"));
    y2024.assert_ints(&[
        ("total_ceased", 1),
        ("needs_met", 1),
        ("max_age", 0),
        ("he", 0),
        ("employ", 0),
        ("transfer", 0),
        ("no_engage", 0),
        ("moved_outside_eng", 0),
        ("deceased", 0),
        ("other", 0),
    ]);
    ceased
        .row(&la_month("2024-06-01"))
        .assert_ints(&[("total_ceased", 1), ("needs_met", 1)]);
    // Nothing ceased in 2025.
    assert!(ceased.find(&la_year("2025-01-01")).is_empty());

    let timeliness = t.read("kpi_timeliness").await;
    let y2025 = timeliness.row(&la_year("2025-01-01"));
    y2025.assert_ints(&[("plans_issued_den", 1), ("plans_issued_within_20_weeks", 1)]);
    y2025.assert_float("avg_weeks_issue_plan", 19.0);
    // targets.csv: LA 919's own target from 2025 (90 %) beats the 60 % of every LA; 1 / 1 =
    // 100 % ≥ 90 → green.
    y2025.assert_float("target", 90.0);
    assert_eq!(y2025.text("rag_status").as_deref(), Some("green"));
    // The first plan is historical: no timeliness row for 2022.
    assert!(timeliness.find(&la_year("2022-01-01")).is_empty());
}

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
        .add(
            "request",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("received_date", "2023-11-06"),
                ("request_outcome", "H"),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("assessment_outcome", "H"),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("start_date", "2024-03-25"),
            ],
        )
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
// Further cases found while writing the above.
// ---------------------------------------------------------------------------------------

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_census_snapshot_does_not_depend_on_other_dates_in_the_return() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // The 2026 return lists one active plan, issued 25 March 2024, main placement since
    // 8 April 2024, no review recorded. Every date in the data is before September 2024, but
    // the plan is active on the return's census day, 15 January 2026: caseload 1.
    i.child("c1", "SG1")
        .add(
            "request",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("received_date", "2023-11-06"),
                ("request_outcome", "H"),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("assessment_outcome", "H"),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", "r1"),
                ("person_key", "c1"),
                ("start_date", "2024-03-25"),
            ],
        )
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
async fn a_request_repeated_as_historical_in_a_later_return_stays_in_its_year() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // 2025 return (activity in 2024): request 1 March 2024, decided Y 29 March (28 days),
    // plan 5 July 2024 (126 days, 18 weeks).
    i.in_return(2025)
        .child("c1", "SG1")
        .issued_plan("r1-2025", "c1", "2024-03-01", "2024-07-05");
    // 2026 return: the plan is still active, so the return repeats its request, now
    // historical (H: decided before the collection period), with the same received date.
    i.in_return(2026)
        .child("c1", "SG1")
        .add(
            "request",
            &[
                ("request_key", "r1-2026"),
                ("person_key", "c1"),
                ("received_date", "2024-03-01"),
                ("request_outcome", "H"),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", "r1-2026"),
                ("person_key", "c1"),
                ("assessment_outcome", "H"),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", "r1-2026"),
                ("person_key", "c1"),
                ("start_date", "2024-07-05"),
            ],
        )
        .add(
            "active_plan",
            &[
                ("request_key", "r1-2026"),
                ("person_key", "c1"),
                ("review_meeting_date", "2025-11-20"),
            ],
        );
    t.build(&i).await;

    // Where it goes wrong: both copies share LA, child and received date, and fact_request
    // keeps the 2026 copy (H), so the request is historical and the 2025 copy's assessment
    // and plan (joined by request_key) no longer join anything.
    let requests = t.read("fact_request").await;
    let r = requests.row(&[("source_system", "sen2"), ("received_date", "2024-03-01")]);
    assert_eq!(r.text("request_outcome").as_deref(), Some("Y"));

    // 2024 had one request, decided within 6 weeks, and one plan within 20 weeks, whatever
    // the 2026 return says about it afterwards.
    t.read("kpi_requests")
        .await
        .row(&la_year("2024-01-01"))
        .assert_ints(&[
            ("requests_received_in_year", 1),
            ("requests_decided", 1),
            ("request_outcome_six_weeks", 1),
        ]);
    t.read("kpi_timeliness")
        .await
        .row(&la_year("2024-01-01"))
        .assert_ints(&[("plans_issued_den", 1), ("plans_issued_within_20_weeks", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_ceased_in_a_later_return_counts_in_its_cease_year() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // 2025 return: request 1 March 2024, plan 5 July 2024 (126 days).
    i.in_return(2025)
        .child("c1", "SG1")
        .issued_plan("r1-2025", "c1", "2024-03-01", "2024-07-05");
    // 2026 return: the same request, now historical, and the plan ceased 30 September 2025,
    // the young person having reached the maximum age (reason 1).
    i.in_return(2026)
        .child("c1", "SG1")
        .add(
            "request",
            &[
                ("request_key", "r1-2026"),
                ("person_key", "c1"),
                ("received_date", "2024-03-01"),
                ("request_outcome", "H"),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", "r1-2026"),
                ("person_key", "c1"),
                ("assessment_outcome", "H"),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", "r1-2026"),
                ("person_key", "c1"),
                ("start_date", "2024-07-05"),
                ("cease_date", "2025-09-30"),
                ("cease_reason", "1"),
            ],
        );
    t.build(&i).await;

    // 2025: one plan ceased, at the maximum age.
    t.read("kpi_ceased")
        .await
        .row(&la_year("2025-01-01"))
        .assert_ints(&[("total_ceased", 1), ("max_age", 1), ("needs_met", 0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_historical_requests_without_received_dates_are_two_requests() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // 2025 return: child c1 has two historical requests, neither with a received date
    // (ReceivedDate is optional): the first carries the plan active now (issued
    // 1 September 2021), the second an older plan (1 October 2019) ceased 31 May 2024 with
    // needs met (reason 2).
    i.in_return(2025).child("c1", "SG1");
    for (request, seq, start) in [("r1", "1", "2021-09-01"), ("r2", "2", "2019-10-01")] {
        i.add(
            "request",
            &[
                ("request_key", request),
                ("person_key", "c1"),
                ("request_seq", seq),
                ("request_outcome", "H"),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", request),
                ("person_key", "c1"),
                ("assessment_outcome", "H"),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", request),
                ("person_key", "c1"),
                ("start_date", start),
            ],
        );
    }
    i.set("named_plan", "r2", "cease_date", "2024-05-31").set(
        "named_plan",
        "r2",
        "cease_reason",
        "2",
    );
    t.build(&i).await;

    // Two requests, two plans.
    assert_eq!(
        t.read("fact_request")
            .await
            .find(&[("source_system", "sen2")])
            .len(),
        2
    );
    assert_eq!(t.read("fact_plan").await.len(), 2);
    // 2024: one plan ceased, needs met.
    t.read("kpi_ceased")
        .await
        .row(&la_year("2024-01-01"))
        .assert_ints(&[("total_ceased", 1), ("needs_met", 1)]);
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

// ---------------------------------------------------------------------------------------
// The DfE's denominators (send-domain.md §3.5): request shares over requests received, the
// 6-week share over decisions made in the year, plans without a request date in the 20-week
// denominator.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_shares_are_of_requests_received_and_six_weeks_of_decisions_made() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    let request = |i: &mut Inputs, key: &str, child: &str, received: &str| {
        i.child(child, "SG1").add(
            "request",
            &[
                ("request_key", key),
                ("person_key", child),
                ("received_date", received),
            ],
        );
    };
    // Received in 2024, five requests:
    //   r1 agreed (Y) 21 March: 1 Mar → 21 Mar = 20 days, within 6 weeks;
    //   r2 refused (N) 20 April: 31 (to 1 Apr) + 19 = 50 days, over 6 weeks;
    //   r3 withdrawn (W); r4 and r5 not decided yet (A).
    // Received in 2023: r6, agreed (Y) 5 January 2024: 30 (to 1 Dec) + 31 (to 1 Jan) + 4
    //   = 65 days, over 6 weeks; a decision made in 2024.
    for (key, child) in [
        ("r1", "c1"),
        ("r2", "c2"),
        ("r3", "c3"),
        ("r4", "c4"),
        ("r5", "c5"),
    ] {
        request(&mut i, key, child, "2024-03-01");
    }
    request(&mut i, "r6", "c6", "2023-11-01");
    i.set("request", "r1", "request_outcome", "Y")
        .set("request", "r1", "request_outcome_date", "2024-03-21")
        .set("request", "r2", "request_outcome", "N")
        .set("request", "r2", "request_outcome_date", "2024-04-20")
        .set("request", "r3", "request_outcome", "W")
        .set("request", "r3", "request_outcome_date", "2024-03-10")
        .set("request", "r4", "request_outcome", "A")
        .set("request", "r5", "request_outcome", "A")
        .set("request", "r6", "request_outcome", "Y")
        .set("request", "r6", "request_outcome_date", "2024-01-05");
    t.build(&i).await;

    let kpi = t.read("kpi_requests").await;
    let y2024 = kpi.row(&la_year("2024-01-01"));
    y2024.assert_ints(&[
        ("requests_received_in_year", 5),
        ("requests_decided_to_assess", 1),
        ("requests_decided_not_to_assess", 1),
        ("requests_withdrawn", 1),
        ("requests_decision_not_made", 2),
        ("requests_decided", 2),
        // Decisions made in 2024: r1 (20 days), r2 (50), r6 (65).
        ("request_decisions_in_year", 3),
        ("request_outcome_six_weeks", 1),
        ("request_outcome_over_6_weeks", 2),
    ]);
    // Over the 5 requests received, not over the 2 decided (which would give 50 %).
    y2024.assert_float("request_assess_pc", 20.0);
    y2024.assert_float("request_not_assess_pc", 20.0);
    y2024.assert_float("request_withdrawn_pc", 20.0);
    y2024.assert_float("request_outstanding_pc", 40.0);
    // 1 of the 3 decisions made in 2024.
    y2024.assert_float("request_outcome_six_weeks_pc", 100.0 / 3.0);
    y2024.assert_float("request_outcome_over_6_weeks_pc", 200.0 / 3.0);
    // 2023: r6 received, agreed; no decision made in 2023.
    let y2023 = kpi.row(&la_year("2023-01-01"));
    y2023.assert_ints(&[
        ("requests_received_in_year", 1),
        ("requests_decided_to_assess", 1),
        ("request_decisions_in_year", 0),
    ]);
    y2023.assert_float("request_assess_pc", 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_a_request_date_is_in_the_20_week_denominator_and_in_no_band() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // r1: 1 March → 5 July 2024 = 126 days = 18 weeks, within.
    // r2: issued 1 June 2024, its request date not recorded.
    i.child("c1", "SG1")
        .issued_plan("r1", "c1", "2024-03-01", "2024-07-05")
        .child("c2", "SG1")
        .issued_plan("r2", "c2", "2024-01-02", "2024-06-01")
        .unset("request", "r2", "received_date");
    t.build(&i).await;

    let r2 = t.read("fact_plan").await.row(&sen2_plan("r2"));
    assert_eq!(r2.bool("in_timeliness_scope"), Some(true));
    assert_eq!(r2.text("timeliness_band"), None);
    assert_eq!(r2.int("days_to_issue"), None);

    let y2024 = t.read("kpi_timeliness").await.row(&la_year("2024-01-01"));
    // Two plans issued, one within 20 weeks: 1 / 2 = 50 %; the bands hold only r1.
    y2024.assert_ints(&[
        ("plans_issued_den", 2),
        ("plans_issued_den_ex", 2),
        ("plans_issued_within_20_weeks", 1),
        ("plans_issued_20_weeks_ex", 1),
        ("plans_issued_gt20weeks_ltyear", 0),
        ("plans_issued_gt_1_year", 0),
    ]);
    y2024.assert_float("pc_plans_issued_within_20_weeks", 50.0);
    y2024.assert_float("pc_plans_issued_20_weeks_ex", 50.0);
    // The average is over plans with an elapsed time: r1's 18 weeks.
    y2024.assert_float("avg_weeks_issue_plan", 18.0);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periods_outside_the_returns_activity_years_are_partial_and_get_no_colour() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // The 2026 return covers 2025. It also holds a request received in November 2024 (still
    // open in 2025) and one decided on 10 January 2026, before census day: 2024 and 2026 are
    // partial, 2025 whole.
    i.child("c1", "SG1").add(
        "request",
        &[
            ("request_key", "r1"),
            ("person_key", "c1"),
            ("received_date", "2024-11-04"),
            ("request_outcome", "Y"),
            ("request_outcome_date", "2024-12-02"),
        ],
    );
    i.child("c2", "SG1").add(
        "request",
        &[
            ("request_key", "r2"),
            ("person_key", "c2"),
            ("received_date", "2025-12-15"),
            ("request_outcome", "Y"),
            ("request_outcome_date", "2026-01-10"),
        ],
    );
    i.child("c3", "SG1").add(
        "request",
        &[
            ("request_key", "r3"),
            ("person_key", "c3"),
            ("received_date", "2025-03-03"),
            ("request_outcome", "Y"),
            ("request_outcome_date", "2025-03-24"),
        ],
    );
    t.build(&i).await;

    let kpi = t.read("kpi_requests").await;
    for (year, complete) in [
        ("2024-01-01", false),
        ("2025-01-01", true),
        ("2026-01-01", false),
    ] {
        let row = kpi.row(&la_year(year));
        assert_eq!(row.bool("period_complete"), Some(complete), "{year}");
        // Every decision here is within 6 weeks (100 %, green against 90 %), but only the
        // whole year is coloured.
        row.assert_float("request_outcome_six_weeks_pc", 100.0);
        let rag = row.text("rag_status");
        assert_eq!(rag.as_deref(), complete.then_some("green"), "{year}");
    }
    // Months follow their year: March 2025 is whole, December 2025's request counts in a whole
    // month too; January 2026 is not.
    assert_eq!(
        kpi.row(&la_month("2025-03-01")).bool("period_complete"),
        Some(true)
    );
    assert_eq!(
        kpi.row(&la_month("2026-01-01")).bool("period_complete"),
        Some(false)
    );
}
