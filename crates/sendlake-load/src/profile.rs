//! The Power BI-safe profile: which Arrow types may reach a published table, and the Parquet
//! writer settings for staged files and for Delta data files.
//!
//! Rationale (see `powerbi-and-delta.md` §2.2): Power BI and other BI readers load nested types
//! as NULL or refuse them; nanosecond and INT96 timestamps break several readers; a
//! timezone-less timestamp makes delta-rs add the `timestampNtz` feature and bump the protocol
//! to 3/7, which `DeltaLake.Table` / older Fabric endpoints cannot read.

use arrow_schema::{DataType, Schema, TimeUnit};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

use crate::error::{Error, Result};

/// Rows per row group in published Delta data files. Power BI / Direct Lake want big row
/// groups; 2^20 is also the parquet-rs default ceiling, and the writer holds at most one
/// row group in memory, so this is also the main term of the commit's memory bound.
pub(crate) const PUBLISHED_ROW_GROUP_ROWS: usize = 1 << 20;

/// Target size of a published Delta data file before the commit starts another. SEND tables
/// are a few million rows at most, so this normally means one file per commit.
pub(crate) const PUBLISHED_TARGET_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Byte bound on a staged row group while it is being encoded. Staged row groups become the
/// published ones (they are copied, not re-encoded), so they are as big as the row bound
/// allows; the byte bound only caps the memory of one writer when a single source file is
/// huge, since a run has one open writer per table per worker.
const STAGED_ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;

/// ZSTD level of every data file. Level 1 compresses SEND tables within a few per cent of
/// level 3 at a fraction of the CPU (measured in `docs/benchmarks.md`), and the encode now
/// happens once, while the source files are being read.
const ZSTD_LEVEL: i32 = 1;

/// Refuses schemas that would not survive the trip to Power BI unchanged.
///
/// Allowed: booleans, signed integers, floats, decimals up to 38 digits, strings, binary,
/// `Date32`, `Timestamp(Microsecond, "UTC")`.
pub(crate) fn check_schema(schema: &Schema) -> Result<()> {
    for field in schema.fields() {
        let refuse = |reason: &'static str| Error::UnsupportedColumnType {
            column: field.name().clone(),
            data_type: field.data_type().to_string(),
            reason,
        };
        match field.data_type() {
            DataType::Struct(_)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(_, _)
            | DataType::Map(_, _)
            | DataType::Union(_, _)
            | DataType::RunEndEncoded(_, _) => {
                return Err(refuse(
                    "nested types are not allowed; flatten them into columns or a child table",
                ));
            }
            DataType::Dictionary(_, _) => {
                return Err(refuse(
                    "Delta has no dictionary type; use the value type (Parquet dictionary-encodes anyway)",
                ));
            }
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if is_utc(tz) => {}
            DataType::Timestamp(_, _) => {
                return Err(refuse(
                    "timestamps must be Timestamp(Microsecond, \"UTC\") (nanos/millis and timezone-less timestamps break BI readers or the Delta 1/2 protocol)",
                ));
            }
            DataType::Date64 => return Err(refuse("use Date32 for dates")),
            DataType::Time32(_) | DataType::Time64(_) | DataType::Duration(_) => {
                return Err(refuse(
                    "Delta has no time-of-day or duration type; store seconds as Int64",
                ));
            }
            DataType::Interval(_) => return Err(refuse("Delta has no interval type")),
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                return Err(refuse(
                    "Delta has no unsigned integers; use a wider signed type",
                ));
            }
            DataType::Float16 => return Err(refuse("use Float32 or Float64")),
            DataType::Decimal256(_, _) => {
                return Err(refuse("use Decimal128 (precision <= 38)"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "+00:00" | "Etc/UTC" | "Z")
}

/// Settings for Delta data files that Power BI reads.
pub(crate) fn published_writer_properties(run_id: &str) -> Result<WriterProperties> {
    Ok(data_file_properties()?
        // The staged row groups are copied as they are, so the byte bound they were written
        // with needs no repeating here; rows encoded at commit time are bounded by rows only.
        .set_max_row_group_bytes(None)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "sendlake.run_id".to_owned(),
            run_id.to_owned(),
        )]))
        .build())
}

/// Settings for the data files delta-rs writes on our behalf: a retention delete rewrites the
/// files that hold expired rows next to rows that stay, and those files are read by Power BI
/// like any other. The published settings, without a run id (no run wrote them).
pub(crate) fn rewrite_writer_properties() -> Result<WriterProperties> {
    Ok(data_file_properties()?
        .set_max_row_group_bytes(None)
        .build())
}

/// Settings for staged files. They are the published settings, because the commit copies
/// staged row groups into the table's data files without decoding them; the commit can only
/// do that when both sides have the same Parquet schema and encodings.
pub(crate) fn staged_writer_properties() -> Result<WriterProperties> {
    Ok(data_file_properties()?
        .set_max_row_group_bytes(Some(STAGED_ROW_GROUP_BYTES))
        .build())
}

fn data_file_properties() -> Result<parquet::file::properties::WriterPropertiesBuilder> {
    Ok(WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(PUBLISHED_ROW_GROUP_ROWS)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_schema::Field;

    use super::*;

    fn one(dt: DataType) -> Schema {
        Schema::new(vec![Field::new("c", dt, true)])
    }

    #[test]
    fn accepts_the_profile_types() {
        for dt in [
            DataType::Utf8,
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Date32,
            DataType::Decimal128(18, 2),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ] {
            check_schema(&one(dt.clone())).unwrap_or_else(|e| panic!("{dt}: {e}"));
        }
    }

    #[test]
    fn refuses_nested_and_unsafe_timestamps() {
        let item = Arc::new(Field::new("item", DataType::Utf8, true));
        for dt in [
            DataType::List(item.clone()),
            DataType::Struct(vec![Field::new("x", DataType::Int32, true)].into()),
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Date64,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        ] {
            let err = check_schema(&one(dt.clone())).expect_err(&dt.to_string());
            assert!(
                matches!(err, Error::UnsupportedColumnType { ref column, .. } if column == "c"),
                "{dt}: {err}"
            );
        }
        let msg = check_schema(&one(DataType::List(item)))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("nested types are not allowed"), "{msg}");
    }
}
