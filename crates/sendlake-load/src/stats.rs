//! Delta `add` actions for the data files this crate writes itself: the per-file statistics
//! (`numRecords`, `nullCount`, `minValues`, `maxValues`) taken from the Parquet footer.
//!
//! delta-rs computes the same for files its own writer produces, but that function is
//! private. The statistics matter: `numRecords` answers `COUNT(*)` without a scan, and the
//! min/max let readers (DataFusion, Fabric, Spark) skip files. A column whose bounds cannot
//! be stated exactly is left out of `minValues`/`maxValues`, which the Delta protocol allows
//! (missing statistics only disable skipping for that column).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use deltalake::kernel::Add;
use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;
use serde_json::{Map, Value, json};

use crate::error::Result;

/// Delta's default `dataSkippingNumIndexedCols`: statistics for the first 32 columns.
const INDEXED_COLUMNS: usize = 32;

/// An `add` action for a data file at `path` (relative to the table root).
pub(crate) fn add_action(path: String, size: u64, meta: &ParquetMetaData) -> Result<Add> {
    let modification_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Ok(Add {
        path,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        partition_values: HashMap::new(),
        modification_time,
        data_change: true,
        stats: Some(serde_json::to_string(&file_stats(meta))?),
        ..Default::default()
    })
}

/// The Delta statistics object for one Parquet file (flat schemas only, which the profile
/// guarantees).
pub(crate) fn file_stats(meta: &ParquetMetaData) -> Value {
    let descr = meta.file_metadata().schema_descr();
    let mut min_values = Map::new();
    let mut max_values = Map::new();
    let mut null_count = Map::new();
    for col in 0..descr.num_columns().min(INDEXED_COLUMNS) {
        let column = descr.column(col);
        let name = column.name().to_owned();
        let logical = column.logical_type_ref();
        let mut nulls = Some(0u64);
        let mut bounds: Option<(Bound, Bound)> = None;
        let mut exact = true;
        for rg in meta.row_groups() {
            let chunk = rg.column(col);
            let Some(stats) = chunk.statistics() else {
                nulls = None;
                exact = false;
                continue;
            };
            nulls = nulls.zip(stats.null_count_opt()).map(|(a, b)| a + b);
            let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
            if stats.null_count_opt() == Some(rows) {
                // An all-null row group has no bounds and needs none.
                continue;
            }
            match (
                Bound::from_stats(stats, logical, true),
                Bound::from_stats(stats, logical, false),
            ) {
                (Some(lo), Some(hi)) => {
                    bounds = Some(match bounds {
                        None => (lo, hi),
                        Some((l, h)) => (l.min(lo), h.max(hi)),
                    });
                }
                _ => exact = false,
            }
        }
        if let Some(n) = nulls {
            null_count.insert(name.clone(), json!(n));
        }
        if let (true, Some((lo, hi))) = (exact, bounds)
            && let (Some(lo), Some(hi)) = (lo.to_json(false), hi.to_json(true))
        {
            min_values.insert(name.clone(), lo);
            max_values.insert(name, hi);
        }
    }
    json!({
        "numRecords": meta.file_metadata().num_rows(),
        "minValues": min_values,
        "maxValues": max_values,
        "nullCount": null_count,
    })
}

/// One bound of a column chunk, typed so bounds from several row groups compare correctly.
/// Also how the replace filter reads a chunk's single value (`assemble::single_value`).
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) enum Bound {
    Int(i64),
    Float(f64),
    Str(String),
    Date(i32),
    TimestampMicros(i64),
}

impl Bound {
    /// The exact minimum (`min = true`) or maximum of a chunk, or `None` if the writer did not
    /// record an exact one or the type has no Delta statistics representation here.
    pub(crate) fn from_stats(
        stats: &Statistics,
        logical: Option<&LogicalType>,
        min: bool,
    ) -> Option<Bound> {
        match (stats, logical) {
            (Statistics::Int32(s), Some(LogicalType::Date)) => {
                pick(s.min_opt(), s.max_opt(), min).map(|v| Bound::Date(*v))
            }
            (Statistics::Int32(s), None | Some(LogicalType::Integer(_))) => {
                pick(s.min_opt(), s.max_opt(), min).map(|v| Bound::Int(i64::from(*v)))
            }
            (Statistics::Int64(s), Some(LogicalType::Timestamp(t)))
                if t.is_adjusted_to_u_t_c && matches!(t.unit, TimeUnit::MICROS) =>
            {
                pick(s.min_opt(), s.max_opt(), min).map(|v| Bound::TimestampMicros(*v))
            }
            (Statistics::Int64(s), None | Some(LogicalType::Integer(_))) => {
                pick(s.min_opt(), s.max_opt(), min).map(|v| Bound::Int(*v))
            }
            (Statistics::Double(s), None) => pick(s.min_opt(), s.max_opt(), min)
                .filter(|v| v.is_finite())
                .map(|v| Bound::Float(*v)),
            (Statistics::ByteArray(s), Some(LogicalType::String)) => {
                let exact = if min {
                    s.min_is_exact()
                } else {
                    s.max_is_exact()
                };
                if !exact {
                    return None;
                }
                let bytes = if min { s.min_opt() } else { s.max_opt() }?;
                std::str::from_utf8(bytes.data())
                    .ok()
                    .map(|v| Bound::Str(v.to_owned()))
            }
            _ => None,
        }
    }

    fn min(self, other: Bound) -> Bound {
        if other < self { other } else { self }
    }

    fn max(self, other: Bound) -> Bound {
        if other > self { other } else { self }
    }

    /// The JSON form Delta readers expect. Timestamps are written with millisecond precision
    /// (as delta-rs and Spark do), so the minimum is rounded down and the maximum up: a
    /// rounded bound must never exclude a row that is in the file.
    fn to_json(&self, is_max: bool) -> Option<Value> {
        Some(match self {
            Bound::Int(v) => json!(v),
            Bound::Float(v) => json!(v),
            Bound::Str(v) => json!(v),
            Bound::Date(days) => {
                let date = NaiveDate::from_ymd_opt(1970, 1, 1)?
                    .checked_add_signed(chrono::Duration::days(i64::from(*days)))?;
                json!(date.format("%Y-%m-%d").to_string())
            }
            Bound::TimestampMicros(micros) => {
                let millis = if is_max {
                    micros.div_euclid(1000) + i64::from(micros.rem_euclid(1000) != 0)
                } else {
                    micros.div_euclid(1000)
                };
                let ts: DateTime<Utc> = DateTime::from_timestamp_millis(millis)?;
                json!(ts.to_rfc3339_opts(SecondsFormat::Millis, true))
            }
        })
    }
}

fn pick<'a, T>(lo: Option<&'a T>, hi: Option<&'a T>, min: bool) -> Option<&'a T> {
    if min { lo } else { hi }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_bounds_round_outwards_to_milliseconds() {
        let t = Bound::TimestampMicros(1_767_225_600_000_001);
        assert_eq!(t.to_json(false), Some(json!("2026-01-01T00:00:00.000Z")));
        assert_eq!(t.to_json(true), Some(json!("2026-01-01T00:00:00.001Z")));
        let exact = Bound::TimestampMicros(1_767_225_600_000_000);
        assert_eq!(exact.to_json(true), Some(json!("2026-01-01T00:00:00.000Z")));
    }

    #[test]
    fn dates_and_mixed_bounds() {
        assert_eq!(Bound::Date(0).to_json(false), Some(json!("1970-01-01")));
        assert_eq!(Bound::Date(20_454).to_json(true), Some(json!("2026-01-01")));
        assert_eq!(Bound::Int(3).min(Bound::Int(-1)), Bound::Int(-1));
        assert_eq!(
            Bound::Str("b".into()).max(Bound::Str("a".into())),
            Bound::Str("b".into())
        );
    }
}
