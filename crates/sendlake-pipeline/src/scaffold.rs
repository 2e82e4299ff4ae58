//! `sendlake new-source`: a starting point for a new partner, as data. It writes a source file
//! in `pipelines/sources/` that maps every column of the chosen table, a synthetic fixture in
//! `tests/fixtures/sources/<name>/` in the partner's shape, and the fixture's expected counts,
//! then proves the three agree by running the fixture through the mapping ([`crate::dry_run`]).
//! `tests/it/source_fixtures.rs` picks the new folder up, so the new source is tested from the
//! moment it exists. The data engineer then edits field paths, auth and paging to the real API.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sendlake_extract::records::json_records;
use sendlake_schema::{ColumnType, Derive, SchemaRegistry, TableDef};
use serde_json::{Map, Value as Json, json};

use crate::sources::SourceDef;

/// What kind of source to scaffold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaffoldKind {
    /// A partner REST API (JSON records).
    Rest,
    /// CSV files in a folder.
    File,
}

/// What [`new_source`] wrote.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// The source file.
    pub source_file: PathBuf,
    /// The fixture folder.
    pub fixture_dir: PathBuf,
    /// Records the fixture holds (all of which the mapping loads).
    pub records: usize,
}

/// Records in a scaffolded fixture.
const RECORDS: usize = 3;

/// Writes a new source `name` for `table` under `root` (the workspace: `pipelines/` and
/// `tests/` are below it) and checks it loads its own fixture.
///
/// # Errors
/// A bad name, an unknown or non-partner table, files that already exist, an I/O error, or
/// (a bug) a scaffold that does not load its own fixture.
pub async fn new_source(
    root: &Path,
    name: &str,
    kind: ScaffoldKind,
    table: &str,
    registry: Arc<SchemaRegistry>,
) -> Result<Scaffold, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!("`{name}` is not a snake_case name (a-z, 0-9, _)"));
    }
    let def = registry
        .table(table)
        .ok_or_else(|| format!("no table `{table}` in schemas/tables"))?;
    if !def.record_lineage {
        return Err(format!(
            "`{table}` is not a partner-record table (record_lineage = true); add one to schemas/tables first"
        ));
    }
    let source_file = root.join("pipelines/sources").join(format!("{name}.toml"));
    let fixture_dir = root.join("tests/fixtures/sources").join(name);
    for p in [&source_file, &fixture_dir] {
        if p.exists() {
            return Err(format!("{} already exists", p.display()));
        }
    }
    let records = synthetic_records(def, &registry);
    for dir in [source_file.parent().unwrap_or(root), fixture_dir.as_path()] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let write = |p: &Path, text: String| {
        std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let fixture_file = match kind {
        ScaffoldKind::Rest => {
            let p = fixture_dir.join("records.json");
            write(
                &p,
                serde_json::to_string_pretty(&records).map_err(|e| e.to_string())? + "\n",
            )?;
            p
        }
        ScaffoldKind::File => {
            let p = fixture_dir.join("records.csv");
            write(&p, to_csv(def, &records))?;
            p
        }
    };
    write(&source_file, source_text(name, kind, def))?;
    let expected = json!({
        "note": format!("Scaffolded by `sendlake new-source {name}`: {RECORDS} synthetic records that all load. Add the partner's awkward cases (a bad code, a missing id, a tombstone) and their expected counts."),
        "streams": { "records": {
            "read": RECORDS, "loaded": RECORDS, "deleted": 0, "quarantined": {}, "field_rejects": {}
        }}
    });
    write(
        &fixture_dir.join("expected.json"),
        serde_json::to_string_pretty(&expected).map_err(|e| e.to_string())? + "\n",
    )?;

    // Prove it: parse, check, and load the fixture through the run's own code path.
    let parsed = SourceDef::load(&source_file)
        .map_err(|p| p.to_string())?
        .check(&source_file, &registry)
        .map_err(|ps| {
            ps.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
    let items: Vec<_> = match kind {
        ScaffoldKind::Rest => json_records("records.json", "", records).map(Ok).collect(),
        ScaffoldKind::File => {
            let SourceDef::File(f) = &parsed else {
                return Err("scaffolded a file source that is not one".into());
            };
            f.streams[0].format.format().open(&fixture_file).collect()
        }
    };
    let stats = crate::dry_run(registry, &parsed, "records", items).await?;
    if stats.loaded != RECORDS as u64 || !stats.drift.is_empty() {
        return Err(format!(
            "the scaffold does not load its own fixture (a bug): {stats:?}"
        ));
    }
    Ok(Scaffold {
        source_file,
        fixture_dir,
        records: RECORDS,
    })
}

/// Whether sendlake fills the column (lineage) rather than the mapping.
fn is_lineage(d: Option<Derive>) -> bool {
    d.is_some_and(Derive::is_record_lineage)
}

/// How the scaffold maps a column: a person derivation or a field of the same name.
fn person_derive(name: &str) -> Option<&'static str> {
    match name {
        "person_key" => Some("person_key"),
        "person_key_basis" => Some("person_key_basis"),
        "nhs_number_key" => Some("nhs_number_key"),
        _ => None,
    }
}

fn source_text(name: &str, kind: ScaffoldKind, def: &TableDef) -> String {
    let person = def.columns.iter().any(|c| c.name == "person_key");
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# {name}: scaffolded by `sendlake new-source`. Describe the partner here (who owns it,\n\
         # what it holds), then point the field paths below at its real records. See\n\
         # docs/adding-a-source.md; the fixture is tests/fixtures/sources/{name}/.\n"
    );
    match kind {
        ScaffoldKind::Rest => {
            let upper = name.to_ascii_uppercase();
            let _ = writeln!(
                t,
                "kind = \"rest\"\nname = \"{name}\"\ndescription = \"\"\n\n\
                 [http]\nbase_url = \"https://{}.example.invalid\"\nrecords = \"/data\"\n\n\
                 # none | api_key | bearer | oauth2_client_credentials; secrets by env var name only.\n\
                 [http.auth]\ntype = \"bearer\"\ntoken_env = \"SENDLAKE_{upper}_TOKEN\"\n\n\
                 # none | page_number | offset_limit | cursor_body | next_url_body | link_header\n\
                 [http.pagination]\ntype = \"next_url_body\"\nnext_pointer = \"/next\"\n\n\
                 [[streams]]\nname = \"records\"\npath = \"/api/v1/records\"\n",
                name.replace('_', "-")
            );
        }
        ScaffoldKind::File => {
            let _ = writeln!(
                t,
                "kind = \"file\"\nname = \"{name}\"\ndescription = \"\"\n\
                 # The folder the partner's files arrive in (relative to this file). It starts as the\n\
                 # fixture folder so the scaffold runs as it is.\n\
                 path = \"../../tests/fixtures/sources/{name}\"\n\n\
                 [[streams]]\nname = \"records\"\npattern = \"*.csv\"\nformat = {{ type = \"csv\" }}\n\
                 replace = \"file\"\n"
            );
        }
    }
    let _ = writeln!(
        t,
        "[streams.mapping]\ntable = \"{}\"\nid = \"/id\"\ndrift = \"quarantine\"\n",
        def.name
    );
    if person {
        let _ = writeln!(
            t,
            "# Identifiers for the person key (UPN, then ULN, then NHS number), never loaded as they are.\n\
             [streams.mapping.person]\nupn = \"/upn\"\nnhs_number = \"/nhs_number\"\n"
        );
    }
    for col in def.columns.iter().filter(|c| !is_lineage(c.derive)) {
        let _ = writeln!(t, "[[streams.mapping.columns]]\nname = \"{}\"", col.name);
        match person_derive(&col.name) {
            Some(d) if person => {
                let _ = writeln!(t, "derive = \"{d}\"");
            }
            _ => {
                let _ = writeln!(t, "from = \"/{}\"", col.name);
            }
        }
        t.push('\n');
    }
    t
}

/// A valid synthetic NHS number (999 test range, never a real person's) for record `i`.
fn nhs_number(i: usize) -> String {
    let check = sendlake_transform::identifiers::check_nhs_number;
    (0u64..1000)
        .map(|k| 999_100_000 + 1000 * i as u64 + k)
        .flat_map(|body| (0..10).map(move |d| format!("{body}{d}")))
        .find_map(|n| check(&n))
        .unwrap_or_default()
}

fn synthetic_records(def: &TableDef, registry: &SchemaRegistry) -> Vec<Json> {
    let person = def.columns.iter().any(|c| c.name == "person_key");
    (0..RECORDS)
        .map(|i| {
            let mut m = Map::new();
            m.insert("id".into(), json!(format!("EX-{:04}", i + 1)));
            if person {
                m.insert("upn".into(), Json::Null);
                m.insert("nhs_number".into(), json!(nhs_number(i)));
            }
            for col in def.columns.iter().filter(|c| !is_lineage(c.derive)) {
                if person && person_derive(&col.name).is_some() {
                    continue;
                }
                let code = col
                    .code_list
                    .as_deref()
                    .and_then(|l| registry.code_list(l))
                    .and_then(|l| l.codes.get(i % l.codes.len().max(1)))
                    .map(|c| c.code.clone());
                let v = match (code, col.data_type) {
                    (Some(c), _) => json!(c),
                    (None, ColumnType::Utf8) => json!(format!("example {} {}", col.name, i + 1)),
                    (None, ColumnType::Int32 | ColumnType::Int64) => json!(i + 1),
                    (None, ColumnType::Float64) => json!(1.5 * (i + 1) as f64),
                    (None, ColumnType::Bool) => json!(i % 2 == 0),
                    (None, ColumnType::Date32) => json!(format!("2026-01-{:02}", i + 10)),
                    (None, ColumnType::TimestampUsUtc) => {
                        json!(format!("2026-01-{:02}T09:30:00Z", i + 10))
                    }
                };
                m.insert(col.name.clone(), v);
            }
            Json::Object(m)
        })
        .collect()
}

/// The records as a CSV with one column per field (every value quoted).
fn to_csv(def: &TableDef, records: &[Json]) -> String {
    let mut headers: Vec<String> = vec!["id".into()];
    if def.columns.iter().any(|c| c.name == "person_key") {
        headers.push("upn".into());
        headers.push("nhs_number".into());
    }
    for col in def.columns.iter().filter(|c| !is_lineage(c.derive)) {
        if person_derive(&col.name).is_none() || !headers.contains(&"upn".to_owned()) {
            headers.push(col.name.clone());
        }
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = headers
        .iter()
        .map(|h| quote(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in records {
        let row: Vec<String> = headers
            .iter()
            .map(|h| match r.get(h) {
                None | Some(Json::Null) => String::new(),
                Some(Json::String(s)) => quote(s),
                Some(v) => v.to_string(),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
