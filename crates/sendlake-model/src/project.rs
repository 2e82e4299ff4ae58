//! The model project: the folder a pipeline's `[models]` section names (by default
//! `pipelines/models/`), read and checked before anything runs.
//!
//! | file | holds |
//! |---|---|
//! | `*.sql` | one model per file; the file stem is the output table, declared in `schemas/tables/` |
//! | `*.view.sql` | one view per file ([`ModelProject::views`]): SQL that models share, registered in the build's session and never written to the lake |
//! | `checks.toml` | data-quality checks ([`CheckDef`]) |
//! | `geography.toml` | districts, SEND localities, quadrants and the dated NHS health geography ([`Geography`]) |
//! | `targets.csv` | KPI targets ([`TargetRow`]) |
//! | `report.toml` | the run report's charts and the Power BI starter pages' sources ([`ReportConfig`]) |
//!
//! Locality and quadrant lookups and the ICB codes after April 2026 could not be confirmed
//! from public sources, which is why they are configuration rather than code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sendlake_schema::{SchemaRegistry, Zone};

use crate::checks::CheckDef;
use crate::error::ProjectError;
use report::{ReportConfig, check_report};

pub mod report;

/// Tables the runner builds itself (not from SQL).
pub const BUILT_IN: [&str; 2] = ["dim_date", "data_quality"];

/// How a view's file name ends: `caseload_snapshot.view.sql` is the view `caseload_snapshot`.
/// Views sit beside the models rather than in a folder of their own, so that a flat copy of
/// the models folder (as the tests make) keeps them.
pub const VIEW_SUFFIX: &str = ".view.sql";

/// One SQL model, or one view.
#[derive(Debug, Clone)]
pub struct ModelDef {
    /// Output table (the file stem), or the view's name.
    pub name: String,
    /// The SQL file.
    pub file: PathBuf,
    /// Its text.
    pub sql: String,
}

/// A loaded, checked model project.
#[derive(Debug, Clone)]
pub struct ModelProject {
    /// The folder.
    pub dir: PathBuf,
    /// SQL models, by name.
    pub models: BTreeMap<String, ModelDef>,
    /// Views, by name: SQL that several models read, written once. The build registers each
    /// as a DataFusion view once the tables it reads are current, in the models' dependency
    /// order, so a model reads it like a table; it is not a table, so it is not written to
    /// the lake, declared in `schemas/tables/`, in the data dictionary or in Power BI.
    pub views: BTreeMap<String, ModelDef>,
    /// Data-quality checks.
    pub checks: Vec<CheckDef>,
    /// Geography lookups.
    pub geography: Geography,
    /// KPI targets.
    pub targets: Vec<TargetRow>,
    /// What the run report charts and which source each Power BI starter page shows.
    pub report: ReportConfig,
}

/// `geography.toml`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geography {
    /// Local authorities with their ONS codes and region.
    #[serde(default)]
    pub local_authorities: Vec<LocalAuthority>,
    /// SEND localities (Hertfordshire: the nine DSPL areas) and their quadrant.
    #[serde(default)]
    pub localities: Vec<Locality>,
    /// Districts: their LA, locality and postcode districts (outward codes).
    #[serde(default)]
    pub districts: Vec<District>,
    /// NHS geography of districts, versioned by date (the ICB changes in April 2026).
    #[serde(default)]
    pub health_areas: Vec<HealthArea>,
}

/// A local authority.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalAuthority {
    /// Three-digit DfE code.
    pub la_code: String,
    /// ONS code (E10…, E06…, E08…, E09…).
    pub ons_code: String,
    /// Name.
    pub name: String,
    /// ONS region code.
    pub region_code: String,
    /// Region name.
    pub region_name: String,
}

/// A SEND locality.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locality {
    /// Code, e.g. `DSPL1`.
    pub code: String,
    /// Name.
    pub name: String,
    /// Quadrant (North, South, East, West in Hertfordshire; unconfirmed).
    pub quadrant: String,
}

/// A district (lower-tier local authority).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct District {
    /// ONS code.
    pub code: String,
    /// Name.
    pub name: String,
    /// The county / upper-tier LA it lies in.
    pub la_code: String,
    /// Its SEND locality code.
    pub locality: String,
    /// Postcode districts (outward codes) that map to it.
    pub postcode_districts: Vec<String>,
}

/// The NHS bodies covering some districts over a date range.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthArea {
    /// District codes covered.
    pub districts: Vec<String>,
    /// ICB ODS code.
    pub icb_code: String,
    /// ICB name.
    pub icb_name: String,
    /// Sub-ICB location code.
    #[serde(default)]
    pub sub_icb_code: Option<String>,
    /// Sub-ICB location name.
    #[serde(default)]
    pub sub_icb_name: Option<String>,
    /// First day this applies.
    pub valid_from: NaiveDate,
    /// Last day this applies (none: still current).
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

/// Which way is good for a KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher values are better (a timeliness rate).
    HigherIsBetter,
    /// Lower values are better (a waiting list).
    LowerIsBetter,
}

impl Direction {
    /// As written in the file and the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher_is_better",
            Direction::LowerIsBetter => "lower_is_better",
        }
    }
}

/// One row of `targets.csv`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRow {
    /// KPI: a column of a published KPI table, e.g. `pc_plans_issued_20_weeks_ex`.
    pub kpi: String,
    /// `la`, `district`, `locality` or `quadrant`.
    pub geography_level: String,
    /// The geography code, or `*` for every area at that level.
    pub geography_code: String,
    /// `month` or `calendar_year`.
    pub period_type: String,
    /// First period the target applies to (inclusive).
    pub valid_from: NaiveDate,
    /// Last period it applies to (inclusive; empty: open-ended).
    #[serde(default, deserialize_with = "empty_date")]
    pub valid_to: Option<NaiveDate>,
    /// The target value, in the KPI's units.
    pub target: f64,
    /// Which way is good.
    pub direction: Direction,
    /// Missing the target by at most this much is amber rather than red.
    pub amber_within: f64,
}

fn empty_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksFile {
    #[serde(default)]
    checks: Vec<CheckDef>,
}

/// Geography levels a KPI row can be at.
pub const GEOGRAPHY_LEVELS: [&str; 7] = [
    "national", "region", "la", "district", "locality", "quadrant", "icb",
];
/// Period types of KPI rows.
pub const PERIOD_TYPES: [&str; 3] = ["month", "quarter", "calendar_year"];

impl ModelProject {
    /// Reads and checks the project in `dir` against the schema. Returns every problem found.
    pub fn load(dir: &Path, registry: &SchemaRegistry) -> Result<Self, Vec<ProjectError>> {
        let mut problems = Vec::new();
        let mut models = BTreeMap::new();
        let mut views = BTreeMap::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                return Err(vec![ProjectError::new(
                    dir,
                    None,
                    format!("cannot list the models folder: {e}"),
                )]);
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            if let Some(view) = read_view(&path, registry, &mut problems) {
                views.insert(view.name.clone(), view);
                continue;
            }
            if is_view(&path) {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            match registry.table(&name) {
                None => problems.push(ProjectError::new(
                    &path,
                    None,
                    format!("no table `{name}` is declared in schemas/tables: a model's output must be declared there (columns, types, descriptions)"),
                )),
                Some(t) if t.zone == Zone::Secure => problems.push(ProjectError::new(
                    &path,
                    None,
                    format!("table `{name}` is in the secure zone; models write restricted or published tables only"),
                )),
                Some(_) if BUILT_IN.contains(&name.as_str()) => problems.push(ProjectError::new(
                    &path,
                    None,
                    format!("`{name}` is built by sendlake itself; remove this file"),
                )),
                Some(_) => match std::fs::read_to_string(&path) {
                    Ok(sql) => {
                        models.insert(
                            name.clone(),
                            ModelDef {
                                name,
                                file: path.clone(),
                                sql,
                            },
                        );
                    }
                    Err(e) => problems.push(ProjectError::new(&path, None, format!("cannot read: {e}"))),
                },
            }
        }
        let checks = read_toml::<ChecksFile>(&dir.join("checks.toml"), &mut problems)
            .map(|f| f.checks)
            .unwrap_or_default();
        let checks_file = dir.join("checks.toml");
        for (i, c) in checks.iter().enumerate() {
            if let Err(msg) = c.validate(registry) {
                problems.push(ProjectError::new(
                    &checks_file,
                    Some(format!("checks[{i}]")),
                    msg,
                ));
            }
        }
        let geography =
            read_toml::<Geography>(&dir.join("geography.toml"), &mut problems).unwrap_or_default();
        check_geography(
            &geography,
            &dir.join("geography.toml"),
            registry,
            &mut problems,
        );
        let targets = read_targets(&dir.join("targets.csv"), registry, &mut problems);
        // Required, unlike the files above, where leaving a file out has a meaning of its own
        // (no checks, no localities, no targets). Without this one the run report would have
        // no charts and the Power BI starter report no pages, noticed only once published;
        // an empty file says that on purpose.
        let report_file = dir.join("report.toml");
        let report = if report_file.exists() {
            read_toml::<ReportConfig>(&report_file, &mut problems).unwrap_or_default()
        } else {
            problems.push(ProjectError::new(
                &report_file,
                None,
                "missing: it names the run report's charts and the source of each Power BI starter page (docs/powerbi.md, \"report.toml\"); an empty file means none",
            ));
            ReportConfig::default()
        };
        check_report(&report, &report_file, registry, &models, &mut problems);
        if problems.is_empty() {
            Ok(Self {
                dir: dir.to_owned(),
                models,
                views,
                checks,
                geography,
                targets,
                report,
            })
        } else {
            Err(problems)
        }
    }
}

fn is_view(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(VIEW_SUFFIX))
}

/// Reads a `*.view.sql` file; `None` for any other file, or a view with a problem (pushed).
/// A view's name must not be a table's: a model reading it would not know which it read.
fn read_view(
    path: &Path,
    registry: &SchemaRegistry,
    problems: &mut Vec<ProjectError>,
) -> Option<ModelDef> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(VIEW_SUFFIX))?
        .to_owned();
    let clash = if registry.table(&name).is_some() {
        Some("a table declared in schemas/tables")
    } else if BUILT_IN.contains(&name.as_str()) {
        Some("a table sendlake builds itself")
    } else if name.starts_with("ref_") {
        Some("reserved for the reference tables (ref_*)")
    } else {
        None
    };
    if let Some(what) = clash {
        problems.push(ProjectError::new(
            path,
            None,
            format!("the view `{name}` has the name of {what}; rename the view"),
        ));
        return None;
    }
    match std::fs::read_to_string(path) {
        Ok(sql) => Some(ModelDef {
            name,
            file: path.to_owned(),
            sql,
        }),
        Err(e) => {
            problems.push(ProjectError::new(path, None, format!("cannot read: {e}")));
            None
        }
    }
}

/// A missing optional file is an empty one.
fn read_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    problems: &mut Vec<ProjectError>,
) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            problems.push(ProjectError::new(path, None, format!("cannot read: {e}")));
            return None;
        }
    };
    match toml::from_str::<T>(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            let key = e.span().map(|s| {
                let line = text[..s.start.min(text.len())].lines().count().max(1);
                format!("line {line}")
            });
            problems.push(ProjectError::new(path, key, e.message().to_owned()));
            None
        }
    }
}

fn check_geography(
    g: &Geography,
    path: &Path,
    registry: &SchemaRegistry,
    problems: &mut Vec<ProjectError>,
) {
    let la_codes = registry.code_list("la_code");
    let localities: BTreeSet<&str> = g.localities.iter().map(|l| l.code.as_str()).collect();
    let mut postcode_owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, la) in g.local_authorities.iter().enumerate() {
        if la_codes.is_some_and(|l| !l.contains(&la.la_code)) {
            problems.push(ProjectError::new(
                path,
                Some(format!("local_authorities[{i}].la_code")),
                format!("`{}` is not in the la_code code list", la.la_code),
            ));
        }
    }
    for (i, d) in g.districts.iter().enumerate() {
        if !localities.contains(d.locality.as_str()) {
            problems.push(ProjectError::new(
                path,
                Some(format!("districts[{i}].locality")),
                format!(
                    "locality `{}` is not declared under [[localities]]",
                    d.locality
                ),
            ));
        }
        if la_codes.is_some_and(|l| !l.contains(&d.la_code)) {
            problems.push(ProjectError::new(
                path,
                Some(format!("districts[{i}].la_code")),
                format!("`{}` is not in the la_code code list", d.la_code),
            ));
        }
        for (j, pc) in d.postcode_districts.iter().enumerate() {
            if let Some(other) = postcode_owner.insert(pc.as_str(), d.code.as_str()) {
                problems.push(ProjectError::new(
                    path,
                    Some(format!("districts[{i}].postcode_districts[{j}]")),
                    format!("postcode district `{pc}` is already mapped to district {other}"),
                ));
            }
        }
    }
    let districts: BTreeSet<&str> = g.districts.iter().map(|d| d.code.as_str()).collect();
    let mut spans: BTreeMap<&str, Vec<(NaiveDate, NaiveDate)>> = BTreeMap::new();
    for (i, h) in g.health_areas.iter().enumerate() {
        let to = h.valid_to.unwrap_or(NaiveDate::MAX);
        if to < h.valid_from {
            problems.push(ProjectError::new(
                path,
                Some(format!("health_areas[{i}].valid_to")),
                "valid_to is before valid_from",
            ));
        }
        for (j, d) in h.districts.iter().enumerate() {
            if !districts.contains(d.as_str()) {
                problems.push(ProjectError::new(
                    path,
                    Some(format!("health_areas[{i}].districts[{j}]")),
                    format!("district `{d}` is not declared under [[districts]]"),
                ));
            }
            let list = spans.entry(d.as_str()).or_default();
            if list.iter().any(|(f, t)| h.valid_from <= *t && *f <= to) {
                problems.push(ProjectError::new(
                    path,
                    Some(format!("health_areas[{i}].districts[{j}]")),
                    format!("district `{d}` has overlapping health areas: each day needs exactly one ICB"),
                ));
            }
            list.push((h.valid_from, to));
        }
    }
}

/// "`value`: expected one of a, b, c".
pub(crate) fn one_of(value: &str, allowed: &[&str]) -> String {
    format!("`{value}`: expected one of {}", allowed.join(", "))
}

fn read_targets(
    path: &Path,
    registry: &SchemaRegistry,
    problems: &mut Vec<ProjectError>,
) -> Vec<TargetRow> {
    let mut reader = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) => {
            if !matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound)
            {
                problems.push(ProjectError::new(path, None, format!("cannot read: {e}")));
            }
            return Vec::new();
        }
    };
    // A target names a column of a published KPI table.
    let kpis: BTreeSet<&str> = registry
        .tables()
        .iter()
        .filter(|t| t.zone == Zone::Published && t.name.starts_with("kpi_"))
        .flat_map(|t| t.columns.iter().map(|c| c.name.as_str()))
        .collect();
    let mut rows = Vec::new();
    for (i, rec) in reader.deserialize::<TargetRow>().enumerate() {
        let line = i + 2;
        match rec {
            Ok(r) => {
                let key = |k: &str| Some(format!("line {line}, {k}"));
                if !kpis.contains(r.kpi.as_str()) {
                    problems.push(ProjectError::new(
                        path,
                        key("kpi"),
                        format!("`{}` is not a column of any published kpi_ table", r.kpi),
                    ));
                }
                if !GEOGRAPHY_LEVELS.contains(&r.geography_level.as_str()) {
                    problems.push(ProjectError::new(
                        path,
                        key("geography_level"),
                        one_of(&r.geography_level, &GEOGRAPHY_LEVELS),
                    ));
                }
                if !PERIOD_TYPES.contains(&r.period_type.as_str()) {
                    problems.push(ProjectError::new(
                        path,
                        key("period_type"),
                        one_of(&r.period_type, &PERIOD_TYPES),
                    ));
                }
                if r.amber_within < 0.0 {
                    problems.push(ProjectError::new(
                        path,
                        key("amber_within"),
                        "must not be negative",
                    ));
                }
                rows.push(r);
            }
            Err(e) => problems.push(ProjectError::new(
                path,
                Some(format!("line {line}")),
                e.to_string(),
            )),
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's model project, copied, with `extra` files (name, text) added.
    fn load_with(extra: &[(&str, &str)]) -> Result<ModelProject, Vec<ProjectError>> {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/models");
        let dir = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(from).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
        }
        for (name, text) in extra {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        ModelProject::load(dir.path(), &SchemaRegistry::embedded().unwrap())
    }

    #[test]
    fn views_load_apart_from_the_models() {
        let project = load_with(&[("extra.view.sql", "SELECT 1 AS one")]).unwrap();
        assert_eq!(project.views["extra"].sql, "SELECT 1 AS one");
        assert!(!project.models.contains_key("extra"));
        assert!(project.views.contains_key("caseload_snapshot"));
        assert!(!project.models.contains_key("caseload_snapshot"));
        assert!(project.models.contains_key("kpi_caseload_need"));
    }

    #[test]
    fn a_view_named_as_a_table_is_an_error_naming_its_file() {
        for (name, what) in [
            ("dim_child", "a table declared in schemas/tables"),
            ("dim_date", "a table declared in schemas/tables"),
            ("ref_code", "reserved for the reference tables"),
        ] {
            let file = format!("{name}.view.sql");
            let problems = load_with(&[(&file, "SELECT 1")]).unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].file.ends_with(&file), "{problems:?}");
            assert!(problems[0].message.contains(what), "{problems:?}");
        }
    }
}
