//! Publishing one model's output: conformed to its declared table, suppressed if published,
//! staged, checked on the candidate rows, then committed in one Delta commit or blocked with
//! the previous version kept; the data-quality results are written last.

use std::sync::Arc;

use chrono::SecondsFormat;
use deltalake::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::compute::{
    SortColumn, can_cast_types, cast, concat_batches, lexsort_to_indices, take_record_batch,
};
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::error::ArrowError;
use deltalake::datafusion::prelude::{ParquetReadOptions, SessionContext};
use sendlake_load::{StagedPart, TableCommit, WriteMode, commit_table};
use sendlake_schema::TableDef;
use tracing::{error, info, warn};

use crate::checks::{self, CheckDef, CheckResult, CheckStatus, Subject};
use crate::error::{ModelError, Result};
use crate::keys::KeyFingerprints;
use crate::outcome::{ModelOutcome, ModelStatus, elapsed};
use crate::session::{BuildContext, register_delta, table_def};
use crate::suppress::{Related, SuppressionStats, suppress_related};
use crate::targets::hide_rag;

pub(crate) fn log_check(r: &CheckResult) {
    match r.status {
        CheckStatus::Pass | CheckStatus::Skipped => {}
        CheckStatus::Warn => warn!(check = %r.name, detail = %r.detail, "Data-quality warning."),
        CheckStatus::Fail | CheckStatus::Error => {
            error!(check = %r.name, detail = %r.detail, "Data-quality check failed; the table is not published this run.");
        }
    }
}

/// Makes a model's batch exactly the declared table: every declared column present (status
/// columns may be missing when `allow_status` and suppression adds them), no extra ones,
/// types cast to the declared ones, and no nulls in non-nullable columns.
pub(crate) fn conform(
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

/// What publishing a table needs and adds to, the same for every table of a build: the build,
/// its session, the run's check results, and the suppressed tables later ones share a count
/// with.
pub(crate) struct Publisher<'p, 'b> {
    pub cx: &'p BuildContext<'b>,
    pub ctx: &'p SessionContext,
    pub checks: &'p mut Vec<CheckResult>,
    pub related: &'p mut Related,
}

/// Suppresses (when declared), conforms and stages whole-table batches, then checks and
/// commits them. A suppressed table that commits goes into `related`, for the tables that
/// share a count with it.
pub(crate) async fn publish_batches(
    p: &mut Publisher<'_, '_>,
    name: &str,
    batches: Vec<RecordBatch>,
    reads: Vec<String>,
    started_at: std::time::Instant,
) -> Result<ModelOutcome> {
    let cx = p.cx;
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
            // Suppression breaks ties by row order, and DataFusion's output order is not
            // stable: without a fixed order two builds of the same rows could hide different
            // cells, and the two patterns together would disclose what each protects.
            let batch = in_key_order(&batch, &def.primary_key)
                .map_err(|e| ModelError::lake(format!("ordering {name}"), e))?;
            let partial = conform(name, &batch, &schema, true)?;
            let (suppressed, s) = suppress_related(name, &partial, sup, &cx.policy, p.related)?;
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
    let mut outcome = check_and_commit(p, def, staged, reads, stats).await?;
    if let Some(batch) = published.filter(|_| outcome.status == ModelStatus::Committed) {
        p.related.published.insert(name.to_owned(), batch);
    }
    outcome.millis = elapsed(started_at);
    outcome.query_millis = outcome
        .millis
        .saturating_sub(outcome.check_millis + outcome.commit_millis);
    Ok(outcome)
}

/// `batch` in one fixed order whatever order it came in: by the primary key, then by every
/// other column, so that equal keys (which a check reports) still sort the same way.
fn in_key_order(batch: &RecordBatch, primary_key: &[String]) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let key = primary_key.iter().filter_map(|k| schema.index_of(k).ok());
    let rest = (0..schema.fields().len()).filter(|i| {
        !primary_key
            .iter()
            .any(|k| k == schema.field(*i).name().as_str())
    });
    let columns: Vec<SortColumn> = key
        .chain(rest)
        .map(|i| SortColumn {
            values: batch.column(i).clone(),
            options: None,
        })
        .collect();
    if columns.is_empty() || batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    let order = lexsort_to_indices(&columns, None)?;
    take_record_batch(batch, &order)
}

/// The checks that apply to a model's output: its primary key is unique, its code columns
/// hold known codes, and whatever `checks.toml` declares for it.
pub(crate) fn checks_for(cx: &BuildContext<'_>, def: &TableDef) -> Vec<CheckDef> {
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
pub(crate) struct Staged<'k> {
    pub(crate) part: StagedPart,
    /// The primary key, when its fingerprints showed no repeat.
    pub(crate) distinct_key: Option<&'k [String]>,
}

/// Adds a batch's keys to the fingerprints (if the key can be fingerprinted).
pub(crate) fn fingerprint(
    name: &str,
    keys: Option<&mut KeyFingerprints>,
    batch: &RecordBatch,
) -> Result<()> {
    match keys {
        Some(k) => k
            .add(batch)
            .map_err(|e| ModelError::lake(format!("fingerprinting the key of {name}"), e)),
        None => Ok(()),
    }
}

pub(crate) async fn check_and_commit(
    p: &mut Publisher<'_, '_>,
    def: &TableDef,
    staged: Staged<'_>,
    reads: Vec<String>,
    suppression: Option<SuppressionStats>,
) -> Result<ModelOutcome> {
    let (cx, ctx) = (p.cx, p.ctx);
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
        p.checks.push(result);
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
pub(crate) fn stage(
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
pub(crate) async fn write_quality(cx: &BuildContext<'_>, results: &[CheckResult]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(areas: &[&str], counts: &[i64]) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "count",
                Arc::new(Int64Array::from(counts.to_vec())) as ArrayRef,
            ),
            (
                "area",
                Arc::new(StringArray::from(areas.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn rows_in_any_order_come_out_in_one_order_key_first() {
        let key = vec!["area".to_owned()];
        let a = in_key_order(&batch(&["b", "a", "c", "a"], &[1, 3, 2, 2]), &key).unwrap();
        let b = in_key_order(&batch(&["a", "c", "a", "b"], &[2, 2, 3, 1]), &key).unwrap();
        assert_eq!(a, b);
        // By the key first (not by the first column), then the rest for equal keys.
        assert_eq!(a, batch(&["a", "a", "b", "c"], &[2, 3, 1, 2]));
    }
}
