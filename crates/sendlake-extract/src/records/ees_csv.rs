//! The DfE's published statistics as files: the flat CSV layout of every Explore Education
//! Statistics download (send-domain.md §4.4), read in long form, one record per row and
//! indicator, in the same shape as the EES API connector's records, so the DfE's files and its
//! API fill `ees_observation` through one mapping and reach the same KPI columns.
//!
//! A file is wide: the standard time and geography columns, then filter columns (many SEND
//! files use `breakdown_topic` + `breakdown`), then one column per indicator, with the DfE's
//! symbols (`x`, `z`, `c`, `low`, `u`, legacy `:` and `~`) in place of numbers. Which columns
//! are filters is declared (the layout itself does not say); every column that is neither a
//! standard one, a declared filter nor a declared `ignore` is an indicator, so an indicator the
//! DfE adds in a later release loads without a configuration change.
//!
//! Each record is an object with `file` (the file's name: which data set), `time_period`, `time_identifier`, `geographic_level`,
//! `location_code` and `location_name` (the country, region or LA the row is about, by its
//! level; the LA's nine-character code), `country_code`, `region_code`, `la_code` (the old
//! three-digit code, which joins the rest of the lake), `new_la_code`, `filter_key` (as
//! [`filter_key`] builds it, `""` without filters), `filter_<column>` per filter, `indicator`,
//! `indicator_label` and `unit` (null: the file has only the column name), `value` (a number,
//! or null) and `status` (the symbol's code, `""` for a number or an empty
//! cell). A cell that is neither a number nor a symbol is a record error (`EES_CSV_VALUE`)
//! for that one indicator; the row's other indicators still load.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::open_data::{CellValue, filter_key};
use super::{CsvFormat, Encoding, Origin, RecordError, RecordErrorKind, RecordFormat, RecordIter};
use super::{SourceRecord, file_error};

/// The standard time and geography columns of the layout. They are never indicators.
const STANDARD: [&str; 10] = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
];

/// Reads a DfE statistics CSV in the EES flat layout as one record per row and indicator.
///
/// ```
/// use sendlake_extract::records::{EesCsvFormat, FileFormatConfig};
///
/// let cfg: FileFormatConfig = serde_json::from_str(
///     r#"{"type": "ees_csv", "filters": ["breakdown_topic", "breakdown"]}"#,
/// )?;
/// assert_eq!(cfg.format().name(), "ees_csv");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EesCsvFormat {
    /// The filter columns (e.g. `breakdown_topic`, `breakdown`, `age_group`): each row's
    /// `filter_key` is built from them.
    pub filters: Vec<String>,
    /// Columns that are neither filters nor indicators (labels, notes): left out.
    pub ignore: Vec<String>,
    /// The text encoding (UTF-8 unless the DfE ever says otherwise).
    pub encoding: Encoding,
}

impl RecordFormat for EesCsvFormat {
    fn name(&self) -> &'static str {
        "ees_csv"
    }

    fn open(&self, path: &Path) -> RecordIter {
        let csv = CsvFormat {
            encoding: self.encoding,
            ..CsvFormat::default()
        };
        let format = self.clone();
        let mut rows = csv.open(path);
        let mut pending: std::vec::IntoIter<Result<SourceRecord, RecordError>> =
            Vec::new().into_iter();
        // A whole-file error ends the file, as every reader's does.
        let mut done = false;
        Box::new(std::iter::from_fn(move || {
            loop {
                if let Some(next) = pending.next() {
                    return Some(next);
                }
                if done {
                    return None;
                }
                let expanded = match rows.next()? {
                    Ok(row) => format.expand(row),
                    Err(e) => vec![Err(e)],
                };
                done = expanded
                    .iter()
                    .any(|r| r.as_ref().is_err_and(|e| e.kind == RecordErrorKind::File));
                pending = expanded.into_iter();
            }
        }))
    }
}

impl EesCsvFormat {
    /// One wide row → one record per indicator column, in column order.
    fn expand(&self, row: SourceRecord) -> Vec<Result<SourceRecord, RecordError>> {
        let SourceRecord { value, origin } = row;
        let Value::Object(cells) = value else {
            return Vec::new();
        };
        if let Some(missing) = ["time_period", "geographic_level"]
            .into_iter()
            .find(|c| !cells.contains_key(*c))
        {
            return vec![Err(file_error(
                "FILE_BAD_HEADER",
                &origin.location,
                origin.position.clone(),
                format!("not the DfE's flat CSV layout: there is no `{missing}` column"),
            ))];
        }
        let text = |name: &str| match cells.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
            _ => Value::Null,
        };
        let level = text("geographic_level");
        let (code, name) = match level.as_str() {
            Some("National") => ("country_code", "country_name"),
            Some("Regional") => ("region_code", "region_name"),
            _ => ("new_la_code", "la_name"),
        };
        let mut filters = BTreeMap::new();
        for f in &self.filters {
            if let Some(Value::String(label)) = cells.get(f) {
                filters.insert(f.clone(), label.clone());
            }
        }
        let mut common = Map::new();
        common.insert("file".into(), Value::String(origin.location.clone()));
        common.insert("time_period".into(), text("time_period"));
        common.insert("time_identifier".into(), text("time_identifier"));
        common.insert("geographic_level".into(), level.clone());
        common.insert("location_code".into(), text(code));
        common.insert("location_name".into(), text(name));
        common.insert("country_code".into(), text("country_code"));
        common.insert("region_code".into(), text("region_code"));
        common.insert("la_code".into(), text("old_la_code"));
        common.insert("new_la_code".into(), text("new_la_code"));
        common.insert("filter_key".into(), Value::String(filter_key(&filters)));
        for f in &self.filters {
            common.insert(format!("filter_{f}"), text(f));
        }

        let mut out = Vec::new();
        for (column, cell) in &cells {
            if STANDARD.contains(&column.as_str())
                || self.filters.contains(column)
                || self.ignore.contains(column)
            {
                continue;
            }
            let origin = Origin {
                location: origin.location.clone(),
                position: format!("{} column {column}", origin.position),
            };
            let (value, status) = match cell {
                Value::String(s) => match CellValue::parse(s) {
                    Some(CellValue::Number(n)) => (Value::Number(n), ""),
                    Some(CellValue::Symbol(sym)) => (Value::Null, sym.code()),
                    None => {
                        out.push(Err(RecordError {
                            kind: RecordErrorKind::Record,
                            reason: "EES_CSV_VALUE",
                            message: format!(
                                "column `{column}` holds neither a number nor a DfE symbol"
                            ),
                            origin,
                            raw: Some(s.clone()),
                        }));
                        continue;
                    }
                },
                _ => (Value::Null, ""),
            };
            let mut m = common.clone();
            m.insert("indicator".into(), Value::String(column.clone()));
            m.insert("indicator_label".into(), Value::Null);
            m.insert("unit".into(), Value::Null);
            m.insert("value".into(), value);
            m.insert("status".into(), Value::String(status.to_owned()));
            out.push(Ok(SourceRecord {
                value: Value::Object(m),
                origin,
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(format: &EesCsvFormat, text: &str) -> Vec<Result<SourceRecord, RecordError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.csv");
        std::fs::write(&path, text).unwrap();
        format.open(&path).collect()
    }

    const HEADER: &str = "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,new_la_code,old_la_code,la_name,breakdown_topic,breakdown,requests_received_in_year,request_assess_pc\n";

    #[test]
    fn a_row_becomes_one_record_per_indicator_with_symbols_as_status() {
        let format = EesCsvFormat {
            filters: vec!["breakdown_topic".into(), "breakdown".into()],
            ..EesCsvFormat::default()
        };
        let text = format!(
            "{HEADER}2025,Calendar year,Local authority,E92000001,England,E12000006,East of England,E10000015,919,\"Hertford, shire\",All requests,All requests,3340,x\n\
             2025,Calendar year,National,E92000001,England,,,,,,All requests,All requests,109000,62.2\n"
        );
        let records: Vec<SourceRecord> = read(&format, &text)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(records.len(), 4);
        let find = |level: &str, indicator: &str| {
            records
                .iter()
                .find(|r| r.value["geographic_level"] == level && r.value["indicator"] == indicator)
                .unwrap()
        };
        let la = &find("Local authority", "requests_received_in_year").value;
        assert_eq!(la["indicator"], "requests_received_in_year");
        assert_eq!(la["file"], "requests.csv");
        assert_eq!(la["value"], 3340);
        assert_eq!(la["status"], "");
        assert_eq!(la["la_code"], "919");
        assert_eq!(la["new_la_code"], "E10000015");
        assert_eq!(la["location_code"], "E10000015");
        assert_eq!(la["location_name"], "Hertford, shire");
        assert_eq!(
            la["filter_key"],
            "breakdown=All requests;breakdown_topic=All requests"
        );
        assert_eq!(la["filter_breakdown"], "All requests");
        assert_eq!(
            find("Local authority", "requests_received_in_year")
                .origin
                .position,
            "line 2 column requests_received_in_year"
        );
        let symbol = &find("Local authority", "request_assess_pc").value;
        assert_eq!(symbol["indicator"], "request_assess_pc");
        assert_eq!(symbol["value"], Value::Null);
        assert_eq!(symbol["status"], "x");
        let england = &find("National", "request_assess_pc").value;
        assert_eq!(england["location_code"], "E92000001");
        assert_eq!(england["location_name"], "England");
        assert_eq!(england["la_code"], Value::Null);
        assert_eq!(england["value"], 62.2);
    }

    #[test]
    fn a_bad_cell_loses_its_indicator_only_and_ignored_columns_are_left_out() {
        let format = EesCsvFormat {
            ignore: vec!["breakdown_topic".into(), "breakdown".into()],
            ..EesCsvFormat::default()
        };
        let text =
            format!("{HEADER}2025,Calendar year,National,E92000001,England,,,,,,All,All,1 234,~\n");
        let out = read(&format, &text);
        assert_eq!(out.len(), 2);
        let err = out.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(err.reason, "EES_CSV_VALUE");
        assert!(err.message.contains("requests_received_in_year"));
        assert!(!err.message.contains("1 234"), "{}", err.message);
        let low = out.iter().find_map(|r| r.as_ref().ok()).unwrap();
        assert_eq!(low.value["status"], "low");
        assert_eq!(low.value["filter_key"], "");
    }

    #[test]
    fn a_file_that_is_not_the_layout_is_refused() {
        let out = read(&EesCsvFormat::default(), "a,b\n1,2\n");
        assert_eq!(out.len(), 1);
        let err = out[0].as_ref().unwrap_err();
        assert_eq!(err.kind, RecordErrorKind::File);
        assert_eq!(err.reason, "FILE_BAD_HEADER");
    }

    #[test]
    fn the_dfe_sample_files_load_whole() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/dfe");
        let format = EesCsvFormat {
            filters: vec!["breakdown_topic".into(), "breakdown".into()],
            ..EesCsvFormat::default()
        };
        for (file, rows, indicators) in [
            ("timeliness_20_week_2019_sample.csv", 15, 16),
            ("requests_2019_sample.csv", 6, 17),
        ] {
            let out: Vec<_> = format.open(&dir.join(file)).collect();
            assert!(
                out.iter().all(Result::is_ok),
                "{file}: {:?}",
                out.iter().find(|r| r.is_err())
            );
            assert_eq!(out.len(), rows * indicators, "{file}");
        }
    }
}
