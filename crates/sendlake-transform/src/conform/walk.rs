//! The subtree walk: one person's element tree, table by table, into staged rows and
//! quarantine entries, with the identifiers checked and the person key made on the way in.

use std::collections::HashSet;

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use sendlake_calendar::age_on;
use sendlake_extract::{RawElement, RawPerson};
use sendlake_schema::Severity;

use super::rules::{column_value, element_rules, sibling_rules};
use super::verdicts::Verdicts;
use super::{
    Ctx, FileRefs, Leaves, Lineage, PERSON_KEY_FIELDS, Problem, QUARANTINE_TABLE, Sen2Conformer,
    SubmissionContext, format_i32, itoa_buf, parse_date,
};
use crate::ConformError;
use crate::identifiers::{UlnError, UpnError, UpnKind, check_uln, check_upn};
use crate::privacy::{digest_hex, normalise_text};
use crate::quarantine::{QuarantineRows, Reject, RejectLevel};
use crate::rows::{Cell, TableRows};
use crate::stats::{FileStats, TableStats};

// Starting a file builds the walk's state, whose fields only the walk sees.
impl Sen2Conformer {
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
    /// Buffers for [`Node::scan_leaves`](super::Node::scan_leaves), one per tree level, reused
    /// across records.
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
