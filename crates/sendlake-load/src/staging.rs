//! Local staging: per-run Parquet files that hold conformed rows until the end-of-run commit,
//! so the pipeline never keeps a whole national table in memory. They are written in the
//! published format, and the commit copies their row groups into the table as they are.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::profile;

/// A finished staged Parquet file, ready to be listed in a [`crate::TableCommit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPart {
    /// Absolute path of the staged file.
    pub path: PathBuf,
    /// Rows in the file.
    pub rows: u64,
}

/// A temporary directory holding one run's staged files. It is removed, with everything in
/// it, when dropped, so commit all tables before dropping it.
#[derive(Debug)]
pub struct StagingArea {
    dir: PathBuf,
    next_part: AtomicU64,
}

impl StagingArea {
    /// Creates a fresh, uniquely named directory under `parent` (default: the system temp dir).
    pub fn new(parent: Option<&Path>) -> Result<Self> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        std::fs::create_dir_all(&parent)
            .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // `create_dir` (not `_all`) fails if the name is taken, so two runs started in the same
        // nanosecond in the same process cannot share a directory.
        for attempt in 0..100u32 {
            let dir = parent.join(format!(
                "sendlake-staging-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    return Ok(Self {
                        dir,
                        next_part: AtomicU64::new(0),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(format!("creating {}", dir.display()), e)),
            }
        }
        Err(Error::io(
            format!("creating a staging directory under {}", parent.display()),
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ))
    }

    /// The staging directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Starts a new part file for `table` (which may contain `/`, e.g. `quarantine/sen2_rejects`).
    /// Several writers for the same table may be open at once; each gets its own file.
    pub fn table_writer(&self, table: &str, schema: SchemaRef) -> Result<StagedTableWriter> {
        profile::check_schema(&schema)?;
        let dir = self.dir.join(sanitize_table_dir(table));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let seq = self.next_part.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("part-{seq:06}.parquet"));
        let file = File::create_new(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let writer = ArrowWriter::try_new(
            // Row groups are flushed a column chunk at a time; a large buffer keeps that to a
            // few big writes instead of thousands of 8 KiB ones.
            BufWriter::with_capacity(1 << 20, file),
            schema.clone(),
            Some(profile::staged_writer_properties()?),
        )?;
        Ok(StagedTableWriter {
            table: table.to_owned(),
            schema,
            path,
            writer,
            rows: 0,
        })
    }
}

impl Drop for StagingArea {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove staging directory");
        }
    }
}

/// One table's staging directory name: every path segment reduced to `[A-Za-z0-9_-]` so a
/// table name can never point outside the staging area.
fn sanitize_table_dir(table: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for seg in table.split('/').filter(|s| !s.is_empty()) {
        let clean: String = seg
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        out.push(clean);
    }
    if out.as_os_str().is_empty() {
        out.push("_");
    }
    out
}

/// Appends batches to one staged Parquet file. Memory is bounded by one staged row group
/// (2^20 rows or 64 MiB encoded, whichever comes first).
pub struct StagedTableWriter {
    table: String,
    schema: SchemaRef,
    path: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
    rows: u64,
}

impl std::fmt::Debug for StagedTableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedTableWriter")
            .field("table", &self.table)
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl StagedTableWriter {
    /// Appends a batch. Its schema must have the writer's fields (metadata may differ).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema().fields() != self.schema.fields() {
            return Err(Error::BatchSchemaMismatch {
                table: self.table.clone(),
                detail: format!("expected {:?}, got {:?}", self.schema, batch.schema()),
            });
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        // Re-wrap so the file's embedded Arrow schema is exactly the writer's (a batch whose
        // schema differs only in metadata would otherwise be rejected by the Arrow writer).
        let batch = if batch.schema() == self.schema {
            batch.clone()
        } else {
            RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())?
        };
        self.writer.write(&batch)?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The part file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and closes the file.
    pub fn finish(self) -> Result<StagedPart> {
        let Self {
            writer, path, rows, ..
        } = self;
        let file = writer.into_inner()?;
        file.into_inner()
            .map_err(|e| Error::io(format!("flushing {}", path.display()), e.into_error()))?;
        Ok(StagedPart { path, rows })
    }

    /// Discards everything written and deletes the file (a bad source file is quarantined
    /// whole, so none of its rows may be committed).
    pub fn abort(self) -> Result<()> {
        let Self { writer, path, .. } = self;
        // Closing first releases the file handle; its result does not matter because the file
        // is deleted either way.
        drop(writer);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
        }
    }
}

impl StagingArea {
    /// Rewrites staged `parts` of `table`, keeping only the rows for which `keep(ordinal)` is
    /// true, where `ordinal` counts rows across the parts in order from 0. Used when a source
    /// returned a newer copy of a record later in the same walk: the older copy, already
    /// staged, is dropped here rather than holding every record in memory until the end.
    ///
    /// # Errors
    /// A staged file that cannot be read or a new one that cannot be written.
    pub fn filter_parts(
        &self,
        table: &str,
        schema: SchemaRef,
        parts: Vec<StagedPart>,
        keep: impl Fn(u64) -> bool,
    ) -> Result<Vec<StagedPart>> {
        use arrow_array::BooleanArray;
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let mut out = Vec::with_capacity(parts.len());
        let mut ordinal = 0u64;
        for part in parts {
            let file = File::open(&part.path)
                .map_err(|e| Error::io(format!("opening {}", part.path.display()), e))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
            let mut writer = self.table_writer(table, schema.clone())?;
            for batch in reader {
                let batch = batch?;
                let mask: BooleanArray = (0..batch.num_rows() as u64)
                    .map(|i| Some(keep(ordinal + i)))
                    .collect();
                ordinal += batch.num_rows() as u64;
                let kept = deltalake::arrow::compute::filter_record_batch(&batch, &mask)?;
                writer.write(&kept)?;
            }
            out.push(writer.finish()?);
            std::fs::remove_file(&part.path)
                .map_err(|e| Error::io(format!("removing {}", part.path.display()), e))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_dirs_cannot_escape() {
        assert_eq!(sanitize_table_dir("person"), PathBuf::from("person"));
        assert_eq!(
            sanitize_table_dir("quarantine/sen2_rejects"),
            PathBuf::from("quarantine/sen2_rejects")
        );
        assert_eq!(sanitize_table_dir("../etc"), PathBuf::from("__/etc"));
        assert_eq!(sanitize_table_dir("/abs//x"), PathBuf::from("abs/x"));
        assert_eq!(sanitize_table_dir(""), PathBuf::from("_"));
    }
}
