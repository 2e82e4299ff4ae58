//! Running declared sources (`pipelines/sources/*.toml`): partner APIs, files and the DfE
//! statistics API, through one declarative mapper into their tables.
//!
//! A source runs in two phases. **Extract and stage**: every stream is walked (pages of an
//! API, rows of files), each record is mapped, rows are staged to local Parquet and rejects to
//! the secure quarantine; memory holds one page or one batch, plus the ids seen this run
//! (needed to drop an older copy of a record the walk met twice). **Commit**: only if every
//! stream of the source staged cleanly, each stream commits its quarantine, then its rows
//! *with its incremental cursor in the same Delta commit*. A source that fails (API down past
//! its retry budget, drift under `freeze`, a snapshot file unreadable) commits nothing: its
//! last good data stays current, the manifest marks it stale with the reason, and the run ends
//! partial.
//!
//! Replacement: a full read replaces every row of the stream; an incremental read replaces the
//! rows whose ids it read (updated, new, or tombstoned: a tombstone's id is replaced by
//! nothing, which deletes it). Re-running after a crash re-reads from the last committed
//! cursor, so nothing is skipped and, because rows are replaced by id, nothing is duplicated.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::{StreamExt, pin_mut};
use sendlake_extract::discover_files;
use sendlake_extract::records::{RecordError, RecordErrorKind, SourceRecord, json_records};
use sendlake_http::HttpClient;
use sendlake_load::{
    Lake, StagedPart, StagedTableWriter, StagingArea, TableCommit, WriteMode, commit_table,
    latest_commit_value, read_table,
};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::mapping::{
    LinkMap, RECORD_REJECTS_TABLE, RecordMapper, RejectEntry, RejectRows, StreamContext,
};
use sendlake_transform::{PseudonymisationKey, TableRows};
use serde_json::Value as Json;
use tracing::{error, info, warn};

use crate::manifest::{Check, CommitEntry, SourceEntry, StreamEntry};
use crate::run::{Progress, RunError};
use crate::sources::{DeclaredSource, FileReplace, SourceDef};

/// Commit-info key holding a stream's cursor.
fn cursor_key(source: &str, stream: &str) -> String {
    format!("sendlake_cursor:{source}/{stream}")
}

/// Rows per Arrow batch while mapping partner records: a page or two of records, so memory
/// follows the page size, not the pipeline's SEN2-sized `batch_rows`.
const RECORD_BATCH_ROWS: usize = 8192;

/// Rows per staged part: the part is closed and a new one started, so the Parquet writer's
/// open row group (held in memory until it is flushed) stays small however long the stream is.
const PART_ROWS: u64 = 65_536;

/// How far back in a table's history to look for a stream's cursor. Each incremental commit
/// carries it, so it is normally in the newest commit; the margin covers other writers.
const CURSOR_HISTORY: usize = 100;

/// What a run shares with every declared source.
pub(crate) struct RecordEnv<'a> {
    pub lake: &'a Lake,
    pub registry: &'a Arc<SchemaRegistry>,
    pub key: Arc<PseudonymisationKey>,
    pub staging: &'a StagingArea,
    pub run_id: &'a str,
    pub started: DateTime<Utc>,
    pub batch_rows: usize,
    /// Environment lookup for secrets (the simulator's credentials, then the process).
    pub env: &'a (dyn Fn(&str) -> Option<String> + Send + Sync),
    /// Base URL of the in-process simulator, if one runs.
    pub sim_url: Option<String>,
    pub progress: Arc<dyn Progress>,
    /// Test hook: stop as if killed after this many commits in the whole run.
    pub crash_after_commits: Option<usize>,
    /// Replay: read incremental streams from this cursor value, not their committed one.
    pub since: Option<&'a str>,
}

/// What one source did.
pub(crate) struct SourceOutcome {
    pub entry: SourceEntry,
    pub stale: bool,
    pub checks: Vec<Check>,
}

/// Why a stream could not be staged.
struct StreamFailed(String);

/// One stream's staged result, waiting for the source's commit phase.
struct Staged {
    entry: StreamEntry,
    table: String,
    parts: Vec<StagedPart>,
    reject_parts: Vec<StagedPart>,
    data_mode: Option<WriteMode>,
    reject_mode: Option<WriteMode>,
    cursor_after: Option<String>,
}

/// Runs one declared source: extract and stage every stream, then commit if all succeeded.
pub(crate) async fn run_source(
    env: &RecordEnv<'_>,
    src: &DeclaredSource,
    commits_done: &mut usize,
) -> Result<SourceOutcome, RunError> {
    let name = src.def.name().to_owned();
    let mut entry = SourceEntry {
        name: name.clone(),
        source_type: src.def.kind().to_owned(),
        path: src.file.display().to_string(),
        generated: false,
        files: Vec::new(),
        submissions: Vec::new(),
        status: Some("ok".into()),
        stale_reason: None,
        streams: Vec::new(),
    };
    info!(source = %name, kind = src.def.kind(), "Source started.");
    let mut staged = Vec::new();
    let mut failure = None;
    match stage_source(env, src).await {
        Ok(s) => staged = s,
        Err(StreamFailed(reason)) => failure = Some(reason),
    }
    if let Some(reason) = failure {
        error!(source = %name, reason = %reason, "Source failed: nothing of it is committed this run; its last good data stays current.");
        entry.status = Some("stale".into());
        entry.stale_reason = Some(reason);
        return Ok(SourceOutcome {
            entry,
            stale: true,
            checks: Vec::new(),
        });
    }
    let mut checks = Vec::new();
    let mut stale = false;
    for s in staged {
        let Staged {
            entry: mut st,
            table,
            parts,
            reject_parts,
            data_mode,
            reject_mode,
            cursor_after,
        } = s;
        let label = format!("{name}/{}", st.name);
        // Quarantine first, then the rows with the cursor: a crash in between re-reads the
        // same records next run and replaces these rejects by id.
        if let Some(mode) = reject_mode {
            st.quarantine_commit = commit(
                env,
                RECORD_REJECTS_TABLE,
                reject_parts,
                mode,
                None,
                commits_done,
            )
            .await?;
        }
        if st.quarantine_commit.commit == "failed" {
            stale = true;
        } else if let Some(mode) = data_mode {
            // A cursor never moves backwards: a replay of an old range reads records older
            // than the committed cursor, and the next night must still start from there.
            let cursor_after = match (cursor_after, &st.cursor_before) {
                (Some(after), Some(before)) if !cursor_is_after(&after, before) => {
                    Some(before.clone())
                }
                (after, _) => after,
            };
            let cursor = cursor_after
                .as_ref()
                .map(|c| (cursor_key(&name, &st.name), c.clone()));
            st.data_commit = commit(env, &table, parts, mode, cursor, commits_done).await?;
            if st.data_commit.commit == "committed" {
                st.cursor_after = cursor_after.or_else(|| st.cursor_before.clone());
            } else {
                stale = true;
            }
        } else {
            st.cursor_after = st.cursor_before.clone();
        }
        let r = &st.records;
        checks.push(Check {
            name: format!("{label}: read = loaded + quarantined + deleted + superseded"),
            ok: r.reconciles(),
            detail: format!(
                "{} = {} + {} + {} + {}",
                r.read,
                r.loaded,
                r.quarantined.values().sum::<u64>(),
                r.deleted,
                r.superseded
            ),
        });
        if let Some(w) = st.data_commit.rows_written {
            checks.push(Check {
                name: format!("{label}: rows committed = loaded"),
                ok: w == r.loaded,
                detail: format!("{w} committed, {} loaded", r.loaded),
            });
        }
        if let Some(w) = st.quarantine_commit.rows_written {
            let expected = r.quarantined.values().sum::<u64>()
                + r.field_rejects.values().sum::<u64>()
                + r.files_quarantined;
            checks.push(Check {
                name: format!("{label}: quarantine rows = record + field + file rejects"),
                ok: w == expected,
                detail: format!("{w} written, {expected} expected"),
            });
        }
        info!(source = %name, stream = %st.name, read = r.read, loaded = r.loaded, quarantined = r.quarantined.values().sum::<u64>(), deleted = r.deleted, mode = %st.mode, "Stream done.");
        entry.streams.push(st);
    }
    if stale {
        entry.status = Some("stale".into());
        entry.stale_reason = Some("a commit failed; see the stream entries".into());
    }
    Ok(SourceOutcome {
        entry,
        stale,
        checks,
    })
}

/// One table commit, recorded for the manifest. A failed commit is reported, not fatal: the
/// table keeps its previous version.
async fn commit(
    env: &RecordEnv<'_>,
    table: &str,
    parts: Vec<StagedPart>,
    mode: WriteMode,
    cursor: Option<(String, String)>,
    commits_done: &mut usize,
) -> Result<CommitEntry, RunError> {
    let Some(def) = env.registry.table(table) else {
        return Ok(CommitEntry::failed(format!(
            "no table {table} in the schema"
        )));
    };
    if env.crash_after_commits == Some(*commits_done) {
        return Err(RunError::SimulatedCrash(*commits_done));
    }
    env.progress.phase(&format!("committing {table}"));
    let mut meta = serde_json::Map::new();
    if let Some((k, v)) = cursor {
        meta.insert(k, Json::String(v));
    }
    let uri = env.lake.table_uri(def.zone, table);
    let result = commit_table(TableCommit {
        table_uri: uri,
        schema: def.arrow_schema(),
        parts,
        mode,
        run_id: env.run_id.to_owned(),
        app_metadata: meta,
    })
    .await;
    Ok(match result {
        Ok(o) => {
            *commits_done += 1;
            info!(table = %table, version = o.version, rows = o.rows_written, "Table committed.");
            CommitEntry {
                commit: "committed".into(),
                version: Some(o.version),
                rows_written: Some(o.rows_written),
                error: None,
            }
        }
        Err(e) => {
            error!(table = %table, error = %e, "Table commit failed; its previous version stays current.");
            CommitEntry::failed(e.to_string())
        }
    })
}

/// Extracts and stages every stream of a source.
async fn stage_source(
    env: &RecordEnv<'_>,
    src: &DeclaredSource,
) -> Result<Vec<Staged>, StreamFailed> {
    let name = src.def.name();
    let mut out = Vec::new();
    match &src.def {
        SourceDef::Rest(def) => {
            let client = client(env, src, name, &def.http)?;
            for stream in &def.streams {
                let mut load =
                    StreamLoad::new(env, name, &stream.name, &stream.mapping, true).await?;
                load.deletes_flag = stream.deletes.as_ref().map(|d| d.flag.clone());
                let mut query: Vec<(String, String)> = stream
                    .query
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if let Some(inc) = &stream.incremental {
                    load.cursor_field = Some(inc.cursor_field.clone());
                    let uri = load.table_uri();
                    let before =
                        latest_commit_value(&uri, &cursor_key(name, &stream.name), CURSOR_HISTORY)
                            .await
                            .map_err(|e| {
                                StreamFailed(format!(
                                    "stream {}: reading its cursor from {uri}: {e}",
                                    stream.name
                                ))
                            })?
                            .and_then(|v| v.as_str().map(str::to_owned));
                    load.entry.cursor_before.clone_from(&before);
                    let since = match (env.since, &before) {
                        // A replay re-reads from the given point and replaces what it reads
                        // by id, leaving every other record as it is.
                        (Some(replay), _) => {
                            load.entry.mode = "incremental".into();
                            Some(replay.to_owned())
                        }
                        (None, Some(c)) => {
                            load.entry.mode = "incremental".into();
                            Some(minus_lookback(c, inc.lookback_secs))
                        }
                        (None, None) => inc.initial.clone(),
                    };
                    if let Some(since) = since {
                        query.push((inc.param.clone(), since));
                    }
                }
                env.progress
                    .phase(&format!("reading {name}/{}", stream.name));
                let pages = client.pages(&stream.path, &query);
                pin_mut!(pages);
                while let Some(page) = pages.next().await {
                    let page =
                        page.map_err(|e| StreamFailed(format!("stream {}: {e}", stream.name)))?;
                    load.entry.records.pages += 1;
                    let prefix = format!("page {} ", page.index + 1);
                    for record in json_records(&page.url, &prefix, page.records) {
                        load.record(record)?;
                    }
                }
                out.push(load.finish()?);
            }
        }
        SourceDef::Ees(def) => {
            let client = client(env, src, name, &def.http)?;
            let ees = sendlake_ees::EesSource::new(client, def.ees.clone())
                .map_err(|e| StreamFailed(e.to_string()))?;
            for stream in &def.streams {
                let mut load =
                    StreamLoad::new(env, name, &stream.name, &stream.mapping, true).await?;
                env.progress
                    .phase(&format!("reading {name}/{}", stream.name));
                let records = ees.records();
                pin_mut!(records);
                while let Some(item) = records.next().await {
                    match item {
                        Ok(record) => load.record(record)?,
                        Err(e) if e.kind() == sendlake_ees::EesErrorKind::Row => {
                            load.reader_error(&e.to_record_error());
                        }
                        Err(e) => return Err(StreamFailed(format!("stream {}: {e}", stream.name))),
                    }
                }
                out.push(load.finish()?);
            }
        }
        SourceDef::File(def) => {
            for stream in &def.streams {
                let mut load =
                    StreamLoad::new(env, name, &stream.name, &stream.mapping, false).await?;
                load.replace_by_file = stream.replace == FileReplace::File;
                let files = discover_files(&def.path, &stream.pattern).map_err(|e| {
                    StreamFailed(format!(
                        "stream {}: cannot list {}: {e}",
                        stream.name,
                        def.path.display()
                    ))
                })?;
                if files.is_empty() {
                    // An empty folder is a delivery that did not arrive, not an empty register:
                    // replacing the stream with nothing would delete its last good data.
                    return Err(StreamFailed(format!(
                        "stream {}: no file in {} matches `{}`",
                        stream.name,
                        def.path.display(),
                        stream.pattern
                    )));
                }
                let format = stream.format.format();
                for path in files {
                    let file_name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    env.progress
                        .phase(&format!("reading {name}/{} {file_name}", stream.name));
                    load.files_seen.insert(file_name.clone());
                    let mut file_ok = true;
                    for item in format.open(&path) {
                        match item {
                            Ok(record) => load.record(record)?,
                            Err(e) => {
                                if e.kind == RecordErrorKind::File {
                                    file_ok = false;
                                }
                                load.reader_error(&e);
                            }
                        }
                    }
                    if file_ok {
                        load.files_ok.insert(file_name);
                    } else if !load.replace_by_file {
                        // A snapshot with a file missing is not a snapshot: keep the last one.
                        return Err(StreamFailed(format!(
                            "stream {}: file {file_name} could not be read, and the stream's files are one snapshot (replace = \"all\")",
                            stream.name
                        )));
                    }
                }
                out.push(load.finish()?);
            }
        }
    }
    Ok(out)
}

/// The HTTP client of a source, pointed at the simulator when the pipeline says so.
fn client(
    env: &RecordEnv<'_>,
    src: &DeclaredSource,
    name: &str,
    http: &sendlake_http::HttpSourceConfig,
) -> Result<HttpClient, StreamFailed> {
    let mut http = http.clone();
    if src.simulator {
        let Some(url) = &env.sim_url else {
            return Err(StreamFailed(
                "the pipeline's simulator is not running".into(),
            ));
        };
        http.base_url.clone_from(url);
    }
    HttpClient::with_env(name, &http, &|k| (env.env)(k)).map_err(|e| StreamFailed(e.to_string()))
}

/// `cursor` minus `secs`, when it is an RFC 3339 time; other cursors are sent as they are.
fn minus_lookback(cursor: &str, secs: u64) -> String {
    match DateTime::parse_from_rfc3339(cursor) {
        Ok(t) => {
            let t = t.with_timezone(&Utc)
                - chrono::TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000));
            t.to_rfc3339_opts(SecondsFormat::Micros, true)
        }
        Err(_) => cursor.to_owned(),
    }
}

/// Whether cursor `a` is later than `b`: as times when both are RFC 3339, else as text.
fn cursor_is_after(a: &str, b: &str) -> bool {
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(x), Ok(y)) => x > y,
        _ => a > b,
    }
}

/// One stream being extracted and staged.
struct StreamLoad<'e, 'a> {
    env: &'e RecordEnv<'a>,
    source: String,
    mapper: RecordMapper,
    rows: TableRows,
    writer: Option<StagedTableWriter>,
    parts: Vec<StagedPart>,
    rejects: RejectRows,
    reject_writer: Option<StagedTableWriter>,
    reject_parts: Vec<StagedPart>,
    /// 128-bit hash of the stored id → ordinal of its staged row, to drop an older copy met
    /// later in the walk. Hashes, not ids: 24 bytes a record instead of a 64-character key.
    seen: HashMap<u128, u64>,
    superseded: HashSet<u64>,
    next_ordinal: u64,
    /// Incremental reads only: stored ids read (rows, rejects with ids, tombstones), which the
    /// commit replaces; a full read replaces the whole stream and keeps no ids.
    ids: HashSet<String>,
    /// Incremental reads only: raw ids read, by which the quarantine is replaced.
    raw_ids: HashSet<String>,
    deletes_flag: Option<String>,
    cursor_field: Option<String>,
    cursor_max: Option<String>,
    links: LinkMap,
    replace_by_file: bool,
    files_seen: BTreeSet<String>,
    files_ok: BTreeSet<String>,
    drift_logged: HashSet<String>,
    entry: StreamEntry,
}

impl<'e, 'a> StreamLoad<'e, 'a> {
    async fn new(
        env: &'e RecordEnv<'a>,
        source: &str,
        stream: &str,
        mapping: &sendlake_transform::mapping::MappingConfig,
        typed_json: bool,
    ) -> Result<Self, StreamFailed> {
        let ctx = StreamContext {
            source: source.to_owned(),
            stream: stream.to_owned(),
            run_id: env.run_id.to_owned(),
            loaded_at: env.started,
            typed_json,
        };
        let mapper = RecordMapper::new(env.registry, env.key.clone(), mapping, ctx)
            .map_err(|e| StreamFailed(format!("stream {stream}: mapping: {e}")))?;
        let rows = TableRows::new(mapper.table(), env.batch_rows.min(RECORD_BATCH_ROWS));
        let rejects = RejectRows::new(env.registry, env.started, env.batch_rows.min(8192))
            .map_err(StreamFailed)?;
        let entry = StreamEntry {
            name: stream.to_owned(),
            table: mapper.table().name.clone(),
            mode: "full".into(),
            ..StreamEntry::default()
        };
        let mut load = Self {
            env,
            source: source.to_owned(),
            mapper,
            rows,
            writer: None,
            parts: Vec::new(),
            rejects,
            reject_writer: None,
            reject_parts: Vec::new(),
            seen: HashMap::new(),
            superseded: HashSet::new(),
            next_ordinal: 0,
            ids: HashSet::new(),
            raw_ids: HashSet::new(),
            deletes_flag: None,
            cursor_field: None,
            cursor_max: None,
            links: LinkMap::default(),
            replace_by_file: false,
            files_seen: BTreeSet::new(),
            files_ok: BTreeSet::new(),
            drift_logged: HashSet::new(),
            entry,
        };
        load.links = load.read_links().await?;
        Ok(load)
    }

    fn table_uri(&self) -> String {
        let t = self.mapper.table();
        self.env.lake.table_uri(t.zone, &t.name)
    }

    /// Person links (`nhs_number_key` → `person_key`) from the tables the mapping names.
    async fn read_links(&self) -> Result<LinkMap, StreamFailed> {
        let mut links = LinkMap::default();
        for table in self.mapper.link_tables() {
            let Some(def) = self.env.registry.table(table) else {
                continue;
            };
            let uri = self.env.lake.table_uri(def.zone, table);
            let batches = match sendlake_load::table_version(&uri).await {
                Ok(Some(_)) => read_table(&uri).await.map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
            .map_err(|e| StreamFailed(format!("reading person links from {table}: {e}")))?;
            for batch in batches.into_iter().flatten() {
                add_links(&mut links, &batch);
            }
            info!(source = %self.source, table = %table, links = links.len(), "Person links read.");
        }
        Ok(links)
    }

    fn bump_cursor(&mut self, value: &Json) {
        let Some(field) = &self.cursor_field else {
            return;
        };
        let c = match value.pointer(field) {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Number(n)) => n.to_string(),
            _ => return,
        };
        if self
            .cursor_max
            .as_deref()
            .is_none_or(|m| cursor_is_after(&c, m))
        {
            self.cursor_max = Some(c);
        }
    }

    /// A record met again: its earlier staged copy is out of date.
    fn supersede(&mut self, stored: &str) {
        if let Some(ord) = self.seen.remove(&id_hash(stored)) {
            self.superseded.insert(ord);
            self.entry.records.superseded += 1;
            self.entry.records.loaded -= 1;
        }
    }

    fn record(&mut self, record: SourceRecord) -> Result<(), StreamFailed> {
        self.entry.records.read += 1;
        let is_tombstone = self
            .deletes_flag
            .as_deref()
            .and_then(|f| record.value.pointer(f))
            == Some(&Json::Bool(true));
        if is_tombstone && let Some(raw) = self.mapper.raw_id(&record.value) {
            self.bump_cursor(&record.value);
            let stored = self.mapper.stored_id(&raw);
            self.supersede(&stored);
            self.note_id(stored, raw);
            self.entry.records.deleted += 1;
            return Ok(());
        }
        self.bump_cursor(&record.value);
        let mapped = self
            .mapper
            .map(&record, &self.links)
            .map_err(|e| StreamFailed(format!("stream {}: {e}", self.entry.name)))?;
        for d in &mapped.drift {
            let key = format!("{} {}", d.kind.rule(), d.field);
            if self.drift_logged.insert(key.clone()) {
                warn!(source = %self.source, stream = %self.entry.name, drift = d.kind.rule(), field = %d.field, policy = ?self.mapper.drift_policy(), "Schema drift.");
            }
            *self.entry.records.drift.entry(key).or_default() += 1;
        }
        if let Some(stored) = &mapped.record_id {
            self.supersede(stored);
        }
        if let (Some(stored), Some(raw)) = (&mapped.record_id, &mapped.raw_id) {
            self.note_id(stored.clone(), raw.clone());
        }
        let whole = mapped.rejects.iter().any(|r| r.whole_record);
        let raw_record = whole.then(|| record.value.to_string());
        // Rejects are rare; owned copies keep the borrow checker out of the hot path.
        let (source, stream, table) = (
            self.source.clone(),
            self.entry.name.clone(),
            self.entry.table.clone(),
        );
        for r in &mapped.rejects {
            let level = if r.whole_record { "record" } else { "field" };
            if r.whole_record {
                *self
                    .entry
                    .records
                    .quarantined
                    .entry(r.reason.to_owned())
                    .or_default() += 1;
            } else {
                *self
                    .entry
                    .records
                    .field_rejects
                    .entry(r.reason.to_owned())
                    .or_default() += 1;
            }
            self.push_reject(&RejectEntry {
                run_id: self.env.run_id,
                source: &source,
                stream: &stream,
                record_id: mapped.raw_id.as_deref().unwrap_or_default(),
                level,
                table: &table,
                source_file: &record.origin.location,
                position: &record.origin.position,
                reason: r.reason,
                field: &r.field,
                raw_value: r.raw_value.as_deref(),
                raw_record: if r.whole_record {
                    raw_record.as_deref()
                } else {
                    None
                },
                message: &r.message,
            })?;
        }
        if !mapped.rejects.is_empty() && mapped.raw_id.is_none() {
            self.note_unkeyed_reject();
        }
        if let Some((nhs, person, basis)) = &mapped.link {
            self.links.insert(nhs, person, basis);
        }
        if let Some(row) = mapped.row {
            self.rows
                .push(&row)
                .map_err(|e| StreamFailed(format!("building rows: {e}")))?;
            if let Some(stored) = mapped.record_id {
                self.seen.insert(id_hash(&stored), self.next_ordinal);
            }
            self.next_ordinal += 1;
            self.entry.records.loaded += 1;
            if self.rows.is_full() {
                self.flush_rows()?;
            }
        }
        Ok(())
    }

    /// Remembers an id an incremental commit must replace.
    fn note_id(&mut self, stored: String, raw: String) {
        if self.entry.mode == "incremental" {
            self.ids.insert(stored);
            self.raw_ids.insert(raw);
        }
    }

    /// A quarantine row with an empty id was staged: an incremental commit must cover it (a full
    /// read replaces the stream's whole quarantine anyway).
    fn note_unkeyed_reject(&mut self) {
        if self.entry.mode == "incremental" {
            self.raw_ids.insert(String::new());
        }
    }

    /// A record or file the reader could not read.
    fn reader_error(&mut self, e: &RecordError) {
        let level = match e.kind {
            RecordErrorKind::File => {
                self.entry.records.files_quarantined += 1;
                "file"
            }
            RecordErrorKind::Record => {
                self.entry.records.read += 1;
                *self
                    .entry
                    .records
                    .quarantined
                    .entry(e.reason.to_owned())
                    .or_default() += 1;
                "record"
            }
        };
        warn!(source = %self.source, stream = %self.entry.name, reason = e.reason, error = %e, "Input not readable; quarantined.");
        let (source, stream, table) = (
            self.source.clone(),
            self.entry.name.clone(),
            self.entry.table.clone(),
        );
        let entry = RejectEntry {
            run_id: self.env.run_id,
            source: &source,
            stream: &stream,
            record_id: "",
            level,
            table: &table,
            source_file: &e.origin.location,
            position: &e.origin.position,
            reason: e.reason,
            field: "",
            raw_value: None,
            raw_record: e.raw.as_deref(),
            message: &e.message,
        };
        if let Err(err) = self.push_reject(&entry) {
            // Counted above, so the reconciliation shows the loss rather than hiding it.
            error!(error = %err.0, "Could not stage a quarantine row.");
        }
        self.note_unkeyed_reject();
    }

    fn push_reject(&mut self, entry: &RejectEntry<'_>) -> Result<(), StreamFailed> {
        self.rejects
            .push(entry)
            .map_err(|e| StreamFailed(format!("building quarantine rows: {e}")))?;
        if self.rejects.is_full() {
            self.flush_rejects()?;
        }
        Ok(())
    }

    fn flush_rows(&mut self) -> Result<(), StreamFailed> {
        let fail = |e: String| StreamFailed(format!("staging {}: {e}", self.entry.table));
        let Some(batch) = self.rows.take_batch().map_err(|e| fail(e.to_string()))? else {
            return Ok(());
        };
        if self.writer.is_none() {
            let w = self
                .env
                .staging
                .table_writer(&self.entry.table, self.mapper.table().arrow_schema())
                .map_err(|e| fail(e.to_string()))?;
            self.writer = Some(w);
        }
        if let Some(w) = &mut self.writer {
            w.write(&batch).map_err(|e| fail(e.to_string()))?;
            if w.rows() >= PART_ROWS
                && let Some(full) = self.writer.take()
            {
                self.parts
                    .push(full.finish().map_err(|e| fail(e.to_string()))?);
            }
        }
        Ok(())
    }

    fn flush_rejects(&mut self) -> Result<(), StreamFailed> {
        let fail = |e: String| StreamFailed(format!("staging the quarantine: {e}"));
        let Some(batch) = self.rejects.take_batch().map_err(|e| fail(e.to_string()))? else {
            return Ok(());
        };
        if self.reject_writer.is_none() {
            let schema = self
                .env
                .registry
                .table(RECORD_REJECTS_TABLE)
                .map(sendlake_schema::TableDef::arrow_schema)
                .ok_or_else(|| fail("no quarantine table".into()))?;
            let w = self
                .env
                .staging
                .table_writer(RECORD_REJECTS_TABLE, schema)
                .map_err(|e| fail(e.to_string()))?;
            self.reject_writer = Some(w);
        }
        if let Some(w) = &mut self.reject_writer {
            w.write(&batch).map_err(|e| fail(e.to_string()))?;
            if w.rows() >= PART_ROWS
                && let Some(full) = self.reject_writer.take()
            {
                self.reject_parts
                    .push(full.finish().map_err(|e| fail(e.to_string()))?);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Staged, StreamFailed> {
        self.flush_rows()?;
        self.flush_rejects()?;
        let fail = |e: String| StreamFailed(format!("staging: {e}"));
        if let Some(w) = self.writer.take() {
            self.parts
                .push(w.finish().map_err(|e| fail(e.to_string()))?);
        }
        if let Some(w) = self.reject_writer.take() {
            self.reject_parts
                .push(w.finish().map_err(|e| fail(e.to_string()))?);
        }
        if !self.superseded.is_empty() {
            let superseded = std::mem::take(&mut self.superseded);
            self.parts = self
                .env
                .staging
                .filter_parts(
                    &self.entry.table,
                    self.mapper.table().arrow_schema(),
                    std::mem::take(&mut self.parts),
                    |ord| !superseded.contains(&ord),
                )
                .map_err(|e| fail(e.to_string()))?;
        }
        let src = vec![self.source.clone()];
        let stream = vec![self.entry.name.clone()];
        let base = vec![("source".to_owned(), src), ("stream".to_owned(), stream)];
        let incremental = self.entry.mode == "incremental";
        let data_mode = if incremental {
            (!self.ids.is_empty()).then(|| {
                let mut terms = base.clone();
                terms.push(("record_id".into(), self.ids.iter().cloned().collect()));
                WriteMode::ReplaceWhere(terms)
            })
        } else if self.replace_by_file {
            (!self.files_ok.is_empty()).then(|| {
                let mut terms = base.clone();
                terms.push((
                    "source_file".into(),
                    self.files_ok.iter().cloned().collect(),
                ));
                WriteMode::ReplaceWhere(terms)
            })
        } else {
            Some(WriteMode::ReplaceWhere(base.clone()))
        };
        let reject_mode = if incremental {
            (!self.raw_ids.is_empty()).then(|| {
                let mut terms = base.clone();
                terms.push(("record_id".into(), self.raw_ids.iter().cloned().collect()));
                WriteMode::ReplaceWhere(terms)
            })
        } else if self.replace_by_file {
            (!self.files_seen.is_empty()).then(|| {
                let mut terms = base.clone();
                terms.push((
                    "source_file".into(),
                    self.files_seen.iter().cloned().collect(),
                ));
                WriteMode::ReplaceWhere(terms)
            })
        } else {
            Some(WriteMode::ReplaceWhere(base))
        };
        self.entry.files = self.files_seen.iter().cloned().collect();
        Ok(Staged {
            table: self.entry.table.clone(),
            parts: self.parts,
            reject_parts: self.reject_parts,
            data_mode,
            reject_mode,
            cursor_after: self.cursor_max,
            entry: self.entry,
        })
    }
}

/// A 128-bit hash of a stored id: two independent 64-bit SipHashes, so two different ids
/// collide with odds of about 2^-128 per pair (a record is never dropped for looking like
/// another).
fn id_hash(id: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        id.hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// Adds a batch's (`nhs_number_key`, `person_key`, `person_key_basis`) triples to `links`.
fn add_links(links: &mut LinkMap, batch: &RecordBatch) {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
    };
    let (Some(nhs), Some(person), Some(basis)) = (
        col("nhs_number_key"),
        col("person_key"),
        col("person_key_basis"),
    ) else {
        return;
    };
    for i in 0..batch.num_rows() {
        if nhs.is_valid(i) && person.is_valid(i) && basis.is_valid(i) {
            links.insert(nhs.value(i), person.value(i), basis.value(i));
        }
    }
}

mod dry_run;
pub use dry_run::dry_run;
