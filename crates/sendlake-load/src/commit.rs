//! End-of-run commits: one Delta version per table. The staged parts' row groups are copied
//! into the table's new data file ([`crate::assemble`]) and delta-rs's transaction API commits
//! the `add` and `remove` actions as one log entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use deltalake::datafusion::physical_plan::common::collect;
use deltalake::datafusion::prelude::{DataFrame, SessionContext};
use deltalake::delta_datafusion::create_session;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, MetadataExt as _, Remove, StructType};
use deltalake::logstore::ObjectStoreRef;
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError, ensure_table_uri};
use object_store::ObjectStoreExt as _;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use parquet::file::properties::WriterProperties;
use tokio::io::AsyncWriteExt as _;
use url::Url;

use crate::assemble::{self, InputFile, OutputFile, ReplaceFilter, RowGroupMatch};
use crate::error::{Error, Result};
use crate::staging::StagedPart;
use crate::{profile, stats};

/// What a commit does to the rows already in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// Keep existing rows, add the staged ones.
    Append,
    /// Replace every row in the table.
    ReplaceAll,
    /// Replace the rows matching a conjunction of `column IN (values)` terms, e.g.
    /// `[("source", ["sen2"]), ("submission_id", ["919-2026", "201-2026"])]`. Values are
    /// compared as strings (non-string columns are cast to string). Every staged row must
    /// itself match, or the commit fails: a run may only write the submissions it replaces.
    ReplaceWhere(Vec<(String, Vec<String>)>),
}

/// One table's end-of-run commit.
#[derive(Debug, Clone)]
pub struct TableCommit {
    /// Table location, from [`crate::Lake::table_uri`].
    pub table_uri: String,
    /// Schema of the staged parts; becomes (or extends) the table schema.
    pub schema: SchemaRef,
    /// Staged files to load. May be empty (no rows this run).
    pub parts: Vec<StagedPart>,
    /// How existing rows are treated.
    pub mode: WriteMode,
    /// Recorded in the commit (`commitInfo.run_id` and `commitInfo.userMetadata`).
    pub run_id: String,
    /// Extra key/values merged into `commitInfo`.
    pub app_metadata: serde_json::Map<String, serde_json::Value>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    /// The table.
    pub table_uri: String,
    /// The new table version.
    pub version: i64,
    /// Staged rows written (rows rewritten to keep non-matching data are not counted).
    pub rows_written: u64,
    /// Data files added by this version.
    pub files_added: usize,
    /// Data files removed by this version.
    pub files_removed: usize,
}

/// Commits the staged parts to the table as exactly one new Delta version.
///
/// * Creates the table when missing (protocol 1/2, no table features, no partitioning).
/// * The version carries both the removal of replaced rows and the new files, so readers
///   see the old or the new state, never half. With no parts, a `ReplaceWhere` still
///   removes those submissions' rows.
/// * Nullable columns new to the table are added, and a NOT NULL column may become nullable;
///   a missing or retyped column, a new non-nullable one, or a nullable one made NOT NULL, is
///   refused before anything is written.
/// * Staged parts are already in the published Parquet format, so their row groups are
///   copied into the table's data file without being decoded (see [`crate::assemble`]).
///   Rows kept from a rewritten file are copied the same way when their row group holds
///   only kept rows; memory stays at about one row group, whatever the table size.
pub async fn commit_table(commit: TableCommit) -> Result<CommitOutcome> {
    let TableCommit {
        table_uri,
        schema,
        parts,
        mode,
        run_id,
        app_metadata,
    } = commit;

    profile::check_schema(&schema)?;
    let filter = match &mode {
        WriteMode::ReplaceWhere(terms) => Some(ReplaceFilter::new(&schema, terms)?),
        WriteMode::Append | WriteMode::ReplaceAll => None,
    };

    crate::store::register_handlers();
    let url = ensure_table_uri(&table_uri)?;
    // On a local lake the data files are assembled in the table's own folder. On an object
    // store they are assembled in a scratch folder beside the staged parts (the staging
    // volume is sized for the run's data) and uploaded before the commit.
    let scratch = match url.to_file_path() {
        Ok(_) => None,
        Err(()) => Some(Scratch::new(&parts)?),
    };
    let table_dir = match (&scratch, url.to_file_path()) {
        (Some(s), _) => s.dir.clone(),
        (None, Ok(dir)) => dir,
        (None, Err(())) => {
            return Err(Error::InvalidLocation {
                location: table_uri.clone(),
                reason: "neither a local folder nor an object store".into(),
            });
        }
    };
    let table = DeltaTable::try_from_url(url).await?;
    let mut schema_change = None;
    let mut existing = Vec::new();
    if table.version().is_some() {
        let state = table.snapshot()?;
        let current = state.schema();
        if check_schema_change(&table_uri, &current, &schema)? {
            let incoming: StructType = schema.as_ref().try_into_kernel()?;
            schema_change = Some(
                state
                    .metadata()
                    .clone()
                    .with_schema(&incoming)
                    .map_err(DeltaTableError::from)?,
            );
        }
        for file in state.log_data() {
            let remove = file.remove_action(true);
            if remove.deletion_vector.is_some() {
                return Err(Error::SchemaContract {
                    table_uri,
                    detail: format!(
                        "data file {} has a deletion vector, which the Power BI-safe profile does not allow",
                        file.path()
                    ),
                });
            }
            existing.push(ExistingFile {
                path: file.path().into_owned(),
                remove,
            });
        }
    }

    if scratch.is_some() && matches!(mode, WriteMode::ReplaceWhere(_)) {
        // A replace reads the current files to keep their other rows: fetch them first.
        // (They are bounded by the table's size; a council's tables are megabytes.)
        let store = table.object_store();
        for file in &existing {
            download(
                &store,
                &file.path,
                &local_data_path(&table_dir, &file.path)?,
            )
            .await?;
        }
    }

    let job = AssembleJob {
        table_dir,
        schema: schema.clone(),
        parts,
        mode: match (&mode, filter) {
            (WriteMode::Append, _) => Existing::Keep,
            (WriteMode::ReplaceAll, _) => Existing::RemoveAll,
            (WriteMode::ReplaceWhere(_), Some(filter)) => Existing::Replace(filter),
            (WriteMode::ReplaceWhere(_), None) => {
                return Err(Error::InvalidWriteMode(
                    "ReplaceWhere without a filter".into(),
                ));
            }
        },
        existing,
        props: profile::published_writer_properties(&run_id)?,
    };
    let predicate = match &job.mode {
        Existing::Replace(filter) => Some(filter.sql()),
        Existing::Keep | Existing::RemoveAll => None,
    };
    // Copying row groups is blocking file IO; keep it off the async workers.
    let assembled = tokio::task::spawn_blocking(move || assemble(job))
        .await
        .map_err(|e| Error::io("assembling data files", std::io::Error::other(e)))??;

    let mut metadata = app_metadata;
    metadata.insert("run_id".into(), run_id.clone().into());
    // userMetadata is the field Spark/Fabric show in DESCRIBE HISTORY.
    metadata
        .entry("userMetadata")
        .or_insert_with(|| format!("sendlake run {run_id}").into());
    metadata.insert(
        "operationMetrics".into(),
        serde_json::json!({
            "num_added_files": assembled.adds.len(),
            "num_removed_files": assembled.removes.len(),
            "num_added_rows": assembled.staged_rows,
            "num_copied_rows": assembled.kept_rows,
        }),
    );
    let files_added = assembled.adds.len();
    let files_removed = assembled.removes.len();
    let written: Vec<String> = assembled.adds.iter().map(|a| a.path.clone()).collect();
    if scratch.is_some() {
        let store = table.object_store();
        for (i, name) in written.iter().enumerate() {
            let uploaded = upload(&store, &assembled.table_dir.join(name), name).await;
            if let Err(e) = uploaded {
                for done in &written[..i] {
                    let _ = store.delete(&ObjectPath::from(done.as_str())).await;
                }
                return Err(e);
            }
        }
    }

    let committed = match table.version() {
        None => {
            let incoming: StructType = schema.as_ref().try_into_kernel()?;
            CreateBuilder::new()
                .with_log_store(table.log_store())
                .with_columns(incoming.fields().cloned())
                .with_actions(assembled.adds.into_iter().map(Action::Add))
                .with_commit_properties(CommitProperties::default().with_metadata(metadata))
                .await
                .map_err(Error::from)
                .and_then(|t| {
                    t.version()
                        .ok_or_else(|| {
                            DeltaTableError::Generic("table has no version after create".into())
                        })
                        .and_then(version_i64)
                        .map_err(Error::from)
                })
        }
        Some(_) => {
            let mut actions = Vec::with_capacity(1 + files_added + files_removed);
            actions.extend(schema_change.map(Action::Metadata));
            actions.extend(assembled.removes.into_iter().map(Action::Remove));
            actions.extend(assembled.adds.into_iter().map(Action::Add));
            let operation = DeltaOperation::Write {
                mode: match mode {
                    WriteMode::Append => SaveMode::Append,
                    WriteMode::ReplaceAll | WriteMode::ReplaceWhere(_) => SaveMode::Overwrite,
                },
                partition_by: None,
                predicate,
            };
            let state = table.snapshot()?;
            CommitBuilder::from(CommitProperties::default().with_metadata(metadata))
                .with_actions(actions)
                .build(Some(state), table.log_store(), operation)
                .await
                .map_err(Error::from)
                .and_then(|c| version_i64(c.version()).map_err(Error::from))
        }
    };
    let version = match committed {
        Ok(v) => v,
        Err(e) => {
            // Nothing references the new files; remove them rather than leave them for vacuum.
            if scratch.is_some() {
                let store = table.object_store();
                for name in &written {
                    let _ = store.delete(&ObjectPath::from(name.as_str())).await;
                }
            } else {
                for name in &written {
                    let _ = std::fs::remove_file(assembled.table_dir.join(name));
                }
            }
            return Err(e);
        }
    };
    drop(scratch);

    let outcome = CommitOutcome {
        table_uri,
        version,
        rows_written: assembled.staged_rows,
        files_added,
        files_removed,
    };
    tracing::info!(
        table_uri = %outcome.table_uri,
        version = outcome.version,
        rows = outcome.rows_written,
        rows_copied = assembled.kept_rows,
        files_added = outcome.files_added,
        files_removed = outcome.files_removed,
        %run_id,
        "committed table"
    );
    Ok(outcome)
}

/// A scratch folder for one commit's data files on an object-store lake; removed on drop,
/// whatever happened.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(parts: &[StagedPart]) -> Result<Self> {
        let parent = parts
            .first()
            .and_then(|p| p.path.parent())
            .map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = parent.join(format!(".commit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Self { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove a commit's scratch folder");
        }
    }
}

/// Streams a local data file to the table's store (multipart for large files).
async fn upload(store: &ObjectStoreRef, local: &Path, name: &str) -> Result<()> {
    let err = |e: std::io::Error| {
        Error::io(
            format!("uploading {} to the table as {name}", local.display()),
            e,
        )
    };
    let mut file = tokio::fs::File::open(local).await.map_err(err)?;
    let mut writer = BufWriter::new(store.clone(), ObjectPath::from(name));
    let copied = tokio::io::copy(&mut file, &mut writer).await;
    match copied {
        Ok(_) => writer.shutdown().await.map_err(err),
        Err(e) => {
            let _ = writer.abort().await;
            Err(err(e))
        }
    }
}

/// Fetches a data file of the table to a local path.
async fn download(store: &ObjectStoreRef, name: &str, local: &Path) -> Result<()> {
    use futures::StreamExt as _;
    let object_err = |source| Error::ObjectStore {
        context: format!("reading data file {name}"),
        source,
    };
    let io_err = |e| Error::io(format!("writing {}", local.display()), e);
    if let Some(parent) = local.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io_err)?;
    }
    let mut stream = store
        .get(&ObjectPath::from(name))
        .await
        .map_err(object_err)?
        .into_stream();
    let mut file = tokio::fs::File::create(local).await.map_err(io_err)?;
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk.map_err(object_err)?)
            .await
            .map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)
}

/// A data file of the current version.
struct ExistingFile {
    /// Path relative to the table root, as in the log.
    path: String,
    remove: Remove,
}

/// What happens to the current version's files.
enum Existing {
    Keep,
    RemoveAll,
    /// Remove the rows the filter matches; files holding other rows too are rewritten.
    Replace(ReplaceFilter),
}

struct AssembleJob {
    table_dir: PathBuf,
    schema: SchemaRef,
    parts: Vec<StagedPart>,
    mode: Existing,
    existing: Vec<ExistingFile>,
    props: WriterProperties,
}

struct Assembled {
    table_dir: PathBuf,
    adds: Vec<Add>,
    removes: Vec<Remove>,
    staged_rows: u64,
    kept_rows: u64,
}

/// Writes the new data file(s): every staged row group, plus the surviving row groups of
/// files a replace has to rewrite. Nothing is committed here; on error (a part that does not
/// match the commit, or holds rows outside the replace) every file written so far is deleted.
fn assemble(job: AssembleJob) -> Result<Assembled> {
    let AssembleJob {
        table_dir,
        schema,
        parts,
        mode,
        existing,
        props,
    } = job;

    // Decide the fate of each existing file.
    let mut removes = Vec::new();
    let mut rewrites: Vec<(InputFile, Vec<(usize, RowGroupMatch)>)> = Vec::new();
    match &mode {
        Existing::Keep => {}
        Existing::RemoveAll => removes.extend(existing.into_iter().map(|f| f.remove)),
        Existing::Replace(filter) => {
            for file in existing {
                let path = local_data_path(&table_dir, &file.path)?;
                let input = InputFile::open(&path)?;
                let descr = input.meta.file_metadata().schema_descr_ptr();
                let verdicts: Vec<(usize, RowGroupMatch)> = input
                    .row_groups()
                    .iter()
                    .enumerate()
                    .map(|(i, rg)| (i, filter.row_group(&descr, rg)))
                    .collect();
                if verdicts.iter().all(|(_, m)| *m == RowGroupMatch::None) {
                    continue;
                }
                removes.push(file.remove);
                let survivors: Vec<_> = verdicts
                    .into_iter()
                    .filter(|(_, m)| *m != RowGroupMatch::All)
                    .collect();
                if !survivors.is_empty() {
                    rewrites.push((input, survivors));
                }
            }
        }
    }

    std::fs::create_dir_all(&table_dir)
        .map_err(|e| Error::io(format!("creating {}", table_dir.display()), e))?;
    let mut out = Outputs::new(table_dir.clone(), schema.clone(), props);
    let result = (|| -> Result<(u64, u64)> {
        // One part open at a time, checked just before it is copied: a run may have
        // thousands of parts, and a bad one aborts the output (deleting what was written).
        let mut staged_rows = 0;
        for part in &parts {
            let input = InputFile::open(&part.path).map_err(|e| Error::StagedPart {
                path: part.path.clone(),
                detail: format!("cannot open: {e}"),
            })?;
            check_part(part, &input, &schema)?;
            if let Existing::Replace(filter) = &mode {
                check_part_matches(&input, filter)?;
            }
            staged_rows += out.append_file(&input, &schema)?;
        }
        let mut kept_rows = 0;
        if let Existing::Replace(filter) = &mode {
            for (input, survivors) in &rewrites {
                kept_rows += out.append_survivors(input, survivors, filter, &schema)?;
            }
        }
        Ok((staged_rows, kept_rows))
    })();
    let (staged_rows, kept_rows) = match result {
        Ok(counts) => counts,
        Err(e) => {
            out.abort();
            return Err(e);
        }
    };
    let adds = out.finish()?;
    Ok(Assembled {
        table_dir,
        adds,
        removes,
        staged_rows,
        kept_rows,
    })
}

/// The new data files of one commit, rolled at the published target size.
struct Outputs {
    table_dir: PathBuf,
    schema: SchemaRef,
    props: WriterProperties,
    current: Option<OutputFile>,
    done: Vec<(String, u64, parquet::file::metadata::ParquetMetaData)>,
}

impl Outputs {
    fn new(table_dir: PathBuf, schema: SchemaRef, props: WriterProperties) -> Self {
        Self {
            table_dir,
            schema,
            props,
            current: None,
            done: Vec::new(),
        }
    }

    fn file(&mut self) -> Result<&mut OutputFile> {
        if self.current.is_none() {
            // The delta-rs naming scheme, so the files look familiar next to its own.
            let name = format!("part-00000-{}-c000.zstd.parquet", uuid::Uuid::new_v4());
            self.current = Some(OutputFile::create(
                self.table_dir.join(name),
                self.schema.clone(),
                self.props.clone(),
            )?);
        }
        self.current
            .as_mut()
            .ok_or_else(|| Error::io("opening a data file", std::io::ErrorKind::NotFound.into()))
    }

    fn roll_if_full(&mut self) -> Result<()> {
        if let Some(f) = &self.current
            && f.bytes_written() as u64 >= profile::PUBLISHED_TARGET_FILE_BYTES
        {
            self.close_current()?;
        }
        Ok(())
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some(f) = self.current.take() {
            let (path, size, meta) = f.finish()?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.done.push((name, size, meta));
        }
        Ok(())
    }

    /// Appends all rows of a staged part. Returns the rows appended.
    fn append_file(&mut self, input: &InputFile, schema: &SchemaRef) -> Result<u64> {
        let mut rows = 0;
        for rg in 0..input.row_groups().len() {
            rows += self.append_row_group(input, rg, None, schema)?;
        }
        Ok(rows)
    }

    /// Appends the rows of a rewritten file that the replace keeps.
    fn append_survivors(
        &mut self,
        input: &InputFile,
        survivors: &[(usize, RowGroupMatch)],
        filter: &ReplaceFilter,
        schema: &SchemaRef,
    ) -> Result<u64> {
        let mut rows = 0;
        for (rg, verdict) in survivors {
            let drop_matching = (*verdict == RowGroupMatch::Unknown).then_some(filter);
            rows += self.append_row_group(input, *rg, drop_matching, schema)?;
        }
        Ok(rows)
    }

    /// Copies a row group as it is when it can; otherwise decodes it, drops the rows
    /// `drop_matching` matches, reshapes to the commit schema and encodes the rest.
    fn append_row_group(
        &mut self,
        input: &InputFile,
        rg: usize,
        drop_matching: Option<&ReplaceFilter>,
        schema: &SchemaRef,
    ) -> Result<u64> {
        let out = self.file()?;
        let rows = if drop_matching.is_none() && out.can_copy_from(input) {
            out.copy_row_group(input, rg)?;
            u64::try_from(input.row_groups()[rg].num_rows()).unwrap_or(0)
        } else {
            let mut rows = 0u64;
            input.for_each_batch(rg, |batch| {
                let batch = match drop_matching {
                    Some(filter) => {
                        let keep = deltalake::arrow::compute::not(&filter.mask(&batch)?)?;
                        deltalake::arrow::compute::filter_record_batch(&batch, &keep)?
                    }
                    None => batch,
                };
                if batch.num_rows() > 0 {
                    let batch = assemble::to_schema(&batch, schema)?;
                    rows += batch.num_rows() as u64;
                    self.file()?.write_batch(&batch)?;
                }
                Ok(())
            })?;
            rows
        };
        self.roll_if_full()?;
        Ok(rows)
    }

    /// Writes the footers and makes an `add` action per file.
    fn finish(mut self) -> Result<Vec<Add>> {
        let closed = self.close_current();
        if let Err(e) = closed {
            self.abort();
            return Err(e);
        }
        let mut adds = Vec::with_capacity(self.done.len());
        for (name, size, meta) in &self.done {
            adds.push(stats::add_action(name.clone(), *size, meta)?);
        }
        Ok(adds)
    }

    fn abort(mut self) {
        if let Some(f) = self.current.take() {
            f.abort();
        }
        for (name, _, _) in &self.done {
            let _ = std::fs::remove_file(self.table_dir.join(name));
        }
    }
}

/// A data file's local path from its log path. Paths in the log are relative to the table
/// root; sendlake never writes absolute ones, and refuses to follow one out of the table.
fn local_data_path(table_dir: &Path, log_path: &str) -> Result<PathBuf> {
    let rel = Path::new(log_path);
    if log_path.contains("://")
        || rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::InvalidPath {
            path: log_path.to_owned(),
            reason: "data file paths must be relative to the table root",
        });
    }
    Ok(table_dir.join(rel))
}

/// Every staged row must match the replace predicate: a run may only write the submissions it
/// replaces.
fn check_part_matches(input: &InputFile, filter: &ReplaceFilter) -> Result<()> {
    let descr = input.meta.file_metadata().schema_descr_ptr();
    for (i, rg) in input.row_groups().iter().enumerate() {
        let fail = || Error::StagedPart {
            path: input.path.clone(),
            detail: format!(
                "row group {i} failed validation: it holds rows outside the replace predicate {}",
                filter.sql()
            ),
        };
        match filter.row_group(&descr, rg) {
            RowGroupMatch::All => {}
            RowGroupMatch::None => return Err(fail()),
            RowGroupMatch::Unknown => input.for_each_batch(i, |batch| {
                let mask = filter.mask(&batch)?;
                if mask.true_count() == batch.num_rows() {
                    Ok(())
                } else {
                    Err(fail())
                }
            })?,
        }
    }
    Ok(())
}

/// All rows of the current version. Collects into memory: for tests, checks and small tables.
pub async fn read_table(table_uri: &str) -> Result<Vec<RecordBatch>> {
    let table = open_existing(table_uri)
        .await?
        .ok_or_else(|| DeltaTableError::NotATable(table_uri.to_owned()))?;
    let (_, stream) = table.scan_table().await?;
    collect(stream)
        .await?
        .iter()
        .map(without_view_types)
        .collect()
}

/// DataFusion scans strings as `Utf8View`; callers compare against the schemas they staged
/// with, which use `Utf8`/`Binary` (what Delta's `string`/`binary` map to), so cast back.
fn without_view_types(batch: &RecordBatch) -> Result<RecordBatch> {
    let plain = |dt: &DataType| match dt {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        _ => None,
    };
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| plain(f.data_type()).is_some())
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        match plain(field.data_type()) {
            Some(dt) => {
                columns.push(deltalake::arrow::compute::cast(column, &dt)?);
                fields.push(field.as_ref().clone().with_data_type(dt));
            }
            None => {
                columns.push(column.clone());
                fields.push(field.as_ref().clone());
            }
        }
    }
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// The current version, or `None` if there is no table at `table_uri`. Never creates anything.
pub async fn table_version(table_uri: &str) -> Result<Option<i64>> {
    open_existing(table_uri)
        .await?
        .and_then(|t| t.version())
        .map(version_i64)
        .transpose()
        .map_err(Error::from)
}

/// delta-rs 1.x counts versions in `u64`; the Delta protocol (and our API) uses a signed long.
fn version_i64(version: u64) -> Result<i64, DeltaTableError> {
    i64::try_from(version)
        .map_err(|_| DeltaTableError::Generic(format!("table version {version} exceeds i64")))
}

/// Rows in the current version (0 if there is no table).
pub async fn count_rows(table_uri: &str) -> Result<u64> {
    let Some(table) = open_existing(table_uri).await? else {
        return Ok(0);
    };
    // COUNT(*) is answered from the Delta file statistics when they are exact.
    let rows = table_frame(&table).await?.count().await?;
    Ok(rows as u64)
}

/// The current version of a table as a DataFusion frame, for counting and filtering.
pub(crate) async fn table_frame(table: &DeltaTable) -> Result<DataFrame> {
    let ctx: SessionContext = create_session().into_inner();
    table.update_datafusion_session(&ctx.state())?;
    let provider = table.table_provider().await?;
    Ok(ctx.read_table(provider)?)
}

/// The value under `key` in `commitInfo` of the newest of the last `max_commits` commits that
/// has one, or `None` (no table, or no such commit). This is how a source's incremental cursor
/// is read back: it is written into the same commit as the data it covers, so it can never run
/// ahead of, or behind, the committed rows.
pub async fn latest_commit_value(
    table_uri: &str,
    key: &str,
    max_commits: usize,
) -> Result<Option<serde_json::Value>> {
    use futures::TryStreamExt as _;
    let Some(table) = open_existing(table_uri).await? else {
        return Ok(None);
    };
    let mut history = table.history(Some(max_commits));
    while let Some(info) = history.try_next().await? {
        if let Some(v) = info.info.get(key) {
            return Ok(Some(v.clone()));
        }
    }
    Ok(None)
}

/// Opens a table without side effects: a local location that does not exist, or a directory
/// without a Delta log, is `None`.
pub(crate) async fn open_existing(table_uri: &str) -> Result<Option<DeltaTable>> {
    crate::store::register_handlers();
    let local = match Url::parse(table_uri) {
        Ok(url) if url.scheme() == "file" => {
            Some(url.to_file_path().map_err(|()| Error::InvalidLocation {
                location: table_uri.to_owned(),
                reason: "not a local file URL".into(),
            })?)
        }
        Ok(url) if url.scheme().len() > 1 => None,
        _ => Some(PathBuf::from(table_uri)),
    };
    if local.is_some_and(|p| !p.exists()) {
        return Ok(None);
    }
    let table = DeltaTable::try_from_url(ensure_table_uri(table_uri)?).await?;
    Ok(table.version().is_some().then_some(table))
}

/// Each part must carry the commit's columns and the row count it claims; a mismatch is a
/// pipeline bug that would otherwise surface as wrong data.
fn check_part(part: &StagedPart, input: &InputFile, schema: &Schema) -> Result<()> {
    let bad = |detail: String| Error::StagedPart {
        path: part.path.clone(),
        detail,
    };
    let file_schema = input.arrow_schema()?;
    let same = file_schema.fields().len() == schema.fields().len()
        && file_schema
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| {
                a.name() == b.name()
                    && a.data_type() == b.data_type()
                    && a.is_nullable() == b.is_nullable()
            });
    if !same {
        return Err(bad(format!(
            "columns differ from the commit schema: file has {:?}, commit has {:?}",
            file_schema.fields(),
            schema.fields()
        )));
    }
    if input.num_rows() != part.rows {
        return Err(bad(format!(
            "holds {} rows but the part says {}",
            input.num_rows(),
            part.rows
        )));
    }
    Ok(())
}

/// Checks the incoming schema against the table's. Returns whether the table's schema
/// changes: columns added, or a column that may now be null (a value the schema once required
/// that a defective record can now leave out: the table's metadata must say so, or readers
/// refuse the nulls). A column may never become NOT NULL: older rows may hold nulls.
fn check_schema_change(table_uri: &str, existing: &StructType, incoming: &Schema) -> Result<bool> {
    let incoming: StructType = incoming.try_into_kernel()?;
    let mut problems = Vec::new();
    let mut relaxed = 0;
    for field in existing.fields() {
        match incoming.field(field.name()) {
            None => problems.push(format!("column {:?} is missing", field.name())),
            Some(new) if new.data_type() != field.data_type() => problems.push(format!(
                "column {:?} would change type from {} to {}",
                field.name(),
                field.data_type(),
                new.data_type()
            )),
            Some(new) if new.is_nullable() && !field.is_nullable() => relaxed += 1,
            Some(new) if !new.is_nullable() && field.is_nullable() => problems.push(format!(
                "column {:?} would become NOT NULL (existing rows may hold nulls)",
                field.name()
            )),
            Some(_) => {}
        }
    }
    let mut added = 0;
    for field in incoming.fields() {
        if existing.field(field.name()).is_some() {
            continue;
        }
        if field.is_nullable() {
            added += 1;
        } else {
            problems.push(format!(
                "new column {:?} must be nullable (existing rows have no value for it)",
                field.name()
            ));
        }
    }
    if problems.is_empty() {
        Ok(added + relaxed > 0)
    } else {
        Err(Error::SchemaContract {
            table_uri: table_uri.to_owned(),
            detail: problems.join("; "),
        })
    }
}
