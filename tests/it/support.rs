//! Helpers: temp pipelines, in-process runs, reading tables back.

use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray};
use sendlake_pipeline::{Manifest, RunOptions, RunReport, load_plan, run};

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

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A temp folder with `inputs/` (one folder per source) and `lake/`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn inputs(&self, source: &str) -> PathBuf {
        let p = self.dir.path().join("inputs").join(source);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn lake(&self) -> PathBuf {
        self.dir.path().join("lake")
    }

    pub fn write_input(&self, source: &str, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.inputs(source).join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// A pipeline with one `sen2_xml` source per name.
    pub fn pipeline(&self, sources: &[&str]) -> PathBuf {
        let mut text = String::from(
            "[pipeline]\nname = \"test\"\n[store]\nurl = \"lake\"\n[run]\nbatch_rows = 1000\n",
        );
        for s in sources {
            self.inputs(s);
            text.push_str(&format!(
                "[[sources]]\ntype = \"sen2_xml\"\nname = \"{s}\"\npath = \"inputs/{s}\"\n"
            ));
        }
        let p = self.dir.path().join("pipeline.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn run(&self, pipeline: &Path) -> RunReport {
        self.run_with(
            pipeline,
            RunOptions {
                demo: true,
                ..RunOptions::default()
            },
        )
        .unwrap()
    }

    pub fn run_with(
        &self,
        pipeline: &Path,
        opts: RunOptions,
    ) -> Result<RunReport, sendlake_pipeline::RunError> {
        let plan = load_plan(pipeline).unwrap();
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(&plan, opts))
    }

    pub fn table_uri(&self, zone: &str, table: &str) -> String {
        self.lake().join(zone).join(table).display().to_string()
    }

    pub fn read(&self, zone: &str, table: &str) -> Vec<RecordBatch> {
        let uri = self.table_uri(zone, table);
        block_on(sendlake_load::read_table(&uri)).unwrap()
    }

    pub fn version(&self, zone: &str, table: &str) -> Option<i64> {
        block_on(sendlake_load::table_version(&self.table_uri(zone, table))).unwrap()
    }

    pub fn manifest(&self, run_id: &str) -> Manifest {
        let p = self.lake().join("_runs").join(format!("{run_id}.json"));
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// All values of a string column, nulls as None, in table order.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"));
        let arr = col
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap_or_else(|| panic!("{column} is not utf8"));
        for i in 0..arr.len() {
            out.push(arr.is_valid(i).then(|| arr.value(i).to_owned()));
        }
    }
    out
}

/// Rows rendered as sorted lines, without the run-specific lineage columns, to compare runs.
pub fn content(batches: &[RecordBatch]) -> Vec<String> {
    let mut lines = Vec::new();
    for b in batches {
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&i| {
                !matches!(
                    b.schema().field(i).name().as_str(),
                    "run_id" | "loaded_at" | "rejected_at"
                )
            })
            .collect();
        let b = b.project(&keep).unwrap();
        let text = arrow_cast_free_format(&b);
        lines.extend(text);
    }
    lines.sort();
    lines
}

fn arrow_cast_free_format(b: &RecordBatch) -> Vec<String> {
    (0..b.num_rows())
        .map(|r| {
            (0..b.num_columns())
                .map(|c| {
                    let col = b.column(c);
                    if col.is_null(r) {
                        "∅".to_owned()
                    } else {
                        format!("{:?}", col.slice(r, 1))
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}
