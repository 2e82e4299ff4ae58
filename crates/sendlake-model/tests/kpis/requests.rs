//! Requests for an assessment (`fact_request`, `kpi_requests`): counted in the year received
//! and decided in the year decided, shares over requests received and the 6-week share over
//! decisions made, two requests for one child, a request repeated in a later return, and which
//! periods are whole and get a colour.

use crate::keys::{la_month, la_year};
use crate::support::{Builds, Inputs, TestLake};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_repeated_as_historical_in_a_later_return_stays_in_its_year() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // 2025 return (activity in 2024): request 1 March 2024, decided Y 29 March (28 days),
    // plan 5 July 2024 (126 days, 18 weeks).
    // 2026 return: the plan is still active, so the return repeats its request, now
    // historical (H: decided before the collection period), with the same received date.
    i.plan_repeated_in_2026().add(
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

// ---------------------------------------------------------------------------------------
// The DfE's denominators (send-domain.md §3.5): request shares over requests received, the
// 6-week share over decisions made in the year.
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
