//! ONS mid-year population estimates in the Nomis CSV shape: the denominators the pipeline's
//! rates per head of population are computed from.

use std::fmt::Write as _;

use rand::Rng;

use super::geography::{HERTS_DISTRICTS, demo_las};
use super::row_rng;
use crate::{Sen2SimConfig, SimError};

/// The Nomis columns written (a `select=` of `NM_2002_1.data.csv`; send-domain.md §5.5).
pub const POPULATION_HEADERS: [&str; 17] = [
    "DATE",
    "DATE_NAME",
    "GEOGRAPHY",
    "GEOGRAPHY_NAME",
    "GEOGRAPHY_CODE",
    "GEOGRAPHY_TYPE",
    "GENDER",
    "GENDER_NAME",
    "C_AGE",
    "C_AGE_NAME",
    "MEASURES",
    "MEASURES_NAME",
    "OBS_VALUE",
    "OBS_STATUS",
    "OBS_STATUS_NAME",
    "RECORD_OFFSET",
    "RECORD_COUNT",
];

const COUNTY_TYPE: &str = "local authorities: county / unitary (as of April 2023)";
const DISTRICT_TYPE: &str = "local authorities: district / unitary (as of April 2023)";

/// A population geography: Nomis id (a synthetic stand-in), name, ONS code, type, and
/// persons per single year of age at ages 0–4, 5–15, 16–17, 18–21 and 22–25.
struct PopulationArea {
    nomis_id: u64,
    name: String,
    code: &'static str,
    kind: &'static str,
    per_year: [f64; 5],
}

/// ONS code and per-single-year sizes of a demo LA other than Hertfordshire.
fn la_population(la: u16) -> Option<(&'static str, [f64; 5])> {
    match la {
        // Small resident population, many young working adults.
        201 => Some(("E09000001", [55.0, 48.0, 36.0, 120.0, 190.0])),
        // Inner-London borough: fewer young children, a student bulge.
        202 => Some(("E09000007", [2_050.0, 1_950.0, 1_900.0, 4_200.0, 4_600.0])),
        203 => Some(("E09000011", [3_700.0, 3_400.0, 3_200.0, 3_300.0, 4_300.0])),
        204 => Some(("E09000012", [3_300.0, 3_000.0, 2_800.0, 3_200.0, 4_800.0])),
        _ => None,
    }
}

fn population_areas(cfg: &Sen2SimConfig) -> Result<Vec<PopulationArea>, SimError> {
    let mut areas = Vec::new();
    let herts_total: f64 = HERTS_DISTRICTS.iter().map(|d| f64::from(d.residents)).sum();
    for (i, (la, name, _)) in demo_las(cfg)?.into_iter().enumerate() {
        let base_id = 1_778_384_900 + 100 * i as u64;
        if la == 919 {
            // Herts ≈ 1.2 million people, about 14,000–15,000 per single year of school
            // age; fewer at 18–21 as students leave. The county is the sum of its districts.
            let county = [13_800.0, 15_000.0, 14_700.0, 12_300.0, 13_600.0];
            areas.push(PopulationArea {
                nomis_id: base_id,
                name: name.to_owned(),
                code: "E10000015",
                kind: COUNTY_TYPE,
                per_year: county,
            });
            for (j, d) in HERTS_DISTRICTS.iter().enumerate() {
                let share = f64::from(d.residents) / herts_total;
                let mut per_year = county.map(|v| v * share);
                if d.name == "Welwyn Hatfield" {
                    // The university town.
                    per_year[3] *= 1.6;
                    per_year[4] *= 1.2;
                }
                areas.push(PopulationArea {
                    nomis_id: 1_778_385_100 + j as u64,
                    name: d.name.to_owned(),
                    code: d.code,
                    kind: DISTRICT_TYPE,
                    per_year,
                });
            }
        } else {
            let (code, per_year) = la_population(la).ok_or_else(|| {
                SimError::Config(format!("no population profile for LA {la:03} ({name})"))
            })?;
            areas.push(PopulationArea {
                nomis_id: base_id,
                name: name.to_owned(),
                code,
                kind: COUNTY_TYPE,
                per_year,
            });
        }
    }
    Ok(areas)
}

fn age_band(age: u32) -> usize {
    match age {
        0..=4 => 0,
        5..=15 => 1,
        16..=17 => 2,
        18..=21 => 3,
        _ => 4,
    }
}

/// ONS mid-year estimates (mid-2025) for `cfg`'s LAs, and Hertfordshire's districts, by
/// single year of age 0–25 and sex, in the shape the Nomis API's CSV has: header and text
/// values quoted, numbers bare, LF line ends. `C_AGE` is 101 + age. Hertfordshire's
/// county figures are the sums of its districts'.
///
/// # Errors
/// [`SimError::Config`] for an LA without a population profile (Hertfordshire, City of
/// London, Camden, Greenwich and Hackney have one).
pub fn population_csv(cfg: &Sen2SimConfig) -> Result<Vec<u8>, SimError> {
    let areas = population_areas(cfg)?;
    // Values per (area, gender, age); the county is filled from its districts.
    let mut values: Vec<Vec<u64>> = Vec::new();
    for area in &areas {
        let mut v = Vec::new();
        for gender in 1..=2u64 {
            for age in 0..=25u32 {
                let mut rng = row_rng(b"nomismye", area.nomis_id, gender * 100 + u64::from(age));
                // Slightly more boys than girls among children (about 51%).
                let sex_share = if gender == 1 { 0.512 } else { 0.488 };
                let jitter = 1.0 + rng.random_range(-0.04..0.04);
                let n = area.per_year[age_band(age)] * sex_share * jitter;
                v.push(n.round().max(0.0) as u64);
            }
        }
        values.push(v);
    }
    for (ai, area) in areas.iter().enumerate() {
        if area.code == "E10000015" {
            let districts: Vec<usize> = areas
                .iter()
                .enumerate()
                .filter(|(_, a)| a.kind == DISTRICT_TYPE)
                .map(|(i, _)| i)
                .collect();
            let summed: Vec<u64> = (0..52)
                .map(|k| districts.iter().map(|&d| values[d][k]).sum())
                .collect();
            values[ai] = summed;
        }
    }
    let count = areas.len() * 52;
    let mut out = String::new();
    let quoted: Vec<String> = POPULATION_HEADERS
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect();
    out.push_str(&quoted.join(","));
    out.push('\n');
    let mut offset = 0usize;
    for (ai, area) in areas.iter().enumerate() {
        for (gi, gender_name) in ["Male", "Female"].iter().enumerate() {
            for age in 0..=25usize {
                let value = values[ai][gi * 26 + age];
                // Infallible: writing to a String.
                let _ = writeln!(
                    out,
                    "2025,\"2025\",{},\"{}\",\"{}\",\"{}\",{},\"{}\",{},\"Age {}\",20100,\"Value\",{},\"A\",\"Normal Value\",{},{}",
                    area.nomis_id,
                    area.name,
                    area.code,
                    area.kind,
                    gi + 1,
                    gender_name,
                    101 + age,
                    age,
                    value,
                    offset,
                    count
                );
                offset += 1;
            }
        }
    }
    Ok(out.into_bytes())
}
#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::files::demo_files_config;

    #[test]
    fn population_adds_up() {
        let text = String::from_utf8(population_csv(&demo_files_config()).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 13 * 2 * 26);
        let value = |l: &str| -> (String, u64) {
            let f: Vec<&str> = l.split(',').collect();
            (f[4].trim_matches('"').to_owned(), f[12].parse().unwrap())
        };
        let mut totals: HashMap<String, u64> = HashMap::new();
        for l in &lines[1..] {
            let (code, v) = value(l);
            *totals.entry(code).or_default() += v;
        }
        let districts: u64 = HERTS_DISTRICTS.iter().map(|d| totals[d.code]).sum();
        assert_eq!(totals["E10000015"], districts);
        // 26 single years of about 14,000 each.
        assert!(
            (340_000..400_000).contains(&totals["E10000015"]),
            "{totals:?}"
        );
        assert!(lines[1].starts_with("2025,\"2025\","));
        assert!(lines[1].contains("\"Age 0\""));
        assert!(lines[1].ends_with(&format!(",0,{}", 13 * 52)));
    }
}
