//! The headline KPIs computed independently: requests (received in the year and their
//! outcomes; decisions made in the year, within 6 weeks or not), 20-week timeliness of new
//! plans, and the caseload on census day by primary need, with the DfE's definitions
//! (send-domain.md §3.3, §3.5) applied in plain Rust; and the same figures in the DfE's own
//! file layout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, NaiveDate};

use super::returns::Return;
use super::view::{Cells, Lake, Scope, assert_cells, n, pc};

/// The DfE's requests figures for one LA and calendar year.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct RequestFigures {
    pub(crate) received: i64,
    agreed: i64,
    refused: i64,
    not_made: i64,
    withdrawn: i64,
    decisions: i64,
    six_weeks: i64,
    over_six_weeks: i64,
}

/// The DfE's 20-week timeliness figures for one LA and calendar year.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct TimelinessFigures {
    pub(crate) den: i64,
    den_ex: i64,
    within: i64,
    within_ex: i64,
}

#[derive(Default)]
pub(crate) struct Headline {
    pub(crate) requests: BTreeMap<(String, i32), RequestFigures>,
    pub(crate) timeliness: BTreeMap<(String, i32), TimelinessFigures>,
    /// The same by (LA, year, month).
    requests_by_month: BTreeMap<(String, i32, u32), RequestFigures>,
    timeliness_by_month: BTreeMap<(String, i32, u32), TimelinessFigures>,
    /// (LA, census year) → primary need → plans active on census day.
    pub(crate) caseload: BTreeMap<(String, i32), BTreeMap<String, i64>>,
}

impl Headline {
    /// The DfE's definitions, applied to the returns (send-domain.md §3.3, §3.5).
    pub(crate) fn compute(returns: &[Return]) -> Self {
        let mut o = Headline::default();
        for ret in returns {
            let la = ret.la.clone();
            for r in &ret.requests {
                let outcome = r.outcome.as_deref();
                // Requests received in the year: historical (H) ones are not.
                if let Some(received) = r.received
                    && outcome != Some("H")
                {
                    let (year, month) =
                        at(&mut o.requests, &mut o.requests_by_month, &la, received);
                    for f in [year, month] {
                        f.received += 1;
                        match outcome {
                            Some("Y") => f.agreed += 1,
                            Some("N") => f.refused += 1,
                            Some("W") => f.withdrawn += 1,
                            _ => f.not_made += 1,
                        }
                    }
                }
                // Decisions made in the year, within 6 weeks (42 days) of the request or not.
                if matches!(outcome, Some("Y" | "N"))
                    && let Some(decided) = r.outcome_date
                {
                    let within = r
                        .received
                        .is_some_and(|received| (decided - received).num_days() <= 42);
                    let (year, month) = at(&mut o.requests, &mut o.requests_by_month, &la, decided);
                    for f in [year, month] {
                        f.decisions += 1;
                        f.six_weeks += i64::from(within);
                        f.over_six_weeks += i64::from(!within);
                    }
                }
                // New plans issued in the year: assessed Y, nothing historical, not transferred
                // in; a plan with no request date counts, in no band.
                if let Some(start) = r.plan_start
                    && r.assessment_outcome.as_deref() == Some("Y")
                    && outcome != Some("H")
                    && !r.transferred_in
                {
                    let within = r
                        .received
                        .is_some_and(|received| (start - received).num_days() <= 140);
                    let (year, month) =
                        at(&mut o.timeliness, &mut o.timeliness_by_month, &la, start);
                    for f in [year, month] {
                        f.den += 1;
                        f.within += i64::from(within);
                        if !r.week20 {
                            f.den_ex += 1;
                            f.within_ex += i64::from(within);
                        }
                    }
                }
                // The caseload on census day, by primary (rank 1) need.
                if r.active {
                    let need = r
                        .needs
                        .iter()
                        .find(|(_, rank)| rank == "1")
                        .map_or_else(|| "unknown".to_owned(), |(t, _)| t.clone());
                    *o.caseload
                        .entry((la.clone(), ret.census_year))
                        .or_default()
                        .entry(need)
                        .or_default() += 1;
                }
            }
        }
        o
    }

    /// Every `sen2` cell of `kpi_requests` and `kpi_timeliness` (calendar years and months)
    /// and of `kpi_caseload_need` in `scope` equals this computation, and no other row is
    /// there. Only `activity_year` (the calendar year before census) and its months are whole.
    pub(crate) fn assert_tables(&self, lake: &Lake<'_>, scope: &Scope, activity_year: i32) {
        let requests = Cells::read(lake, "kpi_requests", "sen2", None, scope);
        assert_eq!(
            (requests.rows.len(), requests.months.len()),
            (self.requests.len(), self.requests_by_month.len()),
            "kpi_requests {scope}: one row per LA and year (month) with a request received or decided"
        );
        let periods = self
            .requests
            .iter()
            .map(|((la, y), f)| ((la, *y, 0), f))
            .chain(
                self.requests_by_month
                    .iter()
                    .map(|((la, y, m), f)| ((la, *y, *m), f)),
            );
        for ((la, year, month), f) in periods {
            let label = format!("kpi_requests {scope} {la} {year}-{month:02}");
            let row = requests.at(la, year, month, "");
            let complete = Some(f64::from(u8::from(year == activity_year)));
            assert_cells(
                &label,
                row,
                &[
                    ("requests_received_in_year", n(f.received)),
                    ("requests_decided_to_assess", n(f.agreed)),
                    ("requests_decided_not_to_assess", n(f.refused)),
                    ("requests_decision_not_made", n(f.not_made)),
                    ("requests_withdrawn", n(f.withdrawn)),
                    ("request_assess_pc", pc(f.agreed, f.received)),
                    ("request_not_assess_pc", pc(f.refused, f.received)),
                    ("request_outstanding_pc", pc(f.not_made, f.received)),
                    ("request_withdrawn_pc", pc(f.withdrawn, f.received)),
                    ("request_decisions_in_year", n(f.decisions)),
                    ("request_outcome_six_weeks", n(f.six_weeks)),
                    ("request_outcome_over_6_weeks", n(f.over_six_weeks)),
                    ("request_outcome_six_weeks_pc", pc(f.six_weeks, f.decisions)),
                    (
                        "request_outcome_over_6_weeks_pc",
                        pc(f.over_six_weeks, f.decisions),
                    ),
                    ("period_complete", complete),
                ],
            );
        }
        if scope.is_la() {
            // Older open requests and decisions made before census day fall in partial years.
            assert!(self.requests.keys().any(|(_, y)| *y != activity_year));
            assert!(
                self.timeliness_by_month.len() > 12,
                "plans issued in few months"
            );
            // The generator decides some requests in a later year than they came: the two
            // cohorts differ, so the test can tell them apart.
            assert!(
                self.requests
                    .values()
                    .any(|f| f.decisions != f.agreed + f.refused),
                "the returns never separate requests received from decisions made"
            );
        }

        let timeliness = Cells::read(lake, "kpi_timeliness", "sen2", None, scope);
        assert_eq!(
            (timeliness.rows.len(), timeliness.months.len()),
            (self.timeliness.len(), self.timeliness_by_month.len()),
            "kpi_timeliness {scope}"
        );
        let periods = self
            .timeliness
            .iter()
            .map(|((la, y), f)| ((la, *y, 0), f))
            .chain(
                self.timeliness_by_month
                    .iter()
                    .map(|((la, y, m), f)| ((la, *y, *m), f)),
            );
        for ((la, year, month), f) in periods {
            assert_cells(
                &format!("kpi_timeliness {scope} {la} {year}-{month:02}"),
                timeliness.at(la, year, month, ""),
                &[
                    ("plans_issued_den", n(f.den)),
                    ("plans_issued_den_ex", n(f.den_ex)),
                    ("plans_issued_within_20_weeks", n(f.within)),
                    ("plans_issued_20_weeks_ex", n(f.within_ex)),
                    ("pc_plans_issued_within_20_weeks", pc(f.within, f.den)),
                    ("pc_plans_issued_20_weeks_ex", pc(f.within_ex, f.den_ex)),
                ],
            );
        }

        let caseload = Cells::read(
            lake,
            "kpi_caseload_need",
            "sen2",
            Some("primary_need"),
            scope,
        );
        let cells: usize = self.caseload.values().map(BTreeMap::len).sum();
        assert_eq!(caseload.rows.len(), cells, "kpi_caseload_need {scope}");
        for ((la, year), needs) in &self.caseload {
            let total: i64 = needs.values().sum();
            for (need, plans) in needs {
                assert_cells(
                    &format!("kpi_caseload_need {scope} {la} {year} {need}"),
                    caseload.get(la, *year, need),
                    &[("ehc_plans", n(*plans)), ("caseload_total", n(total))],
                );
            }
        }
    }

    /// The figures in the DfE's own file layout (as `timeliness_20_week.csv` and
    /// `requests.csv`), percentages to one decimal place as the DfE writes them; `plant` adds
    /// one plan to one LA's year.
    pub(crate) fn dfe_files(&self, dir: &Path, plant: Option<(&str, i32)>) {
        let head = super::DFE_HEAD;
        let round = |v: Option<f64>| v.map_or_else(|| "z".to_owned(), |v| format!("{v:.1}"));
        let mut t = format!(
            "{head},plans_issued_den,plans_issued_den_ex,plans_issued_within_20_weeks,plans_issued_20_weeks_ex,pc_plans_issued_within_20_weeks,pc_plans_issued_20_weeks_ex\n"
        );
        for ((la, year), f) in &self.timeliness {
            let den = f.den + i64::from(plant == Some((la.as_str(), *year)));
            writeln!(
                t,
                "{},All EHC plans,All EHC plans,{den},{},{},{},{},{}",
                super::dfe_la_row(&year.to_string(), "Calendar year", la),
                f.den_ex,
                f.within,
                f.within_ex,
                round(pc(f.within, f.den)),
                round(pc(f.within_ex, f.den_ex)),
            )
            .unwrap();
        }
        std::fs::write(dir.join("timeliness_20_week.csv"), t).unwrap();
        let mut r = format!(
            "{head},requests_received_in_year,requests_decided_to_assess,requests_decided_not_to_assess,requests_decision_not_made,requests_withdrawn,request_assess_pc,request_outcome_six_weeks,request_outcome_over_6_weeks,request_outcome_six_weeks_pc\n"
        );
        for ((la, year), f) in &self.requests {
            writeln!(
                r,
                "{},All requests for an EHC needs assessment,All requests for an EHC needs assessment,{},{},{},{},{},{},{},{},{}",
                super::dfe_la_row(&year.to_string(), "Calendar year", la),
                f.received,
                f.agreed,
                f.refused,
                f.not_made,
                f.withdrawn,
                round(pc(f.agreed, f.received)),
                f.six_weeks,
                f.over_six_weeks,
                round(pc(f.six_weeks, f.decisions)),
            )
            .unwrap();
        }
        std::fs::write(dir.join("requests.csv"), r).unwrap();
    }
}

/// The figures of `day`'s calendar year and of its month, for one LA.
pub(crate) fn at<'m, F: Default>(
    years: &'m mut BTreeMap<(String, i32), F>,
    months: &'m mut BTreeMap<(String, i32, u32), F>,
    la: &str,
    day: NaiveDate,
) -> (&'m mut F, &'m mut F) {
    (
        years.entry((la.to_owned(), day.year())).or_default(),
        months
            .entry((la.to_owned(), day.year(), day.month()))
            .or_default(),
    )
}
