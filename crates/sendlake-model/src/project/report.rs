//! `report.toml`: what the reports show of the KPI tables. The run report's charts (which KPI
//! column, which period type, and one line per source and area) and the source each page of
//! the Power BI starter report is filtered to.
//!
//! Partners are configuration: the `source` values a partnership charts (its council system,
//! its NHS provider) are named here, beside the models that write them, rather than in the
//! crates that draw the reports.

use std::collections::BTreeMap;
use std::path::Path;

use sendlake_schema::{ColumnType, SchemaRegistry, TableDef, Zone};

use super::{GEOGRAPHY_LEVELS, ModelDef, PERIOD_TYPES, one_of};
use crate::error::ProjectError;

/// The placeholder a chart title may hold: the LA code the chart is drawn for.
pub const LA_PLACEHOLDER: &str = "{la}";

/// Columns every KPI table has, and that a chart or a page filter selects rows by.
const KPI_KEY_COLUMNS: [&str; 5] = [
    "period_type",
    "period_start",
    "geography_level",
    "geography_code",
    "source",
];

/// `report.toml`. An empty file is valid: no charts and no starter-report pages.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// The run report's charts (`_runs/<run id>.html`), in the order shown. Each is drawn once
    /// for every local authority of `geography.toml`, in that file's order.
    #[serde(default)]
    pub charts: Vec<ChartDef>,
    /// The Power BI starter report.
    #[serde(default)]
    pub powerbi: PowerBiDef,
}

/// One chart of the run report: a KPI column over time, one line per series.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartDef {
    /// The published KPI table the rows come from, e.g. `kpi_timeliness`; a model of the
    /// project must build it. No chart is drawn while the lake has no such table.
    pub table: String,
    /// The numeric column plotted, e.g. `pc_plans_issued_within_20_weeks`.
    pub value: String,
    /// The rows' `period_type`: `month`, `quarter` or `calendar_year`. Periods are labelled
    /// `2026` for calendar years and `2026-04` (the first month) otherwise.
    pub period_type: String,
    /// Shown after each value on the axis and in tooltips, e.g. `%`; none by default.
    #[serde(default)]
    pub unit: String,
    /// The title. `{la}` is replaced by the LA code the chart is drawn for; no other
    /// placeholder is recognised.
    pub title: String,
    /// Keep only each series' last this many periods (e.g. 36 months); all by default.
    #[serde(default)]
    pub last_periods: Option<usize>,
    /// The lines, in legend order (at least one).
    pub series: Vec<SeriesDef>,
}

/// One line of a chart: the table's rows of one source at one area.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesDef {
    /// The legend, e.g. `DfE published, England`.
    pub name: String,
    /// The line's colour, `#rrggbb`.
    pub colour: String,
    /// The rows' `source`, e.g. `sen2`, `dfe_published` or a partner's (`council_cms`). A model
    /// of the project must write it.
    pub source: String,
    /// The rows' `geography_level`, e.g. `la` or `national`.
    pub geography_level: String,
    /// A fixed area: the rows' `geography_code`, e.g. `E92000001` (England). Leave it out for
    /// the LA the chart is drawn for (each partnership LA in turn); that needs
    /// `geography_level = "la"`.
    #[serde(default)]
    pub geography_code: Option<String>,
}

/// `[powerbi]`: the Power BI starter report (`sendlake powerbi`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerBiDef {
    /// The `source` each starter page is filtered to, by the page's KPI table, e.g.
    /// `kpi_health_waits = "nhs_community"`. A page whose table is not listed is left out of
    /// the starter report: its measures need exactly one source.
    #[serde(default)]
    pub page_sources: BTreeMap<String, String>,
}

impl ChartDef {
    /// The title of the chart drawn for `la`.
    pub fn title_for(&self, la: &str) -> String {
        self.title.replace(LA_PLACEHOLDER, la)
    }
}

impl SeriesDef {
    /// The `geography_code` of this series' rows in the chart drawn for `la`.
    pub fn code<'a>(&'a self, la: &'a str) -> &'a str {
        self.geography_code.as_deref().unwrap_or(la)
    }
}

/// Checks `report` (read from `path`) against the schema and the project's models.
pub(crate) fn check_report(
    report: &ReportConfig,
    path: &Path,
    registry: &SchemaRegistry,
    models: &BTreeMap<String, ModelDef>,
    problems: &mut Vec<ProjectError>,
) {
    let mut problem = |key: String, message: String| {
        problems.push(ProjectError::new(path, Some(key), message));
    };
    for (i, c) in report.charts.iter().enumerate() {
        let key = |k: &str| format!("charts[{i}].{k}");
        match kpi_table(&c.table, registry, models) {
            Err(msg) => problem(key("table"), msg),
            Ok(t) => match t.column(&c.value).map(|col| col.data_type) {
                Some(ColumnType::Int64 | ColumnType::Float64) => {}
                Some(other) => problem(
                    key("value"),
                    format!(
                        "`{}` is {other:?}; a chart plots an Int64 or Float64 column",
                        c.value
                    ),
                ),
                None => problem(
                    key("value"),
                    format!("`{}` is not a column of `{}`", c.value, c.table),
                ),
            },
        }
        if !PERIOD_TYPES.contains(&c.period_type.as_str()) {
            problem(key("period_type"), one_of(&c.period_type, &PERIOD_TYPES));
        }
        if c.title.replace(LA_PLACEHOLDER, "").contains(['{', '}']) {
            problem(
                key("title"),
                format!("only `{LA_PLACEHOLDER}` (the LA code) is replaced in a title"),
            );
        }
        if c.last_periods == Some(0) {
            problem(
                key("last_periods"),
                "must be at least 1 (or left out: all periods)".into(),
            );
        }
        if c.series.is_empty() {
            problem(key("series"), "a chart needs at least one series".into());
        }
        for (j, s) in c.series.iter().enumerate() {
            let key = |k: &str| format!("charts[{i}].series[{j}].{k}");
            if s.name.trim().is_empty() {
                problem(key("name"), "must not be empty".into());
            }
            // Written into the SVG as an attribute, so only a plain colour is accepted.
            if !(s.colour.len() == 7
                && s.colour.starts_with('#')
                && s.colour[1..].chars().all(|ch| ch.is_ascii_hexdigit()))
            {
                problem(key("colour"), format!("`{}`: expected `#rrggbb`", s.colour));
            }
            if let Err(msg) = written_by_a_model(&s.source, models) {
                problem(key("source"), msg);
            }
            if !GEOGRAPHY_LEVELS.contains(&s.geography_level.as_str()) {
                problem(
                    key("geography_level"),
                    one_of(&s.geography_level, &GEOGRAPHY_LEVELS),
                );
            } else if s.geography_code.is_none() && s.geography_level != "la" {
                problem(
                    key("geography_code"),
                    format!(
                        "a `{}` series needs a geography_code (England: E92000001); only an `la` series can follow the chart's LA",
                        s.geography_level
                    ),
                );
            }
        }
    }
    for (table, source) in &report.powerbi.page_sources {
        let key = format!("powerbi.page_sources.{table}");
        if let Err(msg) = kpi_table(table, registry, models) {
            problem(key.clone(), msg);
        }
        if let Err(msg) = written_by_a_model(source, models) {
            problem(key, msg);
        }
    }
}

/// The declared table `name`, if it is a published KPI table a model of the project builds.
fn kpi_table<'r>(
    name: &str,
    registry: &'r SchemaRegistry,
    models: &BTreeMap<String, ModelDef>,
) -> Result<&'r TableDef, String> {
    let table = registry
        .table(name)
        .filter(|t| t.zone == Zone::Published)
        .ok_or_else(|| format!("`{name}` is not a published table in schemas/tables"))?;
    if let Some(missing) = KPI_KEY_COLUMNS.iter().find(|c| table.column(c).is_none()) {
        return Err(format!(
            "`{name}` has no `{missing}` column: charts and page filters read KPI tables ({})",
            KPI_KEY_COLUMNS.join(", ")
        ));
    }
    if !models.contains_key(name) {
        return Err(format!("no model of this project builds `{name}`"));
    }
    Ok(table)
}

/// Whether some model of the project writes the `source` value `source`.
///
/// The KPI tables' `source` values are written by the models, as SQL string literals
/// (`'nhs_community' AS source`, or a fact's `source_system` the KPI carries through), so a
/// value no model's SQL quotes can be in no row: a typo, or a source whose model is missing.
/// The check is against the models rather than the pipeline's source names, because one model
/// project serves pipelines that load a subset of its sources (a partnership before its NHS
/// provider is connected; the KPI oracle's SEN2-only pipeline), and because the value a model
/// writes need not be its source's name (the `plan_quality_audit` source's rows are
/// `quality_audit`).
fn written_by_a_model(source: &str, models: &BTreeMap<String, ModelDef>) -> Result<(), String> {
    let quoted = format!("'{source}'");
    if source.is_empty() || source.contains('\'') {
        return Err("must be a source value such as `sen2` or `nhs_community`".into());
    }
    if models.values().any(|m| m.sql.contains(&quoted)) {
        Ok(())
    } else {
        Err(format!(
            "no model of this project writes the source `{source}` (no SQL file quotes {quoted}), so no KPI row has it"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::ModelProject;

    fn models_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/models")
    }

    /// The demo's model project with `report.toml` replaced (`None`: removed).
    fn load_with(report: Option<&str>) -> Result<ModelProject, Vec<ProjectError>> {
        let dir = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(models_dir()).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
        }
        let path = dir.path().join("report.toml");
        match report {
            Some(text) => std::fs::write(&path, text).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        ModelProject::load(dir.path(), &SchemaRegistry::embedded().unwrap())
    }

    /// The problems, as (file name, key, message).
    fn problems(report: Option<&str>) -> Vec<(String, String, String)> {
        load_with(report)
            .expect_err("the project should not load")
            .into_iter()
            .map(|e| {
                let file = e.file.file_name().unwrap().to_string_lossy().into_owned();
                (file, e.key.unwrap_or_default(), e.message)
            })
            .collect()
    }

    fn demo() -> String {
        std::fs::read_to_string(models_dir().join("report.toml")).unwrap()
    }

    #[test]
    fn the_demo_report_loads() {
        let project = load_with(Some(&demo())).unwrap();
        let r = &project.report;
        assert_eq!(r.charts.len(), 2);
        assert_eq!(r.charts[0].series.len(), 4);
        assert_eq!(r.charts[1].last_periods, Some(36));
        assert_eq!(r.powerbi.page_sources["kpi_health_waits"], "nhs_community");
        // An empty file is an explicit "no charts, no pages".
        let empty = load_with(Some("")).unwrap();
        assert!(empty.report.charts.is_empty() && empty.report.powerbi.page_sources.is_empty());
    }

    #[test]
    fn a_missing_report_is_an_error_naming_the_file() {
        let p = problems(None);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "report.toml");
        assert!(p[0].2.contains("missing"), "{p:?}");
    }

    #[test]
    fn a_malformed_report_is_an_error_naming_file_and_key() {
        // Syntax and unknown keys: serde names the key, the loader the file and line.
        let p = problems(Some(
            &demo().replace("colour = \"#00703c\"", "color = \"#00703c\""),
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "report.toml");
        assert!(p[0].1.starts_with("line "), "{p:?}");
        assert!(p[0].2.contains("unknown field `color`"), "{p:?}");

        // Values: each problem names its key.
        let bad = demo()
            .replace("\"#f47738\"", "\"orange\"")
            .replace("source = \"council_cms\"", "source = \"council_crm\"")
            .replace("geography_code = \"E92000001\"\n", "")
            .replace("caseload_total", "caseload_totl")
            .replace("LA {la} (council", "LA {la_code} (council")
            .replace("last_periods = 36", "last_periods = 0")
            .replace("period_type = \"month\"", "period_type = \"week\"")
            .replace("kpi_requests = \"sen2\"", "kpi_request = \"sen2\"");
        let p = problems(Some(&bad));
        assert!(p.iter().all(|(file, _, _)| file == "report.toml"), "{p:?}");
        let keys: Vec<&str> = p.iter().map(|(_, k, _)| k.as_str()).collect();
        for key in [
            "charts[0].series[2].colour",
            "charts[0].series[1].source",
            "charts[0].series[3].geography_code",
            "charts[1].value",
            "charts[1].title",
            "charts[1].last_periods",
            "charts[1].period_type",
            "charts[1].series[0].source",
            "powerbi.page_sources.kpi_request",
        ] {
            assert!(keys.contains(&key), "no problem at {key}: {p:?}");
        }
        assert_eq!(p.len(), 9, "{p:?}");
        let message = |key: &str| &p.iter().find(|(_, k, _)| k == key).unwrap().2;
        assert!(message("charts[0].series[1].source").contains("council_crm"));
        assert!(message("charts[1].value").contains("caseload_totl"));
    }
}
