//! The committed data dictionary (docs/data-dictionary.md and .html) is what the schema and the
//! demo pipeline give now: a schema change without regenerating it fails here, and so in CI.
//! `UPDATE_EXPECT=1` rewrites both (or run `sendlake dictionary
//! pipelines/demo.toml`).

use std::path::Path;

#[test]
fn the_committed_data_dictionary_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plan = sendlake_pipeline::load_plan(&root.join("pipelines/demo.toml")).unwrap();
    let registry = sendlake_pipeline::registry().unwrap();
    let dict = sendlake_pipeline::dictionary::render(&plan, &registry).unwrap();

    // What it must say, whatever the wording.
    for t in registry.tables() {
        assert!(
            dict.markdown.contains(&format!("### {}\n", t.name)),
            "{}",
            t.name
        );
        for c in &t.columns {
            assert!(
                dict.markdown.contains(&format!("| `{}` |", c.name)),
                "{}.{}",
                t.name,
                c.name
            );
        }
    }
    assert!(dict.markdown.contains(
        "SEN2 returns (source `sen2_returns`): one row per `PlacementDetail` under `ActivePlans`"
    ));
    assert!(dict.markdown.contains("stream `requests`"));
    assert!(
        dict.markdown
            .contains("the model `pipelines/models/fact_plan.sql`")
    );
    assert!(
        dict.markdown.contains("### code list sen_type")
            && dict
                .markdown
                .contains("| `ASD` | Autistic spectrum disorder |")
    );
    // Every table the demo's lake holds says where it is filled from.
    assert!(!dict.markdown.contains("no source of this pipeline"));
    assert!(dict.html.contains("<h3 id=\"fact_plan\">fact_plan</h3>"));
    assert!(!dict.html.contains("<script"));
    // The KPI measures' definitions: the headline 20-week rate with its DAX, in both forms.
    assert!(dict.markdown.contains("## KPI measures"));
    assert!(
        dict.markdown
            .contains("### <a id=\"measure-2\"></a>Issued within 20 weeks (%)")
    );
    assert!(
        dict.markdown
            .contains("DIVIDE(SUM(kpi_timeliness[plans_issued_within_20_weeks]), SUM(kpi_timeliness[plans_issued_den]))")
    );
    assert!(
        dict.html
            .contains("<h2 id=\"kpi-measures\">KPI measures</h2>")
    );
    assert!(dict.html.contains("kpi_caseload_need[ehc_plans]"));

    // The committed documents are what the schema and the demo pipeline give now, so CI fails
    // on a schema change without them (`UPDATE_EXPECT=1` or `sendlake dictionary` rewrites).
    let docs = root.join("docs");
    sendlake_test::assert_golden(docs.join("data-dictionary.md"), &dict.markdown);
    sendlake_test::assert_golden(docs.join("data-dictionary.html"), &dict.html);
}
