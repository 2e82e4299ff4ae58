//! Generic row buffers: one per table, built from the table's definition, filled one row at a
//! time with [`Value`]s and cut into Arrow record batches of a bounded size.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};
use sendlake_schema::{ColumnType, TableDef};

/// One cell value, typed like the schema's [`ColumnType`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Null.
    Null,
    /// String.
    Utf8(String),
    /// A string shared by many rows (keys, lineage): cloning it does not allocate.
    Shared(std::sync::Arc<str>),
    /// 32-bit integer.
    Int32(i32),
    /// 64-bit integer.
    Int64(i64),
    /// Boolean.
    Bool(bool),
    /// 64-bit float.
    Float64(f64),
    /// Days since 1970-01-01.
    Date32(i32),
    /// Microseconds since the epoch, UTC.
    TimestampUs(i64),
}

enum ColumnBuilder {
    Utf8(StringBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Bool(BooleanBuilder),
    Float64(Float64Builder),
    Date32(Date32Builder),
    TimestampUs(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType, capacity: usize) -> Self {
        match ty {
            ColumnType::Utf8 => Self::Utf8(StringBuilder::with_capacity(capacity, capacity * 8)),
            ColumnType::Int32 => Self::Int32(Int32Builder::with_capacity(capacity)),
            ColumnType::Int64 => Self::Int64(Int64Builder::with_capacity(capacity)),
            ColumnType::Bool => Self::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Float64 => Self::Float64(Float64Builder::with_capacity(capacity)),
            ColumnType::Date32 => Self::Date32(Date32Builder::with_capacity(capacity)),
            ColumnType::TimestampUsUtc => Self::TimestampUs(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
        }
    }

    fn accepts(&self, value: &Value) -> bool {
        matches!(
            (self, value),
            (_, Value::Null)
                | (Self::Utf8(_), Value::Utf8(_) | Value::Shared(_))
                | (Self::Int32(_), Value::Int32(_))
                | (Self::Int64(_), Value::Int64(_))
                | (Self::Bool(_), Value::Bool(_))
                | (Self::Float64(_), Value::Float64(_))
                | (Self::Date32(_), Value::Date32(_))
                | (Self::TimestampUs(_), Value::TimestampUs(_))
        )
    }

    /// Appends `value`, which [`Self::accepts`] has checked.
    fn append(&mut self, value: &Value) {
        match (self, value) {
            (Self::Utf8(b), Value::Utf8(v)) => b.append_value(v),
            (Self::Utf8(b), Value::Shared(v)) => b.append_value(v),
            (Self::Int32(b), Value::Int32(v)) => b.append_value(*v),
            (Self::Int64(b), Value::Int64(v)) => b.append_value(*v),
            (Self::Bool(b), Value::Bool(v)) => b.append_value(*v),
            (Self::Float64(b), Value::Float64(v)) => b.append_value(*v),
            (Self::Date32(b), Value::Date32(v)) => b.append_value(*v),
            (Self::TimestampUs(b), Value::TimestampUs(v)) => b.append_value(*v),
            (Self::Utf8(b), Value::Null) => b.append_null(),
            (Self::Int32(b), Value::Null) => b.append_null(),
            (Self::Int64(b), Value::Null) => b.append_null(),
            (Self::Bool(b), Value::Null) => b.append_null(),
            (Self::Float64(b), Value::Null) => b.append_null(),
            (Self::Date32(b), Value::Null) => b.append_null(),
            (Self::TimestampUs(b), Value::Null) => b.append_null(),
            // Unreachable after `accepts`; ignoring keeps this path panic-free.
            _ => {}
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Date32(b) => Arc::new(b.finish()),
            Self::TimestampUs(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Utf8(b) => b.len(),
            Self::Int32(b) => b.len(),
            Self::Int64(b) => b.len(),
            Self::Bool(b) => b.len(),
            Self::Float64(b) => b.len(),
            Self::Date32(b) => b.len(),
            Self::TimestampUs(b) => b.len(),
        }
    }
}

/// Rows of one table, buffered until `batch_rows` are ready.
pub struct TableRows {
    schema: SchemaRef,
    nullable: Vec<bool>,
    names: Vec<String>,
    builders: Vec<ColumnBuilder>,
    batch_rows: usize,
}

impl TableRows {
    /// Empty buffer for `table`, cutting batches of `batch_rows` rows.
    pub fn new(table: &TableDef, batch_rows: usize) -> Self {
        let batch_rows = batch_rows.max(1);
        Self {
            schema: table.arrow_schema(),
            nullable: table.columns.iter().map(|c| c.nullable).collect(),
            names: table.columns.iter().map(|c| c.name.clone()).collect(),
            builders: table
                .columns
                .iter()
                .map(|c| ColumnBuilder::new(c.data_type, batch_rows))
                .collect(),
            batch_rows,
        }
    }

    /// The table's Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.builders.first().map_or(0, ColumnBuilder::len)
    }

    /// Whether no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one row (one value per column, in schema order). Nothing is appended if the row
    /// is malformed (wrong arity, a null in a non-nullable column, a mistyped value): that is
    /// a bug in the conforming code, reported as an error rather than a panic.
    ///
    /// # Errors
    /// See above.
    pub fn push(&mut self, row: &[Value]) -> Result<(), ArrowError> {
        if row.len() != self.builders.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "internal error: row has {} values, table has {} columns",
                row.len(),
                self.builders.len()
            )));
        }
        for (i, v) in row.iter().enumerate() {
            if matches!(v, Value::Null) && !self.nullable[i] {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "internal error: null in non-nullable column `{}`",
                    self.names[i]
                )));
            }
        }
        // Check every value first so a bad row never leaves the columns misaligned.
        if let Some((i, v)) = self
            .builders
            .iter()
            .zip(row)
            .enumerate()
            .find_map(|(i, (b, v))| (!b.accepts(v)).then_some((i, v)))
        {
            return Err(ArrowError::InvalidArgumentError(format!(
                "internal error: value {v:?} does not match the type of column `{}`",
                self.names[i]
            )));
        }
        for (b, v) in self.builders.iter_mut().zip(row) {
            b.append(v);
        }
        Ok(())
    }

    /// Whether a full batch is ready.
    pub fn is_full(&self) -> bool {
        self.len() >= self.batch_rows
    }

    /// Cuts the buffered rows into a batch (`None` when empty).
    ///
    /// # Errors
    /// If the arrays do not match the schema (a bug).
    pub fn take_batch(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.is_empty() {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        RecordBatch::try_new(self.schema.clone(), arrays).map(Some)
    }
}
