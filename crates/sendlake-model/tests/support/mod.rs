//! Helpers for the KPI tests: input rows written as a few named values each (converted by
//! `sendlake_test::tables`), a temp lake (`sendlake_test::TestLake`), a build of the real model
//! project, and lookups of output rows by their key columns (`sendlake_test::Table`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;
use sendlake_load::{Lake, StagingArea};
use sendlake_model::{BuildContext, ModelProject, ModelReport};
use sendlake_schema::{SchemaRegistry, SuppressionPolicy};
pub use sendlake_test::TestLake;
pub use sendlake_test::tables::date;
use sendlake_test::tables::{TextRow, text_row};

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

/// `s` plus `days` days, as text.
pub fn plus_days(s: &str, days: i64) -> String {
    (date(s) + chrono::Duration::days(days)).to_string()
}

/// Input rows by table. SEN2 rows get the submission of the current return (`in_return`).
pub struct Inputs {
    year: i32,
    tables: BTreeMap<String, Vec<TextRow>>,
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
        let mut row = text_row(cols);
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

    fn request_row(&mut self, table: &str, request: &str) -> &mut TextRow {
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

    /// A request, its assessment and a plan starting on `start`, each row keyed by `request`
    /// and `person` and carrying its own outcome columns.
    fn plan_of(
        &mut self,
        request: &str,
        person: &str,
        request_cols: &[(&str, &str)],
        assessment_cols: &[(&str, &str)],
        start: &str,
    ) -> &mut Self {
        let keys = [("request_key", request), ("person_key", person)];
        self.add("request", &[&keys[..], request_cols].concat())
            .add("assessment", &[&keys[..], assessment_cols].concat())
            .add(
                "named_plan",
                &[&keys[..], &[("start_date", start)]].concat(),
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
        let decided = plus_days(received, 28);
        self.plan_of(
            request,
            person,
            &[
                ("received_date", received),
                ("request_outcome", "Y"),
                ("request_outcome_date", &decided),
            ],
            &[
                ("assessment_outcome", "Y"),
                ("assessment_outcome_date", issued),
            ],
            issued,
        )
    }

    /// A historical request (`H`: decided before the collection period) received on
    /// `received`, its assessment `H`, and its plan starting on `start`, as a later return
    /// repeats a plan that is still active; a cease date or reason goes on with [`Self::set`].
    pub fn historical_plan(
        &mut self,
        request: &str,
        person: &str,
        received: &str,
        start: &str,
    ) -> &mut Self {
        self.plan_of(
            request,
            person,
            &[("received_date", received), ("request_outcome", "H")],
            &[("assessment_outcome", "H")],
            start,
        )
    }

    /// Child c1 (SG1) with a plan issued in the 2025 return (request `r1-2025` received
    /// 1 March 2024, plan 5 July 2024), repeated as historical request `r1-2026` in the 2026
    /// return, as a return repeats a plan still active; rows added next go in the 2026 return.
    pub fn plan_repeated_in_2026(&mut self) -> &mut Self {
        self.in_return(2025)
            .child("c1", "SG1")
            .issued_plan("r1-2025", "c1", "2024-03-01", "2024-07-05")
            .in_return(2026)
            .child("c1", "SG1")
            .historical_plan("r1-2026", "c1", "2024-03-01", "2024-07-05")
    }

    /// Writes every table (one Delta commit each, replacing what was there).
    pub async fn write(&self, lake: &Lake, registry: &SchemaRegistry) {
        for (name, rows) in &self.tables {
            let def = registry
                .table(name)
                .unwrap_or_else(|| panic!("no table {name}"));
            sendlake_test::tables::commit(lake, def, &sendlake_test::tables::batch(def, rows))
                .await;
        }
    }
}

/// The model builds of a [`TestLake`].
pub trait Builds {
    /// The real model project (`pipelines/models`).
    fn project(&self) -> ModelProject;
    fn project_in(&self, dir: &Path) -> ModelProject;
    /// Writes the inputs and builds the real model project without suppression.
    async fn build(&self, inputs: &Inputs) -> ModelReport;
    async fn build_with(
        &self,
        project: &ModelProject,
        policy: SuppressionPolicy,
        run_id: &str,
    ) -> ModelReport;
}

impl Builds for TestLake {
    fn project(&self) -> ModelProject {
        self.project_in(&models_dir())
    }

    fn project_in(&self, dir: &Path) -> ModelProject {
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

    async fn build(&self, inputs: &Inputs) -> ModelReport {
        inputs.write(&self.lake, &self.registry).await;
        let report = self
            .build_with(&self.project(), NO_SUPPRESSION, "run-1")
            .await;
        assert_all_committed(&report);
        report
    }

    async fn build_with(
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
