//! The simulation: one [`Person`] at a time, each a consistent story of requests,
//! assessments, plans and placements around one census day.
//!
//! Persons fall into three scenarios, calibrated so that ≈80% hold a live plan on census
//! day (send-domain.md §7.3–7.4):
//!
//! * **historical live** (66%): a plan issued before the activity period, still maintained
//!   (`RequestOutcome`/`AssessmentOutcome` H), with placements, needs and annual reviews;
//! * **historical ceased** (5.5%, ≈7% of the caseload): the same, but ceased in the year;
//! * **flow** (28.5%): a request whose timeline (decision, assessment, issue) is simulated
//!   day by day and cut off at census day, which yields the pending (`A`) states
//!   naturally. ≈10% of flow persons (≈3% of all) first had a request refused or
//!   withdrawn.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sendlake_calendar::age_on;

use crate::calendar::{Period, date_between, reception_year, shift, ymd};
use crate::config::{Sen2Format, Sen2SimConfig};
use crate::ids::{MOVED_IN_MAX_INDEX, UpnKind, make_uln, make_upn};
use crate::model::{ActivePlan, Assessment, NamedPlan, Person, Placement, Request, Setting};
use crate::names::{forename, postcode, postcode_districts, surname};
use crate::places::{choose_setting, dual_setting, entry_date, other_la};
use crate::tables::{
    CEASED_AGES, DS_SHARE, ETHNICITY, FLOW_AGES, LIVE_AGES, NEEDS, REQUEST_SOURCE, REVIEW_OUTCOME,
    SEX, START_AGES, UPN_UNKNOWN, cease_reasons, extended_ethnicity, pick,
};

const P_HIST_LIVE: f64 = 0.66;
const P_HIST_CEASED: f64 = 0.055;
/// Among flow persons; gives ≈3% of all persons two requests.
const P_TWO_REQUESTS: f64 = 0.105;
/// Historical live plans transferred in from another LA during the year.
const P_TRANSFER_IN: f64 = 0.02;
const P_DUAL_REGISTRATION: f64 = 0.02;
const P_SECOND_NEED: f64 = 0.30;

// Flow timeline probabilities.
/// Requests withdrawn before the decision whether to assess.
const P_REQUEST_WITHDRAWN: f64 = 0.025;
/// Refusals among decisions on a person's latest request; earlier refused requests of
/// two-request persons bring the overall refusal share up to ≈25%.
const P_REFUSED: f64 = 0.21;
/// Agreed assessments withdrawn (or the CYP moved away) before a decision to issue.
const P_ASSESSMENT_WITHDRAWN: f64 = 0.025;
/// Agreed assessments ending in a decision not to issue (≈11–12% of completed ones).
const P_NOT_ISSUED: f64 = 0.11;
/// Issued plans finalised within 20 weeks (140 days) of the request: the 20-week KPI
/// lands at ≈55%, between the 2024 national (46%) and Herts (≈55%) rates.
const P_WITHIN_20_WEEKS: f64 = 0.56;

/// Generates the persons of one LA file.
pub(crate) struct LaGenerator {
    la_code: u16,
    la_index: usize,
    persons_per_la: usize,
    period: Period,
    format: Sen2Format,
    /// DS (Down syndrome) is collected from January 2026 and only our 2026 XSD admits it.
    ds_allowed: bool,
    districts: Vec<String>,
}

/// Outcome of simulating one request's timeline up to census day.
struct Timeline {
    request: Request,
    /// Date of the latest decision or issue; `None` while something is still pending.
    last_event: Option<NaiveDate>,
    plan_start: Option<NaiveDate>,
}

impl LaGenerator {
    pub(crate) fn new(cfg: &Sen2SimConfig, la_code: u16, la_index: usize) -> Self {
        Self {
            la_code,
            la_index,
            persons_per_la: cfg.persons_per_la,
            period: Period::new(cfg.census_year),
            format: cfg.format,
            ds_allowed: cfg.format == Sen2Format::V2026 && cfg.census_year >= 2026,
            districts: postcode_districts(la_code),
        }
    }

    pub(crate) fn period(&self) -> &Period {
        &self.period
    }

    /// Person number `k` (0-based) of this LA.
    pub(crate) fn person(&self, rng: &mut ChaCha8Rng, k: usize) -> Person {
        let roll = rng.random::<f64>();
        let (birth, requests) = if roll < P_HIST_LIVE {
            let birth = self.birth(rng, &LIVE_AGES);
            (birth, vec![self.historical(rng, birth, false)])
        } else if roll < P_HIST_LIVE + P_HIST_CEASED {
            let birth = self.birth(rng, &CEASED_AGES);
            (birth, vec![self.historical(rng, birth, true)])
        } else {
            let birth = self.birth(rng, &FLOW_AGES);
            (birth, self.flow(rng, birth))
        };
        let (upn, uln, upn_unknown) = self.identity(rng, k, birth);
        let main_ethnicity = pick(rng, &ETHNICITY);
        let ethnicity = if self.format == Sen2Format::V2026 && rng.random_bool(0.04) {
            extended_ethnicity(main_ethnicity, rng.random_range(0..3)).unwrap_or(main_ethnicity)
        } else {
            main_ethnicity
        };
        Person {
            surname: surname(rng),
            forename: forename(rng),
            birth,
            sex: pick(rng, &SEX),
            ethnicity,
            postcode: postcode(rng, &self.districts),
            upn,
            uln,
            upn_unknown,
            requests,
        }
    }

    /// A birth date giving an age, drawn from `ages`, in whole years on census day.
    fn birth<const N: usize>(&self, rng: &mut ChaCha8Rng, ages: &[(i32, f64); N]) -> NaiveDate {
        let age = pick(rng, ages);
        let c = self.period.census;
        let latest = ymd(c.year() - age, c.month(), c.day());
        let earliest = shift(ymd(c.year() - age - 1, c.month(), c.day()), 1);
        date_between(rng, earliest, latest)
    }

    /// UPN / ULN / UPNunknown. See `ids.rs` for why these never collide across files.
    fn identity(
        &self,
        rng: &mut ChaCha8Rng,
        k: usize,
        birth: NaiveDate,
    ) -> (Option<String>, Option<String>, Option<&'static str>) {
        let age = age_on(birth, self.period.census);
        if rng.random_bool(0.02) {
            return (None, None, Some(pick(rng, &UPN_UNKNOWN)));
        }
        let uln_only = age >= 16 && rng.random_bool(0.015);
        let upn = if uln_only {
            None
        } else {
            let roll = rng.random::<f64>();
            let kind = if roll < 0.01 {
                UpnKind::Temporary
            } else if roll < 0.08 && k < MOVED_IN_MAX_INDEX {
                UpnKind::MovedIn {
                    from_la: other_la(rng, self.la_code),
                }
            } else {
                UpnKind::Home
            };
            // UPNs are issued when a child first joins a school, usually in Reception.
            let issued = reception_year(birth).min(self.period.academic_year);
            make_upn(
                kind,
                self.la_code,
                self.la_index,
                k,
                issued.rem_euclid(100) as u32,
            )
        };
        let uln = if age >= 14 && (uln_only || rng.random_bool(0.6)) {
            make_uln((self.la_index * self.persons_per_la + k) as u64)
        } else {
            None
        };
        let unknown = (upn.is_none() && uln.is_none()).then_some("UN4");
        (upn, uln, unknown)
    }

    fn need(&self, rng: &mut ChaCha8Rng) -> &'static str {
        if self.ds_allowed && rng.random_bool(DS_SHARE) {
            "DS"
        } else {
            pick(rng, &NEEDS)
        }
    }

    /// A request whose plan was issued before the activity period (RequestOutcome and
    /// AssessmentOutcome H); live on census day unless `ceased`.
    fn historical(&self, rng: &mut ChaCha8Rng, birth: NaiveDate, ceased: bool) -> Request {
        let p = self.period;
        let latest = shift(p.start, -1);
        let earliest = shift(birth, 120);
        let start_age = pick(rng, &START_AGES);
        let mut start = shift(birth, i64::from(start_age) * 365 + rng.random_range(0..365));
        if start > latest || start < earliest {
            // The drawn start age does not fit this child: any date in the last few years.
            start = date_between(rng, earliest.max(shift(latest, -4 * 365)), latest);
        }
        let transfer_in = !ceased && rng.random_bool(P_TRANSFER_IN);

        let mut request = Request {
            source: pick(rng, &REQUEST_SOURCE),
            outcome: "H",
            rya: rng.random_bool(0.5).then_some(false),
            ..Request::default()
        };
        let mut assessment = Assessment {
            outcome: "H",
            ..Assessment::default()
        };
        // Transferred-in plans, and some old records, carry no request dates.
        if !transfer_in && rng.random_bool(0.92) {
            let received = shift(start, -rng.random_range(100..=300)).max(shift(birth, 30));
            let decided = shift(received, rng.random_range(14..=56)).min(start);
            request.received = Some(received);
            request.outcome_date = Some(decided);
            if rng.random_bool(0.85) {
                let issued = shift(start, -rng.random_range(3..=30)).clamp(decided, start);
                assessment.outcome_date = Some(issued);
            }
        }

        let age = age_on(birth, p.census);
        let yg = p.year_group(birth);
        let need = self.need(rng);
        if ceased {
            let (_, setting) = choose_setting(rng, self.la_code, yg, need);
            let cease_date = date_between(rng, p.start.max(shift(start, 1)), p.census);
            let reason = pick(rng, &cease_reasons(age));
            let mut plan = self.named_plan(rng, start, vec![setting]);
            plan.cease_date = Some(cease_date);
            plan.cease_reason = Some(reason);
            assessment.plan = Some(plan);
        } else {
            let (mut active, details) = self.active_plan(rng, birth, need);
            if transfer_in {
                active.transfer_la = Some(other_la(rng, self.la_code));
            }
            self.reviews(rng, &mut active, start, yg);
            assessment.plan = Some(self.named_plan(rng, start, details));
            request.active = Some(active);
        }
        request.assessment = Some(assessment);
        request
    }

    fn named_plan(
        &self,
        rng: &mut ChaCha8Rng,
        start: NaiveDate,
        details: Vec<Setting>,
    ) -> NamedPlan {
        let pb = rng.random_bool(0.75).then(|| rng.random_bool(0.08));
        let with_budget = pb == Some(true);
        NamedPlan {
            start,
            res: details.first().and_then(|d| d.res),
            wbp: details.first().and_then(|d| d.wbp),
            details,
            pb,
            oa: with_budget.then(|| rng.random_bool(0.4)),
            dp: (with_budget && rng.random_bool(0.6))
                .then(|| pick(rng, &[("E", 40.0), ("S", 25.0), ("H", 5.0), ("I", 30.0)])),
            cease_date: None,
            cease_reason: None,
        }
    }

    /// The census-day snapshot of a live plan, plus the settings its NamedPlan names.
    fn active_plan(
        &self,
        rng: &mut ChaCha8Rng,
        birth: NaiveDate,
        need: &'static str,
    ) -> (ActivePlan, Vec<Setting>) {
        let p = &self.period;
        let yg = p.year_group(birth);
        let mut needs = vec![need];
        if rng.random_bool(P_SECOND_NEED) {
            // Ten tries make a repeat of the primary need vanishingly unlikely; if it
            // still happens the plan just keeps one need.
            if let Some(second) = (0..10).map(|_| self.need(rng)).find(|n| *n != need) {
                needs.push(second);
            }
        }

        let (kind, setting) = choose_setting(rng, self.la_code, yg, need);
        let entry = entry_date(rng, kind, birth, p);
        // Mostly the plan names where the CYP is; sometimes a new school not yet started.
        let named = if rng.random_bool(0.92) {
            setting.clone()
        } else {
            choose_setting(rng, self.la_code, yg, need).1
        };
        let mut details = vec![named];
        let mut placements = vec![Placement {
            setting,
            entry,
            leaving: None,
            setting_missing: false,
        }];
        if rng.random_bool(P_DUAL_REGISTRATION) {
            let (_, second) = dual_setting(rng, self.la_code, kind, yg);
            if second != placements[0].setting {
                let entry2 = date_between(rng, entry.max(shift(p.census, -365)), p.census);
                let leaving = rng
                    .random_bool(0.2)
                    .then(|| date_between(rng, entry2, p.census));
                details.push(second.clone());
                placements.push(Placement {
                    setting: second,
                    entry: entry2,
                    leaving,
                    setting_missing: false,
                });
            }
        }
        let active = ActivePlan {
            placements,
            needs,
            ..ActivePlan::default()
        };
        (active, details)
    }

    /// Annual review items and, for CYP who changed phase last September, the phase
    /// transfer dates (15 February, or 31 March for the move to post-16, of that year).
    fn reviews(&self, rng: &mut ChaCha8Rng, active: &mut ActivePlan, start: NaiveDate, yg: i32) {
        let p = &self.period;
        if rng.random_bool(0.9) {
            let lo = shift(start, 60).max(shift(p.census, -365));
            let hi = shift(p.census, -3);
            if lo <= hi {
                let meeting = date_between(rng, lo, hi);
                active.review_meeting = Some(meeting);
                if rng.random_bool(0.95) {
                    let outcome = pick(rng, &REVIEW_OUTCOME);
                    active.review_outcome = Some(outcome);
                    // The LA's decision is due within 4 weeks of the meeting; about a third
                    // come later (nationally fewer than half are within: send-domain.md §3.5),
                    // so the annual review KPIs see both.
                    let decided = shift(meeting, rng.random_range(0..=42));
                    if decided <= p.census {
                        active.last_review = Some(decided);
                        if outcome == "A" && rng.random_bool(0.7) {
                            let draft = shift(decided, rng.random_range(7..=56));
                            active.review_draft = (draft <= p.census).then_some(draft);
                        }
                    }
                }
            }
        }
        if matches!(yg, 0 | 7 | 12) && rng.random_bool(0.85) {
            let due = if yg == 12 {
                ymd(p.academic_year, 3, 31)
            } else {
                ymd(p.academic_year, 2, 15)
            };
            if start < due {
                let final_date = if rng.random_bool(0.75) {
                    shift(due, -rng.random_range(0..=45))
                } else {
                    shift(due, rng.random_range(1..=120))
                };
                active.phase_transfer_due = Some(due);
                active.phase_transfer_final = Some(final_date.max(start).min(p.census));
            }
        }
    }

    /// Requests of a flow person: one simulated request, sometimes preceded by a refused
    /// or withdrawn one that closed before the second was received.
    fn flow(&self, rng: &mut ChaCha8Rng, birth: NaiveDate) -> Vec<Request> {
        let p = self.period;
        let earliest = shift(birth, 60);
        if rng.random_bool(P_TWO_REQUESTS) {
            let lo = p.start.max(earliest);
            let hi = shift(p.end, -120);
            if lo <= hi {
                let received = date_between(rng, lo, hi);
                let mut first = Request {
                    received: Some(received),
                    source: pick(rng, &REQUEST_SOURCE),
                    rya: Some(false),
                    mediation: Some(false),
                    tribunal: Some(false),
                    ..Request::default()
                };
                let closed = if rng.random_bool(0.2) {
                    first.outcome = "W";
                    shift(received, rng.random_range(7..=30))
                } else {
                    first.outcome = "N";
                    first.mediation = Some(rng.random_bool(0.05));
                    shift(received, rng.random_range(14..=42))
                };
                first.outcome_date = Some(closed);
                let second_received = date_between(rng, shift(closed, 28), p.end);
                let second = self.timeline(rng, birth, second_received);
                return vec![first, second.request];
            }
        }
        // Requests received up to eight months before the period are in scope if a
        // decision or issue falls inside it; that is what lets long-running cases appear.
        let lo = shift(p.start, -240).max(earliest);
        for _ in 0..12 {
            let received = date_between(rng, lo, p.end);
            let t = self.timeline(rng, birth, received);
            let active_in_period = received >= p.start || t.last_event.is_none_or(|d| d >= p.start);
            let plan_is_new = t.plan_start.is_none_or(|s| s >= p.start);
            if active_in_period && plan_is_new {
                return vec![t.request];
            }
        }
        let received = date_between(rng, p.start.max(earliest), p.end);
        vec![self.timeline(rng, birth, received).request]
    }

    /// Runs one request from receipt to census day.
    fn timeline(&self, rng: &mut ChaCha8Rng, birth: NaiveDate, received: NaiveDate) -> Timeline {
        let p = self.period;
        let census = p.census;
        let age = age_on(birth, census);
        let mut request = Request {
            received: Some(received),
            source: pick(rng, &REQUEST_SOURCE),
            rya: Some((10..=17).contains(&age) && rng.random_bool(0.01)),
            outcome: "A",
            mediation: Some(false),
            tribunal: Some(false),
            ..Request::default()
        };
        let pending = |request| Timeline {
            request,
            last_event: None,
            plan_start: None,
        };

        if rng.random_bool(P_REQUEST_WITHDRAWN) {
            let withdrawn = shift(received, rng.random_range(5..=40));
            if withdrawn > census {
                return pending(request);
            }
            request.outcome = "W";
            request.outcome_date = Some(withdrawn);
            return Timeline {
                request,
                last_event: Some(withdrawn),
                plan_start: None,
            };
        }
        // 6-week decision for most; a tail of late decisions.
        let lag = if rng.random_bool(0.72) {
            rng.random_range(10..=42)
        } else {
            rng.random_range(43..=100)
        };
        let decided = shift(received, lag);
        if decided > census {
            return pending(request);
        }
        request.outcome_date = Some(decided);
        if rng.random_bool(P_REFUSED) {
            request.outcome = "N";
            request.mediation = Some(rng.random_bool(0.04));
            request.tribunal = Some(rng.random_bool(0.06));
            return Timeline {
                request,
                last_event: Some(decided),
                plan_start: None,
            };
        }
        request.outcome = "Y";

        let mut assessment = Assessment {
            outcome: "A",
            flags: Some([rng.random_bool(0.015), false, rng.random_bool(0.01), false]),
            ..Assessment::default()
        };
        let mut last_event = None;
        let mut plan_start = None;
        let roll = rng.random::<f64>();
        if roll < P_ASSESSMENT_WITHDRAWN {
            let withdrawn = shift(decided, rng.random_range(14..=80));
            if withdrawn <= census {
                assessment.outcome = "W";
                assessment.outcome_date = Some(withdrawn);
                // Some leave the area mid-assessment: Exported names the LA they moved to.
                if rng.random_bool(0.3) {
                    request.exported = Some(other_la(rng, self.la_code));
                }
                last_event = Some(withdrawn);
            }
        } else if roll < P_ASSESSMENT_WITHDRAWN + P_NOT_ISSUED {
            // Not to issue: due within 16 weeks of the request, often met.
            let days = if rng.random_bool(0.8) {
                rng.random_range(70..=112)
            } else {
                rng.random_range(113..=200)
            };
            let outcome_date = shift(received, days).max(decided);
            if outcome_date <= census {
                assessment.outcome = "N";
                assessment.outcome_date = Some(outcome_date);
                assessment.week20 = Some(false);
                if let Some(flags) = assessment.flags.as_mut() {
                    flags[1] = rng.random_bool(0.06);
                }
                last_event = Some(outcome_date);
            }
        } else {
            let within = rng.random_bool(P_WITHIN_20_WEEKS);
            let days = if within {
                rng.random_range(84..=140)
            } else {
                // Long tail beyond 20 weeks, mean ≈ 8 weeks over, capped near a year.
                let over = -55.0 * (1.0 - rng.random::<f64>()).ln();
                141 + over.min(190.0) as i64
            };
            let start = shift(received, days).max(shift(decided, 28));
            if start <= census {
                let issue_decision = shift(start, -rng.random_range(7..=35)).max(decided);
                let late = (start - received).num_days() > 140;
                assessment.outcome = "Y";
                assessment.outcome_date = Some(issue_decision);
                // Exceptions (reg 10(4)) mostly explain late plans: ≈6% of new plans.
                assessment.week20 = Some(rng.random_bool(if late { 0.12 } else { 0.012 }));
                if let Some(flags) = assessment.flags.as_mut() {
                    flags[3] = rng.random_bool(0.02);
                }
                let need = self.need(rng);
                let (active, details) = self.active_plan(rng, birth, need);
                assessment.plan = Some(self.named_plan(rng, start, details));
                request.active = Some(active);
                last_event = Some(start);
                plan_start = Some(start);
            }
        }
        request.assessment = Some(assessment);
        Timeline {
            request,
            last_event,
            plan_start,
        }
    }
}
