//! The published KPI tables against a second, independent computation: generated SEN2 returns
//! are read here with a plain XML event loop (not sendlake's reader, conformer or SQL), the
//! DfE's definitions (send-domain.md §3.5, docs/kpi-definitions.md) are applied in Rust, and
//! every LA × calendar-year cell of `kpi_requests`, `kpi_timeliness` and `kpi_caseload_need`
//! must equal what this computes; so must those of the tables the DfE added in 2026
//! (`kpi_assessments`, `kpi_annual_reviews_year`, `kpi_caseload_age`, the compulsory school age
//! split of `kpi_placements`: `kpi_oracle_added.rs`), and the ceased plans by reason with the
//! month rows of requests and timeliness, months adding up to their year
//! (`kpi_oracle_more.rs`).
//!
//! The same figures, written out in the DfE's own file layout, are then loaded as the DfE's
//! published statistics (`pipelines/sources/dfe_files.toml`): the reconciliation with the DfE
//! must show no difference, and a planted one-plan difference must be reported.
//!
//! Last, the same children's returns with defects injected (dates out of order, cessations
//! without a reason, outcomes contradicting what follows them, ...): every record still loads,
//! the manifest accounts for every defect, and the figures no defect can touch (the caseload,
//! the requests received) equal the clean returns' independent computation.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arrow_array::{Array, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch};
use chrono::{Datelike, NaiveDate};
use quick_xml::events::Event;
use sendlake_model::CheckStatus;

use crate::kpi_oracle_added::Added;
use crate::support::*;

/// One `Requests` element of a return, as far as the KPIs need it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Request {
    /// The person's `PersonBirthDate`.
    pub(crate) birth: Option<NaiveDate>,
    pub(crate) received: Option<NaiveDate>,
    pub(crate) outcome: Option<String>,
    outcome_date: Option<NaiveDate>,
    pub(crate) assessment_outcome: Option<String>,
    pub(crate) assessment_date: Option<NaiveDate>,
    week20: bool,
    pub(crate) plan_start: Option<NaiveDate>,
    pub(crate) active: bool,
    pub(crate) transferred_in: bool,
    needs: Vec<(String, String)>,
    pub(crate) review_meeting: Option<NaiveDate>,
    pub(crate) last_review: Option<NaiveDate>,
    pub(crate) placements: Vec<Placement>,
    pub(crate) cease_date: Option<NaiveDate>,
    pub(crate) cease_reason: Option<String>,
}

/// One `PlacementDetail` of an active plan.
#[derive(Debug, Default, Clone)]
pub(crate) struct Placement {
    pub(crate) rank: String,
    /// URN or UKPRN given: the setting is not the `SENSetting` code's.
    pub(crate) identified: bool,
    pub(crate) setting: Option<String>,
    pub(crate) entry: Option<NaiveDate>,
    pub(crate) leaving: Option<NaiveDate>,
}

/// One return: its LA, its census year and its requests.
pub(crate) struct Return {
    pub(crate) la: String,
    pub(crate) census_year: i32,
    /// The census day (`ReferenceDate`).
    pub(crate) census_day: Option<NaiveDate>,
    pub(crate) requests: Vec<Request>,
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// Reads a return with quick-xml's event loop: the path of open elements says what a text is.
fn read_return(path: &Path) -> Return {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Return {
        la: String::new(),
        census_year: 0,
        census_day: None,
        requests: Vec::new(),
    };
    let mut current: Option<Request> = None;
    let mut need: (String, String) = Default::default();
    let mut placement = Placement::default();
    let mut birth = None;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                match name.as_str() {
                    "Person" => birth = None,
                    "Requests" => {
                        current = Some(Request {
                            birth,
                            ..Request::default()
                        });
                    }
                    "PlacementDetail" => placement = Placement::default(),
                    "ActivePlans" => {
                        if let Some(r) = current.as_mut() {
                            r.active = true;
                        }
                    }
                    "SENneed" => need = Default::default(),
                    _ => {}
                }
                stack.push(name);
            }
            Event::End(_) => {
                let name = stack.pop().unwrap();
                match name.as_str() {
                    "Requests" => out.requests.push(current.take().unwrap()),
                    "SENneed" => {
                        if let Some(r) = current.as_mut() {
                            r.needs.push(std::mem::take(&mut need));
                        }
                    }
                    "PlacementDetail" => {
                        if let Some(r) = current.as_mut() {
                            r.placements.push(std::mem::take(&mut placement));
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                let text = std::str::from_utf8(&t).unwrap().trim().to_owned();
                if text.is_empty() {
                    continue;
                }
                let leaf = stack.last().map(String::as_str).unwrap_or_default();
                let parent = stack
                    .len()
                    .checked_sub(2)
                    .map(|i| stack[i].as_str())
                    .unwrap_or_default();
                match (parent, leaf) {
                    ("Source", "LEA") => out.la = text.clone(),
                    ("CollectionDetails", "Year") => out.census_year = text.parse().unwrap(),
                    ("CollectionDetails", "ReferenceDate") => out.census_day = date(&text),
                    ("Person", "PersonBirthDate") => birth = date(&text),
                    _ => {}
                }
                let Some(r) = current.as_mut() else { continue };
                match (parent, leaf) {
                    ("Requests", "ReceivedDate") => r.received = date(&text),
                    ("Requests", "RequestOutcome") => r.outcome = Some(text),
                    ("Requests", "RequestOutcomeDate") => r.outcome_date = date(&text),
                    ("Assessment", "AssessmentOutcome") => r.assessment_outcome = Some(text),
                    ("Assessment", "AssessmentOutcomeDate") => r.assessment_date = date(&text),
                    ("Assessment", "Week20") => r.week20 = matches!(text.as_str(), "1" | "true"),
                    ("NamedPlan", "StartDate") => r.plan_start = date(&text),
                    ("NamedPlan", "CeaseDate") => r.cease_date = date(&text),
                    ("NamedPlan", "CeaseReason") => r.cease_reason = Some(text),
                    ("ActivePlans", "TransferLA") => r.transferred_in = true,
                    ("SENneed", "SENtype") => need.0 = text,
                    ("SENneed", "SENtypeRank") => need.1 = text,
                    ("ActivePlans", "ReviewMeeting") => r.review_meeting = date(&text),
                    ("ActivePlans", "LastReview") => r.last_review = date(&text),
                    ("PlacementDetail", "URN" | "UKPRN") => placement.identified = true,
                    ("PlacementDetail", "SENSetting") => placement.setting = Some(text),
                    ("PlacementDetail", "PlacementRank") => placement.rank = text,
                    ("PlacementDetail", "EntryDate") => placement.entry = date(&text),
                    ("PlacementDetail", "LeavingDate") => placement.leaving = date(&text),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The DfE's requests figures for one LA and calendar year.
#[derive(Debug, Default, Clone, PartialEq)]
struct RequestFigures {
    received: i64,
    agreed: i64,
    refused: i64,
    not_made: i64,
    withdrawn: i64,
    decisions: i64,
    six_weeks: i64,
    over_six_weeks: i64,
}

/// The DfE's 20-week timeliness figures for one LA and calendar year.
#[derive(Debug, Default, Clone, PartialEq)]
struct TimelinessFigures {
    den: i64,
    den_ex: i64,
    within: i64,
    within_ex: i64,
}

#[derive(Default)]
struct Oracle {
    requests: BTreeMap<(String, i32), RequestFigures>,
    timeliness: BTreeMap<(String, i32), TimelinessFigures>,
    /// (LA, census year) → primary need → plans active on census day.
    caseload: BTreeMap<(String, i32), BTreeMap<String, i64>>,
}

pub(crate) fn pc(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

impl Oracle {
    /// The DfE's definitions, applied to the returns (send-domain.md §3.3, §3.5).
    fn compute(returns: &[Return]) -> Self {
        let mut o = Oracle::default();
        for ret in returns {
            let la = ret.la.clone();
            for r in &ret.requests {
                let outcome = r.outcome.as_deref();
                // Requests received in the year: historical (H) ones are not.
                if let Some(received) = r.received
                    && outcome != Some("H")
                {
                    let f = o.requests.entry((la.clone(), received.year())).or_default();
                    f.received += 1;
                    match outcome {
                        Some("Y") => f.agreed += 1,
                        Some("N") => f.refused += 1,
                        Some("W") => f.withdrawn += 1,
                        _ => f.not_made += 1,
                    }
                }
                // Decisions made in the year, within 6 weeks (42 days) of the request or not.
                if matches!(outcome, Some("Y" | "N"))
                    && let Some(decided) = r.outcome_date
                {
                    let f = o.requests.entry((la.clone(), decided.year())).or_default();
                    f.decisions += 1;
                    match r.received {
                        Some(received) if (decided - received).num_days() <= 42 => {
                            f.six_weeks += 1;
                        }
                        _ => f.over_six_weeks += 1,
                    }
                }
                // New plans issued in the year: assessed Y, nothing historical, not transferred
                // in; a plan with no request date counts, in no band.
                if let Some(start) = r.plan_start
                    && r.assessment_outcome.as_deref() == Some("Y")
                    && outcome != Some("H")
                    && !r.transferred_in
                {
                    let f = o.timeliness.entry((la.clone(), start.year())).or_default();
                    let within = r
                        .received
                        .is_some_and(|received| (start - received).num_days() <= 140);
                    f.den += 1;
                    f.within += i64::from(within);
                    if !r.week20 {
                        f.den_ex += 1;
                        f.within_ex += i64::from(within);
                    }
                }
                // The caseload on census day, by primary (rank 1) need.
                if r.active {
                    let need = r
                        .needs
                        .iter()
                        .find(|(_, rank)| rank == "1")
                        .map_or_else(|| "unknown".to_owned(), |(t, _)| t.clone());
                    *o.caseload
                        .entry((la.clone(), ret.census_year))
                        .or_default()
                        .entry(need)
                        .or_default() += 1;
                }
            }
        }
        o
    }
}

/// A published table's `sen2` LA calendar-year rows, keyed by (LA, year[, extra key column]).
pub(crate) struct Cells {
    pub(crate) rows: BTreeMap<(String, i32, String), BTreeMap<String, Option<f64>>>,
}

impl Cells {
    pub(crate) fn read(ws: &Workspace, table: &str, source: &str, extra_key: Option<&str>) -> Self {
        let mut rows = BTreeMap::new();
        for b in ws.read("published", table) {
            let text = |c: &str| strings(std::slice::from_ref(&b), c);
            let (types, levels, codes, sources) = (
                text("period_type"),
                text("geography_level"),
                text("geography_code"),
                text("source"),
            );
            let extra = extra_key.map(text);
            let years = years(&b);
            for i in 0..b.num_rows() {
                if types[i].as_deref() != Some("calendar_year")
                    || levels[i].as_deref() != Some("la")
                    || sources[i].as_deref() != Some(source)
                {
                    continue;
                }
                let year = years[i];
                let key = (
                    codes[i].clone().unwrap(),
                    year,
                    extra
                        .as_ref()
                        .map(|e| e[i].clone().unwrap_or_default())
                        .unwrap_or_default(),
                );
                rows.insert(key, numbers(&b, i));
            }
        }
        Self { rows }
    }

    pub(crate) fn get(&self, la: &str, year: i32, extra: &str) -> &BTreeMap<String, Option<f64>> {
        self.rows
            .get(&(la.to_owned(), year, extra.to_owned()))
            .unwrap_or_else(|| panic!("no row for LA {la}, {year} {extra}"))
    }
}

/// The year of each row's `period_start`.
fn years(b: &RecordBatch) -> Vec<i32> {
    let starts = b
        .column_by_name("period_start")
        .unwrap()
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    (0..b.num_rows())
        .map(|i| starts.value_as_date(i).unwrap().year())
        .collect()
}

/// Every numeric cell of row `i`, as f64 (null as None).
pub(crate) fn numbers(b: &RecordBatch, i: usize) -> BTreeMap<String, Option<f64>> {
    let mut out = BTreeMap::new();
    for (f, col) in b.schema().fields().iter().zip(b.columns()) {
        let any = col.as_any();
        let v = if let Some(a) = any.downcast_ref::<Int64Array>() {
            a.is_valid(i).then(|| a.value(i) as f64)
        } else if let Some(a) = any.downcast_ref::<Float64Array>() {
            a.is_valid(i).then(|| a.value(i))
        } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
            a.is_valid(i).then(|| f64::from(u8::from(a.value(i))))
        } else {
            continue;
        };
        out.insert(f.name().clone(), v);
    }
    out
}

/// Asserts each (column, expected) of a row; an expected `None` is a null cell.
pub(crate) fn assert_cells(
    label: &str,
    row: &BTreeMap<String, Option<f64>>,
    expected: &[(&str, Option<f64>)],
) {
    for (column, want) in expected {
        let got = row
            .get(*column)
            .unwrap_or_else(|| panic!("{label}: no column {column}"));
        match (got, want) {
            (Some(g), Some(w)) => assert!(
                (g - w).abs() < 1e-9,
                "{label}: {column} = {g}, the independent computation gives {w}"
            ),
            (None, None) => {}
            _ => panic!("{label}: {column} = {got:?}, the independent computation gives {want:?}"),
        }
    }
}

pub(crate) fn n(v: i64) -> Option<f64> {
    Some(v as f64)
}

/// The pipeline: the generated returns, the DfE's files (with `dfe`) and the models,
/// unsuppressed.
fn pipeline(ws: &Workspace, dfe: bool) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let abs = |p: &str| repo.join(p).canonicalize().unwrap().display().to_string();
    let dfe = if dfe {
        format!(
            "[[sources]]\ntype = \"source_file\"\nfile = {:?}\npath = {:?}\n",
            abs("pipelines/sources/dfe_files.toml"),
            ws.inputs("dfe").display().to_string(),
        )
    } else {
        String::new()
    };
    let text = format!(
        "[pipeline]\nname = \"oracle\"\n[store]\nurl = \"lake\"\n\
         [[sources]]\ntype = \"sen2_xml\"\nname = \"sen2\"\npath = \"inputs/sen2\"\n{dfe}\
         [models]\ndir = {:?}\n[models.publish]\nsuppress_max = 0\nmin_rate_denominator = 1\n",
        abs("pipelines/models"),
    );
    let p = ws.dir.path().join("oracle.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The columns before the figures in every DfE file (send-domain.md §4.4).
pub(crate) const DFE_HEAD: &str = "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,new_la_code,old_la_code,la_name,breakdown_topic,breakdown";

/// The oracle's figures in the DfE's own file layout (as `timeliness_20_week.csv` and
/// `requests.csv`), percentages to one decimal place as the DfE writes them.
fn dfe_files(o: &Oracle, dir: &Path, plant: Option<(&str, i32)>) {
    let head = DFE_HEAD;
    let round = |v: Option<f64>| v.map_or_else(|| "z".to_owned(), |v| format!("{v:.1}"));
    let mut t = format!(
        "{head},plans_issued_den,plans_issued_den_ex,plans_issued_within_20_weeks,plans_issued_20_weeks_ex,pc_plans_issued_within_20_weeks,pc_plans_issued_20_weeks_ex\n"
    );
    for ((la, year), f) in &o.timeliness {
        let den = f.den + i64::from(plant == Some((la.as_str(), *year)));
        writeln!(
            t,
            "{year},Calendar year,Local authority,E92000001,England,E12000006,East of England,E0000{la},{la},\"Synthetic, LA {la}\",All EHC plans,All EHC plans,{den},{},{},{},{},{}",
            f.den_ex,
            f.within,
            f.within_ex,
            round(pc(f.within, f.den)),
            round(pc(f.within_ex, f.den_ex)),
        )
        .unwrap();
    }
    std::fs::write(dir.join("timeliness_20_week.csv"), t).unwrap();
    let mut r = format!(
        "{head},requests_received_in_year,requests_decided_to_assess,requests_decided_not_to_assess,requests_decision_not_made,requests_withdrawn,request_assess_pc,request_outcome_six_weeks,request_outcome_over_6_weeks,request_outcome_six_weeks_pc\n"
    );
    for ((la, year), f) in &o.requests {
        writeln!(
            r,
            "{year},Calendar year,Local authority,E92000001,England,E12000006,East of England,E0000{la},{la},\"Synthetic, LA {la}\",All requests for an EHC needs assessment,All requests for an EHC needs assessment,{},{},{},{},{},{},{},{},{}",
            f.received,
            f.agreed,
            f.refused,
            f.not_made,
            f.withdrawn,
            round(pc(f.agreed, f.received)),
            f.six_weeks,
            f.over_six_weeks,
            round(pc(f.six_weeks, f.decisions)),
        )
        .unwrap();
    }
    std::fs::write(dir.join("requests.csv"), r).unwrap();
}

/// The returns both tests read: two LAs of 400 children.
fn returns_config() -> sendlake_sim::Sen2SimConfig {
    sendlake_sim::Sen2SimConfig {
        las: 2,
        persons_per_la: 400,
        seed: 11,
        ..Default::default()
    }
}

#[test]
fn kpi_tables_equal_an_independent_computation_and_reconcile_with_the_dfe() {
    let ws = Workspace::new();
    let cfg = returns_config();
    let summary = sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let returns: Vec<Return> = summary.files.iter().map(|f| read_return(&f.path)).collect();
    let o = Oracle::compute(&returns);
    assert!(o.requests.len() >= 2 && o.timeliness.len() >= 2 && o.caseload.len() == 2);
    dfe_files(&o, &ws.inputs("dfe"), None);
    let added = Added::compute(&returns);
    added.dfe_files(&ws.inputs("dfe"));
    let more = crate::kpi_oracle_more::More::compute(&returns);

    let p = pipeline(&ws, true);
    let report = ws.run(&p);
    assert_eq!(report.exit_code(), 0, "{:?}", report.manifest.status);

    // Requests: received in the year and their outcomes; decisions made in the year.
    let requests = Cells::read(&ws, "kpi_requests", "sen2", None);
    assert_eq!(
        requests.rows.len(),
        o.requests.len(),
        "one LA-year row per LA and year with a request received or decided"
    );
    for ((la, year), f) in &o.requests {
        assert_cells(
            &format!("kpi_requests {la} {year}"),
            requests.get(la, *year, ""),
            &[
                ("requests_received_in_year", n(f.received)),
                ("requests_decided_to_assess", n(f.agreed)),
                ("requests_decided_not_to_assess", n(f.refused)),
                ("requests_decision_not_made", n(f.not_made)),
                ("requests_withdrawn", n(f.withdrawn)),
                ("request_assess_pc", pc(f.agreed, f.received)),
                ("request_not_assess_pc", pc(f.refused, f.received)),
                ("request_outstanding_pc", pc(f.not_made, f.received)),
                ("request_withdrawn_pc", pc(f.withdrawn, f.received)),
                ("request_decisions_in_year", n(f.decisions)),
                ("request_outcome_six_weeks", n(f.six_weeks)),
                ("request_outcome_over_6_weeks", n(f.over_six_weeks)),
                ("request_outcome_six_weeks_pc", pc(f.six_weeks, f.decisions)),
                (
                    "request_outcome_over_6_weeks_pc",
                    pc(f.over_six_weeks, f.decisions),
                ),
            ],
        );
    }
    // Only the returns' activity year (the calendar year before census) is whole; the years
    // of older open requests and of decisions made before census day are partial.
    let activity_year = returns[0].census_year - 1;
    for (la, year) in o.requests.keys() {
        let complete = requests.get(la, *year, "")["period_complete"];
        assert_eq!(
            complete,
            Some(f64::from(u8::from(*year == activity_year))),
            "kpi_requests {la} {year}: period_complete"
        );
    }
    assert!(o.requests.keys().any(|(_, y)| *y != activity_year));
    // The generator decides some requests in a later year than they came: the two cohorts
    // differ, so the test can tell them apart.
    assert!(
        o.requests
            .values()
            .any(|f| f.decisions != f.agreed + f.refused),
        "the returns never separate requests received from decisions made"
    );

    // 20-week timeliness.
    let timeliness = Cells::read(&ws, "kpi_timeliness", "sen2", None);
    assert_eq!(timeliness.rows.len(), o.timeliness.len());
    for ((la, year), f) in &o.timeliness {
        assert_cells(
            &format!("kpi_timeliness {la} {year}"),
            timeliness.get(la, *year, ""),
            &[
                ("plans_issued_den", n(f.den)),
                ("plans_issued_den_ex", n(f.den_ex)),
                ("plans_issued_within_20_weeks", n(f.within)),
                ("plans_issued_20_weeks_ex", n(f.within_ex)),
                ("pc_plans_issued_within_20_weeks", pc(f.within, f.den)),
                ("pc_plans_issued_20_weeks_ex", pc(f.within_ex, f.den_ex)),
            ],
        );
    }

    // The caseload on census day by primary need, and its total.
    let caseload = Cells::read(&ws, "kpi_caseload_need", "sen2", Some("primary_need"));
    let cells: usize = o.caseload.values().map(BTreeMap::len).sum();
    assert_eq!(caseload.rows.len(), cells);
    for ((la, year), needs) in &o.caseload {
        let total: i64 = needs.values().sum();
        for (need, plans) in needs {
            assert_cells(
                &format!("kpi_caseload_need {la} {year} {need}"),
                caseload.get(la, *year, need),
                &[("ehc_plans", n(*plans)), ("caseload_total", n(total))],
            );
        }
    }

    // Decisions not to issue, annual reviews in the year, the caseload by age, NIEO by
    // compulsory school age; and the DfE's files of them, loaded as `dfe_published` rows.
    added.assert_tables(&ws);
    more.assert_tables(&ws);

    // The DfE's files computed from the same returns: loaded as `dfe_published` rows, and the
    // reconciliation finds no difference beyond rounding.
    let dfe = Cells::read(&ws, "kpi_requests", "dfe_published", None);
    assert_eq!(dfe.rows.len(), o.requests.len());
    let recon = ws.read("published", "dfe_reconciliation");
    let compared = rows(&recon);
    // Whole years only: the activity year of each LA's return, 14 columns each (some rates may
    // be missing where a denominator is 0).
    assert!(
        compared >= 10 * returns.len(),
        "only {compared} figures compared"
    );
    let check = |report: &sendlake_pipeline::RunReport| {
        report
            .manifest
            .models
            .as_ref()
            .unwrap()
            .checks
            .iter()
            .find(|c| c.name == "dfe_reconciliation: sendlake agrees with the DfE")
            .cloned()
            .unwrap()
    };
    let agrees = check(&report);
    assert_eq!(agrees.status, CheckStatus::Pass, "{}", agrees.detail);

    // One plan more in the DfE's figure for one LA and whole year: reported, as a warning,
    // once.
    let (la, year) = (returns[0].la.clone(), activity_year);
    assert!(o.timeliness.contains_key(&(la.clone(), year)));
    dfe_files(&o, &ws.inputs("dfe"), Some((&la, year)));
    let report = ws.run(&p);
    let differs = check(&report);
    assert_eq!(differs.status, CheckStatus::Warn, "{}", differs.detail);
    assert_eq!(differs.failing_rows, Some(1));
    let recon = Cells::read_reconciliation(&ws);
    assert_eq!(
        recon.get(&(la.clone(), year, "plans_issued_den".to_owned())),
        Some(&(-1.0, false)),
        "sendlake counts one plan fewer than the DfE's planted figure"
    );
    assert_eq!(recon.values().filter(|(_, ok)| !ok).count(), 1);
}

impl Cells {
    /// `dfe_reconciliation` as (LA, year, column) → (difference, within tolerance).
    fn read_reconciliation(ws: &Workspace) -> BTreeMap<(String, i32, String), (f64, bool)> {
        let mut out = BTreeMap::new();
        for b in ws.read("published", "dfe_reconciliation") {
            let one = std::slice::from_ref(&b);
            let (las, columns) = (strings(one, "la_code"), strings(one, "kpi_column"));
            let years = years(&b);
            for i in 0..b.num_rows() {
                let cells = numbers(&b, i);
                out.insert(
                    (
                        las[i].clone().unwrap(),
                        years[i],
                        columns[i].clone().unwrap(),
                    ),
                    (
                        cells["difference"].unwrap(),
                        cells["within_tolerance"] == Some(1.0),
                    ),
                );
            }
        }
        out
    }
}

#[test]
fn defects_degrade_the_item_never_the_child_and_every_one_is_accounted_for() {
    let clean = Workspace::new();
    let summary =
        sendlake_sim::write_sen2_returns(&returns_config(), &clean.inputs("sen2")).unwrap();
    let returns: Vec<Return> = summary.files.iter().map(|f| read_return(&f.path)).collect();
    let o = Oracle::compute(&returns);
    let clean_report = clean.run(&pipeline(&clean, false));
    assert_eq!(clean_report.exit_code(), 0);

    // The same children, every defect kind in 6% of the items it can hit.
    let ws = Workspace::new();
    let cfg = sendlake_sim::Sen2SimConfig {
        defects: Some(sendlake_sim::DefectConfig::uniform(0.06)),
        ..returns_config()
    };
    let defective = sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let injected = defective.totals().defects;
    for kind in sendlake_sim::DefectKind::ALL {
        assert!(
            injected.by_kind.get(&kind).is_some_and(|n| *n > 0),
            "no {kind:?} defect injected: raise the rate or the children"
        );
    }
    let report = ws.run(&pipeline(&ws, false));
    assert_eq!(report.exit_code(), 0, "{:?}", report.manifest.status);
    let m = &report.manifest;

    // Nothing is lost: every record the defective files hold loads (the NeedPrimary defect
    // takes some rank 1 needs out of the files, so the generator's own counts are the
    // reference), and no record is quarantined.
    for (table, written) in sen2_written(&defective.totals()) {
        let c = &m.tables[table].counts;
        assert_eq!(
            (c.read, c.loaded, c.quarantined_total()),
            (written, written, 0),
            "{table}"
        );
    }
    assert_eq!(
        m.tables["request"].counts.loaded,
        clean_report.manifest.tables["request"].counts.loaded
    );

    // The manifest accounts for every defect: each nulled value under its reason, each
    // warning on top of those the clean returns already give.
    let nulled: BTreeMap<String, u64> = injected.nulled.clone();
    assert_eq!(m.field_rejects, nulled, "values nulled, by reason");
    let mut warned = clean_report.manifest.warnings.clone();
    for (reason, n) in &injected.warned {
        *warned.entry(reason.clone()).or_default() += n;
    }
    assert_eq!(m.warnings, warned, "warnings, by rule");

    // What no defect can change equals the clean returns' independent computation: every
    // active plan is in the caseload (a plan whose primary need was lost counts as
    // `unknown`), and every request received is counted in its year.
    let caseload = Cells::read(&ws, "kpi_caseload_need", "sen2", Some("primary_need"));
    for ((la, year), needs) in &o.caseload {
        let total: i64 = needs.values().sum();
        let row = caseload
            .rows
            .iter()
            .find(|((l, y, _), _)| l == la && y == year)
            .map(|(_, cells)| cells)
            .unwrap();
        assert_cells(
            &format!("kpi_caseload_need {la} {year}"),
            row,
            &[("caseload_total", n(total))],
        );
    }
    // By age too: a birth month a defect makes unknowable moves its child to `unknown`, never
    // out of the caseload.
    let ages = Cells::read(&ws, "kpi_caseload_age", "sen2", Some("age_band"));
    for ((la, year), needs) in &o.caseload {
        let total: i64 = needs.values().sum();
        let by_band: f64 = ages
            .rows
            .iter()
            .filter(|((l, y, _), _)| l == la && y == year)
            .map(|(_, cells)| cells["ehc_plans"].unwrap())
            .sum();
        assert_eq!(by_band, total as f64, "kpi_caseload_age {la} {year}");
    }
    let requests = Cells::read(&ws, "kpi_requests", "sen2", None);
    for ((la, year), f) in &o.requests {
        if f.received > 0 {
            assert_cells(
                &format!("kpi_requests {la} {year}"),
                requests.get(la, *year, ""),
                &[("requests_received_in_year", n(f.received))],
            );
        }
    }
    // A plan leaves the 20-week population only where its assessment's outcome was turned to
    // N (the outcome contradicts the plan: which is true is unknowable); every other plan
    // stays, whatever else is wrong with its dates.
    let timeliness = Cells::read(&ws, "kpi_timeliness", "sen2", None);
    let mut left = 0;
    for ((la, year), f) in &o.timeliness {
        let den = timeliness.get(la, *year, "")["plans_issued_den"].unwrap() as i64;
        assert!(
            den <= f.den,
            "{la} {year}: {den} plans, {} in the clean returns",
            f.den
        );
        left += f.den - den;
    }
    let plan_unexpected = injected.by_kind[&sendlake_sim::DefectKind::PlanUnexpected] as i64;
    assert!(
        left <= plan_unexpected,
        "{left} plans left the 20-week population, only {plan_unexpected} had their assessment turned to N"
    );
}
