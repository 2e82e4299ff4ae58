//! Defects degrade the item, never the child: the same children's returns with every defect
//! kind injected load whole, the manifest accounts for every defect, what no defect can change
//! equals the clean returns' computation, and every published cell equals the independent
//! computation over the defective returns as the oracle's own model of the rules degrades them
//! (`returns::degrade`: a date that contradicts the dates before it is unknown; every other
//! defect is a fact as given).

use std::collections::BTreeMap;

use super::headline::Headline;
use super::returns::degrade;
use super::view::{Cells, Lake, Scope, assert_cells, n};
use super::{assert_every_cell, generate, pipeline, returns_config};
use crate::support::*;

#[test]
fn defects_degrade_the_item_never_the_child_and_every_one_is_accounted_for() {
    let clean = Workspace::new();
    let (returns, _, _) = generate(&clean, &returns_config());
    let o = Headline::compute(&returns);
    let clean_report = clean.run(&pipeline(&clean, false));
    assert_eq!(clean_report.exit_code(), 0);

    // The same children, every defect kind in 6% of the items it can hit.
    let ws = Workspace::new();
    let cfg = sendlake_sim::Sen2SimConfig {
        defects: Some(sendlake_sim::DefectConfig::uniform(0.06)),
        ..returns_config()
    };
    let (mut defective, register, summary) = generate(&ws, &cfg);
    let injected = summary.totals().defects;
    for kind in sendlake_sim::DefectKind::ALL {
        assert!(
            injected.by_kind.get(&kind).is_some_and(|n| *n > 0),
            "no {kind:?} defect injected: raise the rate or the children"
        );
    }
    let report = ws.run(&pipeline(&ws, false));
    assert_eq!(report.exit_code(), 0, "{:?}", report.manifest.status);
    let m = &report.manifest;

    // Nothing is lost: every record the defective files hold loads (the NeedPrimary defect
    // takes some rank 1 needs out of the files, so the generator's own counts are the
    // reference), and no record is quarantined.
    for (table, written) in sen2_written(&summary.totals()) {
        let c = &m.tables[table].counts;
        assert_eq!(
            (c.read, c.loaded, c.quarantined_total()),
            (written, written, 0),
            "{table}"
        );
    }
    assert_eq!(
        m.tables["request"].counts.loaded,
        clean_report.manifest.tables["request"].counts.loaded
    );

    // The manifest accounts for every defect: each nulled value under its reason, each
    // warning on top of those the clean returns already give.
    let nulled: BTreeMap<String, u64> = injected.nulled.clone();
    assert_eq!(m.field_rejects, nulled, "values nulled, by reason");
    let mut warned = clean_report.manifest.warnings.clone();
    for (reason, n) in &injected.warned {
        *warned.entry(reason.clone()).or_default() += n;
    }
    assert_eq!(m.warnings, warned, "warnings, by rule");

    // Every cell equals the independent computation over the returns as the oracle's model of
    // the rules degrades them; the model drops exactly the dates the manifest says were nulled.
    // (The date PLAN_DATE_ORDER drops, when a plan was decided on, feeds no published cell: only
    // this count shows the model and the pipeline agree on it. Leaving REQUEST_DATE_ORDER out
    // of the model fails the cells: 79 decisions in a year against 88.)
    let mut dropped: BTreeMap<String, u64> = BTreeMap::new();
    for ret in &mut defective {
        for (rule, count) in degrade(ret) {
            *dropped.entry(rule).or_default() += count;
        }
    }
    for (rule, count) in &dropped {
        assert_eq!(
            m.field_rejects.get(rule),
            Some(count),
            "{rule}: the oracle's model drops {count} dates"
        );
    }
    assert_eq!(dropped.len(), 3, "a date rule never fired: {dropped:?}");
    assert_every_cell(&ws, &defective, &register, false);

    // What no defect can change equals the clean returns' computation: every active plan is in
    // the caseload (a plan whose primary need was lost counts as `unknown`), and every request
    // received is counted in its year.
    assert_unknowable_only(&ws, &o, &summary);
}

/// The figures the defects cannot reach equal the clean returns' independent computation; a
/// plan leaves the 20-week population only where its assessment's outcome was turned to N.
fn assert_unknowable_only(ws: &Workspace, o: &Headline, summary: &sendlake_sim::Sen2SimSummary) {
    let lake = Lake::new(ws);
    let la = Scope::La;
    let caseload = Cells::read(
        &lake,
        "kpi_caseload_need",
        "sen2",
        Some("primary_need"),
        &la,
    );
    for ((l, year), needs) in &o.caseload {
        let total: i64 = needs.values().sum();
        let row = caseload
            .rows
            .iter()
            .find(|((rl, y, _), _)| rl == l && y == year)
            .map(|(_, cells)| cells)
            .unwrap();
        assert_cells(
            &format!("kpi_caseload_need {l} {year}"),
            row,
            &[("caseload_total", n(total))],
        );
    }
    // By age too: a birth month a defect makes unknowable moves its child to `unknown`, never
    // out of the caseload.
    let ages = Cells::read(&lake, "kpi_caseload_age", "sen2", Some("age_band"), &la);
    for ((l, year), needs) in &o.caseload {
        let total: i64 = needs.values().sum();
        let by_band: f64 = ages
            .rows
            .iter()
            .filter(|((rl, y, _), _)| rl == l && y == year)
            .map(|(_, cells)| cells["ehc_plans"].unwrap())
            .sum();
        assert_eq!(by_band, total as f64, "kpi_caseload_age {l} {year}");
    }
    let requests = Cells::read(&lake, "kpi_requests", "sen2", None, &la);
    for ((l, year), f) in &o.requests {
        if f.received > 0 {
            assert_cells(
                &format!("kpi_requests {l} {year}"),
                requests.get(l, *year, ""),
                &[("requests_received_in_year", n(f.received))],
            );
        }
    }
    let timeliness = Cells::read(&lake, "kpi_timeliness", "sen2", None, &la);
    let mut left = 0;
    for ((l, year), f) in &o.timeliness {
        let den = timeliness.get(l, *year, "")["plans_issued_den"].unwrap() as i64;
        assert!(
            den <= f.den,
            "{l} {year}: {den} plans, {} in the clean returns",
            f.den
        );
        left += f.den - den;
    }
    let injected = summary.totals().defects;
    let plan_unexpected = injected.by_kind[&sendlake_sim::DefectKind::PlanUnexpected] as i64;
    assert!(
        left <= plan_unexpected,
        "{left} plans left the 20-week population, only {plan_unexpected} had their assessment turned to N"
    );
}
