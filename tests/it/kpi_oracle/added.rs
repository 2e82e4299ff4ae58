//! The second, independent computation of the tables the DfE added to its EHC-plan statistics
//! in 2026 (send-domain.md §3.5): decisions not to issue within 16 weeks, annual reviews in the
//! calendar year and the caseload by age at 31 August ("not in education - other" by
//! compulsory school age is in `placements.rs`). The DfE's definitions are applied here in
//! plain Rust over the returns' requests, with chrono doing the date arithmetic, and the same
//! figures are written in the DfE's file layout to check that they load under the DfE's column
//! names.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, NaiveDate};

use super::DFE_HEAD;
use super::headline::at;
use super::returns::Return;
use super::view::{Cells, Lake, Scope, assert_cells, n, pc};

/// Decisions not to issue a plan made in a calendar year.
#[derive(Debug, Default, Clone)]
struct Assessments {
    decisions: i64,
    within: i64,
}

/// Annual reviews in a calendar year.
#[derive(Debug, Default, Clone)]
struct Reviews {
    expected: i64,
    completed: i64,
    within: i64,
}

#[derive(Default)]
pub(crate) struct Added {
    /// (LA, calendar year of the decision).
    assessments: BTreeMap<(String, i32), Assessments>,
    /// (LA, year and month of the decision).
    assessments_by_month: BTreeMap<(String, i32, u32), Assessments>,
    /// (LA, calendar year reviewed: the census year − 1).
    reviews: BTreeMap<(String, i32), Reviews>,
    /// (LA, census year) → age band → plans active on census day.
    ages: BTreeMap<(String, i32), BTreeMap<&'static str, i64>>,
}

/// Whole years from `birth` to 31 August of `year`; negative for a child born after it.
pub(crate) fn age_at_31_august(birth: NaiveDate, year: i32) -> i32 {
    let day = NaiveDate::from_ymd_opt(year, 8, 31).unwrap();
    match day.years_since(birth) {
        Some(years) => i32::try_from(years).unwrap(),
        None => -1 - i32::try_from(birth.years_since(day).unwrap()).unwrap(),
    }
}

/// The DfE's caseload age bands (send-domain.md §3.5: age at 31 August).
fn band(age: Option<i32>) -> &'static str {
    match age {
        None => "unknown",
        Some(..=4) => "under_5",
        Some(5..=10) => "5_to_10",
        Some(11..=15) => "11_to_15",
        Some(16..=19) => "16_to_19",
        Some(20..=25) => "20_to_25",
        Some(_) => "over_25",
    }
}

/// The DfE's label of a band in its caseload file.
fn dfe_label(band: &str) -> Option<&'static str> {
    Some(match band {
        "under_5" => "Under age 5",
        "5_to_10" => "Age 5 to 10",
        "11_to_15" => "Age 11 to 15",
        "16_to_19" => "Age 16 to 19",
        "20_to_25" => "Age 20 to 25",
        _ => return None,
    })
}

impl Added {
    pub(crate) fn compute(returns: &[Return]) -> Self {
        let mut o = Added::default();
        for ret in returns {
            let la = ret.la.clone();
            // The 31 August that starts the census's academic year.
            let august_year = ret.census_year - 1;
            let year_start = NaiveDate::from_ymd_opt(ret.census_year - 1, 1, 1).unwrap();
            for r in &ret.requests {
                // A decision not to issue, placed in the year of its date; within 16 weeks
                // when no more than 112 days after a known request date.
                if r.assessment_outcome.as_deref() == Some("N")
                    && let Some(decided) = r.assessment_date
                {
                    let days = r.received.map(|received| (decided - received).num_days());
                    let within = i64::from(days.is_some_and(|d| d <= 112));
                    let (year, month) = at(
                        &mut o.assessments,
                        &mut o.assessments_by_month,
                        &la,
                        decided,
                    );
                    for f in [year, month] {
                        f.decisions += 1;
                        f.within += within;
                    }
                }
                if !r.active {
                    continue;
                }
                // Reviews in the year before census: due for plans issued before the year began,
                // completed with a meeting in it, decided 0-28 days after the meeting.
                if r.plan_start.is_some_and(|s| s < year_start) {
                    let f = o
                        .reviews
                        .entry((la.clone(), ret.census_year - 1))
                        .or_default();
                    f.expected += 1;
                    if let Some(meeting) = r.review_meeting
                        && meeting.year() == ret.census_year - 1
                    {
                        f.completed += 1;
                        let days = r.last_review.map(|d| (d - meeting).num_days());
                        f.within += i64::from(days.is_some_and(|d| (0..=28).contains(&d)));
                    }
                }
                // The caseload by age at 31 August.
                let age = r.birth.map(|b| age_at_31_august(b, august_year));
                *o.ages
                    .entry((la.clone(), ret.census_year))
                    .or_default()
                    .entry(band(age))
                    .or_default() += 1;
            }
        }
        o
    }

    /// The figures as the DfE's `assessments.csv`, `annual_reviews.csv` (its columns named
    /// with the year) and `caseload.csv` (by age) would carry them.
    pub(crate) fn dfe_files(&self, dir: &Path) {
        let la_row = |period: &str, identifier: &str, la: &str, breakdown: &str| {
            format!("{},{breakdown}", super::dfe_la_row(period, identifier, la))
        };
        let round = |v: Option<f64>| v.map_or_else(|| "z".to_owned(), |v| format!("{v:.1}"));
        let mut a = format!(
            "{DFE_HEAD},outcome_decision_within_time,outcome_decision_over_time,outcome_decision_within_time_pc,outcome_decision_over_time_pc\n"
        );
        for ((la, year), f) in &self.assessments {
            let over = f.decisions - f.within;
            let all = "All EHC needs assessments,All EHC needs assessments";
            writeln!(
                a,
                "{},{},{over},{},{}",
                la_row(&year.to_string(), "Calendar year", la, all),
                f.within,
                round(pc(f.within, f.decisions)),
                round(pc(over, f.decisions)),
            )
            .unwrap();
        }
        std::fs::write(dir.join("assessments.csv"), a).unwrap();

        let years: Vec<i32> = self.reviews.keys().map(|(_, y)| *y).collect();
        let year = years[0];
        assert!(years.iter().all(|y| *y == year), "one review year per file");
        let mut r = format!(
            "{DFE_HEAD},review_expected_{year},review_completed_{year},decision_4_weeks,over_4_weeks\n"
        );
        for ((la, _), f) in &self.reviews {
            let all = "All EHC plans,All EHC plans";
            writeln!(
                r,
                "{},{},{},{},{}",
                la_row(&year.to_string(), "Calendar year", la, all),
                f.expected,
                f.completed,
                f.within,
                f.completed - f.within,
            )
            .unwrap();
        }
        std::fs::write(dir.join("annual_reviews.csv"), r).unwrap();

        // The January caseload is an academic year's: 202526 is the census of January 2026.
        let mut c = format!("{DFE_HEAD},ehcplans\n");
        for ((la, census_year), bands) in &self.ages {
            let period = format!("{}{}", census_year - 1, census_year % 100);
            let total: i64 = bands.values().sum();
            let all = "All EHC plans,All EHC plans";
            writeln!(c, "{},{total}", la_row(&period, "Academic year", la, all)).unwrap();
            for (band, plans) in bands {
                if let Some(label) = dfe_label(band) {
                    let breakdown = format!("Age,{label}");
                    writeln!(
                        c,
                        "{},{plans}",
                        la_row(&period, "Academic year", la, &breakdown)
                    )
                    .unwrap();
                }
            }
        }
        std::fs::write(dir.join("caseload.csv"), c).unwrap();
    }

    /// Every calendar-year cell of the added tables in `scope` equals this computation, for
    /// `sen2` and, with `dfe` (LA rows only), for the DfE's files of the same figures
    /// (`dfe_published`).
    pub(crate) fn assert_tables(&self, lake: &Lake<'_>, scope: &Scope, dfe: bool) {
        let sources: &[&str] = if dfe && scope.is_la() {
            &["sen2", "dfe_published"]
        } else {
            &["sen2"]
        };
        // Decisions not to issue, within and over 16 weeks.
        if scope.is_la() {
            assert!(
                self.assessments
                    .values()
                    .any(|f| f.within > 0 && f.within < f.decisions),
                "the returns never have decisions not to issue both within and over 16 weeks"
            );
        }
        for source in sources {
            let kpi = Cells::read(lake, "kpi_assessments", source, None, scope);
            assert_eq!(
                kpi.rows.len(),
                self.assessments.len(),
                "kpi_assessments {source} {scope}"
            );
            // The DfE publishes years only; sendlake's own rows have months too.
            let months = if *source == "sen2" {
                assert_eq!(kpi.months.len(), self.assessments_by_month.len());
                self.assessments_by_month.iter().collect()
            } else {
                Vec::new()
            };
            let periods = self
                .assessments
                .iter()
                .map(|((la, y), f)| ((la, *y, 0), f))
                .chain(months.into_iter().map(|((la, y, m), f)| ((la, *y, *m), f)));
            for ((la, year, month), f) in periods {
                let over = f.decisions - f.within;
                let row = kpi.at(la, year, month, "");
                let label = format!("kpi_assessments {source} {scope} {la} {year}-{month:02}");
                assert_cells(
                    &label,
                    row,
                    &[
                        ("decisions_not_to_issue", n(f.decisions)),
                        ("outcome_decision_within_time", n(f.within)),
                        ("outcome_decision_over_time", n(over)),
                    ],
                );
                // The DfE's percentages are rounded to one decimal place.
                let got = row["outcome_decision_within_time_pc"].unwrap();
                let want = pc(f.within, f.decisions).unwrap();
                assert!(
                    (got - want).abs() <= 0.05 + 1e-9,
                    "{label}: {got} vs {want}"
                );
            }
        }

        // Annual reviews in the year.
        if scope.is_la() {
            assert!(
                self.reviews
                    .values()
                    .any(|f| f.within > 0 && f.within < f.completed && f.completed < f.expected),
                "the returns never separate reviews within, over 4 weeks and not completed"
            );
        }
        for source in sources {
            let kpi = Cells::read(lake, "kpi_annual_reviews_year", source, None, scope);
            assert_eq!(
                kpi.rows.len(),
                self.reviews.len(),
                "kpi_annual_reviews_year {source} {scope}"
            );
            for ((la, year), f) in &self.reviews {
                let over = f.completed - f.within;
                let mut expected = vec![
                    ("review_expected", n(f.expected)),
                    ("review_completed", n(f.completed)),
                    ("decision_4_weeks", n(f.within)),
                    ("over_4_weeks", n(over)),
                    ("review_completed_pc", pc(f.completed, f.expected)),
                    ("decision_4_weeks_pc", pc(f.within, f.completed)),
                    ("over_4_weeks_pc", pc(over, f.completed)),
                ];
                if *source == "sen2" {
                    expected.push(("review_not_completed", n(f.expected - f.completed)));
                    // The year the return describes is whole.
                    expected.push(("period_complete", Some(1.0)));
                }
                assert_cells(
                    &format!("kpi_annual_reviews_year {source} {scope} {la} {year}"),
                    kpi.get(la, *year, ""),
                    &expected,
                );
            }
        }

        // The caseload by age band: every band of every LA, and nothing else.
        for source in sources {
            let kpi = Cells::read(lake, "kpi_caseload_age", source, Some("age_band"), scope);
            let mut cells = 0;
            for ((la, year), bands) in &self.ages {
                let total: i64 = bands.values().sum();
                for (band, plans) in bands {
                    if *source == "dfe_published" && dfe_label(band).is_none() {
                        continue;
                    }
                    cells += 1;
                    assert_cells(
                        &format!("kpi_caseload_age {source} {scope} {la} {year} {band}"),
                        kpi.get(la, *year, band),
                        &[("ehc_plans", n(*plans)), ("caseload_total", n(total))],
                    );
                }
            }
            assert_eq!(kpi.rows.len(), cells, "kpi_caseload_age {source} {scope}");
        }
        if scope.is_la() {
            assert!(
                self.ages.values().all(|b| b.len() >= 5),
                "the returns do not span the age bands"
            );
        }
    }
}
