//! The published zone of a full demo run holds aggregates only: no identifier from the inputs,
//! no pseudonymised key, no person-level row, and no count from 1 to the threshold left
//! showing, directly or by subtraction.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
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

fn i64s(batch: &RecordBatch, column: &str) -> Option<Int64Array> {
    batch
        .column_by_name(column)?
        .as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
}

fn utf8s(batch: &RecordBatch, column: &str) -> Option<StringArray> {
    batch
        .column_by_name(column)?
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
}

/// A grouping key cell as text, whatever its type (codes, dates, years).
fn key_cell(batch: &RecordBatch, column: &str, i: usize) -> String {
    use arrow_array::{Date32Array, Int32Array};
    let c = batch.column_by_name(column).unwrap();
    if c.is_null(i) {
        return String::new();
    }
    if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
        a.value(i).to_owned()
    } else if let Some(a) = c.as_any().downcast_ref::<Date32Array>() {
        a.value(i).to_string()
    } else if let Some(a) = c.as_any().downcast_ref::<Int32Array>() {
        a.value(i).to_string()
    } else if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
        a.value(i).to_string()
    } else {
        panic!("{column}: unexpected key type {}", c.data_type())
    }
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
    let policy = sendlake_schema::SuppressionPolicy::default();
    let mut scanned = 0;
    let mut suppressed_cells = 0;
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
        type Group = (usize, String, Vec<String>);
        let mut groups: BTreeMap<Group, (usize, usize)> = BTreeMap::new();
        for batch in ws.read("published", &def.name) {
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
            for (i, field) in batch.schema().fields().iter().enumerate() {
                if let Some(a) = batch.column(i).as_any().downcast_ref::<StringArray>() {
                    for v in a.iter().flatten() {
                        assert!(
                            !secrets.contains(v),
                            "{}.{} holds an input identifier",
                            def.name,
                            field.name()
                        );
                        assert!(
                            !(v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())),
                            "{}.{} holds a pseudonymised key",
                            def.name,
                            field.name()
                        );
                    }
                }
            }
            let Some(sup) = &def.suppression else {
                continue;
            };
            // No small count left showing, and what is hidden is marked `c`.
            for c in &sup.counts {
                let values = i64s(&batch, c).unwrap();
                for i in 0..batch.num_rows() {
                    if exempt(&batch, sup, i) {
                        continue;
                    }
                    if values.is_valid(i) {
                        let v = values.value(i);
                        assert!(
                            v == 0 || v > policy.suppress_max,
                            "{}.{} shows {v} (row {i})",
                            def.name,
                            c
                        );
                    } else if hidden(&batch, c, i) {
                        suppressed_cells += 1;
                    }
                }
            }
            // Rates never show beside a hidden numerator or denominator.
            for r in &sup.rates {
                let rate = batch.column_by_name(&r.column).unwrap();
                for i in 0..batch.num_rows() {
                    if !exempt(&batch, sup, i)
                        && (hidden(&batch, &r.numerator, i) || hidden(&batch, &r.denominator, i))
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
            // No relation with exactly one hidden cell (it could be recovered by subtraction).
            for a in &sup.additive {
                for i in 0..batch.num_rows() {
                    if exempt(&batch, sup, i) {
                        continue;
                    }
                    let cells: Vec<&String> = std::iter::once(&a.total).chain(&a.parts).collect();
                    let n_hidden = cells.iter().filter(|c| hidden(&batch, c, i)).count();
                    let n_shown = cells
                        .iter()
                        .filter(|c| i64s(&batch, c).unwrap().is_valid(i))
                        .count();
                    assert!(
                        !(n_hidden == 1 && n_shown > 0),
                        "{} row {i}: one hidden cell among {} = {:?}",
                        def.name,
                        a.total,
                        a.parts
                    );
                }
            }
            // Sibling groups may span the batches a table is read in: count across all.
            for (pi, p) in sup.partitions.iter().enumerate() {
                for c in &sup.counts {
                    let values = i64s(&batch, c).unwrap();
                    for i in 0..batch.num_rows() {
                        if exempt(&batch, sup, i) {
                            continue;
                        }
                        let key: Vec<String> =
                            p.by.iter().map(|b| key_cell(&batch, b, i)).collect();
                        let e = groups.entry((pi, c.clone(), key)).or_default();
                        if hidden(&batch, c, i) {
                            e.0 += 1;
                        } else if values.is_valid(i) {
                            e.1 += 1;
                        }
                    }
                }
            }
        }
        for ((_, c, key), (h, shown)) in groups {
            assert!(
                !(h == 1 && shown > 0),
                "{}.{c}: one hidden sibling in group {key:?}",
                def.name
            );
        }
    }
    assert!(scanned >= 19, "only {scanned} published tables scanned");

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
        suppressed_cells > 100,
        "the demo's small areas are suppressed ({suppressed_cells} cells)"
    );
}
