//! The declarative record mapper: partner records (REST APIs, CSV and Excel files, published
//! statistics) into SEND schema tables, as a source's mapping describes them.
//!
//! - [`MappingConfig`] is the `[[streams]]` mapping of a source file in `pipelines/sources/`:
//!   the target table, the record id, the person identifiers, the schema-drift policy, the
//!   fields deliberately not loaded (`ignore`) and one [`ColumnMapping`] per table column.
//! - [`RecordMapper::new`] checks a mapping against the table's definition once (every column
//!   mapped exactly once, types and derivations compatible) and compiles it.
//! - [`RecordMapper::map`] turns one [`SourceRecord`] into a [`Mapped`]: a row, or nothing, plus
//!   the rejects (record, field) and drift findings. It never fails on input; the only error is
//!   [`DriftStop`] under the `freeze` policy, which fails the whole source.
//! - [`LinkMap`] carries person keys across sources: an NHS record that carries only an NHS
//!   number gets the person key of the council record with the same NHS number, so a child's
//!   journey joins across partners.
//!
//! Values are pseudonymised with the same keyed HMAC and domains as the SEN2 conformer: a
//! permanent UPN gives the same person key here as in a SEN2 return.
//!
//! Here are the mapping (what a source's file says) and its compilation into a
//! [`RecordMapper`]; mapping one record is in `record`, reading a JSON value as a column type
//! (dates, numbers, booleans) in `values`, and the record-reject quarantine table in `rejects`.
//!
//! [`SourceRecord`]: sendlake_extract::records::SourceRecord

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sendlake_schema::{CodeList, ColumnType, Derive, RuleScope, SchemaRegistry, TableDef};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::privacy::PseudonymisationKey;
use crate::rows::Value;

mod record;
mod rejects;
mod values;

pub use rejects::{RECORD_REJECTS_TABLE, RejectEntry, RejectRows};
pub use values::coerce;

/// Pseudonym domain of record ids and references to them, so `cms_plan.request_id` joins
/// `cms_request.record_id`.
pub const RECORD_ID_DOMAIN: &str = "record_id";

/// What to do when records stop matching the mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftPolicy {
    /// Load what still maps and report the drift in the manifest. New fields are *not* added
    /// to the table: an unvetted partner field could be a child's name, and restricted tables
    /// only take columns someone has classified in `schemas/`.
    Evolve,
    /// Fail the source at the first drift: nothing of it is committed this run, its last good
    /// data stays published and the run is partial.
    Freeze,
    /// Quarantine each drifting record with the drift as its reason; load the rest.
    #[default]
    Quarantine,
}

/// Person identifiers of a record, as JSON pointers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonIdentifiers {
    /// Unique pupil number.
    #[serde(default)]
    pub upn: Option<String>,
    /// Unique learner number.
    #[serde(default)]
    pub uln: Option<String>,
    /// NHS number.
    #[serde(default)]
    pub nhs_number: Option<String>,
    /// Tables whose `nhs_number_key` → `person_key` pairs give a record that has only an NHS
    /// number the person key another partner already knows the child by.
    #[serde(default)]
    pub link_via: Vec<String>,
}

/// Derivations a column mapping can apply. Closed: each is implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapDerive {
    /// The person key from the stream's identifiers (UPN, ULN, temporary UPN, NHS number).
    PersonKey,
    /// Which identifier the person key came from.
    PersonKeyBasis,
    /// Keyed HMAC of the NHS number.
    NhsNumberKey,
    /// Keyed HMAC of another record's id (`from`), equal to that record's `record_id`.
    RecordRef,
    /// First day of the month of the date in `from` (birth date → birth month).
    MonthStart,
    /// Outward code of the postcode in `from`.
    PostcodeDistrict,
    /// The main group of the code in `from`, in the column's code list (ethnicity).
    CodeMainGroup,
    /// The first whole number in the text of `from` (`"Age 7"` → 7, `"Aged 90+"` → 90).
    FirstNumber,
}

/// A record id: one pointer, or several whose values are joined (a composite key).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdSpec {
    /// One field.
    One(String),
    /// Several fields, joined with `|` in order.
    Many(Vec<String>),
}

impl IdSpec {
    fn pointers(&self) -> &[String] {
        match self {
            IdSpec::One(p) => std::slice::from_ref(p),
            IdSpec::Many(ps) => ps,
        }
    }
}

/// One table column and where its value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// Table column.
    pub name: String,
    /// JSON pointer into the record (`/child/sex`; for files `/Header name`).
    #[serde(default)]
    pub from: Option<String>,
    /// A constant instead of `from`.
    #[serde(default)]
    pub value: Option<Json>,
    /// `chrono` format of a date or timestamp text, e.g. `%d-%m-%Y` (default ISO 8601).
    #[serde(default)]
    pub format: Option<String>,
    /// Partner code → SEND code. Values not in the map must already be valid codes.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// The value for text that is neither in `map` nor a valid code of the column's list.
    #[serde(default)]
    pub default: Option<String>,
    /// Texts that mean "no value" (e.g. `*` for a suppressed count).
    #[serde(default)]
    pub nulls: Vec<String>,
    /// Derivation.
    #[serde(default)]
    pub derive: Option<MapDerive>,
    /// A missing or invalid value rejects the record (non-nullable columns always do).
    #[serde(default)]
    pub required: bool,
}

/// How one stream's records map onto one table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Target table (`schemas/tables`), which must have `record_lineage = true`.
    pub table: String,
    /// JSON pointer to the record's id, or several for a composite key.
    pub id: IdSpec,
    /// Store the id as a keyed HMAC (default). Turn off only for public data (GIAS URNs).
    #[serde(default = "yes")]
    pub pseudonymise_id: bool,
    /// Person identifiers, for person-level tables.
    #[serde(default)]
    pub person: Option<PersonIdentifiers>,
    /// Schema-drift policy.
    #[serde(default)]
    pub drift: DriftPolicy,
    /// Fields read on purpose but never loaded (names, free text, fields used only by paging).
    /// A pointer covers its whole subtree.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Column mappings.
    pub columns: Vec<ColumnMapping>,
}

fn yes() -> bool {
    true
}

/// Run-wide values every row of a stream carries.
#[derive(Debug, Clone)]
pub struct StreamContext {
    /// Source name.
    pub source: String,
    /// Stream name.
    pub stream: String,
    /// Run id.
    pub run_id: String,
    /// Run start.
    pub loaded_at: DateTime<Utc>,
    /// Whether records are typed JSON (APIs): a value of the wrong JSON type is then schema
    /// drift. Files give text, which is parsed instead.
    pub typed_json: bool,
}

/// `nhs_number_key` → (`person_key`, basis), gathered from linking tables and from this run.
#[derive(Debug, Default, Clone)]
pub struct LinkMap {
    map: HashMap<String, (Arc<str>, &'static str)>,
}

impl LinkMap {
    /// Records that NHS number key `nhs_key` belongs to person `person_key` (made from `basis`).
    /// A person key made from a UPN or ULN wins over one made from the NHS number itself.
    pub fn insert(&mut self, nhs_key: &str, person_key: &str, basis: &str) {
        let basis = match basis {
            "upn" => "upn",
            "uln" => "uln",
            "upn_temporary" => "upn_temporary",
            _ => return,
        };
        self.map
            .entry(nhs_key.to_owned())
            .or_insert_with(|| (Arc::from(person_key), basis));
    }

    /// Number of links.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn get(&self, nhs_key: &str) -> Option<&(Arc<str>, &'static str)> {
        self.map.get(nhs_key)
    }
}

/// Which kind of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriftKind {
    /// A field nobody mapped or ignored.
    NewField,
    /// A mapped field is absent.
    RemovedField,
    /// A mapped field changed JSON type.
    TypeChange,
}

impl DriftKind {
    /// The rule id.
    pub fn rule(self) -> &'static str {
        match self {
            DriftKind::NewField => "DRIFT_NEW_FIELD",
            DriftKind::RemovedField => "DRIFT_REMOVED_FIELD",
            DriftKind::TypeChange => "DRIFT_TYPE_CHANGE",
        }
    }
}

/// One drift finding: kind and field pointer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Drift {
    /// Kind.
    pub kind: DriftKind,
    /// JSON pointer of the field.
    pub field: String,
}

/// A record or value that was not loaded as received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordReject {
    /// True when the whole record was not loaded.
    pub whole_record: bool,
    /// Rule id.
    pub reason: &'static str,
    /// Field pointer, empty for the whole record.
    pub field: String,
    /// Raw value (secure zone only).
    pub raw_value: Option<String>,
    /// What was wrong; names the field, never the value.
    pub message: String,
}

/// The freeze policy met drift: the source must fail.
#[derive(Debug, Clone, thiserror::Error)]
#[error("schema drift ({}) in field `{}` at {origin} under the freeze policy", .drift.kind.rule(), .drift.field)]
pub struct DriftStop {
    /// What drifted.
    pub drift: Drift,
    /// Where.
    pub origin: String,
}

/// The outcome of mapping one record.
#[derive(Debug, Clone, Default)]
pub struct Mapped {
    /// The row, in table column order; `None` if the record was rejected.
    pub row: Option<Vec<Value>>,
    /// The record's id as the source gives it (for the secure quarantine), if it had one.
    pub raw_id: Option<String>,
    /// The id as stored in `record_id` (pseudonymised unless the stream says otherwise).
    pub record_id: Option<String>,
    /// Rejects: at most one whole-record reject, any number of field rejects.
    pub rejects: Vec<RecordReject>,
    /// Drift found in the record (also the reason of a whole-record reject under quarantine).
    pub drift: Vec<Drift>,
    /// When the record gives both: its NHS number key and person key, for the [`LinkMap`].
    pub link: Option<(String, String, &'static str)>,
}

/// Every rule id the mapper can emit (checked against `schemas/rules.toml`).
pub const RULE_IDS: &[&str] = &[
    "RECORD_NOT_OBJECT",
    "RECORD_ID_MISSING",
    "REQUIRED_MISSING",
    "VALUE_TYPE",
    "CODE_UNKNOWN",
    "IDENTIFIER_INVALID",
    "RECORD_NO_IDENTIFIER",
    "DRIFT_NEW_FIELD",
    "DRIFT_REMOVED_FIELD",
    "DRIFT_TYPE_CHANGE",
];

/// What fills one table column.
#[derive(Debug, Clone)]
enum Fill {
    Lineage(Derive),
    Constant(Value),
    Field {
        pointer: String,
        derive: Option<MapDerive>,
        format: Option<String>,
        map: BTreeMap<String, String>,
        default: Option<String>,
        nulls: Vec<String>,
        required: bool,
    },
    Person(MapDerive),
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    data_type: ColumnType,
    nullable: bool,
    code_list: Option<CodeList>,
    fill: Fill,
}

/// A compiled mapping for one stream.
#[derive(Debug, Clone)]
pub struct RecordMapper {
    table: TableDef,
    id: Vec<String>,
    pseudonymise_id: bool,
    person: Option<PersonIdentifiers>,
    drift: DriftPolicy,
    /// Pointers the mapping reads or ignores (drift detection).
    known: Vec<String>,
    /// Pointers that must be present (removed-field detection).
    read: Vec<String>,
    columns: Vec<Column>,
    la_codes: Option<CodeList>,
    key: Arc<PseudonymisationKey>,
    ctx: StreamContext,
    source: Arc<str>,
    stream: Arc<str>,
    run_id: Arc<str>,
    loaded_at_us: i64,
}

fn check_pointer(p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "`{p}` is not a JSON pointer: it must be empty or start with `/`"
        ))
    }
}

impl RecordMapper {
    /// Checks `cfg` against its table and compiles it. The error names the key
    /// (`columns[3].derive`) and what is wrong; the caller adds the file name.
    ///
    /// # Errors
    /// An unknown table or column, a table column left unmapped or mapped twice, a
    /// derivation that does not fit the column, a bad pointer.
    pub fn new(
        registry: &SchemaRegistry,
        key: Arc<PseudonymisationKey>,
        cfg: &MappingConfig,
        ctx: StreamContext,
    ) -> Result<Self, String> {
        let table = registry
            .table(&cfg.table)
            .ok_or_else(|| format!("table: no table `{}` in schemas/tables", cfg.table))?;
        if !table.record_lineage {
            return Err(format!(
                "table: `{}` is not a partner-record table (it needs `record_lineage = true`)",
                cfg.table
            ));
        }
        let ids = cfg.id.pointers();
        if ids.is_empty() {
            return Err("id: give at least one pointer".into());
        }
        for p in ids {
            check_pointer(p).map_err(|e| format!("id: {e}"))?;
        }
        let mut known = ids.to_vec();
        let mut read = ids.to_vec();
        if let Some(p) = &cfg.person {
            for (k, ptr) in [
                ("upn", &p.upn),
                ("uln", &p.uln),
                ("nhs_number", &p.nhs_number),
            ] {
                if let Some(ptr) = ptr {
                    check_pointer(ptr).map_err(|e| format!("person.{k}: {e}"))?;
                    known.push(ptr.clone());
                    read.push(ptr.clone());
                }
            }
            for (i, t) in p.link_via.iter().enumerate() {
                let linked = registry
                    .table(t)
                    .ok_or_else(|| format!("person.link_via[{i}]: no table `{t}`"))?;
                if !linked.has_column("nhs_number_key") || !linked.has_column("person_key") {
                    return Err(format!(
                        "person.link_via[{i}]: table `{t}` has no nhs_number_key and person_key columns"
                    ));
                }
            }
        }
        for (i, p) in cfg.ignore.iter().enumerate() {
            check_pointer(p).map_err(|e| format!("ignore[{i}]: {e}"))?;
            known.push(p.clone());
        }
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for (i, m) in cfg.columns.iter().enumerate() {
            if by_name.insert(m.name.as_str(), i).is_some() {
                return Err(format!("columns[{i}].name: `{}` is mapped twice", m.name));
            }
            if table.column(&m.name).is_none() {
                return Err(format!(
                    "columns[{i}].name: table `{}` has no column `{}`",
                    cfg.table, m.name
                ));
            }
        }
        let mut columns = Vec::with_capacity(table.columns.len());
        for col in &table.columns {
            let code_list = col
                .code_list
                .as_deref()
                .and_then(|l| registry.code_list(l))
                .cloned();
            let lineage = col.derive.is_some_and(Derive::is_record_lineage);
            let fill = match (lineage, by_name.get(col.name.as_str())) {
                (true, Some(i)) => {
                    return Err(format!(
                        "columns[{i}].name: `{}` is a lineage column, filled by the pipeline",
                        col.name
                    ));
                }
                (true, None) => Fill::Lineage(col.derive.unwrap_or(Derive::LineageSource)),
                (false, None) => {
                    return Err(format!(
                        "columns: table `{}` column `{}` is not mapped (add a [[streams.columns]] entry with `from`, `value` or `derive`)",
                        cfg.table, col.name
                    ));
                }
                (false, Some(&i)) => {
                    let m = &cfg.columns[i];
                    let key = |k: &str| format!("columns[{i}].{k}");
                    if let Some(f) = &m.format
                        && !matches!(
                            col.data_type,
                            ColumnType::Date32 | ColumnType::TimestampUsUtc
                        )
                    {
                        return Err(format!(
                            "{}: `{f}` given for `{}`, which is not a date or timestamp",
                            key("format"),
                            col.name
                        ));
                    }
                    match (&m.from, &m.value, m.derive) {
                        (None, Some(v), None) => {
                            let value = coerce(v, col.data_type, None)
                                .map_err(|e| format!("{}: {e}", key("value")))?;
                            Fill::Constant(value)
                        }
                        (
                            None,
                            None,
                            Some(
                                d @ (MapDerive::PersonKey
                                | MapDerive::PersonKeyBasis
                                | MapDerive::NhsNumberKey),
                            ),
                        ) => {
                            if cfg.person.is_none() {
                                return Err(format!(
                                    "{}: `{d:?}` needs the stream's [streams.person] identifiers",
                                    key("derive")
                                ));
                            }
                            if col.data_type != ColumnType::Utf8 {
                                return Err(format!("{}: needs a utf8 column", key("derive")));
                            }
                            Fill::Person(d)
                        }
                        (Some(pointer), None, derive) => {
                            check_pointer(pointer).map_err(|e| format!("{}: {e}", key("from")))?;
                            let needs = match derive {
                                Some(MapDerive::MonthStart) => Some(ColumnType::Date32),
                                Some(MapDerive::FirstNumber) => None,
                                Some(
                                    MapDerive::PostcodeDistrict
                                    | MapDerive::RecordRef
                                    | MapDerive::CodeMainGroup,
                                ) => Some(ColumnType::Utf8),
                                Some(
                                    MapDerive::PersonKey
                                    | MapDerive::PersonKeyBasis
                                    | MapDerive::NhsNumberKey,
                                ) => {
                                    return Err(format!(
                                        "{}: person derivations take no `from`; they read [streams.person]",
                                        key("derive")
                                    ));
                                }
                                None => None,
                            };
                            if let Some(t) = needs
                                && t != col.data_type
                            {
                                return Err(format!(
                                    "{}: `{:?}` needs a {} column, `{}` is {}",
                                    key("derive"),
                                    derive,
                                    t.as_str(),
                                    col.name,
                                    col.data_type.as_str()
                                ));
                            }
                            if derive == Some(MapDerive::FirstNumber)
                                && !matches!(col.data_type, ColumnType::Int32 | ColumnType::Int64)
                            {
                                return Err(format!(
                                    "{}: first_number needs an int32 or int64 column",
                                    key("derive")
                                ));
                            }
                            if derive == Some(MapDerive::CodeMainGroup) && code_list.is_none() {
                                return Err(format!(
                                    "{}: code_main_group needs a column with a code list",
                                    key("derive")
                                ));
                            }
                            known.push(pointer.clone());
                            read.push(pointer.clone());
                            Fill::Field {
                                pointer: pointer.clone(),
                                derive,
                                format: m.format.clone(),
                                map: m.map.clone(),
                                default: m.default.clone(),
                                nulls: m.nulls.clone(),
                                required: m.required || !col.nullable,
                            }
                        }
                        _ => {
                            return Err(format!(
                                "columns[{i}]: give exactly one of `from` (optionally with `derive`), `value`, or a person `derive`"
                            ));
                        }
                    }
                }
            };
            columns.push(Column {
                name: col.name.clone(),
                data_type: col.data_type,
                nullable: col.nullable,
                code_list,
                fill,
            });
        }
        // Removed-field detection can only ask for a key inside an object: pointers through an
        // array index (`/named_settings/0/urn`) may be legitimately absent (an empty array).
        read.retain(|p| {
            !p.split('/')
                .any(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        });
        read.sort();
        read.dedup();
        Ok(Self {
            table: table.clone(),
            id: ids.to_vec(),
            pseudonymise_id: cfg.pseudonymise_id,
            person: cfg.person.clone(),
            drift: cfg.drift,
            known,
            read,
            columns,
            la_codes: registry.code_list("la_code").cloned(),
            key,
            source: Arc::from(ctx.source.as_str()),
            stream: Arc::from(ctx.stream.as_str()),
            run_id: Arc::from(ctx.run_id.as_str()),
            loaded_at_us: ctx.loaded_at.timestamp_micros(),
            ctx,
        })
    }

    /// The table this mapper fills.
    pub fn table(&self) -> &TableDef {
        &self.table
    }

    /// The drift policy.
    pub fn drift_policy(&self) -> DriftPolicy {
        self.drift
    }

    /// Tables to read person links from before mapping.
    pub fn link_tables(&self) -> &[String] {
        self.person.as_ref().map_or(&[], |p| p.link_via.as_slice())
    }
}

/// Checks that `schemas/rules.toml` declares exactly the record rules the mapper implements.
///
/// # Errors
/// Names the first rule missing on either side.
pub fn check_rules(registry: &SchemaRegistry) -> Result<(), String> {
    let declared: Vec<&str> = registry
        .rules()
        .iter()
        .filter(|r| r.applies_to == RuleScope::Records)
        .map(|r| r.id.as_str())
        .collect();
    if let Some(missing) = RULE_IDS.iter().find(|id| !declared.contains(id)) {
        return Err(format!(
            "rules.toml does not declare record rule `{missing}`, which the mapper implements"
        ));
    }
    if let Some(extra) = declared.iter().find(|id| !RULE_IDS.contains(id)) {
        return Err(format!(
            "rules.toml declares record rule `{extra}`, which the mapper does not implement"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests;
