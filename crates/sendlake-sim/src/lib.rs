//! `sendlake-sim`: a deterministic generator of synthetic, realistic SEN2 returns (the
//! DfE's person-level special educational needs survey) for testing and benchmarking the
//! sendlake pipeline.
//!
//! # Overview
//!
//! A [`Sen2SimConfig`] says how many local authorities to simulate, how many persons each,
//! the seed, the census year and the XML layout ([`Sen2Format`]: 2024, or 2026 with the new
//! items). [`write_sen2_returns`] picks the LA codes with [`la_codes`] and writes one file
//! per LA, `sen2_<census_year>_<la>.xml`, plus `summary.json`; it returns a
//! [`Sen2SimSummary`] holding one [`SimFileSummary`] (path, LA, [`Sen2Counts`]) per file.
//! [`write_sen2_return`] streams a single LA's file into any `Write`.
//!
//! Inside, each file has its own `ChaCha8Rng` seeded from `(seed, la_index)`, so files are
//! reproducible and independent of each other. A generator (`generate.rs`) draws one person
//! at a time as plain records (`model.rs`) from calibrated tables (`tables.rs`), settings
//! (`places.rs`) and synthetic names and postcodes (`names.rs`); a streaming writer
//! (`xml.rs`) serialises that person and forgets it, so memory does not grow with
//! `persons_per_la`. Identifiers (`ids.rs`) are built so UPNs and ULNs are unique across all
//! files of a run without remembering them; [`upn_check_letter`] and [`uln_check_digit`] are
//! the check algorithms they use. Census day (3rd Thursday of January) comes from
//! [`sendlake_calendar::census_day`]; the activity period is the previous calendar year.
//!
//! Every file is valid against the SEN2 XSD of its format (the third-party 2024 XSD, or
//! `schemas/sen2/SEN2_schema_2026_sendlake.xsd`) and against the pipeline's semantic rules,
//! so a round trip through the pipeline should quarantine nothing. Unless
//! [`Sen2SimConfig::defects`] asks for defects ([`DefectConfig`], e.g.
//! `DefectConfig::uniform(0.01)`): then a deterministic share of items breaks one
//! cross-field rule each ([`DefectKind`]), all of kinds the pipeline degrades (a value nulled,
//! or a warning) rather than rejects, and [`Sen2Counts::defects`] says exactly what was
//! injected, per file, as the run manifest counts it.
//!
//! ```
//! let cfg = sendlake_sim::Sen2SimConfig { las: 1, persons_per_la: 20, ..Default::default() };
//! let mut xml = Vec::new();
//! let counts = sendlake_sim::write_sen2_return(&cfg, 919, 0, &mut xml)?;
//! assert_eq!(counts.persons, 20);
//! assert!(String::from_utf8_lossy(&xml).contains("<LEA>919</LEA>"));
//! # Ok::<(), sendlake_sim::SimError>(())
//! ```
//!
//! The demo's partner *files* come from the same LAs and children: a GIAS establishment
//! extract ([`gias_csv`]), ONS population estimates ([`population_csv`]), an NHS community
//! waiting-list SitRep ([`chs_waits_csv`]), EHC plan quality-audit grades keyed by the council
//! API's plan ids ([`quality_audit_rows`]) and a family feedback survey
//! ([`family_feedback_csv`]); `examples/demo_files.rs` writes all five under
//! `pipelines/demo-data/` ([`DEMO_FILES`]).
//!
//! The [`serve`] module runs the partner simulator: an HTTP server on loopback serving the
//! council's, an NHS provider's and the DfE's APIs for the same children (see
//! [`serve::start`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod calendar;
mod config;
mod defects;
mod error;
mod files;
mod generate;
mod ids;
mod model;
mod names;
mod places;
pub mod serve;
mod tables;
mod xml;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::AddAssign;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::calendar::census_date;

pub use config::{CENSUS_YEARS, MAX_PERSONS_PER_LA, Sen2Format, Sen2SimConfig};
pub use defects::{DefectConfig, DefectCounts, DefectKind, DefectOutcome};
pub use error::SimError;
pub use files::{
    CHS_HEADER_ROW, CHS_HEADERS, CHS_WAITS_FILE, DEMO_FILES, FEEDBACK_FILE, FEEDBACK_HEADERS,
    FEEDBACK_RESPONSES, GIAS_FILE, GIAS_HEADERS, GRADES, HERTS_QUADRANTS, POPULATION_FILE,
    POPULATION_HEADERS, QUALITY_AUDIT_FILE, QUALITY_AUDIT_HEADERS, QualityAuditRow, chs_waits_csv,
    demo_files_config, family_feedback_csv, gias_csv, population_csv, quality_audit_rows,
    write_demo_csv_files,
};
pub use ids::{MAX_LAS, la_codes, nhs_check_digit, uln_check_digit, upn_check_letter};

use defects::Injector;
use generate::LaGenerator;
use ids::is_valid_la_code;
use xml::Sen2Writer;

/// How many records of each module a file (or a run) holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sen2Counts {
    /// `Person` elements.
    pub persons: u64,
    /// `Requests` elements.
    pub requests: u64,
    /// `Assessment` elements.
    pub assessments: u64,
    /// `NamedPlan` elements.
    pub named_plans: u64,
    /// `PlanDetail` elements.
    pub plan_details: u64,
    /// `ActivePlans` elements.
    pub active_plans: u64,
    /// `PlacementDetail` elements.
    pub placements: u64,
    /// `SENneed` elements.
    pub sen_needs: u64,
    /// Defects injected (empty, and absent from `summary.json`, unless the config asks for
    /// them).
    #[serde(default, skip_serializing_if = "DefectCounts::is_empty")]
    pub defects: DefectCounts,
}

impl AddAssign<&Sen2Counts> for Sen2Counts {
    fn add_assign(&mut self, o: &Sen2Counts) {
        self.persons += o.persons;
        self.requests += o.requests;
        self.assessments += o.assessments;
        self.named_plans += o.named_plans;
        self.plan_details += o.plan_details;
        self.active_plans += o.active_plans;
        self.placements += o.placements;
        self.sen_needs += o.sen_needs;
        self.defects.merge(&o.defects);
    }
}

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFileSummary {
    /// Where the file was written (`out_dir` joined with the file name).
    pub path: PathBuf,
    /// The LA the file is for (its `Header/Source/LEA`).
    pub la_code: u16,
    /// What it contains.
    pub counts: Sen2Counts,
}

/// The files of one run, in LA order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sen2SimSummary {
    /// One entry per LA file.
    pub files: Vec<SimFileSummary>,
}

impl Sen2SimSummary {
    /// Counts summed over all files.
    pub fn totals(&self) -> Sen2Counts {
        let mut total = Sen2Counts::default();
        for f in &self.files {
            total += &f.counts;
        }
        total
    }
}

/// The on-disk form of the summary. File names are relative to `summary.json`, so the
/// output directory can be moved and two runs of one config are byte-identical.
#[derive(Serialize)]
struct SummaryJson<'a> {
    census_year: i32,
    census_date: String,
    format: Sen2Format,
    seed: u64,
    persons_per_la: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    defects: Option<&'a DefectConfig>,
    files: Vec<SummaryJsonFile<'a>>,
    totals: Sen2Counts,
}

#[derive(Serialize)]
struct SummaryJsonFile<'a> {
    file: String,
    la_code: u16,
    counts: &'a Sen2Counts,
}

/// File name of LA `la_code`'s return for `census_year`.
fn file_name(census_year: i32, la_code: u16) -> String {
    format!("sen2_{census_year}_{la_code:03}.xml")
}

/// Writes one SEN2 file per LA into `out_dir` (created if missing), named
/// `sen2_<census_year>_<la>.xml`, and a `summary.json` with the per-file counts and totals.
///
/// LA codes come from [`la_codes`]`(cfg.las, cfg.first_la)`; file `i` uses `la_index = i`.
///
/// # Errors
/// [`SimError::Config`] if the config is out of range (see [`Sen2SimConfig::validate`]),
/// [`SimError::Io`] if the directory or a file cannot be written.
pub fn write_sen2_returns(cfg: &Sen2SimConfig, out_dir: &Path) -> Result<Sen2SimSummary, SimError> {
    cfg.validate()?;
    fs::create_dir_all(out_dir).map_err(|e| SimError::io(out_dir, e))?;
    let mut summary = Sen2SimSummary::default();
    for (la_index, la_code) in la_codes(cfg.las, cfg.first_la).into_iter().enumerate() {
        let path = out_dir.join(file_name(cfg.census_year, la_code));
        let file = File::create(&path).map_err(|e| SimError::io(&path, e))?;
        let counts = write_sen2_return(cfg, la_code, la_index, file).map_err(|e| match e {
            SimError::Write(source) => SimError::io(&path, source),
            other => other,
        })?;
        summary.files.push(SimFileSummary {
            path,
            la_code,
            counts,
        });
    }

    let json = SummaryJson {
        census_year: cfg.census_year,
        census_date: census_date(cfg.census_year).to_string(),
        format: cfg.format,
        seed: cfg.seed,
        persons_per_la: cfg.persons_per_la,
        defects: cfg.defects.as_ref(),
        files: summary
            .files
            .iter()
            .map(|f| SummaryJsonFile {
                file: file_name(cfg.census_year, f.la_code),
                la_code: f.la_code,
                counts: &f.counts,
            })
            .collect(),
        totals: summary.totals(),
    };
    let path = out_dir.join("summary.json");
    let write_json = || -> Result<(), SimError> {
        let file = File::create(&path).map_err(|e| SimError::io(&path, e))?;
        let mut out = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &json)?;
        out.write_all(b"\n").map_err(|e| SimError::io(&path, e))?;
        out.flush().map_err(|e| SimError::io(&path, e))
    };
    write_json()?;
    Ok(summary)
}

/// Streams LA `la_code`'s SEN2 file into `out` and returns what it wrote.
///
/// `la_index` (the file's position in the run, below [`MAX_LAS`]) seeds the file's random
/// stream together with `cfg.seed`, and partitions the UPN/ULN number space: UPNs and ULNs
/// are unique across files as long as each file of a run has its own `la_code` and
/// `la_index`, as [`write_sen2_returns`] arranges. `cfg.las` and `cfg.first_la` are not used
/// here. Output is buffered internally; memory does not depend on `cfg.persons_per_la`.
///
/// # Errors
/// [`SimError::Config`] for an invalid config, an LA code outside the valid UPN ranges, or
/// `la_index >= MAX_LAS`; [`SimError::Write`] if `out` fails.
pub fn write_sen2_return<W: Write>(
    cfg: &Sen2SimConfig,
    la_code: u16,
    la_index: usize,
    out: W,
) -> Result<Sen2Counts, SimError> {
    cfg.validate()?;
    if !is_valid_la_code(la_code) {
        return Err(SimError::Config(format!(
            "LA code {la_code} is not in the valid UPN LA-code ranges"
        )));
    }
    if la_index >= MAX_LAS {
        return Err(SimError::Config(format!(
            "la_index {la_index} must be below {MAX_LAS}"
        )));
    }
    let generator = LaGenerator::new(cfg, la_code, la_index);
    let mut rng = la_rng(cfg.seed, la_index, 0);
    let mut writer = Sen2Writer::new(
        BufWriter::with_capacity(1 << 16, out),
        cfg.format,
        la_rng(cfg.seed, la_index, 1),
    );
    writer.begin(la_code, generator.period())?;
    // Defects draw from a third stream, after each person is drawn: the persons are the same
    // with or without them.
    let mut injector = cfg
        .defects
        .as_ref()
        .map(|d| Injector::new(d, la_rng(cfg.seed, la_index, 2), generator.period().census));
    for k in 0..cfg.persons_per_la {
        let mut person = generator.person(&mut rng, k);
        if let Some(injector) = injector.as_mut() {
            injector.person(&mut person);
        }
        writer.person(&person)?;
    }
    let (mut out, mut counts) = writer.finish()?;
    out.flush()?;
    if let Some(injector) = injector {
        counts.defects = injector.finish();
    }
    Ok(counts)
}

/// The random stream `stream` of file `la_index`: content (0), presentation (1) and injected
/// defects (2) draw from separate streams so a formatting tweak or a defect never changes the
/// simulated data.
fn la_rng(seed: u64, la_index: usize, stream: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(la_index as u64).to_le_bytes());
    key[16..24].copy_from_slice(&stream.to_le_bytes());
    key[24..].copy_from_slice(b"sen2-sim");
    ChaCha8Rng::from_seed(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_config() {
        let mut out = Vec::new();
        let cfg = Sen2SimConfig::default();
        assert!(matches!(
            write_sen2_return(&cfg, 999, 0, &mut out),
            Err(SimError::Config(_))
        ));
        assert!(matches!(
            write_sen2_return(&cfg, 919, MAX_LAS, &mut out),
            Err(SimError::Config(_))
        ));
        let zero = Sen2SimConfig {
            persons_per_la: 0,
            ..Sen2SimConfig::default()
        };
        assert!(zero.validate().is_err());
        let bad_first = Sen2SimConfig {
            first_la: Some(100),
            ..Sen2SimConfig::default()
        };
        assert!(bad_first.validate().is_err());
        assert!(
            Sen2SimConfig {
                las: MAX_LAS + 1,
                ..Sen2SimConfig::default()
            }
            .validate()
            .is_err()
        );
        assert!(Sen2SimConfig::default().validate().is_ok());
    }

    #[test]
    fn format_parses() {
        assert_eq!("2024".parse::<Sen2Format>().unwrap(), Sen2Format::V2024);
        assert_eq!("V2026".parse::<Sen2Format>().unwrap(), Sen2Format::V2026);
        assert!("2025".parse::<Sen2Format>().is_err());
    }

    #[test]
    fn totals_add_up() {
        let c = Sen2Counts {
            persons: 2,
            requests: 3,
            ..Sen2Counts::default()
        };
        let s = Sen2SimSummary {
            files: vec![
                SimFileSummary {
                    path: PathBuf::from("a"),
                    la_code: 919,
                    counts: c.clone(),
                },
                SimFileSummary {
                    path: PathBuf::from("b"),
                    la_code: 201,
                    counts: c,
                },
            ],
        };
        assert_eq!(s.totals().persons, 4);
        assert_eq!(s.totals().requests, 6);
    }
}
