//! The published contract: every column in `schemas/contract.txt` must still exist with the
//! same type. Removing, renaming or retyping one fails here with the columns named; adding
//! one fails the golden check until `schemas/contract.txt` lists it (`UPDATE_EXPECT=1`), so an
//! addition is a reviewed change of the file too.

#[test]
fn published_contract_is_kept() {
    let path = sendlake_test::workspace_root().join("schemas/contract.txt");
    let current = sendlake_schema::SchemaRegistry::embedded()
        .unwrap()
        .contract();
    let committed = std::fs::read_to_string(&path).unwrap();
    let missing: Vec<&str> = committed
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter(|l| !current.iter().any(|c| c == l))
        .collect();
    assert!(
        missing.is_empty(),
        "published columns removed, renamed or retyped (a breaking change for Power BI reports):\n{}",
        missing.join("\n")
    );
    sendlake_test::assert_golden(&path, &(current.join("\n") + "\n"));
}
