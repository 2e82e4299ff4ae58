//! Reading a JSON value as a column type: text from files is parsed (dates, whole numbers,
//! decimals, booleans), typed API values are taken as they are, so both kinds of source agree.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sendlake_schema::ColumnType;
use serde_json::Value as Json;

use crate::conform::{parse_bool, parse_date};
use crate::rows::Value;

/// The first run of ASCII digits in `s`.
pub(super) fn first_number(s: &str) -> Option<i64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let digits: String = s[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub(super) fn json_scalar_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn json_text(v: &Json) -> String {
    json_scalar_text(v).unwrap_or_else(|| v.to_string())
}

fn days_from_epoch(d: NaiveDate) -> Option<i32> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

pub(super) fn month_start(days: i32) -> Option<i32> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
