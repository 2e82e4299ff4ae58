//! Reference tables the models join to, built from configuration rather than read from
//! sources: the geography lookups, code lists, KPI targets, and the date dimension.
//!
//! They are registered in the DataFusion session under `ref_*` names (and `dim_date`), so a
//! model reads them like any other table.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use deltalake::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema};
use sendlake_calendar::{
    academic_year_label, academic_year_start, census_day, financial_year_start, month_end,
};
use sendlake_schema::SchemaRegistry;

use crate::project::{Geography, TargetRow};

/// Days since 1970-01-01, Arrow's Date32.
pub(crate) fn date32(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX)
}

/// A Date32 back to a date.
pub(crate) fn from_date32(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(Duration::days(i64::from(days)))
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn batch(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<RecordBatch, String> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

fn strings<'a>(v: impl IntoIterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(v.into_iter().collect::<StringArray>())
}

/// `ref_code`: every code of every code list (list_name, code, label, main_group).
pub(crate) fn codes(registry: &SchemaRegistry) -> Result<RecordBatch, String> {
    let mut list = Vec::new();
    let mut code = Vec::new();
    let mut label = Vec::new();
    let mut group = Vec::new();
    for l in registry.code_lists() {
        for c in &l.codes {
            list.push(Some(l.name.as_str()));
            code.push(Some(c.code.as_str()));
            label.push(Some(c.label.as_str()));
            group.push(c.main_group.as_deref());
        }
    }
    batch(
        vec![
            utf8("list_name", false),
            utf8("code", false),
            utf8("label", false),
            utf8("main_group", true),
        ],
        vec![strings(list), strings(code), strings(label), strings(group)],
    )
}

/// `ref_local_authority`: every LA code, with ONS code and region where configured.
pub(crate) fn local_authorities(
    registry: &SchemaRegistry,
    geo: &Geography,
) -> Result<RecordBatch, String> {
    let mut rows: Vec<[Option<&str>; 5]> = Vec::new();
    if let Some(list) = registry.code_list("la_code") {
        for c in &list.codes {
            let cfg = geo.local_authorities.iter().find(|l| l.la_code == c.code);
            rows.push([
                Some(c.code.as_str()),
                Some(cfg.map_or(c.label.as_str(), |l| l.name.as_str())),
                cfg.map(|l| l.ons_code.as_str()),
                cfg.map(|l| l.region_code.as_str()),
                cfg.map(|l| l.region_name.as_str()),
            ]);
        }
    }
    let col = |i: usize| strings(rows.iter().map(|r| r[i]));
    batch(
        vec![
            utf8("la_code", false),
            utf8("la_name", false),
            utf8("ons_code", true),
            utf8("region_code", true),
            utf8("region_name", true),
        ],
        (0..5).map(col).collect(),
    )
}

/// `ref_geo_bridge`: postcode district → district, locality, quadrant (one row each).
pub(crate) fn geo_bridge(geo: &Geography) -> Result<RecordBatch, String> {
    let mut rows: Vec<[&str; 5]> = Vec::new();
    for d in &geo.districts {
        let quadrant = geo
            .localities
            .iter()
            .find(|l| l.code == d.locality)
            .map_or("", |l| l.quadrant.as_str());
        for pc in &d.postcode_districts {
            rows.push([pc, &d.la_code, &d.code, &d.locality, quadrant]);
        }
    }
    let col = |i: usize| strings(rows.iter().map(|r| Some(r[i])));
    batch(
        vec![
            utf8("postcode_district", false),
            utf8("la_code", false),
            utf8("district_code", false),
            utf8("locality_code", false),
            utf8("quadrant", false),
        ],
        (0..5).map(col).collect(),
    )
}

/// `ref_geography`: one row per area per validity span, at every level.
pub(crate) fn geography(registry: &SchemaRegistry, geo: &Geography) -> Result<RecordBatch, String> {
    struct Row {
        level: &'static str,
        code: String,
        name: String,
        la_code: String,
        district: Option<String>,
        locality: Option<String>,
        quadrant: Option<String>,
        icb: Option<(String, String, Option<String>, Option<String>)>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    }
    let la_name = |code: &str| -> String {
        geo.local_authorities
            .iter()
            .find(|l| l.la_code == code)
            .map(|l| l.name.clone())
            .or_else(|| {
                registry
                    .code_list("la_code")
                    .and_then(|l| l.get(code))
                    .map(|c| c.label.clone())
            })
            .unwrap_or_else(|| code.to_owned())
    };
    let mut rows = Vec::new();
    for la in &geo.local_authorities {
        rows.push(Row {
            level: "la",
            code: la.la_code.clone(),
            name: la.name.clone(),
            la_code: la.la_code.clone(),
            district: None,
            locality: None,
            quadrant: None,
            icb: None,
            from: None,
            to: None,
        });
    }
    let mut quadrants: Vec<(String, String)> = Vec::new();
    for l in &geo.localities {
        let la = geo
            .districts
            .iter()
            .find(|d| d.locality == l.code)
            .map(|d| d.la_code.clone())
            .unwrap_or_default();
        rows.push(Row {
            level: "locality",
            code: l.code.clone(),
            name: l.name.clone(),
            la_code: la.clone(),
            district: None,
            locality: Some(l.code.clone()),
            quadrant: Some(l.quadrant.clone()),
            icb: None,
            from: None,
            to: None,
        });
        if !quadrants.iter().any(|(q, _)| *q == l.quadrant) {
            quadrants.push((l.quadrant.clone(), la));
        }
    }
    for (q, la) in quadrants {
        rows.push(Row {
            level: "quadrant",
            code: q.clone(),
            name: q.clone(),
            la_code: la,
            district: None,
            locality: None,
            quadrant: Some(q),
            icb: None,
            from: None,
            to: None,
        });
    }
    for d in &geo.districts {
        let quadrant = geo
            .localities
            .iter()
            .find(|l| l.code == d.locality)
            .map(|l| l.quadrant.clone());
        let mut areas: Vec<_> = geo
            .health_areas
            .iter()
            .filter(|h| h.districts.contains(&d.code))
            .collect();
        areas.sort_by_key(|h| h.valid_from);
        let base = |icb, from, to| Row {
            level: "district",
            code: d.code.clone(),
            name: d.name.clone(),
            la_code: d.la_code.clone(),
            district: Some(d.code.clone()),
            locality: Some(d.locality.clone()),
            quadrant: quadrant.clone(),
            icb,
            from,
            to,
        };
        if areas.is_empty() {
            rows.push(base(None, None, None));
        }
        for h in areas {
            rows.push(base(
                Some((
                    h.icb_code.clone(),
                    h.icb_name.clone(),
                    h.sub_icb_code.clone(),
                    h.sub_icb_name.clone(),
                )),
                Some(h.valid_from),
                h.valid_to,
            ));
        }
    }
    let s = |f: &dyn Fn(&Row) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let d = |f: &dyn Fn(&Row) -> Option<NaiveDate>| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|r| f(r).map(date32))
                .collect::<Date32Array>(),
        )
    };
    let names = rows
        .iter()
        .map(|r| Some(la_name(&r.la_code)))
        .collect::<StringArray>();
    batch(
        vec![
            utf8("geography_level", false),
            utf8("geography_code", false),
            utf8("geography_name", false),
            utf8("la_code", false),
            utf8("la_name", false),
            utf8("district_code", true),
            utf8("locality_code", true),
            utf8("quadrant", true),
            utf8("icb_code", true),
            utf8("icb_name", true),
            utf8("sub_icb_code", true),
            utf8("sub_icb_name", true),
            Field::new("valid_from", DataType::Date32, true),
            Field::new("valid_to", DataType::Date32, true),
        ],
        vec![
            s(&|r| Some(r.level.to_owned())),
            s(&|r| Some(r.code.clone())),
            s(&|r| Some(r.name.clone())),
            s(&|r| Some(r.la_code.clone())),
            Arc::new(names),
            s(&|r| r.district.clone()),
            s(&|r| r.locality.clone()),
            s(&|r| r.quadrant.clone()),
            s(&|r| r.icb.as_ref().map(|i| i.0.clone())),
            s(&|r| r.icb.as_ref().map(|i| i.1.clone())),
            s(&|r| r.icb.as_ref().and_then(|i| i.2.clone())),
            s(&|r| r.icb.as_ref().and_then(|i| i.3.clone())),
            d(&|r| r.from),
            d(&|r| r.to),
        ],
    )
}

/// `ref_target`: the targets file.
pub(crate) fn targets(rows: &[TargetRow]) -> Result<RecordBatch, String> {
    batch(
        vec![
            utf8("kpi", false),
            utf8("geography_level", false),
            utf8("geography_code", false),
            utf8("period_type", false),
            Field::new("valid_from", DataType::Date32, false),
            Field::new("valid_to", DataType::Date32, true),
            Field::new("target", DataType::Float64, false),
            utf8("direction", false),
            Field::new("amber_within", DataType::Float64, false),
        ],
        vec![
            strings(rows.iter().map(|r| Some(r.kpi.as_str()))),
            strings(rows.iter().map(|r| Some(r.geography_level.as_str()))),
            strings(rows.iter().map(|r| Some(r.geography_code.as_str()))),
            strings(rows.iter().map(|r| Some(r.period_type.as_str()))),
            Arc::new(
                rows.iter()
                    .map(|r| Some(date32(r.valid_from)))
                    .collect::<Date32Array>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| r.valid_to.map(date32))
                    .collect::<Date32Array>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.target))
                    .collect::<Float64Array>(),
            ),
            strings(rows.iter().map(|r| Some(r.direction.as_str()))),
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.amber_within))
                    .collect::<Float64Array>(),
            ),
        ],
    )
}

/// `dim_date`: one row per day from 1 September of the academic year holding `first` to
/// 31 August of the academic year holding `last`, so every academic, financial and calendar
/// year the data touches is whole at its ends where it matters most to reports (a school year).
pub fn dim_date(first: NaiveDate, last: NaiveDate) -> Result<RecordBatch, String> {
    let start = NaiveDate::from_ymd_opt(academic_year_start(first), 9, 1)
        .ok_or("dim_date: start out of range")?;
    let end = NaiveDate::from_ymd_opt(academic_year_start(last) + 1, 8, 31)
        .ok_or("dim_date: end out of range")?;
    let days: Vec<NaiveDate> = start.iter_days().take_while(|d| *d <= end).collect();
    let i32s = |f: &dyn Fn(&NaiveDate) -> i32| -> ArrayRef {
        Arc::new(days.iter().map(|d| Some(f(d))).collect::<Int32Array>())
    };
    let dates = |f: &dyn Fn(&NaiveDate) -> NaiveDate| -> ArrayRef {
        Arc::new(
            days.iter()
                .map(|d| Some(date32(f(d))))
                .collect::<Date32Array>(),
        )
    };
    let texts = |f: &dyn Fn(&NaiveDate) -> String| -> ArrayRef {
        Arc::new(days.iter().map(|d| Some(f(d))).collect::<StringArray>())
    };
    let bools = |f: &dyn Fn(&NaiveDate) -> bool| -> ArrayRef {
        Arc::new(days.iter().map(|d| Some(f(d))).collect::<BooleanArray>())
    };
    let fields = vec![
        Field::new("date_key", DataType::Int32, false),
        Field::new("date", DataType::Date32, false),
        Field::new("year", DataType::Int32, false),
        Field::new("quarter", DataType::Int32, false),
        Field::new("month", DataType::Int32, false),
        utf8("month_name", false),
        Field::new("month_key", DataType::Int32, false),
        Field::new("month_start", DataType::Date32, false),
        Field::new("month_end", DataType::Date32, false),
        Field::new("is_month_end", DataType::Boolean, false),
        Field::new("day_of_month", DataType::Int32, false),
        Field::new("day_of_week", DataType::Int32, false),
        utf8("day_name", false),
        Field::new("is_weekend", DataType::Boolean, false),
        Field::new("iso_year", DataType::Int32, false),
        Field::new("iso_week", DataType::Int32, false),
        Field::new("week_key", DataType::Int32, false),
        Field::new("week_start", DataType::Date32, false),
        Field::new("academic_year_start", DataType::Int32, false),
        utf8("academic_year", false),
        Field::new("financial_year_start", DataType::Int32, false),
        utf8("financial_year", false),
        Field::new("is_census_date", DataType::Boolean, false),
        Field::new("collection_year", DataType::Int32, false),
    ];
    let census_of = |d: &NaiveDate| census_day(d.year()).unwrap_or(*d);
    let columns: Vec<ArrayRef> = vec![
        i32s(&|d| d.year() * 10_000 + i32::try_from(d.month() * 100 + d.day()).unwrap_or(0)),
        dates(&|d| *d),
        i32s(&|d| d.year()),
        i32s(&|d| i32::try_from(d.month0() / 3 + 1).unwrap_or(0)),
        i32s(&|d| i32::try_from(d.month()).unwrap_or(0)),
        texts(&|d| d.format("%B").to_string()),
        i32s(&|d| d.year() * 100 + i32::try_from(d.month()).unwrap_or(0)),
        dates(&|d| d.with_day(1).unwrap_or(*d)),
        dates(&|d| month_end(*d)),
        bools(&|d| month_end(*d) == *d),
        i32s(&|d| i32::try_from(d.day()).unwrap_or(0)),
        i32s(&|d| i32::try_from(d.weekday().number_from_monday()).unwrap_or(0)),
        texts(&|d| d.format("%A").to_string()),
        bools(&|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun)),
        i32s(&|d| d.iso_week().year()),
        i32s(&|d| i32::try_from(d.iso_week().week()).unwrap_or(0)),
        i32s(&|d| d.iso_week().year() * 100 + i32::try_from(d.iso_week().week()).unwrap_or(0)),
        dates(&|d| *d - Duration::days(i64::from(d.weekday().num_days_from_monday()))),
        i32s(&|d| academic_year_start(*d)),
        texts(&|d| academic_year_label(academic_year_start(*d))),
        i32s(&|d| financial_year_start(*d)),
        texts(&|d| {
            let y = financial_year_start(*d);
            format!("{y}-{:02}", (y + 1) % 100)
        }),
        bools(&|d| census_of(d) == *d),
        // Activity in calendar year Y is returned in the SEN2 collection whose census day
        // falls in January of Y + 1.
        i32s(&|d| d.year() + 1),
    ];
    batch(fields, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::{Array, AsArray};
    use deltalake::arrow::datatypes::{Date32Type, Int32Type};

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Row of `date` in a dim_date batch.
    fn row(b: &RecordBatch, date: NaiveDate) -> usize {
        let dates = b
            .column_by_name("date")
            .unwrap()
            .as_primitive::<Date32Type>();
        (0..dates.len())
            .find(|i| dates.value(*i) == date32(date))
            .unwrap()
    }

    fn text(b: &RecordBatch, col: &str, i: usize) -> String {
        b.column_by_name(col)
            .unwrap()
            .as_string::<i32>()
            .value(i)
            .to_owned()
    }

    fn int(b: &RecordBatch, col: &str, i: usize) -> i32 {
        b.column_by_name(col)
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(i)
    }

    fn flag(b: &RecordBatch, col: &str, i: usize) -> bool {
        b.column_by_name(col).unwrap().as_boolean().value(i)
    }

    #[test]
    fn covers_whole_academic_years_without_gaps() {
        // Data from 3 March 2023 to 10 October 2025: academic years 2022/23 to 2025/26.
        let b = dim_date(ymd(2023, 3, 3), ymd(2025, 10, 10)).unwrap();
        let dates = b
            .column_by_name("date")
            .unwrap()
            .as_primitive::<Date32Type>();
        assert_eq!(dates.value(0), date32(ymd(2022, 9, 1)));
        assert_eq!(dates.value(dates.len() - 1), date32(ymd(2026, 8, 31)));
        // 1 Sep 2022 .. 31 Aug 2026: four academic years, one of them (2023/24) with 29 Feb.
        assert_eq!(b.num_rows(), 365 * 4 + 1);
        for i in 1..dates.len() {
            assert_eq!(
                dates.value(i),
                dates.value(i - 1) + 1,
                "a gap before row {i}"
            );
        }
        assert_eq!(b.column_by_name("date").unwrap().null_count(), 0);
    }

    #[test]
    fn years_weeks_and_keys() {
        let b = dim_date(ymd(2024, 1, 1), ymd(2026, 1, 31)).unwrap();
        let i = row(&b, ymd(2024, 8, 31));
        assert_eq!(text(&b, "academic_year", i), "2023/24");
        assert_eq!(int(&b, "academic_year_start", i), 2023);
        let i = row(&b, ymd(2024, 9, 1));
        assert_eq!(text(&b, "academic_year", i), "2024/25");
        let i = row(&b, ymd(2025, 3, 31));
        assert_eq!(text(&b, "financial_year", i), "2024-25");
        let i = row(&b, ymd(2025, 4, 1));
        assert_eq!(text(&b, "financial_year", i), "2025-26");
        assert_eq!(int(&b, "financial_year_start", i), 2025);
        let i = row(&b, ymd(2024, 2, 29));
        assert!(
            flag(&b, "is_month_end", i),
            "29 February 2024 ends its month"
        );
        assert_eq!(int(&b, "date_key", i), 20240229);
        assert_eq!(text(&b, "month_name", i), "February");
        assert_eq!(int(&b, "month_key", i), 202402);
        assert_eq!(int(&b, "quarter", i), 1);
        assert!(!flag(&b, "is_month_end", row(&b, ymd(2025, 2, 28)) - 1));
        assert!(flag(&b, "is_month_end", row(&b, ymd(2025, 2, 28))));
        // 1 January 2026 is a Thursday, so it is in ISO week 1 of 2026; 29 December 2025
        // (a Monday) starts that week.
        let i = row(&b, ymd(2026, 1, 1));
        assert_eq!((int(&b, "iso_year", i), int(&b, "iso_week", i)), (2026, 1));
        assert_eq!(int(&b, "week_key", i), 202601);
        let starts = b
            .column_by_name("week_start")
            .unwrap()
            .as_primitive::<Date32Type>();
        assert_eq!(starts.value(i), date32(ymd(2025, 12, 29)));
        assert_eq!(text(&b, "day_name", i), "Thursday");
        assert_eq!(int(&b, "collection_year", i), 2027);
    }

    #[test]
    fn census_days_are_the_third_thursday_of_january_once_a_year() {
        let b = dim_date(ymd(2023, 9, 1), ymd(2027, 8, 31)).unwrap();
        let census = b.column_by_name("is_census_date").unwrap().as_boolean();
        let dates = b
            .column_by_name("date")
            .unwrap()
            .as_primitive::<Date32Type>();
        let days: Vec<NaiveDate> = (0..census.len())
            .filter(|i| census.value(*i))
            .map(|i| from_date32(dates.value(i)).unwrap())
            .collect();
        // send-domain.md §1.1: 2024-01-18, 2025-01-16, 2026-01-15, 2027-01-21.
        assert_eq!(
            days,
            vec![
                ymd(2024, 1, 18),
                ymd(2025, 1, 16),
                ymd(2026, 1, 15),
                ymd(2027, 1, 21)
            ]
        );
    }
}
