//! The GIAS establishment extract: every school and college the SEN2 generator can name or
//! place a child in, so the pipeline's joins from SEN2 settings to establishments resolve.

use chrono::NaiveDate;
use rand::Rng;

use super::geography::{HERTS_DISTRICTS, demo_las, district_of_la, la_info};
use super::{csv_line, dmy, row_rng, synthetic_postcode};
use crate::calendar::ymd;
use crate::ids::{ENGLISH_LAS, nth_english_la_code};
use crate::names::postcode_districts;
use crate::places::{ukprn, urn};
use crate::tables::pick;
use crate::{Sen2SimConfig, SimError};

/// The GIAS columns written, in order (a subset of the ~139 of the real extract, with their
/// real names; send-domain.md §5.1).
pub const GIAS_HEADERS: [&str; 30] = [
    "URN",
    "LA (code)",
    "LA (name)",
    "EstablishmentNumber",
    "EstablishmentName",
    "TypeOfEstablishment (code)",
    "TypeOfEstablishment (name)",
    "EstablishmentTypeGroup (code)",
    "EstablishmentTypeGroup (name)",
    "EstablishmentStatus (code)",
    "EstablishmentStatus (name)",
    "OpenDate",
    "CloseDate",
    "PhaseOfEducation (code)",
    "PhaseOfEducation (name)",
    "StatutoryLowAge",
    "StatutoryHighAge",
    "NumberOfPupils",
    "UKPRN",
    "TypeOfResourcedProvision (name)",
    "ResourcedProvisionOnRoll",
    "ResourcedProvisionCapacity",
    "SenUnitOnRoll",
    "SenUnitCapacity",
    "SEN1 (name)",
    "GOR (name)",
    "DistrictAdministrative (code)",
    "DistrictAdministrative (name)",
    "Postcode",
    "Section41Approved (name)",
];

// The simulator's pool layout, shared with places.rs. UKPRN slot 6 (training providers) is
// not an establishment in GIAS, so it has no range here.
use crate::places::{
    ALT_PROVISION, COLLEGE, NURSERY, PRIMARY, SECONDARY, SPECIAL, SPECIALIST_POST16,
};
/// URN slots the sim never uses: colleges (70 + UKPRN slot), closed predecessors, extras.
const COLLEGE_URN_BASE: u32 = 70;
const CLOSED_URN_BASE: u32 = 80;
const EXTRA_URN_BASE: u32 = 90;

/// Whether a mainstream slot hosts a SEN unit or resourced provision: the same rule as the
/// simulator's (places.rs), so a CYP placed in a unit is at a school that has one.
fn has_unit(slot: u32) -> bool {
    (PRIMARY.contains(&slot) && slot % 8 == 3) || (SECONDARY.contains(&slot) && slot % 4 == 1)
}

fn has_resourced_provision(slot: u32) -> bool {
    (PRIMARY.contains(&slot) && slot % 8 == 6) || (SECONDARY.contains(&slot) && slot % 4 == 2)
}

/// `TypeOfEstablishment (code)` → (name, group code, group name). Group assignments follow
/// GIAS's usual grouping; the group codes are unconfirmed.
fn establishment_type(code: u8) -> (&'static str, u8, &'static str) {
    const LA_MAINTAINED: (u8, &str) = (4, "Local authority maintained schools");
    const SPECIAL_GROUP: (u8, &str) = (5, "Special schools");
    const ACADEMIES: (u8, &str) = (10, "Academies");
    const FREE: (u8, &str) = (11, "Free Schools");
    const INDEPENDENT: (u8, &str) = (3, "Independent schools");
    const COLLEGES: (u8, &str) = (1, "Colleges");
    const OTHER: (u8, &str) = (9, "Other types");
    let (name, (g, gname)) = match code {
        1 => ("Community school", LA_MAINTAINED),
        2 => ("Voluntary aided school", LA_MAINTAINED),
        3 => ("Voluntary controlled school", LA_MAINTAINED),
        5 => ("Foundation school", LA_MAINTAINED),
        7 => ("Community special school", SPECIAL_GROUP),
        8 => ("Non-maintained special school", SPECIAL_GROUP),
        10 => ("Other independent special school", INDEPENDENT),
        11 => ("Other independent school", INDEPENDENT),
        12 => ("Foundation special school", SPECIAL_GROUP),
        14 => ("Pupil referral unit", LA_MAINTAINED),
        15 => ("Local authority nursery school", LA_MAINTAINED),
        18 => ("Further education", COLLEGES),
        28 => ("Academy sponsor led", ACADEMIES),
        32 => ("Special post 16 institution", OTHER),
        33 => ("Academy special sponsor led", ACADEMIES),
        34 => ("Academy converter", ACADEMIES),
        35 => ("Free schools", FREE),
        36 => ("Free schools special", FREE),
        38 => ("Free schools alternative provision", FREE),
        39 => ("Free schools 16 to 19", FREE),
        40 => ("University technical college", FREE),
        42 => ("Academy alternative provision converter", ACADEMIES),
        43 => ("Academy alternative provision sponsor led", ACADEMIES),
        44 => ("Academy special converter", ACADEMIES),
        _ => ("Miscellaneous", OTHER),
    };
    (name, g, gname)
}

fn phase_name(code: u8) -> &'static str {
    match code {
        1 => "Nursery",
        2 => "Primary",
        3 => "Middle deemed primary",
        4 => "Secondary",
        5 => "Middle deemed secondary",
        6 => "16 plus",
        7 => "All-through",
        _ => "Not applicable",
    }
}

fn status_name(code: u8) -> &'static str {
    match code {
        2 => "Closed",
        3 => "Open, but proposed to close",
        4 => "Proposed to open",
        _ => "Open",
    }
}

/// `SEN1 (name)` values, as GIAS writes them.
const SEN_PROVISION: [(&str, f64); 9] = [
    ("ASD - Autistic Spectrum Disorder", 30.0),
    ("SEMH - Social, Emotional and Mental Health", 18.0),
    ("MLD - Moderate Learning Difficulty", 14.0),
    ("SLD - Severe Learning Difficulty", 10.0),
    ("SLCN - Speech, language and Communication", 10.0),
    ("PMLD - Profound and Multiple Learning Difficulty", 6.0),
    ("PD - Physical Disability", 6.0),
    ("HI - Hearing Impairment", 3.0),
    ("VI - Visual Impairment", 3.0),
];

/// Made-up place stems for school names; a few carry Windows-1252 letters (é, ê).
const PLACE_HEADS: [&str; 24] = [
    "Ash", "Bar", "Brook", "Cold", "Dun", "Elm", "Fair", "Fern", "Gold", "Haw", "Holm", "Kings",
    "Lark", "Long", "Marsh", "Mill", "North", "Oak", "Pen", "Queens", "Red", "Stan", "Thorn",
    "Wes",
];
const PLACE_TAILS: [&str; 16] = [
    "bury", "field", "ford", "hill", "ley", "mead", "wood", "well", "brook", "cote", "dale",
    "gate", "hurst", "stead", "wick", "worth",
];
const ACCENTED_PLACES: [&str; 3] = ["Belvédère", "Beauchêne", "Montclér"];
/// Patron saints for church school names; written with the typographic apostrophe (’,
/// 0x92 in Windows-1252) as GIAS names are.
const SAINTS: [&str; 10] = [
    "Mary",
    "Joseph",
    "Thérèse",
    "Andrew",
    "Catherine",
    "Dominic",
    "Margaret",
    "Michael",
    "Bartholomew",
    "Alban",
];

fn place(rng: &mut impl Rng) -> String {
    if rng.random_bool(0.03) {
        return ACCENTED_PLACES[rng.random_range(0..ACCENTED_PLACES.len())].to_owned();
    }
    format!(
        "{}{}",
        PLACE_HEADS[rng.random_range(0..PLACE_HEADS.len())],
        PLACE_TAILS[rng.random_range(0..PLACE_TAILS.len())]
    )
}

fn saint(rng: &mut impl Rng) -> String {
    format!("St {}\u{2019}s", SAINTS[rng.random_range(0..SAINTS.len())])
}

/// One GIAS row before formatting.
#[derive(Debug, Clone)]
struct Establishment {
    urn: u32,
    la: u16,
    la_name: &'static str,
    region: &'static str,
    number: Option<u32>,
    name: String,
    type_code: u8,
    status: u8,
    open: Option<NaiveDate>,
    close: Option<NaiveDate>,
    phase: u8,
    ages: (u8, u8),
    pupils: Option<u32>,
    ukprn: Option<u32>,
    unit: Option<(u32, u32)>,
    resourced: Option<(u32, u32)>,
    sen1: Option<&'static str>,
    district: (&'static str, &'static str),
    postcode: String,
    section41: bool,
}

/// What the simulator uses a slot for; decides type, phase, ages and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    Primary,
    Secondary,
    Special,
    AltProvision,
    Nursery,
    College,
    SpecialistPost16,
}

fn slot_kind(slot: u32) -> Option<SlotKind> {
    if PRIMARY.contains(&slot) {
        Some(SlotKind::Primary)
    } else if SECONDARY.contains(&slot) {
        Some(SlotKind::Secondary)
    } else if SPECIAL.contains(&slot) {
        Some(SlotKind::Special)
    } else if ALT_PROVISION.contains(&slot) {
        Some(SlotKind::AltProvision)
    } else if NURSERY.contains(&slot) {
        Some(SlotKind::Nursery)
    } else {
        None
    }
}

/// A date on the 1st of a month between `from` and `to` (years), for openings.
fn first_of_month(rng: &mut impl Rng, from: i32, to: i32) -> NaiveDate {
    let year = rng.random_range(from..=to);
    let month = [1, 4, 9, 9, 9, 11][rng.random_range(0..6)];
    ymd(year, month, 1)
}

/// Where a school in `la` is: its district and postcode.
fn locate(rng: &mut impl Rng, la: u16) -> ((&'static str, &'static str), String) {
    if la == 919 {
        let d = &HERTS_DISTRICTS[rng.random_range(0..HERTS_DISTRICTS.len())];
        ((d.code, d.name), synthetic_postcode(rng, d.outward))
    } else {
        let districts = postcode_districts(la);
        let outward: Vec<&str> = districts.iter().map(String::as_str).collect();
        (district_of_la(la), synthetic_postcode(rng, &outward))
    }
}

/// The establishment the simulator's slot `slot` of `la` stands for.
fn school(
    la: u16,
    la_name: &'static str,
    region: &'static str,
    slot: u32,
) -> Option<Establishment> {
    let kind = slot_kind(slot)?;
    let mut rng = row_rng(b"gias-urn", u64::from(la), u64::from(slot));
    let (district, postcode) = locate(&mut rng, la);
    let stem = place(&mut rng);
    let (type_code, name, phase, ages, pupils, number) = match kind {
        SlotKind::Primary => {
            let t = pick(
                &mut rng,
                &[
                    (1u8, 30.0),
                    (2, 10.0),
                    (3, 8.0),
                    (5, 5.0),
                    (34, 30.0),
                    (28, 12.0),
                    (35, 5.0),
                ],
            );
            let name = match t {
                2 => format!("{} Catholic Primary School", saint(&mut rng)),
                3 => format!("{stem} Church of England Primary School"),
                28 | 34 => format!("{stem} Primary Academy"),
                35 => format!("{stem} Free School"),
                _ => format!("{stem} Primary School"),
            };
            // Church schools often carry their town, after a comma, as in GIAS.
            let name = if matches!(t, 2 | 3) && rng.random_bool(0.5) {
                format!("{name}, {}", place(&mut rng))
            } else {
                name
            };
            let low = if rng.random_bool(0.4) { 3 } else { 4 };
            (
                t,
                name,
                2,
                (low, 11),
                rng.random_range(150..=650),
                2000 + 21 * slot,
            )
        }
        SlotKind::Secondary => {
            let t = pick(
                &mut rng,
                &[
                    (34u8, 50.0),
                    (28, 20.0),
                    (1, 10.0),
                    (5, 8.0),
                    (2, 7.0),
                    (35, 5.0),
                ],
            );
            let name = match t {
                2 => format!("{} Catholic High School", saint(&mut rng)),
                28 | 34 => format!("{stem} Academy"),
                35 => format!("{stem} Free School"),
                _ if rng.random_bool(0.5) => format!("The {stem} School"),
                _ => format!("{stem} High School"),
            };
            let high = if rng.random_bool(0.7) { 18 } else { 16 };
            (
                t,
                name,
                4,
                (11, high),
                rng.random_range(700..=1800),
                4000 + 21 * (slot - 40),
            )
        }
        SlotKind::Special => {
            let t = pick(
                &mut rng,
                &[
                    (7u8, 40.0),
                    (44, 20.0),
                    (33, 10.0),
                    (36, 10.0),
                    (12, 5.0),
                    (10, 10.0),
                    (8, 5.0),
                ],
            );
            let name = match t {
                10 => format!("{stem} House School"),
                8 => format!("{stem} Hall School"),
                _ if rng.random_bool(0.3) => format!("{stem} Park School"),
                _ => format!("{stem} School"),
            };
            let low = [2, 3, 3, 4][rng.random_range(0..4)];
            (
                t,
                name,
                0,
                (low, 19),
                rng.random_range(60..=250),
                7000 + 11 * (slot - 52),
            )
        }
        SlotKind::AltProvision => {
            let t = if slot == ALT_PROVISION.start {
                14
            } else {
                pick(&mut rng, &[(42u8, 1.0), (43, 1.0), (38, 1.0)])
            };
            let name = if t == 14 {
                format!("{stem} Education Support Centre")
            } else {
                format!("{stem} Academy (Alternative Provision)")
            };
            (
                t,
                name,
                0,
                (5, 16),
                rng.random_range(20..=90),
                1100 + (slot - 62),
            )
        }
        SlotKind::Nursery => (
            15,
            format!("{stem} Nursery School"),
            1,
            (2, 5),
            rng.random_range(60..=140),
            1000 + 3 * (slot - 64),
        ),
        SlotKind::College | SlotKind::SpecialistPost16 => return None,
    };
    let academy = matches!(type_code, 28 | 33 | 34 | 35 | 36 | 38 | 42 | 43 | 44);
    let open = academy.then(|| {
        if matches!(type_code, 35 | 36 | 38) {
            first_of_month(&mut rng, 2013, 2023)
        } else {
            first_of_month(&mut rng, 2011, 2024)
        }
    });
    let unit = has_unit(slot).then(|| {
        let capacity = rng.random_range(8..=20);
        (rng.random_range(capacity / 2..=capacity), capacity)
    });
    let resourced = has_resourced_provision(slot).then(|| {
        let capacity = rng.random_range(6..=16);
        (rng.random_range(capacity / 2..=capacity), capacity)
    });
    let sen1 = (kind == SlotKind::Special || unit.is_some() || resourced.is_some())
        .then(|| pick(&mut rng, &SEN_PROVISION));
    // Academies and free schools always have a UKPRN; maintained schools often do.
    let ukprn =
        (academy || rng.random_bool(0.6)).then_some(10_100_000 + 100 * u32::from(la) + slot);
    Some(Establishment {
        urn: urn(la, slot),
        la,
        la_name,
        region,
        number: Some(number),
        name,
        type_code,
        status: 1,
        open,
        close: None,
        phase,
        ages,
        pupils: Some(pupils),
        ukprn,
        unit,
        resourced,
        sen1,
        district,
        postcode,
        section41: type_code == 10,
    })
}

/// The FE college or specialist post-16 institution of UKPRN slot `slot` of `la`, with a
/// URN from a slot the simulator leaves free.
fn college(
    la: u16,
    la_name: &'static str,
    region: &'static str,
    slot: u32,
) -> Option<Establishment> {
    let kind = if COLLEGE.contains(&slot) {
        SlotKind::College
    } else if SPECIALIST_POST16.contains(&slot) {
        SlotKind::SpecialistPost16
    } else {
        return None;
    };
    let mut rng = row_rng(b"gias-prn", u64::from(la), u64::from(slot));
    let (district, postcode) = locate(&mut rng, la);
    let stem = place(&mut rng);
    let (type_code, name, ages, pupils, sen1) = if kind == SlotKind::College {
        let name = if rng.random_bool(0.5) {
            format!("{stem} Regional College")
        } else {
            format!("{stem} College")
        };
        (18, name, (16, 99), None, None)
    } else {
        (
            32,
            format!("{stem} Specialist College"),
            (16, 25),
            Some(rng.random_range(30..=120)),
            Some(pick(&mut rng, &SEN_PROVISION)),
        )
    };
    Some(Establishment {
        urn: urn(la, COLLEGE_URN_BASE + slot),
        la,
        la_name,
        region,
        number: None,
        name,
        type_code,
        status: 1,
        open: None,
        close: None,
        phase: 6,
        ages,
        pupils,
        ukprn: Some(ukprn(la, slot)),
        unit: None,
        resourced: None,
        sen1,
        district,
        postcode,
        section41: type_code == 32,
    })
}

/// An extra establishment: type, status, name suffix, statutory ages, phase.
type Extra = (u8, u8, &'static str, (u8, u8), u8);

/// Closed predecessors of the first few academies of `la` (a converter gets a new URN; the
/// maintained school it was closes the day before), then a few establishments the simulator
/// never uses: an independent school, a UTC, a 16–19 free school opening next year and a
/// school proposed to close.
fn closed_and_extra(
    la: u16,
    la_name: &'static str,
    region: &'static str,
    schools: &[Establishment],
) -> Vec<Establishment> {
    let mut rows = Vec::new();
    let converted = schools
        .iter()
        .filter(|s| matches!(s.type_code, 28 | 33 | 34 | 42 | 43 | 44))
        .take(4);
    for (i, academy) in converted.enumerate() {
        let Some(opened) = academy.open else { continue };
        let (type_code, name) = match academy.type_code {
            33 | 44 => (7, academy.name.clone()),
            42 | 43 => (
                14,
                academy.name.replace(
                    " Academy (Alternative Provision)",
                    " Education Support Centre",
                ),
            ),
            _ => (1, academy.name.replace(" Academy", " School")),
        };
        rows.push(Establishment {
            urn: urn(la, CLOSED_URN_BASE + i as u32),
            name,
            type_code,
            status: 2,
            open: None,
            close: opened.pred_opt(),
            pupils: None,
            ukprn: None,
            unit: None,
            resourced: None,
            sen1: academy.sen1.filter(|_| type_code == 7),
            ..academy.clone()
        });
    }
    // (type, status, name suffix, statutory ages, phase)
    let extras: [Extra; 4] = [
        (11, 1, "Preparatory School", (3, 13), 7),
        (40, 1, "University Technical College", (14, 19), 4),
        (39, 4, "Sixth Form Free School", (16, 19), 6),
        (1, 3, "Primary School", (4, 11), 2),
    ];
    for (i, (type_code, status, suffix, ages, phase)) in extras.into_iter().enumerate() {
        let slot = EXTRA_URN_BASE + i as u32;
        let mut rng = row_rng(b"gias-ext", u64::from(la), u64::from(slot));
        let (district, postcode) = locate(&mut rng, la);
        let stem = place(&mut rng);
        let open = match status {
            4 => Some(ymd(2027, 9, 1)),
            _ if type_code == 40 => Some(first_of_month(&mut rng, 2014, 2020)),
            _ => None,
        };
        rows.push(Establishment {
            urn: urn(la, slot),
            la,
            la_name,
            region,
            number: Some(match type_code {
                11 => 6000 + i as u32,
                1 => 2990 + i as u32,
                _ => 4900 + i as u32,
            }),
            name: format!("{stem} {suffix}"),
            type_code,
            status,
            open,
            close: None,
            phase,
            ages,
            pupils: (status != 4).then(|| rng.random_range(90..=600)),
            ukprn: (status != 4).then_some(10_100_000 + 100 * u32::from(la) + slot),
            unit: None,
            resourced: None,
            sen1: None,
            district,
            postcode,
            section41: false,
        });
    }
    rows
}

/// Every establishment of the extract, in URN order.
fn establishments(cfg: &Sen2SimConfig) -> Result<Vec<Establishment>, SimError> {
    let demo = demo_las(cfg)?;
    let mut rows = Vec::new();
    for &(la, la_name, region) in &demo {
        let schools: Vec<Establishment> = (PRIMARY.start..NURSERY.end)
            .filter_map(|slot| school(la, la_name, region, slot))
            .collect();
        let extra = closed_and_extra(la, la_name, region, &schools);
        rows.extend(schools);
        rows.extend(
            (COLLEGE.start..SPECIALIST_POST16.end).filter_map(|s| college(la, la_name, region, s)),
        );
        rows.extend(extra);
    }
    // A special-school place is sometimes out of area, in any English LA: every LA's
    // special schools are listed, so each URN the simulator can name resolves.
    for i in 0..ENGLISH_LAS {
        let la = nth_english_la_code(i);
        if demo.iter().any(|d| d.0 == la) {
            continue;
        }
        let (la_name, region) = la_info(la).unwrap_or(("Unknown", ""));
        rows.extend(SPECIAL.filter_map(|slot| school(la, la_name, region, slot)));
    }
    rows.sort_by_key(|e| e.urn);
    Ok(rows)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The GIAS extract for `cfg`'s LAs: Windows-1252 bytes, CRLF line ends.
///
/// Rows: for each demo LA, every URN slot the simulator uses (primary, secondary, special,
/// alternative provision, nursery), its FE colleges and specialist post-16 institutions
/// (UKPRNs as the simulator's, URNs from free slots 70–75), four closed predecessors of
/// academies and four extra establishments; for every other English LA, its ten special
/// schools (out-of-area placements). Type codes follow the slot's kind: special 7, 8, 10, 12,
/// 33, 36, 44; mainstream 1, 2, 3, 5, 28, 34, 35; AP 14, 38, 42, 43; nursery 15; FE 18;
/// specialist post-16 32.
///
/// # Errors
/// [`SimError::Config`] if `cfg` names a non-English LA, or a name cannot be encoded.
pub fn gias_csv(cfg: &Sen2SimConfig) -> Result<Vec<u8>, SimError> {
    let mut out = String::new();
    csv_line(&mut out, &GIAS_HEADERS, "\r\n");
    for e in establishments(cfg)? {
        let (type_name, group, group_name) = establishment_type(e.type_code);
        let rp = match (e.unit, e.resourced) {
            (Some(_), Some(_)) => "Resourced provision and SEN unit",
            (Some(_), None) => "SEN unit",
            (None, Some(_)) => "Resourced provision",
            (None, None) => "Not applicable",
        };
        let fields = [
            e.urn.to_string(),
            format!("{:03}", e.la),
            e.la_name.to_owned(),
            opt(e.number),
            e.name.clone(),
            e.type_code.to_string(),
            type_name.to_owned(),
            group.to_string(),
            group_name.to_owned(),
            e.status.to_string(),
            status_name(e.status).to_owned(),
            opt(e.open.map(|d| dmy(d, '-'))),
            opt(e.close.map(|d| dmy(d, '-'))),
            e.phase.to_string(),
            phase_name(e.phase).to_owned(),
            e.ages.0.to_string(),
            e.ages.1.to_string(),
            opt(e.pupils),
            opt(e.ukprn),
            rp.to_owned(),
            opt(e.resourced.map(|r| r.0)),
            opt(e.resourced.map(|r| r.1)),
            opt(e.unit.map(|u| u.0)),
            opt(e.unit.map(|u| u.1)),
            e.sen1.unwrap_or("").to_owned(),
            e.region.to_owned(),
            e.district.0.to_owned(),
            e.district.1.to_owned(),
            e.postcode.clone(),
            if e.section41 {
                "Approved"
            } else {
                "Not applicable"
            }
            .to_owned(),
        ];
        csv_line(&mut out, &fields, "\r\n");
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&out);
    if unmappable {
        return Err(SimError::Config(
            "a GIAS value has a character Windows-1252 cannot encode".into(),
        ));
    }
    Ok(bytes.into_owned())
}

#[cfg(test)]
mod tests;
