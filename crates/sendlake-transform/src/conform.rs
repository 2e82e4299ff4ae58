//! Conforming SEN2 person subtrees to the shared SEND schema.
//!
//! The walk is generic: the table definitions say which element makes a row of which table and
//! where each column's value comes from. What is SEN2-specific lives in two places only: the
//! person key (which identifier, and its check algorithm) and
//! [`element_rules`](rules::element_rules), the cross-field rules of reference §1.6 keyed by
//! element name.
//!
//! The work is split by job: `walk` goes down one person's subtree, table by table, and stages
//! rows and quarantine entries; `rules` finds what is wrong with a value, a record or a set of
//! siblings; `verdicts` decides, from each problem's severity, whether a value is nulled (the
//! record degrades) or the record is rejected. This module holds what they share: the header,
//! the compiled element tree and the per-person context.

use std::collections::{BTreeMap, HashSet};

use rustc_hash::FxHashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sendlake_extract::{Position, RawElement};
use sendlake_schema::{CodeList, RuleScope, SchemaRegistry, Severity, TableDef};

use crate::privacy::PseudonymisationKey;
use crate::{ConformError, RULE_IDS};

mod rules;
mod verdicts;
mod walk;

pub use walk::{FileConformer, FileOutcome};

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
        .or_else(|| sendlake_calendar::census_day(year))
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

    fn severity(&self, rule: &str) -> Severity {
        self.severities
            .get(rule)
            .copied()
            .unwrap_or(Severity::Record)
    }
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

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests;
