//! Generated returns round-trip: counts per table equal what the generator wrote.

use crate::support::*;

#[test]
fn generated_returns_load_completely() {
    let ws = Workspace::new();
    let cfg = sendlake_test::sim::sen2(3, 300, 5);
    let summary = sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let report = ws.run(&ws.pipeline(&["sen2"]));
    let m = &report.manifest;
    assert_eq!(report.exit_code(), 0);
    assert!(m.reconciled);
    for (table, n) in sen2_written(&summary.totals()) {
        let c = &m.tables[table].counts;
        assert_eq!(
            (c.read, c.loaded, c.quarantined_total()),
            (n, n, 0),
            "{table}"
        );
        assert_eq!(
            rows(&ws.read("restricted", table)) as u64,
            n,
            "{table} rows in Delta"
        );
    }
    assert!(m.field_rejects.is_empty(), "{:?}", m.field_rejects);
    assert!(m.files_quarantined.is_empty());

    // The 2024 layout loads too.
    let ws = Workspace::new();
    let cfg = sendlake_sim::Sen2SimConfig {
        format: sendlake_sim::Sen2Format::V2024,
        las: 1,
        persons_per_la: 200,
        ..cfg
    };
    let summary = sendlake_sim::write_sen2_returns(&cfg, &ws.inputs("sen2")).unwrap();
    let report = ws.run(&ws.pipeline(&["sen2"]));
    assert_eq!(
        report.manifest.tables["person"].counts.loaded,
        summary.totals().persons
    );
    assert_eq!(
        report.manifest.tables["request"].counts.loaded,
        summary.totals().requests
    );
    assert!(
        report.manifest.field_rejects.is_empty(),
        "{:?}",
        report.manifest.field_rejects
    );
}

#[test]
fn a_person_repeated_in_a_second_file_of_the_same_submission_is_a_duplicate() {
    // Files of one submission are loaded in order on one worker, even when files of other
    // submissions load in parallel.
    let ws = Workspace::new();
    let valid = std::fs::read_to_string(fixture("sen2/valid_person.xml")).unwrap();
    ws.write_input("sen2", "a.xml", &valid);
    ws.write_input(
        "sen2",
        "b_other_la.xml",
        valid.replacen("<LEA>919</LEA>", "<LEA>201</LEA>", 1),
    );
    ws.write_input("sen2", "c_resent.xml", &valid);
    let report = ws.run(&ws.pipeline(&["sen2"]));
    let person = &report.manifest.tables["person"].counts;
    assert_eq!(person.loaded, 2, "{person:?}");
    assert_eq!(
        person.quarantined.get("DUPLICATE_PERSON"),
        Some(&1),
        "{person:?}"
    );
    let files: Vec<&str> = report.manifest.sources[0]
        .files
        .iter()
        .map(|f| f.file.as_str())
        .collect();
    assert_eq!(
        files,
        ["a.xml", "b_other_la.xml", "c_resent.xml"],
        "manifest keeps file order"
    );
    let c = &report.manifest.sources[0].files[2].stats.tables["person"];
    assert_eq!(
        c.quarantined.get("DUPLICATE_PERSON"),
        Some(&1),
        "the later file holds the duplicate"
    );
}
