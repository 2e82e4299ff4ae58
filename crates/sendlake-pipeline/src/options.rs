//! How to run: the options a caller (the CLI, an embedder, a test) gives [`crate::run::run`].

use std::collections::BTreeMap;
use std::sync::Arc;

use sendlake_calendar::{Clock, SystemClock};
use sendlake_schema::SchemaRegistry;

use crate::progress::{NoProgress, Progress};

/// How to run.
pub struct RunOptions {
    /// Use the fixed, public development key (synthetic data only; refused for remote stores).
    pub demo: bool,
    /// Override the store URL of the pipeline file.
    pub store_override: Option<String>,
    /// Progress sink.
    pub progress: Arc<dyn Progress>,
    /// Where the run reads "now": its start (run id, `loaded_at`, the models' today), its
    /// finish and the quarantine's retention cut-off. The system clock unless a test or an
    /// embedder replays a night at a chosen time.
    pub clock: Arc<dyn Clock>,
    /// Test hook (the `failpoints` feature, which no release build has): stop as if the
    /// process were killed after this many table commits.
    #[cfg(feature = "failpoints")]
    pub crash_after_commits: Option<usize>,
    /// Schema to use instead of the embedded one.
    pub registry: Option<Arc<SchemaRegistry>>,
    /// Secrets by environment-variable name, consulted before the process environment: for
    /// embedding sendlake (and for tests, which cannot set process variables safely).
    pub secrets: BTreeMap<String, String>,
    /// Read no source: rebuild the models from what the lake holds now.
    pub models_only: bool,
    /// Also write the models' inputs and SQL to this folder, for running them on another
    /// engine (the comparison in docs/benchmarks.md).
    pub export_model_sql: Option<std::path::PathBuf>,
    /// Write each model's executed plan with its metrics to this folder.
    pub model_plans: Option<std::path::PathBuf>,
    /// Read only these sources (a backfill, or one pod of a fan-out); empty reads all.
    pub sources: Vec<String>,
    /// Only the SEN2 files whose names match this `*`/`?` pattern: reprocess a past
    /// submission without touching the others.
    pub files: Option<String>,
    /// Re-read incremental partner streams from this cursor value (an RFC 3339 time for the
    /// bundled sources) instead of their committed cursor: replays a date range. Records are
    /// replaced by id, and the committed cursor never moves backwards.
    pub since: Option<String>,
    /// Build no models (a fan-out pod; the model build runs once at the end).
    pub no_models: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            demo: false,
            store_override: None,
            progress: Arc::new(NoProgress),
            clock: Arc::new(SystemClock),
            #[cfg(feature = "failpoints")]
            crash_after_commits: None,
            registry: None,
            secrets: BTreeMap::new(),
            models_only: false,
            export_model_sql: None,
            model_plans: None,
            sources: Vec::new(),
            files: None,
            since: None,
            no_models: false,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("demo", &self.demo)
            .field("store_override", &self.store_override)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
