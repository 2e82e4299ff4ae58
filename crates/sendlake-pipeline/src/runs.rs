//! `sendlake runs`: recent runs summarised from their manifests (`_runs/*.json`, never the
//! HTML reports beside them), newest first, for an operator's morning look.

use chrono::DateTime;
use sendlake_load::Lake;
use serde::Serialize;

use crate::manifest::Manifest;

/// One run, as `sendlake runs` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Run id (starts with its UTC start time, so ids sort by time).
    pub run_id: String,
    /// `running` (still going, or interrupted), `succeeded`, `partial`, `failed`, or
    /// `unreadable` when the manifest could not be parsed.
    pub status: String,
    /// Exit code, when finished.
    pub exit_code: Option<i32>,
    /// Start (RFC 3339, UTC).
    pub started_at: String,
    /// Seconds from start to finish, when finished.
    pub duration_secs: Option<f64>,
    /// Sources read; of which stale (nothing of them committed this run).
    pub sources: usize,
    /// Sources that were stale.
    pub stale_sources: usize,
    /// Records read over every SEN2 table and partner stream.
    pub read: u64,
    /// Records loaded.
    pub loaded: u64,
    /// Records quarantined (with files quarantined whole).
    pub quarantined: u64,
    /// Model tables committed.
    pub models_committed: usize,
    /// Model tables in the run.
    pub models_total: usize,
    /// Data-quality checks that failed or could not run.
    pub checks_failed: usize,
    /// Whether the counts reconciled.
    pub reconciled: bool,
    /// What the run was limited to (`--source`, `--models-only` …), empty for a full run.
    pub scope: String,
}

impl RunSummary {
    /// Summarises a manifest.
    pub fn from_manifest(m: &Manifest) -> Self {
        let mut read = 0;
        let mut loaded = 0;
        let mut quarantined = m.files_quarantined.values().sum::<u64>();
        for (name, t) in &m.tables {
            if name.starts_with("quarantine/") {
                continue;
            }
            read += t.counts.read;
            loaded += t.counts.loaded;
            quarantined += t.counts.quarantined_total();
        }
        for st in m.sources.iter().flat_map(|s| &s.streams) {
            read += st.records.read;
            loaded += st.records.loaded;
            quarantined +=
                st.records.quarantined.values().sum::<u64>() + st.records.files_quarantined;
        }
        let duration_secs = m.finished_at.as_deref().and_then(|f| {
            let start = DateTime::parse_from_rfc3339(&m.started_at).ok()?;
            let end = DateTime::parse_from_rfc3339(f).ok()?;
            Some((end - start).num_milliseconds() as f64 / 1000.0)
        });
        let (models_committed, models_total, checks_failed) =
            m.models.as_ref().map_or((0, 0, 0), |r| {
                (
                    r.models
                        .iter()
                        .filter(|o| o.status == sendlake_model::ModelStatus::Committed)
                        .count(),
                    r.models.len(),
                    r.checks
                        .iter()
                        .filter(|c| {
                            matches!(
                                c.status,
                                sendlake_model::CheckStatus::Fail
                                    | sendlake_model::CheckStatus::Error
                            )
                        })
                        .count(),
                )
            });
        RunSummary {
            run_id: m.run_id.clone(),
            status: format!("{:?}", m.status).to_lowercase(),
            exit_code: m.exit_code,
            started_at: m.started_at.clone(),
            duration_secs,
            sources: m.sources.len(),
            stale_sources: m
                .sources
                .iter()
                .filter(|s| s.status == Some(crate::manifest::SourceStatus::Stale))
                .count(),
            read,
            loaded,
            quarantined,
            models_committed,
            models_total,
            checks_failed,
            reconciled: m.reconciled,
            scope: m.scope.describe(),
        }
    }
}

/// The `limit` most recent runs in the lake, newest first. Reads only their manifests.
///
/// # Errors
/// The store could not be listed or read.
pub async fn recent_runs(lake: &Lake, limit: usize) -> Result<Vec<RunSummary>, String> {
    let mut manifests: Vec<String> = lake
        .list("_runs")
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|o| o.path)
        .filter(|p| p.ends_with(".json"))
        .collect();
    // Run ids start with the UTC start time, so names sort by time.
    manifests.sort_unstable_by(|a, b| b.cmp(a));
    manifests.truncate(limit);
    let mut out = Vec::with_capacity(manifests.len());
    for path in manifests {
        let value = lake.read_json(&path).await.map_err(|e| e.to_string())?;
        let parsed = value.map(serde_json::from_value::<Manifest>);
        out.push(match parsed {
            Some(Ok(m)) => RunSummary::from_manifest(&m),
            other => {
                let why = match other {
                    Some(Err(e)) => e.to_string(),
                    _ => "gone".into(),
                };
                tracing::warn!(manifest = %path, error = %why, "A run manifest could not be read.");
                RunSummary {
                    run_id: path
                        .trim_start_matches("_runs/")
                        .trim_end_matches(".json")
                        .to_owned(),
                    status: "unreadable".into(),
                    exit_code: None,
                    started_at: String::new(),
                    duration_secs: None,
                    sources: 0,
                    stale_sources: 0,
                    read: 0,
                    loaded: 0,
                    quarantined: 0,
                    models_committed: 0,
                    models_total: 0,
                    checks_failed: 0,
                    reconciled: false,
                    scope: String::new(),
                }
            }
        });
    }
    Ok(out)
}
