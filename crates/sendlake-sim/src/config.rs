//! What to generate: [`Sen2SimConfig`] and the schema flavour [`Sen2Format`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::defects::DefectConfig;
use crate::ids::{MAX_LAS, is_valid_la_code};

/// Largest `persons_per_la` the identifier scheme keeps unique (see `ids.rs`: UPN serials and
/// the ULN number space are carved up by LA index and person index).
pub const MAX_PERSONS_PER_LA: usize = 400_000;

/// Census years the generator accepts. Bounded so every date it derives stays four-digit and
/// chrono arithmetic cannot overflow.
pub const CENSUS_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Which SEN2 XML layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sen2Format {
    /// The 2024 layout of the third-party (liia-tools) XSD.
    V2024,
    /// 2024 plus the 2026 guide's items: `RequestSource` on requests and `ReviewDraft`,
    /// `PhaseTransferDueDate`, `PhaseTransferFinalDate` on active plans. Validates against
    /// `schemas/sen2/SEN2_schema_2026_sendlake.xsd`, which also admits `DS` and the few
    /// extended ethnicity codes this format emits.
    V2026,
}

impl Sen2Format {
    /// Short name used in `summary.json` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2024 => "2024",
            Self::V2026 => "2026",
        }
    }
}

impl fmt::Display for Sen2Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sen2Format {
    type Err = SimError;

    /// Accepts `2024`/`v2024` and `2026`/`v2026` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().trim_start_matches('v') {
            "2024" => Ok(Self::V2024),
            "2026" => Ok(Self::V2026),
            other => Err(SimError::Config(format!(
                "unknown SEN2 format {other:?} (expected 2024 or 2026)"
            ))),
        }
    }
}

/// Parameters of one simulation run. Same config ⇒ byte-identical output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sen2SimConfig {
    /// Number of local authorities, one file each (at most [`MAX_LAS`]).
    pub las: usize,
    /// Persons per file (1..=[`MAX_PERSONS_PER_LA`]).
    pub persons_per_la: usize,
    /// Master seed; each file's stream is derived from `(seed, la_index)`.
    pub seed: u64,
    /// Collection year: census day is the 3rd Thursday of January of this year and the
    /// activity period is the previous calendar year.
    pub census_year: i32,
    /// XML layout to write.
    pub format: Sen2Format,
    /// LA code of the first file; the rest follow from [`crate::la_codes`].
    pub first_la: Option<u16>,
    /// Defects to inject (off by default: the files are clean). See [`DefectConfig`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defects: Option<DefectConfig>,
}

impl Default for Sen2SimConfig {
    fn default() -> Self {
        Self {
            las: 3,
            persons_per_la: 500,
            seed: 42,
            census_year: 2026,
            format: Sen2Format::V2026,
            first_la: Some(919),
            defects: None,
        }
    }
}

impl Sen2SimConfig {
    /// Checks the limits the generator relies on.
    ///
    /// # Errors
    /// [`SimError::Config`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.las > MAX_LAS {
            return Err(SimError::Config(format!(
                "las = {} but only {MAX_LAS} distinct valid LA codes exist",
                self.las
            )));
        }
        if !(1..=MAX_PERSONS_PER_LA).contains(&self.persons_per_la) {
            // Zero persons would break the XSD (Person is 1..n).
            return Err(SimError::Config(format!(
                "persons_per_la = {} must be within 1..={MAX_PERSONS_PER_LA}",
                self.persons_per_la
            )));
        }
        if !CENSUS_YEARS.contains(&self.census_year) {
            return Err(SimError::Config(format!(
                "census_year = {} must be within {}..={}",
                self.census_year,
                CENSUS_YEARS.start(),
                CENSUS_YEARS.end()
            )));
        }
        if let Some(first) = self.first_la
            && !is_valid_la_code(first)
        {
            return Err(SimError::Config(format!(
                "first_la = {first} is not in the valid UPN LA-code ranges"
            )));
        }
        if let Some(defects) = &self.defects {
            defects.validate()?;
        }
        Ok(())
    }
}
