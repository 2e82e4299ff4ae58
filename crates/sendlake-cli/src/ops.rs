//! Operations on a lake's run records: `sendlake runs` and `sendlake unlock`.

use std::path::Path;

use sendlake_pipeline::load_plan;
use sendlake_pipeline::lock;
use sendlake_pipeline::runs::{RunSummary, recent_runs};

/// The pipeline's store (or `--store`), opened; prints why not and gives the exit code.
fn open(pipeline: &Path, store: Option<&str>) -> Result<sendlake_load::Lake, i32> {
    let url = match store {
        Some(s) => s.to_owned(),
        None => match load_plan(pipeline) {
            Ok(plan) => plan.store_url,
            Err(errors) => {
                eprintln!("{errors}");
                return Err(2);
            }
        },
    };
    sendlake_pipeline::open_store(&url).map_err(|e| {
        eprintln!("error: {e}");
        3
    })
}

/// `sendlake runs`: recent runs, newest first, and the locks held now.
#[expect(
    clippy::print_stdout,
    reason = "the list is the command's output, for people or (`--json`) a script"
)]
pub fn runs(pipeline: &Path, store: Option<&str>, limit: usize, json: bool) -> i32 {
    let lake = match open(pipeline, store) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some(rt) = crate::runtime() else {
        return 3;
    };
    let (runs, locks) = match rt.block_on(async {
        let runs = recent_runs(&lake, limit).await?;
        let locks = lock::list(&lake).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((runs, locks))
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    if json {
        let doc = serde_json::json!({ "runs": runs, "locks": locks });
        match serde_json::to_string_pretty(&doc) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return 3;
            }
        }
        return 0;
    }
    println!("{}", table(&runs));
    for l in &locks {
        println!(
            "locked: {} by run {} (host {}, pid {}) since {}, heartbeat {}",
            l.unit, l.run_id, l.host, l.pid, l.acquired_at, l.heartbeat_at
        );
    }
    0
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
pub fn unlock(pipeline: &Path, store: Option<&str>, run_id: &str) -> i32 {
    let lake = match open(pipeline, store) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some(rt) = crate::runtime() else {
        return 3;
    };
    match rt.block_on(lock::unlock(&lake, run_id)) {
        Ok(released) if released.is_empty() => {
            eprintln!("run {run_id} holds no lock in {}", lake.root_uri());
            1
        }
        Ok(released) => {
            eprintln!(
                "released {} lock(s) of run {run_id}: {}",
                released.len(),
                released.join(", ")
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            3
        }
    }
}
