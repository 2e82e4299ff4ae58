//! Records from sources other than SEN2: CSV and Excel files, partner APIs, published
//! statistics. Every one of them becomes a stream of [`SourceRecord`]s: a JSON value plus
//! where it came from. One shape for all of them is what lets a single declarative mapping
//! (in `sendlake-transform`) conform a partner API, a CSV extract and a spreadsheet alike.
//!
//! - [`SourceRecord`]: the record's JSON value (an object for every built-in format) and its
//!   [`Origin`] (file or redacted URL, and a position such as `line 12` or `sheet Audit row 4`).
//! - [`RecordFormat`]: one file format. A new format is one small module implementing it.
//! - [`RecordError`]: a whole file that cannot be read ([`RecordErrorKind::File`]) or one record
//!   that cannot be ([`RecordErrorKind::Record`]); the iterator goes on after a record error and
//!   ends after a file error.
//! - [`FileFormatConfig`]: the closed set of file formats a pipeline file can name
//!   (`{ type = "csv", delimiter = ";" }`, `{ type = "xlsx", sheet = "Audit" }`), each turned
//!   into its [`RecordFormat`] by [`FileFormatConfig::format`]: [`CsvFormat`] streams delimited
//!   text (UTF-8 or Windows-1252) in bounded memory; [`XlsxFormat`] reads one worksheet of an
//!   Excel workbook (in memory, so files over [`MAX_XLSX_BYTES`] are refused); [`EesCsvFormat`]
//!   reads the DfE's published statistics files in long form (the DfE's open data conventions:
//!   [`Symbol`]s, [`filter_key`]).
//!
//! # Reason codes
//!
//! File errors: `FILE_IO` (missing or unreadable), `FILE_CONFIG` (a format built in code with
//! an impossible option), `FILE_ENCODING` (invalid UTF-8), `FILE_NO_HEADER`, `FILE_BAD_HEADER`
//! (an empty or repeated column name), `FILE_NOT_XLSX`, `FILE_NO_SHEET`, `FILE_TOO_LARGE`.
//! Record errors: `CSV_FIELD_COUNT` (a row with more or fewer fields than the header),
//! `EES_CSV_VALUE` (a DfE statistics cell that is neither a number nor a symbol),
//! `XLSX_CELL_ERROR` (a cell holding an Excel error such as `#N/A`), `XLSX_UNNAMED_CELL` (a
//! value in a column that has no header).

mod csv;
mod ees_csv;
mod open_data;
mod xlsx;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::csv::{CsvFormat, Encoding};
pub use self::ees_csv::EesCsvFormat;
pub use self::open_data::{CellValue, Symbol, filter_key};
pub use self::xlsx::{MAX_XLSX_BYTES, MAX_XLSX_CELLS, XlsxFormat};

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File name (not the full path) or URL with secrets redacted.
    pub location: String,
    /// Position inside it: `line 12`, `sheet Audit row 4`, `page 3 item 17`.
    pub position: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.location, self.position)
    }
}

/// One record read from a source, before mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// The record. File formats give an object keyed by column header.
    pub value: Value,
    /// Where it came from.
    pub origin: Origin,
}

/// Whether an error loses one record or the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The file cannot be read at all (missing, not the format, bad encoding, no header).
    /// The reader yields nothing more.
    File,
    /// One record cannot be read (a malformed CSV line); the reader goes on with the next.
    Record,
}

/// A record or file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct RecordError {
    /// File or record.
    pub kind: RecordErrorKind,
    /// Reason code for the quarantine, e.g. `FILE_ENCODING`, `CSV_FIELD_COUNT`.
    pub reason: &'static str,
    /// Where.
    pub origin: Origin,
    /// What went wrong, naming the field where there is one. Never the value itself.
    pub message: String,
    /// The raw record text, when one was read (for the secure-zone quarantine only).
    pub raw: Option<String>,
}

/// The records of one file, in file order.
pub type RecordIter = Box<dyn Iterator<Item = Result<SourceRecord, RecordError>> + Send>;

/// Records from an array of JSON values (an API page, a fixture), numbered from 1 in order:
/// position `{prefix}item N`, e.g. `page 3 item 17` with prefix `"page 3 "`.
pub fn json_records(
    location: &str,
    prefix: &str,
    items: Vec<Value>,
) -> impl Iterator<Item = SourceRecord> {
    let (location, prefix) = (location.to_owned(), prefix.to_owned());
    items
        .into_iter()
        .enumerate()
        .map(move |(i, value)| SourceRecord {
            value,
            origin: Origin {
                location: location.clone(),
                position: format!("{prefix}item {}", i + 1),
            },
        })
}

/// One file format.
pub trait RecordFormat: Send + Sync {
    /// Short name for messages (`csv`, `xlsx`).
    fn name(&self) -> &'static str;
    /// Opens `path`. Errors opening the file come back as the iterator's only item, so callers
    /// have one place to handle them.
    fn open(&self, path: &Path) -> RecordIter;
}

/// The file formats a pipeline file can name: a closed set, so a new format is a compile
/// error everywhere it must be handled. Written as an inline table tagged by `type`; unknown
/// keys are refused, so a misspelt option fails the pipeline check rather than being ignored.
///
/// ```
/// use sendlake_extract::records::{Encoding, FileFormatConfig};
///
/// let cfg: FileFormatConfig = serde_json::from_str(
///     r#"{"type": "csv", "encoding": "windows_1252", "header_row": 3}"#,
/// )?;
/// let FileFormatConfig::Csv(csv) = &cfg else { panic!() };
/// assert_eq!((csv.encoding, csv.header_row, csv.delimiter), (Encoding::Windows1252, 3, ','));
/// assert_eq!(cfg.format().name(), "csv");
/// assert!(serde_json::from_str::<FileFormatConfig>(r#"{"type": "csv", "delimter": ";"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileFormatConfig {
    /// Delimited text, read by [`CsvFormat`].
    Csv(CsvFormat),
    /// An Excel workbook (`.xlsx`), read by [`XlsxFormat`].
    Xlsx(XlsxFormat),
    /// The DfE's published statistics in the EES flat CSV layout, one record per row and
    /// indicator, read by [`EesCsvFormat`].
    EesCsv(EesCsvFormat),
}

impl FileFormatConfig {
    /// Short name of the format (`csv`, `xlsx`), the same as [`RecordFormat::name`].
    pub fn name(&self) -> &'static str {
        match self {
            Self::Csv(f) => f.name(),
            Self::Xlsx(f) => f.name(),
            Self::EesCsv(f) => f.name(),
        }
    }

    /// The reader for this format.
    pub fn format(&self) -> Box<dyn RecordFormat> {
        match self {
            Self::Csv(f) => Box::new(f.clone()),
            Self::Xlsx(f) => Box::new(f.clone()),
            Self::EesCsv(f) => Box::new(f.clone()),
        }
    }
}

/// The name of `path`'s file, for [`Origin::location`]: full paths would leak folder layouts
/// into the lake and differ between machines.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A whole-file error: the reader yields it and stops.
fn file_error(
    reason: &'static str,
    location: &str,
    position: String,
    message: String,
) -> RecordError {
    RecordError {
        kind: RecordErrorKind::File,
        reason,
        origin: Origin {
            location: location.to_owned(),
            position,
        },
        message,
        raw: None,
    }
}

/// Deserializes a 1-based row number, refusing 0 so the mistake shows at the pipeline check.
fn deserialize_row<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let row = usize::deserialize(d)?;
    if row == 0 {
        return Err(serde::de::Error::custom(
            "header_row is 1-based: the first line or row is 1",
        ));
    }
    Ok(row)
}

/// An iterator holding just one error: how `open` reports a file that cannot be read.
fn failed(error: RecordError) -> RecordIter {
    Box::new(std::iter::once(Err(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_config_is_closed_and_strict() {
        let xlsx: FileFormatConfig =
            serde_json::from_str(r#"{"type":"xlsx","sheet":"Audit"}"#).unwrap();
        assert_eq!(
            xlsx,
            FileFormatConfig::Xlsx(XlsxFormat {
                sheet: Some("Audit".into()),
                header_row: 1
            })
        );
        assert_eq!(xlsx.name(), "xlsx");
        assert_eq!(xlsx.format().name(), "xlsx");
        let csv: FileFormatConfig = serde_json::from_str(r#"{"type":"csv"}"#).unwrap();
        assert_eq!(csv, FileFormatConfig::Csv(CsvFormat::default()));
        for bad in [
            r#"{"type":"parquet"}"#,
            r#"{"type":"xlsx","sheet":"A","header":2}"#,
            r#"{"type":"csv","delimiter":"ab"}"#,
            r#"{"type":"csv","delimiter":"é"}"#,
            r#"{"type":"csv","header_row":0}"#,
            r#"{"type":"xlsx","header_row":0}"#,
            r#"{"type":"csv","encoding":"latin9"}"#,
        ] {
            assert!(
                serde_json::from_str::<FileFormatConfig>(bad).is_err(),
                "{bad}"
            );
        }
        let round = serde_json::to_string(&csv).unwrap();
        assert_eq!(
            serde_json::from_str::<FileFormatConfig>(&round).unwrap(),
            csv
        );
    }

    /// The demo's synthetic partner files (written by sendlake-sim's `demo_files` example)
    /// read cleanly with the options the demo pipeline uses.
    #[test]
    fn demo_files_read_cleanly() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/demo-data");
        let csv = |encoding, header_row| {
            FileFormatConfig::Csv(CsvFormat {
                encoding,
                header_row,
                ..CsvFormat::default()
            })
        };
        let cases = [
            (
                "gias/edubasealldata20260901.csv",
                csv(Encoding::Windows1252, 1),
                "EstablishmentName",
                "line 2",
            ),
            (
                "population/nomis_mye_2025.csv",
                csv(Encoding::Utf8, 1),
                "OBS_VALUE",
                "line 2",
            ),
            (
                "chs_waits/chs_sitrep_cyp_2026-09.csv",
                csv(Encoding::Utf8, 4),
                "52+ weeks",
                "line 5",
            ),
            (
                "feedback/family_feedback_2026.csv",
                csv(Encoding::Utf8, 1),
                "Response ID",
                "line 2",
            ),
            (
                "quality-audit/plan_quality_audit_2026.xlsx",
                FileFormatConfig::Xlsx(XlsxFormat {
                    sheet: Some("Audit".into()),
                    header_row: 1,
                }),
                "Plan reference",
                "sheet Audit row 2",
            ),
        ];
        for (file, format, column, first) in cases {
            let records: Vec<SourceRecord> = format
                .format()
                .open(&dir.join(file))
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(records.len() > 100, "{file}: {}", records.len());
            assert_eq!(records[0].origin.position, first, "{file}");
            assert!(
                records[0].value.get(column).is_some(),
                "{file}: {:?}",
                records[0].value
            );
        }
        let gias: Vec<_> = csv(Encoding::Windows1252, 1)
            .format()
            .open(&dir.join("gias/edubasealldata20260901.csv"))
            .filter_map(Result::ok)
            .collect();
        assert!(gias.iter().any(|r| {
            r.value["EstablishmentName"]
                .as_str()
                .is_some_and(|n| n.contains('\u{2019}'))
        }));
        let audit = FileFormatConfig::Xlsx(XlsxFormat::default())
            .format()
            .open(&dir.join("quality-audit/plan_quality_audit_2026.xlsx"))
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            audit.value["Local authority (code)"],
            serde_json::json!(919)
        );
        let date = audit.value["Audit date"].as_str().unwrap();
        assert!(date.len() == 10 && date.starts_with("2026-"), "{date}");
    }
}
