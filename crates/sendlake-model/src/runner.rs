//! Builds the models: registers inputs and reference tables in one DataFusion session, runs
//! each SQL model in dependency order, checks its output against the declared table, applies
//! suppression to published tables, runs the data-quality checks on the candidate rows, and
//! commits each table in one Delta commit, or blocks it and keeps its previous version.

use std::collections::BTreeMap;
use std::sync::Arc;

use deltalake::datafusion::physical_plan::display::DisplayableExecutionPlan;
use deltalake::datafusion::physical_plan::{ExecutionPlan, execute_stream};
use deltalake::datafusion::prelude::SessionContext;
use futures::StreamExt as _;
use tracing::{error, warn};

use crate::checks::{self, Subject};
use crate::error::{ModelError, Result};
use crate::graph::{Step, order};
use crate::keys::KeyFingerprints;
use crate::outcome::{ModelOutcome, ModelReport, ModelStatus, elapsed};
use crate::project::ModelDef;
use crate::publish::{
    Publisher, Staged, check_and_commit, conform, fingerprint, log_check, publish_batches,
    write_quality,
};
use crate::reference;
use crate::session::{BuildContext, Prepared, date_range, prepare, sql_err, table_def};
use crate::suppress::{AreaTree, Related};
use crate::targets::{PERIOD_COMPLETE, with_targets};

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
    let mut publisher = Publisher {
        cx,
        ctx: &ctx,
        checks: &mut report.checks,
        related: &mut related,
    };
    let outcome = publish_batches(
        &mut publisher,
        "dim_date",
        vec![dim_date],
        Vec::new(),
        started_at,
    )
    .await?;
    if outcome.status != ModelStatus::Committed {
        blocked.insert(
            "dim_date".into(),
            outcome.reason.clone().unwrap_or_default(),
        );
    }
    report.models.push(outcome);

    for Step {
        name,
        view,
        reads,
        views,
    } in order(cx, &ctx)?
    {
        let blocker = reads
            .iter()
            .chain(&views)
            .find_map(|r| blocked.get(r).map(|w| (r, w)));
        if view {
            // A view over a table that was not published is not registered; the models that
            // read it are skipped for the same table (their reads include it).
            match (blocker, cx.project.views.get(&name)) {
                (Some((by, _)), _) => {
                    blocked.insert(name.clone(), format!("reads {by}"));
                }
                (None, Some(v)) => {
                    if let Err(e) = register_view(&ctx, v).await {
                        error!(view = %name, error = %e, "View failed; the models that read it are skipped.");
                        blocked.insert(name.clone(), format!("view failed: {e}"));
                    }
                }
                (None, None) => {}
            }
            continue;
        }
        let Some(model) = cx.project.models.get(&name) else {
            continue;
        };
        let started_at = std::time::Instant::now();
        let file = model.file.display().to_string();
        let def = table_def(cx.registry, &name)?;
        if let Some((by, why)) = blocker {
            let reason =
                format!("not built: it reads {by}, which was not published this run ({why})");
            warn!(model = %name, reason = %reason, "Model skipped.");
            blocked.insert(name.clone(), format!("reads {by}"));
            report.models.push(ModelOutcome::not_built(
                def,
                ModelStatus::Skipped,
                reads,
                reason,
                0,
            ));
            continue;
        }
        let outcome = match run_model(
            &mut publisher,
            &name,
            &file,
            &model.sql,
            reads.clone(),
            started_at,
        )
        .await
        {
            Ok(o) => o,
            Err(e) => {
                error!(model = %name, error = %e, "Model failed; its previous version stays current.");
                ModelOutcome::not_built(
                    def,
                    ModelStatus::Failed,
                    reads,
                    e.to_string(),
                    elapsed(started_at),
                )
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

/// Registers a view in the session: its plan is made now, over the tables as they are now
/// (every model it reads is already committed and re-registered), and inlined into each
/// model that reads it. Errors name the view's file.
async fn register_view(ctx: &SessionContext, view: &ModelDef) -> Result<()> {
    let file = view.file.display().to_string();
    let df = ctx
        .sql(&view.sql)
        .await
        .map_err(|e| sql_err(&view.name, &file, e))?;
    ctx.register_table(view.name.as_str(), df.into_view())
        .map_err(|e| sql_err(&view.name, &file, e))?;
    Ok(())
}

async fn run_model(
    p: &mut Publisher<'_, '_>,
    name: &str,
    file: &str,
    sql: &str,
    reads: Vec<String>,
    started_at: std::time::Instant,
) -> Result<ModelOutcome> {
    let (cx, ctx) = (p.cx, p.ctx);
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
        return publish_batches(p, name, batches, reads, started_at).await;
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
    let mut outcome = check_and_commit(p, def, staged, reads, None).await?;
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

#[cfg(test)]
mod tests {
    use deltalake::arrow::array::{AsArray, Int64Array, RecordBatch};
    use deltalake::arrow::datatypes::Int64Type;

    use super::*;
    use crate::session::register_batch;

    fn view(name: &str, sql: &str) -> ModelDef {
        ModelDef {
            name: name.to_owned(),
            file: format!("models/{name}.view.sql").into(),
            sql: sql.to_owned(),
        }
    }

    fn session() -> SessionContext {
        let ctx = SessionContext::new();
        let n: Int64Array = (1..=4).map(Some).collect();
        let batch = RecordBatch::try_from_iter([("n", Arc::new(n) as _)]).unwrap();
        register_batch(&ctx, "t", batch).unwrap();
        ctx
    }

    #[tokio::test]
    async fn a_registered_view_is_read_like_a_table() {
        let ctx = session();
        register_view(&ctx, &view("evens", "SELECT n FROM t WHERE n % 2 = 0"))
            .await
            .unwrap();
        let batches = ctx
            .sql("SELECT sum(n) AS s FROM evens")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let s = batches[0].column(0).as_primitive::<Int64Type>();
        assert_eq!((s.len(), s.value(0)), (1, 6));
    }

    #[tokio::test]
    async fn a_view_that_does_not_plan_names_its_file() {
        let ctx = session();
        let err = register_view(&ctx, &view("bad", "SELECT missing_column FROM t"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad (models/bad.view.sql)"), "{err}");
        assert!(err.contains("missing_column"), "{err}");
        // Nothing half-registered: a model reading it fails as reading an unknown table.
        assert!(ctx.sql("SELECT * FROM bad").await.is_err());
    }
}
