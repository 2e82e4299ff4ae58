//! `sendlake`: the command-line tool.
//!
//! Brief overview: `run` executes a pipeline file (the nightly job), `check` validates pipeline
//! files and reports every problem with file and key, `vacuum` applies the retention policy
//! now, `sim sen2` writes synthetic SEN2 returns, `sim serve` serves the synthetic partner APIs on loopback, `schema contract` prints the published contract. Exit codes (docs/operations.md):
//! 0 success, 1 partial failure (something was quarantined whole or failed; the rest was
//! committed), 2 configuration or usage error (nothing ran), 3 fatal (nothing committed).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

mod ops;
mod sim;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sendlake_pipeline::{Progress, RunOptions, load_plan, run};
use sim::SimCommand;
use tracing::error;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
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
    /// Generate synthetic data, or serve the synthetic partner APIs.
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

/// Progress bars over stderr; log lines are printed above the bar, not through it.
#[derive(Clone)]
struct Bars {
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl Bars {
    fn suspend<F: FnOnce()>(&self, f: F) {
        let guard = self.bar.lock().ok();
        match guard.as_ref().and_then(|g| g.as_ref()) {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

/// One bar over all files being read (files of different submissions load in parallel), cleared
/// when the run moves on to committing.
impl Progress for Bars {
    fn file_started(&self, name: &str, bytes: u64) {
        let Ok(mut g) = self.bar.lock() else { return };
        match g.as_ref() {
            Some(bar) => bar.inc_length(bytes),
            None => {
                let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                *g = Some(bar);
            }
        }
        if let Some(bar) = g.as_ref() {
            bar.set_message(name.to_owned());
        }
    }
    fn advance(&self, bytes: u64) {
        if let Ok(g) = self.bar.lock()
            && let Some(b) = g.as_ref()
        {
            b.inc(bytes);
        }
    }
    fn phase(&self, message: &str) {
        if let Ok(mut g) = self.bar.lock()
            && let Some(b) = g.take()
        {
            b.finish_and_clear();
        }
        self.suspend(|| eprintln!("  {message}"));
    }
}

/// A tracing writer that prints to stderr without tearing the progress bar.
struct BarWriter {
    bars: Bars,
    buf: Vec<u8>,
}

impl std::io::Write for BarWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for BarWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.bars.suspend(|| eprint!("{text}"));
    }
}

impl<'a> MakeWriter<'a> for Bars {
    type Writer = BarWriter;
    fn make_writer(&'a self) -> BarWriter {
        BarWriter {
            bars: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// Whether an event or span may be logged at all, whatever `--log` asks for: other crates' only
/// at INFO and above, because at DEBUG and TRACE the Delta kernel and DataFusion print log
/// actions with column statistics, row batches and plans with literal values, and here those
/// are children's personal data (the quarantine's raw values among them). sendlake's own
/// crates never log a value from the input, at any level.
fn may_log(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("sendlake") || *meta.level() <= tracing::Level::INFO
}

fn init_logging(cli: &Cli, bars: &Bars) -> LogFormat {
    let format = cli
        .log_format
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Human
        } else {
            LogFormat::Json
        });
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer().with_writer(bars.clone());
    let layer = match format {
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
        // Colours only for a terminal: escape codes in a file or pipe are noise.
        LogFormat::Human => layer
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::filter::filter_fn(may_log))
        .with(layer)
        .try_init();
    if let Err(e) = result {
        eprintln!("warning: logging not initialised: {e}");
    }
    format
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bars = Bars {
        bar: Arc::new(Mutex::new(None)),
    };
    let format = init_logging(&cli, &bars);
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
            run_pipeline(
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
        Command::Check { pipelines } => check(pipelines),
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
        } => vacuum(pipeline, store.as_deref(), *dry_run, format),
        Command::Dictionary {
            pipeline,
            out,
            check,
        } => dictionary(pipeline, out, *check),
        Command::Powerbi {
            pipeline,
            out,
            name,
            lake,
        } => powerbi(pipeline, out, name, lake.as_deref()),
        Command::Sim { what } => sim::run(what),
        Command::NewSource { name, kind, table } => new_source(name, kind, table),
        Command::Schema {
            what: SchemaCommand::Contract,
        } => match sendlake_schema_contract() {
            Ok(lines) => {
                for l in lines {
                    #[expect(clippy::print_stdout, reason = "the contract is the command's output")]
                    {
                        println!("{l}");
                    }
                }
                0
            }
            Err(e) => {
                error!(error = %e, "Schema is inconsistent.");
                2
            }
        },
    };
    ExitCode::from(u8::try_from(code).unwrap_or(3))
}

/// A pipeline file and the schema, for the commands that describe a pipeline's tables; a
/// problem is printed and becomes exit code 2.
fn plan_and_schema(
    pipeline: &Path,
) -> Result<
    (
        sendlake_pipeline::PipelinePlan,
        sendlake_schema::SchemaRegistry,
    ),
    i32,
> {
    let plan = load_plan(pipeline).map_err(|errors| {
        eprintln!("{errors}");
        2
    })?;
    let registry = sendlake_pipeline::registry().map_err(|e| {
        eprintln!("error: schema: {e}");
        2
    })?;
    Ok((plan, registry))
}

fn dictionary(pipeline: &Path, out: &Path, check: bool) -> i32 {
    let (plan, registry) = match plan_and_schema(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dict = match sendlake_pipeline::dictionary::render(&plan, &registry) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut stale = 0;
    for (file, text) in [
        ("data-dictionary.md", &dict.markdown),
        ("data-dictionary.html", &dict.html),
    ] {
        let path = out.join(file);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                eprintln!(
                    "{} is out of date: run `sendlake dictionary {} --out {}`",
                    path.display(),
                    pipeline.display(),
                    out.display()
                );
                stale += 1;
            }
        } else if let Err(e) =
            std::fs::create_dir_all(out).and_then(|()| std::fs::write(&path, text))
        {
            eprintln!("error: {}: {e}", path.display());
            return 2;
        } else {
            eprintln!("wrote {}", path.display());
        }
    }
    i32::from(stale > 0)
}

fn powerbi(pipeline: &Path, out: &Path, name: &str, lake: Option<&str>) -> i32 {
    let (plan, registry) = match plan_and_schema(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let model = match sendlake_pipeline::powerbi::semantic_model(&plan, &registry, name, lake) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match sendlake_pipeline::powerbi::write(&model, out) {
        Ok(done) => {
            eprintln!(
                "{}: {} file(s) written, {} unchanged; kept {} author table(s) and {} author measure(s)",
                out.join(format!("{name}.pbip")).display(),
                done.written.len(),
                done.unchanged.len(),
                done.author_tables.len(),
                done.author_measures.len()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn sendlake_schema_contract() -> Result<Vec<String>, String> {
    sendlake_pipeline::registry()
        .map(|r| r.contract())
        .map_err(|e| e.to_string())
}

/// Runs a pipeline and reports the outcome: a readable summary for people (`human`), one
/// structured event for log collectors (`json`). Every plain message here repeats a log event,
/// so JSON mode leaves it out and a JSON-lines consumer never meets a plain line.
fn run_pipeline(
    pipeline: &Path,
    mut opts: RunOptions,
    progress: Option<Arc<dyn Progress>>,
    format: LogFormat,
) -> i32 {
    let human = format == LogFormat::Human;
    let plan = match load_plan(pipeline) {
        Ok(p) => p,
        Err(errors) => {
            for p in &errors.0 {
                error!(file = %p.file.display(), key = %p.key, "{}", p.message);
            }
            if human {
                eprintln!("{errors}");
            }
            return 2;
        }
    };
    // In JSON mode the run's own WARN event announces demo mode.
    if opts.demo && human {
        eprintln!(
            "*** DEMO MODE: the fixed, public development pseudonymisation key is in use. Synthetic data only. ***"
        );
    }
    let Some(runtime) = runtime() else {
        return 3;
    };
    if let Some(p) = progress {
        opts.progress = p;
    }
    match runtime.block_on(run(&plan, opts)) {
        Ok(report) if !human => {
            log_summary(&report);
            report.exit_code()
        }
        Ok(report) => {
            let m = &report.manifest;
            eprintln!(
                "run {} {:?}: manifest {}/_runs/{}.json",
                m.run_id, m.status, m.store, m.run_id
            );
            for (table, t) in &m.tables {
                if table.starts_with("quarantine/") {
                    eprintln!(
                        "  {table:<26} rows {:>8}  {}{}",
                        t.rows_written.unwrap_or(0),
                        t.commit,
                        t.version.map(|v| format!(" v{v}")).unwrap_or_default()
                    );
                    continue;
                }
                eprintln!(
                    "  {table:<26} read {:>8}  loaded {:>8}  quarantined {:>6}  {}{}",
                    t.counts.read,
                    t.counts.loaded,
                    t.counts.quarantined_total(),
                    t.commit,
                    t.version.map(|v| format!(" v{v}")).unwrap_or_default()
                );
            }
            if !m.field_rejects.is_empty() {
                eprintln!("  values nulled and quarantined: {:?}", m.field_rejects);
            }
            if !m.warnings.is_empty() {
                eprintln!("  warnings: {:?}", m.warnings);
            }
            if !m.files_quarantined.is_empty() {
                eprintln!("  files quarantined whole: {:?}", m.files_quarantined);
            }
            for source in m
                .sources
                .iter()
                .filter(|s| !s.streams.is_empty() || s.status.is_some())
            {
                if let Some(reason) = &source.stale_reason {
                    eprintln!("  {} STALE (last good data kept): {reason}", source.name);
                }
                for st in &source.streams {
                    let r = &st.records;
                    let c = &st.data_commit;
                    eprintln!(
                        "  {:<36} read {:>8}  loaded {:>8}  quarantined {:>6}  deleted {:>5}  {} {}{}",
                        format!("{}/{}", source.name, st.name),
                        r.read,
                        r.loaded,
                        r.quarantined.values().sum::<u64>(),
                        r.deleted,
                        st.mode,
                        c.commit,
                        c.version.map(|v| format!(" v{v}")).unwrap_or_default()
                    );
                    if !r.drift.is_empty() {
                        eprintln!("    schema drift: {:?}", r.drift);
                    }
                    if !r.field_rejects.is_empty() {
                        eprintln!("    values nulled and quarantined: {:?}", r.field_rejects);
                    }
                }
            }
            if let Some(models) = &m.models {
                let committed = models
                    .models
                    .iter()
                    .filter(|t| t.status == sendlake_model::ModelStatus::Committed)
                    .count();
                eprintln!(
                    "  models: {committed} of {} tables committed",
                    models.models.len()
                );
                for t in models
                    .models
                    .iter()
                    .filter(|t| t.status != sendlake_model::ModelStatus::Committed)
                {
                    eprintln!(
                        "    {:<26} {:?}: {}",
                        t.table,
                        t.status,
                        t.reason.as_deref().unwrap_or("")
                    );
                }
                let count = |s: sendlake_model::CheckStatus| {
                    models.checks.iter().filter(|c| c.status == s).count()
                };
                eprintln!(
                    "  data quality: {} passed, {} warnings, {} failed",
                    count(sendlake_model::CheckStatus::Pass),
                    count(sendlake_model::CheckStatus::Warn),
                    count(sendlake_model::CheckStatus::Fail)
                        + count(sendlake_model::CheckStatus::Error)
                );
                for c in models
                    .checks
                    .iter()
                    .filter(|c| c.status != sendlake_model::CheckStatus::Pass)
                {
                    eprintln!("    {:?} {}: {}", c.status, c.name, c.detail);
                }
            }
            if let Some(e) = &m.models_error {
                eprintln!("  models not built: {e}");
            }
            eprintln!("  reconciled: {}", m.reconciled);
            report.exit_code()
        }
        Err(e) => {
            error!(error = %e, "Run failed.");
            if human {
                eprintln!("error: {e}");
            }
            e.exit_code()
        }
    }
}

/// The run's outcome as one event: what the human summary's headline and totals say, for
/// alerting; the manifest it names has every number.
fn log_summary(report: &sendlake_pipeline::RunReport) {
    let m = &report.manifest;
    let sen2 = m
        .tables
        .iter()
        .filter(|(t, _)| !t.starts_with("quarantine/"));
    let streams = m.sources.iter().flat_map(|s| &s.streams);
    let stale: Vec<&str> = m
        .sources
        .iter()
        .filter(|s| s.stale_reason.is_some())
        .map(|s| s.name.as_str())
        .collect();
    let models = m.models.as_ref();
    let checks = |s: sendlake_model::CheckStatus| {
        models.map_or(0, |r| r.checks.iter().filter(|c| c.status == s).count())
    };
    tracing::info!(
        run_id = %m.run_id,
        status = ?m.status,
        exit_code = report.exit_code(),
        manifest = %format!("{}/_runs/{}.json", m.store, m.run_id),
        reconciled = m.reconciled,
        sen2_rows_read = sen2.clone().map(|(_, t)| t.counts.read).sum::<u64>(),
        sen2_rows_loaded = sen2.clone().map(|(_, t)| t.counts.loaded).sum::<u64>(),
        sen2_rows_quarantined = sen2.map(|(_, t)| t.counts.quarantined_total()).sum::<u64>(),
        files_quarantined = m.files_quarantined.values().sum::<u64>(),
        records_read = streams.clone().map(|s| s.records.read).sum::<u64>(),
        records_loaded = streams.clone().map(|s| s.records.loaded).sum::<u64>(),
        records_quarantined = streams
            .map(|s| s.records.quarantined.values().sum::<u64>())
            .sum::<u64>(),
        stale_sources = %stale.join(","),
        models_committed = models.map_or(0, |r| r
            .models
            .iter()
            .filter(|t| t.status == sendlake_model::ModelStatus::Committed)
            .count()),
        models = models.map_or(0, |r| r.models.len()),
        checks_passed = checks(sendlake_model::CheckStatus::Pass),
        checks_warned = checks(sendlake_model::CheckStatus::Warn),
        checks_failed = checks(sendlake_model::CheckStatus::Fail)
            + checks(sendlake_model::CheckStatus::Error),
        "Run summary."
    );
}

/// `sendlake vacuum`: 0 when the policy was applied to every table, 1 when a table failed
/// (the others were still done), 2 for a bad pipeline file, 3 when the store cannot be opened,
/// 4 while a run holds one of the pipeline's locks. In JSON mode the log events (`vacuumed
/// table` per table, `Retention applied.` with the totals) are the whole output.
fn vacuum(pipeline: &Path, store: Option<&str>, dry_run: bool, format: LogFormat) -> i32 {
    let (plan, registry) = match plan_and_schema(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(runtime) = runtime() else {
        return 3;
    };
    let store = store.unwrap_or(&plan.store_url);
    let vacuumed = runtime.block_on(sendlake_pipeline::retention::vacuum(
        &plan, store, &registry, dry_run,
    ));
    let r = match vacuumed {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "Retention failed.");
            if format == LogFormat::Human {
                eprintln!("error: {e}");
            }
            return e.exit_code();
        }
    };
    if format == LogFormat::Json {
        return i32::from(r.totals.tables_failed > 0);
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    eprintln!(
        "retention of {store}{}: versions older than {} days, quarantine rows loaded before {} ({} days)",
        if dry_run { " (dry run)" } else { "" },
        r.versions_days,
        r.quarantine_cutoff,
        r.quarantine_days
    );
    // Only the tables something was (or would be) removed from, or that failed.
    for (table, t) in r.tables.iter().filter(|(_, t)| {
        t.files_removed > 0
            || t.quarantine_rows_deleted.is_some_and(|n| n > 0)
            || t.log_entries_removed.is_some_and(|n| n > 0)
            || t.error.is_some()
    }) {
        let rows = t
            .quarantine_rows_deleted
            .map(|n| format!("  rows {n:>7}"))
            .unwrap_or_default();
        let log = t
            .log_entries_removed
            .map(|n| format!("  log entries {n:>4}"))
            .unwrap_or_default();
        eprintln!(
            "  {table:<28} files {:>5}  bytes {:>11}{log}{rows}{}",
            t.files_removed,
            t.bytes_removed.map_or("?".to_owned(), |b| b.to_string()),
            t.error
                .as_ref()
                .map(|e| format!("  FAILED: {e}"))
                .unwrap_or_default()
        );
    }
    let t = &r.totals;
    eprintln!(
        "{verb} {} file(s), {} bytes, {} quarantine row(s), {} log entr{} in {} table(s); {} failed",
        t.files_removed,
        t.bytes_removed,
        t.quarantine_rows_deleted,
        t.log_entries_removed,
        if t.log_entries_removed == 1 {
            "y"
        } else {
            "ies"
        },
        t.tables,
        t.tables_failed
    );
    i32::from(t.tables_failed > 0)
}

fn check(pipelines: &[PathBuf]) -> i32 {
    let mut bad = 0;
    for p in pipelines {
        match load_plan(p) {
            Ok(plan) => eprintln!(
                "{}: ok ({} source(s), store {})",
                p.display(),
                plan.sources.len(),
                plan.store_url
            ),
            Err(errors) => {
                bad += 1;
                eprintln!("{errors}");
            }
        }
    }
    if bad > 0 { 2 } else { 0 }
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

fn new_source(name: &str, kind: &str, table: &str) -> i32 {
    use sendlake_pipeline::scaffold::{ScaffoldKind, new_source};
    let kind = if kind == "file" {
        ScaffoldKind::File
    } else {
        ScaffoldKind::Rest
    };
    let registry = match sendlake_pipeline::registry() {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: schema: {e}");
            return 2;
        }
    };
    let Some(runtime) = runtime() else {
        return 3;
    };
    match runtime.block_on(new_source(Path::new("."), name, kind, table, registry)) {
        Ok(s) => {
            eprintln!("wrote {}", s.source_file.display());
            eprintln!(
                "wrote {} ({} synthetic records, all loaded by the mapping)",
                s.fixture_dir.display(),
                s.records
            );
            eprintln!(
                "next: point the field paths at the partner's records, add its awkward cases to the fixture, and add the source to a pipeline (docs/adding-a-source.md)"
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
