//! The build's DataFusion session: the inputs (every restricted table no model writes, at its
//! current Delta version, or empty) and the reference tables registered, and the calendar's
//! range worked out from the data.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use deltalake::arrow::array::{Array, AsArray, RecordBatch};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::Date32Type;
use deltalake::datafusion::catalog::TableProvider;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::{DeltaTable, ensure_table_uri};
use sendlake_load::{Lake, StagingArea};
use sendlake_schema::{Privacy, SchemaRegistry, SuppressionPolicy, TableDef, Zone};

use crate::error::{ModelError, Result};
use crate::project::ModelProject;
use crate::reference;

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

pub(crate) fn sql_err(model: &str, file: &str, e: impl std::fmt::Display) -> ModelError {
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
    pub(crate) input_rows: BTreeMap<String, u64>,
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

pub(crate) fn table_def<'a>(registry: &'a SchemaRegistry, name: &str) -> Result<&'a TableDef> {
    registry.table(name).ok_or_else(|| ModelError::Output {
        model: name.to_owned(),
        column: String::new(),
        message: "no such table in schemas/tables".into(),
    })
}

/// Registers the current version of a Delta table; false when there is none.
pub(crate) async fn register_delta(ctx: &SessionContext, name: &str, uri: &str) -> Result<bool> {
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

pub(crate) fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    ctx.deregister_table(name)
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| ModelError::lake(format!("registering {name}"), e))?;
    Ok(())
}

pub(crate) fn register_reference(ctx: &SessionContext, cx: &BuildContext<'_>) -> Result<()> {
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
