//! Injected defects: SEN2 items the pipeline degrades rather than rejects (a value nulled, or a
//! warning), so that a run's manifest can be checked against exactly what was injected.
//!
//! Each [`DefectKind`] is one cross-field rule of the pipeline (`schemas/rules.toml`) broken in
//! one item. [`DefectConfig`] gives each kind a rate: the share of eligible items that get it.
//! The draws come from their own random stream, after the person is generated, so turning
//! defects on never changes which children, requests or plans are drawn; with no
//! [`DefectConfig`] the output is exactly what it was without one.
//!
//! Kinds are chosen so that no two injected defects hide or double each other: a request
//! whose decision date is broken gets no assessment-date defect (the pipeline nulls the
//! request's date, so the assessment would have nothing to be out of order with), and the two
//! kinds that move `AssessmentOutcomeDate` exclude each other.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::calendar::shift;
use crate::model::{ActivePlan, Person, Request};

/// One kind of defect, named after what is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// `RequestOutcomeDate` before `ReceivedDate` (the pipeline nulls the decision date).
    RequestDateOrder,
    /// `AssessmentOutcomeDate` before the request's `RequestOutcomeDate` (nulled).
    AssessmentDateOrder,
    /// A new plan's `StartDate` before its `AssessmentOutcomeDate`: the decision date is moved
    /// after the start (the pipeline nulls the decision date).
    PlanDateOrder,
    /// A ceased plan's `CeaseDate` before its `StartDate` (warning).
    CeaseDateOrder,
    /// `CeaseReason` on a plan that has not ceased (the pipeline nulls the reason).
    CeaseReasonWithoutDate,
    /// `CeaseDate` without `CeaseReason` (warning: the plan stays ceased).
    CeaseDateWithoutReason,
    /// A placement's `LeavingDate` before its `EntryDate` (warning).
    PlacementDateOrder,
    /// The request's outcome turned to N although it has an `Assessment` (warning).
    AssessmentUnexpected,
    /// The assessment's outcome turned to N although it has a `NamedPlan` (warning).
    PlanUnexpected,
    /// An active plan without a rank 1 need: its primary need dropped, the other kept as
    /// rank 2 (warning).
    NeedPrimary,
    /// A placement with no `URN`, `UKPRN` or `SENSetting` (warning). Not XSD-valid: the XSD
    /// requires `SENSetting`.
    SettingMissing,
    /// `RYA` given twice with different values (the pipeline nulls it). Not XSD-valid.
    DuplicateElement,
}

/// What the pipeline does with a defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectOutcome {
    /// The value is nulled and quarantined; counted in the manifest's `field_rejects`.
    Nulled,
    /// The item loads as given; counted in the manifest's `warnings`.
    Warned,
}

impl DefectKind {
    /// Every kind, in the order they are drawn.
    pub const ALL: [DefectKind; 12] = [
        DefectKind::RequestDateOrder,
        DefectKind::AssessmentDateOrder,
        DefectKind::PlanDateOrder,
        DefectKind::CeaseDateOrder,
        DefectKind::CeaseReasonWithoutDate,
        DefectKind::CeaseDateWithoutReason,
        DefectKind::PlacementDateOrder,
        DefectKind::AssessmentUnexpected,
        DefectKind::PlanUnexpected,
        DefectKind::NeedPrimary,
        DefectKind::SettingMissing,
        DefectKind::DuplicateElement,
    ];

    /// The pipeline's reason code (rule id in `schemas/rules.toml`).
    pub fn reason(self) -> &'static str {
        match self {
            DefectKind::RequestDateOrder => "REQUEST_DATE_ORDER",
            DefectKind::AssessmentDateOrder => "ASSESSMENT_DATE_ORDER",
            DefectKind::PlanDateOrder => "PLAN_DATE_ORDER",
            DefectKind::CeaseDateOrder => "CEASE_DATE_ORDER",
            DefectKind::CeaseReasonWithoutDate | DefectKind::CeaseDateWithoutReason => {
                "CEASE_REASON_PAIRING"
            }
            DefectKind::PlacementDateOrder => "PLACEMENT_DATE_ORDER",
            DefectKind::AssessmentUnexpected => "ASSESSMENT_UNEXPECTED",
            DefectKind::PlanUnexpected => "PLAN_UNEXPECTED",
            DefectKind::NeedPrimary => "NEED_PRIMARY",
            DefectKind::SettingMissing => "SETTING_MISSING",
            DefectKind::DuplicateElement => "DUPLICATE_ELEMENT",
        }
    }

    /// What the pipeline does with it.
    pub fn outcome(self) -> DefectOutcome {
        match self {
            DefectKind::RequestDateOrder
            | DefectKind::AssessmentDateOrder
            | DefectKind::PlanDateOrder
            | DefectKind::CeaseReasonWithoutDate
            | DefectKind::DuplicateElement => DefectOutcome::Nulled,
            DefectKind::CeaseDateOrder
            | DefectKind::CeaseDateWithoutReason
            | DefectKind::PlacementDateOrder
            | DefectKind::AssessmentUnexpected
            | DefectKind::PlanUnexpected
            | DefectKind::NeedPrimary
            | DefectKind::SettingMissing => DefectOutcome::Warned,
        }
    }

    /// Whether a file with this defect still validates against the SEN2 XSD.
    pub fn xsd_valid(self) -> bool {
        !matches!(
            self,
            DefectKind::SettingMissing | DefectKind::DuplicateElement
        )
    }
}

/// Which defects to inject, and how often: for each kind, the share (0 to 1) of the items
/// that could carry it which do. Kinds not listed are not injected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DefectConfig {
    /// Rate per kind.
    pub rates: BTreeMap<DefectKind, f64>,
}

// Rates are compared as numbers; `validate` refuses NaN, so equality is reflexive.
impl Eq for DefectConfig {}

impl DefectConfig {
    /// Every kind at the same rate (e.g. `sendlake sim sen2 --defects 0.01`).
    pub fn uniform(rate: f64) -> Self {
        Self {
            rates: DefectKind::ALL.iter().map(|&k| (k, rate)).collect(),
        }
    }

    /// One kind only.
    pub fn only(kind: DefectKind, rate: f64) -> Self {
        Self {
            rates: BTreeMap::from([(kind, rate)]),
        }
    }

    /// Only the kinds whose files stay valid against the XSD, at `rate`.
    pub fn xsd_valid(rate: f64) -> Self {
        Self {
            rates: DefectKind::ALL
                .iter()
                .filter(|k| k.xsd_valid())
                .map(|&k| (k, rate))
                .collect(),
        }
    }

    /// The rate of `kind` (0 when not listed).
    pub fn rate(&self, kind: DefectKind) -> f64 {
        self.rates.get(&kind).copied().unwrap_or(0.0)
    }

    /// Checks that every rate is a share.
    ///
    /// # Errors
    /// [`SimError::Config`] naming the first kind whose rate is not within 0..=1.
    pub fn validate(&self) -> Result<(), SimError> {
        match self.rates.iter().find(|(_, r)| !(0.0..=1.0).contains(*r)) {
            Some((kind, rate)) => Err(SimError::Config(format!(
                "defect rate {rate} for {kind:?} must be within 0..=1"
            ))),
            None => Ok(()),
        }
    }
}

/// What was injected into one file (or a run), as the pipeline's manifest will count it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefectCounts {
    /// Values the pipeline nulls, by reason code (its `field_rejects`).
    pub nulled: BTreeMap<String, u64>,
    /// Warnings, by reason code (its `warnings`).
    pub warned: BTreeMap<String, u64>,
    /// Per kind.
    pub by_kind: BTreeMap<DefectKind, u64>,
}

impl DefectCounts {
    /// Nothing injected.
    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }

    /// Total injected.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    fn add(&mut self, kind: DefectKind, n: u64) {
        let by_reason = match kind.outcome() {
            DefectOutcome::Nulled => &mut self.nulled,
            DefectOutcome::Warned => &mut self.warned,
        };
        *by_reason.entry(kind.reason().to_owned()).or_default() += n;
        *self.by_kind.entry(kind).or_default() += n;
    }

    /// Adds another file's counts.
    pub fn merge(&mut self, other: &DefectCounts) {
        for (&kind, &n) in &other.by_kind {
            self.add(kind, n);
        }
    }
}

/// Injects defects into generated persons, one file at a time.
pub(crate) struct Injector<'a> {
    cfg: &'a DefectConfig,
    rng: ChaCha8Rng,
    census: NaiveDate,
    counts: DefectCounts,
}

impl<'a> Injector<'a> {
    pub(crate) fn new(cfg: &'a DefectConfig, rng: ChaCha8Rng, census: NaiveDate) -> Self {
        Self {
            cfg,
            rng,
            census,
            counts: DefectCounts::default(),
        }
    }

    pub(crate) fn finish(self) -> DefectCounts {
        self.counts
    }

    /// Whether this eligible item gets `kind`; counts it if so. A kind at rate 0 draws
    /// nothing.
    fn hit(&mut self, kind: DefectKind) -> bool {
        let rate = self.cfg.rate(kind);
        let hit = rate > 0.0 && self.rng.random_bool(rate);
        if hit {
            self.counts.add(kind, 1);
        }
        hit
    }

    /// A few days, for moving a date just past the one it must not pass.
    fn days(&mut self) -> i64 {
        self.rng.random_range(1..=14)
    }

    pub(crate) fn person(&mut self, person: &mut Person) {
        for r in &mut person.requests {
            self.request(r);
        }
    }

    fn request(&mut self, r: &mut Request) {
        let mut request_date_broken = false;
        if let (Some(received), Some(_)) = (r.received, r.outcome_date)
            && self.hit(DefectKind::RequestDateOrder)
        {
            r.outcome_date = Some(shift(received, -self.days()));
            request_date_broken = true;
        }
        if r.rya.is_some() && self.hit(DefectKind::DuplicateElement) {
            r.rya_repeated = true;
        }
        let request_date = r.outcome_date;
        if r.outcome == "Y" && r.assessment.is_some() && self.hit(DefectKind::AssessmentUnexpected)
        {
            r.outcome = "N";
        }
        if let Some(a) = &mut r.assessment {
            let start = a.plan.as_ref().map(|p| p.start);
            match (a.outcome_date, request_date, start) {
                (Some(_), Some(decided), _)
                    if !request_date_broken && self.hit(DefectKind::AssessmentDateOrder) =>
                {
                    a.outcome_date = Some(shift(decided, -self.days()));
                }
                // The decision date is moved after the start (not the start before the
                // decision, which could put the plan before its request), and never past
                // census day.
                (Some(_), _, Some(start))
                    if a.outcome != "H"
                        && start < self.census
                        && self.hit(DefectKind::PlanDateOrder) =>
                {
                    a.outcome_date = Some(shift(start, self.days()).min(self.census));
                }
                _ => {}
            }
            if a.outcome == "Y" && a.plan.is_some() && self.hit(DefectKind::PlanUnexpected) {
                a.outcome = "N";
            }
            if let Some(plan) = &mut a.plan {
                if plan.cease_date.is_some() {
                    if self.hit(DefectKind::CeaseDateOrder) {
                        plan.cease_date = Some(shift(plan.start, -self.days()));
                    }
                    if self.hit(DefectKind::CeaseDateWithoutReason) {
                        plan.cease_reason = None;
                    }
                } else if self.hit(DefectKind::CeaseReasonWithoutDate) {
                    plan.cease_reason = Some(self.rng.random_range(1..=9));
                }
            }
        }
        if let Some(active) = &mut r.active {
            self.active_plan(active);
        }
    }

    fn active_plan(&mut self, a: &mut ActivePlan) {
        if !a.needs.is_empty() && self.hit(DefectKind::NeedPrimary) {
            // Keep the secondary need if there is one: it is written as rank 2.
            a.needs.drain(..a.needs.len() - 1);
            a.primary_missing = true;
        }
        for p in &mut a.placements {
            if self.hit(DefectKind::PlacementDateOrder) {
                p.leaving = Some(shift(p.entry, -self.days()));
            }
            if self.hit(DefectKind::SettingMissing) {
                p.setting_missing = true;
            }
        }
    }
}
