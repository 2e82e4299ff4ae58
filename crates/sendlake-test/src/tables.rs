//! Batches of a declared table from rows of a few named text values, and committing them.
//!
//! Values are written as text and converted by the column's declared type (`"2024-03-01"` for
//! a date, `"true"` for a bool, `"2026"` for an int, `"now"` or an RFC 3339 time for a
//! timestamp). A column a row does not name is null, or for a non-null column a default
//! (lineage, person attributes: see [`default_value`]); a non-null column without a default
//! must be named, so a test never gets a value it did not ask for where it matters.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, TimeUnit};
use chrono::{NaiveDate, Utc};
use sendlake_load::{Lake, StagingArea, TableCommit, WriteMode, commit_table};
use sendlake_schema::TableDef;

/// One row: column name → value as text.
pub type TextRow = BTreeMap<String, String>;

/// A row from `(column, value)` pairs.
pub fn text_row(cols: &[(&str, &str)]) -> TextRow {
    cols.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `YYYY-MM-DD` as a date.
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("bad date {s:?}: {e}"))
}

/// The value a non-null column takes when a row does not name it: a SEN2 row of LA 919's
/// 2026 return, a child with a UPN, or a partner record of `council_cms`.
pub fn default_value(def: &TableDef, column: &str, row: usize) -> Option<String> {
    let v = match column {
        "source" if def.record_lineage => "council_cms",
        "source" => "sen2_returns",
        "submission_id" => "919-2026",
        "la_code" => "919",
        "collection_year" => "2026",
        "source_file" => "test.xml",
        "run_id" => "test",
        "loaded_at" => "now",
        "stream" => "test",
        "record_id" => return Some(format!("{}-{row}", def.name)),
        "person_key_basis" => "upn",
        "sex" => "F",
        "ethnicity" | "ethnicity_detailed" => "WBRI",
        "birth_month" => "2015-01-01",
        "age_at_census" => "10",
        "has_upn" => "true",
        "has_uln" => "false",
        "request_seq" => "1",
        "setting_basis" => "urn",
        "sen_setting_other_given" => "false",
        _ => return None,
    };
    Some(v.to_owned())
}

/// A batch of `def`'s exact Arrow schema from rows of named text values.
///
/// # Panics
/// On a column `def` does not have (other than the SEN2 lineage columns, which every row may
/// carry), a value that is not of the column's type, or a non-null column left without a value.
pub fn batch(def: &TableDef, rows: &[TextRow]) -> RecordBatch {
    let schema = def.arrow_schema();
    for row in rows {
        for k in row.keys() {
            // Lineage columns are added to every row; tables without them ignore them.
            let lineage = matches!(k.as_str(), "submission_id" | "collection_year");
            assert!(
                lineage || schema.field_with_name(k).is_ok(),
                "{} has no column {k}",
                def.name
            );
        }
    }
    let now = Utc::now().timestamp_micros();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            let name = f.name().as_str();
            let values: Vec<Option<String>> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    r.get(name).cloned().or_else(|| {
                        (!f.is_nullable())
                            .then(|| default_value(def, name, i))
                            .flatten()
                    })
                })
                .collect();
            assert!(
                f.is_nullable() || values.iter().all(Option::is_some),
                "{}.{name} is not null and has no default: give it a value",
                def.name
            );
            let bad =
                |v: &str, what: &str| -> ! { panic!("{}.{name}: {v:?} is not {what}", def.name) };
            let array: ArrayRef = match f.data_type() {
                DataType::Utf8 => {
                    Arc::new(values.iter().map(|v| v.as_deref()).collect::<StringArray>())
                }
                DataType::Int32 => Arc::new(Int32Array::from(parse_each(&values, |v| {
                    v.parse::<i32>().unwrap_or_else(|_| bad(v, "an int"))
                }))),
                DataType::Int64 => Arc::new(Int64Array::from(parse_each(&values, |v| {
                    v.parse::<i64>().unwrap_or_else(|_| bad(v, "an int"))
                }))),
                DataType::Float64 => Arc::new(Float64Array::from(parse_each(&values, |v| {
                    v.parse::<f64>().unwrap_or_else(|_| bad(v, "a number"))
                }))),
                DataType::Boolean => Arc::new(BooleanArray::from(parse_each(&values, |v| {
                    v.parse::<bool>().unwrap_or_else(|_| bad(v, "a bool"))
                }))),
                DataType::Date32 => Arc::new(Date32Array::from(parse_each(&values, |v| {
                    days_since_epoch(date(v))
                }))),
                DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => Arc::new(
                    TimestampMicrosecondArray::from(parse_each(&values, |v| match v {
                        "now" => now,
                        _ => chrono::DateTime::parse_from_rfc3339(v)
                            .unwrap_or_else(|_| bad(v, "an RFC 3339 time"))
                            .timestamp_micros(),
                    }))
                    .with_timezone(tz.clone()),
                ),
                other => panic!("{}.{name}: type {other} not handled", def.name),
            };
            array
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Each value parsed, nulls kept.
fn parse_each<T>(values: &[Option<String>], parse: impl Fn(&str) -> T) -> Vec<Option<T>> {
    values.iter().map(|v| v.as_deref().map(&parse)).collect()
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    i32::try_from((d - epoch).num_days()).unwrap()
}

/// Replaces table `def` in `lake` with `batch`, in one Delta commit (run id `test`).
pub async fn commit(lake: &Lake, def: &TableDef, batch: &RecordBatch) {
    let staging = StagingArea::new(None).unwrap();
    let schema = def.arrow_schema();
    let mut w = staging.table_writer(&def.name, schema.clone()).unwrap();
    w.write(batch).unwrap();
    let part = w.finish().unwrap();
    commit_table(TableCommit {
        table_uri: lake.table_uri(def.zone, &def.name),
        schema,
        parts: vec![part],
        mode: WriteMode::ReplaceAll,
        run_id: "test".into(),
        app_metadata: Default::default(),
    })
    .await
    .unwrap();
}
