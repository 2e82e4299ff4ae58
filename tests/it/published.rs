//! The published zone of a full demo run holds aggregates only: no identifier from the inputs,
//! no pseudonymised key, no person-level row, and no count from 1 to the threshold left
//! showing, directly or by subtraction.

use std::collections::HashSet;
use std::path::Path;

use arrow_array::{Array, RecordBatch, StringArray};
use sendlake_extract::{Sen2Item, Sen2Reader};
use sendlake_schema::{SchemaRegistry, SuppressionDef, Zone};

use crate::support::*;

/// The demo pipeline, pointed at a temp lake and inputs.
pub(crate) fn demo_pipeline(ws: &Workspace) -> std::path::PathBuf {
    let pipelines = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines");
    let pipelines = pipelines.canonicalize().unwrap();
    let abs = |p: &str| pipelines.join(p).display().to_string();
    let text = std::fs::read_to_string(pipelines.join("demo.toml"))
        .unwrap()
        .replace("url = \"../demo-lake\"", "url = \"lake\"")
        .replace(
            "path = \"../demo-lake/_inputs/sen2\"",
            &format!("path = {:?}", ws.inputs("sen2").display().to_string()),
        )
        .replace(
            "path = \"demo-data/sen2-messy\"",
            &format!("path = {:?}", abs("demo-data/sen2-messy")),
        )
        .replace(
            "file = \"sources/",
            &format!("file = \"{}/", abs("sources")),
        )
        .replace("dir = \"models\"", &format!("dir = {:?}", abs("models")));
    assert!(text.contains("[models]"), "the demo builds the models");
    let p = ws.dir.path().join("demo.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn utf8s(batch: &RecordBatch, column: &str) -> Option<StringArray> {
    batch
        .column_by_name(column)?
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
}

/// Whether row `i` of a table is exempt from suppression (already-published statistics).
fn exempt(batch: &RecordBatch, sup: &SuppressionDef, i: usize) -> bool {
    sup.exempt.as_ref().is_some_and(|e| {
        utf8s(batch, &e.column)
            .is_some_and(|c| c.is_valid(i) && e.values.iter().any(|v| v == c.value(i)))
    })
}

fn hidden(batch: &RecordBatch, column: &str, i: usize) -> bool {
    utf8s(batch, &format!("{column}_status")).is_some_and(|s| s.is_valid(i) && s.value(i) == "c")
}

#[test]
fn the_published_zone_of_a_demo_run_is_safe_to_publish() {
    let ws = Workspace::new();
    let pipeline = demo_pipeline(&ws);
    let report = ws.run(&pipeline);
    let models = report.manifest.models.as_ref().expect("models were built");
    assert!(
        models.ok(),
        "every model committed and no check failed: {:#?}",
        models
            .models
            .iter()
            .filter(|m| m.status != sendlake_model::ModelStatus::Committed)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        report.manifest.status,
        sendlake_pipeline::RunStatus::Succeeded
    );

    // What to look for: every identifier in the SEN2 inputs and every NHS number the
    // simulator serves.
    let mut secrets = HashSet::new();
    for f in std::fs::read_dir(ws.inputs("sen2")).unwrap() {
        let path = f.unwrap().path();
        for item in Sen2Reader::open(&path).unwrap() {
            if let Ok(Sen2Item::Person(p)) = item {
                crate::privacy::collect_identifiers(&p.element, &mut secrets);
            }
        }
    }
    assert!(secrets.len() > 1000, "the scan needs something to look for");

    let registry = SchemaRegistry::embedded().unwrap();
    // The demo's own publishing policy, rules included (NHS 1-7 and rounding, the DfE's
    // LA-level annual figures as published).
    let policy = sendlake_pipeline::PipelineFile::load(&pipeline)
        .unwrap()
        .models
        .expect("the demo builds the models")
        .publish;
    assert!(policy.rules.len() >= 2, "the demo sets per-source rules");
    let mut scanned = 0;
    let mut proof = crate::disclosure::Proof::default();
    for def in registry
        .tables()
        .iter()
        .filter(|t| t.zone == Zone::Published)
    {
        assert!(
            ws.version("published", &def.name).is_some(),
            "published table {} was not built",
            def.name
        );
        scanned += 1;
        let batches = ws.read("published", &def.name);
        for batch in &batches {
            // Columns: only what the schema declares, none of them personal.
            for field in batch.schema().fields() {
                let col = def
                    .columns
                    .iter()
                    .find(|c| &c.name == field.name())
                    .unwrap_or_else(|| panic!("{}.{} is not declared", def.name, field.name()));
                assert_eq!(col.privacy, sendlake_schema::Privacy::None);
                assert!(
                    ![
                        "person_key",
                        "request_ref",
                        "record_id",
                        "referral_ref",
                        "placement_ref"
                    ]
                    .contains(&field.name().as_str()),
                    "{}.{} is a person-level key",
                    def.name,
                    field.name()
                );
            }
            // Values: no input identifier, no pseudonymised key (64 hex digits).
            for_each_text(batch, |column, v| {
                assert!(
                    !secrets.contains(v),
                    "{}.{column} holds an input identifier",
                    def.name
                );
                assert!(
                    !(v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())),
                    "{}.{column} holds a pseudonymised key",
                    def.name
                );
            });
            let Some(sup) = &def.suppression else {
                continue;
            };
            // Rates never show beside a hidden numerator or denominator.
            for r in &sup.rates {
                let rate = batch.column_by_name(&r.column).unwrap();
                for i in 0..batch.num_rows() {
                    if !exempt(batch, sup, i)
                        && (hidden(batch, &r.numerator, i) || hidden(batch, &r.denominator, i))
                    {
                        assert!(
                            rate.is_null(i),
                            "{}.{} shown beside a hidden count",
                            def.name,
                            r.column
                        );
                    }
                }
            }
        }
        // No small count left showing, and no hidden cell given back by the declared
        // relations solved together, or by a difference of published cells.
        if let Some(sup) = &def.suppression {
            let table = crate::disclosure::Table::read(&batches, sup, &policy);
            let p = table.prove(&def.name, sup);
            proof.hidden += p.hidden;
            proof.equations += p.equations;
            proof.remainders_checked += p.remainders_checked;
            proof.exempt_rows += p.exempt_rows;
            proof.rounded_rows += p.rounded_rows;
            proof.determined_unprotected += p.determined_unprotected;
        }
    }
    assert!(scanned >= 19, "only {scanned} published tables scanned");

    // An area's caseload is one figure wherever it is published: hidden in one table, it is
    // hidden in all (the tables are read here, whatever their declarations say).
    let caseloads: Vec<(&str, Vec<RecordBatch>)> =
        ["kpi_caseload_need", "kpi_placements", "kpi_caseload_age"]
            .into_iter()
            .map(|t| (t, ws.read("published", t)))
            .collect();
    let agreed = crate::disclosure::same_figure_everywhere(&caseloads, "caseload_total");
    assert!(agreed > 100, "only {agreed} caseloads published twice");

    // dim_date covers every date the facts carry and every KPI period.
    let dates = |zone: &str, table: &str, column: &str| -> Vec<i32> {
        ws.read(zone, table)
            .iter()
            .flat_map(|b| {
                let a = b
                    .column_by_name(column)
                    .unwrap()
                    .as_any()
                    .downcast_ref::<arrow_array::Date32Array>()
                    .unwrap()
                    .clone();
                a.iter().flatten().collect::<Vec<_>>()
            })
            .collect()
    };
    let calendar: HashSet<i32> = dates("published", "dim_date", "date").into_iter().collect();
    for (zone, table, column) in [
        ("restricted", "fact_request", "received_date"),
        ("restricted", "fact_plan", "start_date"),
        ("restricted", "fact_caseload", "snapshot_date"),
        ("restricted", "fact_health_referral", "referral_date"),
        ("published", "kpi_timeliness", "period_start"),
        ("published", "kpi_caseload_need", "period_start"),
        ("published", "kpi_caseload_age", "period_start"),
        ("published", "kpi_assessments", "period_start"),
        ("published", "kpi_annual_reviews_year", "period_start"),
        ("published", "kpi_health_waits", "period_start"),
    ] {
        let values = dates(zone, table, column);
        assert!(!values.is_empty(), "{table}.{column} is empty");
        for d in values {
            assert!(
                calendar.contains(&d),
                "{table}.{column}: day {d} is not in dim_date"
            );
        }
    }
    assert!(
        proof.hidden > 100,
        "the demo's small areas are suppressed: {proof:?}"
    );
    assert!(
        proof.equations > 100 && proof.remainders_checked > 100,
        "the proof had relations to solve and differences to check: {proof:?}"
    );
    assert!(
        proof.exempt_rows > 0 && proof.rounded_rows > 0,
        "the demo exercises both kinds of rule: {proof:?}"
    );
}
