//! The modelling layer: from the restricted, person-level tables the sources load to the
//! dimensions, facts and KPI tables report authors use, checked and safe to publish.
//!
//! The main types and how they connect:
//!
//! * [`ModelProject`] is the models folder of a pipeline (`pipelines/models/`): one SQL file
//!   per output table, `*.view.sql` views (SQL several models share, registered in the
//!   session and never written to the lake), `checks.toml` ([`CheckDef`]), `geography.toml` ([`Geography`]: district
//!   → SEND locality → quadrant, and the dated NHS geography), `targets.csv`
//!   ([`TargetRow`]) and `report.toml` ([`ReportConfig`]: the run report's charts and the
//!   source each Power BI starter page shows). Every output table is declared in
//!   `schemas/tables/` like any other, so its columns are a contract.
//! * [`build`] runs the project in one DataFusion session ([`BuildContext`]): the restricted
//!   Delta tables at their current versions and the reference tables (`ref_*`, [`dim_date`])
//!   are registered, the models run in dependency order (worked out from their SQL; a view
//!   is registered at its place in that order), each
//!   output is conformed to its declared Arrow schema, suppressed if it is a published
//!   aggregate ([`suppress()`]), checked, and committed in one Delta commit, or blocked with
//!   its previous version left current. The [`ModelReport`] goes into the run manifest.
//! * [`suppress()`] applies small-number suppression as the table's [`SuppressionDef`]
//!   declares it and the pipeline's [`SuppressionPolicy`] sets it.
//!
//! [`SuppressionDef`]: sendlake_schema::SuppressionDef
//! [`SuppressionPolicy`]: sendlake_schema::SuppressionPolicy
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod checks;
mod error;
mod export;
mod graph;
mod keys;
mod outcome;
pub mod project;
mod publish;
mod reference;
mod runner;
mod session;
pub mod suppress;
mod targets;

pub use checks::{CheckDef, CheckResult, CheckStatus, Severity};
pub use error::{ModelError, ProjectError, Result};
pub use export::export_sql;
pub use outcome::{ModelOutcome, ModelReport, ModelStatus};
pub use project::report::{ChartDef, PowerBiDef, ReportConfig, SeriesDef};
pub use project::{Geography, ModelDef, ModelProject, TargetRow};
pub use reference::dim_date;
pub use runner::build;
pub use session::BuildContext;
pub use suppress::{
    AreaTree, Related, SuppressError, SuppressionStats, suppress, suppress_related,
};
