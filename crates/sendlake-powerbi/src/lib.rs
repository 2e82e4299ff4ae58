//! The Power BI project for report authors, generated from the same schema registry the
//! loader uses, so the model always matches the lake.
//!
//! The main types and how they connect:
//!
//! * [`SemanticModel`] says what goes in: the tables report authors may use (each a
//!   [`TableDef`]: columns, descriptions, primary key, `references`), the SEND localities that
//!   get a row-level-security role each, the default lake location, and the source each
//!   starter-report page shows.
//! * [`render`] turns it into the files of a Power BI Project (PBIP): `<name>.pbip`, the
//!   `<name>.SemanticModel` folder in TMDL (tables, star relationships from the schema's
//!   `references`, `dim_date` marked as the date table, a storage parameter in
//!   `expressions.tmdl`, the KPI measures in `_KPIs`, roles) and a `<name>.Report` folder with
//!   a starter report bound to the model. Pure: the same input gives byte-identical files,
//!   since every lineage tag is derived from the object's path ([`lineage_tag`]).
//! * [`write`] puts them in a folder without losing an author's work: files it did not
//!   generate are left alone (and author tables stay referenced from `model.tmdl`), and
//!   measures an author added to a generated table are carried into the regenerated file.
//!   It returns a [`Written`] summary.

mod measures;
mod report;
mod tmdl;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sendlake_schema::TableDef;
use sha2::{Digest, Sha256};

pub use measures::{Measure, measures as kpi_measures};
pub use report::{fields as report_fields, page_tables as report_page_tables};
pub use tmdl::{Tmdl, dax_references, parse_tmdl};

/// What the semantic model holds.
pub struct SemanticModel<'a> {
    /// Project name: `<name>.pbip`, `<name>.SemanticModel`, `<name>.Report`.
    pub name: String,
    /// Tables report authors may use, in the order they are listed in the model.
    pub tables: Vec<&'a TableDef>,
    /// One row-level-security role per locality, seeing the person-level tables of the
    /// children who live there.
    pub localities: Vec<RoleLocality>,
    /// The lake's default location: a local folder, or an ADLS Gen2 / OneLake URL.
    pub lake_location: String,
    /// The `source` each starter-report page is filtered to, by the page's KPI table (the
    /// model project's `report.toml`, `[powerbi.page_sources]`): a partnership's sources are
    /// configuration. A page whose table has none is left out, since its measures need
    /// exactly one source.
    pub page_sources: BTreeMap<String, String>,
}

/// A locality that gets its own role.
#[derive(Debug, Clone)]
pub struct RoleLocality {
    /// Code, as in `dim_child.locality_code` (e.g. `DSPL1`).
    pub code: String,
    /// Name.
    pub name: String,
}

/// Why the project could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum PowerBiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The model is not one Power BI accepts.
    #[error("semantic model: {0}")]
    Model(String),
}

/// The project's files, by path relative to the output folder.
pub type Files = BTreeMap<PathBuf, String>;

/// A deterministic lineage tag: a UUID-shaped digest of the object's path in the model
/// (RFC 9562 version 8, "custom"), so regenerating gives the same tags and Power BI keeps
/// matching an author's customisations to the objects they were made on.
pub fn lineage_tag(path: &str) -> String {
    let d = Sha256::digest(format!("sendlake/{path}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Renders every file of the project.
pub fn render(model: &SemanticModel<'_>) -> Result<Files, PowerBiError> {
    let names: BTreeSet<&str> = model.tables.iter().map(|t| t.name.as_str()).collect();
    if names.len() != model.tables.len() {
        return Err(PowerBiError::Model("a table is listed twice".into()));
    }
    if names.contains(measures::MEASURES_TABLE) || names.contains("Measures") {
        return Err(PowerBiError::Model(format!(
            "`{}` and `Measures` are reserved table names",
            measures::MEASURES_TABLE
        )));
    }
    let sm = PathBuf::from(format!("{}.SemanticModel", model.name));
    let def = sm.join("definition");
    let report = PathBuf::from(format!("{}.Report", model.name));
    let mut files = Files::new();
    let json = |v: serde_json::Value| {
        serde_json::to_string_pretty(&v)
            .map(|s| s + "\n")
            .map_err(|e| PowerBiError::Model(e.to_string()))
    };
    files.insert(
        PathBuf::from(format!("{}.pbip", model.name)),
        json(serde_json::json!({
            "version": "1.0",
            "artifacts": [{ "report": { "path": format!("{}.Report", model.name) } }],
            "settings": { "enableAutoRecovery": true }
        }))?,
    );
    files.insert(
        sm.join("definition.pbism"),
        json(serde_json::json!({ "version": "4.0", "settings": {} }))?,
    );
    files.insert(
        sm.join(".platform"),
        json(platform("SemanticModel", &model.name))?,
    );
    files.insert(
        report.join("definition.pbir"),
        json(serde_json::json!({
            "version": "4.0",
            "datasetReference": { "byPath": { "path": format!("../{}.SemanticModel", model.name) } }
        }))?,
    );
    files.insert(
        report.join(".platform"),
        json(platform("Report", &model.name))?,
    );
    let kpis = measures::measures(&names);
    let measure_names: BTreeSet<&str> = kpis.iter().map(|m| m.name.as_str()).collect();
    files.insert(
        report.join("report.json"),
        json(report::starter_report(
            &names,
            &measure_names,
            &model.page_sources,
        ))?,
    );
    files.insert(
        PathBuf::from(".gitignore"),
        "# Power BI Desktop's local state (the data cache holds rows from the lake).\n**/.pbi/localSettings.json\n**/.pbi/cache.abf\n".into(),
    );

    files.insert(def.join("database.tmdl"), tmdl::database(&model.name));
    files.insert(
        def.join("expressions.tmdl"),
        tmdl::expressions(&model.lake_location),
    );
    for table in &model.tables {
        files.insert(
            def.join("tables").join(format!("{}.tmdl", table.name)),
            tmdl::table(table),
        );
    }
    files.insert(
        def.join("tables")
            .join(format!("{}.tmdl", measures::MEASURES_TABLE)),
        tmdl::measures_table(&kpis),
    );
    files.insert(
        def.join("relationships.tmdl"),
        tmdl::relationships(&model.tables)?,
    );
    for (file, text) in tmdl::roles(&model.tables, &model.localities) {
        files.insert(def.join("roles").join(file), text);
    }
    files.insert(
        def.join("model.tmdl"),
        tmdl::model(&table_order(model), &[]),
    );
    Ok(files)
}

/// The generated tables in the order `model.tmdl` lists them: the model's, then `_KPIs`.
fn table_order<'m>(model: &'m SemanticModel<'_>) -> Vec<&'m str> {
    let mut order: Vec<&str> = model.tables.iter().map(|t| t.name.as_str()).collect();
    order.push(measures::MEASURES_TABLE);
    order
}

fn platform(kind: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://developer.microsoft.com/json-schemas/fabric/gitIntegration/platformProperties/2.0.0/schema.json",
        "metadata": { "type": kind, "displayName": name },
        "config": { "version": "2.0", "logicalId": lineage_tag(&format!("{kind}/{name}")) }
    })
}

/// What [`write`] did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files written (new or changed).
    pub written: Vec<PathBuf>,
    /// Files already as generated.
    pub unchanged: Vec<PathBuf>,
    /// Author tables found beside the generated ones and kept in `model.tmdl`.
    pub author_tables: Vec<String>,
    /// Measures an author added to generated tables, carried over.
    pub author_measures: Vec<String>,
}

/// Writes the project into `out`, keeping an author's own tables, files and measures.
pub fn write(model: &SemanticModel<'_>, out: &Path) -> Result<Written, PowerBiError> {
    let mut files = render(model)?;
    let mut done = Written::default();
    let tables_dir = out
        .join(format!("{}.SemanticModel", model.name))
        .join("definition")
        .join("tables");
    // Tables the author added (files we do not generate) stay in the model.
    let mut author_tables = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&tables_dir) {
        for entry in entries.flatten() {
            let rel = entry
                .path()
                .strip_prefix(out)
                .map(Path::to_path_buf)
                .unwrap_or_default();
            if rel.extension().is_some_and(|e| e == "tmdl") && !files.contains_key(&rel) {
                let text = read(&entry.path())?;
                if let Some(name) = parse_tmdl(&text).table_name() {
                    author_tables.push(name);
                }
            }
        }
    }
    author_tables.sort();
    if !author_tables.is_empty() {
        let extra: Vec<&str> = author_tables.iter().map(String::as_str).collect();
        let model_file = out
            .join(format!("{}.SemanticModel", model.name))
            .join("definition")
            .join("model.tmdl");
        let rel = model_file
            .strip_prefix(out)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        files.insert(rel, tmdl::model(&table_order(model), &extra));
    }
    done.author_tables = author_tables;
    for (rel, mut text) in files {
        let path = out.join(&rel);
        let existing = std::fs::read_to_string(&path).ok();
        if let Some(old) = &existing
            && rel.starts_with(tables_dir.strip_prefix(out).unwrap_or(&tables_dir))
        {
            // Measures the author added to a generated table are kept.
            let ours: BTreeSet<String> = parse_tmdl(&text).measure_names().into_iter().collect();
            for (name, block) in parse_tmdl(old).measure_blocks() {
                if !ours.contains(&name) {
                    text = tmdl::append_measure(&text, &block);
                    done.author_measures.push(name);
                }
            }
        }
        if existing.as_deref() == Some(text.as_str()) {
            done.unchanged.push(rel);
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| PowerBiError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| PowerBiError::Io {
            path: path.clone(),
            source,
        })?;
        done.written.push(rel);
    }
    Ok(done)
}

fn read(path: &Path) -> Result<String, PowerBiError> {
    std::fs::read_to_string(path).map_err(|source| PowerBiError::Io {
        path: path.to_owned(),
        source,
    })
}
