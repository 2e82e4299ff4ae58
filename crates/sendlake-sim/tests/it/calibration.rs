//! The generated population looks like the published figures (send-domain.md §3, §7.3–7.4).
//! Bands are wide enough for sampling noise on ~8 000 persons and narrow enough to catch a
//! broken distribution.

use chrono::{Datelike, NaiveDate};
use sendlake_calendar::age_on;
use sendlake_sim::{Sen2Format, Sen2SimConfig};

use crate::support::{Node, generate, parse};

#[derive(Default, Debug)]
struct Tally {
    persons: f64,
    live: f64,
    ceased: f64,
    male: f64,
    live_aged_5_15: f64,
    aged_14_plus: f64,
    with_uln_14_plus: f64,
    upn_unknown: f64,
    two_requests: f64,
    request_yes: f64,
    request_no: f64,
    assess_yes: f64,
    assess_no: f64,
    new_plans_in_year: f64,
    within_20_weeks: f64,
    week20_exceptions: f64,
    primary_needs: f64,
    asd: f64,
    slcn: f64,
    semh: f64,
    ds: f64,
    placements_rank1: f64,
    mainstream: f64,
    special: f64,
    ukprn: f64,
    code_only: f64,
    extended_ethnicity: f64,
}

fn tally_person(t: &mut Tally, p: &Node, census: NaiveDate) {
    let period_start = NaiveDate::from_ymd_opt(census.year() - 1, 1, 1).unwrap();
    let period_end = NaiveDate::from_ymd_opt(census.year() - 1, 12, 31).unwrap();
    t.persons += 1.0;
    let a = age_on(p.date_of("PersonBirthDate").unwrap(), census);
    if p.text_of("Sex") == Some("M") {
        t.male += 1.0;
    }
    if a >= 14 {
        t.aged_14_plus += 1.0;
        if p.child("UniqueLearnerNumber").is_some() {
            t.with_uln_14_plus += 1.0;
        }
    }
    if p.child("UPNunknown").is_some() {
        t.upn_unknown += 1.0;
    }
    if ["WENG", "WSCO", "WWEL", "AMPK", "BSOM", "OARA"].contains(&p.text_of("Ethnicity").unwrap()) {
        t.extended_ethnicity += 1.0;
    }
    let requests: Vec<&Node> = p.all("Requests").collect();
    if requests.len() == 2 {
        t.two_requests += 1.0;
    }
    for r in requests {
        match r.text_of("RequestOutcome") {
            Some("Y") => t.request_yes += 1.0,
            Some("N") => t.request_no += 1.0,
            _ => {}
        }
        if let Some(a) = r.child("Assessment") {
            match a.text_of("AssessmentOutcome") {
                Some("Y") => t.assess_yes += 1.0,
                Some("N") => t.assess_no += 1.0,
                _ => {}
            }
            if let Some(plan) = a.child("NamedPlan") {
                let start = plan.date_of("StartDate").unwrap();
                if plan.child("CeaseDate").is_some() {
                    t.ceased += 1.0;
                }
                if a.text_of("AssessmentOutcome") == Some("Y")
                    && start >= period_start
                    && start <= period_end
                {
                    t.new_plans_in_year += 1.0;
                    let received = r.date_of("ReceivedDate").unwrap();
                    if (start - received).num_days() <= 140 {
                        t.within_20_weeks += 1.0;
                    }
                    if matches!(a.text_of("Week20"), Some("1" | "true")) {
                        t.week20_exceptions += 1.0;
                    }
                }
            }
        }
        if let Some(ap) = r.child("ActivePlans") {
            t.live += 1.0;
            if (5..=15).contains(&a) {
                t.live_aged_5_15 += 1.0;
            }
            let primary = ap
                .all("SENneed")
                .find(|n| n.text_of("SENtypeRank") == Some("1"))
                .and_then(|n| n.text_of("SENtype"))
                .unwrap();
            t.primary_needs += 1.0;
            match primary {
                "ASD" => t.asd += 1.0,
                "SLCN" => t.slcn += 1.0,
                "SEMH" => t.semh += 1.0,
                "DS" => t.ds += 1.0,
                _ => {}
            }
            let first = ap.all("PlacementDetail").next().unwrap();
            t.placements_rank1 += 1.0;
            match (first.text_of("URN"), first.child("UKPRN")) {
                // URN slots (last two digits): 0–51 mainstream, 52–61 special (places.rs).
                (Some(urn), _) => match urn[4..].parse::<u32>().unwrap() {
                    0..=51 => t.mainstream += 1.0,
                    52..=61 => t.special += 1.0,
                    _ => {}
                },
                (None, Some(_)) => t.ukprn += 1.0,
                (None, None) => t.code_only += 1.0,
            }
        }
    }
}

fn assert_band(name: &str, value: f64, lo: f64, hi: f64) {
    assert!(
        (lo..=hi).contains(&value),
        "{name} = {value:.3}, expected {lo}..={hi}"
    );
}

#[test]
fn population_matches_published_shapes() {
    let cfg = Sen2SimConfig {
        las: 4,
        persons_per_la: 2_000,
        seed: 99,
        census_year: 2026,
        format: Sen2Format::V2026,
        first_la: Some(919),
        defects: None,
    };
    let (_dir, summary) = generate(&cfg);
    let mut t = Tally::default();
    for f in &summary.files {
        let file = parse(&f.path);
        let census = file.census();
        for p in &file.persons {
            tally_person(&mut t, p, census);
        }
    }
    eprintln!("{t:#?}");
    // Each share with the band the published figures put it in.
    let bands = [
        ("live plan on census day", t.live / t.persons, 0.76, 0.85),
        ("ceased / caseload", t.ceased / t.live, 0.05, 0.09),
        ("male", t.male / t.persons, 0.66, 0.75),
        (
            "aged 5-15 among live",
            t.live_aged_5_15 / t.live,
            0.70,
            0.84,
        ),
        (
            "ULN among 14+",
            t.with_uln_14_plus / t.aged_14_plus,
            0.52,
            0.68,
        ),
        ("UPNunknown", t.upn_unknown / t.persons, 0.01, 0.035),
        ("two requests", t.two_requests / t.persons, 0.02, 0.045),
        (
            "agreed to assess",
            t.request_yes / (t.request_yes + t.request_no),
            0.70,
            0.80,
        ),
        (
            "plan issued after assessment",
            t.assess_yes / (t.assess_yes + t.assess_no),
            0.82,
            0.94,
        ),
        (
            "20-week rate",
            t.within_20_weeks / t.new_plans_in_year,
            0.48,
            0.62,
        ),
        (
            "Week20 exceptions",
            t.week20_exceptions / t.new_plans_in_year,
            0.03,
            0.09,
        ),
        ("ASD primary", t.asd / t.primary_needs, 0.28, 0.35),
        ("SLCN primary", t.slcn / t.primary_needs, 0.18, 0.245),
        ("SEMH primary", t.semh / t.primary_needs, 0.175, 0.24),
        ("DS primary", t.ds / t.primary_needs, 0.002, 0.02),
        ("mainstream", t.mainstream / t.placements_rank1, 0.35, 0.50),
        ("special", t.special / t.placements_rank1, 0.27, 0.40),
        (
            "UKPRN (FE, post-16)",
            t.ukprn / t.placements_rank1,
            0.04,
            0.15,
        ),
        (
            "SENSetting only",
            t.code_only / t.placements_rank1,
            0.04,
            0.15,
        ),
        (
            "extended ethnicity",
            t.extended_ethnicity / t.persons,
            0.015,
            0.045,
        ),
    ];
    for (what, share, lo, hi) in bands {
        assert_band(what, share, lo, hi);
    }
}
