//! More of the published KPI tables against the independent computation: ceased plans by
//! reason (calendar year and month) and annual reviews on census day; and, for the tables
//! with month rows, that the relation suppression declares holds in the data: every count of a
//! year is the sum of its months.

use std::collections::BTreeMap;

use chrono::Datelike;

use super::returns::Return;
use super::view::{Cells, Lake, Scope, assert_cells, n};

/// The DfE's ceased-plan reasons, in `CeaseReason` code order (1–8), then `other` (9, or no
/// or an unknown reason), as `kpi_ceased` names them.
const REASONS: [&str; 9] = [
    "max_age",
    "needs_met",
    "he",
    "employ",
    "transfer",
    "no_engage",
    "moved_outside_eng",
    "deceased",
    "other",
];

/// Figures by (LA, year, month); month 0 is the whole calendar year.
type ByPeriod<T> = BTreeMap<(String, i32, u32), T>;

#[derive(Default)]
pub(crate) struct More {
    /// Plans ceased, by reason.
    ceased: ByPeriod<[i64; 9]>,
    /// Annual reviews on census day, by (LA, census year): plans due a review (issued a year
    /// or more before), reviewed in the 12 months before, with a decision, decided 0-28 days
    /// after the meeting.
    reviews: BTreeMap<(String, i32), [i64; 4]>,
}

impl More {
    pub(crate) fn compute(returns: &[Return]) -> Self {
        let mut m = More::default();
        for ret in returns {
            let census = ret.census_day.unwrap();
            let year_ago = census.with_year(census.year() - 1).unwrap();
            for r in ret.requests.iter().filter(|r| r.active) {
                if r.plan_start.is_some_and(|start| start <= year_ago) {
                    let f = m
                        .reviews
                        .entry((ret.la.clone(), ret.census_year))
                        .or_default();
                    f[0] += 1;
                    if let Some(meeting) = r.review_meeting.filter(|&d| d > year_ago) {
                        f[1] += 1;
                        if let Some(decided) = r.last_review {
                            f[2] += 1;
                            f[3] += i64::from((0..=28).contains(&(decided - meeting).num_days()));
                        }
                    }
                }
            }
            for r in &ret.requests {
                let periods = |d: chrono::NaiveDate| {
                    [
                        (ret.la.clone(), d.year(), 0),
                        (ret.la.clone(), d.year(), d.month()),
                    ]
                };
                if let Some(ceased) = r.cease_date {
                    let reason = r
                        .cease_reason
                        .as_deref()
                        .and_then(|c| c.parse::<usize>().ok())
                        .filter(|c| (1..=8).contains(c))
                        .map_or(8, |c| c - 1);
                    for key in periods(ceased) {
                        m.ceased.entry(key).or_default()[reason] += 1;
                    }
                }
            }
        }
        m
    }

    /// Every cell of these tables in `scope` equals this computation.
    pub(crate) fn assert_tables(&self, lake: &Lake<'_>, scope: &Scope) {
        let rows = |table: &str| Cells::read(lake, table, "sen2", None, scope);
        let (ceased, reviews, requests, timeliness) = (
            rows("kpi_ceased"),
            rows("kpi_annual_reviews"),
            rows("kpi_requests"),
            rows("kpi_timeliness"),
        );
        let (ceased, requests, timeliness) = (
            ceased.by_period(),
            requests.by_period(),
            timeliness.by_period(),
        );
        if scope.is_la() {
            assert!(
                self.ceased.keys().any(|k| k.2 == 0) && self.ceased.len() > 4,
                "the returns have ceased plans in several months"
            );
            assert!(
                self.reviews
                    .values()
                    .all(|f| f[3] < f[2] && f[2] <= f[1] && f[1] < f[0]),
                "the returns separate every review figure: {:?}",
                self.reviews
            );
        }
        for ((la, year, month), reasons) in &self.ceased {
            let label = format!("kpi_ceased {scope} {la} {year}-{month:02}");
            let row = ceased
                .get(&(la.clone(), *year, *month))
                .unwrap_or_else(|| panic!("{label}: no row"));
            let mut expected: Vec<(&str, Option<f64>)> = REASONS
                .iter()
                .zip(reasons)
                .map(|(c, v)| (*c, n(*v)))
                .collect();
            expected.push(("total_ceased", n(reasons.iter().sum())));
            assert_cells(&label, row, &expected);
        }
        assert_eq!(ceased.len(), self.ceased.len(), "kpi_ceased {scope}: rows");

        for ((la, year), f) in &self.reviews {
            assert_cells(
                &format!("kpi_annual_reviews {scope} {la} {year}"),
                reviews.get(la, *year, ""),
                &[
                    ("plans_due_review", n(f[0])),
                    ("reviews_within_12_months", n(f[1])),
                    ("reviews_with_decision", n(f[2])),
                    ("reviews_decision_within_4_weeks", n(f[3])),
                ],
            );
        }
        // Months add up to their year, column by column: the rollup suppression declares.
        let registry = sendlake_schema::SchemaRegistry::embedded().unwrap();
        for (table, cells) in [
            ("kpi_ceased", &ceased),
            ("kpi_requests", &requests),
            ("kpi_timeliness", &timeliness),
        ] {
            let counts = declared_counts(&registry, table);
            let mut sums: BTreeMap<(String, i32, String), f64> = BTreeMap::new();
            for ((la, year, _), row) in cells.iter().filter(|(k, _)| k.2 != 0) {
                for (column, v) in *row {
                    if counts.contains(column) {
                        *sums.entry((la.clone(), *year, column.clone())).or_default() +=
                            v.unwrap_or(0.0);
                    }
                }
            }
            for ((la, year, column), sum) in sums {
                let year_row = &cells[&(la.clone(), year, 0)];
                assert_eq!(
                    year_row[&column].unwrap_or(0.0),
                    sum,
                    "{table} {scope} {la} {year}: {column} is not the sum of its months"
                );
            }
        }
    }
}

/// The counts `table`'s suppression declares.
fn declared_counts(registry: &sendlake_schema::SchemaRegistry, table: &str) -> Vec<String> {
    let def = registry.tables().iter().find(|t| t.name == table).unwrap();
    def.suppression
        .as_ref()
        .map(|s| s.counts.clone())
        .unwrap_or_default()
}
