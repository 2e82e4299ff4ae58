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
//!
//! Each file has a module of its own (`gias`, `population`, `chs_waits`, `quality_audit`,
//! `feedback`); the LA and district reference data they share is in `geography`, and the CSV
//! and random-stream helpers they share are here.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Sen2SimConfig, SimError};

mod chs_waits;
mod feedback;
mod geography;
mod gias;
mod population;
mod quality_audit;

pub use chs_waits::{CHS_HEADER_ROW, CHS_HEADERS, chs_waits_csv};
pub use feedback::{FEEDBACK_HEADERS, FEEDBACK_RESPONSES, family_feedback_csv};
pub use geography::HERTS_QUADRANTS;
pub use gias::{GIAS_HEADERS, gias_csv};
pub use population::{POPULATION_HEADERS, population_csv};
pub use quality_audit::{GRADES, QUALITY_AUDIT_HEADERS, QualityAuditRow, quality_audit_rows};

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

#[cfg(test)]
mod tests;
