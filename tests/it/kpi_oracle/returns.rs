//! The oracle's own reading of a generated SEN2 return: quick-xml's event loop, the path of open
//! elements saying what a text is (not sendlake's reader, conformer or schema), and the
//! independent model of what the pipeline may not believe in a defective return ([`degrade`]).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use quick_xml::events::Event;

/// One `Requests` element of a return, as far as the KPIs need it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Request {
    /// The person's `PersonBirthDate`.
    pub(crate) birth: Option<NaiveDate>,
    /// The person's `PostCode`, as written.
    pub(crate) postcode: Option<String>,
    pub(crate) received: Option<NaiveDate>,
    pub(crate) outcome: Option<String>,
    pub(crate) outcome_date: Option<NaiveDate>,
    pub(crate) assessment_outcome: Option<String>,
    pub(crate) assessment_date: Option<NaiveDate>,
    pub(crate) week20: bool,
    pub(crate) plan_start: Option<NaiveDate>,
    pub(crate) active: bool,
    pub(crate) transferred_in: bool,
    pub(crate) needs: Vec<(String, String)>,
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
    pub(crate) urn: Option<String>,
    pub(crate) ukprn: Option<String>,
    pub(crate) setting: Option<String>,
    /// `SENunitIndicator` and `ResourcedProvisionIndicator`.
    pub(crate) unit: bool,
    pub(crate) resourced: bool,
    pub(crate) entry: Option<NaiveDate>,
    pub(crate) leaving: Option<NaiveDate>,
}

/// One return: its LA, its census year and its requests.
#[derive(Clone)]
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

fn flag(text: &str) -> bool {
    matches!(text, "1" | "true")
}

/// Reads a return with quick-xml's event loop: the path of open elements says what a text is.
pub(crate) fn read_return(path: &Path) -> Return {
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
    let (mut birth, mut postcode) = (None, None);
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                match name.as_str() {
                    "Person" => (birth, postcode) = (None, None),
                    "Requests" => {
                        current = Some(Request {
                            birth,
                            postcode: postcode.clone(),
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
                    ("Person", "PostCode") => postcode = Some(text.clone()),
                    _ => {}
                }
                let Some(r) = current.as_mut() else { continue };
                match (parent, leaf) {
                    ("Requests", "ReceivedDate") => r.received = date(&text),
                    ("Requests", "RequestOutcome") => r.outcome = Some(text),
                    ("Requests", "RequestOutcomeDate") => r.outcome_date = date(&text),
                    ("Assessment", "AssessmentOutcome") => r.assessment_outcome = Some(text),
                    ("Assessment", "AssessmentOutcomeDate") => r.assessment_date = date(&text),
                    ("Assessment", "Week20") => r.week20 = flag(&text),
                    ("NamedPlan", "StartDate") => r.plan_start = date(&text),
                    ("NamedPlan", "CeaseDate") => r.cease_date = date(&text),
                    ("NamedPlan", "CeaseReason") => r.cease_reason = Some(text),
                    ("ActivePlans", "TransferLA") => r.transferred_in = true,
                    ("SENneed", "SENtype") => need.0 = text,
                    ("SENneed", "SENtypeRank") => need.1 = text,
                    ("ActivePlans", "ReviewMeeting") => r.review_meeting = date(&text),
                    ("ActivePlans", "LastReview") => r.last_review = date(&text),
                    ("PlacementDetail", "URN") => placement.urn = Some(text),
                    ("PlacementDetail", "UKPRN") => placement.ukprn = Some(text),
                    ("PlacementDetail", "SENSetting") => placement.setting = Some(text),
                    ("PlacementDetail", "SENunitIndicator") => placement.unit = flag(&text),
                    ("PlacementDetail", "ResourcedProvisionIndicator") => {
                        placement.resourced = flag(&text);
                    }
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

/// What the DfE's definitions may not take from a defective return, as `schemas/rules.toml`
/// words each rule (read there, written again here): a date that contradicts the dates before
/// it is not known, so it is dropped, judged on the values as written. Everything else a
/// defect touches (a cessation with no reason, a placement that leaves before it starts, an
/// outcome that contradicts what follows it, a plan with no primary need, a placement with no
/// setting) is a fact as given and stays. Returns how many values each rule dropped.
pub(crate) fn degrade(ret: &mut Return) -> BTreeMap<String, u64> {
    let mut dropped: BTreeMap<String, u64> = BTreeMap::new();
    let mut drop = |value: &mut Option<NaiveDate>, rule: &str| {
        if value.take().is_some() {
            *dropped.entry(rule.to_owned()).or_default() += 1;
        }
    };
    for r in &mut ret.requests {
        let (received, decided, assessed) = (r.received, r.outcome_date, r.assessment_date);
        // The decision on a request cannot precede the request.
        if let (Some(received), Some(decided)) = (received, decided)
            && decided < received
        {
            drop(&mut r.outcome_date, "REQUEST_DATE_ORDER");
        }
        // The assessment's outcome cannot precede the decision to assess, nor follow the
        // plan it led to (unless the assessment was historical, `H`).
        if matches!((decided, assessed), (Some(d), Some(a)) if a < d) {
            drop(&mut r.assessment_date, "ASSESSMENT_DATE_ORDER");
        } else if r.assessment_outcome.as_deref() != Some("H")
            && matches!((r.plan_start, assessed), (Some(s), Some(a)) if s < a)
        {
            drop(&mut r.assessment_date, "PLAN_DATE_ORDER");
        }
    }
    dropped
}
