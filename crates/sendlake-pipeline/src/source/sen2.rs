//! SEN2 returns (`type = "sen2_xml"`): each XML file read once (hashed as it is read),
//! conformed person by person and staged per table; files of one submission in order on one
//! worker, submissions in parallel. A file that cannot be read whole is quarantined with its
//! staged parts dropped, and the other files still load.
//!
//! Each table of the return is one unit, parents first and the quarantine last, so a crash
//! part-way leaves the earlier tables on the new version and the later ones on the previous
//! one, both readable; a unit replaces exactly the submissions (and, for the quarantine, the
//! files) this source read, so re-running a night replaces the same rows again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use chrono::{DateTime, Utc};
use sendlake_extract::discover_files;
use sendlake_extract::{Sen2FileError, Sen2FileErrorKind, Sen2Item, Sen2Reader};
use sendlake_load::WriteMode;
use sendlake_load::{StagedPart, StagedTableWriter, StagingArea};
use sendlake_schema::{CodeList, SchemaRegistry};
use sendlake_transform::{
    FileStats, QuarantineRows, Reject, RejectLevel, Sen2Conformer, SubmissionContext, read_header,
};
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use super::{Expect, RunContext, RunTotals, Slot, SourceFailed, StagedSource, Tally, Unit};
use crate::config::Sen2Plan;
use crate::manifest::{Check, FileEntry, FileError, FileStatus};
use crate::progress::Progress;

/// Where rejected files, records and values of SEN2 returns go (`secure/`).
const QUARANTINE_TABLE: &str = "quarantine/sen2_rejects";

/// Stages one SEN2 source: every return in its folder (or those `--files` selects).
pub(super) fn stage(cx: &RunContext<'_>, s: &Sen2Plan) -> Result<StagedSource, SourceFailed> {
    let mut entry = super::new_entry(&s.name, "sen2_xml", &s.path);
    let conformer = Sen2Conformer::new(cx.registry.clone(), cx.key.clone(), cx.batch_rows)
        .map_err(|e| SourceFailed::configuration(e.to_string()))?;
    let schema_lacks =
        |what: &str| SourceFailed::configuration(format!("the schema has no {what}"));
    let quarantine_def = cx
        .registry
        .table(QUARANTINE_TABLE)
        .ok_or_else(|| schema_lacks(&format!("table {QUARANTINE_TABLE}")))?;
    let la_codes = cx
        .registry
        .code_list("la_code")
        .ok_or_else(|| schema_lacks("code list la_code"))?;
    entry.generated = generate(s)?;
    let files = discover_files(&s.path, &s.pattern)
        .map_err(|e| SourceFailed::environment(format!("cannot list {}: {e}", s.path.display())))?;
    // A backfill of chosen files (`--files`): the other submissions are untouched, since each
    // table replaces only the submissions of the files read.
    let files: Vec<_> = match &cx.scope.files {
        Some(only) => files
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| sendlake_extract::glob_matches(only, n))
            })
            .collect(),
        None => files,
    };
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut staged = Staged::default();
    let loaded = load_files(&files, &names, &mut staged, la_codes, |path, file_name| {
        FileRun {
            source: &s.name,
            file_name,
            path,
            run_id: cx.run_id,
            started: cx.started,
            conformer: &conformer,
            staging: cx.staging,
            registry: cx.registry,
            progress: cx.progress.clone(),
        }
    });

    let staging_failed = |e: &dyn std::fmt::Display| {
        SourceFailed::environment(format!("staging the quarantine: {e}"))
    };
    let mut file_rejects =
        QuarantineRows::new(quarantine_def, &s.name, cx.run_id, cx.started, 1024)
            .map_err(|e| SourceFailed::configuration(e.to_string()))?;
    let mut stats = FileStats::default();
    let mut totals = RunTotals::default();
    let mut submissions = std::collections::BTreeSet::new();
    let mut checks = Vec::new();
    for (file_name, f) in names.iter().zip(loaded) {
        match &f.error {
            None => {
                info!(source = %s.name, file = %file_name, persons = f.persons_read, "File loaded.");
                stats.merge(&f.stats);
                submissions.extend(f.submission_id.clone());
            }
            Some(err) => {
                error!(source = %s.name, file = %file_name, reason = %err.reason, error = %err.message, "File quarantined whole; the other files still load.");
                *totals
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
                        submission_id: f.submission_id.clone(),
                        source_file: file_name.clone(),
                    })
                    .map_err(|e| staging_failed(&e))?;
            }
        }
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
        entry.files.push(f);
    }
    if let Some(batch) = file_rejects.take_batch().map_err(|e| staging_failed(&e))? {
        let mut w = cx
            .staging
            .table_writer(QUARANTINE_TABLE, quarantine_def.arrow_schema())
            .map_err(|e| staging_failed(&e))?;
        w.write(&batch).map_err(|e| staging_failed(&e))?;
        let part = w.finish().map_err(|e| staging_failed(&e))?;
        staged
            .parts
            .entry(QUARANTINE_TABLE.to_owned())
            .or_default()
            .push(part);
    }

    let submissions: Vec<String> = submissions.into_iter().collect();
    let degraded = entry.files.iter().any(|f| f.status != FileStatus::Loaded);
    let rejects = Tally::Rejects {
        records: stats
            .tables
            .values()
            .map(sendlake_transform::TableStats::quarantined_total)
            .sum(),
        fields: stats.field_rejects.values().sum(),
        files: totals.files_quarantined.values().sum(),
    };
    let mut metadata = serde_json::Map::new();
    metadata.insert("submissions".into(), serde_json::json!(submissions));
    let mut groups = Vec::new();
    let mut tables = conformer.table_names();
    tables.push(QUARANTINE_TABLE.to_owned());
    for table in tables {
        let parts = staged.parts.remove(&table).unwrap_or_default();
        let counts = stats.tables.remove(&table).unwrap_or_default();
        let is_quarantine = table == QUARANTINE_TABLE;
        let (column, values) = if is_quarantine {
            ("source_file", names.clone())
        } else {
            ("submission_id", submissions.clone())
        };
        let mode = (!values.is_empty() || !parts.is_empty()).then(|| {
            WriteMode::ReplaceWhere(vec![
                ("source".into(), vec![s.name.clone()]),
                (column.into(), values),
            ])
        });
        let tally = if is_quarantine {
            rejects
        } else {
            Tally::Rows {
                read: counts.read,
                loaded: counts.loaded,
                quarantined: counts.quarantined_total(),
                deleted: 0,
                superseded: 0,
            }
        };
        groups.push(vec![Unit {
            expect: Expect {
                label: format!("{}/{table}", s.name),
                tally,
            },
            table,
            parts,
            mode,
            metadata: metadata.clone(),
            cursor: None,
            slot: Slot::Table(Box::new(counts)),
        }]);
    }
    totals.field_rejects = stats.field_rejects;
    totals.warnings = stats.warnings;
    entry.submissions.clone_from(&submissions);
    Ok(StagedSource {
        entry,
        groups,
        checks,
        totals,
        delivered: !submissions.is_empty(),
        degraded,
    })
}

/// Writes synthetic returns into an empty folder when the source asks for them (demo builds;
/// the pipeline check refuses `synthetic` in a production build). Returns whether it did.
#[cfg(feature = "demo")]
fn generate(s: &Sen2Plan) -> Result<bool, SourceFailed> {
    let Some(syn) = &s.synthetic else {
        return Ok(false);
    };
    let has_files = discover_files(&s.path, &s.pattern).is_ok_and(|f| !f.is_empty());
    if has_files {
        return Ok(false);
    }
    let cfg = sendlake_sim::Sen2SimConfig {
        las: syn.las,
        persons_per_la: syn.persons_per_la,
        seed: syn.seed,
        census_year: syn.census_year,
        ..sendlake_sim::Sen2SimConfig::default()
    };
    info!(source = %s.name, folder = %s.path.display(), las = syn.las, persons_per_la = syn.persons_per_la, "Generating synthetic SEN2 returns.");
    sendlake_sim::write_sen2_returns(&cfg, &s.path)
        .map_err(|e| SourceFailed::environment(format!("generating synthetic returns: {e}")))?;
    Ok(true)
}

#[cfg(not(feature = "demo"))]
fn generate(s: &Sen2Plan) -> Result<bool, SourceFailed> {
    match &s.synthetic {
        None => Ok(false),
        Some(_) => Err(SourceFailed::configuration(crate::config::NO_DEMO)),
    }
}

/// Reads and hashes at once, so a file is read once and the manifest can prove what was read.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    progress: Arc<dyn Progress>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

fn file_reason(kind: Sen2FileErrorKind) -> &'static str {
    match kind {
        Sen2FileErrorKind::Io => "FILE_IO",
        Sen2FileErrorKind::NotXml => "FILE_NOT_XML",
        Sen2FileErrorKind::Encoding => "FILE_ENCODING",
        Sen2FileErrorKind::Malformed => "FILE_MALFORMED",
        Sen2FileErrorKind::Truncated => "FILE_TRUNCATED",
        Sen2FileErrorKind::WrongRoot => "FILE_WRONG_ROOT",
        Sen2FileErrorKind::TooLarge => "FILE_TOO_LARGE",
    }
}

/// Staged parts of a source, per table.
#[derive(Default)]
struct Staged {
    parts: BTreeMap<String, Vec<StagedPart>>,
}

/// Writers for one file: dropped (aborted) if the file turns out bad.
struct FileWriters<'a> {
    staging: &'a StagingArea,
    registry: &'a SchemaRegistry,
    writers: HashMap<String, StagedTableWriter>,
}

impl FileWriters<'_> {
    fn write(&mut self, table: &str, batch: &RecordBatch) -> Result<(), String> {
        if !self.writers.contains_key(table) {
            let schema = self
                .registry
                .table(table)
                .ok_or_else(|| format!("unknown table {table}"))?
                .arrow_schema();
            let w = self
                .staging
                .table_writer(table, schema)
                .map_err(|e| e.to_string())?;
            self.writers.insert(table.to_owned(), w);
        }
        match self.writers.get_mut(table) {
            Some(w) => w.write(batch).map_err(|e| e.to_string()),
            None => Err(format!("no writer for {table}")),
        }
    }

    fn finish(self, staged: &mut Staged) -> Result<(), String> {
        for (table, w) in self.writers {
            let part = w.finish().map_err(|e| e.to_string())?;
            staged.parts.entry(table).or_default().push(part);
        }
        Ok(())
    }

    fn abort(self) {
        for (_, w) in self.writers {
            if let Err(e) = w.abort() {
                warn!(error = %e, "Could not remove a staged part of a quarantined file.");
            }
        }
    }
}

/// Loads the files of one source. Files of different submissions run in parallel, one worker
/// per core; files of the same submission run in order on one worker, so a person repeated in a
/// later file of the same submission is still found. Results come back in file order.
fn load_files<'a>(
    files: &'a [std::path::PathBuf],
    names: &'a [String],
    staged: &mut Staged,
    la_codes: &CodeList,
    make: impl Fn(&'a Path, &'a str) -> FileRun<'a> + Sync,
) -> Vec<FileEntry> {
    use std::sync::{Mutex, PoisonError};
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let key = submission_hint(f, la_codes);
        match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, g)) => g.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(groups.len())
        .max(1);
    let queue = Mutex::new(groups.into_iter().map(|(_, g)| g));
    let results: Mutex<Vec<(usize, FileEntry)>> = Mutex::new(Vec::with_capacity(files.len()));
    let merged = Mutex::new(std::mem::take(staged));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut local = Staged::default();
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some(group) = next else { break };
                    let mut seen = HashMap::new();
                    for i in group {
                        let run = make(&files[i], &names[i]);
                        let size = std::fs::metadata(&files[i]).map(|m| m.len()).unwrap_or(0);
                        run.progress.file_started(&names[i], size);
                        let entry = run.run(&mut seen, &mut local);
                        run.progress.file_finished();
                        results
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((i, entry));
                    }
                }
                let mut all = merged.lock().unwrap_or_else(PoisonError::into_inner);
                for (table, parts) in local.parts {
                    all.parts.entry(table).or_default().extend(parts);
                }
            });
        }
    });
    *staged = merged.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, e)| e).collect()
}

/// The submission a file's header names, read with the same [`read_header`] the load uses
/// (it stops at the header, so this costs one small read per file). Used for grouping only.
fn submission_hint(path: &Path, la_codes: &CodeList) -> Option<String> {
    for item in Sen2Reader::open(path).ok()? {
        match item {
            Ok(Sen2Item::Header(h)) => {
                return read_header(&h, la_codes).ok().map(|h| h.submission_id());
            }
            Ok(Sen2Item::Skipped { .. }) => {}
            Ok(Sen2Item::Person(_)) | Err(_) => return None,
        }
    }
    None
}

/// Everything needed to load one file.
struct FileRun<'a> {
    source: &'a str,
    file_name: &'a str,
    path: &'a Path,
    run_id: &'a str,
    started: DateTime<Utc>,
    conformer: &'a Sen2Conformer,
    staging: &'a StagingArea,
    registry: &'a SchemaRegistry,
    progress: Arc<dyn Progress>,
}

impl FileRun<'_> {
    fn run(&self, seen: &mut HashMap<String, HashSet<String>>, staged: &mut Staged) -> FileEntry {
        let mut entry = FileEntry {
            file: self.file_name.to_owned(),
            bytes: 0,
            sha256: String::new(),
            status: FileStatus::Quarantined,
            submission_id: None,
            error: None,
            persons_read: 0,
            stats: FileStats::default(),
        };
        let file = match std::fs::File::open(self.path) {
            Ok(f) => f,
            Err(e) => {
                entry.error = Some(FileError {
                    reason: "FILE_IO".into(),
                    message: format!("cannot open: {e}"),
                    line: None,
                    column: None,
                });
                return entry;
            }
        };
        let mut hashing = HashingReader {
            inner: file,
            hasher: Sha256::new(),
            bytes: 0,
            progress: self.progress.clone(),
        };
        let result = self.load(
            BufReader::with_capacity(256 * 1024, &mut hashing),
            seen,
            staged,
            &mut entry,
        );
        // Drain what the parser did not read (after an error) so the hash covers the file.
        let _ = std::io::copy(&mut hashing, &mut std::io::sink());
        entry.bytes = hashing.bytes;
        entry.sha256 = hex::encode(hashing.hasher.finalize());
        match result {
            Ok(()) => entry.status = FileStatus::Loaded,
            Err(err) => {
                entry.stats = FileStats::default();
                entry.error = Some(err);
            }
        }
        entry
    }

    fn load<R: std::io::BufRead>(
        &self,
        reader: R,
        seen: &mut HashMap<String, HashSet<String>>,
        staged: &mut Staged,
        entry: &mut FileEntry,
    ) -> Result<(), FileError> {
        let mut writers = FileWriters {
            staging: self.staging,
            registry: self.registry,
            writers: HashMap::new(),
        };
        let result = self.load_into(reader, seen, &mut writers, entry);
        match result {
            Ok(keys) => {
                writers.finish(staged).map_err(|e| FileError {
                    reason: "FILE_IO".into(),
                    message: format!("staging: {e}"),
                    line: None,
                    column: None,
                })?;
                if let (Some(sub), Some(keys)) = (&entry.submission_id, keys) {
                    seen.entry(sub.clone()).or_default().extend(keys);
                }
                Ok(())
            }
            Err(e) => {
                writers.abort();
                Err(e)
            }
        }
    }

    fn load_into<R: std::io::BufRead>(
        &self,
        reader: R,
        seen: &HashMap<String, HashSet<String>>,
        writers: &mut FileWriters<'_>,
        entry: &mut FileEntry,
    ) -> Result<Option<HashSet<String>>, FileError> {
        let from_reader = |e: Sen2FileError| FileError {
            reason: file_reason(e.kind).into(),
            message: e.to_string(),
            line: e.pos.map(|p| p.line),
            column: e.pos.map(|p| p.column),
        };
        let staging_err = |e: String| FileError {
            reason: "FILE_IO".into(),
            message: format!("staging: {e}"),
            line: None,
            column: None,
        };
        let la_codes = self
            .registry
            .code_list("la_code")
            .ok_or_else(|| staging_err("schema has no la_code list".into()))?;
        let mut conformer = None;
        let empty = HashSet::new();
        let mut seen_for_file: &HashSet<String> = &empty;
        for item in Sen2Reader::new(reader) {
            match item.map_err(from_reader)? {
                Sen2Item::Header(h) => {
                    if conformer.is_some() {
                        return Err(FileError {
                            reason: "HEADER_INVALID".into(),
                            message: format!(
                                "line {}, column {}: a second Header",
                                h.pos.line, h.pos.column
                            ),
                            line: Some(h.pos.line),
                            column: Some(h.pos.column),
                        });
                    }
                    let header = read_header(&h, la_codes).map_err(|m| FileError {
                        reason: "HEADER_INVALID".into(),
                        message: format!("line {}, column {}: {m}", h.pos.line, h.pos.column),
                        line: Some(h.pos.line),
                        column: Some(h.pos.column),
                    })?;
                    let sub = header.submission_id();
                    entry.submission_id = Some(sub.clone());
                    seen_for_file = seen.get(&sub).unwrap_or(&empty);
                    let ctx = SubmissionContext {
                        source: self.source.to_owned(),
                        header,
                        source_file: self.file_name.to_owned(),
                        run_id: self.run_id.to_owned(),
                        loaded_at: self.started,
                    };
                    conformer = Some(
                        self.conformer
                            .start_file(ctx)
                            .map_err(|e| staging_err(e.to_string()))?,
                    );
                }
                Sen2Item::Person(p) => {
                    entry.persons_read += 1;
                    let Some(c) = conformer.as_mut() else {
                        return Err(FileError {
                            reason: "HEADER_INVALID".into(),
                            message: format!(
                                "line {}, column {}: Person before any Header",
                                p.element.pos.line, p.element.pos.column
                            ),
                            line: Some(p.element.pos.line),
                            column: Some(p.element.pos.column),
                        });
                    };
                    c.person(&p, seen_for_file)
                        .map_err(|e| staging_err(e.to_string()))?;
                    for (table, batch) in c.take_ready() {
                        writers.write(&table, &batch).map_err(staging_err)?;
                    }
                }
                Sen2Item::Skipped { path, pos, reason } => {
                    warn!(file = %self.file_name, path = %path, line = pos.line, column = pos.column, reason = %reason, "Unexpected element skipped.");
                    *entry
                        .stats
                        .warnings
                        .entry("UNKNOWN_ELEMENT".into())
                        .or_default() += 1;
                }
            }
        }
        let Some(c) = conformer else {
            return Err(FileError {
                reason: "HEADER_INVALID".into(),
                message: "the file has no Header".into(),
                line: None,
                column: None,
            });
        };
        let outcome = c.finish().map_err(|e| staging_err(e.to_string()))?;
        for (table, batch) in &outcome.batches {
            writers.write(table, batch).map_err(staging_err)?;
        }
        let skipped_warnings = std::mem::take(&mut entry.stats.warnings);
        entry.stats = outcome.stats;
        for (k, v) in skipped_warnings {
            *entry.stats.warnings.entry(k).or_default() += v;
        }
        Ok(Some(outcome.person_keys))
    }
}
