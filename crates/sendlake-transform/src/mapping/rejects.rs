//! The secure record-reject quarantine table: one row per rejected record or field of a partner
//! stream, filled by column name so the table file, not this code, decides the column order.

use chrono::{DateTime, Utc};
use sendlake_schema::SchemaRegistry;

use crate::rows::Value;

/// Rows of the secure `quarantine/record_rejects` table, filled by column name so the table
/// file decides the order.
pub struct RejectRows {
    rows: crate::rows::TableRows,
    slots: Vec<RejectSlot>,
    loaded_at_us: i64,
}

#[derive(Debug, Clone, Copy)]
enum RejectSlot {
    RunId,
    Source,
    Stream,
    RecordId,
    Level,
    TableName,
    SourceFile,
    Position,
    Reason,
    Field,
    RawValue,
    RawRecord,
    Message,
    RejectedAt,
}

/// One row of `quarantine/record_rejects`.
#[derive(Debug, Clone)]
pub struct RejectEntry<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// Source.
    pub source: &'a str,
    /// Stream.
    pub stream: &'a str,
    /// Raw record id, empty if none.
    pub record_id: &'a str,
    /// `file`, `record` or `field`.
    pub level: &'a str,
    /// Target table.
    pub table: &'a str,
    /// File name or redacted URL.
    pub source_file: &'a str,
    /// Position.
    pub position: &'a str,
    /// Reason code.
    pub reason: &'a str,
    /// Field pointer or header, empty if none.
    pub field: &'a str,
    /// Raw value.
    pub raw_value: Option<&'a str>,
    /// Raw record as JSON text.
    pub raw_record: Option<&'a str>,
    /// Message.
    pub message: &'a str,
}

impl std::fmt::Debug for RejectRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RejectRows")
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

/// Name of the partner-record quarantine table.
pub const RECORD_REJECTS_TABLE: &str = "quarantine/record_rejects";

impl RejectRows {
    /// Rows for the registry's `quarantine/record_rejects`.
    ///
    /// # Errors
    /// If the table is missing or has a column this code does not fill.
    pub fn new(
        registry: &SchemaRegistry,
        loaded_at: DateTime<Utc>,
        batch_rows: usize,
    ) -> Result<Self, String> {
        let def = registry
            .table(RECORD_REJECTS_TABLE)
            .ok_or_else(|| format!("schema has no table {RECORD_REJECTS_TABLE}"))?;
        let slots = def
            .columns
            .iter()
            .map(|c| {
                Ok(match c.name.as_str() {
                    "run_id" => RejectSlot::RunId,
                    "source" => RejectSlot::Source,
                    "stream" => RejectSlot::Stream,
                    "record_id" => RejectSlot::RecordId,
                    "level" => RejectSlot::Level,
                    "table_name" => RejectSlot::TableName,
                    "source_file" => RejectSlot::SourceFile,
                    "position" => RejectSlot::Position,
                    "reason_code" => RejectSlot::Reason,
                    "field" => RejectSlot::Field,
                    "raw_value" => RejectSlot::RawValue,
                    "raw_record" => RejectSlot::RawRecord,
                    "message" => RejectSlot::Message,
                    "rejected_at" => RejectSlot::RejectedAt,
                    other => {
                        return Err(format!(
                            "{RECORD_REJECTS_TABLE} has column `{other}`, which nothing fills"
                        ));
                    }
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            rows: crate::rows::TableRows::new(def, batch_rows),
            slots,
            loaded_at_us: loaded_at.timestamp_micros(),
        })
    }

    /// Adds one reject.
    ///
    /// # Errors
    /// An Arrow error building the batch.
    pub fn push(&mut self, e: &RejectEntry<'_>) -> Result<(), arrow_schema::ArrowError> {
        let text = |s: &str| Value::Utf8(s.to_owned());
        let opt = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Utf8(s.to_owned()));
        let row: Vec<Value> = self
            .slots
            .iter()
            .map(|slot| match slot {
                RejectSlot::RunId => text(e.run_id),
                RejectSlot::Source => text(e.source),
                RejectSlot::Stream => text(e.stream),
                RejectSlot::RecordId => text(e.record_id),
                RejectSlot::Level => text(e.level),
                RejectSlot::TableName => text(e.table),
                RejectSlot::SourceFile => text(e.source_file),
                RejectSlot::Position => text(e.position),
                RejectSlot::Reason => text(e.reason),
                RejectSlot::Field => text(e.field),
                RejectSlot::RawValue => opt(e.raw_value),
                RejectSlot::RawRecord => opt(e.raw_record),
                RejectSlot::Message => text(e.message),
                RejectSlot::RejectedAt => Value::TimestampUs(self.loaded_at_us),
            })
            .collect();
        self.rows.push(&row)
    }

    /// Whether a batch is ready.
    pub fn is_full(&self) -> bool {
        self.rows.is_full()
    }

    /// Takes the rows so far as a batch.
    ///
    /// # Errors
    /// An Arrow error.
    pub fn take_batch(
        &mut self,
    ) -> Result<Option<arrow_array::RecordBatch>, arrow_schema::ArrowError> {
        self.rows.take_batch()
    }
}
