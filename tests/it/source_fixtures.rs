//! Every source file in `pipelines/sources/` has a fixture folder
//! `tests/fixtures/sources/<source name>/`: per stream, records as the partner sends them
//! (`<stream>.json`, the array the `records` pointer selects) or a file in the stream's format
//! (`<stream>.csv`, `.xlsx`), and `expected.json` with the counts the mapping must produce.
//! A file stream with no fixture file reads the source's own folder (the bundled demo files).
//!
//! The records go through `sendlake_pipeline::dry_run`, the run's own code path minus the
//! commit, so a new source is tested by adding its fixture folder: `sendlake new-source`
//! writes one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sendlake_extract::discover_files;
use sendlake_extract::records::{RecordError, SourceRecord, json_records};
use sendlake_pipeline::sources::SourceDef;
use sendlake_schema::SchemaRegistry;
use serde_json::Value;

fn sources_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/sources")
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sources")
}

/// The records of one stream's fixture.
fn fixture_records(
    def: &SourceDef,
    stream: &str,
    dir: &Path,
) -> Vec<Result<SourceRecord, RecordError>> {
    let json = dir.join(format!("{stream}.json"));
    if json.is_file() {
        let items: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        return json_records(&format!("{stream}.json"), "", items)
            .map(Ok)
            .collect();
    }
    let SourceDef::File(file) = def else {
        panic!(
            "{}: no fixture {} for a non-file stream",
            def.name(),
            json.display()
        );
    };
    let st = file.streams.iter().find(|s| s.name == stream).unwrap();
    let format = st.format.format();
    let own: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_stem().is_some_and(|s| s == stream) && p.extension().is_some_and(|e| e != "json")
        })
        .collect();
    let files = if own.is_empty() {
        discover_files(&file.path, &st.pattern).unwrap()
    } else {
        own
    };
    assert!(
        !files.is_empty(),
        "{}: no fixture file for stream {stream}",
        def.name()
    );
    files.iter().flat_map(|f| format.open(f)).collect()
}

#[tokio::test]
async fn every_source_file_maps_its_fixtures_as_expected() {
    let registry = Arc::new(SchemaRegistry::embedded().unwrap());
    let mut seen = 0;
    for path in discover_files(&sources_dir(), "*.toml").unwrap() {
        let def = SourceDef::load(&path)
            .unwrap()
            .check(&path, &registry)
            .unwrap_or_else(|p| panic!("{}: {p:?}", path.display()));
        let dir = fixtures_dir().join(def.name());
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected.json")).unwrap_or_else(|e| {
                panic!(
                    "source {} has no tests/fixtures/sources/{}/expected.json: {e}",
                    def.name(),
                    def.name()
                )
            }),
        )
        .unwrap();
        for (stream, _) in def.streams() {
            let want = &expected["streams"][stream];
            assert!(
                want.is_object(),
                "{}: expected.json has no stream {stream}",
                def.name()
            );
            let records = fixture_records(&def, stream, &dir);
            let got = sendlake_pipeline::dry_run(registry.clone(), &def, stream, records)
                .await
                .unwrap_or_else(|e| panic!("{}/{stream}: {e}", def.name()));
            let label = format!("{}/{stream}", def.name());
            assert!(got.reconciles(), "{label}: {got:?}");
            for (key, value) in [
                ("read", got.read),
                ("loaded", got.loaded),
                ("deleted", got.deleted),
            ] {
                assert_eq!(want[key].as_u64(), Some(value), "{label}: {key} ({got:?})");
            }
            let map = |v: &Value| -> BTreeMap<String, u64> {
                serde_json::from_value(v.clone()).unwrap_or_default()
            };
            assert_eq!(
                map(&want["quarantined"]),
                got.quarantined,
                "{label}: quarantined"
            );
            assert_eq!(
                map(&want["field_rejects"]),
                got.field_rejects,
                "{label}: field rejects"
            );
            assert!(
                got.drift.is_empty(),
                "{label}: unexpected schema drift {:?}",
                got.drift
            );
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} streams checked");
}

#[tokio::test]
async fn new_source_scaffolds_a_source_that_loads_its_own_fixture() {
    let registry = Arc::new(SchemaRegistry::embedded().unwrap());
    for (kind, table) in [
        (
            sendlake_pipeline::scaffold::ScaffoldKind::Rest,
            "health_referral",
        ),
        (
            sendlake_pipeline::scaffold::ScaffoldKind::File,
            "family_feedback",
        ),
        (sendlake_pipeline::scaffold::ScaffoldKind::Rest, "cms_plan"),
    ] {
        let root = tempfile::tempdir().unwrap();
        let s = sendlake_pipeline::scaffold::new_source(
            root.path(),
            "partner_x",
            kind,
            table,
            registry.clone(),
        )
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert!(s.source_file.ends_with("pipelines/sources/partner_x.toml"));
        let text = std::fs::read_to_string(&s.source_file).unwrap();
        assert!(text.contains(&format!("table = \"{table}\"")));
        let def = SourceDef::load(&s.source_file)
            .unwrap()
            .check(&s.source_file, &registry)
            .unwrap();
        // The fixture test's own reading of the folder agrees with the expected counts.
        let records = fixture_records(&def, "records", &s.fixture_dir);
        let got = sendlake_pipeline::dry_run(registry.clone(), &def, "records", records)
            .await
            .unwrap();
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(s.fixture_dir.join("expected.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            expected["streams"]["records"]["loaded"].as_u64(),
            Some(got.loaded)
        );
        assert_eq!(got.loaded, s.records as u64);
        // A second scaffold with the same name is refused rather than overwriting.
        let again = sendlake_pipeline::scaffold::new_source(
            root.path(),
            "partner_x",
            kind,
            table,
            registry.clone(),
        )
        .await;
        assert!(again.unwrap_err().contains("already exists"));
    }
    let root = tempfile::tempdir().unwrap();
    let err = sendlake_pipeline::scaffold::new_source(
        root.path(),
        "x",
        sendlake_pipeline::scaffold::ScaffoldKind::Rest,
        "person",
        registry,
    )
    .await
    .unwrap_err();
    assert!(err.contains("not a partner-record table"), "{err}");
}
