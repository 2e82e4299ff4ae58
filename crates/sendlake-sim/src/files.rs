//! The demo's synthetic partner files: the shapes a local area receives as files rather
//! than through an API, for the same local authorities (and, where a file names children's
//! plans, the same children) as the SEN2 returns and the partner simulator.
//!
//! | file ([`DEMO_FILES`]) | shape |
//! |---|---|
//! | [`GIAS_FILE`] | a GIAS "all establishment fields" extract: Windows-1252, CRLF, `dd-mm-yyyy` dates; every school and college the SEN2 generator can name or place a child in |
//! | [`POPULATION_FILE`] | ONS mid-year estimates as the Nomis API's `NM_2002_1.data.csv` returns them: ages 0–25 by sex |
//! | [`CHS_WAITS_FILE`] | an NHS community health services waiting-list SitRep (children and young people): title lines above the header, `*` for suppressed cells |
//! | [`QUALITY_AUDIT_FILE`] | EHC plan quality-audit grades keyed by the council API's plan ids ([`quality_audit_rows`]; written as xlsx by `examples/demo_files.rs`) |
//! | [`FEEDBACK_FILE`] | a family feedback survey as Excel saves CSV: UTF-8 with a BOM, CRLF, ratings 1–5, no free text |
//!
//! Everything is a pure function of the [`Sen2SimConfig`] (the LAs, and for the audit the
//! children): no clock, no global randomness, so the committed files under
//! `pipelines/demo-data/` can be checked against the code byte for byte. Each row draws from
//! its own random stream keyed by what the row is (LA, slot, month...), so adding a row never
//! changes another.
//!
//! Nothing here names a real person. School, college and provider names are made up; the
//! codes that identify real bodies (LA codes, ONS area codes, NHS `RY4`, ICB codes) are public
//! reference data. Postcodes use the simulator's outward codes with an inward code ending
//! `ZZ`, so a synthetic postcode is recognisable at a glance.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::calendar::ymd;
use crate::generate::LaGenerator;
use crate::ids::{ENGLISH_LAS, nth_english_la_code};
use crate::names::postcode_districts;
use crate::places::{ukprn, urn};
use crate::tables::pick;
use crate::{Sen2SimConfig, SimError, la_codes};

/// The GIAS extract, relative to the demo-data folder.
pub const GIAS_FILE: &str = "gias/edubasealldata20260901.csv";
/// The ONS mid-year population estimates.
pub const POPULATION_FILE: &str = "population/nomis_mye_2025.csv";
/// The NHS community health services waiting-list SitRep.
pub const CHS_WAITS_FILE: &str = "chs_waits/chs_sitrep_cyp_2026-09.csv";
/// The EHC plan quality-audit workbook (written by `examples/demo_files.rs`).
pub const QUALITY_AUDIT_FILE: &str = "quality-audit/plan_quality_audit_2026.xlsx";
/// The family feedback survey.
pub const FEEDBACK_FILE: &str = "feedback/family_feedback_2026.csv";
/// All five demo files, relative to the demo-data folder.
pub const DEMO_FILES: [&str; 5] = [
    GIAS_FILE,
    POPULATION_FILE,
    CHS_WAITS_FILE,
    QUALITY_AUDIT_FILE,
    FEEDBACK_FILE,
];

/// The configuration the demo files are built for: that of `pipelines/demo.toml` (three LAs,
/// Hertfordshire 919 first, 400 persons each, seed 42, census 2026), so plan references in
/// the audit file are plans the demo's SEN2 returns and council API hold.
pub fn demo_files_config() -> Sen2SimConfig {
    Sen2SimConfig {
        las: 3,
        persons_per_la: 400,
        seed: 42,
        census_year: 2026,
        ..Sen2SimConfig::default()
    }
}

/// Writes the four CSV demo files (every file of [`DEMO_FILES`] but the xlsx, which needs
/// `rust_xlsxwriter`) under `dir`, creating subfolders, and returns their paths.
///
/// # Errors
/// [`SimError::Config`] if `cfg` names an LA the files have no reference data for (see
/// [`population_csv`]); [`SimError::Io`] if a file cannot be written.
pub fn write_demo_csv_files(cfg: &Sen2SimConfig, dir: &Path) -> Result<Vec<PathBuf>, SimError> {
    let files = [
        (GIAS_FILE, gias_csv(cfg)?),
        (POPULATION_FILE, population_csv(cfg)?),
        (CHS_WAITS_FILE, chs_waits_csv(cfg)?),
        (FEEDBACK_FILE, family_feedback_csv()),
    ];
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| SimError::io(parent, e))?;
        }
        fs::write(&path, bytes).map_err(|e| SimError::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

// ---------------------------------------------------------------------------------------
// Shared helpers

/// A random stream for one row, keyed by a file tag and two numbers.
fn row_rng(tag: &[u8; 8], a: u64, b: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(tag);
    key[8..16].copy_from_slice(&a.to_le_bytes());
    key[16..24].copy_from_slice(&b.to_le_bytes());
    key[24..].copy_from_slice(b"demofile");
    ChaCha8Rng::from_seed(key)
}

/// Quotes a CSV field when it must be (delimiter, quote, line end), as Excel does.
fn csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// One CSV line with minimal quoting.
fn csv_line<S: AsRef<str>>(out: &mut String, fields: &[S], eol: &str) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f.as_ref());
    }
    out.push_str(eol);
}

fn dmy(d: NaiveDate, sep: char) -> String {
    format!("{:02}{sep}{:02}{sep}{:04}", d.day(), d.month(), d.year())
}

/// A postcode in one of `la`'s outward codes with a `ZZ` inward code.
fn synthetic_postcode(rng: &mut impl Rng, outward: &[&str]) -> String {
    let district = outward
        .get(rng.random_range(0..outward.len().max(1)))
        .copied()
        .unwrap_or("SG1");
    format!("{district} {}ZZ", rng.random_range(0..10))
}

// ---------------------------------------------------------------------------------------
// Geography

/// `(DfE LA code, name, region)` for every English code the simulator hands out
/// ([`crate::la_codes`] and out-of-area placements). Codes of authorities since merged
/// (820 Bedfordshire, 836 Poole, 837 Bournemouth, 875 Cheshire, 909 Cumbria, 928
/// Northamptonshire) keep their old names, as closed establishments do in GIAS.
const ENGLISH_LA_NAMES: [(u16, &str, &str); 154] = [
    (201, "City of London", "London"),
    (202, "Camden", "London"),
    (203, "Greenwich", "London"),
    (204, "Hackney", "London"),
    (205, "Hammersmith and Fulham", "London"),
    (206, "Islington", "London"),
    (207, "Kensington and Chelsea", "London"),
    (208, "Lambeth", "London"),
    (209, "Lewisham", "London"),
    (210, "Southwark", "London"),
    (211, "Tower Hamlets", "London"),
    (212, "Wandsworth", "London"),
    (213, "Westminster", "London"),
    (301, "Barking and Dagenham", "London"),
    (302, "Barnet", "London"),
    (303, "Bexley", "London"),
    (304, "Brent", "London"),
    (305, "Bromley", "London"),
    (306, "Croydon", "London"),
    (307, "Ealing", "London"),
    (308, "Enfield", "London"),
    (309, "Haringey", "London"),
    (310, "Harrow", "London"),
    (311, "Havering", "London"),
    (312, "Hillingdon", "London"),
    (313, "Hounslow", "London"),
    (314, "Kingston upon Thames", "London"),
    (315, "Merton", "London"),
    (316, "Newham", "London"),
    (317, "Redbridge", "London"),
    (318, "Richmond upon Thames", "London"),
    (319, "Sutton", "London"),
    (320, "Waltham Forest", "London"),
    (330, "Birmingham", "West Midlands"),
    (331, "Coventry", "West Midlands"),
    (332, "Dudley", "West Midlands"),
    (333, "Sandwell", "West Midlands"),
    (334, "Solihull", "West Midlands"),
    (335, "Walsall", "West Midlands"),
    (336, "Wolverhampton", "West Midlands"),
    (340, "Knowsley", "North West"),
    (341, "Liverpool", "North West"),
    (342, "St. Helens", "North West"),
    (343, "Sefton", "North West"),
    (344, "Wirral", "North West"),
    (350, "Bolton", "North West"),
    (351, "Bury", "North West"),
    (352, "Manchester", "North West"),
    (353, "Oldham", "North West"),
    (354, "Rochdale", "North West"),
    (355, "Salford", "North West"),
    (356, "Stockport", "North West"),
    (357, "Tameside", "North West"),
    (358, "Trafford", "North West"),
    (359, "Wigan", "North West"),
    (370, "Barnsley", "Yorkshire and The Humber"),
    (371, "Doncaster", "Yorkshire and The Humber"),
    (372, "Rotherham", "Yorkshire and The Humber"),
    (373, "Sheffield", "Yorkshire and The Humber"),
    (380, "Bradford", "Yorkshire and The Humber"),
    (381, "Calderdale", "Yorkshire and The Humber"),
    (382, "Kirklees", "Yorkshire and The Humber"),
    (383, "Leeds", "Yorkshire and The Humber"),
    (384, "Wakefield", "Yorkshire and The Humber"),
    (390, "Gateshead", "North East"),
    (391, "Newcastle upon Tyne", "North East"),
    (392, "North Tyneside", "North East"),
    (393, "South Tyneside", "North East"),
    (394, "Sunderland", "North East"),
    (420, "Isles of Scilly", "South West"),
    (800, "Bath and North East Somerset", "South West"),
    (801, "Bristol, City of", "South West"),
    (802, "North Somerset", "South West"),
    (803, "South Gloucestershire", "South West"),
    (805, "Hartlepool", "North East"),
    (806, "Middlesbrough", "North East"),
    (807, "Redcar and Cleveland", "North East"),
    (808, "Stockton-on-Tees", "North East"),
    (
        810,
        "Kingston upon Hull, City of",
        "Yorkshire and The Humber",
    ),
    (811, "East Riding of Yorkshire", "Yorkshire and The Humber"),
    (812, "North East Lincolnshire", "Yorkshire and The Humber"),
    (813, "North Lincolnshire", "Yorkshire and The Humber"),
    (815, "North Yorkshire", "Yorkshire and The Humber"),
    (816, "York", "Yorkshire and The Humber"),
    (820, "Bedfordshire", "East of England"),
    (821, "Luton", "East of England"),
    (822, "Bedford", "East of England"),
    (823, "Central Bedfordshire", "East of England"),
    (825, "Buckinghamshire", "South East"),
    (826, "Milton Keynes", "South East"),
    (830, "Derbyshire", "East Midlands"),
    (831, "Derby", "East Midlands"),
    (835, "Dorset", "South West"),
    (836, "Poole", "South West"),
    (837, "Bournemouth", "South West"),
    (840, "County Durham", "North East"),
    (841, "Darlington", "North East"),
    (845, "East Sussex", "South East"),
    (846, "Brighton and Hove", "South East"),
    (850, "Hampshire", "South East"),
    (851, "Portsmouth", "South East"),
    (852, "Southampton", "South East"),
    (855, "Leicestershire", "East Midlands"),
    (856, "Leicester", "East Midlands"),
    (857, "Rutland", "East Midlands"),
    (860, "Staffordshire", "West Midlands"),
    (861, "Stoke-on-Trent", "West Midlands"),
    (865, "Wiltshire", "South West"),
    (866, "Swindon", "South West"),
    (867, "Bracknell Forest", "South East"),
    (868, "Windsor and Maidenhead", "South East"),
    (869, "West Berkshire", "South East"),
    (870, "Reading", "South East"),
    (871, "Slough", "South East"),
    (872, "Wokingham", "South East"),
    (873, "Cambridgeshire", "East of England"),
    (874, "Peterborough", "East of England"),
    (875, "Cheshire", "North West"),
    (876, "Halton", "North West"),
    (877, "Warrington", "North West"),
    (878, "Devon", "South West"),
    (879, "Plymouth", "South West"),
    (880, "Torbay", "South West"),
    (881, "Essex", "East of England"),
    (882, "Southend-on-Sea", "East of England"),
    (883, "Thurrock", "East of England"),
    (884, "Herefordshire", "West Midlands"),
    (885, "Worcestershire", "West Midlands"),
    (886, "Kent", "South East"),
    (887, "Medway", "South East"),
    (888, "Lancashire", "North West"),
    (889, "Blackburn with Darwen", "North West"),
    (890, "Blackpool", "North West"),
    (891, "Nottinghamshire", "East Midlands"),
    (892, "Nottingham", "East Midlands"),
    (893, "Shropshire", "West Midlands"),
    (894, "Telford and Wrekin", "West Midlands"),
    (895, "Cheshire East", "North West"),
    (896, "Cheshire West and Chester", "North West"),
    (908, "Cornwall", "South West"),
    (909, "Cumbria", "North West"),
    (916, "Gloucestershire", "South West"),
    (919, "Hertfordshire", "East of England"),
    (921, "Isle of Wight", "South East"),
    (925, "Lincolnshire", "East Midlands"),
    (926, "Norfolk", "East of England"),
    (928, "Northamptonshire", "East Midlands"),
    (929, "Northumberland", "North East"),
    (931, "Oxfordshire", "South East"),
    (933, "Somerset", "South West"),
    (935, "Suffolk", "East of England"),
    (936, "Surrey", "South East"),
    (937, "Warwickshire", "West Midlands"),
    (938, "West Sussex", "South East"),
];

fn la_info(la: u16) -> Option<(&'static str, &'static str)> {
    ENGLISH_LA_NAMES
        .iter()
        .find(|e| e.0 == la)
        .map(|&(_, name, region)| (name, region))
}

/// The LAs the demo files cover: those of [`crate::la_codes`] for `cfg`, each with its name
/// and region. Only English LAs have reference data.
fn demo_las(cfg: &Sen2SimConfig) -> Result<Vec<(u16, &'static str, &'static str)>, SimError> {
    la_codes(cfg.las, cfg.first_la)
        .into_iter()
        .map(|la| {
            la_info(la).map(|(n, r)| (la, n, r)).ok_or_else(|| {
                SimError::Config(format!(
                    "LA {la:03} is not an English LA; the demo files have no reference data for it"
                ))
            })
        })
        .collect()
}

/// A Hertfordshire district: ONS code, name, SEND quadrant, postcode outward codes.
struct HertsDistrict {
    code: &'static str,
    name: &'static str,
    quadrant: &'static str,
    outward: &'static [&'static str],
    /// Census 2021 usual residents, rounded (send-domain.md §7.1; the four marked
    /// unconfirmed there are approximate).
    residents: u32,
}

/// Hertfordshire's ten districts (send-domain.md §7.1). Quadrants are the commonly used but
/// unconfirmed grouping (North: North Herts + Stevenage; East: East Herts + Broxbourne;
/// South: Welwyn Hatfield + Hertsmere + St Albans; West: Dacorum + Watford + Three Rivers);
/// in the pipeline they are a configurable lookup, here they only steer synthetic data.
const HERTS_DISTRICTS: [HertsDistrict; 10] = [
    HertsDistrict {
        code: "E07000095",
        name: "Broxbourne",
        quadrant: "East",
        outward: &["EN7", "EN8", "EN10", "EN11"],
        residents: 99_000,
    },
    HertsDistrict {
        code: "E07000096",
        name: "Dacorum",
        quadrant: "West",
        outward: &["HP1", "HP2", "HP3", "HP4", "HP23", "WD4"],
        residents: 155_100,
    },
    HertsDistrict {
        code: "E07000098",
        name: "Hertsmere",
        quadrant: "South",
        outward: &["WD6", "WD7", "WD23", "EN6"],
        residents: 107_000,
    },
    HertsDistrict {
        code: "E07000099",
        name: "North Hertfordshire",
        quadrant: "North",
        outward: &["SG3", "SG4", "SG5", "SG6", "SG7", "SG8"],
        residents: 133_200,
    },
    HertsDistrict {
        code: "E07000102",
        name: "Three Rivers",
        quadrant: "West",
        outward: &["WD3", "WD5", "WD19"],
        residents: 93_000,
    },
    HertsDistrict {
        code: "E07000103",
        name: "Watford",
        quadrant: "West",
        outward: &["WD17", "WD18", "WD24", "WD25"],
        residents: 102_000,
    },
    HertsDistrict {
        code: "E07000240",
        name: "St Albans",
        quadrant: "South",
        outward: &["AL1", "AL2", "AL3", "AL4", "AL5"],
        residents: 148_200,
    },
    HertsDistrict {
        code: "E07000241",
        name: "Welwyn Hatfield",
        quadrant: "South",
        outward: &["AL6", "AL7", "AL8", "AL9", "AL10"],
        residents: 119_900,
    },
    HertsDistrict {
        code: "E07000242",
        name: "East Hertfordshire",
        quadrant: "East",
        outward: &["SG9", "SG10", "SG11", "SG12", "SG13", "SG14", "CM23"],
        residents: 150_100,
    },
    HertsDistrict {
        code: "E07000243",
        name: "Stevenage",
        quadrant: "North",
        outward: &["SG1", "SG2"],
        residents: 89_500,
    },
];

/// Hertfordshire's SEND quadrants, in the order files list them.
pub const HERTS_QUADRANTS: [&str; 4] = ["North", "South", "East", "West"];

/// The Hertfordshire district a postcode lies in, by its outward code.
fn herts_district_of(postcode: &str) -> Option<&'static HertsDistrict> {
    let outward = postcode.split_whitespace().next()?;
    HERTS_DISTRICTS
        .iter()
        .find(|d| d.outward.contains(&outward))
}

/// The district GIAS gives a school in a non-Hertfordshire demo LA: London boroughs are
/// their own district. Others are left blank (the demo has no district table for them).
fn district_of_la(la: u16) -> (&'static str, &'static str) {
    match la {
        201 => ("E09000001", "City of London"),
        202 => ("E09000007", "Camden"),
        203 => ("E09000011", "Greenwich"),
        204 => ("E09000012", "Hackney"),
        _ => ("", ""),
    }
}

// ---------------------------------------------------------------------------------------
// GIAS

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

// ---------------------------------------------------------------------------------------
// Population

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

// ---------------------------------------------------------------------------------------
// CHS waiting lists

/// The SitRep's column headers (send-domain.md §5.3 bands).
pub const CHS_HEADERS: [&str; 14] = [
    "Period",
    "Provider Code",
    "Provider Name",
    "ICB Code",
    "ICB Name",
    "Service Line (CYP)",
    "0-1 weeks",
    "1-2 weeks",
    "2-4 weeks",
    "4-12 weeks",
    "12-18 weeks",
    "18-52 weeks",
    "52+ weeks",
    "Total waiting",
];

/// The physical line of the SitRep's header: two title lines and a blank line come first.
pub const CHS_HEADER_ROW: usize = 4;

/// The partner simulator's service lines (serve/data.rs `SERVICE_LINES`), with the typical
/// wait in weeks, so SitRep rows join the NHS API's referrals by service line.
const SERVICE_LINES: [(&str, f64); 5] = [
    ("community paediatrics", 33.0),
    ("speech and language therapy", 22.0),
    ("occupational therapy", 18.0),
    ("physiotherapy", 12.0),
    ("neurodevelopmental assessment", 40.0),
];

/// Share of a provider's children waiting per service line (send-domain.md §5.3: 55%
/// community paediatrics, 21% speech and language therapy nationally).
const LINE_SHARE: [f64; 5] = [0.42, 0.21, 0.09, 0.06, 0.22];

/// Band edges in weeks.
const BAND_EDGES: [f64; 8] = [0.0, 1.0, 2.0, 4.0, 12.0, 18.0, 52.0, f64::INFINITY];

/// The children's community provider of LA `la`, as the partner simulator names it
/// (serve/data.rs `provider_code`): Hertfordshire Community NHS Trust `RY4`, elsewhere a
/// made-up `X` code. Also its name, ICB and children waiting across the five lines.
fn provider(la: u16, la_name: &str) -> (String, String, &'static str, &'static str, f64) {
    match la {
        919 => (
            "RY4".into(),
            "Hertfordshire Community NHS Trust".into(),
            "QM7",
            "NHS Hertfordshire and West Essex Integrated Care Board",
            5_600.0,
        ),
        201 => (
            "X201".into(),
            format!("{la_name} Children's Community Services (synthetic)"),
            "QMF",
            "NHS North East London Integrated Care Board",
            150.0,
        ),
        _ => (
            format!("X{la:03}"),
            format!("{la_name} Children's Community Services (synthetic)"),
            "QMJ",
            "NHS North Central London Integrated Care Board",
            1_100.0,
        ),
    }
}

/// The last day of month `m` months after October 2025.
fn month_end(m: u32) -> NaiveDate {
    let first = ymd(2025 + ((9 + m) / 12) as i32, (9 + m) % 12 + 1, 1);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    next.pred_opt().unwrap_or(first)
}

/// A community health services waiting-list SitRep for children and young people, October
/// 2025 to September 2026, one row per month, provider and service line; UTF-8, CRLF.
///
/// Above the header ([`CHS_HEADER_ROW`]) are two title lines and a blank line, padded with
/// commas as Excel exports them. Counts 1–4 are suppressed as `*` (the small City of London
/// provider has many); one provider's physiotherapy return for February 2026 is missing
/// (all counts blank). Waits follow an exponential tail around each line's typical wait,
/// shortening slowly over the year.
///
/// # Errors
/// [`SimError::Config`] if `cfg` names a non-English LA.
pub fn chs_waits_csv(cfg: &Sen2SimConfig) -> Result<Vec<u8>, SimError> {
    let las = demo_las(cfg)?;
    let pad = ",".repeat(CHS_HEADERS.len() - 1);
    let mut out = String::new();
    out.push_str(
        "Community Health Services Waiting Lists: Children and Young People (synthetic demo data)",
    );
    out.push_str(&pad);
    out.push_str("\r\n");
    csv_line(
        &mut out,
        &[
            "Provider-level waiting list by service line and weeks waited, October 2025 to September 2026. Counts of 1 to 4 are shown as *.",
        ],
        "",
    );
    out.push_str(&pad);
    out.push_str("\r\n");
    out.push_str(&pad);
    out.push_str("\r\n");
    csv_line(&mut out, &CHS_HEADERS, "\r\n");
    for m in 0..12u32 {
        let period = month_end(m);
        for (li, &(la, la_name, _)) in las.iter().enumerate() {
            let (code, name, icb, icb_name, size) = provider(la, la_name);
            for (si, &(line, mean_weeks)) in SERVICE_LINES.iter().enumerate() {
                let mut rng = row_rng(b"chs-sitr", u64::from(m), (li * 10 + si) as u64);
                let mut fields = vec![
                    period.to_string(),
                    code.clone(),
                    name.clone(),
                    icb.to_owned(),
                    icb_name.to_owned(),
                    line.to_owned(),
                ];
                // A provider that missed one month's return for one line.
                if li == 1 && si == 3 && m == 4 {
                    fields.extend(std::iter::repeat_n(String::new(), 8));
                    csv_line(&mut out, &fields, "\r\n");
                    continue;
                }
                let trend = 1.0 - 0.012 * f64::from(m);
                let total = size * LINE_SHARE[si] * trend * (1.0 + rng.random_range(-0.04..0.04));
                let mean = mean_weeks * (1.0 - 0.01 * f64::from(m));
                let mut sum = 0u64;
                for w in BAND_EDGES.windows(2) {
                    let share = (-w[0] / mean).exp() - (-w[1] / mean).exp();
                    let n = (total * share).round().max(0.0) as u64;
                    sum += n;
                    fields.push(if (1..=4).contains(&n) {
                        "*".to_owned()
                    } else {
                        n.to_string()
                    });
                }
                fields.push(sum.to_string());
                csv_line(&mut out, &fields, "\r\n");
            }
        }
    }
    Ok(out.into_bytes())
}

// ---------------------------------------------------------------------------------------
// Plan quality audit

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
/// [`demo_files_config`].
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

// ---------------------------------------------------------------------------------------
// Family feedback

/// The feedback survey's column headers (ratings 1 = strongly disagree .. 5 = strongly
/// agree).
pub const FEEDBACK_HEADERS: [&str; 9] = [
    "Response ID",
    "Submitted",
    "Respondent group",
    "Locality",
    "I was kept informed",
    "My child's needs are understood",
    "I felt listened to",
    "Support was put in place quickly",
    "Overall experience",
];

/// Rows in the feedback file.
pub const FEEDBACK_RESPONSES: usize = 400;

/// A family feedback survey export as Excel saves "CSV UTF-8": a byte-order mark, CRLF,
/// `dd/mm/yyyy` dates. 400 responses from January to August 2026 by parents and carers,
/// young people and professionals; "My child's needs are understood" is blank for young
/// people, and about one answer in twenty is skipped. No free text: comments could identify
/// a family.
pub fn family_feedback_csv() -> Vec<u8> {
    const GROUPS: [(&str, f64); 3] = [
        ("Parent/carer", 70.0),
        ("Young person", 15.0),
        ("Professional", 15.0),
    ];
    let first_day = ymd(2026, 1, 2);
    let mut out = String::from("\u{feff}");
    csv_line(&mut out, &FEEDBACK_HEADERS, "\r\n");
    for i in 0..FEEDBACK_RESPONSES {
        let mut rng = row_rng(b"feedback", i as u64, 0);
        // Responses arrive steadily through the year, roughly in id order.
        let day = (i as i64 * 238) / FEEDBACK_RESPONSES as i64 + rng.random_range(0..3);
        let date = first_day + TimeDelta::days(day);
        let group = pick(&mut rng, &GROUPS);
        let locality = if rng.random_bool(0.04) {
            ""
        } else {
            HERTS_QUADRANTS[rng.random_range(0..HERTS_QUADRANTS.len())]
        };
        // Parents rate lowest, professionals highest; all improve slowly over the year.
        let mood = match group {
            "Parent/carer" => 2.6,
            "Young person" => 3.1,
            _ => 3.4,
        } + 0.6 * (day as f64 / 238.0);
        let mut fields = vec![
            format!("FB26-{:04}", i + 1),
            dmy(date, '/'),
            group.to_owned(),
            locality.to_owned(),
        ];
        for q in 0..5 {
            let skip = (q == 1 && group == "Young person") || rng.random_bool(0.05);
            let rating = (mood + rng.random_range(-1.8..1.8)).round().clamp(1.0, 5.0) as u8;
            fields.push(if skip {
                String::new()
            } else {
                rating.to_string()
            });
        }
        csv_line(&mut out, &fields, "\r\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::places::{Kind, choose_setting, dual_setting};

    fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/demo-data")
    }

    /// The committed CSVs are exactly what the code writes: regenerate them with
    /// `cargo run -p sendlake-sim --example demo_files -- pipelines/demo-data` after a change.
    #[test]
    fn committed_csv_files_match_the_code() {
        let tmp = tempfile::tempdir().unwrap();
        let written = write_demo_csv_files(&demo_files_config(), tmp.path()).unwrap();
        assert_eq!(written.len(), 4);
        for path in written {
            let rel = path.strip_prefix(tmp.path()).unwrap();
            let committed =
                fs::read(demo_dir().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
            let fresh = fs::read(&path).unwrap();
            assert!(
                committed == fresh,
                "{} differs from the generator's output; rerun the demo_files example",
                rel.display()
            );
        }
    }

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

    #[test]
    fn every_herts_outward_code_has_a_district() {
        for outward in postcode_districts(919) {
            assert!(
                herts_district_of(&format!("{outward} 1AA")).is_some(),
                "{outward}"
            );
        }
        assert_eq!(ENGLISH_LA_NAMES.len(), ENGLISH_LAS);
        for i in 0..ENGLISH_LAS {
            assert!(la_info(nth_english_la_code(i)).is_some());
        }
    }

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

    #[test]
    fn chs_waits_have_title_lines_suppression_and_consistent_totals() {
        let text = String::from_utf8(chs_waits_csv(&demo_files_config()).unwrap()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[CHS_HEADER_ROW - 1], CHS_HEADERS.join(","));
        let rows = &lines[CHS_HEADER_ROW..];
        assert_eq!(rows.len(), 12 * 3 * 5);
        assert!(rows.iter().any(|r| r.contains(",*,")));
        assert!(rows.iter().any(|r| r.ends_with(",,,,,,,,")));
        assert!(rows.iter().any(|r| r.starts_with("2026-09-30,RY4,")));
        for r in rows {
            let f: Vec<&str> = r.split(',').collect();
            let total: u64 = f[13].parse().unwrap_or(0);
            let shown: u64 = f[6..13].iter().filter_map(|v| v.parse::<u64>().ok()).sum();
            let hidden = f[6..13].iter().filter(|v| **v == "*").count() as u64;
            assert!(shown <= total && total <= shown + 4 * hidden, "{r}");
        }
    }

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

    #[test]
    fn feedback_is_utf8_with_bom_and_has_blanks() {
        let bytes = family_feedback_csv();
        assert!(bytes.starts_with(b"\xEF\xBB\xBFResponse ID,"));
        let text = String::from_utf8(bytes).unwrap();
        let rows: Vec<&str> = text
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(rows.len(), FEEDBACK_RESPONSES);
        assert!(rows.iter().any(|r| r.contains(",,")));
        for r in rows {
            let f: Vec<&str> = r.split(',').collect();
            assert_eq!(f.len(), FEEDBACK_HEADERS.len());
            assert!(
                f[4..]
                    .iter()
                    .all(|v| v.is_empty() || ["1", "2", "3", "4", "5"].contains(v))
            );
        }
    }

    /// The files link to the partner simulator's APIs: every audited plan is a live plan of
    /// the council API (not ceased), and the SitRep's providers and service lines are those of
    /// the NHS API's referrals (the constants here copy serve/data.rs, which is private).
    #[tokio::test]
    async fn files_link_to_the_simulator_apis() {
        use serde_json::Value;

        let sim = crate::serve::start(crate::serve::SimServerConfig {
            sen2: demo_files_config(),
            ..crate::serve::SimServerConfig::default()
        })
        .await
        .unwrap();
        let cfg = sim.config().clone();
        let c = reqwest::Client::new();
        let token: Value = c
            .post(format!("{}/council/oauth/token", sim.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                cfg.client_id, cfg.client_secret
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_owned();
        let mut plans: HashMap<String, Value> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = vec![("limit".to_owned(), "1000".to_owned())];
            if let Some(cur) = &cursor {
                q.push(("cursor".to_owned(), cur.clone()));
            }
            let page: Value = c
                .get(format!("{}/council/api/v1/plans", sim.base_url()))
                .bearer_auth(&token)
                .query(&q)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for p in page["data"].as_array().unwrap() {
                plans.insert(p["id"].as_str().unwrap().to_owned(), p.clone());
            }
            match page["next_cursor"].as_str() {
                Some(n) => cursor = Some(n.to_owned()),
                None => break,
            }
        }
        let rows = quality_audit_rows(&demo_files_config()).unwrap();
        for row in &rows {
            let plan = plans
                .get(&row.plan_reference)
                .unwrap_or_else(|| panic!("{} is not a council plan", row.plan_reference));
            assert!(plan["cease_date"].is_null(), "{}", row.plan_reference);
        }
        let live_herts = plans
            .values()
            .filter(|p| {
                p["id"].as_str().unwrap().starts_with("PLN-919-") && p["cease_date"].is_null()
            })
            .count();
        assert_eq!(rows.len(), live_herts);

        let mut referrals: Vec<Value> = Vec::new();
        loop {
            let page: Value = c
                .get(format!("{}/nhs/api/v1/referrals", sim.base_url()))
                .header("X-API-Key", &cfg.api_key)
                .query(&[
                    ("offset", referrals.len().to_string()),
                    ("limit", "1000".into()),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let items = page["items"].as_array().unwrap();
            referrals.extend(items.iter().cloned());
            if items.is_empty() || referrals.len() as u64 >= page["total"].as_u64().unwrap() {
                break;
            }
        }
        let served: HashSet<(String, String)> = referrals
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap().to_owned();
                (s("provider_code"), s("service_line"))
            })
            .collect();
        let text = String::from_utf8(chs_waits_csv(&demo_files_config()).unwrap()).unwrap();
        let in_file: HashSet<(String, String)> = text
            .split("\r\n")
            .skip(CHS_HEADER_ROW)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[1].to_owned(), f[5].to_owned())
            })
            .collect();
        assert_eq!(in_file, served);
        sim.shutdown().await.unwrap();
    }
}
