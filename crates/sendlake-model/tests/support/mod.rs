//! Helpers for the KPI tests: input rows written as a few named values each, a temp lake,
//! a build of the real model project, and lookups of output rows by their key columns.
//!
//! Values are written as text and converted by the column's declared type (`"2024-03-01"` for
//! a date, `"true"` for a bool, `"2026"` for an int). A column a row does not name is null, or
//! for a non-null column a default (lineage, person attributes); a non-null column without a
//! default must be named, so a test never gets a value it did not ask for where it matters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, TimeUnit};
use chrono::{NaiveDate, Utc};
use deltalake::arrow::compute::{cast, concat_batches};
use sendlake_load::{Lake, StagingArea, TableCommit, WriteMode, commit_table};
use sendlake_model::{BuildContext, ModelProject, ModelReport};
use sendlake_schema::{SchemaRegistry, SuppressionPolicy, TableDef};

/// A policy that suppresses nothing (counts 1..=0) and rounds nothing.
pub const NO_SUPPRESSION: SuppressionPolicy = SuppressionPolicy {
    suppress_max: 0,
    min_rate_denominator: 0,
    round_to: None,
    rules: Vec::new(),
};

/// `pipelines/models` of the workspace.
pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/models")
}

/// A copy of `pipelines/models` with `text` appended to one of its files: the demo's models
/// with one deliberate fault.
pub fn models_with(file: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(models_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join(file);
    let mut content = std::fs::read_to_string(&path).unwrap();
    content.push_str(text);
    std::fs::write(&path, content).unwrap();
    dir
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("bad date {s:?}: {e}"))
}

/// `s` plus `days` days, as text.
pub fn plus_days(s: &str, days: i64) -> String {
    (date(s) + chrono::Duration::days(days)).to_string()
}

/// Input rows by table. SEN2 rows get the submission of the current return (`in_return`).
pub struct Inputs {
    year: i32,
    tables: BTreeMap<String, Vec<BTreeMap<String, String>>>,
}

impl Inputs {
    /// Rows of the 2026 SEN2 return (LA 919) until `in_return` says otherwise.
    pub fn new() -> Self {
        Self {
            year: 2026,
            tables: BTreeMap::new(),
        }
    }

    /// SEN2 rows added from now on belong to LA 919's return of this collection year.
    pub fn in_return(&mut self, collection_year: i32) -> &mut Self {
        self.year = collection_year;
        self
    }

    /// One row of `table`: the named columns, others null or defaulted.
    pub fn add(&mut self, table: &str, cols: &[(&str, &str)]) -> &mut Self {
        let mut row: BTreeMap<String, String> = cols
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        row.entry("submission_id".into())
            .or_insert_with(|| format!("919-{}", self.year));
        row.entry("collection_year".into())
            .or_insert_with(|| self.year.to_string());
        self.tables.entry(table.to_owned()).or_default().push(row);
        self
    }

    /// Sets `column` on the row of `table` whose `request_key` is `request` (added before).
    pub fn set(&mut self, table: &str, request: &str, column: &str, value: &str) -> &mut Self {
        self.request_row(table, request)
            .insert(column.to_owned(), value.to_owned());
        self
    }

    /// Makes `column` null on the row of `table` whose `request_key` is `request`.
    pub fn unset(&mut self, table: &str, request: &str, column: &str) -> &mut Self {
        self.request_row(table, request).remove(column);
        self
    }

    fn request_row(&mut self, table: &str, request: &str) -> &mut BTreeMap<String, String> {
        self.tables
            .get_mut(table)
            .and_then(|rows| {
                rows.iter_mut()
                    .rev()
                    .find(|r| r.get("request_key").map(String::as_str) == Some(request))
            })
            .unwrap_or_else(|| panic!("no {table} row for request {request}"))
    }

    /// A child in the current return, living in `postcode_district` (LA 919).
    pub fn child(&mut self, person: &str, postcode_district: &str) -> &mut Self {
        self.add(
            "person",
            &[
                ("person_key", person),
                ("postcode_district", postcode_district),
            ],
        )
    }

    /// A request decided `Y` four weeks after it was received, assessed `Y`, and a plan
    /// issued on `issued`: the plain case of the 20-week KPI.
    pub fn issued_plan(
        &mut self,
        request: &str,
        person: &str,
        received: &str,
        issued: &str,
    ) -> &mut Self {
        self.add(
            "request",
            &[
                ("request_key", request),
                ("person_key", person),
                ("received_date", received),
                ("request_outcome", "Y"),
                ("request_outcome_date", &plus_days(received, 28)),
            ],
        )
        .add(
            "assessment",
            &[
                ("request_key", request),
                ("person_key", person),
                ("assessment_outcome", "Y"),
                ("assessment_outcome_date", issued),
            ],
        )
        .add(
            "named_plan",
            &[
                ("request_key", request),
                ("person_key", person),
                ("start_date", issued),
            ],
        )
    }

    /// Writes every table (one Delta commit each, replacing what was there).
    pub async fn write(&self, lake: &Lake, registry: &SchemaRegistry) {
        let staging = StagingArea::new(None).unwrap();
        for (name, rows) in &self.tables {
            let def = registry
                .table(name)
                .unwrap_or_else(|| panic!("no table {name}"));
            let batch = batch(def, rows);
            let schema = def.arrow_schema();
            let mut w = staging.table_writer(name, schema.clone()).unwrap();
            w.write(&batch).unwrap();
            let part = w.finish().unwrap();
            commit_table(TableCommit {
                table_uri: lake.table_uri(def.zone, name),
                schema,
                parts: vec![part],
                mode: WriteMode::ReplaceAll,
                run_id: "test".into(),
                app_metadata: Default::default(),
            })
            .await
            .unwrap();
        }
    }
}

/// The value a non-null column takes when a row does not name it.
fn default_value(def: &TableDef, column: &str, row: usize) -> Option<String> {
    let v = match column {
        "source" if def.record_lineage => "council_cms",
        "source" => "sen2_returns",
        "submission_id" => "919-2026",
        "la_code" => "919",
        "collection_year" => "2026",
        "source_file" => "test.xml",
        "run_id" => "test",
        "loaded_at" => "now",
        "stream" => "test",
        "record_id" => return Some(format!("{}-{row}", def.name)),
        "person_key_basis" => "upn",
        "sex" => "F",
        "ethnicity" | "ethnicity_detailed" => "WBRI",
        "birth_month" => "2015-01-01",
        "age_at_census" => "10",
        "has_upn" => "true",
        "has_uln" => "false",
        "request_seq" => "1",
        "setting_basis" => "urn",
        "sen_setting_other_given" => "false",
        _ => return None,
    };
    Some(v.to_owned())
}

/// A batch of `def`'s exact Arrow schema from rows of named text values.
pub fn batch(def: &TableDef, rows: &[BTreeMap<String, String>]) -> RecordBatch {
    let schema = def.arrow_schema();
    for row in rows {
        for k in row.keys() {
            // Lineage columns are added to every row; tables without them ignore them.
            let lineage = matches!(k.as_str(), "submission_id" | "collection_year");
            assert!(
                lineage || schema.field_with_name(k).is_ok(),
                "{} has no column {k}",
                def.name
            );
        }
    }
    let now = Utc::now().timestamp_micros();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            let name = f.name().as_str();
            let values: Vec<Option<String>> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    r.get(name).cloned().or_else(|| {
                        (!f.is_nullable())
                            .then(|| default_value(def, name, i))
                            .flatten()
                    })
                })
                .collect();
            assert!(
                f.is_nullable() || values.iter().all(Option::is_some),
                "{}.{name} is not null and has no default: give it a value",
                def.name
            );
            let parse = |v: &String, what: &str| -> ! {
                panic!("{}.{name}: {v:?} is not {what}", def.name)
            };
            let array: ArrayRef = match f.data_type() {
                DataType::Utf8 => {
                    Arc::new(values.iter().map(|v| v.as_deref()).collect::<StringArray>())
                }
                DataType::Int32 => Arc::new(
                    values
                        .iter()
                        .map(|v| {
                            v.as_ref()
                                .map(|v| v.parse::<i32>().unwrap_or_else(|_| parse(v, "an int")))
                        })
                        .collect::<Int32Array>(),
                ),
                DataType::Int64 => Arc::new(
                    values
                        .iter()
                        .map(|v| {
                            v.as_ref()
                                .map(|v| v.parse::<i64>().unwrap_or_else(|_| parse(v, "an int")))
                        })
                        .collect::<Int64Array>(),
                ),
                DataType::Float64 => Arc::new(
                    values
                        .iter()
                        .map(|v| {
                            v.as_ref()
                                .map(|v| v.parse::<f64>().unwrap_or_else(|_| parse(v, "a number")))
                        })
                        .collect::<Float64Array>(),
                ),
                DataType::Boolean => Arc::new(
                    values
                        .iter()
                        .map(|v| {
                            v.as_ref()
                                .map(|v| v.parse::<bool>().unwrap_or_else(|_| parse(v, "a bool")))
                        })
                        .collect::<BooleanArray>(),
                ),
                DataType::Date32 => Arc::new(
                    values
                        .iter()
                        .map(|v| v.as_ref().map(|v| days_since_epoch(date(v))))
                        .collect::<Date32Array>(),
                ),
                DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => Arc::new(
                    values
                        .iter()
                        .map(|v| {
                            v.as_ref().map(|v| {
                                if v == "now" {
                                    now
                                } else {
                                    chrono::DateTime::parse_from_rfc3339(v)
                                        .unwrap_or_else(|_| parse(v, "an RFC 3339 time"))
                                        .timestamp_micros()
                                }
                            })
                        })
                        .collect::<TimestampMicrosecondArray>()
                        .with_timezone(tz.clone()),
                ),
                other => panic!("{}.{name}: type {other} not handled", def.name),
            };
            array
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    i32::try_from((d - epoch).num_days()).unwrap()
}

/// A lake in its own temp folder.
pub struct TestLake {
    pub lake: Lake,
    pub registry: SchemaRegistry,
    _dir: tempfile::TempDir,
}

impl TestLake {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        Self {
            lake,
            registry: SchemaRegistry::embedded().unwrap(),
            _dir: dir,
        }
    }

    pub fn project(&self) -> ModelProject {
        self.project_in(&models_dir())
    }

    pub fn project_in(&self, dir: &Path) -> ModelProject {
        ModelProject::load(dir, &self.registry).unwrap_or_else(|problems| {
            panic!(
                "model project does not load: {}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
    }

    /// Writes the inputs and builds the real model project without suppression.
    pub async fn build(&self, inputs: &Inputs) -> ModelReport {
        inputs.write(&self.lake, &self.registry).await;
        let report = self
            .build_with(&self.project(), NO_SUPPRESSION, "run-1")
            .await;
        assert_all_committed(&report);
        report
    }

    pub async fn build_with(
        &self,
        project: &ModelProject,
        policy: SuppressionPolicy,
        run_id: &str,
    ) -> ModelReport {
        let staging = StagingArea::new(None).unwrap();
        sendlake_model::build(&BuildContext {
            lake: &self.lake,
            registry: &self.registry,
            project,
            policy,
            staging: &staging,
            run_id,
            started: Utc::now(),
            plans: None,
        })
        .await
        .unwrap()
    }

    fn uri(&self, name: &str) -> String {
        let zone = self
            .registry
            .table(name)
            .unwrap_or_else(|| panic!("no table {name}"))
            .zone;
        self.lake.table_uri(zone, name)
    }

    /// The current version of an output table.
    pub async fn read(&self, name: &str) -> Table {
        let batches = sendlake_load::read_table(&self.uri(name)).await.unwrap();
        let batch = match batches.first() {
            Some(first) => concat_batches(&first.schema(), &batches).unwrap(),
            None => RecordBatch::new_empty(self.registry.table(name).unwrap().arrow_schema()),
        };
        Table {
            name: name.to_owned(),
            batch,
        }
    }

    pub async fn version(&self, name: &str) -> Option<i64> {
        sendlake_load::table_version(&self.uri(name)).await.unwrap()
    }
}

/// Every model committed, no check failed: the precondition of reading KPI values.
pub fn assert_all_committed(report: &ModelReport) {
    let bad: Vec<String> = report
        .models
        .iter()
        .filter(|m| m.status != sendlake_model::ModelStatus::Committed)
        .map(|m| {
            format!(
                "{} {:?}: {}",
                m.table,
                m.status,
                m.reason.clone().unwrap_or_default()
            )
        })
        .chain(
            report
                .checks
                .iter()
                .filter(|c| c.blocks())
                .map(|c| format!("check {}: {}", c.name, c.detail)),
        )
        .collect();
    assert!(bad.is_empty(), "build not clean:\n{}", bad.join("\n"));
}

/// An output table, read whole.
pub struct Table {
    pub name: String,
    pub batch: RecordBatch,
}

impl Table {
    fn text(&self, column: &str) -> StringArray {
        text_column(&self.name, &self.batch, column)
    }

    /// Rows whose columns render as the given text (dates as `YYYY-MM-DD`).
    pub fn find(&self, key: &[(&str, &str)]) -> Vec<Row> {
        let cols: Vec<(StringArray, &str)> = key.iter().map(|(c, v)| (self.text(c), *v)).collect();
        (0..self.batch.num_rows())
            .filter(|&i| cols.iter().all(|(a, v)| a.is_valid(i) && a.value(i) == *v))
            .map(|i| Row {
                table: self.name.clone(),
                batch: self.batch.slice(i, 1),
            })
            .collect()
    }

    /// The one row matching `key`.
    pub fn row(&self, key: &[(&str, &str)]) -> Row {
        let mut rows = self.find(key);
        assert!(
            rows.len() == 1,
            "{}: {} rows match {key:?}, expected 1",
            self.name,
            rows.len()
        );
        rows.remove(0)
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }
}

fn text_column(table: &str, batch: &RecordBatch, column: &str) -> StringArray {
    let col = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("{table} has no column {column}"));
    cast(col, &DataType::Utf8)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone()
}

/// One row of a [`Table`].
pub struct Row {
    table: String,
    batch: RecordBatch,
}

impl Row {
    fn col(&self, column: &str) -> ArrayRef {
        self.batch
            .column_by_name(column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.table))
            .clone()
    }

    pub fn int(&self, column: &str) -> Option<i64> {
        let c = cast(&self.col(column), &DataType::Int64).unwrap();
        let c = c.as_any().downcast_ref::<Int64Array>().unwrap();
        c.is_valid(0).then(|| c.value(0))
    }

    pub fn float(&self, column: &str) -> Option<f64> {
        let c = cast(&self.col(column), &DataType::Float64).unwrap();
        let c = c.as_any().downcast_ref::<Float64Array>().unwrap();
        c.is_valid(0).then(|| c.value(0))
    }

    pub fn text(&self, column: &str) -> Option<String> {
        let c = text_column(&self.table, &self.batch, column);
        c.is_valid(0).then(|| c.value(0).to_owned())
    }

    pub fn bool(&self, column: &str) -> Option<bool> {
        let c = self.col(column);
        let c = c.as_any().downcast_ref::<BooleanArray>().unwrap();
        c.is_valid(0).then(|| c.value(0))
    }

    /// Asserts integer columns, naming the column that differs.
    pub fn assert_ints(&self, expected: &[(&str, i64)]) {
        for (c, v) in expected {
            assert_eq!(self.int(c), Some(*v), "{}.{c}", self.table);
        }
    }

    /// Asserts a float column to 1e-9.
    pub fn assert_float(&self, column: &str, expected: f64) {
        let got = self
            .float(column)
            .unwrap_or_else(|| panic!("{}.{column} is null, expected {expected}", self.table));
        assert!(
            (got - expected).abs() < 1e-9,
            "{}.{column} = {got}, expected {expected}",
            self.table
        );
    }
}
