//! The data dictionary: every table and column of the schema, with where each table is filled
//! from in this pipeline (SEN2 returns, a partner source's streams, a SQL model), and every code
//! list, rendered as Markdown (`docs/data-dictionary.md`) and as one self-contained HTML page.
//! Both come from the templates in `templates/`, so the two never disagree.

use std::collections::BTreeMap;

use minijinja::Environment;
use sendlake_schema::{Privacy, SchemaRegistry, TableDef};
use serde::Serialize;

use crate::PipelinePlan;
use crate::config::SourcePlan;

const MARKDOWN: &str = include_str!("../templates/data-dictionary.md");
const HTML: &str = include_str!("../templates/data-dictionary.html");

/// The dictionary in both forms.
pub struct Dictionary {
    /// `data-dictionary.md`.
    pub markdown: String,
    /// `data-dictionary.html`.
    pub html: String,
}

#[derive(Serialize)]
struct TableView {
    name: String,
    anchor: String,
    zone: &'static str,
    description: String,
    grain: String,
    primary_key: Vec<String>,
    lineage: Vec<String>,
    suppression: Option<String>,
    columns: Vec<ColumnView>,
}

#[derive(Serialize)]
struct ColumnView {
    name: String,
    #[serde(rename = "type")]
    data_type: &'static str,
    nullable: bool,
    privacy: &'static str,
    code_list: Option<String>,
    references: Option<String>,
    description: String,
}

#[derive(Serialize)]
struct MeasureView {
    name: String,
    table: String,
    folder: &'static str,
    format: &'static str,
    description: String,
    dax: String,
}

#[derive(Serialize)]
struct CodeView {
    code: String,
    label: String,
}

#[derive(Serialize)]
struct CodeListView {
    name: String,
    description: String,
    source: String,
    codes: Vec<CodeView>,
}

/// Where each table is filled from in `plan`.
fn lineage(plan: &PipelinePlan, registry: &SchemaRegistry) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for source in &plan.sources {
        match source {
            SourcePlan::Sen2Xml(crate::config::Sen2Plan { name, .. }) => {
                for t in registry.tables() {
                    if let Some(m) = &t.sen2 {
                        let under = m
                            .parent
                            .as_deref()
                            .map(|p| format!(" under `{p}`"))
                            .unwrap_or_default();
                        out.entry(t.name.clone()).or_default().push(format!(
                            "SEN2 returns (source `{name}`): one row per `{}`{under}",
                            m.element
                        ));
                    }
                }
                out.entry("quarantine/sen2_rejects".into())
                    .or_default()
                    .push(format!(
                        "SEN2 returns (source `{name}`): rejected files, records and values"
                    ));
            }
            SourcePlan::Declared(d) => {
                out.entry("quarantine/record_rejects".into())
                    .or_default()
                    .push(format!(
                        "records of source `{}` that failed its mapping or the schema's rules",
                        d.def.name()
                    ));
                for (stream, mapping) in d.def.streams() {
                    out.entry(mapping.table.clone()).or_default().push(format!(
                        "{} (source `{}`, stream `{stream}`, {})",
                        source_description(&d.def).trim_end_matches('.'),
                        d.def.name(),
                        d.def.kind()
                    ));
                }
            }
        }
    }
    if let Some(models) = &plan.models {
        for name in models.project.models.keys() {
            out.entry(name.clone())
                .or_default()
                .push(format!("the model `pipelines/models/{name}.sql`"));
        }
        out.entry("dim_date".into())
            .or_default()
            .push("built by the model runner over the data's whole range".into());
        out.entry("data_quality".into())
            .or_default()
            .push("the model runner: one row per data-quality check per run".into());
    }
    out
}

fn source_description(def: &crate::sources::SourceDef) -> &str {
    match def {
        crate::sources::SourceDef::Rest(s) => &s.description,
        crate::sources::SourceDef::File(s) => &s.description,
        crate::sources::SourceDef::Ees(s) => &s.description,
    }
}

fn suppression(t: &TableDef) -> Option<String> {
    let s = t.suppression.as_ref()?;
    let list = |v: &[String]| {
        v.iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "small counts hidden in {} (with a `c` in each `<column>_status`), secondary suppression so no hidden cell can be recovered",
        list(&s.counts)
    );
    if !s.rates.is_empty() {
        let rates: Vec<String> = s.rates.iter().map(|r| r.column.clone()).collect();
        text.push_str(&format!("; rates {} hidden with their parts", list(&rates)));
    }
    Some(text)
}

/// Renders the dictionary of `registry` as used by `plan`.
///
/// # Errors
/// A template error (a bug in the templates, not in the input).
pub fn render(plan: &PipelinePlan, registry: &SchemaRegistry) -> Result<Dictionary, String> {
    let lineage = lineage(plan, registry);
    let tables: Vec<TableView> = registry
        .tables()
        .iter()
        .map(|t| TableView {
            name: t.name.clone(),
            anchor: t
                .name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect(),
            zone: t.zone.as_str(),
            description: t.description.clone(),
            grain: t.grain.clone(),
            primary_key: t.primary_key.clone(),
            lineage: lineage
                .get(&t.name)
                .cloned()
                .unwrap_or_else(|| vec!["no source of this pipeline".into()]),
            suppression: suppression(t),
            columns: t
                .columns
                .iter()
                .map(|c| ColumnView {
                    name: c.name.clone(),
                    data_type: c.data_type.as_str(),
                    nullable: c.nullable,
                    privacy: match c.privacy {
                        Privacy::DirectIdentifier => "direct_identifier",
                        Privacy::QuasiIdentifier => "quasi_identifier",
                        Privacy::Pseudonym => "pseudonym",
                        Privacy::None => "none",
                    },
                    code_list: c.code_list.clone(),
                    references: c.references.clone(),
                    description: c.description.clone(),
                })
                .collect(),
        })
        .collect();
    let code_lists: Vec<CodeListView> = registry
        .code_lists()
        .map(|l| CodeListView {
            name: l.name.clone(),
            description: l.description.clone(),
            source: l.source.clone(),
            codes: l
                .codes
                .iter()
                .map(|c| CodeView {
                    code: c.code.clone(),
                    label: c.label.clone(),
                })
                .collect(),
        })
        .collect();
    // The KPI measures of the Power BI model this pipeline's tables give, so the dictionary
    // states each headline figure's definition beside the columns it is computed from.
    let measures: Vec<MeasureView> = crate::powerbi::semantic_model(plan, registry, "SEND", None)
        .map(|m| {
            let names = m.tables.iter().map(|t| t.name.as_str()).collect();
            sendlake_powerbi::kpi_measures(&names)
        })
        .unwrap_or_default()
        .into_iter()
        .map(|m| MeasureView {
            name: m.name,
            table: m.table,
            folder: m.folder,
            format: m.format,
            description: m.description,
            dax: m.dax,
        })
        .collect();
    let mut env = Environment::new();
    // A Markdown table cell: no pipe, no line break.
    env.add_filter("cell", |v: String| {
        v.replace('|', "\\|").replace(['\n', '\r'], " ")
    });
    // HTML from a description's inline Markdown: escaped, with `code` spans kept as code.
    env.add_filter("inline", |v: String| {
        let escaped = crate::report::esc(&v);
        let mut html = String::with_capacity(escaped.len());
        for (i, part) in escaped.split('`').enumerate() {
            if i % 2 == 1 {
                html.push_str("<code>");
                html.push_str(part);
                html.push_str("</code>");
            } else {
                html.push_str(part);
            }
        }
        minijinja::Value::from_safe_string(html)
    });
    let err = |e: minijinja::Error| format!("data dictionary template: {e:#}");
    env.add_template("data-dictionary.md", MARKDOWN)
        .map_err(err)?;
    env.add_template("data-dictionary.html", HTML)
        .map_err(err)?;
    let pipeline = plan
        .file
        .file_name()
        .map(|f| format!("pipelines/{}", f.to_string_lossy()))
        .unwrap_or_default();
    let ctx = minijinja::context! {
        pipeline,
        tables => minijinja::Value::from(minijinja::value::Serde(&tables)),
        code_lists => minijinja::Value::from(minijinja::value::Serde(&code_lists)),
        measures => minijinja::Value::from(minijinja::value::Serde(&measures)),
    };
    let render = |name: &str| {
        env.get_template(name)
            .and_then(|t| t.render(&ctx))
            .map(|s| s.trim_end().to_owned() + "\n")
            .map_err(err)
    };
    Ok(Dictionary {
        markdown: render("data-dictionary.md")?,
        html: render("data-dictionary.html")?,
    })
}
