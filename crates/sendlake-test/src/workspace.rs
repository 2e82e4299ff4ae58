//! A temp folder laid out as a pipeline expects: `inputs/<source>/` and `lake/`.

use std::path::PathBuf;

use arrow_array::RecordBatch;

use crate::block_on;

/// A temp folder with `inputs/` (one folder per source) and `lake/`; removed when dropped.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `inputs/<source>/`, created.
    pub fn inputs(&self, source: &str) -> PathBuf {
        let p = self.dir.path().join("inputs").join(source);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn lake(&self) -> PathBuf {
        self.dir.path().join("lake")
    }

    /// Writes `inputs/<source>/<name>`.
    pub fn write_input(&self, source: &str, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.inputs(source).join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `pipeline.toml`: one `sen2_xml` source per name, reading `inputs/<name>/`, into `lake/`.
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

    pub fn table_uri(&self, zone: &str, table: &str) -> String {
        self.lake().join(zone).join(table).display().to_string()
    }

    /// The current version of `zone/table`, read whole.
    pub fn read(&self, zone: &str, table: &str) -> Vec<RecordBatch> {
        block_on(sendlake_load::read_table(&self.table_uri(zone, table))).unwrap()
    }

    /// The current version of `zone/table`; `None` if it was never committed.
    pub fn version(&self, zone: &str, table: &str) -> Option<i64> {
        block_on(sendlake_load::table_version(&self.table_uri(zone, table))).unwrap()
    }

    /// The manifest of run `run_id` as written to `lake/_runs/`, as `T` (the pipeline's
    /// `Manifest`, or `serde_json::Value` to check the JSON itself).
    pub fn manifest_as<T: serde::de::DeserializeOwned>(&self, run_id: &str) -> T {
        let p = self.lake().join("_runs").join(format!("{run_id}.json"));
        serde_json::from_slice(&std::fs::read(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}
