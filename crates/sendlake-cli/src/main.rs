//! `sendlake`: the command-line tool.
//!
//! Brief overview: `run` executes a pipeline file (the nightly job, [`run`]), `check`,
//! `dictionary`, `powerbi`, `schema contract` and `new-source` check or describe pipeline
//! files and the schema ([`describe`]), `runs`, `unlock` and `vacuum` act on a lake's records
//! ([`ops`]), `sim sen2` and `sim serve` make synthetic data ([`sim`], demo builds); logging
//! and progress bars are in [`logging`]. This file holds the arguments and the dispatch.
//! Exit codes (docs/operations.md):
//! 0 success, 1 partial failure (something was quarantined whole or failed; the rest was
//! committed), 2 configuration or usage error (nothing ran), 3 fatal (nothing committed), 4
//! locked (another run holds the lake) — [`ExitStatus`]. The `demo` feature (on by default)
//! adds `sim` and `run --demo`; the container image is built without it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod describe;
mod logging;
mod ops;
mod run;
#[cfg(feature = "demo")]
mod sim;

use clap::{Parser, Subcommand};
use logging::{Bars, LogFormat};
use sendlake_pipeline::{ExitStatus, Progress, RunOptions};
#[cfg(feature = "demo")]
use sim::SimCommand;
use tracing::error;

/// SEND data from many partners into one trusted, Power BI-ready Delta lake.
#[derive(Debug, Parser)]
#[command(name = "sendlake", version, about)]
struct Cli {
    /// Log format: `human` (default on a terminal) or `json` (one JSON object per line, for
    /// schedulers and log collectors).
    #[arg(long, value_enum, global = true)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `sendlake_pipeline=debug`. The Delta kernel's own events are
    /// off by default: it logs an ERROR while probing a table that does not exist yet (every
    /// first run), and real kernel failures reach sendlake as errors, which it logs itself.
    /// Other crates' DEBUG and TRACE events are never logged: they print data values.
    #[arg(
        long,
        global = true,
        default_value = "warn,buoyant_kernel=off,sendlake=info,sendlake_pipeline=info,sendlake_load=info",
        env = "SENDLAKE_LOG"
    )]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline (default: pipelines/demo.toml).
    Run {
        /// Pipeline file.
        #[arg(default_value = "pipelines/demo.toml")]
        pipeline: PathBuf,
        /// Use the fixed, public development pseudonymisation key. Synthetic data only; refused
        /// for remote stores; recorded in the run manifest.
        #[arg(long)]
        demo: bool,
        /// Override the pipeline's store (a folder, file://, az://, abfss:// or s3:// URL).
        #[arg(long)]
        store: Option<String>,
        /// No progress bars.
        #[arg(long)]
        no_progress: bool,
        /// Read no source: rebuild the models (dimensions, facts, KPIs, checks) from what the
        /// lake holds now.
        #[arg(long)]
        models_only: bool,
        /// Also write the models' inputs (Parquet file lists, reference tables) and SQL in
        /// build order to DIR, to run the same models on another engine (docs/benchmarks.md).
        #[arg(long, value_name = "DIR")]
        export_model_sql: Option<PathBuf>,
        /// Write each model's executed physical plan, with rows and time per operator, to
        /// DIR/<table>.txt: where a slow model spends its time.
        #[arg(long, value_name = "DIR")]
        model_plans: Option<PathBuf>,
        /// Read only this source (repeatable): a backfill, or one pod of a fan-out.
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
        /// Only the SEN2 files whose names match this pattern (`*`, `?`): reprocess a past
        /// submission; the others are untouched.
        #[arg(long, value_name = "PATTERN")]
        files: Option<String>,
        /// Re-read incremental partner streams from this point (e.g. 2026-01-01T00:00:00Z)
        /// instead of their saved cursor: records are replaced by id, the rest untouched.
        #[arg(long, value_name = "CURSOR")]
        since: Option<String>,
        /// Build no models (a fan-out pod; one `--models-only` run builds them after).
        #[arg(long, conflicts_with = "models_only")]
        no_models: bool,
    },
    /// Recent runs from the manifests in the store, newest first, and the locks held now.
    Runs {
        /// Pipeline file (its store is read).
        #[arg(default_value = "pipelines/demo.toml")]
        pipeline: PathBuf,
        /// Read this store instead of the pipeline's.
        #[arg(long)]
        store: Option<String>,
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Release the store locks of a run that died (`sendlake runs` lists the locks).
    Unlock {
        /// Pipeline file (its store is used).
        pipeline: PathBuf,
        /// The dead run's id.
        #[arg(long = "run", value_name = "RUN_ID")]
        run_id: String,
        /// Use this store instead of the pipeline's.
        #[arg(long)]
        store: Option<String>,
    },
    /// Generate the Power BI project (PBIP: TMDL semantic model, starter report) for a
    /// pipeline's model tables. Regenerating keeps the author's own tables and measures.
    Powerbi {
        /// Pipeline file (its models folder says which tables the model holds).
        pipeline: PathBuf,
        /// Output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Project name.
        #[arg(long, default_value = "SEND")]
        name: String,
        /// Lake location the model opens on (default: the pipeline's store, if a folder or
        /// an https:// URL); changeable later in Power BI as the LakeLocation parameter.
        #[arg(long)]
        lake: Option<String>,
    },
    /// Write the data dictionary (every table, column and code list, and where each table is
    /// filled from in this pipeline) as DIR/data-dictionary.md and .html.
    Dictionary {
        /// Pipeline file.
        pipeline: PathBuf,
        /// Output folder.
        #[arg(long, value_name = "DIR", default_value = "docs")]
        out: PathBuf,
        /// Write nothing; exit 1 if the files in DIR are not what would be written.
        #[arg(long)]
        check: bool,
    },
    /// Apply the pipeline's retention policy now: delete expired quarantine rows, vacuum old
    /// versions and files no version uses, expire old log entries; print what was removed.
    Vacuum {
        /// Pipeline file (its `[retention]` section is the policy).
        pipeline: PathBuf,
        /// Override the pipeline's store (a folder or file:// URL).
        #[arg(long)]
        store: Option<String>,
        /// Remove nothing; print what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check pipeline files and report every problem with file and key.
    Check {
        /// Pipeline files.
        #[arg(required = true)]
        pipelines: Vec<PathBuf>,
    },
    /// Generate synthetic data, or serve the synthetic partner APIs (demo builds).
    #[cfg(feature = "demo")]
    Sim {
        #[command(subcommand)]
        what: SimCommand,
    },
    /// Inspect the shared SEND schema.
    Schema {
        #[command(subcommand)]
        what: SchemaCommand,
    },
    /// Scaffold a new partner source: a source file in pipelines/sources/ mapping every column
    /// of TABLE, a synthetic fixture and its expected counts in tests/fixtures/sources/NAME/,
    /// checked by loading the fixture through the mapping. Run from the workspace root.
    NewSource {
        /// Source name (snake_case).
        name: String,
        /// `rest` (a partner API) or `file` (CSV files).
        #[arg(long, default_value = "rest", value_parser = ["rest", "file"])]
        kind: String,
        /// The partner table it fills (schemas/tables, `record_lineage = true`).
        #[arg(long)]
        table: String,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Print the published contract (every restricted/published column and type).
    Contract,
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bars = Bars::default();
    let format = logging::init(cli.log_format, &cli.log, &bars);
    let code = match &cli.command {
        Command::Run {
            pipeline,
            demo,
            store,
            no_progress,
            models_only,
            export_model_sql,
            model_plans,
            sources,
            files,
            since,
            no_models,
        } => {
            let show =
                !no_progress && format == LogFormat::Human && std::io::stderr().is_terminal();
            run::run_pipeline(
                pipeline,
                RunOptions {
                    demo: *demo,
                    store_override: store.clone(),
                    models_only: *models_only,
                    export_model_sql: export_model_sql.clone(),
                    model_plans: model_plans.clone(),
                    sources: sources.clone(),
                    files: files.clone(),
                    since: since.clone(),
                    no_models: *no_models,
                    ..RunOptions::default()
                },
                show.then(|| Arc::new(bars.clone()) as Arc<dyn Progress>),
                format,
            )
        }
        Command::Check { pipelines } => describe::check(pipelines),
        Command::Runs {
            pipeline,
            store,
            limit,
            json,
        } => ops::runs(pipeline, store.as_deref(), *limit, *json),
        Command::Unlock {
            pipeline,
            run_id,
            store,
        } => ops::unlock(pipeline, store.as_deref(), run_id),
        Command::Vacuum {
            pipeline,
            store,
            dry_run,
        } => ops::vacuum(pipeline, store.as_deref(), *dry_run, format),
        Command::Dictionary {
            pipeline,
            out,
            check,
        } => describe::dictionary(pipeline, out, *check),
        Command::Powerbi {
            pipeline,
            out,
            name,
            lake,
        } => describe::powerbi(pipeline, out, name, lake.as_deref()),
        #[cfg(feature = "demo")]
        Command::Sim { what } => sim::run(what),
        Command::NewSource { name, kind, table } => describe::new_source(name, kind, table),
        Command::Schema {
            what: SchemaCommand::Contract,
        } => match describe::sendlake_schema_contract() {
            Ok(lines) => {
                for l in lines {
                    #[expect(clippy::print_stdout, reason = "the contract is the command's output")]
                    {
                        println!("{l}");
                    }
                }
                ExitStatus::Success
            }
            Err(e) => {
                error!(error = %e, "Schema is inconsistent.");
                ExitStatus::Configuration
            }
        },
    };
    ExitCode::from(code)
}

/// The multi-threaded async runtime; `None` (reported) if the OS refuses one.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            error!(error = %e, "Cannot start the async runtime.");
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}
