//! The generated project read back: every column, relationship and measure reference
//! resolves; the output is deterministic; and regenerating keeps what an author added.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sendlake_powerbi::{RoleLocality, SemanticModel, parse_tmdl, render, write};
use sendlake_schema::SchemaRegistry;

fn registry() -> SchemaRegistry {
    SchemaRegistry::embedded().unwrap()
}

/// The demo's model tables: every published table, and the restricted tables the models
/// build (facts, dim_child, the journey).
fn model(reg: &SchemaRegistry) -> SemanticModel<'_> {
    let tables = reg
        .tables()
        .iter()
        .filter(|t| {
            t.zone == sendlake_schema::Zone::Published
                || t.name.starts_with("fact_")
                || [
                    "dim_child",
                    "child_journey",
                    "child_geography",
                    "population_estimate",
                ]
                .contains(&t.name.as_str())
        })
        .collect();
    SemanticModel {
        name: "SEND".into(),
        tables,
        localities: vec![
            RoleLocality {
                code: "DSPL1".into(),
                name: "Dacorum".into(),
            },
            RoleLocality {
                code: "DSPL2".into(),
                name: "Three Rivers".into(),
            },
        ],
        lake_location: "C:\\sendlake\\demo-lake".into(),
        // As the demo's `pipelines/models/report.toml` has them.
        page_sources: [
            ("kpi_timeliness", "sen2"),
            ("kpi_caseload_need", "sen2"),
            ("kpi_requests", "sen2"),
            ("kpi_health_waits", "nhs_community"),
        ]
        .map(|(t, s)| (t.to_owned(), s.to_owned()))
        .into(),
    }
}

fn tmdl_files(files: &BTreeMap<PathBuf, String>) -> BTreeMap<String, sendlake_powerbi::Tmdl> {
    files
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "tmdl"))
        .map(|(p, t)| (p.display().to_string(), parse_tmdl(t)))
        .collect()
}

#[test]
fn every_reference_in_the_model_resolves() {
    let reg = registry();
    let m = model(&reg);
    let files = render(&m).unwrap();
    let parsed = tmdl_files(&files);
    // Tables and their columns, read back from the table files.
    let mut columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut measures = BTreeSet::new();
    for t in parsed.values() {
        if let Some(name) = t.table_name() {
            columns.insert(name, t.columns.iter().cloned().collect());
            measures.extend(t.measure_names());
        }
    }
    for t in &m.tables {
        let cols = &columns[&t.name];
        for c in &t.columns {
            assert!(cols.contains(&c.name), "{}.{} missing", t.name, c.name);
        }
    }
    // model.tmdl lists every table file, and only those.
    let model_file = parsed
        .iter()
        .find(|(p, _)| p.ends_with("model.tmdl"))
        .map(|(_, t)| t)
        .unwrap();
    let refs: BTreeSet<String> = model_file.table_refs.iter().cloned().collect();
    assert_eq!(refs, columns.keys().cloned().collect());
    // Relationships: both ends exist; the one side is its table's key.
    let rels = parsed
        .iter()
        .find(|(p, _)| p.ends_with("relationships.tmdl"))
        .map(|(_, t)| t.relationships.clone())
        .unwrap();
    assert!(rels.len() >= 40, "{} relationships", rels.len());
    for (from, to) in &rels {
        for end in [from, to] {
            let (t, c) = end.split_once('.').unwrap();
            assert!(
                columns.get(t).is_some_and(|cs| cs.contains(c)),
                "{end} does not resolve"
            );
        }
        let (t, c) = to.split_once('.').unwrap();
        assert_eq!(reg.table(t).unwrap().primary_key, [c], "{to} is not a key");
    }
    assert!(rels.contains(&("fact_plan.start_date".into(), "dim_date.date".into())));
    // Measures: every table[column] and [measure] in their DAX resolves.
    let kpis = parsed
        .iter()
        .find(|(p, _)| p.ends_with("_KPIs.tmdl"))
        .map(|(_, t)| t)
        .unwrap();
    assert!(kpis.measures.len() >= 12);
    for (name, dax, block) in &kpis.measures {
        assert!(
            block.contains("formatString:")
                && block.contains("displayFolder:")
                && block.contains("\t///"),
            "{name}"
        );
        for (table, column) in sendlake_powerbi::dax_references(dax) {
            if table.is_empty() {
                assert!(
                    measures.contains(&column),
                    "{name}: [{column}] is not a measure"
                );
            } else {
                assert!(
                    columns.get(&table).is_some_and(|c| c.contains(&column)),
                    "{name}: {table}[{column}] does not resolve"
                );
            }
        }
    }
    // Roles: Partnership sees no restricted row; locality roles filter through dim_child.
    let partnership =
        &files[&PathBuf::from("SEND.SemanticModel/definition/roles/Partnership.tmdl")];
    assert!(partnership.contains("tablePermission fact_plan = FALSE()"));
    // Public figures kept in the restricted zone are not person-level: no filter.
    assert!(!partnership.contains("population_estimate"));
    assert!(measures.contains("EHC plans per 1,000 aged 0-25"));
    assert!(!partnership.contains("kpi_timeliness"));
    let dspl1 = &files[&PathBuf::from("SEND.SemanticModel/definition/roles/Locality DSPL1.tmdl")];
    assert!(dspl1.contains("role 'Locality DSPL1'"));
    assert!(dspl1.contains("tablePermission dim_child = dim_child[locality_code] = \"DSPL1\""));
    for (table, column) in sendlake_powerbi::dax_references(dspl1) {
        assert!(
            columns.get(&table).is_some_and(|c| c.contains(&column)),
            "{table}[{column}]"
        );
    }
    // dim_date is the date table; implicit measures are discouraged; auto date/time is off.
    let dim_date = &files[&PathBuf::from("SEND.SemanticModel/definition/tables/dim_date.tmdl")];
    assert!(dim_date.contains("\tdataCategory: Time\n") && dim_date.contains("\t\tisKey\n"));
    let model_text = &files[&PathBuf::from("SEND.SemanticModel/definition/model.tmdl")];
    assert!(model_text.contains("\tdiscourageImplicitMeasures\n"));
    assert!(model_text.contains("__PBI_TimeIntelligenceEnabled = 0"));
    // Partitions read through the storage function, by zone.
    let fact_plan = &files[&PathBuf::from("SEND.SemanticModel/definition/tables/fact_plan.tmdl")];
    assert!(fact_plan.contains("SendlakeTable(\"restricted\", \"fact_plan\")"));
}

/// The starter report opens on working visuals: a page per KPI area, each pinned by page
/// filters to what its measures need, and every table, column and measure a visual or
/// filter names exists in the model.
#[test]
fn the_starter_report_names_only_what_the_model_has() {
    let reg = registry();
    let files = render(&model(&reg)).unwrap();
    let parsed = tmdl_files(&files);
    let mut known: BTreeSet<(String, String)> = BTreeSet::new();
    for t in parsed.values() {
        if let Some(table) = t.table_name() {
            for c in &t.columns {
                known.insert((table.clone(), c.clone()));
            }
            for m in t.measure_names() {
                known.insert((table.clone(), m));
            }
        }
    }
    let report: serde_json::Value =
        serde_json::from_str(&files[&PathBuf::from("SEND.Report/report.json")]).unwrap();
    let fields = sendlake_powerbi::report_fields(&report);
    assert!(fields.len() > 20, "{fields:?}");
    let unknown: Vec<_> = fields.iter().filter(|f| !known.contains(*f)).collect();
    assert!(
        unknown.is_empty(),
        "report names what the model lacks: {unknown:?}"
    );

    let sections = report["sections"].as_array().unwrap();
    let pages: Vec<&str> = sections
        .iter()
        .map(|s| s["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(
        pages,
        ["Timeliness", "Caseload by need", "Requests", "Health waits"]
    );
    for s in sections {
        let filters: serde_json::Value =
            serde_json::from_str(s["filters"].as_str().unwrap()).unwrap();
        let pinned: BTreeSet<&str> = filters
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["expression"]["Column"]["Property"].as_str().unwrap())
            .collect();
        assert_eq!(
            pinned,
            BTreeSet::from(["geography_level", "period_type", "source"]),
            "{}",
            s["displayName"]
        );
        let visuals = s["visualContainers"].as_array().unwrap();
        assert!(visuals.len() >= 4, "{}", s["displayName"]);
        let mut names = BTreeSet::new();
        for v in visuals {
            let config: serde_json::Value =
                serde_json::from_str(v["config"].as_str().unwrap()).unwrap();
            assert!(names.insert(config["name"].as_str().unwrap().to_owned()));
            let select = config["singleVisual"]["prototypeQuery"]["Select"]
                .as_array()
                .unwrap();
            assert!(!select.is_empty());
            // Every projected field is selected by the query.
            let selected: BTreeSet<&str> =
                select.iter().map(|s| s["Name"].as_str().unwrap()).collect();
            for refs in config["singleVisual"]["projections"]
                .as_object()
                .unwrap()
                .values()
            {
                for r in refs.as_array().unwrap() {
                    assert!(selected.contains(r["queryRef"].as_str().unwrap()));
                }
            }
        }
    }

    // A model without the health waits table leaves that page out rather than break it.
    let mut small = model(&reg);
    small.tables.retain(|t| t.name != "kpi_health_waits");
    let files = render(&small).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&files[&PathBuf::from("SEND.Report/report.json")]).unwrap();
    assert_eq!(report["sections"].as_array().unwrap().len(), 3);
}

#[test]
fn role_playing_dates_leave_one_relationship_active() {
    let reg = registry();
    let files = render(&model(&reg)).unwrap();
    let text = &files[&PathBuf::from("SEND.SemanticModel/definition/relationships.tmdl")];
    let blocks: Vec<&str> = text
        .split("relationship ")
        .filter(|b| b.contains("fromColumn: fact_plan."))
        .collect();
    let to_date: Vec<&&str> = blocks
        .iter()
        .filter(|b| b.contains("toColumn: dim_date.date"))
        .collect();
    assert_eq!(to_date.len(), 2, "start_date and cease_date");
    assert_eq!(
        to_date
            .iter()
            .filter(|b| b.contains("isActive: false"))
            .count(),
        1
    );
    assert!(
        to_date
            .iter()
            .any(|b| b.contains("fact_plan.start_date") && !b.contains("isActive: false"))
    );
}

#[test]
fn output_is_deterministic_and_regenerating_keeps_the_authors_work() {
    let reg = registry();
    let m = model(&reg);
    assert_eq!(render(&m).unwrap(), render(&m).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let first = write(&m, dir.path()).unwrap();
    assert!(first.written.len() > 40);
    let tables = dir.path().join("SEND.SemanticModel/definition/tables");
    // The author adds a measure to the generated _KPIs table and a table of their own.
    let kpis = tables.join("_KPIs.tmdl");
    let text = std::fs::read_to_string(&kpis).unwrap().replacen(
        "\tcolumn Value",
        "\t/// Mine.\n\tmeasure 'My rate' = DIVIDE(1, 2)\n\t\tformatString: 0.0\n\n\tcolumn Value",
        1,
    );
    std::fs::write(&kpis, text).unwrap();
    std::fs::write(tables.join("Notes.tmdl"), "table Notes\n\tlineageTag: 1\n").unwrap();
    let second = write(&m, dir.path()).unwrap();
    assert_eq!(second.author_measures, ["My rate"]);
    assert_eq!(second.author_tables, ["Notes"]);
    let kept = std::fs::read_to_string(&kpis).unwrap();
    assert!(
        kept.contains("measure 'My rate' = DIVIDE(1, 2)") && kept.contains("/// Mine."),
        "{kept}"
    );
    assert!(
        parse_tmdl(&kept)
            .measure_names()
            .contains(&"Issued within 20 weeks (%)".to_owned())
    );
    let model =
        std::fs::read_to_string(dir.path().join("SEND.SemanticModel/definition/model.tmdl"))
            .unwrap();
    assert!(model.contains("ref table Notes\n"));
    assert!(tables.join("Notes.tmdl").exists());
    // A third run changes nothing.
    let third = write(&m, dir.path()).unwrap();
    assert!(third.written.is_empty(), "{:?}", third.written);
}

#[test]
fn lineage_tags_are_stable_uuids() {
    let tag = sendlake_powerbi::lineage_tag("table/fact_plan");
    assert_eq!(tag, sendlake_powerbi::lineage_tag("table/fact_plan"));
    assert_ne!(tag, sendlake_powerbi::lineage_tag("table/fact_request"));
    let parts: Vec<&str> = tag.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('8'), "version 8: {tag}");
}

/// The generated files that carry the model's structure, compared with the committed
/// snapshot in `tests/snapshots/` (review the diff; `UPDATE_EXPECT=1` rewrites it).
#[test]
fn output_matches_the_snapshot() {
    let reg = registry();
    let files = render(&model(&reg)).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let def = PathBuf::from("SEND.SemanticModel/definition");
    let picked = [
        def.join("model.tmdl"),
        def.join("expressions.tmdl"),
        def.join("relationships.tmdl"),
        def.join("tables/_KPIs.tmdl"),
        def.join("tables/dim_date.tmdl"),
        def.join("tables/fact_plan.tmdl"),
        def.join("tables/kpi_timeliness.tmdl"),
        def.join("roles/Partnership.tmdl"),
        def.join("roles/Locality DSPL1.tmdl"),
        PathBuf::from("SEND.pbip"),
        PathBuf::from("SEND.Report/definition.pbir"),
        PathBuf::from("SEND.Report/report.json"),
    ];
    for rel in picked {
        let path = dir.join(rel.to_string_lossy().replace(['/', ' '], "__"));
        sendlake_test::assert_golden(path, &files[&rel]);
    }
}
