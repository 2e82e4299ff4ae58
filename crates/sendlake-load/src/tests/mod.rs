//! Crate tests against real Delta tables in temporary directories.
//!
//! The fixtures, batches and readers every group shares are here, with the imports the groups
//! take through `use super::*`; the tests are in one module a subject: `create`, `write_modes`,
//! `staged_parts`, `schema_evolution`, `lake_store` and `retention`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::basic::{Compression, Encoding, LogicalType, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{Value, json};

use crate::*;

const UTC: &str = "UTC";

fn base_fields() -> Vec<Field> {
    vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("submission_id", DataType::Utf8, false),
        Field::new("person_id", DataType::Utf8, false),
        Field::new("n", DataType::Int64, true),
        Field::new("dob", DataType::Date32, true),
        Field::new(
            "loaded_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            true,
        ),
        Field::new("ratio", DataType::Float64, true),
    ]
}

fn base_schema() -> SchemaRef {
    Arc::new(Schema::new(base_fields()))
}

/// `rows` rows for one submission; `n` starts at `start` so two loads can be told apart.
fn batch(
    schema: &SchemaRef,
    source: &str,
    submission: &str,
    rows: usize,
    start: i64,
) -> RecordBatch {
    let n: Vec<i64> = (0..rows as i64).map(|i| start + i).collect();
    let mut columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from(vec![source; rows])),
        Arc::new(StringArray::from(vec![submission; rows])),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("P{i:07}")),
        )),
        Arc::new(Int64Array::from(n.clone())),
        Arc::new(Date32Array::from_iter_values(
            n.iter().map(|v| 14_000 + (*v % 3000) as i32),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                n.iter().map(|v| 1_767_225_600_000_000 + v * 1_000_001),
            )
            .with_timezone(UTC),
        ),
        Arc::new(Float64Array::from_iter_values(
            n.iter().map(|v| *v as f64 / 7.0),
        )),
    ];
    // Extra nullable columns in evolved schemas are left empty.
    for field in schema.fields().iter().skip(columns.len()) {
        columns.push(arrow_array::new_null_array(field.data_type(), rows));
    }
    RecordBatch::try_new(schema.clone(), columns).unwrap()
}

fn stage(area: &StagingArea, schema: &SchemaRef, batches: &[RecordBatch]) -> StagedPart {
    let mut w = area.table_writer("person", schema.clone()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap()
}

fn replace(subs: &[&str]) -> WriteMode {
    WriteMode::ReplaceWhere(vec![
        ("source".into(), vec!["sen2".into()]),
        (
            "submission_id".into(),
            subs.iter().map(|s| s.to_string()).collect(),
        ),
    ])
}

fn commit(
    uri: &str,
    schema: &SchemaRef,
    parts: Vec<StagedPart>,
    mode: WriteMode,
    run: &str,
) -> TableCommit {
    TableCommit {
        table_uri: uri.to_owned(),
        schema: schema.clone(),
        parts,
        mode,
        run_id: run.to_owned(),
        app_metadata: serde_json::Map::new(),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    lake: Lake,
    area: StagingArea,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let area = StagingArea::new(Some(&dir.path().join("staging"))).unwrap();
    Fixture {
        _dir: dir,
        lake,
        area,
    }
}

impl Fixture {
    /// Stages `batches` (in `schema`) as one part and commits it to `uri` in `mode` as run `run`.
    async fn load(
        &self,
        uri: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        mode: WriteMode,
        run: &str,
    ) -> Result<CommitOutcome> {
        let part = stage(&self.area, schema, batches);
        commit_table(commit(uri, schema, vec![part], mode, run)).await
    }
}

fn local_path(uri: &str) -> PathBuf {
    url::Url::parse(uri).unwrap().to_file_path().unwrap()
}

/// Every row as a sortable tuple: the table content independent of file layout.
async fn content(uri: &str) -> Vec<(String, String, String, i64, i32, i64)> {
    let mut rows = Vec::new();
    for b in read_table(uri).await.unwrap() {
        let s = |name: &str| {
            b.column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        let (src, sub, pid) = (s("source"), s("submission_id"), s("person_id"));
        let n = b.column_by_name("n").unwrap();
        let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
        let dob = b.column_by_name("dob").unwrap();
        let dob = dob.as_any().downcast_ref::<Date32Array>().unwrap();
        let ts = b.column_by_name("loaded_at").unwrap();
        let ts = ts
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        for i in 0..b.num_rows() {
            rows.push((
                src.value(i).to_owned(),
                sub.value(i).to_owned(),
                pid.value(i).to_owned(),
                n.value(i),
                dob.value(i),
                ts.value(i),
            ));
        }
    }
    rows.sort();
    rows
}

async fn per_submission(uri: &str) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (src, sub, ..) in content(uri).await {
        *out.entry((src, sub)).or_default() += 1;
    }
    out
}

fn key(src: &str, sub: &str) -> (String, String) {
    (src.to_owned(), sub.to_owned())
}

fn log_entry(table: &Path, version: i64) -> Vec<Value> {
    let text =
        std::fs::read_to_string(table.join(format!("_delta_log/{version:020}.json"))).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn data_files(table: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(table)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

mod create;
mod lake_store;
mod retention;
mod schema_evolution;
mod staged_parts;
mod write_modes;
