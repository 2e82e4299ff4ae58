//! Pipelines: the pipeline file, and the run that turns sources into committed Delta tables.
//!
//! Brief overview:
//! - [`config::PipelineFile`] is a pipeline file as written (`pipelines/*.toml`: closed,
//!   typed, `deny_unknown_fields`); [`config::PipelineFile::check`] turns it into a
//!   [`config::PipelinePlan`], reporting every problem with the file and key.
//! - [`run::run`] executes a plan with [`RunOptions`] (the key, the scope, the clock): for each source, each file is read as a stream
//!   (`sendlake-extract`), conformed one person at a time (`sendlake-transform`) into local
//!   staging files (`sendlake-load`), and dropped whole if the file turns out to be bad. Then
//!   each table gets exactly one Delta commit that replaces the submissions loaded by this run,
//!   and the [`manifest::Manifest`] (`_runs/<run id>.json`) records and reconciles the counts.
//! - [`lock::RunLocks`] keeps two runs off the same sources and models: a lock document per
//!   unit in the store (`_locks/`), refreshed by a heartbeat, taken over when stale.
//! - [`runs::recent_runs`] summarises recent runs from their manifests (`sendlake runs`).
//! - [`open_store`] opens the pipeline's lake (local, Azure or S3), refusing plain `http://`
//!   endpoints off loopback.
//! - [`report::render`] is the run's HTML report beside its manifest (`_runs/<run id>.html`).
//! - [`retention::apply`] applies the pipeline's `[retention]` policy (old versions, expired
//!   quarantine rows) to every table; a run does it after its commits (`manifest.retention`).
//! - [`dictionary::render`] writes the data dictionary of the schema as this pipeline fills it.
//! - [`powerbi::semantic_model`] says which tables and roles a pipeline's Power BI model
//!   holds (`sendlake-powerbi` writes it).
//! - [`run::Progress`] lets the CLI draw progress bars without this crate knowing about
//!   terminals.
//!
//! Data flows one way: extract → transform → load; this crate is the only one that knows all
//! three.

mod commit;
pub mod config;
pub mod dictionary;
pub mod error;
pub mod lock;
pub mod manifest;
mod options;
pub mod powerbi;
mod progress;
mod reconcile;
pub mod report;
pub mod retention;
pub mod run;
pub mod runs;
pub mod scaffold;
mod source;
pub mod sources;

pub use config::{PipelineFile, PipelinePlan, load_plan};
pub use error::{ConfigErrors, ConfigProblem, ExitStatus, Fault, RunError};
pub use manifest::{Manifest, RunStatus};
pub use run::{Progress, RunOptions, RunReport, run};
pub use source::dry_run;

/// The schema compiled into this binary.
///
/// # Errors
/// If the embedded schema files are inconsistent.
pub fn registry() -> Result<sendlake_schema::SchemaRegistry, sendlake_schema::SchemaError> {
    sendlake_schema::SchemaRegistry::embedded()
}

/// Environment variables that point an object store at another endpoint (S3-compatible
/// stores, sovereign clouds, the Azurite emulator).
const STORE_ENDPOINT_VARS: &[&str] = &[
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AZURE_STORAGE_ENDPOINT",
    "AZURE_ENDPOINT",
    "AZURITE_BLOB_STORAGE_URL",
];

/// Opens the lake at `store_url`, after checking that no store endpoint in the environment
/// is plain `http://` to a host other than loopback: children's data never crosses a
/// network unencrypted (the emulator on 127.0.0.1 is fine).
///
/// # Errors
/// The endpoint is refused, or the store cannot be opened; the message names which.
pub fn open_store(store_url: &str) -> Result<sendlake_load::Lake, String> {
    let remote = store_url
        .split_once("://")
        .is_some_and(|(scheme, _)| sendlake_load::store::REMOTE_SCHEMES.contains(&scheme));
    if remote {
        for var in STORE_ENDPOINT_VARS {
            let Ok(value) = std::env::var(var) else {
                continue;
            };
            let allowed = url::Url::parse(&value)
                .map(|u| sendlake_http::is_allowed_scheme(&u))
                .unwrap_or(false);
            if !allowed {
                return Err(format!(
                    "store {store_url}: {var} is {value:?}; only https:// is allowed, or plain http:// to loopback (an emulator)"
                ));
            }
        }
    }
    sendlake_load::Lake::open(store_url)
        .map_err(|e| format!("cannot open the store {store_url}: {e}"))
}
