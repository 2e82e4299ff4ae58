//! Mapping one partner record into a row: the id, drift under the stream's policy, the person
//! key (linked across partners), and each column's value, with the rejects that explain any gap.

use std::collections::BTreeMap;
use std::sync::Arc;

use sendlake_extract::records::SourceRecord;
use sendlake_schema::{ColumnType, Derive};
use serde_json::Value as Json;

use super::values::{coerce, first_number, json_scalar_text, json_text, month_start};
use super::{
    Column, Drift, DriftKind, DriftPolicy, DriftStop, Fill, LinkMap, MapDerive, Mapped,
    PersonIdentifiers, RECORD_ID_DOMAIN, RecordMapper, RecordReject,
};
use crate::identifiers::{UpnKind, check_nhs_number, check_uln, check_upn, postcode_district};
use crate::rows::Value;

impl RecordMapper {
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
