//! One query result row → one flat record per requested indicator (long format), with the
//! row's opaque ids turned back into the codes and labels of the data set's metadata.

use std::collections::BTreeMap;

use sendlake_extract::records::{CellValue, Origin, SourceRecord, filter_key};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::codes;
use crate::error::{EesError, EesReason};
use crate::meta::{LocationInfo, Resolved};

/// A result row as the OpenAPI's `DataSetQueryResultViewModel` describes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    time_period: RowTime,
    geographic_level: String,
    locations: BTreeMap<String, String>,
    filters: BTreeMap<String, String>,
    values: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct RowTime {
    code: String,
    period: String,
}

/// What every record of one data set shares.
pub(crate) struct DataSetContext<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub version: &'a str,
    pub resolved: &'a Resolved,
    /// The page's endpoint (path and query), for errors.
    pub endpoint: &'a str,
}

/// Longest value quoted in an error message; longer ones are cut (values are public
/// statistics, but a runaway string would swamp the log).
const QUOTE_LIMIT: usize = 60;

fn quote(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if text.chars().count() > QUOTE_LIMIT {
        let cut: String = text.chars().take(QUOTE_LIMIT).collect();
        format!("{cut}…")
    } else {
        text
    }
}

impl DataSetContext<'_> {
    fn error(&self, reason: EesReason, position: &str, message: String, raw: &Value) -> EesError {
        EesError {
            reason,
            data_set_id: self.id.to_owned(),
            endpoint: self.endpoint.to_owned(),
            position: Some(position.to_owned()),
            message,
            raw: Some(raw.to_string().into()),
        }
    }

    fn location(&self, level: &str, id: &str) -> Result<&LocationInfo, String> {
        self.resolved
            .locations
            .get(&(level.to_owned(), id.to_owned()))
            .ok_or_else(|| format!("location id `{id}` at level {level} is not in the metadata"))
    }

    /// Appends the records of result row `raw` (item `item` of page `page`) to `out`: one per
    /// requested indicator, or row errors. Rows the config's filters do not keep (see
    /// [`Resolved::required`]) add nothing.
    pub(crate) fn row(
        &self,
        raw: &Value,
        page: u64,
        item: usize,
        out: &mut Vec<Result<SourceRecord, EesError>>,
    ) {
        let position = format!("page {page} item {item}");
        let row = match Row::deserialize(raw) {
            Ok(row) => row,
            Err(e) => {
                out.push(Err(self.error(
                    EesReason::Row,
                    &position,
                    format!("result row is not the documented shape: {e}"),
                    raw,
                )));
                return;
            }
        };
        let kept = self.resolved.required.iter().all(|(filter, options)| {
            row.filters
                .get(filter)
                .is_some_and(|option| options.contains(option))
        });
        if !kept {
            return;
        }
        match self.base(&row) {
            Ok((base, described)) => {
                for ind in &self.resolved.indicators {
                    let parsed = match row.values.get(&ind.id) {
                        None => Err(format!(
                            "no value for indicator `{}` ({described})",
                            ind.column
                        )),
                        Some(Value::Number(n)) => Ok((Value::Number(n.clone()), "")),
                        Some(v @ Value::String(s)) => match CellValue::parse(s) {
                            Some(CellValue::Number(n)) => Ok((Value::Number(n), "")),
                            Some(CellValue::Symbol(sym)) => Ok((Value::Null, sym.code())),
                            None => Err(not_a_value(&ind.column, v, &described)),
                        },
                        Some(v) => Err(not_a_value(&ind.column, v, &described)),
                    };
                    match parsed {
                        Ok((value, status)) => {
                            let mut rec = base.clone();
                            rec.insert("indicator".into(), Value::String(ind.column.clone()));
                            rec.insert("indicator_label".into(), Value::String(ind.label.clone()));
                            rec.insert("unit".into(), Value::String(ind.unit.clone()));
                            rec.insert("value".into(), value);
                            rec.insert("status".into(), Value::String(status.to_owned()));
                            out.push(Ok(SourceRecord {
                                value: Value::Object(rec),
                                origin: Origin {
                                    location: format!("ees:{}", self.id),
                                    position: position.clone(),
                                },
                            }));
                        }
                        Err(message) => {
                            out.push(Err(self.error(EesReason::Value, &position, message, raw)));
                        }
                    }
                }
            }
            Err(message) => out.push(Err(self.error(EesReason::Row, &position, message, raw))),
        }
    }

    /// The fields every indicator's record of `row` shares, and a short description of the
    /// row (period, location, filters) for value errors.
    fn base(&self, row: &Row) -> Result<(Map<String, Value>, String), String> {
        let level = row.geographic_level.as_str();
        let own_id = row
            .locations
            .get(level)
            .ok_or_else(|| format!("no location at the row's own level {level}"))?;
        let own = self.location(level, own_id)?;
        let code_at = |lvl: &str| -> Result<Option<&LocationInfo>, String> {
            row.locations
                .get(lvl)
                .map(|id| self.location(lvl, id))
                .transpose()
        };
        let country = code_at("NAT")?;
        let region = code_at("REG")?;
        let la = code_at("LA")?;
        // Ids at other levels (a school's LA district, say) must be known too, even though
        // no field shows them: an unknown id means meta and data disagree.
        for (lvl, id) in &row.locations {
            self.location(lvl, id)?;
        }
        let time = &row.time_period;
        let time_identifier = codes::time_identifier(&time.code)
            .ok_or_else(|| format!("unknown time period code `{}`", time.code))?;

        let mut filters = BTreeMap::new();
        for (filter_id, option_id) in &row.filters {
            let f = self
                .resolved
                .filters
                .get(filter_id)
                .ok_or_else(|| format!("filter id `{filter_id}` is not in the metadata"))?;
            let label = f.options.get(option_id).ok_or_else(|| {
                format!(
                    "option id `{option_id}` of filter `{}` is not in the metadata",
                    f.column
                )
            })?;
            filters.insert(f.column.clone(), label.clone());
        }
        let key = filter_key(&filters);
        let location_code = own.code.clone().or_else(|| own.other_code.clone());
        let described = format!(
            "{} {}, {} {}, filters `{key}`",
            time.period,
            time.code,
            level,
            location_code.as_deref().unwrap_or(&own.label)
        );

        let text = |s: &str| Value::String(s.to_owned());
        let opt = |s: Option<&String>| s.map_or(Value::Null, |s| Value::String(s.clone()));
        let mut m = Map::new();
        m.insert("data_set_id".into(), text(self.id));
        m.insert("data_set_title".into(), text(self.title));
        m.insert("data_set_version".into(), text(self.version));
        m.insert(
            "time_period".into(),
            Value::String(codes::csv_time_period(&time.period)),
        );
        m.insert("time_identifier".into(), Value::String(time_identifier));
        m.insert("time_period_code".into(), text(&time.code));
        m.insert(
            "geographic_level".into(),
            Value::String(
                self.resolved
                    .level_label(level)
                    .unwrap_or_else(|| level.to_owned()),
            ),
        );
        m.insert("geographic_level_code".into(), text(level));
        m.insert("location_code".into(), opt(location_code.as_ref()));
        m.insert("location_name".into(), text(&own.label));
        m.insert(
            "country_code".into(),
            opt(country.and_then(|c| c.code.as_ref())),
        );
        m.insert(
            "region_code".into(),
            opt(region.and_then(|r| r.code.as_ref())),
        );
        m.insert("la_code".into(), opt(la.and_then(|l| l.old_code.as_ref())));
        m.insert("new_la_code".into(), opt(la.and_then(|l| l.code.as_ref())));
        m.insert("filter_key".into(), Value::String(key));
        for column in &self.resolved.filter_columns {
            m.insert(format!("filter_{column}"), opt(filters.get(column)));
        }
        m.insert(
            "filters".into(),
            Value::Object(
                filters
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        );
        Ok((m, described))
    }
}

fn not_a_value(indicator: &str, value: &Value, row: &str) -> String {
    format!(
        "indicator `{indicator}` has value {}, which is neither a number nor a symbol \
         (z, x, c, low, u; legacy : and ~) ({row})",
        quote(value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::FIXED_FIELDS;
    use crate::config::EesDataSetConfig;
    use crate::error::EesErrorKind;
    use crate::meta::{Meta, resolve};
    use serde_json::json;

    fn resolved(ds: &EesDataSetConfig) -> Resolved {
        let meta: Meta = serde_json::from_value(json!({
            "filters": [{"id": "F1", "column": "age_group", "label": "Age",
                         "options": [{"id": "o1", "label": "Total"}, {"id": "o2", "label": "Under 5"}]}],
            "indicators": [{"id": "I1", "column": "ehc_plans", "label": "EHC plans", "unit": ""},
                           {"id": "I2", "column": "pc", "label": "Share", "unit": "%"}],
            "geographicLevels": [{"code": "NAT", "label": "National"}, {"code": "REG", "label": "Regional"},
                                 {"code": "LA", "label": "Local authority"}],
            "locations": [
                {"level": {"code": "NAT"}, "options": [{"id": "n", "label": "England", "code": "E92000001"}]},
                {"level": {"code": "REG"}, "options": [{"id": "r", "label": "East of England", "code": "E12000006"}]},
                {"level": {"code": "LA"}, "options": [{"id": "l", "label": "Hertfordshire", "code": "E10000015", "oldCode": "919"}]}
            ],
            "timePeriods": [{"code": "AY", "period": "2024/2025", "label": "2024/25"}]
        }))
        .unwrap();
        resolve(ds, &meta).unwrap()
    }

    fn run_with(ds: &EesDataSetConfig, row: Value) -> Vec<Result<SourceRecord, EesError>> {
        let r = resolved(ds);
        let ctx = DataSetContext {
            id: "d",
            title: "T",
            version: "1.0",
            resolved: &r,
            endpoint: "v1/data-sets/d/query",
        };
        let mut out = Vec::new();
        ctx.row(&row, 2, 5, &mut out);
        out
    }

    fn run(row: Value) -> Vec<Result<SourceRecord, EesError>> {
        run_with(&EesDataSetConfig::new("d", 1), row)
    }

    fn la_row(values: Value) -> Value {
        json!({"timePeriod": {"code": "AY", "period": "2024/2025"}, "geographicLevel": "LA",
               "locations": {"NAT": "n", "REG": "r", "LA": "l"}, "filters": {"F1": "o1"},
               "values": values})
    }

    #[test]
    fn a_row_becomes_one_flat_record_per_indicator() {
        let out = run(la_row(json!({"I1": "13365", "I2": "c"})));
        assert_eq!(out.len(), 2);
        let a = &out[0].as_ref().unwrap().value;
        assert_eq!(a["indicator"], "ehc_plans");
        assert_eq!(a["value"], 13365);
        assert_eq!(a["status"], "");
        assert_eq!(a["time_period"], "202425");
        assert_eq!(a["time_identifier"], "Academic year");
        assert_eq!(a["geographic_level"], "Local authority");
        assert_eq!(a["geographic_level_code"], "LA");
        assert_eq!(a["location_code"], "E10000015");
        assert_eq!(a["la_code"], "919");
        assert_eq!(a["new_la_code"], "E10000015");
        assert_eq!(a["region_code"], "E12000006");
        assert_eq!(a["country_code"], "E92000001");
        assert_eq!(a["filter_key"], "age_group=Total");
        assert_eq!(a["filter_age_group"], "Total");
        assert_eq!(a["filters"], json!({"age_group": "Total"}));
        let fields: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        for f in FIXED_FIELDS {
            assert!(fields.contains(&f), "missing {f}");
        }
        assert_eq!(fields.len(), FIXED_FIELDS.len() + 1);
        let b = &out[1].as_ref().unwrap();
        assert_eq!(b.value["value"], Value::Null);
        assert_eq!(b.value["status"], "c");
        assert_eq!(b.value["unit"], "%");
        assert_eq!(b.origin.position, "page 2 item 5");
        assert_eq!(b.origin.location, "ees:d");
    }

    #[test]
    fn a_bad_value_is_a_row_error_naming_indicator_value_and_row() {
        let out = run(la_row(json!({"I1": "12", "I2": "n/a"})));
        assert!(out[0].is_ok());
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.kind(), EesErrorKind::Row);
        assert_eq!(e.reason, EesReason::Value);
        let text = e.to_string();
        for needle in [
            "`d`",
            "page 2 item 5",
            "`pc`",
            "\"n/a\"",
            "2024/2025 AY, LA E10000015",
        ] {
            assert!(text.contains(needle), "missing {needle} in {text}");
        }
        assert!(e.raw.as_deref().unwrap().contains("n/a"));
    }

    #[test]
    fn malformed_rows_and_unknown_ids_are_row_errors() {
        let mut bad_location = la_row(json!({"I1": "1", "I2": "2"}));
        bad_location["locations"]["LA"] = json!("zzz");
        let mut bad_option = la_row(json!({"I1": "1", "I2": "2"}));
        bad_option["filters"]["F1"] = json!("o9");
        let mut bad_filter = la_row(json!({"I1": "1", "I2": "2"}));
        bad_filter["filters"] = json!({"F7": "o1"});
        let mut bad_code = la_row(json!({"I1": "1", "I2": "2"}));
        bad_code["timePeriod"]["code"] = json!("W53");
        let mut no_value = la_row(json!({"I1": "1"}));
        no_value["values"]["I2"] = json!(true);
        for (row, needle) in [
            (json!({"values": {}}), "not the documented shape"),
            (bad_location, "location id `zzz` at level LA"),
            (la_row(json!({"I1": "1"})), "no value for indicator `pc`"),
            (no_value, "has value true"),
            (bad_option, "option id `o9` of filter `age_group`"),
            (bad_filter, "filter id `F7`"),
            (bad_code, "unknown time period code `W53`"),
        ] {
            let out = run(row);
            let e = out.iter().find_map(|r| r.as_ref().err()).expect("an error");
            assert_eq!(e.kind(), EesErrorKind::Row);
            assert!(e.message.contains(needle), "{needle}: {e}");
        }
        // The GET query's `filters.in` is an OR over all listed options; a row whose option
        // the config does not keep is dropped on arrival, without an error.
        let mut ds = EesDataSetConfig::new("d", 1);
        ds.filters.insert("age_group".into(), vec!["Total".into()]);
        let mut under5 = la_row(json!({"I1": "1", "I2": "2"}));
        under5["filters"]["F1"] = json!("o2");
        assert!(run_with(&ds, under5).is_empty());
        assert_eq!(
            run_with(&ds, la_row(json!({"I1": "1", "I2": "2"}))).len(),
            2
        );
    }
}
