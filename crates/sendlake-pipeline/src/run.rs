//! Running a checked pipeline: extract → conform → stage → one commit per table → manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use sendlake_extract::discover_files;
use sendlake_load::{Lake, StagingArea, TableCommit, WriteMode, commit_table};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::{
    FileStats, PseudonymisationKey, QuarantineRows, Reject, RejectLevel, Sen2Conformer, TableStats,
};
use tracing::{error, info, warn};

use crate::config::{PipelinePlan, SimCredential, SourcePlan};
use crate::lock::{LockError, RunLocks};
use crate::manifest::{Check, KeyInfo, Manifest, RunScope, RunStatus, SourceEntry, TableEntry};
pub use crate::progress::{NoProgress, Progress};
use crate::source::sen2::{FileRun, Staged, load_files};

/// How to run.
pub struct RunOptions {
    /// Use the fixed, public development key (synthetic data only; refused for remote stores).
    pub demo: bool,
    /// Override the store URL of the pipeline file.
    pub store_override: Option<String>,
    /// Progress sink.
    pub progress: Arc<dyn Progress>,
    /// Test hook: stop as if the process crashed after this many table commits.
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
            .finish_non_exhaustive()
    }
}

/// Why a run could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A configuration problem (exit code 2): no key, demo key on a remote store, bad schema.
    #[error("configuration: {0}")]
    Config(String),
    /// Nothing could be done (exit code 3): the store is unreachable, staging failed.
    #[error("fatal: {0}")]
    Fatal(String),
    /// The crash-simulation test hook fired after `.0` commits.
    #[error("simulated crash after {0} table commits")]
    SimulatedCrash(usize),
    /// Another run holds a lock this run needs (exit code 4); nothing was written.
    #[error("{0}")]
    Locked(String),
}

/// A held lock refuses the run (exit code 4); a store that fails, or cannot make a write
/// atomic, stops it (exit code 3).
impl From<LockError> for RunError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Held(..) => RunError::Locked(e.to_string()),
            LockError::Store(..) | LockError::NotAtomic(_) => RunError::Fatal(e.to_string()),
        }
    }
}

impl RunError {
    /// Process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Config(_) => 2,
            RunError::Fatal(_) | RunError::SimulatedCrash(_) => 3,
            RunError::Locked(_) => 4,
        }
    }
}

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

/// New run id: UTC time plus random suffix, sortable.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    format!(
        "{}-{:06x}",
        now.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// Runs a checked pipeline.
///
/// # Errors
/// [`RunError`] when the run cannot start or nothing can be committed. Bad input data is never
/// an error: it is quarantined and reported in the manifest.
pub async fn run(plan: &PipelinePlan, opts: RunOptions) -> Result<RunReport, RunError> {
    let started = Utc::now();
    let store_url = opts
        .store_override
        .clone()
        .unwrap_or_else(|| plan.store_url.clone());
    let lake = crate::open_store(&store_url).map_err(RunError::Fatal)?;
    let key = if opts.demo {
        if !lake.is_local() {
            return Err(RunError::Config(
                "demo mode (the public development key) is only allowed with a local store".into(),
            ));
        }
        warn!(
            "DEMO MODE: using the fixed, public development pseudonymisation key. Person keys are NOT protected. Never use --demo with real data."
        );
        PseudonymisationKey::demo()
    } else {
        PseudonymisationKey::from_env(&plan.key_env).map_err(|e| RunError::Config(e.to_string()))?
    };
    let key_info = KeyInfo {
        source: key.source(),
        key_env: (!opts.demo).then(|| plan.key_env.clone()),
        fingerprint: key.fingerprint(),
    };
    let registry = match &opts.registry {
        Some(r) => r.clone(),
        None => Arc::new(
            SchemaRegistry::embedded().map_err(|e| RunError::Config(format!("schema: {e}")))?,
        ),
    };
    let conformer_key = Arc::new(key);
    let conformer = Sen2Conformer::new(registry.clone(), conformer_key.clone(), plan.batch_rows)
        .map_err(|e| RunError::Config(e.to_string()))?;
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
            conformer,
            conformer_key,
        },
    )
    .await;
    locks.release().await;
    outcome
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
        return Err(RunError::Config(format!(
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
    if opts.files.is_some()
        && !selected
            .iter()
            .any(|s| matches!(s, SourcePlan::Sen2Xml { .. }))
    {
        return Err(RunError::Config(
            "--files selects SEN2 files, but the run reads no SEN2 source".into(),
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
    conformer: Sen2Conformer,
    conformer_key: Arc<PseudonymisationKey>,
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
        conformer,
        conformer_key,
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
        store: store_url.clone(),
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
    write_manifest(lake, &manifest_path, &manifest)
        .await
        .map_err(RunError::Fatal)?;

    let staging = StagingArea::new(plan.staging_dir.as_deref())
        .map_err(|e| RunError::Fatal(format!("staging: {e}")))?;
    let quarantine_table = "quarantine/sen2_rejects";
    let quarantine_def = registry
        .table(quarantine_table)
        .ok_or_else(|| RunError::Config(format!("schema has no table {quarantine_table}")))?;
    let mut staged = Staged::default();
    let la_codes = registry
        .code_list("la_code")
        .ok_or_else(|| RunError::Config("schema has no code list la_code".into()))?;
    let mut totals = FileStats::default();
    let mut any_file_failed = false;
    let mut sources_replaced: BTreeSet<String> = BTreeSet::new();
    let mut submissions: BTreeSet<String> = BTreeSet::new();
    let mut files_seen: BTreeSet<String> = BTreeSet::new();

    for source in sources {
        let SourcePlan::Sen2Xml {
            name,
            path,
            pattern,
            synthetic,
        } = source
        else {
            continue;
        };
        let mut generated = false;
        if let Some(syn) = synthetic {
            let has_files = discover_files(path, pattern)
                .map(|f| !f.is_empty())
                .unwrap_or(false);
            if !has_files {
                let cfg = sendlake_sim::Sen2SimConfig {
                    las: syn.las,
                    persons_per_la: syn.persons_per_la,
                    seed: syn.seed,
                    census_year: syn.census_year,
                    ..sendlake_sim::Sen2SimConfig::default()
                };
                info!(source = %name, folder = %path.display(), las = syn.las, persons_per_la = syn.persons_per_la, "Generating synthetic SEN2 returns.");
                sendlake_sim::write_sen2_returns(&cfg, path).map_err(|e| {
                    RunError::Fatal(format!("source {name}: generating synthetic returns: {e}"))
                })?;
                generated = true;
            }
        }
        let files = match discover_files(path, pattern) {
            // A backfill of chosen files (`--files`): the other submissions are untouched,
            // since each table replaces only the submissions of the files read.
            Ok(f) => match &opts.files {
                Some(only) => f
                    .into_iter()
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| sendlake_extract::glob_matches(only, n))
                    })
                    .collect(),
                None => f,
            },
            Err(e) => {
                error!(source = %name, folder = %path.display(), error = %e, "Source folder cannot be listed; the source is skipped.");
                any_file_failed = true;
                manifest.sources.push(SourceEntry {
                    name: name.clone(),
                    source_type: "sen2_xml".into(),
                    path: path.display().to_string(),
                    generated,
                    files: Vec::new(),
                    submissions: Vec::new(),
                    status: None,
                    stale_reason: None,
                    streams: Vec::new(),
                });
                continue;
            }
        };
        let mut file_rejects = QuarantineRows::new(quarantine_def, name, &run_id, started, 1024)
            .map_err(|e| RunError::Config(e.to_string()))?;
        let mut entries = Vec::new();
        let mut source_submissions = BTreeSet::new();
        let names: Vec<String> = files
            .iter()
            .map(|f| {
                f.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        files_seen.extend(names.iter().cloned());
        let loaded = load_files(&files, &names, &mut staged, la_codes, |path, file_name| {
            FileRun {
                source: name,
                file_name,
                path,
                run_id: &run_id,
                started,
                conformer: &conformer,
                staging: &staging,
                registry: &registry,
                progress: opts.progress.clone(),
            }
        });
        for (file_name, entry) in names.iter().zip(loaded) {
            match &entry.error {
                None => {
                    info!(source = %name, file = %file_name, persons = entry.persons_read, "File loaded.");
                    totals.merge(&entry.stats);
                    if let Some(s) = &entry.submission_id {
                        source_submissions.insert(s.clone());
                    }
                }
                Some(err) => {
                    any_file_failed = true;
                    error!(source = %name, file = %file_name, reason = %err.reason, error = %err.message, "File quarantined whole; the other files still load.");
                    *manifest
                        .files_quarantined
                        .entry(err.reason.clone())
                        .or_default() += 1;
                    file_rejects
                        .push(&Reject {
                            level: RejectLevel::File,
                            table: None,
                            person_position: None,
                            element_path: file_name.clone(),
                            line: err.line,
                            column: err.column,
                            reason: err.reason.clone(),
                            field: None,
                            raw_value: None,
                            raw_record: None,
                            message: err.message.clone(),
                            submission_id: entry.submission_id.clone(),
                            source_file: file_name.clone(),
                        })
                        .map_err(|e| RunError::Fatal(e.to_string()))?;
                }
            }
            entries.push(entry);
        }
        if let Some(batch) = file_rejects
            .take_batch()
            .map_err(|e| RunError::Fatal(e.to_string()))?
        {
            let mut w = staging
                .table_writer(quarantine_table, quarantine_def.arrow_schema())
                .map_err(|e| RunError::Fatal(e.to_string()))?;
            w.write(&batch)
                .map_err(|e| RunError::Fatal(e.to_string()))?;
            staged
                .parts
                .entry(quarantine_table.to_owned())
                .or_default()
                .push(w.finish().map_err(|e| RunError::Fatal(e.to_string()))?);
        }
        sources_replaced.insert(name.clone());
        submissions.extend(source_submissions.iter().cloned());
        manifest.sources.push(SourceEntry {
            name: name.clone(),
            source_type: "sen2_xml".into(),
            path: path.display().to_string(),
            generated,
            files: entries,
            submissions: source_submissions.into_iter().collect(),
            status: None,
            stale_reason: None,
            streams: Vec::new(),
        });
    }
    manifest.field_rejects = totals.field_rejects.clone();
    manifest.warnings = totals.warnings.clone();

    // Commit: one version per table. Parents first, quarantine last, so a crash part-way
    // leaves the earlier tables on the new version and the later ones on the previous one;
    // both readable, and a re-run replaces the same submissions again.
    let mut table_order = conformer.table_names();
    table_order.push(quarantine_table.to_owned());
    let mut commits_done = 0usize;
    let mut any_commit_failed = false;
    for table in &table_order {
        let Some(def) = registry.table(table) else {
            continue;
        };
        let uri = lake.table_uri(def.zone, table);
        let counts = totals.tables.get(table).cloned().unwrap_or_default();
        let parts = staged.parts.remove(table).unwrap_or_default();
        let is_quarantine = table == quarantine_table;
        let mode = if is_quarantine {
            WriteMode::ReplaceWhere(vec![
                ("source".into(), sources_replaced.iter().cloned().collect()),
                ("source_file".into(), files_seen.iter().cloned().collect()),
            ])
        } else {
            WriteMode::ReplaceWhere(vec![
                ("source".into(), sources_replaced.iter().cloned().collect()),
                (
                    "submission_id".into(),
                    submissions.iter().cloned().collect(),
                ),
            ])
        };
        let nothing_to_replace = if is_quarantine {
            files_seen.is_empty()
        } else {
            submissions.is_empty()
        };
        let mut entry = TableEntry {
            uri: uri.clone(),
            counts,
            rows_written: None,
            version: None,
            commit: "skipped".into(),
            error: None,
        };
        if nothing_to_replace && parts.is_empty() {
            manifest.tables.insert(table.clone(), entry);
            continue;
        }
        if opts.crash_after_commits == Some(commits_done) {
            // Leave the manifest as `running`, exactly as a killed process would.
            return Err(RunError::SimulatedCrash(commits_done));
        }
        opts.progress.phase(&format!("committing {table}"));
        let mut meta = serde_json::Map::new();
        meta.insert(
            "pipeline".into(),
            serde_json::Value::String(plan.name.clone()),
        );
        meta.insert("submissions".into(), serde_json::json!(submissions));
        let commit = TableCommit {
            table_uri: uri.clone(),
            schema: def.arrow_schema(),
            parts,
            mode,
            run_id: run_id.clone(),
            app_metadata: meta,
        };
        match commit_table(commit).await {
            Ok(outcome) => {
                info!(table = %table, version = outcome.version, rows = outcome.rows_written, "Table committed.");
                entry.rows_written = Some(outcome.rows_written);
                entry.version = Some(outcome.version);
                entry.commit = "committed".into();
                commits_done += 1;
            }
            Err(e) => {
                error!(table = %table, error = %e, "Table commit failed; its previous version stays current.");
                entry.commit = "failed".into();
                entry.error = Some(e.to_string());
                any_commit_failed = true;
            }
        }
        manifest.tables.insert(table.clone(), entry);
    }

    // Declared sources (partner APIs, files, DfE statistics), in pipeline order, after the
    // SEN2 commits: each commits on its own, so one failing partner leaves the others loaded.
    let mut checks = Vec::new();
    let mut any_stale = false;
    let mut any_declared_ok = false;
    if sources.iter().any(|s| matches!(s, SourcePlan::Declared(_))) {
        let sim = start_simulator(plan).await?;
        let mut sim_env: BTreeMap<String, String> =
            sim.as_ref().map(|s| s.1.clone()).unwrap_or_default();
        sim_env.extend(opts.secrets.clone());
        let lookup = move |k: &str| -> Option<String> {
            sim_env.get(k).cloned().or_else(|| std::env::var(k).ok())
        };
        let renv = crate::records::RecordEnv {
            lake,
            registry: &registry,
            key: conformer_key.clone(),
            staging: &staging,
            run_id: &run_id,
            started,
            batch_rows: plan.batch_rows,
            env: &lookup,
            sim_url: sim.as_ref().map(|s| s.0.base_url()),
            progress: opts.progress.clone(),
            crash_after_commits: opts.crash_after_commits,
            since: opts.since.as_deref(),
        };
        for source in sources {
            let SourcePlan::Declared(d) = source else {
                continue;
            };
            let outcome = crate::records::run_source(&renv, d, &mut commits_done).await?;
            any_stale |= outcome.stale;
            any_declared_ok |= !outcome.stale;
            checks.extend(outcome.checks);
            manifest.sources.push(outcome.entry);
        }
        if let Some((sim, _)) = sim
            && let Err(e) = sim.shutdown().await
        {
            warn!(error = %e, "The partner simulator did not shut down cleanly.");
        }
    }

    // The modelling layer reads what is now committed (the last good version of any table a
    // failing source did not replace) and publishes table by table.
    let mut models_failed = false;
    let mut models_committed = 0usize;
    if let Some(models) = plan.models.as_ref().filter(|_| build_models) {
        opts.progress.phase("building models");
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
        if let Some(dir) = &opts.export_model_sql
            && let Err(e) = sendlake_model::export_sql(&cx, dir).await
        {
            error!(folder = %dir.display(), error = %e, "Exporting the models' SQL failed.");
        }
        match sendlake_model::build(&cx).await {
            Ok(report) => {
                models_failed = !report.ok();
                let committed = report
                    .models
                    .iter()
                    .filter(|m| m.status == sendlake_model::ModelStatus::Committed)
                    .count();
                info!(committed, tables = report.models.len(), "Models built.");
                models_committed = committed;
                manifest.models = Some(report);
            }
            Err(e) => {
                error!(error = %e, "The models could not be built; every model table keeps its previous version.");
                models_failed = true;
                manifest.models_error = Some(e.to_string());
            }
        }
    }

    // Reconciliation.
    for (name, t) in &manifest.tables {
        if name == quarantine_table {
            continue;
        }
        checks.push(Check {
            name: format!("{name}: read = loaded + quarantined"),
            ok: t.counts.reconciles(),
            detail: format!(
                "{} = {} + {}",
                t.counts.read,
                t.counts.loaded,
                t.counts.quarantined_total()
            ),
        });
        if let Some(written) = t.rows_written {
            checks.push(Check {
                name: format!("{name}: rows committed = loaded"),
                ok: written == t.counts.loaded,
                detail: format!("{written} committed, {} loaded", t.counts.loaded),
            });
        }
    }
    for source in &manifest.sources {
        for f in &source.files {
            checks.push(Check {
                name: format!("{}: every table reconciles", f.file),
                ok: f.stats.reconciles(),
                detail: f
                    .stats
                    .tables
                    .iter()
                    .map(|(t, s)| format!("{t} {}={}+{}", s.read, s.loaded, s.quarantined_total()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let expected_rejects: u64 = totals
        .tables
        .values()
        .map(TableStats::quarantined_total)
        .sum::<u64>()
        + totals.field_rejects.values().sum::<u64>()
        + manifest.files_quarantined.values().sum::<u64>();
    if let Some(q) = manifest.tables.get(quarantine_table)
        && let Some(written) = q.rows_written
    {
        checks.push(Check {
            name: "quarantine rows = record + field + file rejects".into(),
            ok: written == expected_rejects,
            detail: format!("{written} written, {expected_rejects} expected"),
        });
    }
    manifest.reconciled = checks.iter().all(|c| c.ok);
    manifest.reconciliation = checks;
    let any_failure = any_commit_failed || any_file_failed || any_stale || models_failed;
    manifest.status = if commits_done == 0
        && models_committed == 0
        && any_failure
        && submissions.is_empty()
        && !any_declared_ok
    {
        RunStatus::Failed
    } else if any_failure || !manifest.reconciled {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    };
    manifest.exit_code = Some(manifest.status.exit_code());
    manifest.retention = crate::retention::after_run(
        lake,
        plan,
        &registry,
        &run_id,
        &locks.units(),
        &mut manifest.recovered_locks,
    )
    .await;
    manifest.finished_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
    write_manifest(lake, &manifest_path, &manifest)
        .await
        .map_err(RunError::Fatal)?;
    write_report(lake, plan, &manifest).await;
    info!(run_id = %run_id, status = ?manifest.status, reconciled = manifest.reconciled, "Run finished.");
    Ok(RunReport { manifest })
}

/// Starts the pipeline's in-process partner simulator when a declared source uses it, with
/// fresh random credentials; returns it and the environment variables that stand for them.
async fn start_simulator(
    plan: &PipelinePlan,
) -> Result<Option<(sendlake_sim::serve::RunningSim, BTreeMap<String, String>)>, RunError> {
    let uses = plan
        .sources
        .iter()
        .any(|s| matches!(s, SourcePlan::Declared(d) if d.simulator));
    let Some(cfg) = plan.simulator.as_ref().filter(|_| uses) else {
        return Ok(None);
    };
    let secret = || format!("{:032x}", rand::random::<u128>());
    let server = sendlake_sim::serve::SimServerConfig {
        sen2: sendlake_sim::Sen2SimConfig {
            las: cfg.las,
            persons_per_la: cfg.persons_per_la,
            seed: cfg.seed,
            census_year: cfg.census_year,
            ..sendlake_sim::Sen2SimConfig::default()
        },
        port: 0,
        client_id: format!("sendlake-{}", &secret()[..8]),
        client_secret: secret(),
        api_key: secret(),
        ..sendlake_sim::serve::SimServerConfig::default()
    };
    let env = cfg
        .env
        .iter()
        .map(|(name, which)| {
            let value = match which {
                SimCredential::ClientId => server.client_id.clone(),
                SimCredential::ClientSecret => server.client_secret.clone(),
                SimCredential::ApiKey => server.api_key.clone(),
            };
            (name.clone(), value)
        })
        .collect();
    let sim = sendlake_sim::serve::start(server)
        .await
        .map_err(|e| RunError::Fatal(format!("starting the partner simulator: {e}")))?;
    info!(url = %sim.base_url(), "Partner simulator started.");
    Ok(Some((sim, env)))
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

async fn write_manifest(lake: &Lake, path: &str, manifest: &Manifest) -> Result<(), String> {
    let value = serde_json::to_value(manifest).map_err(|e| e.to_string())?;
    lake.write_json(path, &value)
        .await
        .map_err(|e| format!("writing the run manifest {path}: {e}"))
}
