//! Table definitions (`schemas/tables/*.toml` and `schemas/lineage.toml`).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::{CodeList, Result, SchemaError};

/// Where a table lives in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// Pseudonymised person-level tables for analysts with legal access.
    Restricted,
    /// Raw rejected values: quarantine, never published.
    Secure,
    /// Suppressed aggregates only.
    Published,
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Zone {
    /// Folder name of the zone in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Restricted => "restricted",
            Zone::Secure => "secure",
            Zone::Published => "published",
        }
    }
}

/// Column data types allowed by the Power BI-safe profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// UTF-8 string (codes, keys).
    Utf8,
    /// 32-bit integer.
    Int32,
    /// 64-bit integer (counts).
    Int64,
    /// Boolean.
    Bool,
    /// 64-bit float (ratios).
    Float64,
    /// Date without time (Arrow Date32, Parquet DATE).
    Date32,
    /// UTC timestamp in microseconds (Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true)).
    TimestampUsUtc,
}

impl ColumnType {
    /// The Arrow type.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Date32 => DataType::Date32,
            ColumnType::TimestampUsUtc => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
        }
    }

    /// Name as written in the schema files.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "utf8",
            ColumnType::Int32 => "int32",
            ColumnType::Int64 => "int64",
            ColumnType::Bool => "bool",
            ColumnType::Float64 => "float64",
            ColumnType::Date32 => "date32",
            ColumnType::TimestampUsUtc => "timestamp_us_utc",
        }
    }
}

/// Privacy class of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    /// Identifies a person on its own (name, UPN, ULN, NHS number, full birth date, full
    /// postcode). Only allowed in the secure zone.
    DirectIdentifier,
    /// Could identify a person in combination (birth month, postcode district, sex, ethnicity).
    QuasiIdentifier,
    /// A keyed pseudonym of an identifier.
    Pseudonym,
    /// Not personal.
    None,
}

/// How a column's value is derived. A closed set: each is implemented in `sendlake-transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Derive {
    /// Keyed HMAC of the person's identifier (UPN, else ULN, else temporary UPN, else fallback).
    PersonKey,
    /// Which identifier the person key was made from.
    PersonKeyBasis,
    /// Key of the enclosing request.
    RequestKey,
    /// Position of the enclosing request within the person (1-based).
    RequestSeq,
    /// The main group of the field's code in its code list.
    CodeMainGroup,
    /// First day of the field's month (birth date → birth month).
    MonthStart,
    /// Age in whole years on census day from the field's date.
    AgeAtCensus,
    /// Outward code of the field's postcode.
    PostcodeDistrict,
    /// True when the field is present and passed validation.
    ValidPresent,
    /// True when the field is present (its text is not loaded).
    Present,
    /// `urn`, `ukprn` or `sen_setting` by DfE precedence.
    SettingBasis,
    /// Lineage: pipeline source name.
    LineageSource,
    /// Lineage: submission id.
    LineageSubmissionId,
    /// Lineage: LA code of the submission.
    LineageLaCode,
    /// Lineage: collection year of the submission.
    LineageCollectionYear,
    /// Lineage: input file name.
    LineageSourceFile,
    /// Lineage: run id.
    LineageRunId,
    /// Lineage: run start time.
    LineageLoadedAt,
    /// Lineage (record sources): the source's stream (`requests`, `referrals`).
    LineageStream,
    /// Lineage (record sources): the record's id in its source, as the source gives it.
    LineageRecordId,
    /// Filled from a quarantine entry.
    Reject,
}

impl Derive {
    /// Whether the pipeline fills the column as partner-record lineage (`lineage_records.toml`),
    /// so a source's mapping must not.
    pub fn is_record_lineage(self) -> bool {
        matches!(
            self,
            Derive::LineageSource
                | Derive::LineageStream
                | Derive::LineageRecordId
                | Derive::LineageSourceFile
                | Derive::LineageRunId
                | Derive::LineageLoadedAt
        )
    }
}

/// One column.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// Stable snake_case name (a contract with report authors).
    pub name: String,
    /// Data type.
    #[serde(rename = "type")]
    pub data_type: ColumnType,
    /// Whether nulls are allowed.
    pub nullable: bool,
    /// Privacy class.
    pub privacy: Privacy,
    /// What the column means.
    pub description: String,
    /// Code list the values must belong to.
    #[serde(default)]
    pub code_list: Option<String>,
    /// Source element name the value is read from (SEN2 leaf element).
    #[serde(default)]
    pub field: Option<String>,
    /// The source element is mandatory: missing or invalid rejects the record.
    #[serde(default)]
    pub required: bool,
    /// Derivation applied (to `field` if given).
    #[serde(default)]
    pub derive: Option<Derive>,
    /// Exact number of digits for digit-string codes (LA 3, URN 6, UKPRN 8).
    #[serde(default)]
    pub digits: Option<u8>,
    /// A date that may legitimately fall after the census reference date (e.g. a due date).
    #[serde(default)]
    pub allow_after_census: bool,
    /// The dimension column this column looks up, as `table.column` (e.g.
    /// `dim_date.date`): a star-schema relationship for the Power BI model. The target must
    /// be the whole primary key of its table, of the same type.
    #[serde(default)]
    pub references: Option<String>,
}

/// How SEN2 XML maps onto a table: one row per element named `element` under `parent`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sen2Mapping {
    /// Element that makes one row (e.g. `PlacementDetail`).
    pub element: String,
    /// Parent element (e.g. `ActivePlans`); `None` for `Person`.
    #[serde(default)]
    pub parent: Option<String>,
    /// Most elements allowed in one parent (XSD maxOccurs); extras are rejected.
    #[serde(default)]
    pub max_per_parent: Option<usize>,
    /// Extra leaf elements read by derivations (so they are not reported as unknown).
    #[serde(default)]
    pub consumes: Vec<String>,
}

/// One table.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    /// Name; also the table's path under its zone (`quarantine/sen2_rejects`).
    pub name: String,
    /// Zone.
    pub zone: Zone,
    /// What the table holds.
    pub description: String,
    /// What one row is.
    pub grain: String,
    /// Columns that identify a row.
    pub primary_key: Vec<String>,
    /// Append the SEN2 lineage columns of `lineage.toml` (default true).
    #[serde(default = "yes")]
    pub lineage: bool,
    /// Append the partner-record lineage columns of `lineage_records.toml` instead (source,
    /// stream, record id, origin, run): for tables filled from APIs and files.
    #[serde(default)]
    pub record_lineage: bool,
    /// SEN2 mapping, for tables filled from SEN2 returns.
    #[serde(default)]
    pub sen2: Option<Sen2Mapping>,
    /// Small-number suppression (published aggregate tables).
    #[serde(default)]
    pub suppression: Option<crate::SuppressionDef>,
    /// Columns (after loading, lineage columns are appended).
    #[serde(default)]
    pub columns: Vec<ColumnDef>,
    #[serde(skip)]
    schema: Option<SchemaRef>,
}

fn yes() -> bool {
    true
}

impl TableDef {
    pub(crate) fn finish(
        mut self,
        path: &str,
        lineage: &[ColumnDef],
        record_lineage: &[ColumnDef],
        code_lists: &BTreeMap<String, CodeList>,
    ) -> Result<Self> {
        if self.lineage && self.record_lineage {
            return Err(SchemaError::new(
                path,
                Some("record_lineage".into()),
                "a table takes either the SEN2 lineage or the record lineage: set `lineage = false`",
            ));
        }
        if self.lineage {
            self.columns.extend(lineage.iter().cloned());
        }
        if self.record_lineage {
            if record_lineage.is_empty() {
                return Err(SchemaError::new(
                    path,
                    Some("record_lineage".into()),
                    "`record_lineage = true` needs lineage_records.toml in the schema folder",
                ));
            }
            self.columns.extend(record_lineage.iter().cloned());
        }
        let mut names = std::collections::HashSet::new();
        for (i, col) in self.columns.iter().enumerate() {
            let key = |k: &str| Some(format!("columns[{i}].{k}"));
            if !names.insert(col.name.as_str()) {
                return Err(SchemaError::new(
                    path,
                    key("name"),
                    format!("duplicate column `{}`", col.name),
                ));
            }
            if !is_snake_case(&col.name) {
                return Err(SchemaError::new(
                    path,
                    key("name"),
                    format!("`{}` is not snake_case", col.name),
                ));
            }
            if let Some(list) = &col.code_list
                && !code_lists.contains_key(list)
            {
                return Err(SchemaError::new(
                    path,
                    key("code_list"),
                    format!("unknown code list `{list}`"),
                ));
            }
            // Columns of tables filled from partner records are filled by each source's
            // declarative mapping (pipelines/sources), so they need neither here.
            if self.sen2.is_some() && col.field.is_none() && col.derive.is_none() {
                return Err(SchemaError::new(
                    path,
                    key("field"),
                    "a column needs `field`, `derive` or both",
                ));
            }
            if col.required && col.field.is_none() {
                return Err(SchemaError::new(
                    path,
                    key("required"),
                    "`required` needs a `field`",
                ));
            }
            if col.privacy == Privacy::DirectIdentifier && self.zone != crate::Zone::Secure {
                return Err(SchemaError::new(
                    path,
                    key("privacy"),
                    format!(
                        "column `{}` is a direct_identifier but table `{}` is in the {} zone: direct identifiers may only live in the secure zone",
                        col.name,
                        self.name,
                        self.zone.as_str()
                    ),
                ));
            }
            // The published zone holds aggregates only: nothing that points at a person.
            if self.zone == crate::Zone::Published && col.privacy != Privacy::None {
                return Err(SchemaError::new(
                    path,
                    key("privacy"),
                    format!(
                        "column `{}` is {:?} but table `{}` is in the published zone, which holds aggregates only",
                        col.name, col.privacy, self.name
                    ),
                ));
            }
        }
        if let Some(sup) = &self.suppression {
            self.check_suppression(path, sup)?;
        }
        for (i, pk) in self.primary_key.iter().enumerate() {
            if !names.contains(pk.as_str()) {
                return Err(SchemaError::new(
                    path,
                    Some(format!("primary_key[{i}]")),
                    format!("no column `{pk}`"),
                ));
            }
        }
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.data_type.arrow(), c.nullable))
            .collect();
        self.schema = Some(Arc::new(Schema::new(fields)));
        Ok(self)
    }

    /// Every column a suppression declaration names exists with the right type, and every
    /// protected column has its nullable `<column>_status` companion.
    fn check_suppression(&self, path: &str, sup: &crate::SuppressionDef) -> Result<()> {
        let col = |name: &str| self.columns.iter().find(|c| c.name == name);
        let need = |key: String, name: &str, types: &[ColumnType]| -> Result<()> {
            match col(name) {
                None => Err(SchemaError::new(
                    path,
                    Some(key),
                    format!("no column `{name}`"),
                )),
                Some(c) if !types.contains(&c.data_type) => Err(SchemaError::new(
                    path,
                    Some(key),
                    format!(
                        "column `{name}` is {} but suppression needs {}",
                        c.data_type.as_str(),
                        types
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                )),
                Some(_) => Ok(()),
            }
        };
        let count = [ColumnType::Int64];
        let number = [ColumnType::Float64, ColumnType::Int64];
        for (i, c) in sup.counts.iter().enumerate() {
            need(format!("suppression.counts[{i}]"), c, &count)?;
        }
        for (i, r) in sup.rates.iter().enumerate() {
            need(format!("suppression.rates[{i}].column"), &r.column, &number)?;
            need(
                format!("suppression.rates[{i}].numerator"),
                &r.numerator,
                &count,
            )?;
            need(
                format!("suppression.rates[{i}].denominator"),
                &r.denominator,
                &count,
            )?;
        }
        for (i, d) in sup.derived.iter().enumerate() {
            need(
                format!("suppression.derived[{i}].column"),
                &d.column,
                &number,
            )?;
            need(format!("suppression.derived[{i}].count"), &d.count, &count)?;
        }
        for (i, a) in sup.additive.iter().enumerate() {
            need(format!("suppression.additive[{i}].total"), &a.total, &count)?;
            for (j, p) in a.parts.iter().enumerate() {
                need(format!("suppression.additive[{i}].parts[{j}]"), p, &count)?;
            }
        }
        let any = [
            ColumnType::Utf8,
            ColumnType::Int32,
            ColumnType::Int64,
            ColumnType::Bool,
            ColumnType::Date32,
        ];
        for (i, p) in sup.partitions.iter().enumerate() {
            for (j, b) in p.by.iter().enumerate() {
                need(format!("suppression.partitions[{i}].by[{j}]"), b, &any)?;
            }
        }
        for (i, p) in sup.partitions.iter().enumerate() {
            for (j, c) in p.counts.iter().flatten().enumerate() {
                need(
                    format!("suppression.partitions[{i}].counts[{j}]"),
                    c,
                    &count,
                )?;
            }
            if let Some(t) = &p.total {
                need(format!("suppression.partitions[{i}].total"), t, &count)?;
            }
        }
        for (i, r) in sup.repeated.iter().enumerate() {
            need(
                format!("suppression.repeated[{i}].column"),
                &r.column,
                &count,
            )?;
            for (j, b) in r.by.iter().enumerate() {
                need(format!("suppression.repeated[{i}].by[{j}]"), b, &any)?;
            }
        }
        for (i, r) in sup.shared.iter().enumerate() {
            need(format!("suppression.shared[{i}].column"), &r.column, &count)?;
            if !sup.counts.contains(&r.column) {
                return Err(SchemaError::new(
                    path,
                    Some(format!("suppression.shared[{i}].column")),
                    format!("`{}` is not among the counts", r.column),
                ));
            }
            for (j, b) in r.by.iter().enumerate() {
                need(format!("suppression.shared[{i}].by[{j}]"), b, &any)?;
            }
        }
        for (i, r) in sup.rollups.iter().enumerate() {
            for (j, b) in r.by.iter().enumerate() {
                need(format!("suppression.rollups[{i}].by[{j}]"), b, &any)?;
            }
            need(
                format!("suppression.rollups[{i}].parts.column"),
                &r.parts.column,
                &[ColumnType::Utf8],
            )?;
            need(
                format!("suppression.rollups[{i}].total.column"),
                &r.total.column,
                &[ColumnType::Utf8],
            )?;
            for (j, c) in r.counts.iter().flatten().enumerate() {
                need(format!("suppression.rollups[{i}].counts[{j}]"), c, &count)?;
            }
            for (j, b) in r.distinct_by.iter().flatten().enumerate() {
                need(
                    format!("suppression.rollups[{i}].distinct_by[{j}]"),
                    b,
                    &any,
                )?;
            }
            if let Some(code) = &r.nested {
                need(
                    format!("suppression.rollups[{i}].nested"),
                    code,
                    &[ColumnType::Utf8],
                )?;
                if r.parts.values.len() < 2 {
                    return Err(SchemaError::new(
                        path,
                        Some(format!("suppression.rollups[{i}].nested")),
                        "nested areas need at least two levels of parts, smallest first".to_owned(),
                    ));
                }
            }
            if let Some(m) = r.month
                && (r.year_of.is_none() || !(1..=12).contains(&m))
            {
                return Err(SchemaError::new(
                    path,
                    Some(format!("suppression.rollups[{i}].month")),
                    format!("month = {m} needs `year_of` and a month from 1 to 12"),
                ));
            }
            if let Some(y) = &r.year_of {
                need(
                    format!("suppression.rollups[{i}].year_of"),
                    y,
                    &[ColumnType::Date32],
                )?;
            }
            // A row that were both a part and the total would be its own total.
            if r.parts.column == r.total.column
                && r.parts.values.iter().any(|v| r.total.values.contains(v))
            {
                return Err(SchemaError::new(
                    path,
                    Some(format!("suppression.rollups[{i}]")),
                    "a value selects both the parts and the total".to_owned(),
                ));
            }
        }
        let counts: std::collections::HashSet<&str> =
            sup.counts.iter().map(String::as_str).collect();
        for (i, a) in sup.additive.iter().enumerate() {
            for c in std::iter::once(&a.total).chain(&a.parts) {
                if !counts.contains(c.as_str()) {
                    return Err(SchemaError::new(
                        path,
                        Some(format!("suppression.additive[{i}]")),
                        format!(
                            "`{c}` is in an additive relation but not among suppression.counts: it may need suppressing"
                        ),
                    ));
                }
            }
        }
        if let Some(h) = &sup.headline {
            need("suppression.headline".into(), h, &number)?;
            // sendlake-model joins the targets by area and period and adds these two.
            let needs = [
                "period_type",
                "period_start",
                "geography_level",
                "geography_code",
                "target",
                "rag_status",
            ];
            if !sup.protected_columns().any(|c| c == h) || needs.iter().any(|c| col(c).is_none()) {
                return Err(SchemaError::new(
                    path,
                    Some("suppression.headline".into()),
                    format!(
                        "the headline `{h}` must be a protected rate or statistic, and the table needs the columns {}",
                        needs.join(", ")
                    ),
                ));
            }
        }
        if let Some(e) = &sup.exempt {
            need(
                "suppression.exempt.column".into(),
                &e.column,
                &[ColumnType::Utf8],
            )?;
        }
        for c in sup.protected_columns() {
            let status = format!("{c}_status");
            match col(&status) {
                Some(s) if s.data_type == ColumnType::Utf8 && s.nullable => {}
                _ => {
                    return Err(SchemaError::new(
                        path,
                        Some("suppression".into()),
                        format!(
                            "protected column `{c}` needs a nullable utf8 column `{status}` (the EES symbol `c` when suppressed)"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The Arrow schema of the table, columns in file order (lineage last).
    pub fn arrow_schema(&self) -> SchemaRef {
        // `finish` always sets it; an unfinished TableDef cannot leave this crate.
        self.schema
            .clone()
            .unwrap_or_else(|| Arc::new(Schema::empty()))
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether the table has the lineage column `name`.
    pub fn has_column(&self, name: &str) -> bool {
        self.column(name).is_some()
    }
}

fn is_snake_case(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
