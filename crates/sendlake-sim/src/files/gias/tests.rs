//! Tests of the GIAS extract: every setting the simulator places a child in is listed with a
//! fitting type, and the bytes are Windows-1252 with GIAS's shapes.

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::files::demo_files_config;
use crate::files::geography::herts_district_of;
use crate::la_codes;
use crate::places::{Kind, choose_setting, dual_setting};

fn gias_rows() -> Vec<HashMap<String, String>> {
    let bytes = gias_csv(&demo_files_config()).unwrap();
    let (text, _, bad) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!bad);
    let mut lines = text.split("\r\n");
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, GIAS_HEADERS);
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            // Names may hold a quoted comma; no other field does, and names are column 5.
            let mut fields: Vec<String> = Vec::new();
            let mut rest = l;
            while !rest.is_empty() || fields.len() < header.len() {
                if let Some(r) = rest.strip_prefix('"') {
                    let end = r.find("\",").unwrap_or(r.len() - 1);
                    fields.push(r[..end].replace("\"\"", "\""));
                    rest = r.get(end + 2..).unwrap_or("");
                } else {
                    let end = rest.find(',').unwrap_or(rest.len());
                    fields.push(rest[..end].to_owned());
                    rest = rest.get(end + 1..).unwrap_or("");
                }
                if fields.len() > header.len() {
                    break;
                }
            }
            assert_eq!(fields.len(), header.len(), "{l}");
            header.iter().map(|h| (*h).to_owned()).zip(fields).collect()
        })
        .collect()
}

#[test]
fn gias_holds_every_setting_the_simulator_uses_with_a_fitting_type() {
    let rows = gias_rows();
    let by_urn: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["URN"].as_str(), r)).collect();
    assert_eq!(by_urn.len(), rows.len(), "URNs are unique");
    let ukprns: HashSet<&str> = rows.iter().map(|r| r["UKPRN"].as_str()).collect();
    let special = ["7", "8", "10", "12", "33", "36", "44"];
    let mainstream = ["1", "2", "3", "5", "28", "34", "35"];
    let ap = ["14", "38", "42", "43"];
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut seen = HashSet::new();
    for la in la_codes(3, Some(919)) {
        for i in 0..20_000 {
            let yg = (i % 17) as i32 - 2;
            let need = ["ASD", "SEMH", "SLCN", "MLD", "PMLD"][i % 5];
            let (kind, setting) = choose_setting(&mut rng, la, yg, need);
            let mut pairs = vec![(kind, setting)];
            if i % 7 == 0 {
                pairs.push(dual_setting(&mut rng, la, pairs[0].0, yg));
            }
            for (kind, s) in pairs {
                if let Some(u) = s.urn {
                    let row = by_urn
                        .get(u.to_string().as_str())
                        .unwrap_or_else(|| panic!("URN {u} ({kind:?}) missing"));
                    let t = row["TypeOfEstablishment (code)"].as_str();
                    let ok = match kind {
                        Kind::Special => special.contains(&t),
                        Kind::Primary | Kind::Secondary => mainstream.contains(&t),
                        Kind::AltProvision => ap.contains(&t),
                        Kind::Nursery => t == "15" || mainstream.contains(&t),
                        _ => false,
                    };
                    assert!(ok, "URN {u} is type {t} but placed as {kind:?}");
                    assert_eq!(row["EstablishmentStatus (code)"], "1");
                    if s.unit {
                        assert_eq!(row["TypeOfResourcedProvision (name)"], "SEN unit");
                    }
                    if s.resourced {
                        assert_eq!(
                            row["TypeOfResourcedProvision (name)"],
                            "Resourced provision"
                        );
                    }
                    seen.insert(u);
                }
                if let Some(p) = s.ukprn
                    && !p.to_string().ends_with('6')
                {
                    // Slot 6 is a training provider, not in GIAS.
                    assert!(ukprns.contains(p.to_string().as_str()), "UKPRN {p} missing");
                }
            }
        }
    }
    // Out-of-area special schools were drawn from many LAs.
    assert!(seen.len() > 500, "{}", seen.len());
}

#[test]
fn gias_shape_and_encoding() {
    let bytes = gias_csv(&demo_files_config()).unwrap();
    // Windows-1252: é is one byte 0xE9, ’ is 0x92; never UTF-8.
    assert!(bytes.contains(&0x92));
    assert!(bytes.contains(&0xE9));
    assert!(std::str::from_utf8(&bytes).is_err());
    let rows = gias_rows();
    let herts: Vec<_> = rows.iter().filter(|r| r["LA (code)"] == "919").collect();
    assert!(
        herts
            .iter()
            .any(|r| r["EstablishmentStatus (code)"] == "2" && !r["CloseDate"].is_empty())
    );
    for r in &herts {
        assert!(r["DistrictAdministrative (code)"].starts_with("E07000"));
        let (outward, inward) = r["Postcode"].split_once(' ').unwrap();
        assert!(inward.ends_with("ZZ"));
        let d = herts_district_of(&r["Postcode"]).unwrap();
        assert_eq!(d.code, r["DistrictAdministrative (code)"], "{outward}");
    }
    for r in &rows {
        for date in [&r["OpenDate"], &r["CloseDate"]] {
            if !date.is_empty() {
                assert!(
                    NaiveDate::parse_from_str(date, "%d-%m-%Y").is_ok(),
                    "{date}"
                );
            }
        }
    }
    assert!(rows.iter().any(|r| r["EstablishmentName"].contains(',')));
}
