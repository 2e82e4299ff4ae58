//! `sendlake powerbi` on the demo pipeline: the model holds every table the demo's models
//! build, a role per SEND locality, and opens on the lake's absolute folder.

use std::path::Path;

use sendlake_pipeline::powerbi::{semantic_model, write};

#[test]
fn the_demo_pipeline_gives_a_model_of_every_model_table_with_locality_roles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plan = sendlake_pipeline::load_plan(&root.join("pipelines/demo.toml")).unwrap();
    let registry = sendlake_pipeline::registry().unwrap();
    let model = semantic_model(&plan, &registry, "SEND", None).unwrap();

    let names: Vec<&str> = model.tables.iter().map(|t| t.name.as_str()).collect();
    let project = &plan.models.as_ref().unwrap().project;
    for table in project.models.keys() {
        assert!(names.contains(&table.as_str()), "{table} missing");
    }
    assert!(names.contains(&"dim_date") && names.contains(&"data_quality"));
    // The demo loads ONS population estimates: the denominator of rates per 1,000.
    assert!(names.contains(&"population_estimate"));
    // No raw source table: the author works on the model tables.
    assert!(!names.contains(&"request") && !names.contains(&"cms_request"));
    // Dimensions come first.
    assert!(names[0].starts_with("dim_"));
    assert_eq!(model.localities.len(), project.geography.localities.len());
    assert!(model.localities.len() >= 9);
    assert!(
        Path::new(&model.lake_location).is_absolute(),
        "{}",
        model.lake_location
    );
    assert!(
        model.lake_location.ends_with("demo-lake"),
        "{}",
        model.lake_location
    );

    let dir = tempfile::tempdir().unwrap();
    let done = write(&model, dir.path()).unwrap();
    assert!(done.written.len() > 40);
    let roles = dir.path().join("SEND.SemanticModel/definition/roles");
    for l in &model.localities {
        let role =
            std::fs::read_to_string(roles.join(format!("Locality {}.tmdl", l.code))).unwrap();
        assert!(role.contains(&format!("dim_child[locality_code] = \"{}\"", l.code)));
    }
    let expressions = std::fs::read_to_string(
        dir.path()
            .join("SEND.SemanticModel/definition/expressions.tmdl"),
    )
    .unwrap();
    assert!(expressions.contains(&format!(
        "expression LakeLocation = \"{}\"",
        model.lake_location
    )));
}

#[test]
fn a_pipeline_without_models_is_refused_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::write(
        &file,
        "[pipeline]\nname = \"p\"\n[store]\nurl = \"lake\"\n[[sources]]\ntype = \"sen2_xml\"\nname = \"s\"\npath = \"in\"\n",
    )
    .unwrap();
    let plan = sendlake_pipeline::load_plan(&file).unwrap();
    let registry = sendlake_pipeline::registry().unwrap();
    let e = semantic_model(&plan, &registry, "SEND", None)
        .err()
        .unwrap();
    assert!(e.contains("p.toml") && e.contains("[models]"), "{e}");
}
