//! The rules: what is wrong with one column's value (type, code list, date, format), with a set
//! of sibling elements (cardinality, ranks, needs) and with a record's fields taken together
//! (reference §1.6). They only find problems; what a problem does is the verdicts' decision.

use std::borrow::Cow;

use rustc_hash::FxHashSet;

use chrono::{Datelike, NaiveDate};
use sendlake_calendar::age_on;
use sendlake_extract::RawElement;
use sendlake_schema::{ColumnDef, ColumnType, Derive, Severity};

use super::{
    Codes, Ctx, FileRefs, Leaves, Node, Problem, days_since_epoch, format_i32, itoa_buf,
    parse_bool, parse_date,
};
use crate::identifiers::postcode_district;
use crate::rows::Cell;

/// The value of one column of one record, or the problem that stops it.
pub(super) fn column_value<'a>(
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

/// Rules across siblings: cardinality, unique ranks, and the need-rank rules. For each element:
/// the structural problem that rejects it (an extra element, a repeated rank or need type: the
/// element itself is the fault), and problems whose severity the rule file decides.
pub(super) fn sibling_rules(
    node: &Node,
    elems: &[&RawElement],
) -> Vec<(Option<Problem>, Vec<Problem>)> {
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
pub(super) fn element_rules(
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
