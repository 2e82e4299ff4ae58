//! One person's SEN2 records as plain data, shaped like the XML modules.
//!
//! The generator fills a [`Person`], the writer serialises it and drops it: at most one
//! person is held in memory at a time.

use chrono::NaiveDate;

/// Module 1 plus its requests.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub surname: String,
    pub forename: String,
    pub birth: NaiveDate,
    pub sex: &'static str,
    pub ethnicity: &'static str,
    pub postcode: String,
    pub upn: Option<String>,
    pub uln: Option<String>,
    pub upn_unknown: Option<&'static str>,
    /// Never empty (the XSD wants 1..n).
    pub requests: Vec<Request>,
}

/// Module 2.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub received: Option<NaiveDate>,
    /// 1..=5; written only in the 2026 format.
    pub source: u8,
    pub rya: Option<bool>,
    pub outcome_date: Option<NaiveDate>,
    /// Y, N, A, W or H.
    pub outcome: &'static str,
    pub mediation: Option<bool>,
    pub tribunal: Option<bool>,
    pub exported: Option<u16>,
    /// An injected defect: `RYA` written a second time, with the other value.
    pub rya_repeated: bool,
    pub assessment: Option<Assessment>,
    pub active: Option<ActivePlan>,
}

/// Module 3.
#[derive(Debug, Clone, Default)]
pub(crate) struct Assessment {
    /// Y, N, A, W or H.
    pub outcome: &'static str,
    pub outcome_date: Option<NaiveDate>,
    /// AssessmentMediation, AssessmentTribunal, OtherMediation, OtherTribunal; all or none.
    pub flags: Option<[bool; 4]>,
    pub week20: Option<bool>,
    pub plan: Option<NamedPlan>,
}

/// Module 4a (with its 4b rows).
#[derive(Debug, Clone)]
pub(crate) struct NamedPlan {
    pub start: NaiveDate,
    /// 1 or 2 settings, ranks 1 then 2.
    pub details: Vec<Setting>,
    pub res: Option<&'static str>,
    pub wbp: Option<&'static str>,
    pub pb: Option<bool>,
    pub oa: Option<bool>,
    pub dp: Option<&'static str>,
    /// CeaseDate and CeaseReason travel together, unless a defect is injected.
    pub cease_date: Option<NaiveDate>,
    pub cease_reason: Option<u8>,
}

/// Where a plan names, or a placement is: the common part of PlanDetail and
/// PlacementDetail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub urn: Option<u32>,
    pub ukprn: Option<u32>,
    /// Always present: the third-party XSD requires SENSetting even beside a URN/UKPRN.
    pub code: &'static str,
    pub other: Option<&'static str>,
    pub unit: bool,
    pub resourced: bool,
    pub res: Option<&'static str>,
    pub wbp: Option<&'static str>,
}

/// Module 5b.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub setting: Setting,
    pub entry: NaiveDate,
    pub leaving: Option<NaiveDate>,
    /// An injected defect: no URN, UKPRN or SENSetting is written.
    pub setting_missing: bool,
}

/// Module 5a (with 5b and 5c rows).
#[derive(Debug, Clone, Default)]
pub(crate) struct ActivePlan {
    pub transfer_la: Option<u16>,
    /// 1 or 2, ranks 1 then 2.
    pub placements: Vec<Placement>,
    /// 1 or 2 distinct SEN types, rank 1 first.
    pub needs: Vec<&'static str>,
    /// An injected defect: the needs are written from rank 2 (no primary need).
    pub primary_missing: bool,
    pub review_meeting: Option<NaiveDate>,
    pub review_outcome: Option<&'static str>,
    pub last_review: Option<NaiveDate>,
    pub review_draft: Option<NaiveDate>,
    pub phase_transfer_due: Option<NaiveDate>,
    pub phase_transfer_final: Option<NaiveDate>,
}
