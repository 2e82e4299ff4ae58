//! Building a commit's data files out of row groups that are already encoded.
//!
//! Staged parts are written in the published Parquet format, so a commit does not decode and
//! re-compress them: [`OutputFile::copy_row_group`] splices their column chunks byte for byte
//! (with statistics and page indexes) into one big file per table. Only rows that must be
//! filtered (a row group mixing a replaced submission with a kept one, which sendlake's own
//! writers never produce) or widened (a schema that gained a column) go through Arrow again,
//! via [`OutputFile::write_batch`].
//!
//! [`ReplaceFilter`] decides, from row-group statistics where it can and from the rows where
//! it must, which rows a `ReplaceWhere` replaces.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema, SchemaRef};
use deltalake::arrow::compute::cast;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::LogicalType;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{
    PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData,
};
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::SchemaDescriptor;

use crate::error::{Error, Result};
use crate::stats::Bound;

/// Rows per batch when a row group has to be decoded.
const DECODE_BATCH_ROWS: usize = 64 * 1024;

/// A Parquet file opened for reading its footer and copying or decoding its row groups.
pub(crate) struct InputFile {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) meta: Arc<ParquetMetaData>,
}

impl InputFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        // Page indexes are read too, so copied column chunks keep them.
        let meta = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .parse_and_finish(&file)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            meta: Arc::new(meta),
        })
    }

    /// The Arrow schema the file was written with (from its embedded Arrow schema when
    /// present, else derived from the Parquet schema).
    pub(crate) fn arrow_schema(&self) -> Result<Schema> {
        let file_meta = self.meta.file_metadata();
        Ok(parquet::arrow::parquet_to_arrow_schema(
            file_meta.schema_descr(),
            file_meta.key_value_metadata(),
        )?)
    }

    pub(crate) fn num_rows(&self) -> u64 {
        u64::try_from(self.meta.file_metadata().num_rows()).unwrap_or(0)
    }

    pub(crate) fn row_groups(&self) -> &[RowGroupMetaData] {
        self.meta.row_groups()
    }

    /// Decodes one row group, in batches, calling `f` on each.
    pub(crate) fn for_each_batch(
        &self,
        row_group: usize,
        mut f: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::io(format!("reopening {}", self.path.display()), e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
            .with_row_groups(vec![row_group])
            .with_batch_size(DECODE_BATCH_ROWS)
            .build()?;
        for batch in reader {
            f(batch?)?;
        }
        Ok(())
    }
}

/// How a row group relates to a [`ReplaceFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowGroupMatch {
    /// Every row matches (proved from statistics).
    All,
    /// No row matches (proved from statistics).
    None,
    /// Statistics cannot tell; the rows must be checked.
    Unknown,
}

/// `c1 IN (...) AND c2 IN (...)`, with values compared as strings.
#[derive(Debug, Clone)]
pub(crate) struct ReplaceFilter {
    terms: Vec<(String, HashSet<String>)>,
}

impl ReplaceFilter {
    /// Checks the terms against the commit schema: every column must exist and have values.
    pub(crate) fn new(schema: &Schema, terms: &[(String, Vec<String>)]) -> Result<Self> {
        if terms.is_empty() {
            return Err(Error::InvalidWriteMode(
                "ReplaceWhere needs at least one column (use ReplaceAll)".into(),
            ));
        }
        let mut out = Vec::with_capacity(terms.len());
        for (column, values) in terms {
            if schema.field_with_name(column).is_err() {
                return Err(Error::InvalidWriteMode(format!(
                    "ReplaceWhere column {column:?} is not in the table schema"
                )));
            }
            if values.is_empty() {
                // `x IN ()` matches nothing, and every staged row would then fail validation;
                // the caller almost certainly meant something else.
                return Err(Error::InvalidWriteMode(format!(
                    "ReplaceWhere column {column:?} has no values"
                )));
            }
            out.push((column.clone(), values.iter().cloned().collect()));
        }
        Ok(Self { terms: out })
    }

    /// The predicate as SQL, recorded in the commit (`operationParameters.predicate`). A long
    /// value list (the ids an incremental run replaced) is summarised by its size: the log is
    /// a record of the operation, not a replay script, and ids do not belong in it.
    pub(crate) fn sql(&self) -> String {
        const LISTED: usize = 20;
        self.terms
            .iter()
            .map(|(column, values)| {
                if values.len() > LISTED {
                    return format!(
                        "\"{}\" IN (<{} values>)",
                        column.replace('"', "\"\""),
                        values.len()
                    );
                }
                let mut values: Vec<&String> = values.iter().collect();
                values.sort();
                let list: Vec<String> = values
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\'', "''")))
                    .collect();
                format!(
                    "\"{}\" IN ({})",
                    column.replace('"', "\"\""),
                    list.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Decides from statistics alone when it can: a term over a column whose chunk holds one
    /// value and no nulls is either true or false for every row.
    pub(crate) fn row_group(
        &self,
        descr: &SchemaDescriptor,
        rg: &RowGroupMetaData,
    ) -> RowGroupMatch {
        let mut all = true;
        for (column, values) in &self.terms {
            let Some(idx) = (0..descr.num_columns()).find(|i| {
                let c = descr.column(*i);
                c.path().parts().len() == 1 && c.name() == column
            }) else {
                return RowGroupMatch::Unknown;
            };
            let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
            let chunk = rg.column(idx);
            let Some(stats) = chunk.statistics() else {
                return RowGroupMatch::Unknown;
            };
            if stats.null_count_opt() == Some(rows) {
                // NULL is in no IN-list.
                return RowGroupMatch::None;
            }
            match single_value(stats, descr.column(idx).logical_type_ref()) {
                Some(v) if stats.null_count_opt() == Some(0) => {
                    if !values.contains(&v) {
                        return RowGroupMatch::None;
                    }
                }
                _ => all = false,
            }
        }
        if all {
            RowGroupMatch::All
        } else {
            RowGroupMatch::Unknown
        }
    }

    /// Which rows of `batch` match.
    pub(crate) fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let mut mask = vec![true; batch.num_rows()];
        for (column, values) in &self.terms {
            let col = batch.column_by_name(column).ok_or_else(|| {
                Error::InvalidWriteMode(format!(
                    "ReplaceWhere column {column:?} is not in the data"
                ))
            })?;
            let strings: ArrayRef = if col.data_type() == &DataType::Utf8 {
                col.clone()
            } else {
                cast(col, &DataType::Utf8)?
            };
            let strings = strings
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    Error::InvalidWriteMode(format!("column {column:?} cannot be read as text"))
                })?;
            for (i, m) in mask.iter_mut().enumerate() {
                *m = *m && strings.is_valid(i) && values.contains(strings.value(i));
            }
        }
        Ok(BooleanArray::from(mask))
    }
}

/// The value every row of a chunk has, when its exact min and max agree, as the string the
/// filter compares with. Only texts and integers are used: their string form is unambiguous.
/// The bounds are read exactly as the Delta statistics read them ([`Bound`]).
fn single_value(stats: &Statistics, logical: Option<&LogicalType>) -> Option<String> {
    let lo = Bound::from_stats(stats, logical, true)?;
    let hi = Bound::from_stats(stats, logical, false)?;
    if lo != hi {
        return None;
    }
    match lo {
        Bound::Str(s) => Some(s),
        Bound::Int(v) => Some(v.to_string()),
        Bound::Float(_) | Bound::Date(_) | Bound::TimestampMicros(_) => None,
    }
}

/// Reshapes a batch read from an older file to the commit schema: columns by name, in the
/// commit's order; a column the file predates becomes all-null (schema evolution only ever
/// adds nullable columns).
pub(crate) fn to_schema(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(col) if col.data_type() == field.data_type() => Ok(col.clone()),
            Some(col) => Ok(cast(col, field.data_type())?),
            None => Ok(arrow_array::new_null_array(
                field.data_type(),
                batch.num_rows(),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// A data file being assembled from copied row groups and freshly encoded rows.
pub(crate) struct OutputFile {
    path: PathBuf,
    writer: SerializedFileWriter<BufWriter<File>>,
    descr: Arc<SchemaDescriptor>,
    arrow_schema: SchemaRef,
    columns: ArrowRowGroupWriterFactory,
    max_row_group_rows: usize,
    /// Column writers for the row group being encoded, and its row count.
    encoding: Option<(Vec<ArrowColumnWriter>, usize)>,
}

impl OutputFile {
    pub(crate) fn create(
        path: PathBuf,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<Self> {
        let mut props = props;
        // What ArrowWriter does, so readers get back the exact Arrow types (time zone
        // included) rather than ones inferred from the Parquet schema.
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let descr = Arc::new(
            ArrowSchemaConverter::new()
                .with_coerce_types(props.coerce_types())
                .convert(&schema)?,
        );
        let max_row_group_rows = props.max_row_group_row_count().unwrap_or(1 << 20).max(1);
        let props = Arc::new(props);
        let file = File::create_new(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let writer = SerializedFileWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            descr.root_schema_ptr(),
            props,
        )?;
        let columns = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
        Ok(Self {
            path,
            writer,
            descr,
            arrow_schema: schema,
            columns,
            max_row_group_rows,
            encoding: None,
        })
    }

    /// Whether `input`'s row groups can be copied as they are: same Parquet schema.
    pub(crate) fn can_copy_from(&self, input: &InputFile) -> bool {
        input.meta.file_metadata().schema_descr().root_schema() == self.descr.root_schema()
    }

    /// Splices one row group of `input` in without decoding it.
    pub(crate) fn copy_row_group(&mut self, input: &InputFile, rg_idx: usize) -> Result<()> {
        let meta = &input.meta;
        let rg = meta.row_group(rg_idx);
        let column_indexes = meta.column_index().and_then(|ci| ci.get(rg_idx));
        let offset_indexes = meta.offset_index().and_then(|oi| oi.get(rg_idx));
        let mut out = self.writer.next_row_group()?;
        for (col_idx, column) in rg.columns().iter().enumerate() {
            let result = ColumnCloseResult {
                bytes_written: u64::try_from(column.compressed_size()).unwrap_or(0),
                rows_written: u64::try_from(rg.num_rows()).unwrap_or(0),
                metadata: column.clone(),
                bloom_filter: None,
                column_index: column_indexes.and_then(|row| row.get(col_idx)).cloned(),
                offset_index: offset_indexes.and_then(|row| row.get(col_idx)).cloned(),
            };
            out.append_column(&input.file, result)?;
        }
        out.close()?;
        Ok(())
    }

    /// Encodes rows (already in the output schema) into the current row group, closing it
    /// at the row-group size.
    pub(crate) fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let (writers, rows) = match &mut self.encoding {
                Some(enc) => enc,
                None => self.encoding.insert((
                    self.columns
                        .create_column_writers(self.writer.flushed_row_groups().len())?,
                    0,
                )),
            };
            let take = (self.max_row_group_rows - *rows).min(batch.num_rows() - offset);
            let slice = batch.slice(offset, take);
            let mut leaf_writers = writers.iter_mut();
            for (field, column) in self.arrow_schema.fields().iter().zip(slice.columns()) {
                for leaf in compute_leaves(field, column)? {
                    leaf_writers
                        .next()
                        .ok_or_else(|| Error::StagedPart {
                            path: self.path.clone(),
                            detail: "more leaf columns than column writers".into(),
                        })?
                        .write(&leaf)?;
                }
            }
            *rows += take;
            offset += take;
            if *rows >= self.max_row_group_rows {
                self.flush_encoded()?;
            }
        }
        Ok(())
    }

    fn flush_encoded(&mut self) -> Result<()> {
        let Some((writers, rows)) = self.encoding.take() else {
            return Ok(());
        };
        if rows == 0 {
            return Ok(());
        }
        let mut rg = self.writer.next_row_group()?;
        for writer in writers {
            writer.close()?.append_to_row_group(&mut rg)?;
        }
        rg.close()?;
        Ok(())
    }

    pub(crate) fn bytes_written(&self) -> usize {
        self.writer.bytes_written()
    }

    /// Writes the footer. Returns the path, the file size and the footer.
    pub(crate) fn finish(mut self) -> Result<(PathBuf, u64, ParquetMetaData)> {
        self.flush_encoded()?;
        let meta = self.writer.close()?;
        // The file must be on disk before a commit points at it: a power cut after the log
        // entry would otherwise leave the table referencing a torn file.
        let file = File::open(&self.path)
            .and_then(|f| f.sync_all().map(|()| f))
            .map_err(|e| Error::io(format!("syncing {}", self.path.display()), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(format!("reading the size of {}", self.path.display()), e))?
            .len();
        Ok((self.path, size, meta))
    }

    /// Deletes the unfinished file.
    pub(crate) fn abort(self) {
        let path = self.path.clone();
        drop(self);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an unfinished data file");
        }
    }
}
