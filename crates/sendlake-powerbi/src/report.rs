//! The starter report (`report.json`, the PBIR-Legacy format every Power BI Desktop opens):
//! one page per KPI area whose table is in the model, each already filtered to one
//! geography level, period type and source so the guarded measures show values, with cards,
//! a trend against England where the DfE publishes one, and a breakdown. Authors restyle or
//! replace it; its job is to open on working visuals instead of a blank canvas.
//!
//! Pages are data ([`PAGES`]), and every field a visual or filter names is returned by
//! [`fields`] so the tests can check each one resolves to a column or measure of the model.
//! The source a page shows is not: it names a partnership's source (`nhs_community`), so it
//! is configuration ([`crate::SemanticModel::page_sources`], from the model project's
//! `report.toml`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::measures::MEASURES_TABLE;

/// A field a visual shows: a column of a table, or a KPI measure (in `_KPIs`).
#[derive(Clone, Copy)]
enum Field {
    Col(&'static str, &'static str),
    Measure(&'static str),
}

impl Field {
    fn entity(self) -> &'static str {
        match self {
            Field::Col(t, _) => t,
            Field::Measure(_) => MEASURES_TABLE,
        }
    }
    fn property(self) -> &'static str {
        match self {
            Field::Col(_, c) | Field::Measure(c) => c,
        }
    }
}

use Field::{Col, Measure};

struct Visual {
    /// Power BI's visual type: `card`, `lineChart`, `clusteredBarChart`, `slicer`, `tableEx`.
    kind: &'static str,
    title: &'static str,
    /// x, y, width, height on a 1280 × 720 page.
    at: (u32, u32, u32, u32),
    /// Data roles (`Values`, `Category`, `Y`) and the fields in each.
    roles: &'static [(&'static str, &'static [Field])],
}

struct Page {
    name: &'static str,
    /// The KPI table the page is about; the page is left out when it is not in the model.
    table: &'static str,
    /// Page filters on that table: column = value (editable in the filter pane), before the
    /// one on [`SOURCE`], whose value is configuration.
    filters: &'static [(&'static str, &'static str)],
    visuals: &'static [Visual],
}

const YEAR: Field = Col("dim_date", "year");

/// The KPI tables' source column, which every page is filtered on.
const SOURCE: &str = "source";

/// The pages, in order. Filters pin each page to what its measures need: one geography
/// level and period type (the measures are blank otherwise, since adding levels would
/// double count) and one source, the page's in `page_sources` (the England measures pick
/// the DfE's own rows themselves).
const PAGES: &[Page] = &[
    Page {
        name: "Timeliness",
        table: "kpi_timeliness",
        filters: &[("geography_level", "la"), ("period_type", "calendar_year")],
        visuals: &[
            Visual {
                kind: "slicer",
                title: "Calendar year",
                at: (20, 20, 220, 300),
                roles: &[("Values", &[YEAR])],
            },
            Visual {
                kind: "card",
                title: "Issued within 20 weeks (%)",
                at: (260, 20, 240, 120),
                roles: &[("Values", &[Measure("Issued within 20 weeks (%)")])],
            },
            Visual {
                kind: "card",
                title: "Excluding exceptions (%)",
                at: (520, 20, 240, 120),
                roles: &[(
                    "Values",
                    &[Measure("Issued within 20 weeks excluding exceptions (%)")],
                )],
            },
            Visual {
                kind: "card",
                title: "England (%)",
                at: (780, 20, 240, 120),
                roles: &[("Values", &[Measure("Issued within 20 weeks, England (%)")])],
            },
            Visual {
                kind: "card",
                title: "Plans issued",
                at: (1040, 20, 220, 120),
                roles: &[("Values", &[Measure("Plans issued")])],
            },
            Visual {
                kind: "lineChart",
                title: "Issued within 20 weeks: local and England",
                at: (260, 160, 1000, 300),
                roles: &[
                    ("Category", &[YEAR]),
                    (
                        "Y",
                        &[
                            Measure("Issued within 20 weeks (%)"),
                            Measure("Issued within 20 weeks, England (%)"),
                        ],
                    ),
                ],
            },
            Visual {
                kind: "tableEx",
                title: "By year",
                at: (20, 480, 1240, 220),
                roles: &[(
                    "Values",
                    &[
                        YEAR,
                        Measure("Plans issued"),
                        Measure("Issued within 20 weeks (%)"),
                        Measure("Issued within 20 weeks excluding exceptions (%)"),
                        Measure("Issued within 20 weeks, England (%)"),
                        Measure("Issued within 20 weeks vs England (points)"),
                    ],
                )],
            },
        ],
    },
    Page {
        name: "Caseload by need",
        table: "kpi_caseload_need",
        filters: &[("geography_level", "la"), ("period_type", "calendar_year")],
        visuals: &[
            Visual {
                kind: "slicer",
                title: "Calendar year",
                at: (20, 20, 220, 300),
                roles: &[("Values", &[YEAR])],
            },
            Visual {
                kind: "card",
                title: "EHC plans",
                at: (260, 20, 300, 120),
                roles: &[("Values", &[Measure("EHC plans")])],
            },
            Visual {
                kind: "lineChart",
                title: "EHC plans on the census day",
                at: (580, 20, 680, 300),
                roles: &[("Category", &[YEAR]), ("Y", &[Measure("EHC plans")])],
            },
            Visual {
                kind: "clusteredBarChart",
                title: "EHC plans by primary need",
                at: (20, 340, 1240, 360),
                roles: &[
                    ("Category", &[Col("dim_sen_need", "sen_need_label")]),
                    ("Y", &[Measure("EHC plans")]),
                ],
            },
        ],
    },
    Page {
        name: "Requests",
        table: "kpi_requests",
        filters: &[("geography_level", "la"), ("period_type", "calendar_year")],
        visuals: &[
            Visual {
                kind: "card",
                title: "Requests received",
                at: (20, 20, 400, 120),
                roles: &[("Values", &[Measure("Requests received")])],
            },
            Visual {
                kind: "card",
                title: "Requests agreed (%)",
                at: (440, 20, 400, 120),
                roles: &[("Values", &[Measure("Requests agreed (%)")])],
            },
            Visual {
                kind: "card",
                title: "Decided within 6 weeks (%)",
                at: (860, 20, 400, 120),
                roles: &[("Values", &[Measure("Decided within 6 weeks (%)")])],
            },
            Visual {
                kind: "lineChart",
                title: "Requests by year",
                at: (20, 160, 1240, 540),
                roles: &[
                    ("Category", &[YEAR]),
                    (
                        "Y",
                        &[
                            Measure("Requests agreed (%)"),
                            Measure("Decided within 6 weeks (%)"),
                        ],
                    ),
                ],
            },
        ],
    },
    Page {
        name: "Health waits",
        table: "kpi_health_waits",
        filters: &[("geography_level", "la"), ("period_type", "month")],
        visuals: &[
            Visual {
                kind: "card",
                title: "Waiting over 18 weeks",
                at: (20, 20, 300, 120),
                roles: &[("Values", &[Measure("Waiting over 18 weeks")])],
            },
            Visual {
                kind: "card",
                title: "Waiting over 52 weeks",
                at: (340, 20, 300, 120),
                roles: &[("Values", &[Measure("Waiting over 52 weeks")])],
            },
            Visual {
                kind: "lineChart",
                title: "Share waiting over 18 and 52 weeks, by month",
                at: (660, 20, 600, 340),
                roles: &[
                    ("Category", &[Col("dim_date", "month_start")]),
                    (
                        "Y",
                        &[
                            Measure("Waiting over 18 weeks (%)"),
                            Measure("Waiting over 52 weeks (%)"),
                        ],
                    ),
                ],
            },
            Visual {
                kind: "clusteredBarChart",
                title: "Waiting over 18 weeks by service",
                at: (20, 380, 1240, 320),
                roles: &[
                    ("Category", &[Col("kpi_health_waits", "service_line")]),
                    ("Y", &[Measure("Waiting over 18 weeks")]),
                ],
            },
        ],
    },
];

/// The KPI tables the starter report has a page on, for checking `page_sources`' keys.
pub fn page_tables() -> Vec<&'static str> {
    PAGES.iter().map(|p| p.table).collect()
}

/// Pages with a source in `sources`, whose KPI table, and every table and measure their
/// visuals name, are in the model; each with its source.
fn pages<'p, 's>(
    tables: &BTreeSet<&str>,
    measures: &BTreeSet<&str>,
    sources: &'s BTreeMap<String, String>,
) -> Vec<(&'p Page, &'s str)> {
    PAGES
        .iter()
        .filter(|p| {
            tables.contains(p.table)
                && page_fields(p).all(|f| match f {
                    Col(t, _) => tables.contains(t),
                    Measure(m) => measures.contains(m),
                })
        })
        .filter_map(|p| Some((p, sources.get(p.table)?.as_str())))
        .collect()
}

fn page_fields(p: &Page) -> impl Iterator<Item = Field> + '_ {
    p.visuals
        .iter()
        .flat_map(|v| v.roles.iter().flat_map(|(_, fs)| fs.iter().copied()))
        .chain(p.filters.iter().map(|(c, _)| Col(p.table, c)))
        .chain(std::iter::once(Col(p.table, SOURCE)))
}

/// Every `(table, column-or-measure)` the report names, for the tests.
pub fn fields(report: &Value) -> Vec<(String, String)> {
    // Read back from the JSON itself, so a test checks what Power BI will read.
    let mut out = Vec::new();
    let mut walk = |config: &str| {
        if let Ok(v) = serde_json::from_str::<Value>(config) {
            collect(&v, &BTreeMap::new(), &mut out);
        }
    };
    for section in report["sections"].as_array().into_iter().flatten() {
        walk(section["filters"].as_str().unwrap_or("[]"));
        for vc in section["visualContainers"].as_array().into_iter().flatten() {
            walk(vc["config"].as_str().unwrap_or("{}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Walks a query: `From` binds aliases to entities, `Column`/`Measure` name a property of
/// an alias (`Source`) or directly of an entity (`Entity`).
fn collect(v: &Value, aliases: &BTreeMap<String, String>, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            let mut aliases = aliases.clone();
            for from in m
                .get("From")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(n), Some(e)) = (from["Name"].as_str(), from["Entity"].as_str()) {
                    aliases.insert(n.to_owned(), e.to_owned());
                }
            }
            for kind in ["Column", "Measure"] {
                if let Some(f) = m.get(kind) {
                    let src = &f["Expression"]["SourceRef"];
                    let entity = src["Entity"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| src["Source"].as_str().and_then(|s| aliases.get(s).cloned()));
                    if let (Some(e), Some(p)) = (entity, f["Property"].as_str()) {
                        out.push((e, p.to_owned()));
                    }
                }
            }
            for child in m.values() {
                collect(child, &aliases, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect(c, aliases, out)),
        _ => {}
    }
}

/// The report: the pages whose tables and measures are in the model and whose source
/// `sources` names (by the page's KPI table).
pub(crate) fn starter_report(
    tables: &BTreeSet<&str>,
    measures: &BTreeSet<&str>,
    sources: &BTreeMap<String, String>,
) -> Value {
    let pages = pages(tables, measures, sources);
    let sections: Vec<Value> = pages
        .iter()
        .enumerate()
        .map(|(i, (p, source))| section(i, p, source))
        .collect();
    json!({
        "config": json!({
            "version": "5.43",
            "themeCollection": { "baseTheme": { "name": "CY24SU10", "version": "5.61", "type": 2 } },
            "activeSectionIndex": 0,
            "settings": { "useStylableVisualContainerHeader": true, "exportDataMode": 1 }
        }).to_string(),
        "layoutOptimization": 0,
        "resourcePackages": [],
        "sections": sections,
    })
}

/// A short, stable object name (Power BI wants at most 20-odd characters, unique per report).
fn object_name(path: &str) -> String {
    crate::lineage_tag(path).replace('-', "")[..20].to_owned()
}

fn section(ordinal: usize, page: &Page, source: &str) -> Value {
    let filters: Vec<Value> = page
        .filters
        .iter()
        .copied()
        .chain(std::iter::once((SOURCE, source)))
        .map(|(col, value)| {
            json!({
                "name": object_name(&format!("report/{}/filter/{col}", page.name)),
                "expression": { "Column": {
                    "Expression": { "SourceRef": { "Entity": page.table } },
                    "Property": col
                } },
                "filter": {
                    "Version": 2,
                    "From": [{ "Name": "t", "Entity": page.table, "Type": 0 }],
                    "Where": [{ "Condition": { "In": {
                        "Expressions": [{ "Column": {
                            "Expression": { "SourceRef": { "Source": "t" } },
                            "Property": col
                        } }],
                        "Values": [[{ "Literal": { "Value": format!("'{value}'") } }]]
                    } } }]
                },
                "type": "Categorical",
                "howCreated": 1
            })
        })
        .collect();
    let visuals: Vec<Value> = page
        .visuals
        .iter()
        .enumerate()
        .map(|(z, v)| visual(page, z, v))
        .collect();
    json!({
        "config": "{}",
        "displayName": page.name,
        "displayOption": 1,
        "filters": Value::Array(filters).to_string(),
        "height": 720.0,
        "width": 1280.0,
        "name": object_name(&format!("report/{}", page.name)),
        "ordinal": ordinal,
        "visualContainers": visuals,
    })
}

fn visual(page: &Page, z: usize, v: &Visual) -> Value {
    let name = object_name(&format!("report/{}/{}", page.name, v.title));
    let (x, y, w, h) = v.at;
    // One alias per entity, in first-use order.
    let mut aliases: Vec<&str> = Vec::new();
    for (_, fs) in v.roles {
        for f in fs.iter() {
            if !aliases.contains(&f.entity()) {
                aliases.push(f.entity());
            }
        }
    }
    let alias = |e: &str| format!("s{}", aliases.iter().position(|a| *a == e).unwrap_or(0));
    let query_ref = |f: Field| format!("{}.{}", f.entity(), f.property());
    let mut select = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, fs) in v.roles {
        for f in fs.iter().copied() {
            if !seen.insert(query_ref(f)) {
                continue;
            }
            let key = match f {
                Col(..) => "Column",
                Measure(_) => "Measure",
            };
            select.push(json!({
                key: {
                    "Expression": { "SourceRef": { "Source": alias(f.entity()) } },
                    "Property": f.property()
                },
                "Name": query_ref(f)
            }));
        }
    }
    let projections: serde_json::Map<String, Value> = v
        .roles
        .iter()
        .map(|(role, fs)| {
            let refs: Vec<Value> = fs
                .iter()
                .map(|f| json!({ "queryRef": query_ref(*f) }))
                .collect();
            ((*role).to_owned(), Value::Array(refs))
        })
        .collect();
    let from: Vec<Value> = aliases
        .iter()
        .map(|e| json!({ "Name": alias(e), "Entity": e, "Type": 0 }))
        .collect();
    let config = json!({
        "name": name,
        "layouts": [{ "id": 0, "position": { "x": x, "y": y, "z": z, "width": w, "height": h } }],
        "singleVisual": {
            "visualType": v.kind,
            "projections": projections,
            "prototypeQuery": { "Version": 2, "From": from, "Select": select },
            "vcObjects": { "title": [{ "properties": {
                "show": { "expr": { "Literal": { "Value": "true" } } },
                "text": { "expr": { "Literal": { "Value": format!("'{}'", v.title.replace('\'', "''")) } } }
            } }] }
        }
    });
    json!({
        "x": x, "y": y, "z": z, "width": w, "height": h,
        "config": config.to_string(),
        "filters": "[]",
    })
}
