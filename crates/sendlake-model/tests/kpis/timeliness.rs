//! The 20-week timeliness of EHC plans (`fact_plan`, `kpi_timeliness`): day 140 against day
//! 141, leap years, exceptions, historical and transferred-in plans left out of the population,
//! and a plan without a request date counted in the denominator only.

use crate::keys::{STEVENAGE, district_year, la_month, la_year, sen2_plan};
use crate::support::{Builds, Inputs, TestLake};

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
        .historical_plan("r2", "c2", "2023-10-02", "2024-04-15");
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
// The DfE's denominators (send-domain.md §3.5): plans without a request date in the 20-week
// denominator.
// ---------------------------------------------------------------------------------------

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
