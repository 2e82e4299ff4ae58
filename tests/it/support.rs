//! The end-to-end tests' own helpers on top of `sendlake-test` (temp workspaces, lake
//! readers, the clock, golden files): running a pipeline in-process, and what the SEN2
//! generator wrote.

use std::path::{Path, PathBuf};

use arrow_array::{RecordBatch, StringArray};
use sendlake_pipeline::{Manifest, RunOptions, RunReport, load_plan, run};
pub use sendlake_test::{Workspace, block_on, content, rows, strings};

/// The restricted SEN2 tables, parents first.
pub const SEN2_TABLES: [&str; 8] = [
    "person",
    "request",
    "assessment",
    "named_plan",
    "plan_setting",
    "active_plan",
    "placement",
    "sen_need",
];

/// What the generator wrote, per restricted SEN2 table: the rows a clean load must hold.
pub fn sen2_written(t: &sendlake_sim::Sen2Counts) -> [(&'static str, u64); 8] {
    [
        ("person", t.persons),
        ("request", t.requests),
        ("assessment", t.assessments),
        ("named_plan", t.named_plans),
        ("plan_setting", t.plan_details),
        ("active_plan", t.active_plans),
        ("placement", t.placements),
        ("sen_need", t.sen_needs),
    ]
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Calls `f(column, value)` for every non-null value of every text column of `batch`: the
/// privacy scans look at every string a table holds.
pub fn for_each_text(batch: &RecordBatch, mut f: impl FnMut(&str, &str)) {
    for (i, field) in batch.schema().fields().iter().enumerate() {
        if let Some(a) = batch.column(i).as_any().downcast_ref::<StringArray>() {
            for v in a.iter().flatten() {
                f(field.name(), v);
            }
        }
    }
}

/// Runs in a [`Workspace`]: the pipeline in-process, and its manifest read back.
pub trait Runs {
    /// Runs `pipeline` with the demo key and everything else as default.
    fn run(&self, pipeline: &Path) -> RunReport;
    fn run_with(
        &self,
        pipeline: &Path,
        opts: RunOptions,
    ) -> Result<RunReport, sendlake_pipeline::RunError>;
    /// The manifest run `run_id` wrote to the lake.
    fn manifest(&self, run_id: &str) -> Manifest;
}

impl Runs for Workspace {
    fn run(&self, pipeline: &Path) -> RunReport {
        self.run_with(
            pipeline,
            RunOptions {
                demo: true,
                ..RunOptions::default()
            },
        )
        .unwrap()
    }

    fn run_with(
        &self,
        pipeline: &Path,
        opts: RunOptions,
    ) -> Result<RunReport, sendlake_pipeline::RunError> {
        let plan = load_plan(pipeline).unwrap();
        sendlake_test::runtime().block_on(run(&plan, opts))
    }

    fn manifest(&self, run_id: &str) -> Manifest {
        self.manifest_as(run_id)
    }
}
