//! End-of-run commits: one Delta version per table, fed by streaming the staged files through
//! DataFusion into delta-rs's `WriteBuilder`.

use std::fs::File;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use deltalake::datafusion::common::Column;
use deltalake::datafusion::datasource::{MemTable, provider_as_source};
use deltalake::datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, UNNAMED_TABLE, cast, lit,
};
use deltalake::datafusion::physical_plan::common::collect;
use deltalake::datafusion::prelude::{ParquetReadOptions, SessionContext};
use deltalake::delta_datafusion::create_session;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError, ensure_table_uri};
use futures::TryStreamExt as _;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use url::Url;

use crate::error::{Error, Result};
use crate::profile;
use crate::staging::StagedPart;

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
/// * Nullable columns new to the table are added; a missing or retyped column, or a new
///   non-nullable one, is refused before anything is written.
/// * The staged files are streamed (DataFusion scan → delta-rs writer); memory stays at
///   about one published row group plus a few scan batches, whatever the table size.
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
    let predicate = match &mode {
        WriteMode::ReplaceWhere(terms) => Some(replace_predicate(&schema, terms)?),
        WriteMode::Append | WriteMode::ReplaceAll => None,
    };
    for part in &parts {
        check_part(part, &schema)?;
    }

    let url = ensure_table_uri(&table_uri)?;
    let table = DeltaTable::try_from_url(url).await?;
    let schema_mode = match table.version() {
        Some(_) => {
            let existing = table.snapshot()?.schema();
            let adds_columns = check_schema_change(&table_uri, &existing, &schema)?;
            adds_columns.then_some(SchemaMode::Merge)
        }
        None => None,
    };

    // One session for both the staged-file scan and the write, so the plan built here runs
    // with the same configuration and object stores.
    let ctx: SessionContext = create_session().into_inner();
    let input = staged_input_plan(&ctx, &schema, &parts).await?;

    let mut metadata = app_metadata;
    metadata.insert("run_id".into(), run_id.clone().into());
    // userMetadata is the field Spark/Fabric show in DESCRIBE HISTORY.
    metadata
        .entry("userMetadata")
        .or_insert_with(|| format!("sendlake run {run_id}").into());

    let mut write = table
        .write(Vec::new())
        .with_input_plan(input)
        .with_session_state(Arc::new(ctx.state()))
        .with_save_mode(match mode {
            WriteMode::Append => SaveMode::Append,
            WriteMode::ReplaceAll | WriteMode::ReplaceWhere(_) => SaveMode::Overwrite,
        })
        .with_writer_properties(profile::published_writer_properties(&run_id)?)
        .with_target_file_size(NonZeroU64::new(profile::PUBLISHED_TARGET_FILE_BYTES))
        .with_commit_properties(CommitProperties::default().with_metadata(metadata));
    if let Some(predicate) = predicate {
        write = write.with_replace_where(predicate);
    }
    if let Some(schema_mode) = schema_mode {
        write = write.with_schema_mode(schema_mode);
    }
    let table = write.await?;

    let version = table
        .version()
        .ok_or_else(|| DeltaTableError::Generic("table has no version after commit".into()))
        .and_then(version_i64)?;
    let staged_rows: u64 = parts.iter().map(|p| p.rows).sum();
    let metrics = last_operation_metrics(&table).await;
    let metric = |key: &str| {
        metrics
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(serde_json::Value::as_u64)
    };
    let outcome = CommitOutcome {
        table_uri,
        version,
        rows_written: metric("num_added_rows").unwrap_or(staged_rows),
        files_added: metric("num_added_files").unwrap_or(0) as usize,
        files_removed: metric("num_removed_files").unwrap_or(0) as usize,
    };
    tracing::info!(
        table_uri = %outcome.table_uri,
        version = outcome.version,
        rows = outcome.rows_written,
        files_added = outcome.files_added,
        files_removed = outcome.files_removed,
        %run_id,
        "committed table"
    );
    Ok(outcome)
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
    let ctx: SessionContext = create_session().into_inner();
    table.update_datafusion_session(&ctx.state())?;
    let provider = table.table_provider().await?;
    // COUNT(*) is answered from the Delta file statistics when they are exact.
    let rows = ctx.read_table(provider)?.count().await?;
    Ok(rows as u64)
}

/// Opens a table without side effects: a local location that does not exist, or a directory
/// without a Delta log, is `None`.
async fn open_existing(table_uri: &str) -> Result<Option<DeltaTable>> {
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

/// The logical plan that streams the staged parts. With no parts it is an empty scan with the
/// right schema, so a replace still runs (and removes rows) without inventing data.
async fn staged_input_plan(
    ctx: &SessionContext,
    schema: &SchemaRef,
    parts: &[StagedPart],
) -> Result<LogicalPlan> {
    if parts.is_empty() {
        let empty = MemTable::try_new(schema.clone(), vec![Vec::new()])?;
        return Ok(LogicalPlanBuilder::scan(
            UNNAMED_TABLE,
            provider_as_source(Arc::new(empty)),
            None,
        )?
        .build()?);
    }
    let paths: Vec<String> = parts
        .iter()
        .map(|p| p.path.to_string_lossy().into_owned())
        .collect();
    // Passing the schema stops DataFusion inferring one (e.g. Utf8View for strings): the
    // scan yields exactly the declared Arrow types.
    let options = ParquetReadOptions::default().schema(schema.as_ref());
    Ok(ctx
        .read_parquet(paths, options)
        .await?
        .into_unoptimized_plan())
}

/// Each part must exist and carry the commit's columns; a mismatch is a pipeline bug that
/// DataFusion would otherwise paper over with NULL columns.
fn check_part(part: &StagedPart, schema: &Schema) -> Result<()> {
    let bad = |detail: String| Error::StagedPart {
        path: part.path.clone(),
        detail,
    };
    let file = File::open(&part.path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let file_schema = builder.schema();
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
    let rows = builder.metadata().file_metadata().num_rows();
    if u64::try_from(rows).ok() != Some(part.rows) {
        return Err(bad(format!(
            "holds {rows} rows but the part says {}",
            part.rows
        )));
    }
    Ok(())
}

/// Checks the incoming schema against the table's. Returns whether columns are added.
fn check_schema_change(table_uri: &str, existing: &StructType, incoming: &Schema) -> Result<bool> {
    let incoming: StructType = incoming.try_into_kernel()?;
    let mut problems = Vec::new();
    for field in existing.fields() {
        match incoming.field(field.name()) {
            None => problems.push(format!("column {:?} is missing", field.name())),
            Some(new) if new.data_type() != field.data_type() => problems.push(format!(
                "column {:?} would change type from {} to {}",
                field.name(),
                field.data_type(),
                new.data_type()
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
        Ok(added > 0)
    } else {
        Err(Error::SchemaContract {
            table_uri: table_uri.to_owned(),
            detail: problems.join("; "),
        })
    }
}

/// `c1 IN (...) AND c2 IN (...)`. Column references are built directly (not parsed from SQL)
/// so mixed-case names are not folded to lower case.
fn replace_predicate(schema: &Schema, terms: &[(String, Vec<String>)]) -> Result<Expr> {
    let mut predicate: Option<Expr> = None;
    for (column, values) in terms {
        let field = schema.field_with_name(column).map_err(|_| {
            Error::InvalidWriteMode(format!(
                "ReplaceWhere column {column:?} is not in the table schema"
            ))
        })?;
        if values.is_empty() {
            // `x IN ()` matches nothing, and every staged row would then fail validation;
            // the caller almost certainly meant something else.
            return Err(Error::InvalidWriteMode(format!(
                "ReplaceWhere column {column:?} has no values"
            )));
        }
        let column_expr = Expr::Column(Column::new_unqualified(column));
        let column_expr = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => column_expr,
            // Cast keeps "values matched as strings" true for ints/dates, at the cost of
            // file pruning on that term (delta-rs then checks every file's rows).
            _ => cast(column_expr, DataType::Utf8),
        };
        let term = column_expr.in_list(values.iter().map(|v| lit(v.as_str())).collect(), false);
        predicate = Some(match predicate {
            None => term,
            Some(p) => p.and(term),
        });
    }
    predicate.ok_or_else(|| {
        Error::InvalidWriteMode("ReplaceWhere needs at least one column (use ReplaceAll)".into())
    })
}

/// `operationMetrics` of the latest commit. Missing metrics are not an error: the commit
/// has already happened, so this only affects the numbers reported back.
async fn last_operation_metrics(
    table: &DeltaTable,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let info = table.history(Some(1)).try_next().await.ok()??;
    match info.info.get("operationMetrics")? {
        serde_json::Value::Object(m) => Some(m.clone()),
        _ => None,
    }
}
