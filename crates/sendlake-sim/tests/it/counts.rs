//! The counts the generator reports equal what a plain element count of the file finds,
//! and `summary.json` carries the same numbers.

use std::collections::HashMap;
use std::fs;

use quick_xml::Reader;
use quick_xml::events::Event;
use sendlake_sim::{Sen2Counts, Sen2SimConfig};

use crate::support::generate;

fn count_elements(xml: &str) -> HashMap<String, u64> {
    let mut reader = Reader::from_str(xml);
    let mut counts = HashMap::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                *counts.entry(name).or_insert(0) += 1;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    counts
}

fn counts_from_file(xml: &str) -> Sen2Counts {
    let c = count_elements(xml);
    let n = |name: &str| c.get(name).copied().unwrap_or(0);
    Sen2Counts {
        persons: n("Person"),
        requests: n("Requests"),
        assessments: n("Assessment"),
        named_plans: n("NamedPlan"),
        plan_details: n("PlanDetail"),
        active_plans: n("ActivePlans"),
        placements: n("PlacementDetail"),
        sen_needs: n("SENneed"),
        ..Sen2Counts::default()
    }
}

#[test]
fn reported_counts_match_the_files_and_summary_json() {
    let cfg = sendlake_test::sim::sen2(3, 700, 5);
    let (dir, summary) = generate(&cfg);
    assert_eq!(summary.files.len(), 3);
    let mut total = Sen2Counts::default();
    for f in &summary.files {
        let xml = fs::read_to_string(&f.path).unwrap();
        let found = counts_from_file(&xml);
        assert_eq!(found, f.counts, "{}", f.path.display());
        assert_eq!(found.persons, 700);
        // Every element kind occurs, so an off-by-one in any counter would show.
        assert!(found.plan_details > found.named_plans && found.sen_needs > found.active_plans);
        assert!(found.placements > found.active_plans && found.requests > found.persons);
        total.persons += found.persons;
        total.requests += found.requests;
        total.active_plans += found.active_plans;
    }
    assert_eq!(summary.totals().persons, total.persons);
    assert_eq!(summary.totals().requests, total.requests);
    assert_eq!(summary.totals().active_plans, total.active_plans);

    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let totals: Sen2Counts = serde_json::from_value(json["totals"].clone()).unwrap();
    assert_eq!(totals, summary.totals());
    for (entry, f) in json["files"].as_array().unwrap().iter().zip(&summary.files) {
        assert_eq!(entry["la_code"], u64::from(f.la_code));
        assert_eq!(
            entry["file"].as_str().unwrap(),
            f.path.file_name().unwrap().to_str().unwrap()
        );
        let counts: Sen2Counts = serde_json::from_value(entry["counts"].clone()).unwrap();
        assert_eq!(counts, f.counts);
    }
}

#[test]
fn file_names_and_la_order_follow_the_config() {
    let cfg = Sen2SimConfig {
        census_year: 2025,
        ..sendlake_test::sim::sen2(3, 5, Sen2SimConfig::default().seed)
    };
    let (_dir, summary) = generate(&cfg);
    let names: Vec<String> = summary
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "sen2_2025_919.xml",
            "sen2_2025_201.xml",
            "sen2_2025_202.xml"
        ]
    );
    assert_eq!(summary.files[0].la_code, 919);
}
