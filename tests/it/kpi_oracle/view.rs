//! How the oracle reads the published zone: each table read once, its rows of one source and
//! one geography (the LA rows, or one district's, locality's or quadrant's) keyed by LA, year,
//! month and an optional key column, and cells compared with what the oracle computed.

use std::cell::RefCell;
use std::collections::BTreeMap;

use arrow_array::{Array, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch};
use chrono::{Datelike, NaiveDate};

use crate::support::{Workspace, strings};

/// One published row's numeric cells by column (null as `None`).
pub(crate) type Row = BTreeMap<String, Option<f64>>;

/// The published zone of one run, each table read once.
pub(crate) struct Lake<'a> {
    ws: &'a Workspace,
    tables: RefCell<BTreeMap<String, Vec<RecordBatch>>>,
}

impl<'a> Lake<'a> {
    pub(crate) fn new(ws: &'a Workspace) -> Self {
        Self {
            ws,
            tables: RefCell::default(),
        }
    }

    pub(crate) fn batches(&self, table: &str) -> Vec<RecordBatch> {
        self.tables
            .borrow_mut()
            .entry(table.to_owned())
            .or_insert_with(|| self.ws.read("published", table))
            .clone()
    }
}

/// Which rows of a published table: the LA rows, or those of one area below the LA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    La,
    /// `geography_level` (district, locality, quadrant) and `geography_code`.
    Area(&'static str, String),
}

impl Scope {
    pub(crate) fn is_la(&self) -> bool {
        *self == Scope::La
    }

    fn holds(&self, level: Option<&str>, code: Option<&str>) -> bool {
        match self {
            Scope::La => level == Some("la"),
            Scope::Area(l, c) => level == Some(l) && code == Some(c),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::La => f.write_str("la"),
            Scope::Area(level, code) => write!(f, "{level} {code}"),
        }
    }
}

/// A published table's rows of one source in one scope: calendar-year rows keyed by (LA,
/// year, key column), month rows by (LA, year, month, key column); the key column is empty
/// where the table has none.
pub(crate) struct Cells {
    pub(crate) rows: BTreeMap<(String, i32, String), Row>,
    pub(crate) months: BTreeMap<(String, i32, u32, String), Row>,
    label: String,
}

impl Cells {
    pub(crate) fn read(
        lake: &Lake<'_>,
        table: &str,
        source: &str,
        key: Option<&str>,
        scope: &Scope,
    ) -> Self {
        let mut out = Self {
            rows: BTreeMap::new(),
            months: BTreeMap::new(),
            label: format!("{table} {source} {scope}"),
        };
        for b in lake.batches(table) {
            let text = |c: &str| strings(std::slice::from_ref(&b), c);
            let (types, levels, codes, las, sources) = (
                text("period_type"),
                text("geography_level"),
                text("geography_code"),
                text("la_code"),
                text("source"),
            );
            let keys = key.map(text);
            let starts = period_starts(&b);
            for i in 0..b.num_rows() {
                if sources[i].as_deref() != Some(source)
                    || !scope.holds(levels[i].as_deref(), codes[i].as_deref())
                {
                    continue;
                }
                // An LA row's code is its LA; an area's row names its LA in `la_code`.
                let la = las[i].clone().or_else(|| codes[i].clone()).unwrap();
                let start = starts[i];
                let k = keys
                    .as_ref()
                    .map(|k| k[i].clone().unwrap_or_default())
                    .unwrap_or_default();
                match types[i].as_deref() {
                    Some("calendar_year") => {
                        out.rows.insert((la, start.year(), k), numbers(&b, i));
                    }
                    Some("month") => {
                        out.months
                            .insert((la, start.year(), start.month(), k), numbers(&b, i));
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// The calendar-year row of (LA, year, key).
    pub(crate) fn get(&self, la: &str, year: i32, key: &str) -> &Row {
        self.rows
            .get(&(la.to_owned(), year, key.to_owned()))
            .unwrap_or_else(|| panic!("{}: no row for LA {la}, {year} {key}", self.label))
    }

    /// The row of (LA, year, key): the calendar year's for month 0, else the month's.
    pub(crate) fn at(&self, la: &str, year: i32, month: u32, key: &str) -> &Row {
        if month == 0 {
            return self.get(la, year, key);
        }
        self.months
            .get(&(la.to_owned(), year, month, key.to_owned()))
            .unwrap_or_else(|| {
                panic!(
                    "{}: no row for LA {la}, {year}-{month:02} {key}",
                    self.label
                )
            })
    }

    /// The rows without a key column by (LA, year, month), the calendar year as month 0.
    pub(crate) fn by_period(&self) -> BTreeMap<(String, i32, u32), &Row> {
        let years = self
            .rows
            .iter()
            .map(|((la, y, _), r)| ((la.clone(), *y, 0), r));
        let months = self
            .months
            .iter()
            .map(|((la, y, m, _), r)| ((la.clone(), *y, *m), r));
        years.chain(months).collect()
    }
}

/// Each row's `period_start`.
fn period_starts(b: &RecordBatch) -> Vec<NaiveDate> {
    let starts = b
        .column_by_name("period_start")
        .unwrap()
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    (0..b.num_rows())
        .map(|i| starts.value_as_date(i).unwrap())
        .collect()
}

/// The year of each row's `period_start`.
pub(crate) fn years(b: &RecordBatch) -> Vec<i32> {
    period_starts(b).iter().map(Datelike::year).collect()
}

/// Every numeric cell of row `i`, as f64 (null as None).
pub(crate) fn numbers(b: &RecordBatch, i: usize) -> Row {
    let mut out = BTreeMap::new();
    for (f, col) in b.schema().fields().iter().zip(b.columns()) {
        let any = col.as_any();
        let v = if let Some(a) = any.downcast_ref::<Int64Array>() {
            a.is_valid(i).then(|| a.value(i) as f64)
        } else if let Some(a) = any.downcast_ref::<Float64Array>() {
            a.is_valid(i).then(|| a.value(i))
        } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
            a.is_valid(i).then(|| f64::from(u8::from(a.value(i))))
        } else {
            continue;
        };
        out.insert(f.name().clone(), v);
    }
    out
}

/// Asserts each (column, expected) of a row; an expected `None` is a null cell.
pub(crate) fn assert_cells(label: &str, row: &Row, expected: &[(&str, Option<f64>)]) {
    for (column, want) in expected {
        let got = row
            .get(*column)
            .unwrap_or_else(|| panic!("{label}: no column {column}"));
        match (got, want) {
            (Some(g), Some(w)) => assert!(
                (g - w).abs() < 1e-9,
                "{label}: {column} = {g}, the independent computation gives {w}"
            ),
            (None, None) => {}
            _ => panic!("{label}: {column} = {got:?}, the independent computation gives {want:?}"),
        }
    }
}

pub(crate) fn n(v: i64) -> Option<f64> {
    Some(v as f64)
}

/// A share in percent; none of an empty whole.
pub(crate) fn pc(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}
