//! EHC plan quality-audit grades keyed by the council API's plan ids, so the demo can join
//! audit results to the plans the SEN2 returns and the council API hold.

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use rand::Rng;

use super::geography::herts_district_of;
use super::row_rng;
use crate::calendar::ymd;
use crate::generate::LaGenerator;
use crate::tables::pick;
use crate::{Sen2SimConfig, SimError, la_codes};

/// The audit workbook's column headers.
pub const QUALITY_AUDIT_HEADERS: [&str; 15] = [
    "Plan reference",
    "Local authority (code)",
    "Locality",
    "Audit date",
    "Section A grade",
    "Section B grade",
    "Section C grade",
    "Section D grade",
    "Section E grade",
    "Section F grade",
    "Section G grade",
    "Section H grade",
    "Section I grade",
    "Section K grade",
    "Overall grade",
];

/// Audit grades, best first.
pub const GRADES: [&str; 4] = ["Outstanding", "Good", "Requires improvement", "Inadequate"];

/// Sections graded (A views and aspirations, B needs, C health needs, D social care needs,
/// E outcomes, F provision, G health provision, H social care provision, I placement, K
/// advice and information); C, D, G and H are blank when they do not apply.
const SECTIONS: usize = 10;

/// One audited plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityAuditRow {
    /// The council API's plan id, `PLN-{la}-{person}-{request}`.
    pub plan_reference: String,
    /// The LA's DfE code.
    pub la_code: u16,
    /// The SEND quadrant of the child's home postcode.
    pub locality: &'static str,
    /// When the plan was audited.
    pub audit_date: NaiveDate,
    /// Grades of sections A–I and K in [`QUALITY_AUDIT_HEADERS`] order (`None`: not
    /// applicable, a blank cell).
    pub section_grades: [Option<&'static str>; SECTIONS],
    /// The overall grade.
    pub overall: &'static str,
}

/// About 300 audits of Hertfordshire plans (the first LA of `cfg`, which must be 919): every
/// live plan the simulator holds for its persons, in person order, audited once between
/// January and August 2026 (a working day, after the plan started), with grades improving
/// over the year (good or outstanding overall about 57% in the first half and 69% in the
/// second, 63% in all, on from the 51% Hertfordshire reported for Q4 2024). `cfg` should be
/// [`demo_files_config`](super::demo_files_config).
///
/// # Errors
/// [`SimError::Config`] if `cfg` is invalid or its first LA is not Hertfordshire (localities
/// are Hertfordshire's).
pub fn quality_audit_rows(cfg: &Sen2SimConfig) -> Result<Vec<QualityAuditRow>, SimError> {
    cfg.validate()?;
    let la = la_codes(cfg.las, cfg.first_la)
        .first()
        .copied()
        .unwrap_or_default();
    if la != 919 {
        return Err(SimError::Config(format!(
            "the quality audit is Hertfordshire's; the first LA is {la:03}"
        )));
    }
    let generator = LaGenerator::new(cfg, la, 0);
    // The same stream `write_sen2_return` and the council API draw LA 0's persons from.
    let mut rng = crate::la_rng(cfg.seed, 0, 0);
    let first_day = ymd(2026, 1, 5);
    let last_day = ymd(2026, 8, 28);
    let span = (last_day - first_day).num_days();
    let mut rows = Vec::new();
    for k in 0..cfg.persons_per_la {
        let person = generator.person(&mut rng, k);
        let locality = herts_district_of(&person.postcode).map_or("North", |d| d.quadrant);
        for (ri, request) in person.requests.iter().enumerate() {
            let Some(plan) = request.assessment.as_ref().and_then(|a| a.plan.as_ref()) else {
                continue;
            };
            if plan.cease_date.is_some() {
                continue;
            }
            let mut g = row_rng(b"ehcp-qa-", k as u64, ri as u64);
            let earliest = plan.start.max(first_day) + TimeDelta::days(7);
            let from = (earliest - first_day).num_days().clamp(0, span);
            let mut date = first_day + TimeDelta::days(g.random_range(from..=span));
            while matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                date = date.pred_opt().unwrap_or(date);
            }
            let progress = (date - first_day).num_days() as f64 / span as f64;
            // Grade index: 0 Outstanding .. 3 Inadequate; quality improves with time.
            let good = 0.55 + 0.2 * progress;
            let weights = [
                (0u8, good * 0.15),
                (1, good * 0.85),
                (2, (1.0 - good) * 0.75),
                (3, (1.0 - good) * 0.25),
            ];
            let mut section_grades = [None; SECTIONS];
            let mut worst_core = 0u8;
            let mut grades = Vec::new();
            for (s, slot) in section_grades.iter_mut().enumerate() {
                // C, D, G, H (health and social care) do not apply to every plan.
                if matches!(s, 2 | 3 | 6 | 7) && g.random_bool(0.3) {
                    continue;
                }
                let grade = pick(&mut g, &weights);
                if matches!(s, 1 | 5) {
                    worst_core = worst_core.max(grade);
                }
                grades.push(grade);
                *slot = Some(GRADES[usize::from(grade)]);
            }
            grades.sort_unstable();
            let median = grades.get(grades.len() / 2).copied().unwrap_or(2);
            // Needs (B) and provision (F) are what the plan is for: an inadequate one of
            // them makes the plan inadequate whatever the rest.
            let overall = if worst_core == 3 { 3 } else { median };
            rows.push(QualityAuditRow {
                plan_reference: format!("PLN-{la:03}-{k:06}-{ri}"),
                la_code: la,
                locality,
                audit_date: date,
                section_grades,
                overall: GRADES[usize::from(overall)],
            });
        }
    }
    Ok(rows)
}
#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::files::demo_files_config;
    use crate::files::geography::HERTS_QUADRANTS;

    #[test]
    fn audit_rows_are_live_herts_plans() {
        let rows = quality_audit_rows(&demo_files_config()).unwrap();
        assert!((250..=400).contains(&rows.len()), "{}", rows.len());
        let ids: HashSet<&str> = rows.iter().map(|r| r.plan_reference.as_str()).collect();
        assert_eq!(ids.len(), rows.len());
        assert!(
            rows.iter()
                .all(|r| r.plan_reference.starts_with("PLN-919-"))
        );
        for q in HERTS_QUADRANTS {
            assert!(rows.iter().any(|r| r.locality == q), "{q}");
        }
        assert!(
            rows.iter()
                .all(|r| !matches!(r.audit_date.weekday(), Weekday::Sat | Weekday::Sun))
        );
        let good = rows
            .iter()
            .filter(|r| r.overall == "Good" || r.overall == "Outstanding")
            .count();
        assert!(
            (0.35..0.75).contains(&(good as f64 / rows.len() as f64)),
            "{good}"
        );
        // Deterministic.
        assert_eq!(rows, quality_audit_rows(&demo_files_config()).unwrap());
        let other = Sen2SimConfig {
            first_la: Some(202),
            ..demo_files_config()
        };
        assert!(quality_audit_rows(&other).is_err());
    }
}
