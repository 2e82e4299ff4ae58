//! The run report: written beside the manifest, self-contained, and showing that run's own
//! numbers when rendered in headless Chromium (`scripts/test.sh` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::published::demo_pipeline;
use crate::support::*;

fn chromium() -> PathBuf {
    let found = std::env::var_os("SENDLAKE_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.exists());
    found.expect("headless Chromium is needed: run ./scripts/test.sh, which installs it, or set SENDLAKE_CHROMIUM")
}

/// The page as Chromium's DOM after loading it from the file, as text without tags.
fn rendered_text(html: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Nothing outside the file may load: the report must be self-contained.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(dom.contains("<svg"), "the charts render");
    // Tags out, entities back, whitespace collapsed.
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_run_report_shows_the_numbers_of_its_run() {
    let ws = Workspace::new();
    let report = ws.run(&demo_pipeline(&ws));
    let m = &report.manifest;
    let html_path = ws.lake().join("_runs").join(format!("{}.html", m.run_id));
    let html = std::fs::read_to_string(&html_path).unwrap();
    // Self-contained: no script, no stylesheet or image from elsewhere.
    for banned in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(banned), "{banned}");
    }

    let text = rendered_text(&html_path);
    assert!(text.contains(&format!("sendlake run {}", m.run_id)));
    assert!(
        text.contains("succeeded (exit code 0)"),
        "{}",
        &text[..400.min(text.len())]
    );
    // Every stream's read, loaded and quarantined counts, in its row.
    for s in &m.sources {
        for st in &s.streams {
            let q: u64 = st.records.quarantined.values().sum();
            let row = format!("{}/{} {} → {} ", s.name, st.name, s.source_type, st.table);
            let at = text.find(&row).unwrap_or_else(|| panic!("no row {row}"));
            let cells = &text[at + row.len()..];
            let expected = format!("{} {} {}", st.records.read, st.records.loaded, q);
            assert!(
                cells.contains(&expected),
                "{row}: expected {expected} in {}",
                &cells[..120.min(cells.len())]
            );
        }
    }
    // Freshness, from the run's data-quality checks, beside the source it is about.
    let at = text
        .find("council_cms/requests rest → cms_request")
        .unwrap();
    assert!(
        text[at..].contains("pass: newest loaded_at is"),
        "{}",
        &text[at..at + 300]
    );
    assert!(text.contains(&format!(
        "Reconciliation: {} checks, 0 not holding",
        m.reconciliation.len()
    )));
    // Each SEN2 table's counts and its quarantine reasons.
    for (name, t) in &m.tables {
        let row = format!("{name} SEN2 table ");
        assert!(text.contains(&row), "{row}");
        let expected = format!(
            "{} {} {}",
            t.counts.read,
            t.counts.loaded,
            t.counts.quarantined_total()
        );
        let at = text.find(&row).unwrap();
        assert!(text[at..].contains(&expected), "{name}: {expected}");
        for (reason, n) in &t.counts.quarantined {
            assert!(
                text[at..].contains(&format!("{reason} {n}")),
                "{name}: {reason} {n}"
            );
        }
    }
    // The data-quality summary and every model table.
    let models = m.models.as_ref().unwrap();
    let pass = models
        .checks
        .iter()
        .filter(|c| c.status == sendlake_model::CheckStatus::Pass)
        .count();
    let warn = models
        .checks
        .iter()
        .filter(|c| c.status == sendlake_model::CheckStatus::Warn)
        .count();
    assert!(text.contains(&format!("{pass} passed, {warn} warnings, 0 failed")));
    for t in &models.models {
        assert!(
            text.contains(&format!("{} committed {}", t.table, t.rows)),
            "{}",
            t.table
        );
    }
    // The KPI charts: the 20-week rate local beside England, and the caseload over time.
    assert!(text.contains("EHC plans issued within 20 weeks, LA 919, by calendar year"));
    assert!(text.contains("DfE published, England"));
    assert!(text.contains("EHC plans maintained at each month end, LA 919"));
}
