//! TMDL text: writing the model's files, and reading back the little the generator and its
//! tests need (table names, columns, measures and the references in their DAX).
//!
//! TMDL indents with tabs; an object's description is the `///` lines just above it; names
//! that are not plain identifiers go in single quotes.

use sendlake_schema::{ColumnType, Privacy, TableDef, Zone};

use crate::measures::{MEASURES_TABLE, Measure};
use crate::{PowerBiError, RoleLocality, lineage_tag};

/// A TMDL name, quoted when it is not a plain identifier.
pub(crate) fn q(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

fn description(out: &mut String, indent: &str, text: &str) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str(&format!("{indent}/// {}\n", line.trim()));
    }
}

pub(crate) fn database(name: &str) -> String {
    format!("database {}\n\tcompatibilityLevel: 1567\n", q(name))
}

/// `model.tmdl`: culture, implicit measures discouraged, auto date/time off, and the table
/// order (generated tables, then the author's).
pub(crate) fn model(tables: &[&str], author_tables: &[&str]) -> String {
    let mut s = String::from(
        "model Model\n\tculture: en-GB\n\tdefaultPowerBIDataSourceVersion: powerBI_V3\n\tdiscourageImplicitMeasures\n\tsourceQueryCulture: en-GB\n\n",
    );
    // Auto date/time off: dim_date is the one date table.
    s.push_str("\tannotation __PBI_TimeIntelligenceEnabled = 0\n\n");
    s.push_str("\tannotation PBI_ProTooling = [\"sendlake\"]\n\n");
    for t in tables.iter().chain(author_tables) {
        s.push_str(&format!("ref table {}\n", q(t)));
    }
    s.push_str("\nref cultureInfo en-GB\n");
    s
}

/// `expressions.tmdl`: where the lake is, and one function every partition reads through,
/// so switching between a local folder and ADLS Gen2 / OneLake is one parameter.
pub(crate) fn expressions(lake_location: &str) -> String {
    let location = lake_location.replace('"', "\"\"");
    format!(
        r#"/// Where the lake is: a local folder (C:\data\sendlake-lake), or an ADLS Gen2 or OneLake URL (https://<account>.dfs.core.windows.net/<container>/<folder>, https://onelake.dfs.fabric.microsoft.com/<workspace>/<lakehouse>.Lakehouse/Files/<folder>).
expression LakeLocation = "{location}" meta [IsParameterQuery=true, Type="Text", IsParameterQueryRequired=true]
	lineageTag: {tag_location}

	annotation PBI_ResultType = Text

/// Local for a folder on disk or a network share; AzureDataLake for ADLS Gen2 and OneLake.
expression LakeKind = "{kind}" meta [IsParameterQuery=true, List={{"Local", "AzureDataLake"}}, DefaultValue="Local", Type="Text", IsParameterQueryRequired=true]
	lineageTag: {tag_kind}

	annotation PBI_ResultType = Text

/// Reads the current version of one Delta table of the lake: DeltaLake.Table follows the table's log, so a partition never reads a removed or not-yet-committed file.
expression SendlakeTable =
		(zone as text, table as text) as table =>
		let
		    Files =
		        if LakeKind = "Local" then
		            Folder.Files(LakeLocation & "\" & zone & "\" & Text.Replace(table, "/", "\"))
		        else
		            AzureStorage.DataLake(LakeLocation & "/" & zone & "/" & table, [HierarchicalNavigation = false]),
		    Table = DeltaLake.Table(Files)
		in
		    Table
	lineageTag: {tag_fn}

	annotation PBI_ResultType = Function
"#,
        kind = if lake_location.starts_with("https://") {
            "AzureDataLake"
        } else {
            "Local"
        },
        tag_location = lineage_tag("expression/LakeLocation"),
        tag_kind = lineage_tag("expression/LakeKind"),
        tag_fn = lineage_tag("expression/SendlakeTable"),
    )
}

fn data_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Utf8 => "string",
        ColumnType::Int32 | ColumnType::Int64 => "int64",
        ColumnType::Bool => "boolean",
        ColumnType::Float64 => "double",
        ColumnType::Date32 | ColumnType::TimestampUsUtc => "dateTime",
    }
}

fn format_string(t: ColumnType) -> Option<&'static str> {
    match t {
        ColumnType::Int32 | ColumnType::Int64 => Some("0"),
        ColumnType::Float64 => Some("0.0"),
        ColumnType::Date32 => Some("yyyy-mm-dd"),
        ColumnType::TimestampUsUtc => Some("yyyy-mm-dd hh:nn:ss"),
        ColumnType::Utf8 | ColumnType::Bool => None,
    }
}

/// One table's file: columns with types, formats and descriptions; counts of published
/// aggregates summarise by sum, everything else by none; the partition reads the table's
/// current Delta version through `SendlakeTable`.
pub(crate) fn table(t: &TableDef) -> String {
    let mut s = String::new();
    description(&mut s, "", &format!("{} {}", t.description, t.grain));
    s.push_str(&format!("table {}\n", q(&t.name)));
    s.push_str(&format!(
        "\tlineageTag: {}\n",
        lineage_tag(&format!("table/{}", t.name))
    ));
    if t.name == "dim_date" {
        s.push_str("\tdataCategory: Time\n");
    }
    s.push('\n');
    let counts: Vec<&str> = t
        .suppression
        .as_ref()
        .map(|sup| sup.counts.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for c in &t.columns {
        description(&mut s, "\t", &c.description);
        s.push_str(&format!("\tcolumn {}\n", q(&c.name)));
        s.push_str(&format!("\t\tdataType: {}\n", data_type(c.data_type)));
        if t.name == "dim_date" && c.name == "date" {
            s.push_str("\t\tisKey\n");
        }
        if let Some(f) = format_string(c.data_type) {
            s.push_str(&format!("\t\tformatString: {f}\n"));
        }
        if c.privacy == Privacy::Pseudonym {
            // Keys for counting distinct children, not for reading.
            s.push_str("\t\tisHidden\n");
        }
        s.push_str(&format!(
            "\t\tlineageTag: {}\n",
            lineage_tag(&format!("table/{}/column/{}", t.name, c.name))
        ));
        let sum = counts.contains(&c.name.as_str());
        s.push_str(&format!(
            "\t\tsummarizeBy: {}\n",
            if sum { "sum" } else { "none" }
        ));
        s.push_str(&format!("\t\tsourceColumn: {}\n\n", c.name));
        s.push_str("\t\tannotation SummarizationSetBy = Automatic\n\n");
        if c.data_type == ColumnType::Date32 {
            s.push_str("\t\tannotation UnderlyingDateTimeDataType = Date\n\n");
        }
    }
    let zone = match t.zone {
        Zone::Published => "published",
        Zone::Restricted => "restricted",
        Zone::Secure => "secure",
    };
    s.push_str(&format!(
        "\tpartition {} = m\n\t\tmode: import\n\t\tsource =\n\t\t\t\tlet\n\t\t\t\t    Source = SendlakeTable(\"{zone}\", \"{}\")\n\t\t\t\tin\n\t\t\t\t    Source\n\n",
        q(&t.name),
        t.name
    ));
    s.push_str("\tannotation PBI_ResultType = Table\n");
    s
}

/// `_KPIs`: the measures, in a table of their own (a hidden empty column keeps it a table).
pub(crate) fn measures_table(measures: &[Measure]) -> String {
    let mut s = String::new();
    description(
        &mut s,
        "",
        "The KPI measures: each with its definition, format and folder. Add your own measures here or in a table of your own; regenerating keeps them.",
    );
    s.push_str(&format!("table {MEASURES_TABLE}\n"));
    s.push_str(&format!(
        "\tlineageTag: {}\n\n",
        lineage_tag(&format!("table/{MEASURES_TABLE}"))
    ));
    for m in measures {
        s.push_str(&measure_block(m));
    }
    s.push_str(&format!(
        "\tcolumn Value\n\t\tdataType: string\n\t\tisHidden\n\t\tlineageTag: {}\n\t\tsummarizeBy: none\n\t\tsourceColumn: Value\n\n\t\tannotation SummarizationSetBy = Automatic\n\n",
        lineage_tag(&format!("table/{MEASURES_TABLE}/column/Value"))
    ));
    s.push_str(&format!(
        "\tpartition {MEASURES_TABLE} = m\n\t\tmode: import\n\t\tsource = #table(type table [Value = text], {{}})\n\n\tannotation PBI_ResultType = Table\n"
    ));
    s
}

fn measure_block(m: &Measure) -> String {
    let mut s = String::new();
    description(&mut s, "\t", &m.description);
    s.push_str(&format!("\tmeasure {} =\n", q(&m.name)));
    for line in m.dax.lines() {
        s.push_str(&format!("\t\t\t{line}\n"));
    }
    s.push_str(&format!("\t\tformatString: {}\n", m.format));
    s.push_str(&format!("\t\tdisplayFolder: {}\n", m.folder));
    s.push_str(&format!(
        "\t\tlineageTag: {}\n\n",
        lineage_tag(&format!("table/{MEASURES_TABLE}/measure/{}", m.name))
    ));
    s
}

/// Inserts an author's measure block into a generated table file, just before its partition
/// (which has no description lines above it, so nothing else needs to move).
pub(crate) fn append_measure(text: &str, block: &str) -> String {
    let block = block.trim_end_matches('\n');
    match text.find("\n\tpartition ") {
        Some(at) => format!("{}\n{block}\n{}", &text[..=at], &text[at + 1..]),
        None => format!("{text}\n{block}\n"),
    }
}

/// `relationships.tmdl`: one relationship per `references`, many side to one side, single
/// direction; where a table references the same table more than once (role-playing dates),
/// the first is active and the rest inactive.
pub(crate) fn relationships(tables: &[&TableDef]) -> Result<String, PowerBiError> {
    let mut s = String::new();
    let present: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    for t in tables {
        let mut seen: Vec<&str> = Vec::new();
        for c in &t.columns {
            let Some(target) = c.references.as_deref() else {
                continue;
            };
            let Some((to_table, to_column)) = target.split_once('.') else {
                return Err(PowerBiError::Model(format!(
                    "{}.{} references `{target}`, not table.column",
                    t.name, c.name
                )));
            };
            if !present.contains(&to_table) {
                // The dimension is not in this model; no relationship.
                continue;
            }
            let active = !seen.contains(&to_table);
            seen.push(to_table);
            s.push_str(&format!(
                "relationship {}\n",
                lineage_tag(&format!("relationship/{}.{}/{target}", t.name, c.name))
            ));
            if !active {
                s.push_str("\tisActive: false\n");
            }
            if c.data_type == ColumnType::Date32 {
                s.push_str("\tjoinOnDateBehavior: datePartOnly\n");
            }
            s.push_str(&format!("\tfromColumn: {}.{}\n", q(&t.name), q(&c.name)));
            s.push_str(&format!("\ttoColumn: {}.{}\n\n", q(to_table), q(to_column)));
        }
    }
    Ok(s)
}

/// The roles: `Partnership` reads the published aggregates and no person-level row; each
/// locality's role also reads the person-level (restricted) rows of the children who live
/// in that locality, through `dim_child`.
pub(crate) fn roles(tables: &[&TableDef], localities: &[RoleLocality]) -> Vec<(String, String)> {
    // Person-level tables: a person key or a quasi-identifier. A public input kept in the
    // restricted zone (population estimates, whose only pseudonym is the partner's record
    // id) is not filtered.
    let restricted: Vec<&TableDef> = tables
        .iter()
        .copied()
        .filter(|t| {
            t.zone != Zone::Published
                && (t.column("person_key").is_some()
                    || t.columns
                        .iter()
                        .any(|c| c.privacy == Privacy::QuasiIdentifier))
        })
        .collect();
    let has_child = tables.iter().any(|t| t.name == "dim_child");
    let mut out = Vec::new();
    let mut s = String::new();
    description(
        &mut s,
        "",
        "Everyone in the partnership: every published aggregate, no person-level row.",
    );
    s.push_str("role Partnership\n\tmodelPermission: read\n\n");
    for t in &restricted {
        s.push_str(&format!("\ttablePermission {} = FALSE()\n\n", q(&t.name)));
    }
    s.push_str(&format!(
        "\tannotation PBI_Id = {}\n",
        lineage_tag("role/Partnership").replace('-', "")
    ));
    out.push(("Partnership.tmdl".to_owned(), s));
    for l in localities {
        let name = format!("Locality {}", l.code);
        let mut s = String::new();
        description(
            &mut s,
            "",
            &format!(
                "Professionals of {} ({}): every published aggregate, and the person-level rows of children whose postcode district is in the locality.",
                l.name, l.code
            ),
        );
        s.push_str(&format!("role {}\n\tmodelPermission: read\n\n", q(&name)));
        let code = l.code.replace('"', "\"\"");
        for t in &restricted {
            let filter = if t.name == "dim_child" {
                format!("dim_child[locality_code] = \"{code}\"")
            } else if has_child && t.column("person_key").is_some() {
                format!(
                    "{}[person_key] IN CALCULATETABLE(VALUES(dim_child[person_key]), dim_child[locality_code] = \"{code}\")",
                    q(&t.name)
                )
            } else {
                "FALSE()".to_owned()
            };
            s.push_str(&format!("\ttablePermission {} = {filter}\n\n", q(&t.name)));
        }
        s.push_str(&format!(
            "\tannotation PBI_Id = {}\n",
            lineage_tag(&format!("role/{name}")).replace('-', "")
        ));
        out.push((format!("{name}.tmdl"), s));
    }
    out
}

/// What a TMDL file declares, read back.
#[derive(Debug, Default)]
pub struct Tmdl {
    /// `table`, `role`, `relationship` … objects at the top level, by kind.
    pub objects: Vec<(String, String)>,
    /// Columns of the table, in order.
    pub columns: Vec<String>,
    /// Measures: name, DAX and the whole block (description lines included).
    pub measures: Vec<(String, String, String)>,
    /// Relationship ends: (from, to) as `table.column`.
    pub relationships: Vec<(String, String)>,
    /// `ref table` lines of model.tmdl.
    pub table_refs: Vec<String>,
}

impl Tmdl {
    /// The table's name, if the file declares one.
    pub fn table_name(&self) -> Option<String> {
        self.objects
            .iter()
            .find(|(k, _)| k == "table")
            .map(|(_, n)| n.clone())
    }

    /// Names of the measures.
    pub fn measure_names(&self) -> Vec<String> {
        self.measures.iter().map(|(n, _, _)| n.clone()).collect()
    }

    /// Each measure's name and its whole block.
    pub fn measure_blocks(&self) -> Vec<(String, String)> {
        self.measures
            .iter()
            .map(|(n, _, b)| (n.clone(), b.clone()))
            .collect()
    }
}

fn unquote(name: &str) -> String {
    let name = name.trim();
    match name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => name.to_owned(),
    }
}

/// Splits `table.column` where either part may be quoted.
fn split_ref(text: &str) -> String {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('\'')
        && let Some(end) = rest.find("'.")
    {
        return format!(
            "{}.{}",
            rest[..end].replace("''", "'"),
            unquote(&rest[end + 2..])
        );
    }
    match text.split_once('.') {
        Some((t, c)) => format!("{}.{}", unquote(t), unquote(c)),
        None => text.to_owned(),
    }
}

/// Reads the objects of one TMDL file.
pub fn parse_tmdl(text: &str) -> Tmdl {
    let mut out = Tmdl::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut from = None;
    while i < lines.len() {
        let line = lines[i];
        let depth = line.chars().take_while(|c| *c == '\t').count();
        let body = line.trim_start_matches('\t');
        if depth == 0 {
            for kind in [
                "table",
                "role",
                "relationship",
                "model",
                "database",
                "expression",
            ] {
                if let Some(rest) = body.strip_prefix(&format!("{kind} ")) {
                    let name = rest.split(" =").next().unwrap_or(rest);
                    out.objects.push((kind.to_owned(), unquote(name)));
                }
            }
            if let Some(rest) = body.strip_prefix("ref table ") {
                out.table_refs.push(unquote(rest));
            }
        } else if depth == 1 {
            if let Some(rest) = body.strip_prefix("column ") {
                out.columns
                    .push(unquote(rest.split(" =").next().unwrap_or(rest)));
            } else if let Some(rest) = body.strip_prefix("fromColumn: ") {
                from = Some(split_ref(rest));
            } else if let Some(rest) = body.strip_prefix("toColumn: ") {
                if let Some(f) = from.take() {
                    out.relationships.push((f, split_ref(rest)));
                }
            } else if let Some(rest) = body.strip_prefix("measure ") {
                let (name, first) = rest.split_once(" =").unwrap_or((rest, ""));
                // The block starts at its description lines.
                let mut start = i;
                while start > 0 && lines[start - 1].starts_with("\t///") {
                    start -= 1;
                }
                let mut end = i + 1;
                let mut dax = first.trim().to_owned();
                while end < lines.len()
                    && (lines[end].starts_with("\t\t") || lines[end].trim().is_empty())
                {
                    if lines[end].starts_with("\t\t\t") {
                        dax.push('\n');
                        dax.push_str(lines[end].trim());
                    }
                    end += 1;
                }
                let block = lines[start..end].join("\n") + "\n";
                out.measures
                    .push((unquote(name), dax.trim().to_owned(), block));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Every `table[column]` reference in a DAX expression (quoted or plain table names).
pub fn dax_references(dax: &str) -> Vec<(String, String)> {
    let mut refs = Vec::new();
    let b = dax.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'[' {
            let Some(close) = dax[i..].find(']') else {
                break;
            };
            let column = &dax[i + 1..i + close];
            // The table name just before '[': quoted, or an identifier.
            let before = &dax[..i];
            let table = if let Some(quoted) = before.strip_suffix('\'') {
                quoted.rfind('\'').map(|s| quoted[s + 1..].to_owned())
            } else {
                let start = before
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |p| p + 1);
                (start < before.len()).then(|| before[start..].to_owned())
            };
            if let Some(t) = table {
                refs.push((t, column.to_owned()));
            } else {
                // A bare [Name] is a measure reference.
                refs.push((String::new(), column.to_owned()));
            }
            i += close + 1;
        } else {
            i += 1;
        }
    }
    refs
}
