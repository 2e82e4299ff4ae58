//! `sendlake run`: runs a pipeline and reports the outcome, a readable summary for people and
//! one structured event for log collectors.

use std::path::Path;
use std::sync::Arc;

use sendlake_pipeline::{ExitStatus, Progress, RunOptions, load_plan, run};
use tracing::error;

use crate::logging::LogFormat;
use crate::runtime;

/// Runs a pipeline and reports the outcome: a readable summary for people (`human`), one
/// structured event for log collectors (`json`). Every plain message here repeats a log event,
/// so JSON mode leaves it out and a JSON-lines consumer never meets a plain line.
pub(crate) fn run_pipeline(
    pipeline: &Path,
    mut opts: RunOptions,
    progress: Option<Arc<dyn Progress>>,
    format: LogFormat,
) -> ExitStatus {
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
            return ExitStatus::Configuration;
        }
    };
    // In JSON mode the run's own WARN event announces demo mode.
    if opts.demo && human {
        eprintln!(
            "*** DEMO MODE: the fixed, public development pseudonymisation key is in use. Synthetic data only. ***"
        );
    }
    let Some(runtime) = runtime() else {
        return ExitStatus::Failed;
    };
    if let Some(p) = progress {
        opts.progress = p;
    }
    match runtime.block_on(run(&plan, opts)) {
        Ok(report) if !human => {
            log_summary(&report);
            report.manifest.status.exit_status()
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
                        t.commit.rows_written.unwrap_or(0),
                        t.commit.commit,
                        t.commit
                            .version
                            .map(|v| format!(" v{v}"))
                            .unwrap_or_default()
                    );
                    continue;
                }
                eprintln!(
                    "  {table:<26} read {:>8}  loaded {:>8}  quarantined {:>6}  {}{}",
                    t.counts.read,
                    t.counts.loaded,
                    t.counts.quarantined_total(),
                    t.commit.commit,
                    t.commit
                        .version
                        .map(|v| format!(" v{v}"))
                        .unwrap_or_default()
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
                .filter(|s| !s.streams.is_empty() || s.stale_reason.is_some())
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
            report.manifest.status.exit_status()
        }
        Err(e) => {
            error!(error = %e, "Run failed.");
            if human {
                eprintln!("error: {e}");
            }
            e.exit_status()
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
