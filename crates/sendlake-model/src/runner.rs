//! Builds the models: registers inputs and reference tables in one DataFusion session, runs
//! each SQL model in dependency order, checks its output against the declared table, applies
//! suppression to published tables, runs the data-quality checks on the candidate rows, and
//! commits each table in one Delta commit, or blocks it and keeps its previous version.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use deltalake::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::compute::{can_cast_types, cast, concat_batches};
use deltalake::arrow::datatypes::{Date32Type, SchemaRef};
use deltalake::datafusion::catalog::TableProvider;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::physical_plan::display::DisplayableExecutionPlan;
use deltalake::datafusion::physical_plan::{ExecutionPlan, execute_stream};
use deltalake::datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use deltalake::{DeltaTable, ensure_table_uri};
use futures::StreamExt as _;
use sendlake_load::{Lake, StagedPart, StagingArea, TableCommit, WriteMode, commit_table};
use sendlake_schema::{Privacy, SchemaRegistry, SuppressionPolicy, TableDef, Zone};
use tracing::{error, info, warn};

use crate::checks::{self, CheckDef, CheckResult, CheckStatus, Subject};
use crate::error::{ModelError, Result};
use crate::graph::order;
use crate::keys::KeyFingerprints;
use crate::project::ModelProject;
use crate::reference;
use crate::suppress::{AreaTree, Related, SuppressionStats, suppress_related};
use crate::targets::{PERIOD_COMPLETE, hide_rag, with_targets};

/// What the build needs from the run.
pub struct BuildContext<'a> {
    /// The lake.
    pub lake: &'a Lake,
    /// The schema.
    pub registry: &'a SchemaRegistry,
    /// The model project.
    pub project: &'a ModelProject,
    /// Suppression policy for published tables.
    pub policy: SuppressionPolicy,
    /// Staging for candidate outputs.
    pub staging: &'a StagingArea,
    /// The run.
    pub run_id: &'a str,
    /// When the run started (freshness is measured from here).
    pub started: DateTime<Utc>,
    /// Where to write each model's executed physical plan with its metrics (rows and time
    /// per operator), to find what makes a model slow; `None` writes nothing.
    pub plans: Option<&'a std::path::Path>,
}

/// What happened to one output table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Built, checked and committed.
    Committed,
    /// Built, but a failing check kept it back: its previous version stays current.
    Blocked,
    /// Not built: an input it reads failed or was blocked.
    Skipped,
    /// Its SQL or its output was wrong.
    Failed,
}

/// One output table's outcome.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModelOutcome {
    /// Table name.
    pub table: String,
    /// Zone.
    pub zone: String,
    /// Outcome.
    pub status: ModelStatus,
    /// Rows built.
    pub rows: u64,
    /// Committed version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Tables it read.
    pub reads: Vec<String>,
    /// Why it was blocked, skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Suppression applied (published tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<SuppressionStats>,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// Of which: running the SQL, conforming, suppressing and staging the output.
    #[serde(default)]
    pub query_millis: u64,
    /// Of which: the data-quality checks on the candidate rows.
    #[serde(default)]
    pub check_millis: u64,
    /// Of which: the Delta commit.
    #[serde(default)]
    pub commit_millis: u64,
}

/// The whole build.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ModelReport {
    /// Per table, in build order.
    pub models: Vec<ModelOutcome>,
    /// Every check result.
    pub checks: Vec<CheckResult>,
    /// Range of `dim_date`.
    pub date_range: Option<(String, String)>,
}

impl ModelReport {
    /// True when every table was committed and no check failed.
    pub fn ok(&self) -> bool {
        self.models
            .iter()
            .all(|m| m.status == ModelStatus::Committed)
            && !self.checks.iter().any(CheckResult::blocks)
    }
}

fn sql_err(model: &str, file: &str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Sql {
        model: model.to_owned(),
        file: file.to_owned(),
        message: e.to_string(),
    }
}

/// A session with the inputs and reference tables registered.
pub(crate) struct Prepared<'a> {
    pub(crate) ctx: SessionContext,
    pub(crate) inputs: Vec<&'a TableDef>,
    input_rows: BTreeMap<String, u64>,
}

/// Registers every restricted table no model writes, at its current version (or empty), and
/// the reference tables, in a new session.
pub(crate) async fn prepare<'a>(cx: &BuildContext<'a>) -> Result<Prepared<'a>> {
    // DataFusion's own options can be tuned per deployment from `DATAFUSION_*` environment
    // variables (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS); the defaults below apply where
    // none is set.
    let mut config = SessionConfig::from_env()
        .map_err(|e| ModelError::lake("reading DATAFUSION_* settings", e))?
        .with_information_schema(false);
    // A hash join's build side pushed into the probe side's Delta scan as a filter: measured
    // at national scale, a model with five joins on pseudonymised keys ran in 141 s with it and
    // 67 s without (bench/models.sh; the models now avoid that shape, and run in seconds).
    if std::env::var_os("DATAFUSION_OPTIMIZER_ENABLE_JOIN_DYNAMIC_FILTER_PUSHDOWN").is_none() {
        config
            .options_mut()
            .optimizer
            .enable_join_dynamic_filter_pushdown = false;
    }
    let ctx = SessionContext::new_with_config(config);
    let outputs: BTreeSet<&str> = cx
        .project
        .models
        .keys()
        .map(String::as_str)
        .chain(crate::project::BUILT_IN)
        .collect();
    let mut inputs: Vec<&TableDef> = Vec::new();
    let mut input_rows: BTreeMap<String, u64> = BTreeMap::new();
    for def in cx.registry.tables() {
        if def.zone != Zone::Restricted || outputs.contains(def.name.as_str()) {
            continue;
        }
        let uri = cx.lake.table_uri(def.zone, &def.name);
        let present = register_delta(&ctx, &def.name, &uri).await?;
        if !present {
            let empty = MemTable::try_new(def.arrow_schema(), vec![vec![]])
                .map_err(|e| ModelError::lake(format!("registering empty {}", def.name), e))?;
            ctx.register_table(def.name.as_str(), Arc::new(empty))
                .map_err(|e| ModelError::lake(format!("registering {}", def.name), e))?;
        }
        let rows = if present {
            sendlake_load::count_rows(&uri)
                .await
                .map_err(|e| ModelError::lake(format!("counting {}", def.name), e))?
        } else {
            0
        };
        input_rows.insert(def.name.clone(), rows);
        inputs.push(def);
    }
    register_reference(&ctx, cx)?;
    Ok(Prepared {
        ctx,
        inputs,
        input_rows,
    })
}

/// Builds every model of the project. Fails only when the session itself cannot be set up;
/// a failing model or check is recorded in the report and the others go on.
pub async fn build(cx: &BuildContext<'_>) -> Result<ModelReport> {
    let Prepared {
        ctx,
        inputs,
        input_rows,
    } = prepare(cx).await?;
    let mut report = ModelReport::default();
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    let mut related = Related {
        areas: AreaTree::new(&cx.project.geography),
        ..Related::default()
    };

    // Checks on inputs run first: a failing input blocks everything that reads it.
    for check in cx
        .project
        .checks
        .iter()
        .filter(|c| input_rows.contains_key(&c.table))
    {
        let subject = Subject {
            sql_name: &check.table,
            rows: input_rows.get(&check.table).copied().unwrap_or(0),
            previous_rows: None,
            now: cx.started,
            distinct_key: None,
        };
        let result = checks::evaluate(&ctx, check, &subject).await;
        log_check(&result);
        if result.blocks() {
            blocked
                .entry(check.table.clone())
                .or_insert_with(|| format!("input check failed: {}", result.name));
        }
        report.checks.push(result);
    }

    // dim_date first: every model may join to it.
    let started_at = std::time::Instant::now();
    let (first, last) = date_range(&ctx, &inputs, cx.started.date_naive()).await;
    report.date_range = Some((first.to_string(), last.to_string()));
    let dim_date = reference::dim_date(first, last).map_err(|e| ModelError::lake("dim_date", e))?;
    let outcome = publish_batches(
        cx,
        &ctx,
        "dim_date",
        vec![dim_date],
        Vec::new(),
        started_at,
        &mut report.checks,
        &mut related,
    )
    .await?;
    if outcome.status != ModelStatus::Committed {
        blocked.insert(
            "dim_date".into(),
            outcome.reason.clone().unwrap_or_default(),
        );
    }
    report.models.push(outcome);

    for (name, reads) in order(cx, &ctx)? {
        let Some(model) = cx.project.models.get(&name) else {
            continue;
        };
        let started_at = std::time::Instant::now();
        let file = model.file.display().to_string();
        let def = table_def(cx.registry, &name)?;
        if let Some((by, why)) = reads.iter().find_map(|r| blocked.get(r).map(|w| (r, w))) {
            let reason =
                format!("not built: it reads {by}, which was not published this run ({why})");
            warn!(model = %name, reason = %reason, "Model skipped.");
            blocked.insert(name.clone(), format!("reads {by}"));
            report.models.push(ModelOutcome {
                table: name.clone(),
                zone: def.zone.as_str().into(),
                status: ModelStatus::Skipped,
                rows: 0,
                version: None,
                reads,
                reason: Some(reason),
                suppression: None,
                millis: 0,
                query_millis: 0,
                check_millis: 0,
                commit_millis: 0,
            });
            continue;
        }
        let outcome = match run_model(
            cx,
            &ctx,
            &name,
            &file,
            &model.sql,
            reads.clone(),
            started_at,
            &mut report.checks,
            &mut related,
        )
        .await
        {
            Ok(o) => o,
            Err(e) => {
                error!(model = %name, error = %e, "Model failed; its previous version stays current.");
                ModelOutcome {
                    table: name.clone(),
                    zone: def.zone.as_str().into(),
                    status: ModelStatus::Failed,
                    rows: 0,
                    version: None,
                    reads,
                    reason: Some(e.to_string()),
                    suppression: None,
                    millis: elapsed(started_at),
                    query_millis: 0,
                    check_millis: 0,
                    commit_millis: 0,
                }
            }
        };
        if outcome.status != ModelStatus::Committed {
            blocked.insert(name.clone(), outcome.reason.clone().unwrap_or_default());
        }
        report.models.push(outcome);
    }

    write_quality(cx, &report.checks).await?;
    Ok(report)
}

fn elapsed(t: std::time::Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn log_check(r: &CheckResult) {
    match r.status {
        CheckStatus::Pass | CheckStatus::Skipped => {}
        CheckStatus::Warn => warn!(check = %r.name, detail = %r.detail, "Data-quality warning."),
        CheckStatus::Fail | CheckStatus::Error => {
            error!(check = %r.name, detail = %r.detail, "Data-quality check failed; the table is not published this run.");
        }
    }
}

pub(crate) fn table_def<'a>(registry: &'a SchemaRegistry, name: &str) -> Result<&'a TableDef> {
    registry.table(name).ok_or_else(|| ModelError::Output {
        model: name.to_owned(),
        column: String::new(),
        message: "no such table in schemas/tables".into(),
    })
}

/// Registers the current version of a Delta table; false when there is none.
async fn register_delta(ctx: &SessionContext, name: &str, uri: &str) -> Result<bool> {
    let version = sendlake_load::table_version(uri)
        .await
        .map_err(|e| ModelError::lake(format!("opening {name}"), e))?;
    if version.is_none() {
        return Ok(false);
    }
    let url = ensure_table_uri(uri).map_err(|e| ModelError::lake(format!("opening {name}"), e))?;
    let table = DeltaTable::try_from_url(url)
        .await
        .map_err(|e| ModelError::lake(format!("opening {name}"), e))?;
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| ModelError::lake(format!("opening {name}"), e))?;
    let provider: Arc<dyn TableProvider> = table
        .table_provider()
        .await
        .map_err(|e| ModelError::lake(format!("reading {name}"), e))?;
    // Re-registering replaces the previous provider (a model re-read after its commit).
    ctx.deregister_table(name)
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    ctx.register_table(name, provider)
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    Ok(true)
}

fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    ctx.deregister_table(name)
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    Ok(())
}

fn register_reference(ctx: &SessionContext, cx: &BuildContext<'_>) -> Result<()> {
    let geo = &cx.project.geography;
    let tables = [
        ("ref_code", reference::codes(cx.registry)),
        (
            "ref_local_authority",
            reference::local_authorities(cx.registry, geo),
        ),
        ("ref_geography", reference::geography(cx.registry, geo)),
        ("ref_geo_bridge", reference::geo_bridge(geo)),
        ("ref_target", reference::targets(&cx.project.targets)),
    ];
    for (name, batch) in tables {
        let batch = batch.map_err(|e| ModelError::lake(format!("building {name}"), e))?;
        register_batch(ctx, name, batch)?;
    }
    Ok(())
}

/// First and last day the data touches: the min and max of every date column of the inputs
/// that is not a quasi-identifier (birth months would stretch it back 25 years), bounded to
/// 1990 … two years after the run so one absurd date cannot create a million-row calendar.
pub(crate) async fn date_range(
    ctx: &SessionContext,
    inputs: &[&TableDef],
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let lower = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap_or(NaiveDate::MIN);
    let upper = today + chrono::Duration::days(730);
    let mut first: Option<NaiveDate> = None;
    let mut last: Option<NaiveDate> = None;
    for def in inputs {
        let cols: Vec<&str> = def
            .columns
            .iter()
            .filter(|c| {
                c.data_type == sendlake_schema::ColumnType::Date32
                    && c.privacy != Privacy::QuasiIdentifier
            })
            .map(|c| c.name.as_str())
            .collect();
        if cols.is_empty() {
            continue;
        }
        let sel = cols
            .iter()
            .map(|c| format!("min(\"{c}\"), max(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(", ");
        let Ok(df) = ctx
            .sql(&format!("SELECT {sel} FROM \"{}\"", def.name))
            .await
        else {
            continue;
        };
        let Ok(batches) = df.collect().await else {
            continue;
        };
        for b in &batches {
            for col in b.columns() {
                let Some(dates) = col.as_primitive_opt::<Date32Type>() else {
                    continue;
                };
                for i in 0..dates.len() {
                    if dates.is_null(i) {
                        continue;
                    }
                    let Some(d) = reference::from_date32(dates.value(i)) else {
                        continue;
                    };
                    let d = d.clamp(lower, upper);
                    first = Some(first.map_or(d, |f| f.min(d)));
                    last = Some(last.map_or(d, |l| l.max(d)));
                }
            }
        }
    }
    // A SEN2 return's snapshot is its census day, whatever other dates it holds: the
    // calendar must reach every collection's census day or its caseload has nothing to join.
    for def in inputs {
        if !def.columns.iter().any(|c| c.name == "collection_year") {
            continue;
        }
        let sql = format!(
            "SELECT min(collection_year), max(collection_year) FROM \"{}\"",
            def.name
        );
        let Ok(df) = ctx.sql(&sql).await else {
            continue;
        };
        let Ok(batches) = df.collect().await else {
            continue;
        };
        for b in &batches {
            for col in b.columns() {
                let Ok(years) = cast(col, &deltalake::arrow::datatypes::DataType::Int32) else {
                    continue;
                };
                let years = years.as_primitive::<deltalake::arrow::datatypes::Int32Type>();
                for i in 0..years.len() {
                    if let Some(d) = years
                        .is_valid(i)
                        .then(|| sendlake_calendar::census_day(years.value(i)))
                        .flatten()
                    {
                        let d = d.clamp(lower, upper);
                        first = Some(first.map_or(d, |f| f.min(d)));
                        last = Some(last.map_or(d, |l| l.max(d)));
                    }
                }
            }
        }
    }
    (first.unwrap_or(today), last.unwrap_or(today))
}

/// Makes a model's batch exactly the declared table: every declared column present (status
/// columns may be missing when `allow_status` and suppression adds them), no extra ones,
/// types cast to the declared ones, and no nulls in non-nullable columns.
fn conform(
    model: &str,
    batch: &RecordBatch,
    schema: &SchemaRef,
    partial: bool,
) -> Result<RecordBatch> {
    let out_err = |column: &str, message: String| ModelError::Output {
        model: model.to_owned(),
        column: column.to_owned(),
        message,
    };
    let bs = batch.schema();
    for f in bs.fields() {
        if schema.field_with_name(f.name()).is_err() {
            return Err(out_err(
                f.name(),
                format!("the SQL produces it but schemas/tables/{model}.toml does not declare it"),
            ));
        }
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for f in schema.fields() {
        let Ok(idx) = bs.index_of(f.name()) else {
            if partial {
                continue;
            }
            return Err(out_err(
                f.name(),
                format!("declared in schemas/tables/{model}.toml but the SQL does not produce it"),
            ));
        };
        let col = batch.column(idx);
        let col = if col.data_type() == f.data_type() {
            col.clone()
        } else if can_cast_types(col.data_type(), f.data_type()) {
            cast(col, f.data_type()).map_err(|e| {
                out_err(
                    f.name(),
                    format!("cannot cast {} to {}: {e}", col.data_type(), f.data_type()),
                )
            })?
        } else {
            return Err(out_err(
                f.name(),
                format!(
                    "the SQL gives {} but the table declares {}",
                    col.data_type(),
                    f.data_type()
                ),
            ));
        };
        if !f.is_nullable() && col.null_count() > 0 && !partial {
            return Err(out_err(
                f.name(),
                format!(
                    "{} null values in a column declared not null",
                    col.null_count()
                ),
            ));
        }
        fields.push(if partial {
            f.as_ref().clone().with_nullable(true)
        } else {
            f.as_ref().clone()
        });
        columns.push(col);
    }
    let schema = Arc::new(deltalake::arrow::datatypes::Schema::new(fields));
    RecordBatch::try_new_with_options(
        schema,
        columns,
        &deltalake::arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .map_err(|e| out_err("", e.to_string()))
}

#[allow(clippy::too_many_arguments)]
async fn run_model(
    cx: &BuildContext<'_>,
    ctx: &SessionContext,
    name: &str,
    file: &str,
    sql: &str,
    reads: Vec<String>,
    started_at: std::time::Instant,
    checks_out: &mut Vec<CheckResult>,
    related: &mut Related,
) -> Result<ModelOutcome> {
    let def = table_def(cx.registry, name)?;
    let schema = def.arrow_schema();
    let sql = match def.suppression.as_ref().and_then(|s| s.headline.as_deref()) {
        Some(headline) => with_targets(sql, headline, def.has_column(PERIOD_COMPLETE)),
        None => sql.to_owned(),
    };
    let df = ctx.sql(&sql).await.map_err(|e| sql_err(name, file, e))?;
    // The physical plan is kept so its metrics can be written after the run (`plans`).
    let plan = df
        .create_physical_plan()
        .await
        .map_err(|e| sql_err(name, file, e))?;
    let mut stream =
        execute_stream(Arc::clone(&plan), ctx.task_ctx()).map_err(|e| sql_err(name, file, e))?;
    if def.suppression.is_some() {
        // Aggregates are small: the whole table is needed at once, since secondary
        // suppression compares rows with their siblings.
        let mut batches = Vec::new();
        while let Some(b) = stream.next().await {
            let b = b.map_err(|e| sql_err(name, file, e))?;
            batches.push(conform(name, &b, &schema, true)?);
        }
        write_plan(cx, name, &plan);
        return publish_batches(
            cx, ctx, name, batches, reads, started_at, checks_out, related,
        )
        .await;
    }
    let mut writer = cx
        .staging
        .table_writer(name, schema.clone())
        .map_err(|e| ModelError::lake(format!("staging {name}"), e))?;
    let mut keys = KeyFingerprints::new(&schema, &def.primary_key);
    while let Some(b) = stream.next().await {
        let b = b.map_err(|e| sql_err(name, file, e))?;
        let b = conform(name, &b, &schema, false)?;
        fingerprint(name, keys.as_mut(), &b)?;
        writer
            .write(&b)
            .map_err(|e| ModelError::lake(format!("staging {name}"), e))?;
    }
    let part = writer
        .finish()
        .map_err(|e| ModelError::lake(format!("staging {name}"), e))?;
    write_plan(cx, name, &plan);
    let staged = Staged {
        part,
        distinct_key: keys.as_ref().and_then(KeyFingerprints::distinct_key),
    };
    let mut outcome = check_and_commit(cx, ctx, def, staged, reads, None, checks_out).await?;
    outcome.millis = elapsed(started_at);
    outcome.query_millis = outcome
        .millis
        .saturating_sub(outcome.check_millis + outcome.commit_millis);
    Ok(outcome)
}

/// Writes a model's executed plan with its metrics to `<plans>/<model>.txt`. A diagnostic:
/// failing to write it is logged, never fails the model.
fn write_plan(cx: &BuildContext<'_>, name: &str, plan: &Arc<dyn ExecutionPlan>) {
    let Some(dir) = cx.plans else { return };
    let text = DisplayableExecutionPlan::with_metrics(plan.as_ref())
        .indent(true)
        .to_string();
    let path = dir.join(format!("{name}.txt"));
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text)) {
        warn!(file = %path.display(), error = %e, "Could not write the model's plan.");
    }
}

/// Suppresses (when declared), conforms and stages whole-table batches, then checks and
/// commits them. A suppressed table that commits goes into `related`, for the tables that
/// share a count with it.
#[allow(clippy::too_many_arguments)]
async fn publish_batches(
    cx: &BuildContext<'_>,
    ctx: &SessionContext,
    name: &str,
    batches: Vec<RecordBatch>,
    reads: Vec<String>,
    started_at: std::time::Instant,
    checks_out: &mut Vec<CheckResult>,
    related: &mut Related,
) -> Result<ModelOutcome> {
    let def = table_def(cx.registry, name)?;
    let schema = def.arrow_schema();
    let mut stats = None;
    let mut published = None;
    let batch = if let Some(first) = batches.first() {
        concat_batches(&first.schema(), &batches)
            .map_err(|e| ModelError::lake(format!("collecting {name}"), e))?
    } else {
        RecordBatch::new_empty(schema.clone())
    };
    let batch = match &def.suppression {
        Some(sup) => {
            let partial = conform(name, &batch, &schema, true)?;
            let (suppressed, s) = suppress_related(name, &partial, sup, &cx.policy, related)?;
            // Kept only where a later table shares a count with this one.
            let shared_with = cx.registry.tables().iter().any(|t| {
                t.suppression
                    .as_ref()
                    .is_some_and(|s| s.shared.iter().any(|s| s.table == name))
            });
            published = shared_with.then(|| suppressed.clone());
            stats = Some(s);
            let suppressed = match &sup.headline {
                Some(h) => hide_rag(name, &suppressed, h)?,
                None => suppressed,
            };
            conform(name, &suppressed, &schema, false)?
        }
        None => conform(name, &batch, &schema, false)?,
    };
    let mut keys = KeyFingerprints::new(&schema, &def.primary_key);
    fingerprint(name, keys.as_mut(), &batch)?;
    let staged = Staged {
        part: stage(cx, name, &schema, &batch)?,
        distinct_key: keys.as_ref().and_then(KeyFingerprints::distinct_key),
    };
    let mut outcome = check_and_commit(cx, ctx, def, staged, reads, stats, checks_out).await?;
    if let Some(batch) = published.filter(|_| outcome.status == ModelStatus::Committed) {
        related.published.insert(name.to_owned(), batch);
    }
    outcome.millis = elapsed(started_at);
    outcome.query_millis = outcome
        .millis
        .saturating_sub(outcome.check_millis + outcome.commit_millis);
    Ok(outcome)
}

/// The checks that apply to a model's output: its primary key is unique, its code columns
/// hold known codes, and whatever `checks.toml` declares for it.
fn checks_for(cx: &BuildContext<'_>, def: &TableDef) -> Vec<CheckDef> {
    let mut out = Vec::new();
    if !def.primary_key.is_empty() {
        out.push(CheckDef::primary_key(&def.name, &def.primary_key));
    }
    for c in &def.columns {
        if let Some(list) = c
            .code_list
            .as_deref()
            .and_then(|l| cx.registry.code_list(l))
        {
            let codes = list.codes.iter().map(|c| c.code.clone()).collect();
            out.push(CheckDef::code_list(&def.name, &c.name, &list.name, codes));
        }
    }
    out.extend(
        cx.project
            .checks
            .iter()
            .filter(|c| c.table == def.name)
            .cloned(),
    );
    out
}

/// A model's candidate rows, staged, with what was learnt while writing them.
struct Staged<'k> {
    part: StagedPart,
    /// The primary key, when its fingerprints showed no repeat.
    distinct_key: Option<&'k [String]>,
}

/// Adds a batch's keys to the fingerprints (if the key can be fingerprinted).
fn fingerprint(name: &str, keys: Option<&mut KeyFingerprints>, batch: &RecordBatch) -> Result<()> {
    match keys {
        Some(k) => k
            .add(batch)
            .map_err(|e| ModelError::lake(format!("fingerprinting the key of {name}"), e)),
        None => Ok(()),
    }
}

async fn check_and_commit(
    cx: &BuildContext<'_>,
    ctx: &SessionContext,
    def: &TableDef,
    staged: Staged<'_>,
    reads: Vec<String>,
    suppression: Option<SuppressionStats>,
    checks_out: &mut Vec<CheckResult>,
) -> Result<ModelOutcome> {
    let Staged { part, distinct_key } = staged;
    let name = def.name.as_str();
    let uri = cx.lake.table_uri(def.zone, name);
    let candidate = format!("candidate__{name}");
    let path = part.path.display().to_string();
    ctx.register_parquet(candidate.as_str(), &path, ParquetReadOptions::default())
        .await
        .map_err(|e| ModelError::lake(format!("reading back {name}"), e))?;
    let previous_rows = match sendlake_load::table_version(&uri).await {
        Ok(Some(_)) => sendlake_load::count_rows(&uri).await.ok(),
        _ => None,
    };
    let subject = Subject {
        sql_name: &candidate,
        rows: part.rows,
        previous_rows,
        now: cx.started,
        distinct_key,
    };
    let mut failed = Vec::new();
    let checks_started = std::time::Instant::now();
    for check in checks_for(cx, def) {
        let result = checks::evaluate(ctx, &check, &subject).await;
        log_check(&result);
        if result.blocks() {
            failed.push(result.name.clone());
        }
        checks_out.push(result);
    }
    ctx.deregister_table(candidate.as_str())
        .map_err(|e| ModelError::lake(format!("reading back {name}"), e))?;
    let check_millis = elapsed(checks_started);
    let rows = part.rows;
    let mut outcome = ModelOutcome {
        table: name.to_owned(),
        zone: def.zone.as_str().into(),
        status: ModelStatus::Committed,
        rows,
        version: None,
        reads,
        reason: None,
        suppression,
        millis: 0,
        query_millis: 0,
        check_millis,
        commit_millis: 0,
    };
    if !failed.is_empty() {
        outcome.status = ModelStatus::Blocked;
        outcome.reason = Some(format!("failing checks: {}", failed.join("; ")));
        error!(table = %name, checks = %failed.join("; "), "Table blocked by data-quality checks; its previous version stays current.");
        return Ok(outcome);
    }
    let mut meta = serde_json::Map::new();
    meta.insert(
        "sendlake_model".into(),
        serde_json::Value::String(name.to_owned()),
    );
    let commit = TableCommit {
        table_uri: uri.clone(),
        schema: def.arrow_schema(),
        parts: vec![part],
        mode: WriteMode::ReplaceAll,
        run_id: cx.run_id.to_owned(),
        app_metadata: meta,
    };
    let commit_started = std::time::Instant::now();
    let done = commit_table(commit)
        .await
        .map_err(|e| ModelError::lake(format!("committing {name}"), e))?;
    outcome.commit_millis = elapsed(commit_started);
    info!(table = %name, version = done.version, rows = done.rows_written, "Model table committed.");
    outcome.version = Some(done.version);
    // Later models read what was just committed.
    register_delta(ctx, name, &uri).await?;
    Ok(outcome)
}

/// Writes one whole-table batch to a staged part file.
fn stage(
    cx: &BuildContext<'_>,
    name: &str,
    schema: &SchemaRef,
    batch: &RecordBatch,
) -> Result<StagedPart> {
    let err = |e: sendlake_load::Error| ModelError::lake(format!("staging {name}"), e);
    let mut writer = cx.staging.table_writer(name, schema.clone()).map_err(err)?;
    writer.write(batch).map_err(err)?;
    writer.finish().map_err(err)
}

/// Appends this run's check results to `data_quality` (one commit).
async fn write_quality(cx: &BuildContext<'_>, results: &[CheckResult]) -> Result<()> {
    let def = table_def(cx.registry, "data_quality")?;
    let schema = def.arrow_schema();
    let n = results.len();
    let at = cx.started.timestamp_micros();
    let s = |f: &dyn Fn(&CheckResult) -> String| -> ArrayRef {
        Arc::new(results.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![cx.run_id; n])),
        Arc::new(TimestampMicrosecondArray::from(vec![at; n]).with_timezone("UTC")),
        s(&|r| r.name.clone()),
        s(&|r| r.table.clone()),
        s(&|r| r.check_type.clone()),
        s(&|r| match r.severity {
            checks::Severity::Warn => "warn".into(),
            checks::Severity::Fail => "fail".into(),
        }),
        s(&|r| r.status.as_str().into()),
        Arc::new(
            results
                .iter()
                .map(|r| r.failing_rows)
                .collect::<Int64Array>(),
        ),
        s(&|r| r.detail.clone()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| ModelError::lake("building data_quality", e))?;
    let part = stage(cx, "data_quality", &schema, &batch)?;
    let mut meta = serde_json::Map::new();
    meta.insert(
        "checked_at".into(),
        serde_json::Value::String(cx.started.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    commit_table(TableCommit {
        table_uri: cx.lake.table_uri(def.zone, "data_quality"),
        schema,
        parts: vec![part],
        mode: WriteMode::Append,
        run_id: cx.run_id.to_owned(),
        app_metadata: meta,
    })
    .await
    .map_err(|e| ModelError::lake("committing data_quality", e))?;
    Ok(())
}
