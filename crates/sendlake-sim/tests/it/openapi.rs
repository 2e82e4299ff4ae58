//! A small validator for the OpenAPI 3.0 schema subset the DfE's EES description uses:
//! `$ref`, `allOf`, `oneOf`, `type`, `nullable`, `enum`, `required`, `properties`,
//! `additionalProperties` (bool or schema), `items`, `format` (uuid, date-time),
//! `minLength`/`maxLength`, `minimum`/`maximum`.
//!
//! Purpose-built because no JSON-schema crate is in Cargo.lock. One deliberate reading:
//! the spec's `allOf` composes a base view model (with `additionalProperties: false`)
//! with an extension that is also closed; read literally, no object could satisfy both.
//! Its generator means "the union of the parts is closed", so `allOf` here merges
//! `properties` and `required` before checking, and `additionalProperties: false` applies
//! to the merged set.

use serde_json::{Map, Value};

pub struct Spec {
    doc: Value,
}

impl Spec {
    pub fn load() -> Spec {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ees/openapi-v1.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Spec {
            doc: serde_json::from_str(&text).unwrap(),
        }
    }

    /// The schema of `method path`'s `status` JSON response.
    pub fn response_schema(&self, path: &str, method: &str, status: u16) -> Value {
        let p = &self.doc["paths"][path][method]["responses"][status.to_string()];
        let s = p["content"]["application/json"]["schema"].clone();
        assert!(!s.is_null(), "no schema for {method} {path} {status}");
        s
    }

    /// Validates `v` against the response schema of `method path status`.
    pub fn check(&self, path: &str, method: &str, status: u16, v: &Value) {
        let schema = self.response_schema(path, method, status);
        let mut errors = Vec::new();
        self.validate(&schema, v, "$", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {path} {status} violates the spec:\n{}",
            errors.join("\n")
        );
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.strip_prefix('#').expect("local refs only");
                self.resolve(
                    self.doc
                        .pointer(ptr)
                        .unwrap_or_else(|| panic!("bad $ref {r}")),
                )
            }
            None => schema,
        }
    }

    /// Flattens `allOf` (recursively) into one schema: merged properties and required,
    /// other keywords from the first part that has them.
    fn flatten(&self, schema: &Value) -> Value {
        let schema = self.resolve(schema);
        let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
            return schema.clone();
        };
        let mut out: Map<String, Value> = schema
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "allOf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut props = Map::new();
        let mut required = Vec::new();
        for part in parts {
            let part = self.flatten(part);
            for (k, v) in part.as_object().unwrap() {
                match k.as_str() {
                    "properties" => props.extend(v.as_object().unwrap().clone()),
                    "required" => required.extend(v.as_array().unwrap().clone()),
                    _ => {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        if let Some(p) = out.get("properties").and_then(Value::as_object) {
            props.extend(p.clone());
        }
        if let Some(r) = out.get("required").and_then(Value::as_array) {
            required.extend(r.clone());
        }
        if !props.is_empty() {
            out.insert("properties".into(), Value::Object(props));
        }
        if !required.is_empty() {
            out.insert("required".into(), Value::Array(required));
        }
        Value::Object(out)
    }

    pub fn validate(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let s = self.flatten(schema);
        if v.is_null() {
            if s.get("nullable") == Some(&Value::Bool(true)) || s.as_object().unwrap().is_empty() {
                return;
            }
            // Untyped schemas (e.g. `detail: {nullable: true}`) accept anything.
            if s.get("type").is_none() && s.get("oneOf").is_none() && s.get("enum").is_none() {
                return;
            }
            errors.push(format!("{at}: null not allowed"));
            return;
        }
        if let Some(options) = s.get("oneOf").and_then(Value::as_array) {
            let passing = options
                .iter()
                .filter(|o| {
                    let mut e = Vec::new();
                    self.validate(o, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if passing != 1 {
                errors.push(format!("{at}: {passing} oneOf branches match {v}"));
            }
            return;
        }
        if let Some(values) = s.get("enum").and_then(Value::as_array)
            && !values.contains(v)
        {
            errors.push(format!("{at}: {v} not in enum"));
        }
        let ty = s.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            None => true,
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("boolean") => v.is_boolean(),
            Some(other) => panic!("unsupported type {other}"),
        };
        if !type_ok {
            errors.push(format!("{at}: expected {}, got {v}", ty.unwrap_or("?")));
            return;
        }
        if let Some(str) = v.as_str() {
            if let Some(min) = s.get("minLength").and_then(Value::as_u64)
                && (str.chars().count() as u64) < min
            {
                errors.push(format!("{at}: shorter than {min}"));
            }
            if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
                && (str.chars().count() as u64) > max
            {
                errors.push(format!("{at}: longer than {max}"));
            }
            match s.get("format").and_then(Value::as_str) {
                Some("uuid") if !is_uuid(str) => errors.push(format!("{at}: {str} is not a uuid")),
                Some("date-time") if chrono::DateTime::parse_from_rfc3339(str).is_err() => {
                    errors.push(format!("{at}: {str} is not an RFC 3339 date-time"))
                }
                _ => {}
            }
        }
        if let Some(n) = v.as_f64() {
            if s.get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n < m)
            {
                errors.push(format!("{at}: below minimum"));
            }
            if s.get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m)
            {
                errors.push(format!("{at}: above maximum"));
            }
        }
        if let (Some(items), Some(item_schema)) = (v.as_array(), s.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.validate(item_schema, item, &format!("{at}[{i}]"), errors);
            }
        }
        if let Some(obj) = v.as_object() {
            let props = s.get("properties").and_then(Value::as_object);
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: missing required {r}"));
                }
            }
            for (k, val) in obj {
                let path = format!("{at}.{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.validate(ps, val, &path, errors),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errors.push(format!("{at}: unexpected property {k}"))
                        }
                        Some(extra @ Value::Object(_)) => self.validate(extra, val, &path, errors),
                        _ => {}
                    },
                }
            }
        }
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn validator_rejects_what_it_should() {
    let spec = Spec::load();
    let schema = spec.response_schema("/v1/publications", "get", 200);
    let mut e = Vec::new();
    let bad = serde_json::json!({
        "paging": {"page": 1, "pageSize": 20, "totalResults": 1, "totalPages": "1"},
        "results": [{"id": "nope", "title": "t", "slug": "s", "summary": "x",
                      "lastPublished": "2025-01-01T00:00:00Z", "extra": 1}]
    });
    spec.validate(&schema, &bad, "$", &mut e);
    assert_eq!(e.len(), 3, "{e:?}");
}
