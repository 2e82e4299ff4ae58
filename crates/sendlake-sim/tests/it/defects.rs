//! Injected defects: off, the files are what they always were; on, the summary says exactly
//! what the files hold, and the persons drawn do not change.

use std::collections::BTreeMap;
use std::fs;

use sendlake_sim::{DefectConfig, DefectKind, Sen2Format, Sen2SimConfig, Sen2SimSummary};

use crate::support::{Node, Sen2File, generate, parse, xml_files};

fn cfg(defects: Option<DefectConfig>) -> Sen2SimConfig {
    Sen2SimConfig {
        las: 2,
        persons_per_la: 400,
        seed: 11,
        defects,
        ..Sen2SimConfig::default()
    }
}

fn bytes(summary: &Sen2SimSummary) -> Vec<Vec<u8>> {
    let mut files: Vec<Vec<u8>> = xml_files(summary)
        .iter()
        .map(|f| fs::read(f).unwrap())
        .collect();
    let dir = summary.files[0].path.parent().unwrap();
    files.push(fs::read(dir.join("summary.json")).unwrap());
    files
}

/// The defects in one file, found the way the pipeline's rules find them (a date the
/// pipeline nulls is not compared again below it).
fn find_defects(file: &Sen2File) -> BTreeMap<DefectKind, u64> {
    let mut found = BTreeMap::new();
    let mut add = |k: DefectKind| *found.entry(k).or_insert(0) += 1;
    let before = |a: Option<chrono::NaiveDate>, b: Option<chrono::NaiveDate>| matches!((a, b), (Some(a), Some(b)) if a < b);
    for person in &file.persons {
        for r in person.all("Requests") {
            let mut request_date = r.date_of("RequestOutcomeDate");
            if before(request_date, r.date_of("ReceivedDate")) {
                add(DefectKind::RequestDateOrder);
                request_date = None;
            }
            if r.all("RYA").count() > 1 {
                add(DefectKind::DuplicateElement);
            }
            let outcome = r.text_of("RequestOutcome");
            if let Some(a) = r.child("Assessment") {
                if matches!(outcome, Some("N" | "W" | "A")) {
                    add(DefectKind::AssessmentUnexpected);
                }
                let decided = a.date_of("AssessmentOutcomeDate");
                let plan = a.child("NamedPlan");
                let start = plan.and_then(|p| p.date_of("StartDate"));
                if before(decided, request_date) {
                    add(DefectKind::AssessmentDateOrder);
                } else if a.text_of("AssessmentOutcome") != Some("H") && before(start, decided) {
                    add(DefectKind::PlanDateOrder);
                }
                if let Some(plan) = plan {
                    if matches!(a.text_of("AssessmentOutcome"), Some("N" | "W" | "A")) {
                        add(DefectKind::PlanUnexpected);
                    }
                    let cease = plan.date_of("CeaseDate");
                    if before(cease, start) {
                        add(DefectKind::CeaseDateOrder);
                    }
                    match (cease.is_some(), plan.child("CeaseReason").is_some()) {
                        (true, false) => add(DefectKind::CeaseDateWithoutReason),
                        (false, true) => add(DefectKind::CeaseReasonWithoutDate),
                        _ => {}
                    }
                }
            }
            if let Some(ap) = r.child("ActivePlans") {
                if !ap
                    .all("SENneed")
                    .any(|n| n.text_of("SENtypeRank") == Some("1"))
                {
                    add(DefectKind::NeedPrimary);
                }
                for pl in ap.all("PlacementDetail") {
                    if before(pl.date_of("LeavingDate"), pl.date_of("EntryDate")) {
                        add(DefectKind::PlacementDateOrder);
                    }
                    if ["URN", "UKPRN", "SENSetting"]
                        .iter()
                        .all(|e| pl.child(e).is_none())
                    {
                        add(DefectKind::SettingMissing);
                    }
                }
            }
        }
    }
    found
}

/// What identifies the persons of a file and their requests: defects must not change it.
fn persons(file: &Sen2File) -> Vec<(String, String, String, usize)> {
    let text = |n: &Node, e: &str| n.text_of(e).unwrap_or_default().to_owned();
    file.persons
        .iter()
        .map(|p| {
            (
                text(p, "Surname"),
                text(p, "UPN"),
                text(p, "PersonBirthDate"),
                p.all("Requests").count(),
            )
        })
        .collect()
}

#[test]
fn without_defects_the_output_is_unchanged() {
    let (_a, none) = generate(&cfg(None));
    // A config that lists no kind, or every kind at rate 0, injects nothing; only
    // summary.json records that a defect config was given.
    let (_b, zero) = generate(&cfg(Some(DefectConfig::uniform(0.0))));
    let (none, zero) = (bytes(&none), bytes(&zero));
    assert_eq!(none[..none.len() - 1], zero[..zero.len() - 1]);
    let json = String::from_utf8(none.last().unwrap().clone()).unwrap();
    assert!(!json.contains("defects"), "{json}");
}

#[test]
fn the_summary_counts_exactly_what_the_files_hold() {
    for format in [Sen2Format::V2026, Sen2Format::V2024] {
        let defects = DefectConfig::uniform(0.08);
        let (_d, summary) = generate(&Sen2SimConfig {
            format,
            ..cfg(Some(defects))
        });
        let mut total = 0;
        for f in &summary.files {
            let found = find_defects(&parse(&f.path));
            assert_eq!(found, f.counts.defects.by_kind, "{}", f.path.display());
            total += f.counts.defects.total();
        }
        // Every kind is exercised by a run this size.
        let totals = summary.totals();
        for kind in DefectKind::ALL {
            assert!(
                totals.defects.by_kind.get(&kind).is_some_and(|n| *n > 0),
                "{format}: no {kind:?} injected: {:?}",
                totals.defects
            );
        }
        assert_eq!(totals.defects.total(), total);
        // Reason codes add up: two kinds share CEASE_REASON_PAIRING, one nulled, one warned.
        let by_reason: u64 = totals
            .defects
            .nulled
            .values()
            .chain(totals.defects.warned.values())
            .sum();
        assert_eq!(by_reason, total);
        assert_eq!(
            totals.defects.nulled.get("CEASE_REASON_PAIRING"),
            totals
                .defects
                .by_kind
                .get(&DefectKind::CeaseReasonWithoutDate)
        );
    }
}

#[test]
fn defects_do_not_change_the_persons_drawn() {
    let (_a, clean) = generate(&cfg(None));
    let (_b, broken) = generate(&cfg(Some(DefectConfig::uniform(0.3))));
    for (c, b) in clean.files.iter().zip(&broken.files) {
        assert_eq!(persons(&parse(&c.path)), persons(&parse(&b.path)));
        assert_eq!(
            (c.counts.persons, c.counts.requests, c.counts.placements),
            (b.counts.persons, b.counts.requests, b.counts.placements)
        );
        assert!(b.counts.defects.total() > 0);
    }
    // And the same config gives the same bytes.
    let (_c, again) = generate(&cfg(Some(DefectConfig::uniform(0.3))));
    assert_eq!(bytes(&broken), bytes(&again));
}

#[test]
fn the_summary_json_reports_the_defects_per_file() {
    let (dir, summary) = generate(&cfg(Some(DefectConfig::only(
        DefectKind::RequestDateOrder,
        0.5,
    ))));
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    for (i, f) in summary.files.iter().enumerate() {
        let n = f.counts.defects.by_kind[&DefectKind::RequestDateOrder];
        assert!(n > 0);
        let d = &json["files"][i]["counts"]["defects"];
        assert_eq!(d["nulled"]["REQUEST_DATE_ORDER"], n);
        assert_eq!(d["by_kind"]["request_date_order"], n);
    }
    assert_eq!(json["defects"]["rates"]["request_date_order"], 0.5);
}

#[test]
fn bad_rates_are_refused() {
    for rate in [-0.1, 1.5, f64::NAN] {
        assert!(cfg(Some(DefectConfig::uniform(rate))).validate().is_err());
    }
    assert!(cfg(Some(DefectConfig::uniform(1.0))).validate().is_ok());
}
