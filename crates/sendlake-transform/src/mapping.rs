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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sendlake_extract::records::SourceRecord;
use sendlake_schema::{CodeList, ColumnType, Derive, RuleScope, SchemaRegistry, TableDef};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::conform::{parse_bool, parse_date};
use crate::identifiers::{UpnKind, check_nhs_number, check_uln, check_upn, postcode_district};
use crate::privacy::PseudonymisationKey;
use crate::rows::Value;

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

    /// The stored form of a raw record id (pseudonymised unless the stream says otherwise).
    pub fn stored_id(&self, raw: &str) -> String {
        if self.pseudonymise_id {
            self.key.pseudonym(RECORD_ID_DOMAIN, raw)
        } else {
            raw.to_owned()
        }
    }

    /// The raw id of a record, if it has one: the text or number at the id pointer, or the
    /// parts of a composite id joined with `|` (a missing part is empty; all missing is none).
    pub fn raw_id(&self, value: &Json) -> Option<String> {
        let part = |p: &String| match value.pointer(p) {
            Some(Json::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if let [one] = self.id.as_slice() {
            return part(one);
        }
        let parts: Vec<Option<String>> = self.id.iter().map(part).collect();
        if parts.iter().all(Option::is_none) {
            return None;
        }
        Some(
            parts
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect::<Vec<_>>()
                .join("|"),
        )
    }

    /// Maps one record.
    ///
    /// # Errors
    /// [`DriftStop`] when the record drifts and the policy is `freeze`.
    pub fn map(&self, record: &SourceRecord, links: &LinkMap) -> Result<Mapped, DriftStop> {
        let mut out = Mapped::default();
        let value = &record.value;
        if !value.is_object() {
            out.rejects.push(whole(
                "RECORD_NOT_OBJECT",
                "",
                "the record is not a JSON object".into(),
            ));
            return Ok(out);
        }
        out.raw_id = self.raw_id(value);
        let Some(raw_id) = out.raw_id.clone() else {
            let at = self.id.join(", ");
            out.rejects
                .push(whole("RECORD_ID_MISSING", &at, format!("no id at `{at}`")));
            return Ok(out);
        };
        out.record_id = Some(self.stored_id(&raw_id));
        out.drift = self.find_drift(value);
        if let Some(first) = out.drift.first() {
            match self.drift {
                DriftPolicy::Freeze => {
                    return Err(DriftStop {
                        drift: first.clone(),
                        origin: record.origin.to_string(),
                    });
                }
                DriftPolicy::Quarantine => {
                    out.rejects.push(whole(
                        first.kind.rule(),
                        &first.field,
                        format!(
                            "schema drift in field `{}` ({})",
                            first.field,
                            first.kind.rule()
                        ),
                    ));
                    return Ok(out);
                }
                DriftPolicy::Evolve => {}
            }
        }
        let person = match &self.person {
            Some(p) => match self.person_key(p, value, links, &mut out.rejects) {
                Some(k) => Some(k),
                None => {
                    out.rejects.push(whole(
                        "RECORD_NO_IDENTIFIER",
                        "",
                        "no valid UPN, ULN or NHS number for the person key".into(),
                    ));
                    return Ok(out);
                }
            },
            None => None,
        };
        if let Some(pk) = &person
            && let Some(nhs) = &pk.nhs_key
        {
            out.link = Some((nhs.clone(), pk.key.to_string(), pk.basis));
        }
        let stored_id: Arc<str> = Arc::from(out.record_id.as_deref().unwrap_or_default());
        let mut row = Vec::with_capacity(self.columns.len());
        for col in &self.columns {
            let cell = match &col.fill {
                Fill::Lineage(d) => match d {
                    Derive::LineageSource => Value::Shared(self.source.clone()),
                    Derive::LineageStream => Value::Shared(self.stream.clone()),
                    Derive::LineageRecordId => Value::Shared(stored_id.clone()),
                    Derive::LineageSourceFile => Value::Utf8(record.origin.location.clone()),
                    Derive::LineageRunId => Value::Shared(self.run_id.clone()),
                    Derive::LineageLoadedAt => Value::TimestampUs(self.loaded_at_us),
                    _ => Value::Null,
                },
                Fill::Constant(v) => v.clone(),
                Fill::Person(d) => match (d, &person) {
                    (MapDerive::PersonKey, Some(p)) => Value::Shared(p.key.clone()),
                    (MapDerive::PersonKeyBasis, Some(p)) => Value::Utf8(p.basis.to_owned()),
                    (MapDerive::NhsNumberKey, Some(p)) => {
                        p.nhs_key.clone().map_or(Value::Null, Value::Utf8)
                    }
                    _ => Value::Null,
                },
                Fill::Field {
                    pointer,
                    derive,
                    format,
                    map,
                    default,
                    nulls,
                    required,
                } => match self.field(
                    col,
                    &FieldSpec {
                        pointer,
                        derive: *derive,
                        format: format.as_deref(),
                        map,
                        default: default.as_deref(),
                        nulls,
                    },
                    value,
                ) {
                    Ok(v) => {
                        if matches!(v, Value::Null) && *required {
                            out.rejects.retain(|r| r.whole_record);
                            out.rejects.push(whole(
                                "REQUIRED_MISSING",
                                pointer,
                                format!(
                                    "no value for required column `{}` (field `{pointer}`)",
                                    col.name
                                ),
                            ));
                            out.row = None;
                            return Ok(out);
                        }
                        v
                    }
                    Err(mut reject) => {
                        if *required || !col.nullable {
                            reject.whole_record = true;
                            out.rejects.retain(|r| r.whole_record);
                            out.rejects.push(reject);
                            return Ok(out);
                        }
                        out.rejects.push(reject);
                        Value::Null
                    }
                },
            };
            row.push(cell);
        }
        out.row = Some(row);
        Ok(out)
    }

    fn field(
        &self,
        col: &Column,
        how: &FieldSpec<'_>,
        record: &Json,
    ) -> Result<Value, RecordReject> {
        let FieldSpec {
            pointer,
            derive,
            format,
            map,
            default,
            nulls,
        } = *how;
        let raw = match record.pointer(pointer) {
            None | Some(Json::Null) => return Ok(Value::Null),
            Some(Json::String(s)) if s.trim().is_empty() => return Ok(Value::Null),
            Some(Json::String(s)) if nulls.iter().any(|n| n == s.trim()) => return Ok(Value::Null),
            Some(v) => v,
        };
        // Partner codes are translated before the value is typed, so a map can also turn
        // `Approved` into `true` for a boolean column.
        let text = json_scalar_text(raw).map(|t| t.trim().to_owned());
        let translated = text.as_deref().and_then(|t| {
            map.get(t).or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(t))
                    .map(|(_, v)| v)
            })
        });
        let fallback = match (translated, default, text.as_deref()) {
            (None, Some(d), Some(t)) => {
                let is_code = col
                    .code_list
                    .as_ref()
                    .is_some_and(|l| l.contains(t) || l.contains(&t.to_ascii_uppercase()));
                (!is_code).then_some(d)
            }
            _ => None,
        };
        let substituted = translated
            .map(String::as_str)
            .or(fallback)
            .map(|t| Json::String(t.to_owned()));
        let original = raw;
        let raw = substituted.as_ref().unwrap_or(raw);
        let reject = |reason: &'static str, message: String| RecordReject {
            whole_record: false,
            reason,
            field: pointer.to_owned(),
            raw_value: Some(json_text(original)),
            message,
        };
        match derive {
            Some(MapDerive::RecordRef) => {
                let id = match raw {
                    Json::String(s) => s.trim().to_owned(),
                    Json::Number(n) => n.to_string(),
                    _ => {
                        return Err(reject(
                            "VALUE_TYPE",
                            format!("`{pointer}` is not an id (text or number)"),
                        ));
                    }
                };
                return Ok(Value::Utf8(self.stored_id(&id)));
            }
            Some(MapDerive::MonthStart) => {
                let d = coerce(raw, ColumnType::Date32, format)
                    .map_err(|e| reject("VALUE_TYPE", format!("`{pointer}`: {e}")))?;
                return Ok(match d {
                    Value::Date32(days) => month_start(days).map_or(Value::Null, Value::Date32),
                    other => other,
                });
            }
            Some(MapDerive::FirstNumber) => {
                let n = match raw {
                    Json::Number(n) => n.as_i64(),
                    Json::String(s) => first_number(s),
                    _ => None,
                };
                let n = n.ok_or_else(|| {
                    reject("VALUE_TYPE", format!("`{pointer}` holds no whole number"))
                })?;
                return coerce(&Json::from(n), col.data_type, None)
                    .map_err(|e| reject("VALUE_TYPE", format!("`{pointer}`: {e}")));
            }
            Some(MapDerive::PostcodeDistrict) => {
                let text = json_scalar_text(raw)
                    .ok_or_else(|| reject("VALUE_TYPE", format!("`{pointer}` is not text")))?;
                return postcode_district(&text).map(Value::Utf8).ok_or_else(|| {
                    reject("VALUE_TYPE", format!("`{pointer}` is not a UK postcode"))
                });
            }
            _ => {}
        }
        let mut v = coerce(raw, col.data_type, format).map_err(|e| {
            reject(
                "VALUE_TYPE",
                format!("`{pointer}` for column `{}`: {e}", col.name),
            )
        })?;
        if let (Some(list), Value::Utf8(s)) = (&col.code_list, &v) {
            let code = if list.contains(s) {
                Some(s.clone())
            } else {
                let upper = s.to_ascii_uppercase();
                list.contains(&upper).then_some(upper)
            };
            let Some(code) = code else {
                return Err(reject(
                    "CODE_UNKNOWN",
                    format!(
                        "`{pointer}` is not a code of `{}` (nor mapped to one)",
                        list.name
                    ),
                ));
            };
            v = if derive == Some(MapDerive::CodeMainGroup) {
                Value::Utf8(list.main_group(&code).unwrap_or(&code).to_owned())
            } else {
                Value::Utf8(code)
            };
        }
        Ok(v)
    }

    fn person_key(
        &self,
        ids: &PersonIdentifiers,
        record: &Json,
        links: &LinkMap,
        rejects: &mut Vec<RecordReject>,
    ) -> Option<PersonKey> {
        let text = |p: &Option<String>| {
            p.as_deref()
                .and_then(|p| record.pointer(p))
                .and_then(json_scalar_text)
                .map(|s| s.trim().to_ascii_uppercase())
                .filter(|s| !s.is_empty())
        };
        let mut invalid = |pointer: &Option<String>, what: &str, raw: &str| {
            rejects.push(RecordReject {
                whole_record: false,
                reason: "IDENTIFIER_INVALID",
                field: pointer.clone().unwrap_or_default(),
                raw_value: Some(raw.to_owned()),
                message: format!("{what} fails its format or check-digit test"),
            });
        };
        let la_ok = |code: &str| self.la_codes.as_ref().is_none_or(|l| l.contains(code));
        let mut upn = None;
        if let Some(u) = text(&ids.upn) {
            match check_upn(&u, la_ok) {
                Ok(kind) => upn = Some((kind, u)),
                Err(_) => invalid(&ids.upn, "UPN", &u),
            }
        }
        let mut uln = None;
        if let Some(u) = text(&ids.uln) {
            match check_uln(&u) {
                Ok(()) => uln = Some(u),
                Err(_) => invalid(&ids.uln, "ULN", &u),
            }
        }
        let mut nhs = None;
        if let Some(n) = text(&ids.nhs_number) {
            match check_nhs_number(&n) {
                Some(n) => nhs = Some(n),
                None => invalid(&ids.nhs_number, "NHS number", &n),
            }
        }
        let nhs_key = nhs.as_deref().map(|n| self.key.pseudonym("nhs_number", n));
        // The same precedence and domains as the SEN2 conformer, so keys agree across sources.
        let own = match (&upn, &uln) {
            (Some((UpnKind::Permanent, u)), _) => Some(("upn", self.key.pseudonym("upn", u))),
            (_, Some(u)) => Some(("uln", self.key.pseudonym("uln", u))),
            (Some((UpnKind::Temporary, u)), _) => {
                Some(("upn_temporary", self.key.pseudonym("upn", u)))
            }
            _ => None,
        };
        let (basis, key): (&'static str, Arc<str>) = match own {
            Some((b, k)) => (b, Arc::from(k)),
            None => match nhs_key.as_deref().and_then(|k| links.get(k)) {
                Some((k, b)) => (*b, k.clone()),
                None => ("nhs_number", Arc::from(nhs_key.clone()?)),
            },
        };
        Some(PersonKey {
            key,
            basis,
            nhs_key,
        })
    }

    fn find_drift(&self, record: &Json) -> Vec<Drift> {
        let mut found = Vec::new();
        let mut leaves = Vec::new();
        collect_leaves(record, &mut String::new(), &mut leaves);
        for leaf in leaves {
            let covered = self.known.iter().any(|k| {
                k == &leaf
                    || k.is_empty()
                    || (k.len() > leaf.len()
                        && k.starts_with(&leaf)
                        && k.as_bytes()[leaf.len()] == b'/')
                    || (leaf.len() > k.len()
                        && leaf.starts_with(k)
                        && leaf.as_bytes()[k.len()] == b'/')
            });
            if !covered {
                found.push(Drift {
                    kind: DriftKind::NewField,
                    field: leaf,
                });
            }
        }
        for p in &self.read {
            if p.is_empty() {
                continue;
            }
            let (parent, _) = p.rsplit_once('/').unwrap_or(("", p));
            let parent_is_object = record.pointer(parent).is_some_and(Json::is_object);
            if parent_is_object && record.pointer(p).is_none() {
                found.push(Drift {
                    kind: DriftKind::RemovedField,
                    field: p.clone(),
                });
            }
        }
        if self.ctx.typed_json {
            for col in &self.columns {
                if let Fill::Field {
                    pointer,
                    derive,
                    map,
                    default,
                    ..
                } = &col.fill
                    // A value the mapping translates is text by design, whatever the column.
                    && map.is_empty()
                    && default.is_none()
                    && let Some(v) = record.pointer(pointer)
                    && !kind_fits(v, col.data_type, *derive)
                {
                    found.push(Drift {
                        kind: DriftKind::TypeChange,
                        field: pointer.clone(),
                    });
                }
            }
        }
        found
    }
}

/// How one field is read (borrowed from its [`Fill::Field`]).
#[derive(Clone, Copy)]
struct FieldSpec<'m> {
    pointer: &'m str,
    derive: Option<MapDerive>,
    format: Option<&'m str>,
    map: &'m BTreeMap<String, String>,
    default: Option<&'m str>,
    nulls: &'m [String],
}

/// The first run of ASCII digits in `s`.
fn first_number(s: &str) -> Option<i64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let digits: String = s[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

struct PersonKey {
    key: Arc<str>,
    basis: &'static str,
    nhs_key: Option<String>,
}

fn whole(reason: &'static str, field: &str, message: String) -> RecordReject {
    RecordReject {
        whole_record: true,
        reason,
        field: field.to_owned(),
        raw_value: None,
        message,
    }
}

/// Leaf pointers of a JSON value: scalars, empty objects and arrays (arrays count as one
/// leaf: their items are positional, and a mapping reads into them by index).
fn collect_leaves(v: &Json, path: &mut String, out: &mut Vec<String>) {
    match v {
        Json::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                collect_leaves(child, path, out);
                path.truncate(len);
            }
        }
        _ => out.push(path.clone()),
    }
}

/// Whether a JSON value's type is the one a column of `t` expects from a typed API.
fn kind_fits(v: &Json, t: ColumnType, derive: Option<MapDerive>) -> bool {
    if v.is_null() {
        return true;
    }
    if matches!(derive, Some(MapDerive::RecordRef | MapDerive::FirstNumber)) {
        return v.is_string() || v.is_number();
    }
    match t {
        ColumnType::Utf8 => v.is_string() || v.is_number(),
        ColumnType::Int32 | ColumnType::Int64 | ColumnType::Float64 => v.is_number(),
        ColumnType::Bool => v.is_boolean(),
        ColumnType::Date32 | ColumnType::TimestampUsUtc => v.is_string(),
    }
}

fn json_scalar_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn json_text(v: &Json) -> String {
    json_scalar_text(v).unwrap_or_else(|| v.to_string())
}

fn days_from_epoch(d: NaiveDate) -> Option<i32> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

fn month_start(days: i32) -> Option<i32> {
    use chrono::Datelike;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let d = epoch.checked_add_signed(chrono::TimeDelta::days(i64::from(days)))?;
    days_from_epoch(d.with_day(1)?)
}

/// Reads a JSON value as a column type. Text is parsed (files give only text); numbers and
/// booleans are taken as they are.
///
/// # Errors
/// A message saying what the value is not (never the value itself).
pub fn coerce(v: &Json, t: ColumnType, format: Option<&str>) -> Result<Value, String> {
    let text = match v {
        Json::Null => return Ok(Value::Null),
        Json::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(Value::Null);
            }
            Some(s)
        }
        _ => None,
    };
    let bad = |what: &str| Err(format!("not {what}"));
    match t {
        ColumnType::Utf8 => match v {
            Json::String(_) => Ok(Value::Utf8(text.unwrap_or_default().to_owned())),
            Json::Number(n) => Ok(Value::Utf8(n.to_string())),
            Json::Bool(b) => Ok(Value::Utf8(b.to_string())),
            _ => bad("text"),
        },
        ColumnType::Int32 | ColumnType::Int64 => {
            let n = match (v, text) {
                (Json::Number(n), _) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                }),
                (_, Some(s)) => s.replace(',', "").parse::<i64>().ok(),
                _ => None,
            };
            match (n, t) {
                (Some(n), ColumnType::Int64) => Ok(Value::Int64(n)),
                (Some(n), _) => i32::try_from(n)
                    .map(Value::Int32)
                    .or_else(|_| bad("a 32-bit whole number")),
                (None, _) => bad("a whole number"),
            }
        }
        ColumnType::Float64 => match (v, text) {
            (Json::Number(n), _) => n
                .as_f64()
                .map(Value::Float64)
                .ok_or_else(|| "not a number".into()),
            (_, Some(s)) => s
                .replace(',', "")
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Float64)
                .ok_or_else(|| "not a number".into()),
            _ => bad("a number"),
        },
        ColumnType::Bool => match (v, text) {
            (Json::Bool(b), _) => Ok(Value::Bool(*b)),
            (Json::Number(n), _) => match n.as_i64() {
                Some(0) => Ok(Value::Bool(false)),
                Some(1) => Ok(Value::Bool(true)),
                _ => bad("true or false"),
            },
            (_, Some(s)) => match s.to_ascii_lowercase().as_str() {
                "yes" | "y" => Ok(Value::Bool(true)),
                "no" | "n" => Ok(Value::Bool(false)),
                other => parse_bool(other)
                    .map(Value::Bool)
                    .ok_or_else(|| "not true or false".into()),
            },
            _ => bad("true or false"),
        },
        ColumnType::Date32 => {
            let Some(s) = text else {
                return bad("a date");
            };
            let d = match format {
                Some(f) => NaiveDate::parse_from_str(s, f).ok(),
                // ISO dates, and the date part of ISO date-times (`2026-01-15T00:00:00Z`).
                None => parse_date(s).or_else(|| s.get(..10).and_then(parse_date)),
            };
            d.and_then(days_from_epoch)
                .map(Value::Date32)
                .ok_or_else(|| match format {
                    Some(f) => format!("not a date in the format `{f}`"),
                    None => "not an ISO date (YYYY-MM-DD)".into(),
                })
        }
        ColumnType::TimestampUsUtc => {
            let Some(s) = text else {
                return bad("a timestamp");
            };
            let t = match format {
                Some(f) => NaiveDateTime::parse_from_str(s, f)
                    .ok()
                    .map(|t| t.and_utc()),
                None => DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
                    .or_else(|| {
                        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                            .ok()
                            .map(|t| t.and_utc())
                    }),
            };
            t.map(|t| Value::TimestampUs(t.timestamp_micros()))
                .ok_or_else(|| "not an RFC 3339 timestamp".into())
        }
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

/// Rows of the secure `quarantine/record_rejects` table, filled by column name so the table
/// file decides the order.
pub struct RejectRows {
    rows: crate::rows::TableRows,
    slots: Vec<RejectSlot>,
    loaded_at_us: i64,
}

#[derive(Debug, Clone, Copy)]
enum RejectSlot {
    RunId,
    Source,
    Stream,
    RecordId,
    Level,
    TableName,
    SourceFile,
    Position,
    Reason,
    Field,
    RawValue,
    RawRecord,
    Message,
    RejectedAt,
}

/// One row of `quarantine/record_rejects`.
#[derive(Debug, Clone)]
pub struct RejectEntry<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// Source.
    pub source: &'a str,
    /// Stream.
    pub stream: &'a str,
    /// Raw record id, empty if none.
    pub record_id: &'a str,
    /// `file`, `record` or `field`.
    pub level: &'a str,
    /// Target table.
    pub table: &'a str,
    /// File name or redacted URL.
    pub source_file: &'a str,
    /// Position.
    pub position: &'a str,
    /// Reason code.
    pub reason: &'a str,
    /// Field pointer or header, empty if none.
    pub field: &'a str,
    /// Raw value.
    pub raw_value: Option<&'a str>,
    /// Raw record as JSON text.
    pub raw_record: Option<&'a str>,
    /// Message.
    pub message: &'a str,
}

impl std::fmt::Debug for RejectRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RejectRows")
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

/// Name of the partner-record quarantine table.
pub const RECORD_REJECTS_TABLE: &str = "quarantine/record_rejects";

impl RejectRows {
    /// Rows for the registry's `quarantine/record_rejects`.
    ///
    /// # Errors
    /// If the table is missing or has a column this code does not fill.
    pub fn new(
        registry: &SchemaRegistry,
        loaded_at: DateTime<Utc>,
        batch_rows: usize,
    ) -> Result<Self, String> {
        let def = registry
            .table(RECORD_REJECTS_TABLE)
            .ok_or_else(|| format!("schema has no table {RECORD_REJECTS_TABLE}"))?;
        let slots = def
            .columns
            .iter()
            .map(|c| {
                Ok(match c.name.as_str() {
                    "run_id" => RejectSlot::RunId,
                    "source" => RejectSlot::Source,
                    "stream" => RejectSlot::Stream,
                    "record_id" => RejectSlot::RecordId,
                    "level" => RejectSlot::Level,
                    "table_name" => RejectSlot::TableName,
                    "source_file" => RejectSlot::SourceFile,
                    "position" => RejectSlot::Position,
                    "reason_code" => RejectSlot::Reason,
                    "field" => RejectSlot::Field,
                    "raw_value" => RejectSlot::RawValue,
                    "raw_record" => RejectSlot::RawRecord,
                    "message" => RejectSlot::Message,
                    "rejected_at" => RejectSlot::RejectedAt,
                    other => {
                        return Err(format!(
                            "{RECORD_REJECTS_TABLE} has column `{other}`, which nothing fills"
                        ));
                    }
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            rows: crate::rows::TableRows::new(def, batch_rows),
            slots,
            loaded_at_us: loaded_at.timestamp_micros(),
        })
    }

    /// Adds one reject.
    ///
    /// # Errors
    /// An Arrow error building the batch.
    pub fn push(&mut self, e: &RejectEntry<'_>) -> Result<(), arrow_schema::ArrowError> {
        let text = |s: &str| Value::Utf8(s.to_owned());
        let opt = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Utf8(s.to_owned()));
        let row: Vec<Value> = self
            .slots
            .iter()
            .map(|slot| match slot {
                RejectSlot::RunId => text(e.run_id),
                RejectSlot::Source => text(e.source),
                RejectSlot::Stream => text(e.stream),
                RejectSlot::RecordId => text(e.record_id),
                RejectSlot::Level => text(e.level),
                RejectSlot::TableName => text(e.table),
                RejectSlot::SourceFile => text(e.source_file),
                RejectSlot::Position => text(e.position),
                RejectSlot::Reason => text(e.reason),
                RejectSlot::Field => text(e.field),
                RejectSlot::RawValue => opt(e.raw_value),
                RejectSlot::RawRecord => opt(e.raw_record),
                RejectSlot::Message => text(e.message),
                RejectSlot::RejectedAt => Value::TimestampUs(self.loaded_at_us),
            })
            .collect();
        self.rows.push(&row)
    }

    /// Whether a batch is ready.
    pub fn is_full(&self) -> bool {
        self.rows.is_full()
    }

    /// Takes the rows so far as a batch.
    ///
    /// # Errors
    /// An Arrow error.
    pub fn take_batch(
        &mut self,
    ) -> Result<Option<arrow_array::RecordBatch>, arrow_schema::ArrowError> {
        self.rows.take_batch()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use sendlake_extract::records::Origin;
    use serde_json::json;

    fn registry() -> SchemaRegistry {
        SchemaRegistry::embedded().unwrap()
    }

    fn ctx(typed_json: bool) -> StreamContext {
        StreamContext {
            source: "src".into(),
            stream: "st".into(),
            run_id: "run".into(),
            loaded_at: DateTime::UNIX_EPOCH,
            typed_json,
        }
    }

    fn mapper(toml_text: &str, typed: bool) -> Result<RecordMapper, String> {
        let cfg: MappingConfig = toml::from_str(toml_text).unwrap();
        RecordMapper::new(
            &registry(),
            Arc::new(PseudonymisationKey::demo()),
            &cfg,
            ctx(typed),
        )
    }

    fn rec(v: Json) -> SourceRecord {
        SourceRecord {
            value: v,
            origin: Origin {
                location: "f".into(),
                position: "item 1".into(),
            },
        }
    }

    const FEEDBACK: &str = r#"
table = "family_feedback"
id = "/id"
# Test records leave fields out; under `evolve` that is reported, not rejected.
drift = "evolve"
[[columns]]
name = "submitted_date"
from = "/date"
format = "%d/%m/%Y"
[[columns]]
name = "respondent_group"
from = "/group"
map = { "Parent/carer" = "parent_carer" }
default = "professional"
[[columns]]
name = "locality"
from = "/locality"
[[columns]]
name = "rating_kept_informed"
from = "/a"
nulls = ["n/a"]
[[columns]]
name = "rating_needs_understood"
from = "/b"
[[columns]]
name = "rating_listened_to"
from = "/c"
[[columns]]
name = "rating_support_quick"
from = "/d"
[[columns]]
name = "rating_overall"
value = 4
"#;

    fn feedback(v: Json) -> Mapped {
        mapper(FEEDBACK, false)
            .unwrap()
            .map(&rec(v), &LinkMap::default())
            .unwrap()
    }

    #[test]
    fn coerces_maps_defaults_and_nulls() {
        let m = feedback(
            json!({"id": "R1", "date": "04/01/2026", "group": "parent/CARER",
            "locality": "North", "a": "n/a", "b": "3", "c": 5, "d": ""}),
        );
        assert!(m.rejects.is_empty(), "{:?}", m.rejects);
        let row = m.row.unwrap();
        let days = (NaiveDate::from_ymd_opt(2026, 1, 4).unwrap()
            - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as i32;
        assert_eq!(row[0], Value::Date32(days));
        assert_eq!(
            row[1],
            Value::Utf8("parent_carer".into()),
            "map ignores case"
        );
        assert_eq!(row[3], Value::Null, "`n/a` is declared a null");
        assert_eq!(row[4], Value::Int32(3));
        assert_eq!(row[5], Value::Int32(5));
        assert_eq!(row[6], Value::Null);
        assert_eq!(row[7], Value::Int32(4), "constant");
        // Not in the map and not a code: the default.
        let m = feedback(json!({"id": "R2", "date": "05/01/2026", "group": "Teacher"}));
        assert_eq!(m.row.unwrap()[1], Value::Utf8("professional".into()));
    }

    #[test]
    fn bad_values_reject_the_field_or_the_record() {
        // A nullable column: nulled and reported, the record loads.
        let m = feedback(
            json!({"id": "R1", "date": "04/01/2026", "group": "Parent/carer", "b": "three"}),
        );
        assert_eq!(m.rejects.len(), 1);
        assert_eq!(m.rejects[0].reason, "VALUE_TYPE");
        assert!(!m.rejects[0].whole_record);
        assert_eq!(m.rejects[0].raw_value.as_deref(), Some("three"));
        assert!(
            !m.rejects[0].message.contains("three"),
            "messages never carry the value"
        );
        assert!(m.row.is_some());
        // A required column: the record is rejected.
        let m = feedback(json!({"id": "R1", "date": "2026-01-04", "group": "Parent/carer"}));
        assert!(m.row.is_none());
        assert_eq!(m.rejects.len(), 1);
        assert!(m.rejects[0].whole_record);
        assert_eq!(m.rejects[0].reason, "VALUE_TYPE");
        // No id.
        let m = feedback(json!({"date": "04/01/2026", "group": "Parent/carer"}));
        assert_eq!(m.rejects[0].reason, "RECORD_ID_MISSING");
        let m = feedback(json!([1, 2]));
        assert_eq!(m.rejects[0].reason, "RECORD_NOT_OBJECT");
    }

    #[test]
    fn record_ids_are_pseudonymised_and_composite_ids_join_their_parts() {
        let m = feedback(json!({"id": "R1", "date": "04/01/2026", "group": "Parent/carer"}));
        let id = m.record_id.unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, "R1");
        assert_eq!(m.raw_id.as_deref(), Some("R1"));
        let text = FEEDBACK.replace(
            "id = \"/id\"",
            "id = [\"/id\", \"/locality\"]\npseudonymise_id = false",
        );
        let m = mapper(&text, false).unwrap();
        let v = json!({"id": 7, "locality": "East"});
        assert_eq!(m.raw_id(&v).as_deref(), Some("7|East"));
        assert_eq!(m.raw_id(&json!({"id": 7})).as_deref(), Some("7|"));
        assert_eq!(m.raw_id(&json!({"x": 1})), None);
        assert_eq!(m.stored_id("7|East"), "7|East");
    }

    #[test]
    fn mapping_errors_name_the_key() {
        let missing = FEEDBACK.replace(
            "[[columns]]\nname = \"locality\"\nfrom = \"/locality\"\n",
            "",
        );
        let e = mapper(&missing, false).unwrap_err();
        assert!(e.contains("`locality` is not mapped"), "{e}");
        let twice = format!("{FEEDBACK}\n[[columns]]\nname = \"locality\"\nfrom = \"/x\"\n");
        assert!(mapper(&twice, false).unwrap_err().contains("mapped twice"));
        let lineage = format!("{FEEDBACK}\n[[columns]]\nname = \"run_id\"\nfrom = \"/x\"\n");
        assert!(
            mapper(&lineage, false)
                .unwrap_err()
                .contains("lineage column")
        );
        let bad = FEEDBACK.replace("from = \"/locality\"", "from = \"locality\"");
        assert!(
            mapper(&bad, false)
                .unwrap_err()
                .contains("not a JSON pointer")
        );
        let fmt = FEEDBACK.replace(
            "from = \"/locality\"",
            "from = \"/locality\"\nformat = \"%Y\"",
        );
        assert!(
            mapper(&fmt, false)
                .unwrap_err()
                .starts_with("columns[2].format")
        );
        let sen2 = FEEDBACK.replace("family_feedback", "person");
        assert!(mapper(&sen2, false).unwrap_err().contains("record_lineage"));
    }

    const REFERRAL: &str = r#"
table = "health_referral"
id = "/id"
drift = "quarantine"
ignore = ["/name"]
[person]
upn = "/upn"
nhs_number = "/nhs"
[[columns]]
name = "person_key"
derive = "person_key"
[[columns]]
name = "person_key_basis"
derive = "person_key_basis"
[[columns]]
name = "nhs_number_key"
derive = "nhs_number_key"
[[columns]]
name = "service_line"
from = "/line"
[[columns]]
name = "provider_code"
value = "RY4"
[[columns]]
name = "service_code"
value = "RY4-X"
[[columns]]
name = "referral_date"
from = "/referred"
[[columns]]
name = "first_contact_date"
from = "/contact"
[[columns]]
name = "discharge_date"
from = "/discharge"
"#;

    fn referral(v: Json, links: &LinkMap, policy: &str) -> Result<Mapped, DriftStop> {
        let text = REFERRAL.replace("drift = \"quarantine\"", &format!("drift = \"{policy}\""));
        mapper(&text, true).unwrap().map(&rec(v), links)
    }

    fn base() -> Json {
        json!({"id": "F1", "upn": null, "nhs": "943 476 5919", "line": "physiotherapy",
               "referred": "2025-03-01", "contact": null, "discharge": null, "name": "never loaded"})
    }

    #[test]
    fn person_keys_follow_the_sen2_precedence_and_links() {
        let key = PseudonymisationKey::demo();
        let m = referral(base(), &LinkMap::default(), "quarantine").unwrap();
        let row = m.row.unwrap();
        let nhs_key = key.pseudonym("nhs_number", "9434765919");
        assert_eq!(row[0], Value::Shared(Arc::from(nhs_key.as_str())));
        assert_eq!(row[1], Value::Utf8("nhs_number".into()));
        assert_eq!(row[2], Value::Utf8(nhs_key.clone()));
        // A link from another partner gives the UPN-based key.
        let mut links = LinkMap::default();
        links.insert(&nhs_key, "upn-key", "upn");
        let row = referral(base(), &links, "quarantine").unwrap().row.unwrap();
        assert_eq!(row[0], Value::Shared(Arc::from("upn-key")));
        assert_eq!(row[1], Value::Utf8("upn".into()));
        // The record's own UPN wins over a link, with the SEN2 conformer's key.
        let mut v = base();
        // A permanent UPN (a synthetic one, valid check letter) from the simulator's return.
        let upn = "H919200014004";
        assert!(crate::identifiers::check_upn(upn, |_| true).is_ok());
        v["upn"] = json!(upn);
        let row = referral(v, &links, "quarantine").unwrap().row.unwrap();
        assert_eq!(
            row[0],
            Value::Shared(Arc::from(key.pseudonym("upn", upn).as_str()))
        );
        assert_eq!(row[1], Value::Utf8("upn".into()));
        // A bad NHS number and nothing else: no key, record rejected; the bad value reported.
        let mut v = base();
        v["nhs"] = json!("9434765918");
        let m = referral(v, &LinkMap::default(), "quarantine").unwrap();
        assert!(m.row.is_none());
        assert_eq!(m.rejects.last().unwrap().reason, "RECORD_NO_IDENTIFIER");
    }

    #[test]
    fn drift_is_found_and_handled_by_policy() {
        let links = LinkMap::default();
        let mut added = base();
        added["colour"] = json!("red");
        let m = referral(added.clone(), &links, "quarantine").unwrap();
        assert!(m.row.is_none());
        assert_eq!(m.rejects[0].reason, "DRIFT_NEW_FIELD");
        assert_eq!(m.rejects[0].field, "/colour");
        let m = referral(added.clone(), &links, "evolve").unwrap();
        assert!(m.row.is_some());
        assert_eq!(m.drift.len(), 1);
        let e = referral(added, &links, "freeze").unwrap_err();
        assert_eq!(e.drift.kind, DriftKind::NewField);

        let mut removed = base();
        removed.as_object_mut().unwrap().remove("contact");
        assert_eq!(
            referral(removed, &links, "quarantine").unwrap().rejects[0].reason,
            "DRIFT_REMOVED_FIELD"
        );
        let mut retyped = base();
        retyped["referred"] = json!(20250301);
        assert_eq!(
            referral(retyped, &links, "quarantine").unwrap().rejects[0].reason,
            "DRIFT_TYPE_CHANGE"
        );
        // Ignored and null fields are not drift.
        assert!(referral(base(), &links, "freeze").unwrap().drift.is_empty());
    }

    #[test]
    fn coercion_rules() {
        use ColumnType as T;
        assert_eq!(
            coerce(&json!("1,234"), T::Int64, None),
            Ok(Value::Int64(1234))
        );
        assert_eq!(coerce(&json!(3.0), T::Int32, None), Ok(Value::Int32(3)));
        assert!(coerce(&json!(3.5), T::Int32, None).is_err());
        assert!(coerce(&json!("3000000000"), T::Int32, None).is_err());
        assert_eq!(coerce(&json!("Yes"), T::Bool, None), Ok(Value::Bool(true)));
        assert_eq!(coerce(&json!(0), T::Bool, None), Ok(Value::Bool(false)));
        assert_eq!(
            coerce(&json!(919), T::Utf8, None),
            Ok(Value::Utf8("919".into()))
        );
        assert!(coerce(&json!([1]), T::Utf8, None).is_err());
        assert_eq!(
            coerce(&json!("2026-01-15T10:00:00Z"), T::Date32, None),
            coerce(&json!("2026-01-15"), T::Date32, None)
        );
        assert!(coerce(&json!("31-02-2020"), T::Date32, Some("%d-%m-%Y")).is_err());
        assert_eq!(
            coerce(&json!("2026-01-15T10:00:00+01:00"), T::TimestampUsUtc, None),
            coerce(&json!("2026-01-15T09:00:00Z"), T::TimestampUsUtc, None)
        );
        assert_eq!(first_number("Aged 90+"), Some(90));
        assert_eq!(first_number("none"), None);
    }

    #[test]
    fn every_record_rule_is_declared() {
        check_rules(&registry()).unwrap();
    }
}
