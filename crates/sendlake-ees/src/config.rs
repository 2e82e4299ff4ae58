//! What an EES source's TOML says: which data sets, pinned to which major version, and which
//! slice of each (indicators, geographic levels, locations, time periods, filter options), all
//! by the names a person reads in the data set's metadata, never by the API's opaque ids.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::codes;

/// Largest page the query endpoint allows (OpenAPI: `pageSize` maximum 10000).
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// The EES part of a source file: the data sets to read, in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EesConfig {
    /// Data sets to read, in this order. The same data set may appear twice with different
    /// slices.
    pub data_sets: Vec<EesDataSetConfig>,
}

/// One data set and the slice of it to load.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EesDataSetConfig {
    /// The API data set id (a UUID, shown on the data catalogue page as "API data set ID").
    pub id: String,
    /// The major version we were built against. The connector reads the latest published
    /// minor/patch of this major; a pinned major that no longer exists fails the data set,
    /// and a newer major is logged as a warning but never moved to silently, because a new
    /// major may drop or rename the columns and options named here.
    pub major_version: u32,
    /// Indicator columns as in the data set's metadata (e.g. `pc_within_20_weeks`); empty
    /// means every indicator.
    #[serde(default)]
    pub indicators: Vec<String>,
    /// Geographic level codes (`NAT`, `REG`, `LA`, ...); empty means every level.
    #[serde(default)]
    pub geographic_levels: Vec<String>,
    /// Location codes: ONS codes (`E92000001`, `E12000006`, `E10000015`), old LA codes
    /// (`919`), school URNs or LAESTABs, provider UKPRNs. Empty means every location. A code
    /// may match locations at several levels (a unitary authority is both an LA and an LA
    /// district): all of them are read, unless `geographic_levels` narrows them.
    #[serde(default)]
    pub locations: Vec<String>,
    /// Which time periods; absent means all of them.
    #[serde(default)]
    pub time_periods: Option<EesTimePeriods>,
    /// Filter column (as in metadata, e.g. `age_group`) → option labels to keep (e.g.
    /// `["Total"]`). Columns left out are not restricted.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Result rows per query page, 1 to 10000.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

/// Time periods as the API writes them in queries: `period|CODE`, e.g. `2024|CY` or
/// `2023/2024|AY` (a single year for a two-year code such as `AY` means the year starting
/// then). Either a range (`from` and/or `to`) or a list (`periods`), not both.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EesTimePeriods {
    /// Earliest period to read, inclusive. Need not exist in the data set.
    #[serde(default)]
    pub from: Option<String>,
    /// Latest period to read, inclusive. Need not exist in the data set.
    #[serde(default)]
    pub to: Option<String>,
    /// Exactly these periods; each must exist in the data set's metadata.
    #[serde(default)]
    pub periods: Vec<String>,
}

const fn default_page_size() -> u32 {
    1000
}

impl EesDataSetConfig {
    /// A config for data set `id` pinned to `major_version`, with everything else at its
    /// default (all indicators, levels, locations, periods and options; 1000 rows a page).
    pub fn new(id: impl Into<String>, major_version: u32) -> Self {
        Self {
            id: id.into(),
            major_version,
            indicators: Vec::new(),
            geographic_levels: Vec::new(),
            locations: Vec::new(),
            time_periods: None,
            filters: BTreeMap::new(),
            page_size: default_page_size(),
        }
    }
}

impl EesConfig {
    /// Checks what serde cannot, before any request: ranges, formats, codes the API
    /// defines, duplicates. Names the key of every problem found, not just the first.
    ///
    /// # Errors
    /// Every problem, joined by `"; "`.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.data_sets.is_empty() {
            problems.push("`data_sets` must list at least one data set".to_owned());
        }
        for (i, ds) in self.data_sets.iter().enumerate() {
            ds.check(&format!("data_sets[{i}]"), &mut problems);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl EesDataSetConfig {
    fn check(&self, at: &str, problems: &mut Vec<String>) {
        // The id becomes a URL path segment: anything beyond a UUID's alphabet could walk
        // to another endpoint (`../publications`) or break the URL.
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            problems.push(format!(
                "`{at}.id` must be an API data set id (letters, digits and `-`), got {:?}",
                self.id
            ));
        }
        if self.major_version == 0 {
            problems.push(format!(
                "`{at}.major_version` must be at least 1 (EES versions start at 1.0)"
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            problems.push(format!(
                "`{at}.page_size` must be between 1 and {MAX_PAGE_SIZE}, got {}",
                self.page_size
            ));
        }
        names(&format!("{at}.indicators"), &self.indicators, problems);
        names(&format!("{at}.locations"), &self.locations, problems);
        names(
            &format!("{at}.geographic_levels"),
            &self.geographic_levels,
            problems,
        );
        for level in &self.geographic_levels {
            if !level.is_empty() && codes::level_label(level).is_none() {
                problems.push(format!(
                    "`{at}.geographic_levels`: {level:?} is not a geographic level code; the API \
                     defines {}",
                    codes::LEVEL_CODES.join(", ")
                ));
            }
        }
        for (column, options) in &self.filters {
            let key = format!("{at}.filters.{column}");
            if column.is_empty() {
                problems.push(format!("`{at}.filters` has an empty column name"));
            }
            if options.is_empty() {
                problems.push(format!(
                    "`{key}` lists no options; leave the column out to keep every option"
                ));
            }
            names(&key, options, problems);
        }
        if let Some(tp) = &self.time_periods {
            let key = format!("{at}.time_periods");
            let range = tp.from.is_some() || tp.to.is_some();
            if range && !tp.periods.is_empty() {
                problems.push(format!(
                    "`{key}`: give either a range (`from`/`to`) or a list (`periods`), not both"
                ));
            }
            if !range && tp.periods.is_empty() {
                problems.push(format!(
                    "`{key}` needs `from`, `to` or `periods`; leave it out to read every period"
                ));
            }
            for (name, value) in [("from", &tp.from), ("to", &tp.to)] {
                if let Some(v) = value
                    && let Err(e) = TimePeriodRef::parse(v)
                {
                    problems.push(format!("`{key}.{name}`: {e}"));
                }
            }
            for v in &tp.periods {
                if let Err(e) = TimePeriodRef::parse(v) {
                    problems.push(format!("`{key}.periods`: {e}"));
                }
            }
            names(&format!("{key}.periods"), &tp.periods, problems);
        }
    }
}

/// No empty names and no name twice (a repeated indicator or location would duplicate
/// records downstream).
fn names(key: &str, values: &[String], problems: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for v in values {
        if v.trim().is_empty() {
            problems.push(format!("`{key}` has an empty entry"));
        } else if !seen.insert(v.as_str()) {
            problems.push(format!("`{key}` lists {v:?} twice"));
        }
    }
}

/// A time period as the API's GET query writes it: `period|CODE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimePeriodRef {
    /// `2024` or `2024/2025`.
    pub period: String,
    /// A time period code (`AY`, `CY`, ...).
    pub code: String,
}

impl TimePeriodRef {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let Some((period, code)) = s.split_once('|') else {
            return Err(format!(
                "{s:?} is not `period|CODE` (e.g. `2024|CY` or `2023/2024|AY`)"
            ));
        };
        let year = |y: &str| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit());
        let period_ok = match period.split_once('/') {
            None => year(period),
            Some((a, b)) => year(a) && year(b),
        };
        if !period_ok {
            return Err(format!(
                "{s:?}: the period must be a year (`2024`) or a year range (`2023/2024`)"
            ));
        }
        if codes::time_identifier(code).is_none() {
            return Err(format!(
                "{s:?}: {code:?} is not a time period code the API defines"
            ));
        }
        Ok(Self {
            period: period.to_owned(),
            code: code.to_owned(),
        })
    }

    /// Whether this reference names meta's `(period, code)`: the same text, or a single
    /// year standing for the two-year period that starts in it (the API reads `2023|AY` as
    /// 2023/2024).
    pub(crate) fn names(&self, period: &str, code: &str) -> bool {
        if self.code != code {
            return false;
        }
        if self.period == period {
            return true;
        }
        !self.period.contains('/')
            && period
                .split_once('/')
                .is_some_and(|(start, _)| start == self.period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ds: EesDataSetConfig) -> EesConfig {
        EesConfig {
            data_sets: vec![ds],
        }
    }

    #[test]
    fn deserialises_with_defaults_and_refuses_unknown_keys() {
        let c: EesConfig = serde_json::from_str(
            r#"{"data_sets": [{"id": "019a-01", "major_version": 1,
                 "filters": {"age_group": ["Total"]},
                 "time_periods": {"from": "2022|CY"}}]}"#,
        )
        .unwrap();
        let ds = &c.data_sets[0];
        assert_eq!(ds.page_size, 1000);
        assert!(ds.indicators.is_empty());
        assert_eq!(ds.filters["age_group"], vec!["Total".to_owned()]);
        assert!(c.validate().is_ok());

        for bad in [
            r#"{"data_sets": [{"id": "a", "major_version": 1, "indicator": []}]}"#,
            r#"{"data_sets": [], "extra": 1}"#,
            r#"{"data_sets": [{"id": "a", "major_version": 1,
                "time_periods": {"since": "2022|CY"}}]}"#,
        ] {
            let e = serde_json::from_str::<EesConfig>(bad).unwrap_err();
            assert!(e.to_string().contains("unknown field"), "{bad}: {e}");
        }
    }

    #[test]
    fn validate_names_every_problem_by_key() {
        let mut ds = EesDataSetConfig::new("../publications", 0);
        ds.page_size = 10_001;
        ds.indicators = vec!["a".into(), "a".into()];
        ds.geographic_levels = vec!["COUNTY".into()];
        ds.filters.insert("age_group".into(), vec![]);
        ds.time_periods = Some(EesTimePeriods {
            from: Some("2022".into()),
            to: None,
            periods: vec!["2023|CY".into()],
        });
        let e = config(ds).validate().unwrap_err();
        for needle in [
            "data_sets[0].id",
            "data_sets[0].major_version",
            "data_sets[0].page_size",
            "data_sets[0].indicators` lists \"a\" twice",
            "\"COUNTY\" is not a geographic level code",
            "data_sets[0].filters.age_group` lists no options",
            "not both",
            "data_sets[0].time_periods.from",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in {e}");
        }
        assert!(
            EesConfig { data_sets: vec![] }
                .validate()
                .unwrap_err()
                .contains("at least one")
        );
    }

    #[test]
    fn time_period_refs_parse_and_match_meta() {
        let r = TimePeriodRef::parse("2023|AY").unwrap();
        assert!(r.names("2023/2024", "AY"));
        assert!(!r.names("2023/2024", "FY"));
        assert!(!r.names("2022/2023", "AY"));
        let r = TimePeriodRef::parse("2024|CY").unwrap();
        assert!(r.names("2024", "CY") && !r.names("2025", "CY"));
        for bad in ["2024", "24|CY", "2024|XY", "2024/25|AY", "|CY"] {
            assert!(TimePeriodRef::parse(bad).is_err(), "{bad}");
        }
    }
}
