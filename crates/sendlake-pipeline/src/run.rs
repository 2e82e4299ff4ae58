//! Running a checked pipeline: the orchestration. Set up (store, key, locks), then each
//! source staged and committed through the one seam ([`crate::source`], [`crate::commit`]),
//! then the models, the reconciliation ([`crate::reconcile`]), the manifest and the report.
//! What a source kind does lives in its module; nothing here knows one kind from another.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use sendlake_load::{Lake, StagingArea};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::PseudonymisationKey;
use tracing::{error, info, warn};

use crate::commit::{Committer, Ledger};
use crate::config::{PipelinePlan, SourcePlan};
use crate::error::RunError;
use crate::lock::RunLocks;
use crate::manifest::new_run_id;
use crate::manifest::{KeyInfo, Manifest, RunScope, RunStatus, SourceStatus};
pub use crate::options::RunOptions;
pub use crate::progress::Progress;
use crate::reconcile::Outcome;
use crate::source::{RunContext, RunTotals};

/// The outcome of a run.
#[derive(Debug)]
pub struct RunReport {
    /// The final manifest (also written to `_runs/<run id>.json`).
    pub manifest: Manifest,
}

impl RunReport {
    /// Process exit code.
    pub fn exit_code(&self) -> i32 {
        self.manifest.status.exit_code()
    }
}

/// Runs a checked pipeline.
///
/// # Errors
/// [`RunError`] when the run cannot start or stops (the store fails, a lock is held). Bad
/// input is never an error: it is quarantined, and a source that fails is marked stale in the
/// manifest while the others load.
pub async fn run(plan: &PipelinePlan, opts: RunOptions) -> Result<RunReport, RunError> {
    let started = opts.clock.now();
    let store_url = opts
        .store_override
        .clone()
        .unwrap_or_else(|| plan.store_url.clone());
    let lake = crate::open_store(&store_url).map_err(RunError::environment)?;
    let key = key(plan, &opts, &lake)?;
    let key_info = KeyInfo {
        source: key.source(),
        key_env: (!opts.demo).then(|| plan.key_env.clone()),
        fingerprint: key.fingerprint(),
    };
    let registry = match &opts.registry {
        Some(r) => r.clone(),
        None => {
            Arc::new(SchemaRegistry::embedded().map_err(|e| RunError::config_because("schema", e))?)
        }
    };
    let run_id = new_run_id(started);
    let scope = RunScope {
        sources: opts.sources.clone(),
        files: opts.files.clone(),
        since: opts.since.clone(),
        no_models: opts.no_models,
        models_only: opts.models_only,
    };
    let selected = select_sources(plan, &opts)?;
    let build_models = plan.models.is_some() && !opts.no_models;
    let mut units: Vec<String> = selected
        .iter()
        .map(|s| crate::lock::source_unit(s.name()))
        .collect();
    if build_models {
        units.push(crate::lock::MODELS_UNIT.into());
    }
    crate::lock::check_conditional_writes(&lake).await?;
    let mut locks =
        RunLocks::acquire(&lake, &units, &run_id, &plan.name, plan.lock_stale_after).await?;
    // The run proper. Its locks are released however it ends: a real crash never gets here
    // and leaves them to go stale; the crash-simulation hook releases them too, since the
    // process it simulates is, in the test, still alive.
    let outcome = run_locked(
        plan,
        &opts,
        Locked {
            lake: &lake,
            locks: &locks,
            scope,
            sources: &selected,
            build_models,
            started,
            store_url,
            run_id,
            key_info,
            registry,
            key: Arc::new(key),
        },
    )
    .await;
    locks.release().await;
    outcome
}

/// The run's pseudonymisation key: the pipeline's from the environment, or the public
/// development key for `--demo` (demo builds, local stores only).
fn key(
    plan: &PipelinePlan,
    opts: &RunOptions,
    lake: &Lake,
) -> Result<PseudonymisationKey, RunError> {
    if !opts.demo {
        return PseudonymisationKey::from_env(&plan.key_env)
            .map_err(|e| RunError::config_because(format!("the key in {}", plan.key_env), e));
    }
    if !cfg!(feature = "demo") {
        return Err(RunError::config(crate::config::NO_DEMO));
    }
    if !lake.is_local() {
        return Err(RunError::config(
            "demo mode (the public development key) is only allowed with a local store",
        ));
    }
    warn!(
        "DEMO MODE: using the fixed, public development pseudonymisation key. Person keys are NOT protected. Never use --demo with real data."
    );
    Ok(PseudonymisationKey::demo())
}

/// The sources a run reads: all, or those named by `--source`.
fn select_sources(plan: &PipelinePlan, opts: &RunOptions) -> Result<Vec<SourcePlan>, RunError> {
    if opts.models_only {
        return Ok(Vec::new());
    }
    let unknown: Vec<&String> = opts
        .sources
        .iter()
        .filter(|n| !plan.sources.iter().any(|s| s.name() == n.as_str()))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = plan.sources.iter().map(SourcePlan::name).collect();
        return Err(RunError::config(format!(
            "{}: no source named {unknown:?}; its sources are {known:?}",
            plan.file.display()
        )));
    }
    let selected: Vec<SourcePlan> = plan
        .sources
        .iter()
        .filter(|s| opts.sources.is_empty() || opts.sources.iter().any(|n| n == s.name()))
        .cloned()
        .collect();
    if opts.files.is_some() && !selected.iter().any(|s| matches!(s, SourcePlan::Sen2Xml(_))) {
        return Err(RunError::config(
            "--files selects SEN2 files, but the run reads no SEN2 source",
        ));
    }
    Ok(selected)
}

/// What [`run`] hands the locked part of the run.
struct Locked<'a> {
    lake: &'a Lake,
    locks: &'a RunLocks,
    scope: RunScope,
    sources: &'a [SourcePlan],
    build_models: bool,
    started: DateTime<Utc>,
    store_url: String,
    run_id: String,
    key_info: KeyInfo,
    registry: Arc<SchemaRegistry>,
    key: Arc<PseudonymisationKey>,
}

async fn run_locked(
    plan: &PipelinePlan,
    opts: &RunOptions,
    cx: Locked<'_>,
) -> Result<RunReport, RunError> {
    let Locked {
        lake,
        locks,
        scope,
        sources,
        build_models,
        started,
        store_url,
        run_id,
        key_info,
        registry,
        key,
    } = cx;
    info!(run_id = %run_id, pipeline = %plan.name, store = %store_url, "Run started.");
    let mut manifest = Manifest {
        manifest_version: 1,
        run_id: run_id.clone(),
        pipeline: plan.name.clone(),
        pipeline_file: plan.file.display().to_string(),
        sendlake_version: env!("CARGO_PKG_VERSION").to_owned(),
        status: RunStatus::Running,
        exit_code: None,
        started_at: started.to_rfc3339_opts(SecondsFormat::Millis, true),
        finished_at: None,
        store: store_url,
        pseudonymisation: key_info,
        sources: Vec::new(),
        tables: BTreeMap::new(),
        field_rejects: BTreeMap::new(),
        warnings: BTreeMap::new(),
        files_quarantined: BTreeMap::new(),
        reconciliation: Vec::new(),
        reconciled: false,
        models: None,
        models_error: None,
        scope,
        locks: locks.units(),
        recovered_locks: locks.recovered.clone(),
        retention: None,
    };
    let manifest_path = format!("_runs/{run_id}.json");
    write_manifest(lake, &manifest_path, &manifest).await?;
    let staging = StagingArea::new(plan.staging_dir.as_deref())
        .map_err(|e| RunError::environment_because("creating the staging folder", e))?;

    // Sources, one after another: each is staged whole, then committed, so one failing
    // partner leaves the others loaded and its own last good data current.
    let sim = if sources.iter().any(|s| matches!(s, SourcePlan::Declared(_))) {
        crate::source::simulator::start(plan).await?
    } else {
        None
    };
    let mut secrets: BTreeMap<String, String> =
        sim.as_ref().map(|s| s.env.clone()).unwrap_or_default();
    secrets.extend(opts.secrets.clone());
    let lookup = move |k: &str| -> Option<String> {
        secrets.get(k).cloned().or_else(|| std::env::var(k).ok())
    };
    let scope = manifest.scope.clone();
    let source_cx = RunContext {
        run_id: &run_id,
        started,
        lake,
        registry: &registry,
        key,
        staging: &staging,
        batch_rows: plan.batch_rows,
        scope: &scope,
        env: &lookup,
        sim_url: sim.as_ref().map(crate::source::simulator::Simulator::url),
        progress: opts.progress.clone(),
    };
    let mut committer = Committer {
        lake,
        registry: &registry,
        run_id: &run_id,
        pipeline: &plan.name,
        progress: opts.progress.clone(),
        #[cfg(feature = "failpoints")]
        crash_after: opts.crash_after_commits,
        commits: 0,
    };
    let mut ledger: Vec<Ledger> = Vec::new();
    let mut checks = Vec::new();
    let mut outcome = Outcome::default();
    for source in crate::source::commit_order(sources) {
        let name = source.name();
        info!(source = %name, "Source started.");
        let staged = match crate::source::stage(&source_cx, source).await {
            Ok(staged) => staged,
            Err(failed) => {
                error!(source = %name, fault = %failed.fault, reason = %failed.reason, "Source failed: nothing of it is committed this run; its last good data stays current.");
                let mut entry = crate::source::entry(source);
                entry.mark_stale(failed.fault, failed.reason);
                manifest.sources.push(entry);
                outcome.failed = true;
                continue;
            }
        };
        let mut entry = staged.entry;
        ledger.extend(
            committer
                .commit_source(staged.groups, &mut entry, &mut manifest.tables)
                .await?,
        );
        checks.extend(staged.checks);
        add_totals(&mut manifest, staged.totals);
        let current = entry.status == Some(SourceStatus::Ok);
        outcome.delivered |= staged.delivered && current;
        outcome.failed |= staged.degraded || !current;
        manifest.sources.push(entry);
    }
    if let Some(sim) = sim {
        sim.stop().await;
    }

    // The modelling layer reads what is now committed (the last good version of any table a
    // failing source did not replace) and publishes table by table.
    let mut models_committed = 0;
    if let Some(models) = plan.models.as_ref().filter(|_| build_models) {
        let cx = sendlake_model::BuildContext {
            lake,
            registry: &registry,
            project: &models.project,
            policy: models.policy.clone(),
            staging: &staging,
            run_id: &run_id,
            started,
            plans: opts.model_plans.as_deref(),
        };
        let (committed, failed) = publish_models(&cx, opts, &mut manifest).await;
        models_committed = committed;
        outcome.failed |= failed;
    }

    checks.splice(0..0, crate::reconcile::checks(&ledger));
    manifest.reconciled = checks.iter().all(|c| c.ok);
    manifest.reconciliation = checks;
    outcome.reconciled = manifest.reconciled;
    outcome.commits = committer.commits + models_committed;
    manifest.status = crate::reconcile::status(outcome);
    manifest.exit_code = Some(manifest.status.exit_code());
    manifest.retention = crate::retention::after_run(
        lake,
        plan,
        &registry,
        &run_id,
        &locks.units(),
        &mut manifest.recovered_locks,
        opts.clock.as_ref(),
    )
    .await;
    manifest.finished_at = Some(
        opts.clock
            .now()
            .to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    write_manifest(lake, &manifest_path, &manifest).await?;
    write_report(lake, plan, &manifest).await;
    info!(run_id = %run_id, status = ?manifest.status, reconciled = manifest.reconciled, "Run finished.");
    Ok(RunReport { manifest })
}

/// Adds a source's run-wide tallies to the manifest's.
fn add_totals(manifest: &mut Manifest, totals: RunTotals) {
    let add = |into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>| {
        for (k, v) in from {
            *into.entry(k).or_default() += v;
        }
    };
    add(&mut manifest.field_rejects, totals.field_rejects);
    add(&mut manifest.warnings, totals.warnings);
    add(&mut manifest.files_quarantined, totals.files_quarantined);
}

/// Builds the models into the manifest; returns the tables committed and whether any failed.
async fn publish_models(
    cx: &sendlake_model::BuildContext<'_>,
    opts: &RunOptions,
    manifest: &mut Manifest,
) -> (usize, bool) {
    opts.progress.phase("building models");
    if let Some(dir) = &opts.export_model_sql
        && let Err(e) = sendlake_model::export_sql(cx, dir).await
    {
        error!(folder = %dir.display(), error = %e, "Exporting the models' SQL failed.");
    }
    match sendlake_model::build(cx).await {
        Ok(report) => {
            let committed = report
                .models
                .iter()
                .filter(|m| m.status == sendlake_model::ModelStatus::Committed)
                .count();
            info!(committed, tables = report.models.len(), "Models built.");
            let failed = !report.ok();
            manifest.models = Some(report);
            (committed, failed)
        }
        Err(e) => {
            error!(error = %e, "The models could not be built; every model table keeps its previous version.");
            manifest.models_error = Some(e.to_string());
            (0, true)
        }
    }
}

/// The HTML report beside the manifest. The manifest is the record; a report that cannot be
/// written is a warning, not a failed run.
async fn write_report(lake: &Lake, plan: &PipelinePlan, manifest: &Manifest) {
    let las: Vec<String> = plan
        .models
        .iter()
        .flat_map(|m| &m.project.geography.local_authorities)
        .map(|l| l.la_code.clone())
        .collect();
    let defs = plan
        .models
        .as_ref()
        .map_or(&[][..], |m| &m.project.report.charts);
    let charts = crate::report::kpi_charts(lake, defs, &las).await;
    let path = format!("_runs/{}.html", manifest.run_id);
    let written = match crate::report::render(manifest, &charts) {
        Ok(html) => lake
            .write_bytes(&path, html.as_bytes())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        warn!(report = %path, error = %e, "The run report could not be written; the manifest has everything it shows.");
    }
}

async fn write_manifest(lake: &Lake, path: &str, manifest: &Manifest) -> Result<(), RunError> {
    let value = serde_json::to_value(manifest)
        .map_err(|e| RunError::internal(format!("the run manifest does not serialise: {e}")))?;
    lake.write_json(path, &value)
        .await
        .map_err(|e| RunError::environment_because(format!("writing the run manifest {path}"), e))
}
