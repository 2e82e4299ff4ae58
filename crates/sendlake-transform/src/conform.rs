//! Conforming SEN2 person subtrees to the shared SEND schema.
//!
//! The walk is generic: the table definitions say which element makes a row of which table and
//! where each column's value comes from. What is SEN2-specific lives in two places only: the
//! person key (which identifier, and its check algorithm) and [`element_rules`], the cross-field
//! rules of reference §1.6 keyed by element name.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sendlake_extract::{Position, RawElement, RawPerson};
use sendlake_schema::{
    CodeList, ColumnDef, ColumnType, Derive, RuleScope, SchemaRegistry, Severity, TableDef,
};

use crate::identifiers::{UlnError, UpnError, UpnKind, check_uln, check_upn, postcode_district};
use crate::privacy::{PseudonymisationKey, digest_hex, normalise_text};
use crate::quarantine::{QuarantineRows, Reject, RejectLevel};
use crate::rows::{Cell, TableRows};
use crate::stats::{FileStats, TableStats};
use crate::{ConformError, RULE_IDS};

/// What the header of a return says about the submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Three-digit LA code (`Header/Source/LEA`).
    pub la_code: String,
    /// Collection (census) year.
    pub collection_year: i32,
    /// Census reference date: `ReferenceDate`, else the third Thursday of January.
    pub census_date: NaiveDate,
}

impl HeaderInfo {
    /// The submission id, `<LA>-<year>`.
    pub fn submission_id(&self) -> String {
        format!("{}-{}", self.la_code, self.collection_year)
    }
}

/// The third Thursday of January: SEN2 census day.
pub fn census_day(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 1, chrono::Weekday::Thu, 3)
}

/// Reads the submission out of a `Header` element.
///
/// # Errors
/// A message (no personal data) when the LEA or the collection year cannot be determined.
pub fn read_header(header: &RawElement, la_codes: &CodeList) -> Result<HeaderInfo, String> {
    let source = header
        .child("Source")
        .ok_or("Header has no Source element")?;
    let lea = source.value("LEA").ok_or("Header/Source/LEA is missing")?;
    if lea.len() != 3 || !lea.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Header/Source/LEA is not a three-digit LA code".into());
    }
    if !la_codes.contains(lea) {
        return Err("Header/Source/LEA is not a recognised LA code".into());
    }
    let details = header.child("CollectionDetails");
    let reference = details
        .and_then(|d| d.value("ReferenceDate"))
        .and_then(parse_date);
    let year = details
        .and_then(|d| d.value("Year"))
        .and_then(|y| y.parse::<i32>().ok())
        .filter(|y| (2000..=2100).contains(y))
        .or_else(|| reference.map(|d| d.year()))
        .ok_or("Header/CollectionDetails has no valid Year or ReferenceDate")?;
    let census_date = reference
        .or_else(|| census_day(year))
        .ok_or("no census date")?;
    Ok(HeaderInfo {
        la_code: lea.to_owned(),
        collection_year: year,
        census_date,
    })
}

/// Everything about the file being conformed that lineage columns and rules need.
#[derive(Debug, Clone)]
pub struct SubmissionContext {
    /// Pipeline source name.
    pub source: String,
    /// The header.
    pub header: HeaderInfo,
    /// Input file name (no folder).
    pub source_file: String,
    /// Run id.
    pub run_id: String,
    /// Run start time.
    pub loaded_at: DateTime<Utc>,
}

/// Parses an `xs:date` (`YYYY-MM-DD`, optionally with a time-zone suffix).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let (date, rest) = if s.len() >= 10 && s.is_char_boundary(10) {
        s.split_at(10)
    } else {
        return None;
    };
    let zone_ok = rest.is_empty()
        || rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':');
    if !zone_ok || date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    // Hand-rolled: chrono's format parser re-reads the pattern on every call, and every record
    // has several dates.
    let b = date.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

/// Parses an `xs:boolean` as LA systems write it: true/false/1/0 in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s == "1" || s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s == "0" || s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((d - epoch).num_days()).unwrap_or(i32::MIN)
}

fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// One problem found in an element.
#[derive(Debug, Clone)]
struct Problem {
    reason: &'static str,
    field: Option<String>,
    raw: Option<String>,
    pos: Position,
    path: String,
    message: String,
}

impl Problem {
    fn on_element(reason: &'static str, el: &RawElement, message: impl Into<String>) -> Self {
        Self {
            reason,
            field: None,
            raw: None,
            pos: el.pos,
            path: el.path.clone(),
            message: message.into(),
        }
    }

    fn on_field(
        reason: &'static str,
        el: &RawElement,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        let raw = el.field(field);
        Self {
            reason,
            field: Some(field.to_owned()),
            raw: raw.and_then(|f| f.value.clone()),
            pos: raw.map_or(el.pos, |f| f.pos),
            path: el.field_path(field),
            message: message.into(),
        }
    }
}

/// A table in the SEN2 element tree.
#[derive(Debug)]
struct Node {
    table: TableDef,
    element: String,
    max_per_parent: Option<usize>,
    children: Vec<usize>,
    /// Every leaf the table reads or consumes, numbered, so that one pass over an element's
    /// leaves finds them all (instead of a search by name for every column).
    leaves: FxHashMap<Box<str>, usize>,
    /// Each column's leaf number (`None` for a column with no `field`).
    column_leaves: Vec<Option<usize>>,
    /// Distinct column fields in column order, with their leaf numbers: each may appear once.
    single_fields: Vec<(String, usize)>,
    /// A handful of names at most, so a list beats a hash.
    known_children: Vec<String>,
    /// Fields of primary-key columns: siblings must differ on them (placement rank, need rank).
    sibling_key_fields: Vec<String>,
    /// Each column's code list, resolved once here rather than looked up for every value.
    code_lists: Vec<Option<Codes>>,
}

impl Node {
    /// Where each known leaf of `el` first appears and how often, and how many leaves are
    /// unknown. `out` is indexed by leaf number: (index in `el.fields`, count).
    fn scan_leaves(&self, el: &RawElement, out: &mut Vec<(u32, u32)>) -> usize {
        out.clear();
        out.resize(self.leaves.len(), (u32::MAX, 0));
        let mut unknown = 0;
        for (i, f) in el.fields.iter().enumerate() {
            match self.leaves.get(f.name.as_str()) {
                Some(&slot) => {
                    let entry = &mut out[slot];
                    if entry.1 == 0 {
                        entry.0 = u32::try_from(i).unwrap_or(u32::MAX);
                    }
                    entry.1 = entry.1.saturating_add(1);
                }
                None => unknown += 1,
            }
        }
        unknown
    }
}

/// The leaves of one element, located by [`Node::scan_leaves`].
#[derive(Clone, Copy)]
struct Leaves<'a> {
    el: &'a RawElement,
    node: &'a Node,
    found: &'a [(u32, u32)],
}

impl<'a> Leaves<'a> {
    /// The value of leaf number `slot`, as [`RawElement::value`] would give it.
    fn slot_value(&self, slot: usize) -> Option<&'a str> {
        let (first, count) = *self.found.get(slot)?;
        if count == 0 {
            return None;
        }
        self.el.fields.get(first as usize)?.value.as_deref()
    }

    /// [`RawElement::value`], by leaf number when the node knows the name.
    fn value(&self, name: &str) -> Option<&'a str> {
        match self.node.leaves.get(name) {
            Some(&slot) => self.slot_value(slot),
            None => self.el.value(name),
        }
    }
}

/// A code list with a fast index: the schema's own index hashes with SipHash, and most values
/// of a record are looked up in one.
#[derive(Debug)]
struct Codes {
    list: CodeList,
    index: FxHashMap<Box<str>, usize>,
}

impl Codes {
    fn new(list: CodeList) -> Self {
        let index = list
            .codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.as_str().into(), i))
            .collect();
        Self { list, index }
    }

    fn contains(&self, code: &str) -> bool {
        self.index.contains_key(code)
    }

    /// [`CodeList::main_group`].
    fn main_group(&self, code: &str) -> Option<&str> {
        let c = self.list.codes.get(*self.index.get(code)?)?;
        Some(c.main_group.as_deref().unwrap_or(c.code.as_str()))
    }
}

/// Conforms SEN2 returns: built once per run from the schema and the key.
pub struct Sen2Conformer {
    registry: Arc<SchemaRegistry>,
    key: Arc<PseudonymisationKey>,
    nodes: Vec<Node>,
    root: usize,
    severities: BTreeMap<String, Severity>,
    batch_rows: usize,
    /// Valid LA codes (UPN characters 2-4).
    la_codes: Codes,
}

impl std::fmt::Debug for Sen2Conformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sen2Conformer")
            .field("tables", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

const QUARANTINE_TABLE: &str = "quarantine/sen2_rejects";

/// `Person` leaves the person key can be made from (identifiers and the fallback's parts).
const PERSON_KEY_FIELDS: &[&str] = &[
    "UPN",
    "UniqueLearnerNumber",
    "Forename",
    "Surname",
    "PersonBirthDate",
    "PostCode",
];

impl Sen2Conformer {
    /// Builds the conformer from every table with a `[sen2]` mapping.
    ///
    /// # Errors
    /// If `schemas/rules.toml` and the implemented rules disagree, the element tree is not a
    /// tree with one `Person` root, or a derivation is used where it cannot work.
    pub fn new(
        registry: Arc<SchemaRegistry>,
        key: Arc<PseudonymisationKey>,
        batch_rows: usize,
    ) -> Result<Self, ConformError> {
        let declared: HashSet<&str> = registry
            .rules()
            .iter()
            .filter(|r| r.applies_to == RuleScope::Sen2)
            .map(|r| r.id.as_str())
            .collect();
        let implemented: HashSet<&str> = RULE_IDS.iter().copied().collect();
        if let Some(missing) = implemented.difference(&declared).next() {
            return Err(ConformError::Schema(format!(
                "rules.toml does not declare rule `{missing}`, which the code implements"
            )));
        }
        if let Some(extra) = declared.difference(&implemented).next() {
            return Err(ConformError::Schema(format!(
                "rules.toml declares rule `{extra}`, which no code implements"
            )));
        }
        let severities = registry
            .rules()
            .iter()
            .map(|r| (r.id.clone(), r.severity))
            .collect();
        if registry.table(QUARANTINE_TABLE).is_none() {
            return Err(ConformError::Schema(format!(
                "table `{QUARANTINE_TABLE}` is missing"
            )));
        }
        let mut nodes: Vec<Node> = Vec::new();
        for table in registry.tables() {
            let Some(map) = &table.sen2 else { continue };
            let mut leaves: FxHashMap<Box<str>, usize> = FxHashMap::default();
            let names = map
                .consumes
                .iter()
                .chain(table.columns.iter().filter_map(|c| c.field.as_ref()));
            for name in names {
                let next = leaves.len();
                leaves.entry(name.as_str().into()).or_insert(next);
            }
            let column_leaves = table
                .columns
                .iter()
                .map(|c| c.field.as_deref().and_then(|f| leaves.get(f).copied()))
                .collect();
            let mut single_fields: Vec<(String, usize)> = Vec::new();
            for col in &table.columns {
                if let Some(f) = &col.field
                    && !single_fields.iter().any(|(g, _)| g == f)
                    && let Some(&slot) = leaves.get(f.as_str())
                {
                    single_fields.push((f.clone(), slot));
                }
            }
            let sibling_key_fields = table
                .primary_key
                .iter()
                .filter_map(|pk| table.column(pk).and_then(|c| c.field.clone()))
                .collect();
            let code_lists = table
                .columns
                .iter()
                .map(|c| {
                    c.code_list
                        .as_deref()
                        .and_then(|l| registry.code_list(l))
                        .cloned()
                        .map(Codes::new)
                })
                .collect();
            nodes.push(Node {
                code_lists,
                table: table.clone(),
                element: map.element.clone(),
                max_per_parent: map.max_per_parent,
                children: Vec::new(),
                leaves,
                column_leaves,
                single_fields,
                known_children: Vec::new(),
                sibling_key_fields,
            });
        }
        let mut root = None;
        for i in 0..nodes.len() {
            let parent = registry
                .table(&nodes[i].table.name)
                .and_then(|t| t.sen2.as_ref())
                .and_then(|m| m.parent.clone());
            match parent {
                None if root.is_none() => root = Some(i),
                None => {
                    return Err(ConformError::Schema(
                        "two SEN2 tables have no parent element".into(),
                    ));
                }
                Some(p) => {
                    let Some(pi) = nodes.iter().position(|n| n.element == p) else {
                        // An intermediate element with no table of its own is not supported: each
                        // level of the hierarchy is a table, as in the DfE module split.
                        return Err(ConformError::Schema(format!(
                            "table `{}` has parent element `{p}`, which no table maps",
                            nodes[i].table.name
                        )));
                    };
                    let child_element = nodes[i].element.clone();
                    nodes[pi].children.push(i);
                    if !nodes[pi].known_children.contains(&child_element) {
                        nodes[pi].known_children.push(child_element);
                    }
                }
            }
        }
        let root = root
            .ok_or_else(|| ConformError::Schema("no SEN2 table maps the Person element".into()))?;
        if nodes[root].element != "Person" {
            return Err(ConformError::Schema(
                "the root SEN2 table must map the Person element".into(),
            ));
        }
        let la_codes = registry
            .code_list("la_code")
            .cloned()
            .map(Codes::new)
            .ok_or_else(|| ConformError::Schema("code list `la_code` is missing".into()))?;
        Ok(Self {
            registry,
            key,
            nodes,
            root,
            severities,
            batch_rows,
            la_codes,
        })
    }

    /// The registry the conformer was built from.
    pub fn registry(&self) -> &Arc<SchemaRegistry> {
        &self.registry
    }

    /// Names of the tables this conformer fills, parents before children.
    pub fn table_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self.root];
        while let Some(i) = stack.pop() {
            out.push(self.nodes[i].table.name.clone());
            stack.extend(self.nodes[i].children.iter().rev());
        }
        out
    }

    /// Starts conforming one file.
    pub fn start_file(&self, ctx: SubmissionContext) -> Result<FileConformer<'_>, ConformError> {
        let quarantine_table = self.registry.table(QUARANTINE_TABLE).ok_or_else(|| {
            ConformError::Schema(format!("table `{QUARANTINE_TABLE}` is missing"))
        })?;
        let quarantine = QuarantineRows::new(
            quarantine_table,
            &ctx.source,
            &ctx.run_id,
            ctx.loaded_at,
            self.batch_rows,
        )?;
        Ok(FileConformer {
            c: self,
            rows: self
                .nodes
                .iter()
                .map(|n| TableRows::new(&n.table, self.batch_rows))
                .collect(),
            quarantine,
            stats: FileStats::default(),
            table_stats: vec![TableStats::default(); self.nodes.len()],
            new_keys: HashSet::new(),
            ready: Vec::new(),
            lineage: Lineage {
                source: Arc::from(ctx.source.as_str()),
                submission_id: Arc::from(ctx.header.submission_id()),
                la_code: Arc::from(ctx.header.la_code.as_str()),
                source_file: Arc::from(ctx.source_file.as_str()),
                run_id: Arc::from(ctx.run_id.as_str()),
                loaded_at_us: ctx.loaded_at.timestamp_micros(),
            },
            scratch: Vec::new(),
            ctx,
        })
    }

    fn severity(&self, rule: &str) -> Severity {
        self.severities
            .get(rule)
            .copied()
            .unwrap_or(Severity::Record)
    }
}

/// What the problems of one record come to, once each has its severity.
#[derive(Default)]
struct Verdicts {
    /// Problems that reject the record (and, by cascade, the records under it).
    record: Vec<Problem>,
    /// Values nulled: each goes to the quarantine with its raw value and is counted.
    field: Vec<Problem>,
    /// Rules that only warn: counted in the manifest.
    warnings: Vec<&'static str>,
}

impl Verdicts {
    /// Applies `severity` to `p`. A `Field` problem nulls every column that carries the
    /// field's value; when one of them may not be null (a key, a rank, a mandatory value the
    /// shared schema declares non-nullable), or the problem names no field, there is nothing
    /// to null and the record is rejected instead.
    fn route(&mut self, node: &Node, values: &mut [Cell<'_>], p: Problem, severity: Severity) {
        let same = |q: &Problem| q.reason == p.reason && q.field == p.field;
        match severity {
            Severity::Field => {
                let Some(field) = p.field.as_deref() else {
                    self.record.push(p);
                    return;
                };
                let carriers = || {
                    node.table
                        .columns
                        .iter()
                        .enumerate()
                        .filter(|(_, col)| carries_value(col, field))
                };
                if carriers().any(|(_, col)| !col.nullable) {
                    if !self.record.iter().any(same) {
                        self.record.push(p);
                    }
                    return;
                }
                for (i, _) in carriers() {
                    if let Some(v) = values.get_mut(i) {
                        *v = Cell::Null;
                    }
                }
                if !self.field.iter().any(same) {
                    self.field.push(p);
                }
            }
            Severity::Record | Severity::File => {
                if !self.record.iter().any(same) {
                    self.record.push(p);
                }
            }
            Severity::Warn => self.warnings.push(p.reason),
        }
    }
}

/// Whether `col` holds `field`'s value (or a value derived from it), so that nulling the
/// field nulls the column. Flags that only say whether a field was given or valid
/// (`present`, `valid_present`) keep saying so.
fn carries_value(col: &ColumnDef, field: &str) -> bool {
    col.field.as_deref() == Some(field)
        && !matches!(col.derive, Some(Derive::Present | Derive::ValidPresent))
}

/// Every value of a repeated element as a JSON array, for the secure quarantine only.
fn all_values_json(el: &RawElement, name: &str) -> Option<String> {
    let all: Vec<serde_json::Value> = el
        .fields
        .iter()
        .filter(|f| f.name.as_str() == name)
        .map(|f| {
            f.value
                .clone()
                .map_or(serde_json::Value::Null, serde_json::Value::String)
        })
        .collect();
    Some(serde_json::Value::Array(all).to_string())
}

/// Lineage values shared by every row of a file (built once, cloned without allocating).
#[derive(Debug)]
struct Lineage {
    source: Arc<str>,
    submission_id: Arc<str>,
    la_code: Arc<str>,
    source_file: Arc<str>,
    run_id: Arc<str>,
    loaded_at_us: i64,
}

/// Per-person context handed down the tree; it borrows from the person's tree.
#[derive(Debug, Clone, Default)]
struct Ctx<'a> {
    person_position: u64,
    person_key: Arc<str>,
    key_basis: &'static str,
    upn_valid: bool,
    uln_valid: bool,
    request_key: Arc<str>,
    request_seq: i32,
    request_outcome: Option<&'a str>,
    request_outcome_date: Option<NaiveDate>,
    plan_cease_date: Option<NaiveDate>,
    assessment_outcome: Option<&'a str>,
}

impl Ctx<'_> {
    /// Forgets a value of the record being processed that was nulled.
    fn forget(&mut self, field: Option<&str>) {
        match field {
            Some("RequestOutcome") => self.request_outcome = None,
            Some("RequestOutcomeDate") => self.request_outcome_date = None,
            Some("AssessmentOutcome") => self.assessment_outcome = None,
            _ => {}
        }
    }
}

/// Conforms the persons of one file; rows are only staged by the caller, so a file that turns
/// out to be bad can still be dropped whole.
pub struct FileConformer<'a> {
    c: &'a Sen2Conformer,
    ctx: SubmissionContext,
    rows: Vec<TableRows>,
    quarantine: QuarantineRows,
    /// Warnings and field rejects; table counts live in `table_stats` until `finish`.
    stats: FileStats,
    /// Counts per table, by node index: updated for every record, so no name lookups.
    table_stats: Vec<TableStats>,
    new_keys: HashSet<String>,
    ready: Vec<(String, RecordBatch)>,
    lineage: Lineage,
    /// Buffers for [`Node::scan_leaves`], one per tree level, reused across records.
    scratch: Vec<Vec<(u32, u32)>>,
}

impl std::fmt::Debug for FileConformer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileConformer")
            .field("file", &self.ctx.source_file)
            .finish_non_exhaustive()
    }
}

/// What conforming a file produced, once it is finished.
#[derive(Debug)]
pub struct FileOutcome {
    /// Remaining batches, by table name (quarantine included).
    pub batches: Vec<(String, RecordBatch)>,
    /// Counts.
    pub stats: FileStats,
    /// Person keys loaded from this file (for duplicate detection in later files of the same
    /// submission).
    pub person_keys: HashSet<String>,
}

impl FileConformer<'_> {
    /// Batches that are full and ready to stage, by table name.
    pub fn take_ready(&mut self) -> Vec<(String, RecordBatch)> {
        std::mem::take(&mut self.ready)
    }

    /// Conforms one person. `seen` holds the person keys of earlier files of the same
    /// submission.
    ///
    /// # Errors
    /// Only on internal errors (a row that does not fit its schema); bad data never errors.
    pub fn person(&mut self, person: &RawPerson, seen: &HashSet<String>) -> Result<(), ArrowError> {
        let el = &person.element;
        let root = self.c.root;
        let mut ctx = Ctx {
            person_position: person.index,
            ..Ctx::default()
        };
        let mut record_problems = Vec::new();
        let mut field_problems = Vec::new();

        // Identifiers: validated before the columns because the key depends on them.
        let la_ok = |la: &str| self.c.la_codes.contains(la);
        let mut upn = None;
        if let Some(value) = el.value("UPN") {
            match check_upn(value, la_ok) {
                Ok(kind) => upn = Some((kind, value.to_owned())),
                Err(e) => {
                    let (reason, msg) = match e {
                        UpnError::Format => (
                            "UPN_FORMAT",
                            "UPN is not 13 characters of the permanent or temporary form",
                        ),
                        UpnError::CheckLetter => (
                            "UPN_CHECK_LETTER",
                            "UPN check letter does not match characters 2-13",
                        ),
                        UpnError::LaRange => (
                            "UPN_LA_RANGE",
                            "UPN characters 2-4 are not a recognised LA code",
                        ),
                    };
                    field_problems.push(Problem::on_field(reason, el, "UPN", msg));
                }
            }
        }
        let mut uln = None;
        if let Some(value) = el.value("UniqueLearnerNumber") {
            match check_uln(value) {
                Ok(()) => uln = Some(value.to_owned()),
                Err(UlnError::Format) => field_problems.push(Problem::on_field(
                    "ULN_FORMAT",
                    el,
                    "UniqueLearnerNumber",
                    "ULN is not 10 digits with a non-zero first digit",
                )),
                Err(UlnError::CheckDigit) => field_problems.push(Problem::on_field(
                    "ULN_CHECK_DIGIT",
                    el,
                    "UniqueLearnerNumber",
                    "ULN check digit is wrong",
                )),
            }
        }
        ctx.upn_valid = upn.is_some();
        ctx.uln_valid = uln.is_some();
        let birth = el.value("PersonBirthDate").and_then(parse_date);
        let key = match (&upn, &uln) {
            (Some((UpnKind::Permanent, u)), _) => Some(("upn", self.c.key.pseudonym("upn", u))),
            (_, Some(u)) => Some(("uln", self.c.key.pseudonym("uln", u))),
            (Some((UpnKind::Temporary, u)), None) => {
                Some(("upn_temporary", self.c.key.pseudonym("upn", u)))
            }
            (None, None) => {
                // Documented fallback (docs/privacy.md): all four parts must be present.
                match (
                    el.value("Forename"),
                    el.value("Surname"),
                    birth,
                    el.value("PostCode"),
                ) {
                    (Some(f), Some(s), Some(b), Some(p)) => {
                        let postcode: String = p
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .collect::<String>()
                            .to_uppercase();
                        let material = format!(
                            "{}\x1f{}\x1f{}\x1f{}",
                            normalise_text(f),
                            normalise_text(s),
                            b.format("%Y-%m-%d"),
                            postcode
                        );
                        Some(("fallback", self.c.key.pseudonym("fallback", &material)))
                    }
                    _ => None,
                }
            }
        };
        match key {
            Some((basis, k)) => {
                if seen.contains(&k) || self.new_keys.contains(&k) {
                    record_problems.push(Problem::on_element("DUPLICATE_PERSON", el, "the same person already appeared in this submission; the first occurrence is loaded"));
                }
                ctx.key_basis = basis;
                ctx.person_key = Arc::from(k);
            }
            None => record_problems.push(Problem::on_element(
                "NO_IDENTIFIER",
                el,
                "no valid UPN or ULN, and forename, surname, birth date or postcode missing for the fallback key",
            )),
        }
        if let Some(b) = birth {
            let age = age_on(b, self.ctx.header.census_date);
            if age > 25 {
                // Routed by the rule's severity: the child is identified without the birth
                // date (unless by the fallback key, which was made above).
                field_problems.push(Problem::on_field(
                    "AGE_OUT_OF_RANGE",
                    el,
                    "PersonBirthDate",
                    format!("age on census day is {age}, over 25"),
                ));
            }
        }
        let accepted = self.process(root, el, &ctx, record_problems, field_problems)?;
        if accepted {
            self.new_keys.insert(ctx.person_key.to_string());
        }
        Ok(())
    }

    /// Finishes the file.
    ///
    /// # Errors
    /// Only on internal errors.
    pub fn finish(mut self) -> Result<FileOutcome, ArrowError> {
        let mut batches = std::mem::take(&mut self.ready);
        for (node, rows) in self.c.nodes.iter().zip(self.rows.iter_mut()) {
            if let Some(b) = rows.take_batch()? {
                batches.push((node.table.name.clone(), b));
            }
        }
        if let Some(b) = self.quarantine.take_batch()? {
            batches.push((QUARANTINE_TABLE.to_owned(), b));
        }
        // Tables this file never reached stay absent, as before.
        for (node, counts) in self.c.nodes.iter().zip(self.table_stats) {
            if counts.read > 0 {
                self.stats.tables.insert(node.table.name.clone(), counts);
            }
        }
        Ok(FileOutcome {
            batches,
            stats: self.stats,
            person_keys: self.new_keys,
        })
    }

    fn process(
        &mut self,
        node_idx: usize,
        el: &RawElement,
        ctx: &Ctx<'_>,
        record_problems: Vec<Problem>,
        pre_problems: Vec<Problem>,
    ) -> Result<bool, ArrowError> {
        let c = self.c;
        let node = &c.nodes[node_idx];
        self.table_stats[node_idx].read += 1;

        let mut found = self.scratch.pop().unwrap_or_default();
        let unknown_leaves = node.scan_leaves(el, &mut found);
        let leaves = Leaves {
            el,
            node,
            found: &found,
        };

        let file = FileRefs {
            ctx: &self.ctx,
            lineage: &self.lineage,
        };
        let mut values: Vec<Cell<'_>> = Vec::with_capacity(node.table.columns.len());
        let mut verdicts = Verdicts {
            record: record_problems,
            ..Verdicts::default()
        };
        let columns = node
            .table
            .columns
            .iter()
            .zip(&node.code_lists)
            .zip(&node.column_leaves);
        let mut column_problems = Vec::new();
        for ((col, list), &slot) in columns {
            match column_value(file, col, list.as_ref(), leaves, slot, ctx) {
                Ok(v) => values.push(v),
                Err(p) => {
                    values.push(Cell::Null);
                    column_problems.push(p);
                }
            }
        }
        for p in column_problems.into_iter().chain(pre_problems) {
            let severity = c.severity(p.reason);
            verdicts.route(node, &mut values, p, severity);
        }
        // A single-valued element given twice is ambiguous: which one is right? Neither is
        // kept; both go to the quarantine.
        for (f, slot) in &node.single_fields {
            if found[*slot].1 > 1 {
                let mut p = Problem::on_field(
                    "DUPLICATE_ELEMENT",
                    el,
                    f,
                    format!("element {f} appears more than once"),
                );
                p.raw = all_values_json(el, f);
                // The person key was made from the first value: with two, which child this
                // is cannot be told, so the person is rejected whatever the rule file says.
                let severity = if node_idx == c.root && PERSON_KEY_FIELDS.contains(&f.as_str()) {
                    Severity::Record
                } else {
                    c.severity("DUPLICATE_ELEMENT")
                };
                verdicts.route(node, &mut values, p, severity);
            }
        }
        let field_problems = &verdicts.field;
        let valid = |field: &str| {
            leaves.value(field).is_some()
                && !field_problems
                    .iter()
                    .any(|p| p.field.as_deref() == Some(field))
        };
        let rule_problems = element_rules(
            &node.element,
            leaves,
            ctx,
            self.ctx.header.census_date,
            &valid,
        );
        for (problem, severity) in rule_problems {
            let severity = severity.unwrap_or_else(|| c.severity(problem.reason));
            verdicts.route(node, &mut values, problem, severity);
        }
        let Verdicts {
            record: record_problems,
            field: field_problems,
            mut warnings,
        } = verdicts;
        warnings.extend(std::iter::repeat_n("UNKNOWN_ELEMENT", unknown_leaves));
        for ch in &el.children {
            if !node.known_children.iter().any(|k| *k == ch.name) {
                warnings.push("UNKNOWN_ELEMENT");
            }
        }

        if let Some(first) = record_problems.first() {
            let mut message = first.message.clone();
            if record_problems.len() > 1 {
                let others: Vec<&str> = record_problems[1..].iter().map(|p| p.reason).collect();
                message.push_str(&format!(" (also: {})", others.join(", ")));
            }
            let reject = Reject {
                level: RejectLevel::Record,
                table: Some(node.table.name.clone()),
                person_position: Some(ctx.person_position),
                element_path: first.path.clone(),
                line: Some(first.pos.line),
                column: Some(first.pos.column),
                reason: first.reason.to_owned(),
                field: first.field.clone(),
                raw_value: first.raw.clone(),
                raw_record: Some(raw_record_json(el)),
                message,
                submission_id: Some(self.lineage.submission_id.to_string()),
                source_file: self.ctx.source_file.clone(),
            };
            let reason = first.reason;
            drop(values);
            self.scratch.push(found);
            self.table_stats[node_idx].quarantine(reason);
            self.quarantine.push(&reject)?;
            self.cascade(node_idx, el, ctx)?;
            self.flush_quarantine()?;
            return Ok(false);
        }

        for p in &field_problems {
            self.stats.field_reject(p.reason);
            let reject = Reject {
                level: RejectLevel::Field,
                table: Some(node.table.name.clone()),
                person_position: Some(ctx.person_position),
                element_path: p.path.clone(),
                line: Some(p.pos.line),
                column: Some(p.pos.column),
                reason: p.reason.to_owned(),
                field: p.field.clone(),
                raw_value: p.raw.clone(),
                raw_record: None,
                message: p.message.clone(),
                submission_id: Some(self.lineage.submission_id.to_string()),
                source_file: self.ctx.source_file.clone(),
            };
            self.quarantine.push(&reject)?;
        }
        self.rows[node_idx].push_cells(&values)?;
        drop(values);
        self.scratch.push(found);
        self.table_stats[node_idx].loaded += 1;
        for w in warnings {
            self.stats.warn(w);
        }
        if self.rows[node_idx].is_full()
            && let Some(batch) = self.rows[node_idx].take_batch()?
        {
            self.ready.push((node.table.name.clone(), batch));
        }
        self.flush_quarantine()?;

        // What the children see of this record is what loaded: a nulled date is unknown to
        // them too, so a rule comparing with it does not fire a second time.
        let mut ctx = ctx.clone();
        for p in &field_problems {
            ctx.forget(p.field.as_deref());
        }
        for &child in &node.children {
            let child_node = &c.nodes[child];
            let elems: Vec<&RawElement> = el.children_named(&child_node.element).collect();
            let siblings = sibling_rules(child_node, &elems);
            for (i, (e, (forced, others))) in elems.into_iter().zip(siblings).enumerate() {
                let child_ctx = self.child_ctx(&child_node.element, e, &ctx, i);
                self.process(child, e, &child_ctx, forced.into_iter().collect(), others)?;
            }
        }
        Ok(true)
    }

    fn flush_quarantine(&mut self) -> Result<(), ArrowError> {
        if self.quarantine.is_full()
            && let Some(b) = self.quarantine.take_batch()?
        {
            self.ready.push((QUARANTINE_TABLE.to_owned(), b));
        }
        Ok(())
    }

    /// Quarantines every descendant of a rejected element, each with its own entry.
    fn cascade(
        &mut self,
        node_idx: usize,
        el: &RawElement,
        ctx: &Ctx<'_>,
    ) -> Result<(), ArrowError> {
        let children = self.c.nodes[node_idx].children.clone();
        for child in children {
            let element = self.c.nodes[child].element.clone();
            let table = self.c.nodes[child].table.name.clone();
            for e in el.children_named(&element) {
                self.table_stats[child].read += 1;
                self.table_stats[child].quarantine("PARENT_REJECTED");
                self.quarantine.push(&Reject {
                    level: RejectLevel::Record,
                    table: Some(table.clone()),
                    person_position: Some(ctx.person_position),
                    element_path: e.path.clone(),
                    line: Some(e.pos.line),
                    column: Some(e.pos.column),
                    reason: "PARENT_REJECTED".into(),
                    field: None,
                    raw_value: None,
                    raw_record: Some(raw_record_json(e)),
                    message: format!("quarantined with its parent {}", el.name),
                    submission_id: Some(self.lineage.submission_id.to_string()),
                    source_file: self.ctx.source_file.clone(),
                })?;
                self.cascade(child, e, ctx)?;
            }
        }
        Ok(())
    }

    fn child_ctx<'a>(
        &self,
        element: &str,
        el: &'a RawElement,
        parent: &Ctx<'a>,
        index: usize,
    ) -> Ctx<'a> {
        let mut ctx = parent.clone();
        match element {
            "Requests" => {
                ctx.request_seq = i32::try_from(index + 1).unwrap_or(i32::MAX);
                let mut seq = itoa_buf();
                ctx.request_key = Arc::from(digest_hex(
                    &[
                        &self.lineage.submission_id,
                        &parent.person_key,
                        format_i32(ctx.request_seq, &mut seq),
                    ],
                    32,
                ));
                ctx.request_outcome = el.value("RequestOutcome");
                ctx.request_outcome_date = el.value("RequestOutcomeDate").and_then(parse_date);
                ctx.plan_cease_date = el
                    .child("Assessment")
                    .and_then(|a| a.child("NamedPlan"))
                    .and_then(|p| p.value("CeaseDate"))
                    .and_then(parse_date);
            }
            "Assessment" => {
                ctx.assessment_outcome = el.value("AssessmentOutcome");
            }
            _ => {}
        }
        ctx
    }
}

/// What of the file conformer the cells of a row borrow, apart from the rows themselves.
#[derive(Clone, Copy)]
struct FileRefs<'f> {
    ctx: &'f SubmissionContext,
    lineage: &'f Lineage,
}

/// A stack buffer for [`format_i32`].
fn itoa_buf() -> [u8; 11] {
    [0; 11]
}

/// `n.to_string()` without the allocation: a request number and every whole-number code
/// are formatted once per record.
fn format_i32(n: i32, buf: &mut [u8; 11]) -> &str {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// The value of one column of one record, or the problem that stops it.
fn column_value<'a>(
    file: FileRefs<'a>,
    col: &ColumnDef,
    list: Option<&'a Codes>,
    leaves: Leaves<'a>,
    slot: Option<usize>,
    ctx: &'a Ctx<'_>,
) -> Result<Cell<'a>, Problem> {
    let h = file.ctx;
    let lineage = file.lineage;
    let el = leaves.el;
    let field_value = || slot.and_then(|s| leaves.slot_value(s));
    match col.derive {
        Some(Derive::PersonKey) => return Ok(Cell::Str(&ctx.person_key)),
        Some(Derive::PersonKeyBasis) => return Ok(Cell::Str(ctx.key_basis)),
        Some(Derive::RequestKey) => return Ok(Cell::Str(&ctx.request_key)),
        Some(Derive::RequestSeq) => return Ok(Cell::Int32(ctx.request_seq)),
        Some(Derive::LineageSource) => return Ok(Cell::Str(&lineage.source)),
        Some(Derive::LineageSubmissionId) => {
            return Ok(Cell::Str(&lineage.submission_id));
        }
        Some(Derive::LineageLaCode) => return Ok(Cell::Str(&lineage.la_code)),
        Some(Derive::LineageCollectionYear) => {
            return Ok(Cell::Int32(h.header.collection_year));
        }
        Some(Derive::LineageSourceFile) => {
            return Ok(Cell::Str(&lineage.source_file));
        }
        Some(Derive::LineageRunId) => return Ok(Cell::Str(&lineage.run_id)),
        Some(Derive::LineageLoadedAt) => {
            return Ok(Cell::TimestampUs(lineage.loaded_at_us));
        }
        Some(Derive::SettingBasis) => {
            let basis = if valid_digits(leaves.value("URN"), 6) {
                "urn"
            } else if valid_digits(leaves.value("UKPRN"), 8) {
                "ukprn"
            } else {
                "sen_setting"
            };
            return Ok(Cell::Str(basis));
        }
        Some(Derive::ValidPresent) => {
            let ok = match col.field.as_deref() {
                Some("UPN") => ctx.upn_valid,
                Some("UniqueLearnerNumber") => ctx.uln_valid,
                Some(_) => field_value().is_some(),
                None => false,
            };
            return Ok(Cell::Bool(ok));
        }
        Some(Derive::Present) => {
            return Ok(Cell::Bool(field_value().is_some()));
        }
        // Filled by the quarantine writer and the record mapper, never from SEN2.
        Some(Derive::Reject | Derive::LineageStream | Derive::LineageRecordId) => {
            return Ok(Cell::Null);
        }
        Some(
            Derive::CodeMainGroup
            | Derive::MonthStart
            | Derive::AgeAtCensus
            | Derive::PostcodeDistrict,
        )
        | None => {}
    }
    let Some(field) = col.field.as_deref() else {
        return Ok(Cell::Null);
    };
    let Some(raw) = field_value() else {
        if col.required {
            return Err(Problem::on_field(
                "MISSING_REQUIRED_FIELD",
                el,
                field,
                format!("mandatory element {field} is missing or empty"),
            ));
        }
        return Ok(Cell::Null);
    };
    let census = h.header.census_date;
    let date = |raw: &str| -> Result<NaiveDate, Problem> {
        let d = parse_date(raw).ok_or_else(|| {
            Problem::on_field(
                "INVALID_DATE",
                el,
                field,
                format!("{field} is not a valid YYYY-MM-DD date"),
            )
        })?;
        if d > census && !col.allow_after_census {
            return Err(Problem::on_field(
                "DATE_AFTER_CENSUS",
                el,
                field,
                format!("{field} is after the census reference date"),
            ));
        }
        Ok(d)
    };
    // `None`: `raw` is fine as it is; `Some`: its upper-case form is the code.
    let check_code = |raw: &str| -> Result<Option<String>, Problem> {
        let Some(list) = list else {
            return Ok(None);
        };
        if list.contains(raw) {
            return Ok(None);
        }
        let upper = raw.to_ascii_uppercase();
        if list.contains(&upper) {
            return Ok(Some(upper));
        }
        Err(Problem::on_field(
            "CODE_NOT_IN_LIST",
            el,
            field,
            format!("{field} is not in code list {}", list.list.name),
        ))
    };
    let code = |raw: &'a str| -> Result<Cow<'a, str>, Problem> {
        Ok(check_code(raw)?.map_or(Cow::Borrowed(raw), Cow::Owned))
    };
    let text = |s: Cow<'a, str>| match s {
        Cow::Borrowed(s) => Cell::Str(s),
        Cow::Owned(s) => Cell::String(s),
    };
    match col.derive {
        Some(Derive::CodeMainGroup) => {
            let c = code(raw)?;
            return Ok(match list.and_then(|l| l.main_group(&c)) {
                Some(group) => Cell::Str(group),
                None => text(c),
            });
        }
        Some(Derive::MonthStart) => {
            let d = date(raw)?;
            return Ok(Cell::Date32(days_since_epoch(d.with_day(1).unwrap_or(d))));
        }
        Some(Derive::AgeAtCensus) => return Ok(Cell::Int32(age_on(date(raw)?, census))),
        Some(Derive::PostcodeDistrict) => {
            return postcode_district(raw).map(Cell::String).ok_or_else(|| {
                Problem::on_field(
                    "POSTCODE_FORMAT",
                    el,
                    field,
                    format!("{field} is not a well-formed UK postcode"),
                )
            });
        }
        _ => {}
    }
    match col.data_type {
        ColumnType::Utf8 => {
            if let Some(n) = col.digits
                && !valid_digits(Some(raw), usize::from(n))
            {
                return Err(Problem::on_field(
                    "INVALID_FORMAT",
                    el,
                    field,
                    format!("{field} must be exactly {n} digits"),
                ));
            }
            code(raw).map(text)
        }
        ColumnType::Int32 => {
            let n: i32 = raw.parse().map_err(|_| {
                Problem::on_field(
                    "INVALID_NUMBER",
                    el,
                    field,
                    format!("{field} is not a whole number"),
                )
            })?;
            let mut buf = itoa_buf();
            check_code(format_i32(n, &mut buf))?;
            Ok(Cell::Int32(n))
        }
        ColumnType::Int64 => raw.parse().map(Cell::Int64).map_err(|_| {
            Problem::on_field(
                "INVALID_NUMBER",
                el,
                field,
                format!("{field} is not a whole number"),
            )
        }),
        ColumnType::Float64 => raw.parse().map(Cell::Float64).map_err(|_| {
            Problem::on_field(
                "INVALID_NUMBER",
                el,
                field,
                format!("{field} is not a number"),
            )
        }),
        ColumnType::Bool => parse_bool(raw).map(Cell::Bool).ok_or_else(|| {
            Problem::on_field(
                "INVALID_BOOLEAN",
                el,
                field,
                format!("{field} is not true/false/1/0"),
            )
        }),
        ColumnType::Date32 => date(raw).map(|d| Cell::Date32(days_since_epoch(d))),
        ColumnType::TimestampUsUtc => Err(Problem::on_field(
            "INVALID_DATE",
            el,
            field,
            "timestamps are not read from SEN2",
        )),
    }
}

fn valid_digits(v: Option<&str>, n: usize) -> bool {
    v.is_some_and(|s| s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
}

/// The element's own leaf values as a JSON object, for the secure quarantine only.
fn raw_record_json(el: &RawElement) -> String {
    let map: serde_json::Map<String, serde_json::Value> = el
        .fields
        .iter()
        .map(|f| {
            (
                f.name.to_string(),
                f.value
                    .clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Rules across siblings: cardinality, unique ranks, and the need-rank rules. For each element:
/// the structural problem that rejects it (an extra element, a repeated rank or need type: the
/// element itself is the fault), and problems whose severity the rule file decides.
fn sibling_rules(node: &Node, elems: &[&RawElement]) -> Vec<(Option<Problem>, Vec<Problem>)> {
    let mut forced: Vec<Option<Problem>> = vec![None; elems.len()];
    let mut others: Vec<Vec<Problem>> = vec![Vec::new(); elems.len()];
    if let Some(max) = node.max_per_parent {
        for (i, e) in elems.iter().enumerate().skip(max) {
            forced[i] = Some(Problem::on_element(
                "CARDINALITY",
                e,
                format!("more than {max} {} elements in one parent", node.element),
            ));
        }
    }
    // A lone element cannot repeat a rank, and most parents have just one.
    if !node.sibling_key_fields.is_empty() && elems.len() > 1 {
        let mut keys = FxHashSet::default();
        for (i, e) in elems.iter().enumerate() {
            if forced[i].is_some() {
                continue;
            }
            let key: Vec<Option<&str>> =
                node.sibling_key_fields.iter().map(|f| e.value(f)).collect();
            if key.iter().all(Option::is_some) && !keys.insert(key) {
                forced[i] = Some(Problem::on_element(
                    "DUPLICATE_RANK",
                    e,
                    format!(
                        "another {} in the same parent has the same rank",
                        node.element
                    ),
                ));
            }
        }
    }
    if node.element == "SENneed" {
        let live: Vec<usize> = (0..elems.len()).filter(|&i| forced[i].is_none()).collect();
        let primaries: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&i| elems[i].value("SENtypeRank") == Some("1"))
            .collect();
        if let Some(&first) = live.first()
            && primaries.len() != 1
        {
            // One defect of the plan, so counted once: on its first need. The needs load as
            // given; no secondary need is promoted to primary, which would invent a fact.
            others[first].push(Problem::on_element(
                "NEED_PRIMARY",
                elems[first],
                format!(
                    "the active plan has {} needs with rank 1, not exactly one",
                    primaries.len()
                ),
            ));
        } else if let Some(&p) = primaries.first() {
            let primary_type = elems[p].value("SENtype");
            for &i in &live {
                if i != p
                    && elems[i].value("SENtype").is_some()
                    && elems[i].value("SENtype") == primary_type
                {
                    forced[i] = Some(Problem::on_field(
                        "NEED_DUPLICATE_TYPE",
                        elems[i],
                        "SENtype",
                        "the secondary need repeats the primary need's type",
                    ));
                }
            }
        }
    }
    forced.into_iter().zip(others).collect()
}

/// Cross-field rules of reference §1.6, by element. A `Some` severity overrides the rule file
/// (used where a rule is only a warning in one direction).
fn element_rules(
    element: &str,
    leaves: Leaves<'_>,
    ctx: &Ctx<'_>,
    census: NaiveDate,
    valid: &dyn Fn(&str) -> bool,
) -> Vec<(Problem, Option<Severity>)> {
    let el = leaves.el;
    let date = |f: &str| leaves.value(f).and_then(parse_date);
    let mut out = Vec::new();
    let outcome_in = |o: Option<&str>, set: &[&str]| o.is_some_and(|o| set.contains(&o));
    match element {
        "Requests" => {
            if let (Some(received), Some(decided)) =
                (date("ReceivedDate"), date("RequestOutcomeDate"))
                && decided < received
            {
                out.push((
                    Problem::on_field(
                        "REQUEST_DATE_ORDER",
                        el,
                        "RequestOutcomeDate",
                        "RequestOutcomeDate is before ReceivedDate",
                    ),
                    None,
                ));
            }
            if matches!(leaves.value("RequestOutcome"), Some("Y" | "H"))
                && el.child("Assessment").is_none()
            {
                out.push((
                    Problem::on_element(
                        "ASSESSMENT_MISSING",
                        el,
                        "the request was agreed but has no Assessment",
                    ),
                    None,
                ));
            }
        }
        "Assessment" => {
            if outcome_in(ctx.request_outcome, &["N", "W", "A"]) {
                out.push((
                    Problem::on_element(
                        "ASSESSMENT_UNEXPECTED",
                        el,
                        format!(
                            "an Assessment under a request with outcome {}",
                            ctx.request_outcome.unwrap_or("")
                        ),
                    ),
                    None,
                ));
            }
            let decided = date("AssessmentOutcomeDate");
            if let (Some(decided), Some(request_decided)) = (decided, ctx.request_outcome_date)
                && decided < request_decided
            {
                out.push((
                    Problem::on_field(
                        "ASSESSMENT_DATE_ORDER",
                        el,
                        "AssessmentOutcomeDate",
                        "AssessmentOutcomeDate is before RequestOutcomeDate",
                    ),
                    None,
                ));
            } else if let Some(decided) = decided
                && leaves.value("AssessmentOutcome") != Some("H")
                && let Some(start) = el
                    .child("NamedPlan")
                    .and_then(|p| p.value("StartDate"))
                    .and_then(parse_date)
                && start < decided
            {
                // Checked here, not on the plan, because the value to null is this decision
                // date: the plan's StartDate is mandatory and dates the plan in the caseload.
                // (A historical or transferred-in plan may start before its decision.)
                out.push((
                    Problem::on_field(
                        "PLAN_DATE_ORDER",
                        el,
                        "AssessmentOutcomeDate",
                        "the NamedPlan's StartDate is before AssessmentOutcomeDate",
                    ),
                    None,
                ));
            }
            if matches!(leaves.value("AssessmentOutcome"), Some("Y" | "H"))
                && el.child("NamedPlan").is_none()
            {
                out.push((
                    Problem::on_element(
                        "PLAN_MISSING",
                        el,
                        "the assessment decided to issue a plan but has no NamedPlan",
                    ),
                    None,
                ));
            }
        }
        "NamedPlan" => {
            if outcome_in(ctx.assessment_outcome, &["N", "W", "A"]) {
                out.push((
                    Problem::on_element(
                        "PLAN_UNEXPECTED",
                        el,
                        format!(
                            "a NamedPlan under an assessment with outcome {}",
                            ctx.assessment_outcome.unwrap_or("")
                        ),
                    ),
                    None,
                ));
            }
            if let (Some(start), Some(ceased)) = (date("StartDate"), date("CeaseDate"))
                && ceased < start
            {
                out.push((
                    Problem::on_field(
                        "CEASE_DATE_ORDER",
                        el,
                        "CeaseDate",
                        "CeaseDate is before StartDate",
                    ),
                    None,
                ));
            }
            match (
                leaves.value("CeaseDate").is_some(),
                leaves.value("CeaseReason").is_some(),
            ) {
                // Only a warning: the plan did cease, and nulling CeaseDate would make it an
                // active plan. The reason stays unknown (null).
                (true, false) => out.push((
                    Problem::on_field(
                        "CEASE_REASON_PAIRING",
                        el,
                        "CeaseDate",
                        "CeaseDate is given without CeaseReason",
                    ),
                    Some(Severity::Warn),
                )),
                (false, true) => out.push((
                    Problem::on_field(
                        "CEASE_REASON_PAIRING",
                        el,
                        "CeaseReason",
                        "CeaseReason is given without CeaseDate",
                    ),
                    None,
                )),
                _ => {}
            }
        }
        "PlanDetail" | "PlacementDetail" => {
            if !(valid("URN") || valid("UKPRN") || valid("SENSetting")) {
                out.push((
                    Problem::on_element(
                        "SETTING_MISSING",
                        el,
                        "no valid URN, UKPRN or SENSetting identifies the setting",
                    ),
                    None,
                ));
            }
            if let (Some(entry), Some(leaving)) = (date("EntryDate"), date("LeavingDate"))
                && leaving < entry
            {
                out.push((
                    Problem::on_field(
                        "PLACEMENT_DATE_ORDER",
                        el,
                        "LeavingDate",
                        "LeavingDate is before EntryDate",
                    ),
                    None,
                ));
            }
        }
        "ActivePlans" => {
            if let Some(ceased) = ctx.plan_cease_date
                && ceased <= census
            {
                out.push((Problem::on_element("ACTIVE_PLAN_AFTER_CEASE", el, "ActivePlans is present but the request's plan ceased on or before census day"), None));
            }
            if leaves.value("ReviewOutcome").is_some() && leaves.value("ReviewMeeting").is_none() {
                out.push((
                    Problem::on_field(
                        "REVIEW_OUTCOME_WITHOUT_MEETING",
                        el,
                        "ReviewOutcome",
                        "ReviewOutcome is given without a ReviewMeeting date",
                    ),
                    None,
                ));
            }
            if let (Some(meeting), Some(decision)) = (date("ReviewMeeting"), date("LastReview"))
                && decision < meeting
            {
                out.push((
                    Problem::on_field(
                        "REVIEW_DECISION_BEFORE_MEETING",
                        el,
                        "LastReview",
                        "LastReview is before ReviewMeeting",
                    ),
                    None,
                ));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests;
