//! Ceased plans (`kpi_ceased`): counted in the year they cease, by reason, whether the cease
//! date comes in the same return or a later one, and for requests without a received date.

use crate::keys::{la_month, la_year};
use crate::support::{Builds, Inputs, TestLake};

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
        .historical_plan("r1", "c1", "2022-05-03", "2022-09-20")
        .set("named_plan", "r1", "cease_date", "2024-06-30")
        .set("named_plan", "r1", "cease_reason", "2");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_ceased_in_a_later_return_counts_in_its_cease_year() {
    let t = TestLake::new();
    let mut i = Inputs::new();
    // 2025 return: request 1 March 2024, plan 5 July 2024 (126 days).
    // 2026 return: the same request, now historical, and the plan ceased 30 September 2025,
    // the young person having reached the maximum age (reason 1).
    i.plan_repeated_in_2026()
        .set("named_plan", "r1-2026", "cease_date", "2025-09-30")
        .set("named_plan", "r1-2026", "cease_reason", "1");
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
