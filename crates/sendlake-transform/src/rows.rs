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

impl Value {
    fn cell(&self) -> Cell<'_> {
        match self {
            Self::Null => Cell::Null,
            Self::Utf8(s) => Cell::Str(s),
            Self::Shared(s) => Cell::Str(s),
            Self::Int32(v) => Cell::Int32(*v),
            Self::Int64(v) => Cell::Int64(*v),
            Self::Bool(v) => Cell::Bool(*v),
            Self::Float64(v) => Cell::Float64(*v),
            Self::Date32(v) => Cell::Date32(*v),
            Self::TimestampUs(v) => Cell::TimestampUs(*v),
        }
    }
}

/// A cell that borrows its text: the conformer's rows are made of values that already live in
/// the record, the code lists or the file's lineage, and copying each into an owned
/// [`Value`] only to copy it again into the Arrow buffer was a large share of the run time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Str(&'a str),
    /// Text made while conforming (an upper-cased code, a postcode district).
    String(String),
    Int32(i32),
    Int64(i64),
    Bool(bool),
    Float64(f64),
    Date32(i32),
    TimestampUs(i64),
}

impl Cell<'_> {
    /// The same cell, borrowing any owned text instead of copying it.
    fn view(&self) -> Cell<'_> {
        match self {
            Self::String(s) => Cell::Str(s),
            Self::Str(s) => Cell::Str(s),
            Self::Null => Cell::Null,
            Self::Int32(v) => Cell::Int32(*v),
            Self::Int64(v) => Cell::Int64(*v),
            Self::Bool(v) => Cell::Bool(*v),
            Self::Float64(v) => Cell::Float64(*v),
            Self::Date32(v) => Cell::Date32(*v),
            Self::TimestampUs(v) => Cell::TimestampUs(*v),
        }
    }

    /// The same value as a [`Value`], so internal error messages read as they always have.
    fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Str(s) => Value::Utf8((*s).to_owned()),
            Self::String(s) => Value::Utf8(s.clone()),
            Self::Int32(v) => Value::Int32(*v),
            Self::Int64(v) => Value::Int64(*v),
            Self::Bool(v) => Value::Bool(*v),
            Self::Float64(v) => Value::Float64(*v),
            Self::Date32(v) => Value::Date32(*v),
            Self::TimestampUs(v) => Value::TimestampUs(*v),
        }
    }
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

    fn accepts(&self, value: &Cell<'_>) -> bool {
        matches!(
            (self, value),
            (_, Cell::Null)
                | (Self::Utf8(_), Cell::Str(_) | Cell::String(_))
                | (Self::Int32(_), Cell::Int32(_))
                | (Self::Int64(_), Cell::Int64(_))
                | (Self::Bool(_), Cell::Bool(_))
                | (Self::Float64(_), Cell::Float64(_))
                | (Self::Date32(_), Cell::Date32(_))
                | (Self::TimestampUs(_), Cell::TimestampUs(_))
        )
    }

    /// Appends `value`, which [`Self::accepts`] has checked.
    fn append(&mut self, value: &Cell<'_>) {
        match (self, value) {
            (Self::Utf8(b), Cell::Str(v)) => b.append_value(v),
            (Self::Utf8(b), Cell::String(v)) => b.append_value(v),
            (Self::Int32(b), Cell::Int32(v)) => b.append_value(*v),
            (Self::Int64(b), Cell::Int64(v)) => b.append_value(*v),
            (Self::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Self::Float64(b), Cell::Float64(v)) => b.append_value(*v),
            (Self::Date32(b), Cell::Date32(v)) => b.append_value(*v),
            (Self::TimestampUs(b), Cell::TimestampUs(v)) => b.append_value(*v),
            (Self::Utf8(b), Cell::Null) => b.append_null(),
            (Self::Int32(b), Cell::Null) => b.append_null(),
            (Self::Int64(b), Cell::Null) => b.append_null(),
            (Self::Bool(b), Cell::Null) => b.append_null(),
            (Self::Float64(b), Cell::Null) => b.append_null(),
            (Self::Date32(b), Cell::Null) => b.append_null(),
            (Self::TimestampUs(b), Cell::Null) => b.append_null(),
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
        self.push_with(row.len(), |i| row[i].cell())
    }

    /// [`push`](Self::push) for rows whose text is borrowed.
    pub(crate) fn push_cells(&mut self, row: &[Cell<'_>]) -> Result<(), ArrowError> {
        self.push_with(row.len(), |i| row[i].view())
    }

    /// The checks and appends of [`push`](Self::push), over cells that `cell` makes on
    /// demand (cheap: a cell only borrows).
    fn push_with<'v>(
        &mut self,
        len: usize,
        cell: impl Fn(usize) -> Cell<'v>,
    ) -> Result<(), ArrowError> {
        if len != self.builders.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "internal error: row has {} values, table has {} columns",
                len,
                self.builders.len()
            )));
        }
        // Check every value first so a bad row never leaves the columns misaligned. Nulls
        // are checked for every column before types, so the first error is the same one.
        let mut mistyped = None;
        for (i, (b, &nullable)) in self.builders.iter().zip(&self.nullable).enumerate() {
            let v = cell(i);
            if matches!(v, Cell::Null) {
                if !nullable {
                    return Err(ArrowError::InvalidArgumentError(format!(
                        "internal error: null in non-nullable column `{}`",
                        self.names[i]
                    )));
                }
            } else if mistyped.is_none() && !b.accepts(&v) {
                mistyped = Some((i, v.to_value()));
            }
        }
        if let Some((i, v)) = mistyped {
            return Err(ArrowError::InvalidArgumentError(format!(
                "internal error: value {v:?} does not match the type of column `{}`",
                self.names[i]
            )));
        }
        for (i, b) in self.builders.iter_mut().enumerate() {
            b.append(&cell(i));
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
