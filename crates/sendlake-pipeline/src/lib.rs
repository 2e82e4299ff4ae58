//! Pipelines: the pipeline file, and the run that turns sources into committed Delta tables.
//!
//! Brief overview:
//! - [`config::PipelineFile`] is a pipeline file as written (`pipelines/*.toml`: closed,
//!   typed, `deny_unknown_fields`); [`config::PipelineFile::check`] turns it into a
//!   [`config::PipelinePlan`], reporting every problem with the file and key.
//! - [`run::run`] executes a plan: for each source, each file is read as a stream
//!   (`sendlake-extract`), conformed one person at a time (`sendlake-transform`) into local
//!   staging files (`sendlake-load`), and dropped whole if the file turns out to be bad. Then
//!   each table gets exactly one Delta commit that replaces the submissions loaded by this run,
//!   and the [`manifest::Manifest`] (`_runs/<run id>.json`) records and reconciles the counts.
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

pub mod config;
pub mod dictionary;
pub mod manifest;
pub mod powerbi;
mod records;
pub mod report;
pub mod retention;
pub mod run;
pub mod scaffold;
pub mod sources;

pub use config::{ConfigErrors, ConfigProblem, PipelineFile, PipelinePlan, load_plan};
pub use manifest::{Manifest, RunStatus};
pub use records::dry_run;
pub use run::{Progress, RunError, RunOptions, RunReport, run};

/// The schema compiled into this binary.
///
/// # Errors
/// If the embedded schema files are inconsistent.
pub fn registry() -> Result<sendlake_schema::SchemaRegistry, sendlake_schema::SchemaError> {
    sendlake_schema::SchemaRegistry::embedded()
}
