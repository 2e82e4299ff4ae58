//! The partners' synthetic records, derived from the same persons as the SEN2 returns.
//!
//! Each LA's persons are drawn exactly as [`crate::write_sen2_return`] draws them (same
//! generator, same random stream), so with the same [`crate::Sen2SimConfig`] a child here
//! carries the same UPN, name and dates as in the XML file. SEN2 has no NHS number, so one
//! is derived from the child's run-wide index: it is the join key between the council's
//! and the NHS provider's records, as it is in real partnerships.
//!
//! Records are JSON objects from the start: the server's job is to serve JSON, and fault
//! knobs (drift) edit JSON, so there is no typed layer to keep in step.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::calendar::{census_date, date_between, shift};
use crate::config::Sen2SimConfig;
use crate::generate::LaGenerator;
use crate::model::{Person, Setting};
use crate::{la_codes, nhs_check_digit};

/// Largest number of children (all LAs together) the NHS-number scheme can number.
pub const MAX_CHILDREN: usize = 500_000;

/// A synthetic NHS number for run-wide child `global` (`< MAX_CHILDREN`).
///
/// Numbers starting 999 are the range NHS England reserves for testing, so no real person
/// has one. The nine-digit body is `999_000_000 + 2·global + t` with `t ∈ {0, 1}` chosen
/// so a check digit exists.
/// Moving `t` from 0 to 1 changes the weighted sum by 2 (weight of digit 9), so both
/// choices cannot give the invalid remainder (check 10) at once, and distinct children
/// never share a body.
pub(crate) fn nhs_number(global: usize) -> Option<String> {
    if global >= MAX_CHILDREN {
        return None;
    }
    let base = 999_000_000u64 + 2 * global as u64;
    [base, base + 1].into_iter().find_map(|body| {
        let digits = body.to_string();
        nhs_check_digit(&digits).map(|c| format!("{digits}{c}"))
    })
}

/// One child as both partners know them.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub la_code: u16,
    pub upn: Option<String>,
    pub nhs_number: String,
    pub birth: NaiveDate,
    /// Primary need of the child's latest plan, if any: steers NHS service lines.
    pub need: Option<&'static str>,
    /// The `child` object council requests carry.
    pub json: Value,
}

/// A record before it is stored: stream, id, last-changed date and body.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub stream: usize,
    pub id: String,
    pub changed: NaiveDate,
    pub body: Map<String, Value>,
}

/// Council stream indices, in URL order.
pub(crate) const REQUESTS: usize = 0;
pub(crate) const ASSESSMENTS: usize = 1;
pub(crate) const PLANS: usize = 2;
pub(crate) const PLACEMENTS: usize = 3;
/// URL segment of each council stream.
pub(crate) const STREAM_NAMES: [&str; 4] = ["requests", "assessments", "plans", "placements"];

/// Everything the simulator serves at start.
pub(crate) struct World {
    pub children: Vec<Child>,
    pub council: Vec<Draft>,
    pub referrals: Vec<Map<String, Value>>,
    pub census: NaiveDate,
}

fn date(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.to_string()))
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An instant on `day` spread over the working day by `salt`, so records do not all share
/// one timestamp (which would make keyset pagination trivially easy to get right).
pub(crate) fn stamp(day: NaiveDate, salt: u64) -> DateTime<Utc> {
    let secs = 8 * 3600 + (salt % (10 * 3600)) as i64;
    day.and_time(NaiveTime::MIN).and_utc() + TimeDelta::seconds(secs)
}

fn setting_json(s: &Setting) -> Value {
    json!({
        "urn": s.urn,
        "ukprn": s.ukprn,
        "sen_setting": s.code,
        "sen_setting_other": s.other,
        "sen_unit": s.unit,
        "resourced_provision": s.resourced,
    })
}

/// Builds the world for `cfg`: every LA's persons, their council records and referrals.
pub(crate) fn build(cfg: &Sen2SimConfig) -> World {
    let mut world = World {
        children: Vec::new(),
        council: Vec::new(),
        referrals: Vec::new(),
        census: census_date(cfg.census_year),
    };
    for (la_index, la_code) in la_codes(cfg.las, cfg.first_la).into_iter().enumerate() {
        let generator = LaGenerator::new(cfg, la_code, la_index);
        // Stream 0 is the one write_sen2_return draws persons from: same persons.
        let mut rng = crate::la_rng(cfg.seed, la_index, 0);
        // Stream 2 is ours: NHS referrals never disturb the SEN2 draws.
        let mut nhs_rng = crate::la_rng(cfg.seed, la_index, 2);
        for k in 0..cfg.persons_per_la {
            let person = generator.person(&mut rng, k);
            let global = la_index * cfg.persons_per_la + k;
            let Some(nhs) = nhs_number(global) else {
                continue;
            };
            let child = add_person(&mut world, &person, la_code, k, nhs);
            referrals(&mut world, &mut nhs_rng, &child, global as u64);
            world.children.push(child);
        }
    }
    world
}

fn add_person(world: &mut World, p: &Person, la: u16, k: usize, nhs: String) -> Child {
    let child_json = json!({
        "upn": p.upn,
        "uln": p.uln,
        "upn_unknown": p.upn_unknown,
        "nhs_number": nhs,
        "forename": p.forename,
        "surname": p.surname,
        "date_of_birth": p.birth.to_string(),
        "sex": p.sex,
        "ethnicity": p.ethnicity,
        "postcode": p.postcode,
    });
    let mut need = None;
    for (ri, r) in p.requests.iter().enumerate() {
        let req_id = format!("REQ-{la:03}-{k:06}-{ri}");
        let mut changed = [r.received, r.outcome_date]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(world.census);
        let request = obj(json!({
            "id": req_id,
            "la_code": la,
            "child": child_json,
            "received_date": date(r.received),
            "request_source": r.source,
            "rya": r.rya,
            "outcome": r.outcome,
            "outcome_date": date(r.outcome_date),
            "mediation": r.mediation,
            "tribunal": r.tribunal,
            "exported_to_la": r.exported,
        }));
        if let Some(a) = &r.assessment {
            let asm_id = format!("ASM-{la:03}-{k:06}-{ri}");
            let flags = a.flags.unwrap_or_default();
            let a_changed = a.outcome_date.unwrap_or(changed);
            world.council.push(Draft {
                stream: ASSESSMENTS,
                id: asm_id.clone(),
                changed: a_changed,
                body: obj(json!({
                    "id": asm_id,
                    "request_id": req_id,
                    "upn": p.upn,
                    "nhs_number": nhs,
                    "outcome": a.outcome,
                    "outcome_date": date(a.outcome_date),
                    "week20_exception": a.week20,
                    "assessment_mediation": a.flags.map(|_| flags[0]),
                    "assessment_tribunal": a.flags.map(|_| flags[1]),
                    "other_mediation": a.flags.map(|_| flags[2]),
                    "other_tribunal": a.flags.map(|_| flags[3]),
                })),
            });
            changed = changed.max(a_changed);
            if let Some(plan) = &a.plan {
                let plan_id = format!("PLN-{la:03}-{k:06}-{ri}");
                let active = r.active.as_ref();
                let needs: Vec<&str> = active.map(|x| x.needs.clone()).unwrap_or_default();
                need = needs.first().copied().or(need);
                let mut p_changed = plan.start;
                if let Some(d) = plan.cease_date {
                    p_changed = p_changed.max(d);
                }
                if let Some(d) = active.and_then(|x| x.last_review.or(x.review_meeting)) {
                    p_changed = p_changed.max(d);
                }
                world.council.push(Draft {
                    stream: PLANS,
                    id: plan_id.clone(),
                    changed: p_changed,
                    body: obj(json!({
                        "id": plan_id,
                        "request_id": req_id,
                        "assessment_id": asm_id,
                        "upn": p.upn,
                        "nhs_number": nhs,
                        "start_date": plan.start.to_string(),
                        "named_settings": plan.details.iter().map(setting_json).collect::<Vec<_>>(),
                        "residential": plan.res,
                        "work_based": plan.wbp,
                        "personal_budget": plan.pb,
                        "organised_arrangements": plan.oa,
                        "direct_payments": plan.dp,
                        "cease_date": date(plan.cease_date),
                        "cease_reason": plan.cease_reason,
                        "primary_need": needs.first(),
                        "secondary_need": needs.get(1),
                        "transfer_from_la": active.and_then(|x| x.transfer_la),
                        "review_meeting_date": date(active.and_then(|x| x.review_meeting)),
                        "review_outcome": active.and_then(|x| x.review_outcome),
                        "last_review_date": date(active.and_then(|x| x.last_review)),
                    })),
                });
                changed = changed.max(p_changed);
                for (pi, pl) in active
                    .map(|x| x.placements.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    let id = format!("PLC-{la:03}-{k:06}-{ri}-{pi}");
                    let mut body = obj(setting_json(&pl.setting));
                    body.insert("id".into(), json!(id));
                    body.insert("plan_id".into(), json!(plan_id));
                    body.insert("upn".into(), json!(p.upn));
                    body.insert("nhs_number".into(), json!(nhs));
                    body.insert("rank".into(), json!(pi + 1));
                    body.insert("entry_date".into(), json!(pl.entry.to_string()));
                    body.insert("leaving_date".into(), date(pl.leaving));
                    world.council.push(Draft {
                        stream: PLACEMENTS,
                        id,
                        changed: pl.leaving.unwrap_or(pl.entry),
                        body,
                    });
                }
            }
        }
        world.council.push(Draft {
            stream: REQUESTS,
            id: req_id,
            changed,
            body: request,
        });
    }
    Child {
        la_code: la,
        upn: p.upn.clone(),
        nhs_number: nhs,
        birth: p.birth,
        need,
        json: child_json,
    }
}

/// NHS community service lines for children, with the provider's short service code and a
/// typical wait in weeks (send-domain.md §5.3: paediatrics ≈33, neurodevelopmental ≈40).
pub(crate) const SERVICE_LINES: [(&str, &str, f64); 5] = [
    ("community paediatrics", "CPAED", 33.0),
    ("speech and language therapy", "SALT", 22.0),
    ("occupational therapy", "OT", 18.0),
    ("physiotherapy", "PHYSIO", 12.0),
    ("neurodevelopmental assessment", "NDA", 40.0),
];

/// The children's community provider of an LA: Hertfordshire Community NHS Trust (RY4)
/// for Hertfordshire; elsewhere a made-up `X`-prefixed code, which no NHS trust has.
pub(crate) fn provider_code(la: u16) -> String {
    if la == 919 {
        "RY4".to_string()
    } else {
        format!("X{la:03}")
    }
}

/// How likely a child with primary need `need` is to have been referred to each service
/// line (same order as [`SERVICE_LINES`]). Children without a plan still see the
/// community paediatrician sometimes.
fn referral_odds(need: Option<&str>) -> [f64; 5] {
    match need {
        Some("ASD") => [0.5, 0.3, 0.25, 0.05, 0.7],
        Some("SLCN") => [0.35, 0.75, 0.1, 0.05, 0.25],
        Some("SEMH") => [0.3, 0.1, 0.1, 0.02, 0.35],
        Some("PD" | "PMLD" | "MSI") => [0.7, 0.35, 0.7, 0.7, 0.05],
        Some("SLD" | "DS") => [0.6, 0.5, 0.35, 0.25, 0.1],
        Some("HI" | "VI") => [0.4, 0.3, 0.1, 0.05, 0.05],
        Some(_) => [0.25, 0.2, 0.15, 0.03, 0.1],
        None => [0.2, 0.15, 0.05, 0.02, 0.15],
    }
}

/// Draws a wait in days with an exponential tail around `mean_weeks`.
fn wait_days(rng: &mut ChaCha8Rng, mean_weeks: f64) -> i64 {
    let x = -mean_weeks * 7.0 * (1.0 - rng.random::<f64>()).ln();
    (x.min(3.0 * 365.0) as i64).max(1)
}

/// A referral of `child` to service line `line`, referred on or before `latest`.
pub(crate) fn referral(
    rng: &mut ChaCha8Rng,
    child: &Child,
    id: String,
    line: usize,
    latest: NaiveDate,
) -> Map<String, Value> {
    let (name, code, mean) = SERVICE_LINES[line % SERVICE_LINES.len()];
    let provider = provider_code(child.la_code);
    let earliest = shift(child.birth, 180).max(shift(latest, -5 * 365));
    let referred = date_between(rng, earliest.min(latest), latest);
    let contact = shift(referred, wait_days(rng, mean));
    let first_contact = (contact <= latest).then_some(contact);
    let discharge = first_contact
        .map(|c| shift(c, rng.random_range(30..=720)))
        .filter(|d| *d <= latest);
    obj(json!({
        "referral_id": id,
        "nhs_number": child.nhs_number,
        "service_line": name,
        "provider_code": provider,
        "service_code": format!("{provider}-{code}"),
        "referral_date": referred.to_string(),
        "first_contact_date": date(first_contact),
        "discharge_date": date(discharge),
    }))
}

fn referrals(world: &mut World, rng: &mut ChaCha8Rng, child: &Child, global: u64) {
    let odds = referral_odds(child.need);
    for (line, p) in odds.into_iter().enumerate() {
        if rng.random_bool(p) {
            let id = format!("REF-{global:07}-{line}");
            let r = referral(rng, child, id, line, world.census);
            world.referrals.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nhs_numbers_are_valid_test_range_and_distinct() {
        let mut seen = HashSet::new();
        for g in (0..MAX_CHILDREN).step_by(97).chain(0..3000) {
            let n = nhs_number(g).unwrap();
            assert!(n.starts_with("999") && n.len() == 10);
            assert_eq!(nhs_check_digit(&n[..9]), Some(n.as_bytes()[9] - b'0'));
            seen.insert((g, n));
        }
        let distinct: HashSet<_> = seen.iter().map(|(_, n)| n.clone()).collect();
        assert_eq!(distinct.len(), seen.len());
        assert_eq!(nhs_number(MAX_CHILDREN), None);
        // The NHS's own published example.
        assert_eq!(nhs_check_digit("943476591"), Some(9));
    }
}
