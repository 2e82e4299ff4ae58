//! One stream of a declared source (partner APIs, files, the DfE statistics API), extracted
//! and staged through the declarative mapper; the kinds in `rest`, `file` and `ees` walk their
//! inputs into it.
//!
//! Every record is mapped, rows are staged to local Parquet and rejects to the secure
//! quarantine; memory holds one page or one batch, plus the ids seen this run (needed to drop
//! an older copy of a record the walk met twice). A staged stream becomes two units: its
//! quarantine, then its rows *with its incremental cursor in the same Delta commit*, so a
//! crash in between re-reads the same records next run and replaces these rejects by id.
//!
//! Replacement: a full read replaces every row of the stream; an incremental read replaces the
//! rows whose ids it read (updated, new, or tombstoned: a tombstone's id is replaced by
//! nothing, which deletes it). Re-running after a crash re-reads from the last committed
//! cursor, so nothing is skipped and, because rows are replaced by id, nothing is duplicated.

use std::collections::{BTreeSet, HashMap, HashSet};

use arrow_array::{Array, RecordBatch, StringArray};
use chrono::{DateTime, SecondsFormat, Utc};
use sendlake_extract::records::{RecordError, RecordErrorKind, SourceRecord};
use sendlake_http::HttpClient;
use sendlake_load::{
    StagedPart, StagedTableWriter, StagingArea, WriteMode, latest_commit_value, read_table,
};
use sendlake_transform::TableRows;
use sendlake_transform::mapping::{
    LinkMap, MappingConfig, RECORD_REJECTS_TABLE, RecordMapper, RejectEntry, RejectRows,
    StreamContext,
};
use serde_json::Value as Json;
use tracing::{error, info, warn};

use super::{Cursor, Expect, RunContext, Slot, SourceFailed, StagedSource, Tally, Unit};
use crate::manifest::{ReadMode, SourceEntry, StreamEntry};
use crate::sources::DeclaredSource;

/// Commit-info key holding a stream's cursor.
fn cursor_key(source: &str, stream: &str) -> String {
    format!("sendlake_cursor:{source}/{stream}")
}

/// Rows per Arrow batch while mapping partner records: a page or two of records, so memory
/// follows the page size, not the pipeline's SEN2-sized `batch_rows`.
const RECORD_BATCH_ROWS: usize = 8192;

/// The person links (`nhs_number_key` → `person_key`) of one source's streams, read from the
/// tables a mapping names once per source rather than once per stream: a source stages every
/// stream before it commits any, so those tables cannot change in between. Not shared across
/// sources: a source committed earlier in the run may have written them.
#[derive(Default)]
pub(super) struct LinkCache(HashMap<Vec<String>, LinkMap>);

impl LinkCache {
    /// The links for `load`'s mapping: a copy, since each stream adds the ones it meets.
    async fn get(&mut self, load: &StreamLoad<'_, '_>) -> Result<LinkMap, SourceFailed> {
        let tables = load.mapper.link_tables().to_vec();
        if let Some(links) = self.0.get(&tables) {
            return Ok(links.clone());
        }
        let mut links = LinkMap::default();
        for table in &tables {
            let Some(def) = load.cx.registry.table(table) else {
                continue;
            };
            let uri = load.cx.lake.table_uri(def.zone, table);
            let batches = match sendlake_load::table_version(&uri).await {
                Ok(Some(_)) => read_table(&uri).await.map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
            .map_err(|e| {
                SourceFailed::environment(format!("reading person links from {table}: {e}"))
            })?;
            for batch in batches.into_iter().flatten() {
                add_links(&mut links, &batch);
            }
            info!(source = %load.source, table = %table, links = links.len(), "Person links read.");
        }
        self.0.insert(tables, links.clone());
        Ok(links)
    }
}

/// Rows per staged part: the part is closed and a new one started, so the Parquet writer's
/// open row group (held in memory until it is flushed) stays small however long the stream is.
const PART_ROWS: u64 = 65_536;

/// How far back in a table's history to look for a stream's cursor. Each incremental commit
/// carries it, so it is normally in the newest commit; the margin covers other writers.
const CURSOR_HISTORY: usize = 100;

/// One stream's staged result.
pub(super) struct StagedStream {
    entry: StreamEntry,
    parts: Vec<StagedPart>,
    reject_parts: Vec<StagedPart>,
    data_mode: Option<WriteMode>,
    reject_mode: Option<WriteMode>,
    cursor: Option<Cursor>,
}

impl StagedStream {
    /// The stream's counts (a dry run's result).
    pub(super) fn into_records(self) -> crate::manifest::StreamStats {
        self.entry.records
    }
}

/// A declared source whose streams all staged: each stream is one group, its quarantine first
/// and then its rows, so rows are never committed without their rejects.
pub(super) fn staged(mut entry: SourceEntry, streams: Vec<StagedStream>) -> StagedSource {
    let mut groups = Vec::with_capacity(streams.len());
    for (index, s) in streams.into_iter().enumerate() {
        let label = format!("{}/{}", entry.name, s.entry.name);
        let r = &s.entry.records;
        let quarantined = r.quarantined.values().sum::<u64>();
        groups.push(vec![
            Unit {
                table: RECORD_REJECTS_TABLE.to_owned(),
                parts: s.reject_parts,
                mode: s.reject_mode,
                metadata: serde_json::Map::new(),
                cursor: None,
                slot: Slot::StreamQuarantine(index),
                expect: Expect {
                    label: label.clone(),
                    tally: Tally::Rejects {
                        records: quarantined,
                        fields: r.field_rejects.values().sum(),
                        files: r.files_quarantined,
                    },
                },
            },
            Unit {
                table: s.entry.table.clone(),
                parts: s.parts,
                mode: s.data_mode,
                metadata: serde_json::Map::new(),
                cursor: s.cursor,
                slot: Slot::StreamData(index),
                expect: Expect {
                    label,
                    tally: Tally::Rows {
                        read: r.read,
                        loaded: r.loaded,
                        quarantined,
                        deleted: r.deleted,
                        superseded: r.superseded,
                    },
                },
            },
        ]);
        entry.streams.push(s.entry);
    }
    StagedSource {
        delivered: true,
        entry,
        groups,
        checks: Vec::new(),
        totals: super::RunTotals::default(),
        degraded: false,
    }
}

/// The HTTP client of a source, pointed at the simulator when the pipeline says so.
pub(super) fn client(
    cx: &RunContext<'_>,
    src: &DeclaredSource,
    name: &str,
    http: &sendlake_http::HttpSourceConfig,
) -> Result<HttpClient, SourceFailed> {
    let mut http = http.clone();
    if src.simulator {
        let Some(url) = &cx.sim_url else {
            return Err(SourceFailed::configuration(
                "the source uses the pipeline's simulator, which is not running",
            ));
        };
        http.base_url.clone_from(url);
    }
    HttpClient::with_env(name, &http, &|k| (cx.env)(k))
        .map_err(|e| SourceFailed::configuration(e.to_string()))
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
pub(super) struct StreamLoad<'e, 'a> {
    cx: &'e RunContext<'a>,
    source: String,
    mapper: RecordMapper,
    rows: TableRows,
    rows_out: Spool,
    rejects: RejectRows,
    rejects_out: Spool,
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
    pub(super) deletes_flag: Option<String>,
    cursor_field: Option<String>,
    cursor_max: Option<String>,
    links: LinkMap,
    pub(super) replace_by_file: bool,
    pub(super) files_seen: BTreeSet<String>,
    pub(super) files_ok: BTreeSet<String>,
    drift_logged: HashSet<String>,
    pub(super) entry: StreamEntry,
}

impl<'e, 'a> StreamLoad<'e, 'a> {
    pub(super) async fn new(
        cx: &'e RunContext<'a>,
        source: &str,
        stream: &str,
        mapping: &MappingConfig,
        typed_json: bool,
        links: &mut LinkCache,
    ) -> Result<Self, SourceFailed> {
        let ctx = StreamContext {
            source: source.to_owned(),
            stream: stream.to_owned(),
            run_id: cx.run_id.to_owned(),
            loaded_at: cx.started,
            typed_json,
        };
        let mapper = RecordMapper::new(cx.registry, cx.key.clone(), mapping, ctx)
            .map_err(|e| SourceFailed::configuration(format!("stream {stream}: mapping: {e}")))?;
        let rows = TableRows::new(mapper.table(), cx.batch_rows.min(RECORD_BATCH_ROWS));
        let rejects = RejectRows::new(
            cx.registry,
            cx.started,
            cx.batch_rows.min(RECORD_BATCH_ROWS),
        )
        .map_err(|e| SourceFailed::configuration(format!("the quarantine table: {e}")))?;
        let entry = StreamEntry {
            name: stream.to_owned(),
            table: mapper.table().name.clone(),
            mode: ReadMode::Full,
            ..StreamEntry::default()
        };
        let mapper_table = mapper.table().name.clone();
        let mapper_schema = mapper.table().arrow_schema();
        let reject_schema = cx
            .registry
            .table(RECORD_REJECTS_TABLE)
            .map(sendlake_schema::TableDef::arrow_schema)
            .ok_or_else(|| {
                SourceFailed::configuration(format!("the schema has no {RECORD_REJECTS_TABLE}"))
            })?;
        let mut load = Self {
            cx,
            source: source.to_owned(),
            mapper,
            rows,
            rows_out: Spool::new(&mapper_table, mapper_schema),
            rejects,
            rejects_out: Spool::new(RECORD_REJECTS_TABLE, reject_schema),
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
        load.links = links.get(&load).await?;
        Ok(load)
    }

    fn table_uri(&self) -> String {
        let t = self.mapper.table();
        self.cx.lake.table_uri(t.zone, &t.name)
    }

    /// Makes the stream incremental by `inc`: reads its committed cursor and returns the value
    /// to ask the API for records changed since (`--since` replays from a given point instead,
    /// replacing what it reads by id and leaving every other record as it is).
    pub(super) async fn incremental(
        &mut self,
        inc: &crate::sources::Incremental,
    ) -> Result<Option<String>, SourceFailed> {
        self.cursor_field = Some(inc.cursor_field.clone());
        let uri = self.table_uri();
        let key = cursor_key(&self.source, &self.entry.name);
        let before = latest_commit_value(&uri, &key, CURSOR_HISTORY)
            .await
            .map_err(|e| {
                SourceFailed::environment(format!(
                    "stream {}: reading its cursor from {uri}: {e}",
                    self.entry.name
                ))
            })?
            .and_then(|v| v.as_str().map(str::to_owned));
        self.entry.cursor_before.clone_from(&before);
        Ok(match (self.cx.scope.since.as_deref(), before) {
            (Some(replay), _) => {
                self.entry.mode = ReadMode::Incremental;
                Some(replay.to_owned())
            }
            (None, Some(c)) => {
                self.entry.mode = ReadMode::Incremental;
                Some(minus_lookback(&c, inc.lookback_secs))
            }
            (None, None) => inc.initial.clone(),
        })
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

    pub(super) fn record(&mut self, record: SourceRecord) -> Result<(), SourceFailed> {
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
            .map_err(|e| SourceFailed::partner(format!("stream {}: {e}", self.entry.name)))?;
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
        // Rejects are rare: only a record that has some pays for these owned copies, which
        // keep the borrow checker out of the loop.
        let (source, stream, table) = if mapped.rejects.is_empty() {
            Default::default()
        } else {
            (
                self.source.clone(),
                self.entry.name.clone(),
                self.entry.table.clone(),
            )
        };
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
                run_id: self.cx.run_id,
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
                .map_err(|e| SourceFailed::environment(format!("building rows: {e}")))?;
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
        if self.entry.mode == ReadMode::Incremental {
            self.ids.insert(stored);
            self.raw_ids.insert(raw);
        }
    }

    /// A quarantine row with an empty id was staged: an incremental commit must cover it (a full
    /// read replaces the stream's whole quarantine anyway).
    fn note_unkeyed_reject(&mut self) {
        if self.entry.mode == ReadMode::Incremental {
            self.raw_ids.insert(String::new());
        }
    }

    /// A record or file the reader could not read.
    pub(super) fn reader_error(&mut self, e: &RecordError) {
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
            run_id: self.cx.run_id,
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
            error!(error = %err.reason, "Could not stage a quarantine row.");
        }
        self.note_unkeyed_reject();
    }

    fn push_reject(&mut self, entry: &RejectEntry<'_>) -> Result<(), SourceFailed> {
        self.rejects
            .push(entry)
            .map_err(|e| SourceFailed::environment(format!("building quarantine rows: {e}")))?;
        if self.rejects.is_full() {
            self.flush_rejects()?;
        }
        Ok(())
    }

    fn flush_rows(&mut self) -> Result<(), SourceFailed> {
        let fail =
            |e: String| SourceFailed::environment(format!("staging {}: {e}", self.entry.table));
        if let Some(batch) = self.rows.take_batch().map_err(|e| fail(e.to_string()))? {
            self.rows_out.write(self.cx.staging, &batch).map_err(fail)?;
        }
        Ok(())
    }

    fn flush_rejects(&mut self) -> Result<(), SourceFailed> {
        let fail = |e: String| SourceFailed::environment(format!("staging the quarantine: {e}"));
        if let Some(batch) = self.rejects.take_batch().map_err(|e| fail(e.to_string()))? {
            self.rejects_out
                .write(self.cx.staging, &batch)
                .map_err(fail)?;
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<StagedStream, SourceFailed> {
        self.flush_rows()?;
        self.flush_rejects()?;
        let fail = |e: String| SourceFailed::environment(format!("staging: {e}"));
        let mut parts = self.rows_out.finish().map_err(fail)?;
        let reject_parts = self.rejects_out.finish().map_err(fail)?;
        if !self.superseded.is_empty() {
            let superseded = std::mem::take(&mut self.superseded);
            parts = self
                .cx
                .staging
                .filter_parts(
                    &self.entry.table,
                    self.mapper.table().arrow_schema(),
                    parts,
                    |ord| !superseded.contains(&ord),
                )
                .map_err(|e| fail(e.to_string()))?;
        }
        // What each commit replaces: the whole stream, or only the ids (incremental) or files
        // (file by file) this run read; with none of those read, nothing.
        let base = vec![
            ("source".to_owned(), vec![self.source.clone()]),
            ("stream".to_owned(), vec![self.entry.name.clone()]),
        ];
        let replace = |by: Option<(&str, Vec<String>)>| match by {
            None => Some(WriteMode::ReplaceWhere(base.clone())),
            Some((_, values)) if values.is_empty() => None,
            Some((column, values)) => {
                let mut terms = base.clone();
                terms.push((column.to_owned(), values));
                Some(WriteMode::ReplaceWhere(terms))
            }
        };
        fn list<'s>(set: impl IntoIterator<Item = &'s String>) -> Vec<String> {
            set.into_iter().cloned().collect()
        }
        let (data_by, reject_by) = if self.entry.mode == ReadMode::Incremental {
            (
                Some(("record_id", list(&self.ids))),
                Some(("record_id", list(&self.raw_ids))),
            )
        } else if self.replace_by_file {
            (
                Some(("source_file", list(&self.files_ok))),
                Some(("source_file", list(&self.files_seen))),
            )
        } else {
            (None, None)
        };
        let data_mode = replace(data_by);
        let reject_mode = replace(reject_by);
        self.entry.files = self.files_seen.iter().cloned().collect();
        // A cursor never moves backwards: a replay of an old range reads records older than
        // the committed cursor, and the next night must still start from there.
        let cursor = match (self.cursor_max, &self.entry.cursor_before) {
            (Some(after), Some(before)) if !cursor_is_after(&after, before) => Some(before.clone()),
            (after, _) => after,
        }
        .map(|value| Cursor {
            key: cursor_key(&self.source, &self.entry.name),
            value,
        });
        if data_mode.is_none() {
            // Nothing to commit: the committed cursor stays where it was.
            self.entry
                .cursor_after
                .clone_from(&self.entry.cursor_before);
        }
        Ok(StagedStream {
            parts,
            reject_parts,
            data_mode,
            reject_mode,
            cursor,
            entry: self.entry,
        })
    }
}

/// Batches of one table written to staged parts, closing a part every [`PART_ROWS`] rows so
/// the Parquet writer's open row group stays small however long the stream is.
struct Spool {
    table: String,
    schema: arrow_schema::SchemaRef,
    writer: Option<StagedTableWriter>,
    parts: Vec<StagedPart>,
}

impl Spool {
    fn new(table: &str, schema: arrow_schema::SchemaRef) -> Self {
        Self {
            table: table.to_owned(),
            schema,
            writer: None,
            parts: Vec::new(),
        }
    }

    fn write(&mut self, staging: &StagingArea, batch: &RecordBatch) -> Result<(), String> {
        let w = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(
                staging
                    .table_writer(&self.table, self.schema.clone())
                    .map_err(|e| e.to_string())?,
            ),
        };
        w.write(batch).map_err(|e| e.to_string())?;
        if w.rows() >= PART_ROWS
            && let Some(full) = self.writer.take()
        {
            self.parts.push(full.finish().map_err(|e| e.to_string())?);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<StagedPart>, String> {
        if let Some(w) = self.writer.take() {
            self.parts.push(w.finish().map_err(|e| e.to_string())?);
        }
        Ok(self.parts)
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
