//! A dry run of one stream: the run's own mapping and staging code, committing nothing. For
//! source fixtures (`tests/it/source_fixtures.rs`) and `sendlake new-source`.

use std::sync::Arc;

use chrono::Utc;
use sendlake_extract::records::{RecordError, SourceRecord};
use sendlake_load::{Lake, StagingArea};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::PseudonymisationKey;

use super::RunContext;
use super::stream::{LinkCache, StreamLoad};
use crate::sources::SourceDef;

/// Maps `records` through stream `stream` of `def` exactly as a run would, staging to a
/// temporary folder and committing nothing, and returns the stream's counts. For fixture
/// tests and `sendlake new-source`: a source's fixture is proven by the run's own code path.
///
/// # Errors
/// An unknown stream, a mapping that does not compile, or what would fail the source
/// (schema drift under `freeze`).
pub async fn dry_run(
    registry: Arc<SchemaRegistry>,
    def: &SourceDef,
    stream: &str,
    records: impl IntoIterator<Item = Result<SourceRecord, RecordError>>,
) -> Result<crate::manifest::StreamStats, String> {
    let staging = StagingArea::new(None).map_err(|e| e.to_string())?;
    let lake = Lake::open(&staging.path().join("lake").display().to_string())
        .map_err(|e| e.to_string())?;
    let no_env = |_: &str| None;
    let scope = crate::manifest::RunScope::default();
    let cx = RunContext {
        run_id: "dry-run",
        started: Utc::now(),
        lake: &lake,
        registry: &registry,
        key: Arc::new(PseudonymisationKey::demo()),
        staging: &staging,
        batch_rows: 4096,
        scope: &scope,
        env: &no_env,
        sim_url: None,
        progress: Arc::new(crate::progress::NoProgress),
    };
    let (mapping, typed_json, deletes) = match def {
        SourceDef::Rest(s) => s
            .streams
            .iter()
            .find(|t| t.name == stream)
            .map(|t| (&t.mapping, true, t.deletes.as_ref().map(|d| d.flag.clone()))),
        SourceDef::Ees(s) => s
            .streams
            .iter()
            .find(|t| t.name == stream)
            .map(|t| (&t.mapping, true, None)),
        SourceDef::File(s) => s
            .streams
            .iter()
            .find(|t| t.name == stream)
            .map(|t| (&t.mapping, false, None)),
    }
    .ok_or_else(|| format!("source {} has no stream {stream}", def.name()))?;
    let mut load = StreamLoad::new(
        &cx,
        def.name(),
        stream,
        mapping,
        typed_json,
        &mut LinkCache::default(),
    )
    .await
    .map_err(|e| e.reason)?;
    load.deletes_flag = deletes;
    for item in records {
        match item {
            Ok(r) => load.record(r).map_err(|e| e.reason)?,
            Err(e) => load.reader_error(&e),
        }
    }
    let staged = load.finish().map_err(|e| e.reason)?;
    Ok(staged.into_records())
}
