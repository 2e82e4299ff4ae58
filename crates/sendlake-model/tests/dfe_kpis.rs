//! The KPI tables the DfE added to its EHC-plan statistics (send-domain.md §3.5), checked
//! against figures worked out by hand: decisions not to issue within 16 weeks
//! (`kpi_assessments`), annual reviews in the calendar year (`kpi_annual_reviews_year`), the
//! caseload by age at 31 August (`kpi_caseload_age`) and "not in education - other" split by
//! compulsory school age (`kpi_placements.ehc_plans_csa`). The comment above each assertion
//! shows the arithmetic; nothing is recomputed with the models' own logic.
//!
//! Every child lives in LA 919, postcode district SG1 (Stevenage, E07000243). Suppression is off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Shared with tests/kpis/, which uses helpers this file does not.
#[allow(dead_code)]
mod support;

use support::{Builds, Inputs, TestLake, plus_days};

const STEVENAGE: &str = "E07000243";

/// The key of an LA 919, SEN2 row of `period_type` starting on `period_start`.
fn la(period_type: &'static str, period_start: &'static str) -> [(&'static str, &'static str); 5] {
    [
        ("period_type", period_type),
        ("period_start", period_start),
        ("geography_level", "la"),
        ("geography_code", "919"),
        ("source", "sen2"),
    ]
}

/// A request received on `received`, agreed three weeks later, and an assessment decided `N`
/// on `decided` (no date if `None`).
fn not_issued(
    i: &mut Inputs,
    request: &str,
    person: &str,
    received: Option<&str>,
    decided: Option<&str>,
) {
    let mut req = vec![
        ("request_key", request),
        ("person_key", person),
        ("request_outcome", "Y"),
    ];
    let agreed = received.map(|r| plus_days(r, 21));
    if let (Some(r), Some(a)) = (received, agreed.as_deref()) {
        req.push(("received_date", r));
        req.push(("request_outcome_date", a));
    }
    i.add("request", &req);
    let mut assessment = vec![
        ("request_key", request),
        ("person_key", person),
        ("assessment_outcome", "N"),
    ];
    if let Some(d) = decided {
        assessment.push(("assessment_outcome_date", d));
    }
    i.add("assessment", &assessment);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_not_to_issue_on_day_112_is_within_16_weeks_and_day_113_is_not() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // The 2026 return (activity year 2025). Requests received 3 March 2025:
    //   3 Mar → 3 Apr 31 days, → 3 May 61, → 3 Jun 92, → 23 Jun 112 = exactly 16 weeks.
    // r1 decided not to issue on 23 June (day 112: within), r2 on 24 June (day 113: over).
    i.child("c1", "SG1");
    not_issued(&mut i, "r1", "c1", Some("2025-03-03"), Some("2025-06-23"));
    i.child("c2", "SG1");
    not_issued(&mut i, "r2", "c2", Some("2025-03-03"), Some("2025-06-24"));
    // r3: no request date to measure from, decided 10 June: over (cannot be shown within).
    i.child("c3", "SG1");
    not_issued(&mut i, "r3", "c3", None, Some("2025-06-10"));
    // r4: a decision not to issue without a date: in no period.
    i.child("c4", "SG1");
    not_issued(&mut i, "r4", "c4", Some("2025-03-03"), None);
    // r5: received 4 November 2024, decided 3 February 2025 (91 days): a 2025 decision, within.
    i.child("c5", "SG1");
    not_issued(&mut i, "r5", "c5", Some("2024-11-04"), Some("2025-02-03"));
    // r6: an assessment that led to a plan is no decision not to issue.
    i.child("c6", "SG1")
        .issued_plan("r6", "c6", "2025-03-03", "2025-06-23");
    t.build(&i).await;

    let kpi = t.read("kpi_assessments").await;
    // 2025: r1, r2, r3, r5 = 4 decisions; within: r1 (112), r5 (91) = 2; over: r2 (113), r3 = 2.
    let y2025 = kpi.row(&la("calendar_year", "2025-01-01"));
    y2025.assert_ints(&[
        ("decisions_not_to_issue", 4),
        ("outcome_decision_within_time", 2),
        ("outcome_decision_over_time", 2),
    ]);
    // 2 / 4 = 50 %.
    y2025.assert_float("outcome_decision_within_time_pc", 50.0);
    y2025.assert_float("outcome_decision_over_time_pc", 50.0);
    // The return covers 2025 whole.
    assert_eq!(y2025.bool("period_complete"), Some(true));
    // June 2025: r1, r2, r3 (1 within, 2 over); February: r5 (within).
    kpi.row(&la("month", "2025-06-01")).assert_ints(&[
        ("decisions_not_to_issue", 3),
        ("outcome_decision_within_time", 1),
        ("outcome_decision_over_time", 2),
    ]);
    kpi.row(&la("month", "2025-02-01")).assert_ints(&[
        ("decisions_not_to_issue", 1),
        ("outcome_decision_within_time", 1),
        ("outcome_decision_over_time", 0),
    ]);
    // r5 was received in 2024, but its decision is 2025's: no 2024 row; and r4, undated, is in
    // no row at all (the LA's year rows hold 4 decisions in total).
    assert!(kpi.find(&la("calendar_year", "2024-01-01")).is_empty());
    let year_rows = kpi.find(&[
        ("period_type", "calendar_year"),
        ("geography_level", "la"),
        ("source", "sen2"),
    ]);
    let total: i64 = year_rows
        .iter()
        .map(|r| r.int("decisions_not_to_issue").unwrap())
        .sum();
    assert_eq!(total, 4);
    // Every child lives in Stevenage: the district row equals the LA row.
    kpi.row(&[
        ("period_type", "calendar_year"),
        ("period_start", "2025-01-01"),
        ("geography_level", "district"),
        ("geography_code", STEVENAGE),
        ("source", "sen2"),
    ])
    .assert_ints(&[
        ("decisions_not_to_issue", 4),
        ("outcome_decision_within_time", 2),
    ]);
}

/// An active plan: child, request, issue date, latest review meeting and decision.
type Review = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annual_reviews_in_the_year_split_decisions_within_and_over_4_weeks() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // The 2026 return: plans active at the census of 15 January 2026 describe 2025.
    let plans: [Review; 7] = [
        // Meeting 1 October 2025, decision 29 October: 28 days, within 4 weeks.
        (
            "c1",
            "r1",
            "2022-05-02",
            Some("2025-10-01"),
            Some("2025-10-29"),
        ),
        // Decision 30 October: 29 days, over.
        (
            "c2",
            "r2",
            "2022-05-02",
            Some("2025-10-01"),
            Some("2025-10-30"),
        ),
        // No decision date: over 4 weeks.
        ("c3", "r3", "2022-05-02", Some("2025-10-01"), None),
        // Decision dated before the meeting (an earlier review's): not within, so over.
        (
            "c4",
            "r4",
            "2022-05-02",
            Some("2025-10-01"),
            Some("2025-09-01"),
        ),
        // Latest meeting in November 2024: expected in 2025, not completed in it.
        (
            "c5",
            "r5",
            "2022-05-02",
            Some("2024-11-01"),
            Some("2024-11-10"),
        ),
        // Issued during 2025: its first review falls due in 2026, so not expected in 2025
        // (its early meeting in December 2025 is no review of the year's).
        (
            "c6",
            "r6",
            "2025-03-03",
            Some("2025-12-01"),
            Some("2025-12-08"),
        ),
        // Issued on 31 December 2024, the last day before the year: expected; its meeting on
        // 5 January 2026 (before census day) is not in 2025.
        (
            "c7",
            "r7",
            "2024-12-31",
            Some("2026-01-05"),
            Some("2026-01-12"),
        ),
    ];
    for (child, request, issued, meeting, decision) in plans {
        i.child(child, "SG1")
            .issued_plan(request, child, &plus_days(issued, -100), issued);
        let mut active = vec![("request_key", request), ("person_key", child)];
        if let Some(m) = meeting {
            active.push(("review_meeting_date", m));
        }
        if let Some(d) = decision {
            active.push(("last_review_date", d));
        }
        i.add("active_plan", &active);
    }
    t.build(&i).await;

    let kpi = t.read("kpi_annual_reviews_year").await;
    let y2025 = kpi.row(&la("calendar_year", "2025-01-01"));
    // Expected: c1-c5 and c7 = 6 (c6 issued in the year). Completed in 2025: c1-c4 = 4;
    // not completed: c5, c7 = 2. Within 4 weeks: c1 = 1; over: c2, c3, c4 = 3.
    y2025.assert_ints(&[
        ("review_expected", 6),
        ("review_completed", 4),
        ("review_not_completed", 2),
        ("decision_4_weeks", 1),
        ("over_4_weeks", 3),
    ]);
    // 4 / 6, 1 / 4, 3 / 4.
    y2025.assert_float("review_completed_pc", 400.0 / 6.0);
    y2025.assert_float("decision_4_weeks_pc", 25.0);
    y2025.assert_float("over_4_weeks_pc", 75.0);
    assert_eq!(y2025.bool("period_complete"), Some(true));
    // Only calendar years, and only the year the return describes: 2025's rows for the LA,
    // SG1's district (Stevenage), locality (DSPL2) and quadrant (North).
    assert_eq!(kpi.len(), 4);
    assert!(kpi.find(&[("period_start", "2025-01-01")]).len() == 4);
}

/// A child in the 2026 return, with `birth_month` (none if `None`), whose plan (issued in
/// 2023, its request historical now) is active on census day 15 January 2026, and whose main
/// placement has SEN2 setting code `setting`.
fn active_child(i: &mut Inputs, child: &str, birth_month: Option<&str>, setting: &str) {
    let request = format!("r-{child}");
    let mut person = vec![("person_key", child), ("postcode_district", "SG1")];
    if let Some(b) = birth_month {
        person.push(("birth_month", b));
    }
    i.add("person", &person)
        .historical_plan(&request, child, "2022-11-07", "2023-03-20")
        .add(
            "active_plan",
            &[("request_key", &request), ("person_key", child)],
        )
        .add(
            "placement",
            &[
                ("request_key", &request),
                ("person_key", child),
                ("placement_rank", "1"),
                ("setting_basis", "sen_setting"),
                ("sen_setting", setting),
                ("entry_date", "2023-09-04"),
            ],
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn age_at_31_august_bands_the_caseload_and_splits_nieo_by_compulsory_school_age() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // Census day 15 January 2026: ages at 31 August 2025, the start of its academic year.
    // A birth month of January to August has had its 2025 birthday by 31 August; September
    // to December has not.
    //   a: August 2020 → 2025 − 2020 = 5: 5_to_10 (its birthday month is August: counted).
    //   b: September 2020 → 2025 − 2020 − 1 = 4: under_5.
    //   c: September 2009 → 2025 − 2009 − 1 = 15: 11_to_15, compulsory school age.
    //   d: August 2009 → 16: 16_to_19, past compulsory school age.
    //   e: no birth month: unknown, never lost.
    //   f: October 2025, born after 31 August → −1: under_5.
    //   g: March 2000 → 25: 20_to_25.
    // c, d and e are "not in education - other" (NIEO); a, b, f, g elective home education.
    active_child(&mut i, "a", Some("2020-08-01"), "EHE");
    active_child(&mut i, "b", Some("2020-09-01"), "EHE");
    active_child(&mut i, "c", Some("2009-09-01"), "NIEO");
    active_child(&mut i, "d", Some("2009-08-01"), "NIEO");
    active_child(&mut i, "e", None, "NIEO");
    active_child(&mut i, "f", Some("2025-10-01"), "EHE");
    active_child(&mut i, "g", Some("2000-03-01"), "EHE");
    t.build(&i).await;

    let caseload = t.read("fact_caseload").await;
    for (child, age) in [
        ("a", Some(5)),
        ("b", Some(4)),
        ("c", Some(15)),
        ("d", Some(16)),
        ("e", None),
        ("f", Some(-1)),
        ("g", Some(25)),
    ] {
        let request = format!("r-{child}");
        let row = caseload.row(&[("request_ref", &request), ("snapshot_date", "2026-01-15")]);
        assert_eq!(row.int("age_at_31_august"), age, "child {child}");
    }

    let ages = t.read("kpi_caseload_age").await;
    // 7 plans: under_5 b, f = 2; 5_to_10 a = 1; 11_to_15 c = 1; 16_to_19 d = 1;
    // 20_to_25 g = 1; unknown e = 1. No empty band gets a row.
    let rows = ages.find(&la("calendar_year", "2026-01-01"));
    assert_eq!(rows.len(), 6);
    for (band, plans) in [
        ("under_5", 2),
        ("5_to_10", 1),
        ("11_to_15", 1),
        ("16_to_19", 1),
        ("20_to_25", 1),
        ("unknown", 1),
    ] {
        let mut key = la("calendar_year", "2026-01-01").to_vec();
        key.push(("age_band", band));
        let row = ages.row(&key);
        row.assert_ints(&[("ehc_plans", plans), ("caseload_total", 7)]);
        // plans / 7.
        row.assert_float("ehc_plans_pc", 100.0 * plans as f64 / 7.0);
    }

    let placements = t.read("kpi_placements").await;
    let category = |c: &'static str| {
        let mut key = la("calendar_year", "2026-01-01").to_vec();
        key.push(("setting_category", c));
        placements.row(&key)
    };
    // NIEO: c (15, compulsory school age), d (16), e (no birth month): 3 plans, 1 of
    // compulsory school age (the DfE's neet_other_csa), 2 not.
    category("neet_other").assert_ints(&[
        ("ehc_plans", 3),
        ("ehc_plans_csa", 1),
        ("ehc_plans_not_csa", 2),
        ("caseload_total", 7),
    ]);
    // EHE: a (5: compulsory school age), b (4), f (−1), g (25): 1 of 4.
    category("elective_home_education").assert_ints(&[
        ("ehc_plans", 4),
        ("ehc_plans_csa", 1),
        ("ehc_plans_not_csa", 3),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_end_of_31_august_is_its_own_31_august() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // Two children in the council's system, plans issued 2 June 2025 and still open: in the
    // caseload at every month end from June 2025. Born August 2020 (h) and September 2020 (k).
    //   31 July 2025: the 31 August on or before it is 2024's: h 2024 − 2020 = 4, k 3.
    //   31 August 2025: that day itself: h 5 (compulsory school age), k 2025 − 2020 − 1 = 4.
    for (child, birth) in [("h", "2020-08-01"), ("k", "2020-09-01")] {
        let request = format!("q-{child}");
        i.add(
            "cms_request",
            &[
                ("record_id", &request),
                ("person_key", child),
                ("birth_month", birth),
                ("postcode_district", "SG1"),
                ("received_date", "2025-01-06"),
                ("request_outcome", "Y"),
                ("request_outcome_date", "2025-02-03"),
            ],
        )
        .add(
            "cms_plan",
            &[
                ("person_key", child),
                ("request_id", &request),
                ("start_date", "2025-06-02"),
            ],
        );
    }
    t.build(&i).await;

    let council = |period: &'static str, extra: (&'static str, &'static str)| {
        let mut key = la("month", period).to_vec();
        key[4] = ("source", "council_cms");
        key.push(extra);
        key
    };
    let ages = t.read("kpi_caseload_age").await;
    // July 2025: both under 5.
    ages.row(&council("2025-07-01", ("age_band", "under_5")))
        .assert_ints(&[("ehc_plans", 2), ("caseload_total", 2)]);
    // August 2025: h is 5, k still 4.
    ages.row(&council("2025-08-01", ("age_band", "5_to_10")))
        .assert_ints(&[("ehc_plans", 1)]);
    ages.row(&council("2025-08-01", ("age_band", "under_5")))
        .assert_ints(&[("ehc_plans", 1)]);

    // Neither has a placement (placement_unknown): of compulsory school age, none at the end of
    // July, h at the end of August.
    let placements = t.read("kpi_placements").await;
    placements
        .row(&council(
            "2025-07-01",
            ("setting_category", "placement_unknown"),
        ))
        .assert_ints(&[
            ("ehc_plans", 2),
            ("ehc_plans_csa", 0),
            ("ehc_plans_not_csa", 2),
        ]);
    placements
        .row(&council(
            "2025-08-01",
            ("setting_category", "placement_unknown"),
        ))
        .assert_ints(&[
            ("ehc_plans", 2),
            ("ehc_plans_csa", 1),
            ("ehc_plans_not_csa", 1),
        ]);
}
