//! Operations on a lake: `sendlake runs`, `sendlake unlock` and `sendlake vacuum`.

use std::path::Path;

use sendlake_pipeline::lock;
use sendlake_pipeline::runs::{RunSummary, recent_runs};
use sendlake_pipeline::{ExitStatus, load_plan};
use tracing::error;

use crate::describe::plan_and_schema;
use crate::logging::LogFormat;
use crate::runtime;

/// The pipeline's store (or `--store`), opened; prints why not and gives the exit code.
fn open(pipeline: &Path, store: Option<&str>) -> Result<sendlake_load::Lake, ExitStatus> {
    let url = match store {
        Some(s) => s.to_owned(),
        None => match load_plan(pipeline) {
            Ok(plan) => plan.store_url,
            Err(errors) => {
                eprintln!("{errors}");
                return Err(ExitStatus::Configuration);
            }
        },
    };
    sendlake_pipeline::open_store(&url).map_err(|e| {
        eprintln!("error: {e}");
        ExitStatus::Failed
    })
}

/// `sendlake runs`: recent runs, newest first, and the locks held now.
#[expect(
    clippy::print_stdout,
    reason = "the list is the command's output, for people or (`--json`) a script"
)]
pub fn runs(pipeline: &Path, store: Option<&str>, limit: usize, json: bool) -> ExitStatus {
    let lake = match open(pipeline, store) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some(rt) = runtime() else {
        return ExitStatus::Failed;
    };
    let (runs, locks) = match rt.block_on(async {
        let runs = recent_runs(&lake, limit).await?;
        let locks = lock::list(&lake).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((runs, locks))
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Failed;
        }
    };
    if json {
        let doc = serde_json::json!({ "runs": runs, "locks": locks });
        match serde_json::to_string_pretty(&doc) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitStatus::Failed;
            }
        }
        return ExitStatus::Success;
    }
    println!("{}", table(&runs));
    for l in &locks {
        println!(
            "locked: {} by run {} (host {}, pid {}) since {}, heartbeat {}",
            l.unit, l.run_id, l.host, l.pid, l.acquired_at, l.heartbeat_at
        );
    }
    ExitStatus::Success
}

/// The runs as a fixed-width table.
fn table(runs: &[RunSummary]) -> String {
    let mut out = format!(
        "{:<28} {:<10} {:>4} {:>9} {:>9} {:>9} {:>11} {:>7} {:>6}  {}",
        "run",
        "status",
        "exit",
        "duration",
        "read",
        "loaded",
        "quarantined",
        "models",
        "checks",
        "scope"
    );
    if runs.is_empty() {
        out.push_str("\n(no runs yet)");
    }
    for r in runs {
        let duration = r
            .duration_secs
            .map_or_else(|| "-".into(), |s| format!("{s:.1}s"));
        let exit = r.exit_code.map_or_else(|| "-".into(), |c| c.to_string());
        let models = format!("{}/{}", r.models_committed, r.models_total);
        let checks = if r.checks_failed == 0 {
            "ok".to_owned()
        } else {
            format!("{} bad", r.checks_failed)
        };
        let mut status = r.status.clone();
        if r.stale_sources > 0 {
            status.push_str(&format!(" ({} stale)", r.stale_sources));
        }
        out.push_str(&format!(
            "\n{:<28} {:<10} {:>4} {:>9} {:>9} {:>9} {:>11} {:>7} {:>6}  {}",
            r.run_id,
            status,
            exit,
            duration,
            r.read,
            r.loaded,
            r.quarantined,
            models,
            checks,
            r.scope
        ));
    }
    out
}

/// `sendlake unlock`: releases the locks of a run the operator knows is dead.
pub fn unlock(pipeline: &Path, store: Option<&str>, run_id: &str) -> ExitStatus {
    let lake = match open(pipeline, store) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some(rt) = runtime() else {
        return ExitStatus::Failed;
    };
    match rt.block_on(lock::unlock(&lake, run_id)) {
        Ok(released) if released.is_empty() => {
            eprintln!("run {run_id} holds no lock in {}", lake.root_uri());
            ExitStatus::Partial
        }
        Ok(released) => {
            eprintln!(
                "released {} lock(s) of run {run_id}: {}",
                released.len(),
                released.join(", ")
            );
            ExitStatus::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitStatus::Failed
        }
    }
}

/// `sendlake vacuum`: 0 when the policy was applied to every table, 1 when a table failed
/// (the others were still done), 2 for a bad pipeline file, 3 when the store cannot be opened,
/// 4 while a run holds one of the pipeline's locks. In JSON mode the log events (`vacuumed
/// table` per table, `Retention applied.` with the totals) are the whole output.
pub(crate) fn vacuum(
    pipeline: &Path,
    store: Option<&str>,
    dry_run: bool,
    format: LogFormat,
) -> ExitStatus {
    let (plan, registry) = match plan_and_schema(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(runtime) = runtime() else {
        return ExitStatus::Failed;
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
            return e.exit_status();
        }
    };
    if format == LogFormat::Json {
        return ExitStatus::unless(r.totals.tables_failed == 0, ExitStatus::Partial);
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
    ExitStatus::unless(t.tables_failed == 0, ExitStatus::Partial)
}
