//! No names, full birth dates, full postcodes or raw identifiers reach the restricted tables.

use std::collections::HashSet;

use arrow_array::{Array, Date32Array};
use sendlake_extract::{RawElement, Sen2Item, Sen2Reader};

use crate::support::*;

/// The SEN2 fields that identify a child (SEN2 has no former UPN).
pub(crate) const IDENTIFIER_FIELDS: [&str; 6] = [
    "UPN",
    "UniqueLearnerNumber",
    "Surname",
    "Forename",
    "PostCode",
    "PersonBirthDate",
];

pub(crate) fn collect_identifiers(el: &RawElement, out: &mut HashSet<String>) {
    collect_fields(el, &IDENTIFIER_FIELDS, out);
}

/// Every value of the fields named `names` in `el` and below, as given and without spaces.
pub(crate) fn collect_fields(el: &RawElement, names: &[&str], out: &mut HashSet<String>) {
    for f in &el.fields {
        if names.contains(&f.name.as_str())
            && let Some(v) = &f.value
        {
            out.insert(v.clone());
            out.insert(v.replace(' ', ""));
        }
    }
    for c in &el.children {
        collect_fields(c, names, out);
    }
}

#[test]
fn restricted_tables_hold_no_identifiers_from_the_input() {
    let ws = Workspace::new();
    let cfg = sendlake_test::sim::sen2(2, 150, 9);
    sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    ws.write_input(
        "sen2",
        "mock.xml",
        std::fs::read(fixture("sen2/SEN2-2024-mockup.xml")).unwrap(),
    );
    // The same children through the partner APIs (council and NHS, from the run's own
    // simulator), so the partner tables are scanned too.
    let sources = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/sources");
    let mut text = std::fs::read_to_string(ws.pipeline(&["sen2"])).unwrap();
    text.push_str(&format!(
        "[simulator]\nlas = 2\npersons_per_la = 150\nseed = 9\ncensus_year = {}\n\
         [simulator.env]\nSENDLAKE_COUNCIL_CLIENT_ID = \"client_id\"\n\
         SENDLAKE_COUNCIL_CLIENT_SECRET = \"client_secret\"\nSENDLAKE_NHS_API_KEY = \"api_key\"\n",
        cfg.census_year
    ));
    for f in ["council_cms.toml", "nhs_community.toml"] {
        text.push_str(&format!(
            "[[sources]]\ntype = \"source_file\"\nfile = {:?}\nbase_url = \"simulator\"\n",
            sources.join(f).display().to_string()
        ));
    }
    let p = ws.dir.path().join("with-partners.toml");
    std::fs::write(&p, text).unwrap();
    let report = ws.run(&p);
    assert!(report.manifest.reconciled);

    let mut secrets = HashSet::new();
    for f in std::fs::read_dir(ws.inputs("sen2")).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            for item in Sen2Reader::open(&path).unwrap() {
                if let Ok(Sen2Item::Person(p)) = item {
                    collect_identifiers(&p.element, &mut secrets);
                }
            }
        }
    }
    let sim = block_on(sendlake_sim::serve::start(
        sendlake_sim::serve::SimServerConfig {
            sen2: cfg.clone(),
            ..Default::default()
        },
    ))
    .unwrap();
    for child in sim.children() {
        secrets.insert(child.nhs_number.clone());
    }
    assert!(secrets.len() > 1000, "the scan needs something to look for");
    let mut scanned = 0;
    let registry = sendlake_schema::SchemaRegistry::embedded().unwrap();
    for table in registry
        .tables()
        .iter()
        .filter(|t| t.zone == sendlake_schema::Zone::Restricted)
    {
        if ws.version("restricted", &table.name).is_none() {
            // Sources not in this pipeline (files, EES); their fixtures are synthetic.
            continue;
        }
        scanned += 1;
        for batch in ws.read("restricted", &table.name) {
            for_each_text(&batch, |column, v| {
                assert!(
                    !secrets.contains(v),
                    "{}.{column} holds an input identifier",
                    table.name
                );
            });
            for (i, field) in batch.schema().fields().iter().enumerate() {
                if field.name() == "birth_month" {
                    let a = batch
                        .column(i)
                        .as_any()
                        .downcast_ref::<Date32Array>()
                        .unwrap();
                    for d in a.iter().flatten() {
                        let date =
                            chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163).unwrap();
                        assert_eq!(
                            chrono::Datelike::day(&date),
                            1,
                            "birth dates are degraded to the month"
                        );
                    }
                }
            }
        }
    }
    assert!(scanned >= 13, "only {scanned} restricted tables scanned");
}

#[test]
fn a_run_without_a_key_refuses_to_start() {
    let ws = Workspace::new();
    let text = "[pipeline]\nname='t'\n[store]\nurl='lake'\n[privacy]\nkey_env='SENDLAKE_TEST_KEY_THAT_IS_NEVER_SET'\n[[sources]]\ntype='sen2_xml'\nname='s'\npath='.'\n";
    let p = ws.dir.path().join("p.toml");
    std::fs::write(&p, text).unwrap();
    let err = ws
        .run_with(&p, sendlake_pipeline::RunOptions::default())
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("SENDLAKE_TEST_KEY_THAT_IS_NEVER_SET"),
        "{err}"
    );
    assert!(
        !ws.lake().join("restricted").exists(),
        "nothing may be written without a key"
    );
}
