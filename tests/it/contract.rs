//! The published contract: every column in `schemas/contract.txt` must still exist with the
//! same type. Adding columns is fine; removing or renaming one fails here.

#[test]
fn published_contract_is_kept() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/contract.txt");
    let current = sendlake_schema::SchemaRegistry::embedded()
        .unwrap()
        .contract();
    if std::env::var_os("SENDLAKE_UPDATE_CONTRACT").is_some() {
        std::fs::write(&path, current.join("\n") + "\n").unwrap();
    }
    let snapshot = std::fs::read_to_string(&path).unwrap();
    let missing: Vec<&str> = snapshot
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter(|l| !current.iter().any(|c| c == l))
        .collect();
    assert!(
        missing.is_empty(),
        "published columns removed, renamed or retyped (a breaking change for Power BI reports):\n{}",
        missing.join("\n")
    );
    let added: Vec<&String> = current
        .iter()
        .filter(|c| !snapshot.lines().any(|l| l == c.as_str()))
        .collect();
    if !added.is_empty() {
        println!(
            "new columns not yet in schemas/contract.txt (run with SENDLAKE_UPDATE_CONTRACT=1):"
        );
        for a in added {
            println!("  {a}");
        }
    }
}
