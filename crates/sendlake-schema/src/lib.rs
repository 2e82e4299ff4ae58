//! The shared SEND schema, loaded from data.
//!
//! Brief overview: everything sendlake knows about tables lives in the workspace's `schemas/`
//! folder as TOML, not in Rust. This crate reads those files into a [`SchemaRegistry`], checks
//! that they are consistent, and turns each table into an Arrow schema.
//!
//! - [`SchemaRegistry`] holds every [`TableDef`], [`CodeList`] and [`RuleDef`]. Build it with
//!   [`SchemaRegistry::embedded`] (the files compiled into the binary) or
//!   [`SchemaRegistry::load_dir`] (a folder, for trying out a schema change without a rebuild).
//! - A [`TableDef`] has a [`Zone`] (where in the lake it lives), a grain, a primary key and
//!   [`ColumnDef`]s. Each column says where its value comes from: a source `field` (a SEN2
//!   element name), a [`Derive`] rule (a pseudonymised key, a degraded birth date, lineage…), or
//!   both (a derivation applied to a field). The conforming code in `sendlake-transform` is
//!   generic over these definitions, so adding a column is a schema change, not a code change.
//! - [`CodeList`]s validate codes and map extended codes to their main group (ethnicity).
//! - [`RuleDef`]s give each validation rule its id (the quarantine reason code), severity and
//!   basis; the rules themselves are implemented in `sendlake-transform`.
//! - [`SchemaRegistry::contract`] renders the published contract (table, column, type) that the
//!   contract test compares with `schemas/contract.txt`.
//!
//! Privacy is enforced here, at load time: a table in the restricted or published zone may not
//! have a `direct_identifier` column, so no code path can write one there.
//!
//! ```
//! let registry = sendlake_schema::SchemaRegistry::embedded().unwrap();
//! let person = registry.table("person").unwrap();
//! assert_eq!(person.arrow_schema().field(0).name(), "person_key");
//! ```

mod code_list;
mod suppression;
mod table;

use std::collections::BTreeMap;
use std::path::Path;

pub use code_list::{Code, CodeList};
pub use suppression::{
    AdditiveDef, DerivedDef, ExemptDef, PartitionDef, PolicyRule, RateDef, RepeatedDef, RollupDef,
    RowPolicy, RowSelector, SharedDef, SuppressionDef, SuppressionPolicy, Thresholds,
};
pub use table::{ColumnDef, ColumnType, Derive, Privacy, Sen2Mapping, TableDef, Zone};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// A problem in the schema files, naming the file and, where known, the key.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", key.as_ref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
pub struct SchemaError {
    /// File, relative to the schema folder.
    pub file: String,
    /// Key within the file, e.g. `columns[3].code_list`.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl SchemaError {
    fn new(file: &str, key: Option<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            key,
            message: message.into(),
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = SchemaError> = std::result::Result<T, E>;

/// How severe a validation rule is (see `schemas/rules.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The whole file is quarantined.
    File,
    /// The record and its descendants are quarantined.
    Record,
    /// The value is nulled and quarantined; escalates to `Record` where a column carrying the
    /// value may not be null.
    Field,
    /// Recorded in the run manifest only.
    Warn,
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// SEN2 XSD or DfE guidance.
    Confirmed,
    /// Inferred (reference §1.6): the DfE validation workbook was not available.
    Inferred,
    /// sendlake's own operational rule.
    Sendlake,
}

/// One validation rule as declared in `schemas/rules.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Rule id, used as the quarantine reason code.
    pub id: String,
    /// What happens when the rule fails.
    pub severity: Severity,
    /// Where the rule comes from.
    pub basis: Basis,
    /// What the rule checks.
    pub description: String,
    /// Which input the rule checks: SEN2 returns (the default) or partner records (APIs and
    /// files conformed through a declarative mapping).
    #[serde(default)]
    pub applies_to: RuleScope,
}

/// What kind of input a rule checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// SEN2 XML returns (`sendlake-transform`'s conformer).
    #[default]
    Sen2,
    /// Partner records: REST APIs, CSV and Excel files (`sendlake-transform`'s mapper).
    Records,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RuleDef>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LineageFile {
    columns: Vec<ColumnDef>,
}

/// Every table, code list and rule of the shared SEND schema.
#[derive(Debug, Clone)]
pub struct SchemaRegistry {
    tables: Vec<TableDef>,
    code_lists: BTreeMap<String, CodeList>,
    rules: Vec<RuleDef>,
}

impl SchemaRegistry {
    /// The schema compiled into this binary (the workspace's `schemas/` folder at build time).
    ///
    /// # Errors
    /// If the embedded files are inconsistent (a build from a broken checkout).
    pub fn embedded() -> Result<Self> {
        Self::from_files(
            embedded::FILES
                .iter()
                .map(|(p, c)| ((*p).to_owned(), (*c).to_owned())),
        )
    }

    /// Loads a schema folder laid out like the workspace's `schemas/`.
    ///
    /// # Errors
    /// If a file cannot be read, does not parse, or the files are inconsistent.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let mut files = Vec::new();
        read_dir_recursive(dir, dir, &mut files)?;
        Self::from_files(files)
    }

    /// Builds a registry from `(relative path, contents)` pairs.
    ///
    /// # Errors
    /// If a file does not parse, or the files are inconsistent.
    pub fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let mut tables = Vec::new();
        let mut code_lists = BTreeMap::new();
        let mut rules = None;
        let mut lineage = None;
        let mut record_lineage = None;
        for (path, text) in files {
            if path.starts_with("tables/") && path.ends_with(".toml") {
                tables.push((path.clone(), parse::<TableDef>(&path, &text)?));
            } else if path.starts_with("code_lists/") && path.ends_with(".toml") {
                let list = parse::<CodeList>(&path, &text)?.indexed(&path)?;
                if code_lists.insert(list.name.clone(), list).is_some() {
                    return Err(SchemaError::new(
                        &path,
                        Some("name".into()),
                        "duplicate code list name",
                    ));
                }
            } else if path == "rules.toml" {
                rules = Some(parse::<RulesFile>(&path, &text)?.rules);
            } else if path == "lineage.toml" {
                lineage = Some(parse::<LineageFile>(&path, &text)?.columns);
            } else if path == "lineage_records.toml" {
                record_lineage = Some(parse::<LineageFile>(&path, &text)?.columns);
            }
        }
        let rules = rules.ok_or_else(|| SchemaError::new("rules.toml", None, "missing"))?;
        let lineage = lineage.ok_or_else(|| SchemaError::new("lineage.toml", None, "missing"))?;
        // Only tables with `record_lineage = true` need it (checked in `TableDef::finish`).
        let record_lineage = record_lineage.unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        for rule in &rules {
            if !seen.insert(rule.id.clone()) {
                return Err(SchemaError::new(
                    "rules.toml",
                    Some(rule.id.clone()),
                    "duplicate rule id",
                ));
            }
        }
        tables.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        let mut checked = Vec::with_capacity(tables.len());
        let mut paths = Vec::with_capacity(tables.len());
        for (path, table) in tables {
            if checked.iter().any(|t: &TableDef| t.name == table.name) {
                return Err(SchemaError::new(
                    &path,
                    Some("name".into()),
                    "duplicate table name",
                ));
            }
            checked.push(table.finish(&path, &lineage, &record_lineage, &code_lists)?);
            paths.push(path);
        }
        check_references(&checked, &paths)?;
        check_shared(&checked, &paths)?;
        Ok(Self {
            tables: checked,
            code_lists,
            rules,
        })
    }

    /// All tables, sorted by name.
    pub fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    /// A table by name (e.g. `person`, `quarantine/sen2_rejects`).
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// A code list by name.
    pub fn code_list(&self, name: &str) -> Option<&CodeList> {
        self.code_lists.get(name)
    }

    /// All code lists, by name.
    pub fn code_lists(&self) -> impl Iterator<Item = &CodeList> {
        self.code_lists.values()
    }

    /// All validation rules, in file order.
    pub fn rules(&self) -> &[RuleDef] {
        &self.rules
    }

    /// A rule by id.
    pub fn rule(&self, id: &str) -> Option<&RuleDef> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The published contract: one line per column of every restricted and published table,
    /// `zone/table.column: type [not null]`, sorted. Report authors build on these names.
    pub fn contract(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for table in &self.tables {
            if table.zone == Zone::Secure {
                continue;
            }
            for column in &table.columns {
                lines.push(format!(
                    "{}/{}.{}: {}{}",
                    table.zone.as_str(),
                    table.name,
                    column.name,
                    column.data_type.as_str(),
                    if column.nullable { "" } else { " not null" }
                ));
            }
        }
        lines.sort();
        lines
    }
}

fn parse<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        // toml's message already names the line, column and key.
        SchemaError::new(path, None, e.to_string().trim_end().to_owned())
    })
}

fn read_dir_recursive(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) -> Result<()> {
    let io_err = |p: &Path, e: std::io::Error| {
        SchemaError::new(&p.display().to_string(), None, e.to_string())
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io_err(dir, e))?;
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            read_dir_recursive(&path, root, out)?;
        } else if path.extension().is_some_and(|e| e == "toml" || e == "txt") {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
            out.push((rel, text));
        }
    }
    Ok(())
}

/// Each `suppression.shared` names another table that protects the same count, with the
/// same grouping columns, and does not share it back (one of the two is suppressed first).
fn check_shared(tables: &[TableDef], paths: &[String]) -> Result<()> {
    for (table, path) in tables.iter().zip(paths) {
        let Some(sup) = &table.suppression else {
            continue;
        };
        for (i, shared) in sup.shared.iter().enumerate() {
            let fail = |msg: String| {
                Err(SchemaError::new(
                    path,
                    Some(format!("suppression.shared[{i}]")),
                    msg,
                ))
            };
            let Some(other) = tables.iter().find(|t| t.name == shared.table) else {
                return fail(format!("no table `{}`", shared.table));
            };
            let Some(other_sup) = &other.suppression else {
                return fail(format!("`{}` declares no suppression", shared.table));
            };
            if !other_sup.counts.contains(&shared.column) {
                return fail(format!(
                    "`{}.{}` is not a count it protects",
                    shared.table, shared.column
                ));
            }
            if let Some(b) = shared.by.iter().find(|b| other.column(b).is_none()) {
                return fail(format!("`{}` has no column `{b}`", shared.table));
            }
            if other_sup.shared.iter().any(|s| s.table == table.name) {
                return fail(format!(
                    "`{}` shares a count with `{}` too: one of them must be suppressed first",
                    shared.table, table.name
                ));
            }
        }
    }
    Ok(())
}

/// Each `references` names an existing table's whole primary key, of the same type, in a
/// table that is not itself referenced (a star: facts point at dimensions, and dimensions
/// point nowhere, so Power BI never sees two filter paths between the same tables).
fn check_references(tables: &[TableDef], paths: &[String]) -> Result<()> {
    let referenced: std::collections::BTreeSet<&str> = tables
        .iter()
        .flat_map(|t| t.columns.iter())
        .filter_map(|c| c.references.as_deref()?.split_once('.').map(|(t, _)| t))
        .collect();
    for (table, path) in tables.iter().zip(paths) {
        for (i, col) in table.columns.iter().enumerate() {
            let Some(target) = col.references.as_deref() else {
                continue;
            };
            let fail = |msg: String| {
                Err(SchemaError::new(
                    path,
                    Some(format!("columns[{i}].references")),
                    msg,
                ))
            };
            if referenced.contains(table.name.as_str()) {
                return fail(format!(
                    "`{}` is referenced by other tables, so it is a dimension and may not reference `{target}` itself (keep the model a star)",
                    table.name
                ));
            }
            let Some((to_table, to_column)) = target.split_once('.') else {
                return fail(format!("`{target}` is not `table.column`"));
            };
            let Some(to) = tables.iter().find(|t| t.name == to_table) else {
                return fail(format!("no table `{to_table}`"));
            };
            let Some(to_col) = to.column(to_column) else {
                return fail(format!("`{to_table}` has no column `{to_column}`"));
            };
            if to.primary_key != [to_column] {
                return fail(format!(
                    "`{to_table}.{to_column}` is not the primary key of `{to_table}` ({}), so it cannot be the one side of a relationship",
                    to.primary_key.join(", ")
                ));
            }
            if to_col.data_type != col.data_type {
                return fail(format!(
                    "`{}` is {} but `{target}` is {}",
                    col.name,
                    col.data_type.as_str(),
                    to_col.data_type.as_str()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_loads_and_has_the_sen2_tables() {
        let reg = SchemaRegistry::embedded().unwrap();
        for name in [
            "person",
            "request",
            "assessment",
            "named_plan",
            "plan_setting",
            "active_plan",
            "placement",
            "sen_need",
            "quarantine/sen2_rejects",
        ] {
            let table = reg
                .table(name)
                .unwrap_or_else(|| panic!("table {name} missing"));
            assert!(!table.columns.is_empty());
        }
        // Lineage columns are appended to lineage tables.
        let request = reg.table("request").unwrap();
        let names: Vec<_> = request.columns.iter().map(|c| c.name.as_str()).collect();
        assert!(names.ends_with(&[
            "source",
            "submission_id",
            "la_code",
            "collection_year",
            "source_file",
            "run_id",
            "loaded_at"
        ]));
    }

    #[test]
    fn ethnicity_extended_codes_map_to_main_groups() {
        let reg = SchemaRegistry::embedded().unwrap();
        let eth = reg.code_list("ethnicity").unwrap();
        assert_eq!(eth.main_group("WENG"), Some("WBRI"));
        assert_eq!(eth.main_group("AMPK"), Some("APKN"));
        assert_eq!(eth.main_group("BSOM"), Some("BAFR"));
        assert_eq!(eth.main_group("OARA"), Some("OOTH"));
        assert_eq!(eth.main_group("WBRI"), Some("WBRI"));
        assert_eq!(eth.main_group("XXXX"), None);
    }

    fn star(fact_column: &str) -> Vec<(String, String)> {
        let mut files = minimal_files();
        files.push((
            "tables/dim.toml".into(),
            "name = \"dim\"\nzone = \"published\"\ndescription = \"d\"\ngrain = \"g\"\nprimary_key = [\"code\"]\nlineage = false\n[[columns]]\nname = \"code\"\ntype = \"utf8\"\nnullable = false\nprivacy = \"none\"\ndescription = \"c\"\n[[columns]]\nname = \"label\"\ntype = \"utf8\"\nnullable = false\nprivacy = \"none\"\ndescription = \"l\"\n".into(),
        ));
        files.push((
            "tables/fact.toml".into(),
            format!("name = \"fact\"\nzone = \"published\"\ndescription = \"d\"\ngrain = \"g\"\nprimary_key = []\nlineage = false\n{fact_column}"),
        ));
        files
    }

    #[test]
    fn references_must_name_a_dimension_key_of_the_same_type() {
        let col = |ty: &str, to: &str| {
            format!(
                "[[columns]]\nname = \"c\"\ntype = \"{ty}\"\nnullable = true\nprivacy = \"none\"\ndescription = \"x\"\nreferences = \"{to}\"\n"
            )
        };
        let reg = SchemaRegistry::from_files(star(&col("utf8", "dim.code"))).unwrap();
        let fact = reg.table("fact").unwrap();
        assert_eq!(
            fact.column("c").unwrap().references.as_deref(),
            Some("dim.code")
        );
        for (bad, says) in [
            (col("utf8", "dim.label"), "not the primary key"),
            (col("int64", "dim.code"), "is int64 but `dim.code` is utf8"),
            (col("utf8", "nope.code"), "no table `nope`"),
            (col("utf8", "dim.nope"), "has no column `nope`"),
            (col("utf8", "dimcode"), "is not `table.column`"),
        ] {
            let e = SchemaRegistry::from_files(star(&bad))
                .unwrap_err()
                .to_string();
            assert!(e.contains("tables/fact.toml"), "{e}");
            assert!(e.contains("columns[0].references"), "{e}");
            assert!(e.contains(says), "{e}");
        }
        // A dimension that references another table would make a snowflake.
        let mut files = star(&col("utf8", "dim.code"));
        files.push((
            "tables/other.toml".into(),
            "name = \"other\"\nzone = \"published\"\ndescription = \"d\"\ngrain = \"g\"\nprimary_key = [\"k\"]\nlineage = false\n[[columns]]\nname = \"k\"\ntype = \"utf8\"\nnullable = false\nprivacy = \"none\"\ndescription = \"k\"\n".into(),
        ));
        let dim = files
            .iter_mut()
            .find(|(p, _)| p == "tables/dim.toml")
            .unwrap();
        dim.1.push_str("[[columns]]\nname = \"o\"\ntype = \"utf8\"\nnullable = true\nprivacy = \"none\"\ndescription = \"o\"\nreferences = \"other.k\"\n");
        let e = SchemaRegistry::from_files(files).unwrap_err().to_string();
        assert!(
            e.contains("tables/dim.toml") && e.contains("keep the model a star"),
            "{e}"
        );
    }

    #[test]
    fn nested_areas_need_two_levels_of_parts_and_a_text_code_column() {
        let with = |from: &str, to: &str| {
            SchemaRegistry::from_files(embedded::FILES.iter().map(|(p, c)| {
                let c = if *p == "tables/kpi_requests.toml" {
                    c.replacen(from, to, 1)
                } else {
                    (*c).to_owned()
                };
                ((*p).to_owned(), c)
            }))
        };
        let parts = r#"values = ["district", "locality", "quadrant"] }"#;
        let e = with(parts, r#"values = ["district"] }"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tables/kpi_requests.toml")
                && e.contains(".nested")
                && e.contains("at least two levels"),
            "{e}"
        );
        let code = r#"nested = "geography_code""#;
        let e = with(code, r#"nested = "period_start""#)
            .unwrap_err()
            .to_string();
        assert!(e.contains(".nested") && e.contains("period_start"), "{e}");
    }

    #[test]
    fn a_shared_count_names_a_table_that_protects_it_and_does_not_share_back() {
        let with = |edits: &[(&str, &str, &str)]| {
            SchemaRegistry::from_files(embedded::FILES.iter().map(|(p, c)| {
                let mut c = (*c).to_owned();
                for (file, from, to) in edits {
                    if p == file {
                        c = c.replacen(from, to, 1);
                    }
                }
                ((*p).to_owned(), c)
            }))
        };
        let placements = "tables/kpi_placements.toml";
        let shared = r#"table = "kpi_caseload_need""#;
        for (to, says) in [
            (r#"table = "kpi_requests""#, "not a count it protects"),
            (r#"table = "nope""#, "no table `nope`"),
        ] {
            let e = with(&[(placements, shared, to)]).unwrap_err().to_string();
            assert!(
                e.contains(placements) && e.contains("suppression.shared[0]") && e.contains(says),
                "{e}"
            );
        }
        let back = "[[suppression.shared]]\ncolumn = \"caseload_total\"\ntable = \"kpi_placements\"\nby = [\"source\"]\n\n[[suppression.rates]]";
        let e = with(&[(
            "tables/kpi_caseload_need.toml",
            "[[suppression.rates]]",
            back,
        )])
        .unwrap_err()
        .to_string();
        assert!(e.contains("must be suppressed first"), "{e}");
    }

    fn minimal_files() -> Vec<(String, String)> {
        vec![
            ("rules.toml".into(), "rules = []".into()),
            ("lineage.toml".into(), "columns = []".into()),
        ]
    }

    #[test]
    fn a_direct_identifier_in_a_restricted_table_is_refused() {
        let mut files = minimal_files();
        files.push((
            "tables/bad.toml".into(),
            r#"
name = "bad"
zone = "restricted"
description = "d"
grain = "g"
primary_key = ["upn"]
lineage = false
[[columns]]
name = "upn"
type = "utf8"
nullable = false
privacy = "direct_identifier"
description = "raw UPN"
field = "UPN"
"#
            .into(),
        ));
        let err = SchemaRegistry::from_files(files).unwrap_err();
        assert_eq!(err.file, "tables/bad.toml");
        assert!(err.to_string().contains("direct_identifier"), "{err}");
    }

    #[test]
    fn unknown_keys_and_unknown_code_lists_name_file_and_key() {
        let mut files = minimal_files();
        files.push((
            "tables/t.toml".into(),
            "name = \"t\"\nzone = \"restricted\"\ndescription = \"d\"\ngrain = \"g\"\nprimary_key = []\ncolour = 1\n"
                .into(),
        ));
        let err = SchemaRegistry::from_files(files).unwrap_err();
        assert!(err.to_string().contains("tables/t.toml"), "{err}");
        assert!(err.to_string().contains("colour"), "{err}");

        let mut files = minimal_files();
        files.push((
            "tables/t.toml".into(),
            r#"
name = "t"
zone = "restricted"
description = "d"
grain = "g"
primary_key = ["c"]
lineage = false
[[columns]]
name = "c"
type = "utf8"
nullable = true
privacy = "none"
description = "d"
code_list = "nope"
field = "C"
"#
            .into(),
        ));
        let err = SchemaRegistry::from_files(files).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("columns[0].code_list"));
    }
}
