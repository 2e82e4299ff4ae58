//! The synthetic data sets the EES API serves: publications, filters, indicators, locations
//! and every cell, built once and deterministically so tests can rely on where each symbol is.

/// `(level, label, ONS code, DfE old LA code, scale relative to England)`. All four LAs
/// are in the East of England, so every LA row's hierarchy is England → East → LA.
pub(super) const LOCATIONS: [(&str, &str, &str, Option<&str>, f64); 6] = [
    ("NAT", "England", "E92000001", None, 1.0),
    ("REG", "East of England", "E12000006", None, 0.105),
    ("LA", "Hertfordshire", "E10000015", Some("919"), 0.0215),
    ("LA", "Essex", "E10000012", Some("881"), 0.0205),
    ("LA", "Cambridgeshire", "E10000003", Some("873"), 0.0095),
    ("LA", "Bedford", "E06000055", Some("822"), 0.0045),
];

/// A short opaque id (5 base-62 characters) from a key: stable across runs, different
/// across data sets because the data set id is part of the key.
fn short_id(key: &str) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..5)
        .map(|_| {
            let c = DIGITS[(h % 62) as usize];
            h /= 62;
            char::from(c)
        })
        .collect()
}

/// Deterministic jitter in `[-1, 1]` for a cell, so figures look measured, not computed.
fn jitter(key: &str) -> f64 {
    let id = short_id(key);
    let n: u32 = id.bytes().map(u32::from).sum();
    (f64::from(n % 201) - 100.0) / 100.0
}

pub(super) struct Publication {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
    pub(super) slug: &'static str,
    pub(super) summary: &'static str,
    pub(super) last_published: String,
}

pub(super) struct Filter {
    pub(super) id: String,
    pub(super) column: &'static str,
    pub(super) label: &'static str,
    pub(super) hint: &'static str,
    /// `(id, label)`.
    pub(super) options: Vec<(String, &'static str)>,
}

pub(super) struct Indicator {
    pub(super) id: String,
    pub(super) column: &'static str,
    pub(super) label: &'static str,
    pub(super) unit: &'static str,
    pub(super) decimal_places: Option<u32>,
}

pub(super) struct Row {
    pub(super) time: usize,
    pub(super) location: usize,
    /// One option index per filter.
    pub(super) options: Vec<usize>,
    /// One value per indicator, as the API sends it (a string, maybe a symbol).
    pub(super) values: Vec<String>,
}

pub(super) struct DataSet {
    pub(super) id: &'static str,
    pub(super) file_id: &'static str,
    pub(super) publication: usize,
    pub(super) title: &'static str,
    pub(super) summary: &'static str,
    pub(super) published: String,
    pub(super) filters: Vec<Filter>,
    pub(super) indicators: Vec<Indicator>,
    /// `(code, period, label)`, oldest first.
    pub(super) time_periods: Vec<(&'static str, String, String)>,
    pub(super) location_ids: Vec<String>,
    pub(super) rows: Vec<Row>,
}

/// The published statistics the simulator serves; immutable once built.
pub struct EesData {
    pub(super) publications: Vec<Publication>,
    pub(super) data_sets: Vec<DataSet>,
}

/// An academic year `start/start+1` with its label `start/yy`.
fn academic(start: i32) -> (&'static str, String, String) {
    (
        "AY",
        format!("{start}/{}", start + 1),
        sendlake_calendar::academic_year_label(start),
    )
}

fn calendar(year: i32) -> (&'static str, String, String) {
    ("CY", year.to_string(), year.to_string())
}

/// Builder of one data set: ids from the data set id, rows from a value function.
struct Spec {
    id: &'static str,
    file_id: &'static str,
    publication: usize,
    title: &'static str,
    summary: &'static str,
    filters: Vec<(&'static str, &'static str, &'static str, Vec<&'static str>)>,
    indicators: Vec<(&'static str, &'static str, &'static str, Option<u32>)>,
    time_periods: Vec<(&'static str, String, String)>,
}

impl Spec {
    /// `value(time, location, options, indicator)` gives each cell.
    fn build(
        self,
        published: &str,
        value: impl Fn(usize, usize, &[usize], usize) -> String,
    ) -> DataSet {
        let ds = self.id;
        let filters: Vec<Filter> = self
            .filters
            .into_iter()
            .map(|(column, label, hint, options)| Filter {
                id: short_id(&format!("{ds}/filter/{column}")),
                column,
                label,
                hint,
                options: options
                    .into_iter()
                    .map(|o| (short_id(&format!("{ds}/filter/{column}/{o}")), o))
                    .collect(),
            })
            .collect();
        let indicators: Vec<Indicator> = self
            .indicators
            .into_iter()
            .map(|(column, label, unit, dp)| Indicator {
                id: short_id(&format!("{ds}/indicator/{column}")),
                column,
                label,
                unit,
                decimal_places: dp,
            })
            .collect();
        // Every combination of filter options, in option order.
        let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
        for f in &filters {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    (0..f.options.len()).map(move |o| {
                        let mut c = c.clone();
                        c.push(o);
                        c
                    })
                })
                .collect();
        }
        let mut rows = Vec::new();
        for time in 0..self.time_periods.len() {
            for location in 0..LOCATIONS.len() {
                for options in &combos {
                    let values = (0..indicators.len())
                        .map(|i| value(time, location, options, i))
                        .collect();
                    rows.push(Row {
                        time,
                        location,
                        options: options.clone(),
                        values,
                    });
                }
            }
        }
        DataSet {
            id: ds,
            file_id: self.file_id,
            publication: self.publication,
            title: self.title,
            summary: self.summary,
            published: published.to_string(),
            location_ids: LOCATIONS
                .iter()
                .map(|l| short_id(&format!("{ds}/location/{}", l.2)))
                .collect(),
            filters,
            indicators,
            time_periods: self.time_periods,
            rows,
        }
    }
}

/// Publication ids (API ids, synthetic: the real ones are not in the reference).
const EHCP_PUBLICATION: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000001";
const SEN_PUBLICATION: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000002";
/// Data set ids.
const NEED_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000101";
const TIMELINESS_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000102";
const PLACEMENT_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000103";
const SEN_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000201";

/// National EHC plan caseload in January of `year` (send-domain.md §7.4), extrapolated
/// by 11% a year outside the published range.
fn national_plans(year: i32) -> f64 {
    match year {
        2022 => 473_255.0,
        2023 => 517_000.0,
        2024 => 575_963.0,
        2025 => 638_745.0,
        2026 => 700_000.0,
        y if y > 2026 => 700_000.0 * 1.11f64.powi(y - 2026),
        y => 473_255.0 / 1.11f64.powi(2022 - y),
    }
}

fn count(x: f64) -> String {
    format!("{}", x.round().max(0.0) as i64)
}

fn pct(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "z".into()
    } else {
        format!("{:.1}", 100.0 * part / whole)
    }
}

impl EesData {
    /// The data sets as published after the SEN2 collection of `census_year` (the latest
    /// caseload is January of that year; the latest timeliness year the one before).
    pub fn new(census_year: i32) -> Self {
        let y = census_year;
        let published = format!("{y}-06-26T09:30:00Z");
        let publications = vec![
            Publication {
                id: EHCP_PUBLICATION,
                title: "Education, health and care plans",
                slug: "education-health-and-care-plans",
                summary: "Information on education, health and care (EHC) plans, requests \
                          and assessments, from the SEN2 data collection.",
                last_published: published.clone(),
            },
            Publication {
                id: SEN_PUBLICATION,
                title: "Special educational needs in England",
                slug: "special-educational-needs-in-england",
                summary: "Pupils with special educational needs (SEN), from the school \
                          census.",
                last_published: format!("{y}-06-12T09:30:00Z"),
            },
        ];
        let caseload_years = [y - 1, y];
        let scale = |loc: usize| LOCATIONS[loc].4;

        // EHC plans by primary need, by age group.
        let ages = vec![
            "Total",
            "Under 5",
            "Age 5 to 10",
            "Age 11 to 15",
            "Age 16 to 19",
            "Age 20 to 25",
        ];
        let age_share = [1.0, 0.09, 0.37, 0.32, 0.17, 0.05];
        let need_share = [0.315, 0.213, 0.207, 0.106, 0.008, 0.008];
        let need = Spec {
            id: NEED_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001101",
            publication: 0,
            title: "EHC plans by primary need",
            summary: "Number of children and young people with an EHC plan as at January, by \
                      primary type of need and age group.",
            filters: vec![("age_group", "Age group", "Age on 31 August", ages)],
            indicators: vec![
                ("ehc_plans", "Number of EHC plans", "", Some(0)),
                ("number_asd", "Autistic spectrum disorder", "", Some(0)),
                ("pc_asd", "Autistic spectrum disorder (%)", "%", Some(1)),
                (
                    "number_slcn",
                    "Speech, language and communication needs",
                    "",
                    Some(0),
                ),
                (
                    "number_semh",
                    "Social, emotional and mental health",
                    "",
                    Some(0),
                ),
                ("number_mld", "Moderate learning difficulty", "", Some(0)),
                ("number_ds", "Down syndrome", "", Some(0)),
                ("number_need_unknown", "Primary need unknown", "", Some(0)),
            ],
            time_periods: caseload_years.iter().map(|&c| academic(c - 1)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let year = caseload_years[t];
            let key = format!("need/{t}/{l}/{o:?}");
            let total =
                national_plans(year) * scale(l) * age_share[o[0]] * (1.0 + 0.01 * jitter(&key));
            match i {
                0 => count(total),
                1 => count(total * need_share[0]),
                2 => pct(total * need_share[0], total),
                // Down syndrome was first collected in the later year: not applicable before.
                6 if t == 0 => "z".into(),
                // Bedford could not supply need for its unknowns: unavailable.
                7 if LOCATIONS[l].1 == "Bedford" => "x".into(),
                n => count(total * need_share[n - 2]),
            }
        });

        // 20-week timeliness, including and excluding exceptions.
        let years = [y - 3, y - 2, y - 1];
        let rate = [0.50, 0.46, 0.48];
        let timeliness = Spec {
            id: TIMELINESS_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001102",
            publication: 0,
            title: "EHC plans issued within 20 weeks",
            summary: "New EHC plans issued in the calendar year and the percentage issued \
                      within 20 weeks of the request, including and excluding exceptions.",
            filters: vec![(
                "exceptions",
                "Exceptions",
                "Whether plans where an exception to the time limit applied are counted",
                vec!["Including exceptions", "Excluding exceptions"],
            )],
            indicators: vec![
                ("new_ehc_plans", "New EHC plans issued", "", Some(0)),
                ("within_20_weeks", "Issued within 20 weeks", "", Some(0)),
                (
                    "pc_within_20_weeks",
                    "Issued within 20 weeks (%)",
                    "%",
                    Some(1),
                ),
            ],
            time_periods: years.iter().map(|&c| calendar(c)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let name = LOCATIONS[l].1;
            // Cambridgeshire's earliest year is suppressed; Essex's latest rate is of low
            // reliability (a system change mid-year).
            if name == "Cambridgeshire" && t == 0 {
                return "c".into();
            }
            if name == "Essex" && t == 2 && i == 2 {
                return "u".into();
            }
            let key = format!("time/{t}/{l}");
            let issued = national_plans(years[t]) * 0.13 * scale(l) * (1.0 + 0.02 * jitter(&key));
            let issued = if o[0] == 1 { issued * 0.94 } else { issued };
            let r = (rate[t] + 0.08 * jitter(&format!("{key}/rate"))).clamp(0.05, 0.99);
            let r = if o[0] == 1 { (r * 1.05).min(0.99) } else { r };
            match i {
                0 => count(issued),
                1 => count(issued * r),
                _ => pct((issued * r).round(), issued.round()),
            }
        });

        // Caseload by type of placement.
        let kinds = vec![
            "Total",
            "Mainstream school",
            "Special school",
            "Alternative provision or pupil referral unit",
            "Further education",
            "Other arrangements",
        ];
        let kind_share = [1.0, 0.41, 0.33, 0.015, 0.13, 0.115];
        let placements = Spec {
            id: PLACEMENT_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001103",
            publication: 0,
            title: "EHC plans by placement type",
            summary: "Children and young people with an EHC plan as at January, by type of \
                      establishment or arrangement they attend.",
            filters: vec![(
                "establishment_type",
                "Establishment type",
                "DfE setting category of the main placement",
                kinds,
            )],
            indicators: vec![
                ("ehc_plans", "Number of EHC plans", "", Some(0)),
                ("ehc_plans_pc", "Percentage of EHC plans", "%", Some(1)),
            ],
            time_periods: caseload_years.iter().map(|&c| academic(c - 1)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let total = national_plans(caseload_years[t]) * scale(l);
            let n = total * kind_share[o[0]];
            // Bedford's "other arrangements" share rounds to zero without being zero.
            if LOCATIONS[l].1 == "Bedford" && o[0] == 5 && i == 1 && t == 0 {
                return "low".into();
            }
            match i {
                0 => count(n),
                _ => pct(n, total),
            }
        });

        // SEN in England: pupils by SEN provision.
        let sen = Spec {
            id: SEN_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001201",
            publication: 1,
            title: "Special educational needs in England",
            summary: "Pupils in schools in England with an EHC plan or SEN support, from the \
                      January school census.",
            filters: vec![(
                "sen_provision",
                "SEN provision",
                "E = EHC plan, K = SEN support",
                vec!["Total", "EHC plan", "SEN support"],
            )],
            indicators: vec![
                ("number_of_pupils", "Number of pupils", "", Some(0)),
                ("percent_of_pupils", "Percentage of pupils", "%", Some(1)),
            ],
            time_periods: caseload_years.iter().map(|&c| academic(c - 1)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let pupils = 9_100_000.0 * scale(l);
            let shares = [[0.195, 0.053, 0.142], [0.208, 0.060, 0.148]];
            let share = shares[t.min(1)][o[0]] * (1.0 + 0.03 * jitter(&format!("sen/{l}/{o:?}")));
            match i {
                0 => count(pupils * share),
                _ => format!("{:.1}", 100.0 * share),
            }
        });

        Self {
            publications,
            data_sets: vec![need, timeliness, placements, sen],
        }
    }

    pub(super) fn data_set(&self, id: &str) -> Option<&DataSet> {
        self.data_sets.iter().find(|d| d.id == id)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_symbol_appears() {
        let data = EesData::new(2026);
        let all: Vec<&str> = data
            .data_sets
            .iter()
            .flat_map(|d| {
                d.rows
                    .iter()
                    .flat_map(|r| r.values.iter().map(String::as_str))
            })
            .collect();
        for s in ["x", "c", "z", "low", "u"] {
            assert!(all.contains(&s), "symbol {s} missing");
        }
    }

    #[test]
    fn ids_are_short_and_distinct_per_data_set() {
        let data = EesData::new(2026);
        let a = &data.data_sets[0].location_ids;
        let b = &data.data_sets[1].location_ids;
        assert!(a.iter().all(|i| i.len() == 5));
        assert!(a.iter().zip(b).all(|(x, y)| x != y));
    }
}
