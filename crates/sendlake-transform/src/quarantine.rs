//! Quarantine entries and the rows of the secure quarantine table.

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use chrono::{DateTime, Utc};
use sendlake_schema::{Derive, TableDef};

use crate::ConformError;
use crate::rows::{TableRows, Value};

/// How much a quarantine entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectLevel {
    /// The whole file.
    File,
    /// A record and the records under it.
    Record,
    /// One value; the record loaded with it nulled.
    Field,
}

impl RejectLevel {
    /// Code as stored (`reject_level` code list).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectLevel::File => "file",
            RejectLevel::Record => "record",
            RejectLevel::Field => "field",
        }
    }
}

/// One quarantine entry. Raw values are kept here and only here (secure zone).
#[derive(Debug, Clone)]
pub struct Reject {
    /// Level.
    pub level: RejectLevel,
    /// Table of the rejected record (None for a file).
    pub table: Option<String>,
    /// 1-based position of the Person in the file.
    pub person_position: Option<u64>,
    /// Element path (`Message/Persons/Person[2]/…`), or the file name for a whole file.
    pub element_path: String,
    /// Line (1-based).
    pub line: Option<u32>,
    /// Column (1-based, characters).
    pub column: Option<u32>,
    /// Rule id.
    pub reason: String,
    /// Offending element name.
    pub field: Option<String>,
    /// Raw offending value.
    pub raw_value: Option<String>,
    /// Raw leaves of the rejected element as JSON.
    pub raw_record: Option<String>,
    /// Explanation (names the field and rule; never contains the value).
    pub message: String,
    /// Submission, when known.
    pub submission_id: Option<String>,
    /// Input file name.
    pub source_file: String,
}

enum Slot {
    Source,
    RunId,
    LoadedAt,
    SourceFile,
    SubmissionId,
    Level,
    TableName,
    PersonPosition,
    ElementPath,
    Line,
    Column,
    ReasonCode,
    Field,
    RawValue,
    RawRecord,
    Message,
}

/// Rows of the quarantine table.
pub struct QuarantineRows {
    rows: TableRows,
    slots: Vec<Slot>,
    source: String,
    run_id: String,
    loaded_at_us: i64,
}

impl QuarantineRows {
    /// Rows for `table` (the schema's quarantine table).
    ///
    /// # Errors
    /// If the table has a column this code does not know how to fill.
    pub fn new(
        table: &TableDef,
        source: &str,
        run_id: &str,
        loaded_at: DateTime<Utc>,
        batch_rows: usize,
    ) -> Result<Self, ConformError> {
        let mut slots = Vec::new();
        for col in &table.columns {
            let slot = match (col.derive, col.name.as_str()) {
                (Some(Derive::LineageSource), _) => Slot::Source,
                (Some(Derive::LineageRunId), _) => Slot::RunId,
                (Some(Derive::LineageLoadedAt), _) => Slot::LoadedAt,
                (Some(Derive::Reject), "source_file") => Slot::SourceFile,
                (Some(Derive::Reject), "submission_id") => Slot::SubmissionId,
                (Some(Derive::Reject), "level") => Slot::Level,
                (Some(Derive::Reject), "table_name") => Slot::TableName,
                (Some(Derive::Reject), "person_position") => Slot::PersonPosition,
                (Some(Derive::Reject), "element_path") => Slot::ElementPath,
                (Some(Derive::Reject), "line") => Slot::Line,
                (Some(Derive::Reject), "column") => Slot::Column,
                (Some(Derive::Reject), "reason_code") => Slot::ReasonCode,
                (Some(Derive::Reject), "field") => Slot::Field,
                (Some(Derive::Reject), "raw_value") => Slot::RawValue,
                (Some(Derive::Reject), "raw_record") => Slot::RawRecord,
                (Some(Derive::Reject), "message") => Slot::Message,
                _ => {
                    return Err(ConformError::Schema(format!(
                        "quarantine table column `{}` has no known source",
                        col.name
                    )));
                }
            };
            slots.push(slot);
        }
        Ok(Self {
            rows: TableRows::new(table, batch_rows),
            slots,
            source: source.to_owned(),
            run_id: run_id.to_owned(),
            loaded_at_us: loaded_at.timestamp_micros(),
        })
    }

    /// Appends an entry.
    ///
    /// # Errors
    /// Internal errors only.
    pub fn push(&mut self, r: &Reject) -> Result<(), ArrowError> {
        let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Utf8);
        let n = |v: Option<u64>| {
            v.map_or(Value::Null, |v| {
                Value::Int64(i64::try_from(v).unwrap_or(i64::MAX))
            })
        };
        let row: Vec<Value> = self
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Source => Value::Utf8(self.source.clone()),
                Slot::RunId => Value::Utf8(self.run_id.clone()),
                Slot::LoadedAt => Value::TimestampUs(self.loaded_at_us),
                Slot::SourceFile => Value::Utf8(r.source_file.clone()),
                Slot::SubmissionId => s(&r.submission_id),
                Slot::Level => Value::Utf8(r.level.as_str().into()),
                Slot::TableName => s(&r.table),
                Slot::PersonPosition => n(r.person_position),
                Slot::ElementPath => Value::Utf8(r.element_path.clone()),
                Slot::Line => n(r.line.map(u64::from)),
                Slot::Column => n(r.column.map(u64::from)),
                Slot::ReasonCode => Value::Utf8(r.reason.clone()),
                Slot::Field => s(&r.field),
                Slot::RawValue => s(&r.raw_value),
                Slot::RawRecord => s(&r.raw_record),
                Slot::Message => Value::Utf8(r.message.clone()),
            })
            .collect();
        self.rows.push(&row)
    }

    /// Whether a full batch is ready.
    pub fn is_full(&self) -> bool {
        self.rows.is_full()
    }

    /// Cuts the buffered entries into a batch.
    ///
    /// # Errors
    /// Internal errors only.
    pub fn take_batch(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        self.rows.take_batch()
    }
}
