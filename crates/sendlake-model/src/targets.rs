//! Targets and red/amber/green status for the KPI tables: the SQL wrapper that joins each
//! row's headline to `ref_target`, and the step that hides a colour where the headline was
//! suppressed.

use std::sync::Arc;

use deltalake::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use deltalake::arrow::compute::cast;

use crate::error::{ModelError, Result};

/// The column that says a row's period is wholly covered by its source's data.
pub(crate) const PERIOD_COMPLETE: &str = "period_complete";

/// Wraps a KPI model's SQL so each row carries the target for its headline KPI and a
/// red/amber/green status, from `ref_target` (targets.csv): the target for the row's own area
/// beats the `*` one for its level; green meets the target, amber misses it by no more than
/// the target's margin. One definition for every KPI table, rather than a copy in each model.
/// Where the table has `period_complete`, a partial period (the current year, the year before
/// the earliest return) gets no colour: its figure is not yet the period's.
pub(crate) fn with_targets(sql: &str, headline: &str, gated: bool) -> String {
    let kpi = headline.replace('\'', "''");
    let h = format!("m.\"{}\"", headline.replace('"', "\"\""));
    let gate = if gated {
        format!(" OR NOT m.\"{PERIOD_COMPLETE}\"")
    } else {
        String::new()
    };
    let join = |alias: &str, code: &str| {
        format!(
            "LEFT JOIN ref_target {alias}
  ON {alias}.kpi = '{kpi}' AND {alias}.geography_level = m.geography_level
 AND {alias}.geography_code = {code} AND {alias}.period_type = m.period_type
 AND m.period_start >= {alias}.valid_from
 AND m.period_start <= COALESCE({alias}.valid_to, DATE '9999-12-31')"
        )
    };
    format!(
        "SELECT m.*,
       COALESCE(ts.target, tg.target) AS target,
       CASE WHEN {h} IS NULL OR COALESCE(ts.target, tg.target) IS NULL{gate} THEN NULL
            WHEN COALESCE(ts.direction, tg.direction) = 'higher_is_better' THEN
                 CASE WHEN {h} >= COALESCE(ts.target, tg.target) THEN 'green'
                      WHEN {h} >= COALESCE(ts.target, tg.target) - COALESCE(ts.amber_within, tg.amber_within) THEN 'amber'
                      ELSE 'red' END
            ELSE CASE WHEN {h} <= COALESCE(ts.target, tg.target) THEN 'green'
                      WHEN {h} <= COALESCE(ts.target, tg.target) + COALESCE(ts.amber_within, tg.amber_within) THEN 'amber'
                      ELSE 'red' END
       END AS rag_status
FROM (
{sql}
) m
{}
{}",
        join("ts", "m.geography_code"),
        join("tg", "'*'")
    )
}

/// Nulls `rag_status` where the headline was suppressed: a colour would tell which side of
/// the target the hidden value lies.
pub(crate) fn hide_rag(model: &str, batch: &RecordBatch, headline: &str) -> Result<RecordBatch> {
    let schema = batch.schema();
    let (Ok(status_idx), Ok(rag_idx)) = (
        schema.index_of(&format!("{headline}_status")),
        schema.index_of("rag_status"),
    ) else {
        return Ok(batch.clone());
    };
    let status = cast(
        batch.column(status_idx),
        &deltalake::arrow::datatypes::DataType::Utf8,
    )
    .map_err(|e| ModelError::lake(format!("{model}: rag_status"), e))?;
    let rag = cast(
        batch.column(rag_idx),
        &deltalake::arrow::datatypes::DataType::Utf8,
    )
    .map_err(|e| ModelError::lake(format!("{model}: rag_status"), e))?;
    let (status, rag) = (status.as_string::<i32>(), rag.as_string::<i32>());
    let hidden: StringArray = (0..batch.num_rows())
        .map(|i| {
            let suppressed = status.is_valid(i) && status.value(i) == "c";
            (!suppressed && rag.is_valid(i)).then(|| rag.value(i))
        })
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[rag_idx] = Arc::new(hidden);
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == rag_idx {
                Arc::new(
                    f.as_ref()
                        .clone()
                        .with_data_type(deltalake::arrow::datatypes::DataType::Utf8)
                        .with_nullable(true),
                )
            } else {
                f.clone()
            }
        })
        .collect();
    RecordBatch::try_new(
        Arc::new(deltalake::arrow::datatypes::Schema::new(fields)),
        columns,
    )
    .map_err(|e| ModelError::lake(format!("{model}: rag_status"), e))
}
