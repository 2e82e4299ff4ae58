//! The run report: one self-contained HTML page beside the run's manifest
//! (`_runs/<run id>.html`), for the people who look at last night's run rather than parse it.
//! It shows the run's status, each source with its status and freshness, records read,
//! loaded and quarantined (by reason), the model tables and data-quality results, and charts
//! of the main KPIs over time, local beside national, as inline SVG. No script, no web font,
//! no link out: it opens from a file share or an e-mail attachment.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use minijinja::Environment;
use sendlake_load::Lake;
use sendlake_model::ChartDef;
use sendlake_schema::Zone;
use serde::Serialize;

use crate::manifest::{FileStatus, Manifest, SourceStatus};

const TEMPLATE: &str = include_str!("../templates/run-report.html");

/// One line of a chart: a name, a colour and a value per period (None: not published or
/// suppressed).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend.
    pub name: String,
    /// Stroke colour, `#rrggbb` (written into the SVG as is; `report.toml` is checked for it).
    pub colour: String,
    /// Values by period label, in order.
    pub points: Vec<(String, Option<f64>)>,
}

/// One chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// Unit shown on the axis (e.g. `%`).
    pub unit: String,
    /// Lines.
    pub series: Vec<Series>,
}

#[derive(Serialize)]
struct SourceRow {
    name: String,
    kind: String,
    status: String,
    detail: String,
    read: Option<u64>,
    loaded: Option<u64>,
    quarantined: Option<u64>,
    reasons: String,
    /// The data-quality freshness check on the table it fills, if there is one.
    freshness: String,
}

#[derive(Serialize)]
struct CheckRow {
    name: String,
    table: String,
    severity: String,
    status: String,
    failing_rows: String,
    detail: String,
}

#[derive(Serialize)]
struct ModelRow {
    table: String,
    status: String,
    rows: u64,
    reason: String,
}

fn reasons(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the freshness check on `table` found this run ("pass: newest loaded_at is 0.1 hours
/// old (limit 36)"), or nothing when no check covers it.
fn freshness(m: &Manifest, table: &str) -> String {
    m.models
        .as_ref()
        .and_then(|r| {
            r.checks
                .iter()
                .find(|c| c.table == table && c.check_type == "freshness")
        })
        .map(|c| format!("{}: {}", c.status.as_str(), c.detail))
        .unwrap_or_default()
}

fn source_rows(m: &Manifest) -> Vec<SourceRow> {
    let mut rows = Vec::new();
    for s in &m.sources {
        let status: String = match s.status {
            Some(SourceStatus::Stale) => "stale".into(),
            _ if s.files.iter().any(|f| f.status != FileStatus::Loaded) => "partial".into(),
            _ => "ok".into(),
        };
        if s.streams.is_empty() {
            // SEN2: totals over the tables the files filled.
            let files = s.files.len();
            let failed = s
                .files
                .iter()
                .filter(|f| f.status != FileStatus::Loaded)
                .count();
            let persons: u64 = s.files.iter().map(|f| f.persons_read).sum();
            rows.push(SourceRow {
                name: s.name.clone(),
                kind: s.source_type.clone(),
                status: status.clone(),
                detail: format!(
                    "{files} file(s), {failed} not loaded; {persons} children read; submissions: {}",
                    s.submissions.join(", ")
                ),
                read: None,
                loaded: None,
                quarantined: None,
                reasons: String::new(),
                freshness: freshness(m, "request"),
            });
        }
        for st in &s.streams {
            let quarantined: u64 = st.records.quarantined.values().sum();
            rows.push(SourceRow {
                name: format!("{}/{}", s.name, st.name),
                kind: format!("{} → {}", s.source_type, st.table),
                status: status.clone(),
                detail: format!(
                    "{} read{}",
                    st.mode,
                    st.cursor_after
                        .as_deref()
                        .map(|c| format!(", cursor {c}"))
                        .unwrap_or_default()
                ),
                read: Some(st.records.read),
                loaded: Some(st.records.loaded),
                quarantined: Some(quarantined),
                reasons: reasons(&st.records.quarantined),
                freshness: freshness(m, &st.table),
            });
        }
        if let Some(why) = &s.stale_reason
            && let Some(last) = rows.last_mut()
        {
            last.detail = format!("{}; stale: {why}", last.detail);
        }
    }
    rows
}

fn table_rows(m: &Manifest) -> Vec<SourceRow> {
    m.tables
        .iter()
        .map(|(name, t)| SourceRow {
            name: name.clone(),
            kind: "SEN2 table".into(),
            status: t.commit.commit.to_string(),
            detail: t
                .commit
                .version
                .map(|v| format!("version {v}"))
                .unwrap_or_default(),
            read: Some(t.counts.read),
            loaded: Some(t.counts.loaded),
            quarantined: Some(t.counts.quarantined_total()),
            reasons: reasons(&t.counts.quarantined),
            freshness: String::new(),
        })
        .collect()
}

/// The KPI charts of `report.toml` (`defs`) from the lake's published tables, each drawn for
/// every one of `las` (the partnership's own LAs, in `geography.toml`'s order). A missing
/// table gives no chart, and a chart with no value at all is left out.
pub async fn kpi_charts(lake: &Lake, defs: &[ChartDef], las: &[String]) -> Vec<Chart> {
    // Each table is read once, whatever the number of LAs and charts.
    let mut tables: BTreeMap<&str, Option<Vec<RecordBatch>>> = BTreeMap::new();
    for def in defs {
        if !tables.contains_key(def.table.as_str()) {
            let uri = lake.table_uri(Zone::Published, &def.table);
            let batches = sendlake_load::read_table(&uri).await.ok();
            tables.insert(&def.table, batches);
        }
    }
    let rows: Vec<Option<KpiRows>> = defs
        .iter()
        .map(|def| {
            tables
                .get(def.table.as_str())
                .and_then(Option::as_ref)
                .map(|b| kpi_rows(b, &def.value))
        })
        .collect();
    let mut charts = Vec::new();
    for la in las {
        for (def, rows) in defs.iter().zip(&rows) {
            if let Some(rows) = rows {
                charts.push(chart(def, rows, la));
            }
        }
    }
    charts.retain(|c| {
        c.series
            .iter()
            .any(|s| s.points.iter().any(|(_, v)| v.is_some()))
    });
    charts
}

/// The chart `def` draws for `la` from its table's `rows`.
fn chart(def: &ChartDef, rows: &KpiRows, la: &str) -> Chart {
    let series = def
        .series
        .iter()
        .map(|s| {
            let mut points = points(
                rows,
                &def.period_type,
                &s.geography_level,
                s.code(la),
                &s.source,
            );
            if let Some(n) = def.last_periods {
                let keep = points.len().saturating_sub(n);
                points.drain(..keep);
            }
            Series {
                name: s.name.clone(),
                colour: s.colour.clone(),
                points,
            }
        })
        .collect();
    Chart {
        title: def.title_for(la),
        unit: def.unit.clone(),
        series,
    }
}

/// (period_type, geography_level, geography_code, source, period label) → value.
type KpiRows = BTreeMap<(String, String, String, String, String), Option<f64>>;

fn kpi_rows(batches: &[RecordBatch], value: &str) -> KpiRows {
    let mut out = KpiRows::new();
    for b in batches {
        let text = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>().cloned())
        };
        let (Some(pt), Some(level), Some(code), Some(source)) = (
            text("period_type"),
            text("geography_level"),
            text("geography_code"),
            text("source"),
        ) else {
            continue;
        };
        let Some(start) = b
            .column_by_name("period_start")
            .and_then(|c| c.as_primitive_opt::<Date32Type>().cloned())
        else {
            continue;
        };
        let Some(v) = b.column_by_name(value) else {
            continue;
        };
        for i in 0..b.num_rows() {
            let val = if let Some(f) = v.as_primitive_opt::<Float64Type>() {
                f.is_valid(i).then(|| f.value(i))
            } else if let Some(n) = v.as_primitive_opt::<Int64Type>() {
                n.is_valid(i).then(|| n.value(i) as f64)
            } else {
                None
            };
            let Some(day) = start.value_as_date(i) else {
                continue;
            };
            // A quarter is labelled by its first month, so its four periods stay apart.
            let label = if pt.value(i) == "calendar_year" {
                day.format("%Y").to_string()
            } else {
                day.format("%Y-%m").to_string()
            };
            let key = (
                pt.value(i).to_owned(),
                level.value(i).to_owned(),
                code.value(i).to_owned(),
                source.value(i).to_owned(),
                label,
            );
            // Rows of one area and period that differ by another dimension (e.g. need)
            // repeat the total: keep one.
            let slot = out.entry(key).or_insert(None);
            if slot.is_none() {
                *slot = val;
            }
        }
    }
    out
}

fn points(
    rows: &KpiRows,
    pt: &str,
    level: &str,
    code: &str,
    source: &str,
) -> Vec<(String, Option<f64>)> {
    rows.iter()
        .filter(|((p, l, c, s, _), _)| p == pt && l == level && c == code && s == source)
        .map(|((_, _, _, _, label), v)| (label.clone(), *v))
        .collect()
}

/// Text made safe inside HTML (element content and quoted attributes).
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart as inline SVG: the x axis is the union of the series' periods, in order;
/// gaps (no value, or a suppressed one) break the line.
pub fn svg(chart: &Chart) -> String {
    let mut labels: Vec<&str> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|(l, _)| l.as_str()))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    let values: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|(_, v)| *v))
        .collect();
    let (w, h, left, right, top, bottom) = (720.0, 260.0, 56.0, 16.0, 16.0, 48.0);
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let max = if max <= 0.0 { 1.0 } else { nice(max) };
    let x = |i: usize| {
        if labels.len() <= 1 {
            left + (w - left - right) / 2.0
        } else {
            left + (w - left - right) * i as f64 / (labels.len() - 1) as f64
        }
    };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(&chart.title)
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let yy = y(v);
        s.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e1e4e8\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}{}</text>",
            w - right,
            left - 6.0,
            yy + 4.0,
            fmt_num(v),
            esc(&chart.unit)
        ));
    }
    let step = labels.len().div_ceil(12).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % step == 0 {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                x(i),
                h - bottom + 16.0,
                esc(l)
            ));
        }
    }
    for series in &chart.series {
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, s: &mut String| {
            if run.len() > 1 {
                s.push_str(&format!(
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                    series.colour,
                    run.join(" ")
                ));
            }
            run.clear();
        };
        for (i, l) in labels.iter().enumerate() {
            match series
                .points
                .iter()
                .find(|(pl, _)| pl == l)
                .and_then(|(_, v)| *v)
            {
                Some(v) => {
                    run.push(format!("{:.1},{:.1}", x(i), y(v)));
                    s.push_str(&format!(
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"><title>{}: {} {}{}</title></circle>",
                        x(i),
                        y(v),
                        series.colour,
                        esc(&series.name),
                        esc(l),
                        fmt_num(v),
                        esc(&chart.unit)
                    ));
                }
                None => flush(&mut run, &mut s),
            }
        }
        flush(&mut run, &mut s);
    }
    let mut lx = left;
    for series in chart
        .series
        .iter()
        .filter(|s| s.points.iter().any(|(_, v)| v.is_some()))
    {
        s.push_str(&format!(
            "<rect x=\"{lx:.1}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{}</text>",
            h - 14.0,
            series.colour,
            lx + 14.0,
            h - 5.0,
            esc(&series.name)
        ));
        lx += 14.0 + 7.0 * series.name.len() as f64 + 16.0;
    }
    s.push_str("</svg>");
    s
}

/// The next "round" number at or above `v` (1, 2, 2.5 or 5 times a power of ten).
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Renders the report of `manifest` with `charts`.
///
/// # Errors
/// A template error (a bug in the template, not in the input).
pub fn render(manifest: &Manifest, charts: &[Chart]) -> Result<String, String> {
    let mut sources = source_rows(manifest);
    sources.extend(table_rows(manifest));
    let (models, checks) = match &manifest.models {
        Some(r) => (
            r.models
                .iter()
                .map(|m| ModelRow {
                    table: m.table.clone(),
                    status: format!("{:?}", m.status).to_lowercase(),
                    rows: m.rows,
                    reason: m.reason.clone().unwrap_or_default(),
                })
                .collect::<Vec<_>>(),
            r.checks
                .iter()
                .map(|c| CheckRow {
                    name: c.name.clone(),
                    table: c.table.clone(),
                    severity: format!("{:?}", c.severity).to_lowercase(),
                    status: c.status.as_str().to_owned(),
                    failing_rows: c.failing_rows.map(|n| n.to_string()).unwrap_or_default(),
                    detail: c.detail.clone(),
                })
                .collect::<Vec<_>>(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let count = |status: &str| checks.iter().filter(|c| c.status == status).count();
    let svgs: Vec<minijinja::Value> = charts
        .iter()
        .map(|c| minijinja::Value::from_safe_string(svg(c)))
        .collect();
    let titles: Vec<String> = charts.iter().map(|c| c.title.clone()).collect();
    let mut env = Environment::new();
    env.add_template("run-report.html", TEMPLATE)
        .map_err(|e| format!("run report template: {e:#}"))?;
    let ctx = minijinja::context! {
        run_id => &manifest.run_id,
        pipeline => &manifest.pipeline,
        status => format!("{:?}", manifest.status).to_lowercase(),
        exit_code => manifest.exit_code,
        started_at => &manifest.started_at,
        finished_at => &manifest.finished_at,
        reconciled => manifest.reconciled,
        reconciliation => minijinja::Value::from(minijinja::value::Serde(&manifest.reconciliation)),
        sources => minijinja::Value::from(minijinja::value::Serde(&sources)),
        models => minijinja::Value::from(minijinja::value::Serde(&models)),
        models_error => &manifest.models_error,
        checks => minijinja::Value::from(minijinja::value::Serde(&checks)),
        passed => count("pass"),
        warned => count("warn"),
        failed => count("fail") + count("error"),
        charts => svgs,
        chart_titles => titles,
    };
    env.get_template("run-report.html")
        .and_then(|t| t.render(ctx))
        .map_err(|e| format!("run report template: {e:#}"))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    /// Rows for two LAs, England and a region, from every source, by year and by month
    /// (40 months, so the last-36 cut shows), with some values suppressed.
    fn rows(period_type: &str) -> KpiRows {
        let labels: Vec<String> = if period_type == "month" {
            (0..40)
                .map(|m| format!("{}-{:02}", 2023 + m / 12, m % 12 + 1))
                .collect()
        } else {
            (2019..2027).map(|y| y.to_string()).collect()
        };
        let areas = [
            ("la", "919"),
            ("la", "920"),
            ("national", "E92000001"),
            ("region", "E12000006"),
        ];
        let mut out = KpiRows::new();
        let mut n = 0.0;
        for (level, code) in areas {
            for source in ["sen2", "council_cms", "dfe_published", "nhs_community"] {
                for label in &labels {
                    n += 1.0;
                    let value = (n % 7.0 != 0.0).then_some(n);
                    let key = (period_type, level, code, source, label.as_str());
                    let key = (
                        key.0.into(),
                        key.1.into(),
                        key.2.into(),
                        key.3.into(),
                        key.4.into(),
                    );
                    out.insert(key, value);
                }
            }
        }
        out
    }

    /// The charts as `kpi_charts` drew them before they were configuration (its constants,
    /// verbatim), for one LA.
    fn before(timeliness: &KpiRows, caseload: &KpiRows, la: &str) -> Vec<Chart> {
        let series = |name: &str, colour: &str, level: &str, code: &str, source: &str| Series {
            name: name.to_owned(),
            colour: colour.to_owned(),
            points: points(timeliness, "calendar_year", level, code, source),
        };
        let mut local = points(caseload, "month", "la", la, "council_cms");
        let keep = local.len().saturating_sub(36);
        local.drain(..keep);
        vec![
            Chart {
                title: format!("EHC plans issued within 20 weeks, LA {la}, by calendar year"),
                unit: "%".into(),
                series: vec![
                    series("SEN2 (local)", "#1d70b8", "la", la, "sen2"),
                    series("Council system (local)", "#00703c", "la", la, "council_cms"),
                    series(
                        "DfE published, this LA",
                        "#f47738",
                        "la",
                        la,
                        "dfe_published",
                    ),
                    series(
                        "DfE published, England",
                        "#505a5f",
                        "national",
                        "E92000001",
                        "dfe_published",
                    ),
                ],
            },
            Chart {
                title: format!("EHC plans maintained at each month end, LA {la} (council system)"),
                unit: String::new(),
                series: vec![Series {
                    name: "Council system".into(),
                    colour: "#1d70b8".into(),
                    points: local,
                }],
            },
        ]
    }

    #[test]
    fn the_demo_report_toml_draws_the_charts_the_constants_drew() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../pipelines/models/report.toml"),
        )
        .unwrap();
        let config: sendlake_model::ReportConfig = toml::from_str(&text).unwrap();
        let tables: BTreeMap<&str, KpiRows> = [
            ("kpi_timeliness", rows("calendar_year")),
            ("kpi_caseload_need", rows("month")),
        ]
        .into();
        for la in ["919", "920"] {
            let now: Vec<Chart> = config
                .charts
                .iter()
                .map(|def| chart(def, &tables[def.table.as_str()], la))
                .collect();
            let was = before(&tables["kpi_timeliness"], &tables["kpi_caseload_need"], la);
            assert_eq!(now, was, "LA {la}");
            assert_eq!(now[1].series[0].points.len(), 36);
            assert!(now[0].series.iter().all(|s| s.points.len() == 8));
        }
    }
}
