//! Excel workbooks (`.xlsx`): one worksheet, read into memory.
//!
//! Unlike CSV, an xlsx file cannot be streamed from its first byte: it is a zip archive whose
//! central directory sits at the end, and cell text lives in a shared-strings part that must
//! be loaded before any row makes sense. Partner spreadsheets (audit results, trackers) are
//! small, so the sheet's non-empty cells are read into memory, and files over
//! [`MAX_XLSX_BYTES`] or sheets over [`MAX_XLSX_CELLS`] cells are refused with
//! `FILE_TOO_LARGE` rather than risking the run's memory. Cells are collected sparsely (only
//! those present), so a sheet whose used range is declared huge costs no more than its
//! cells.

use std::fs::File;
use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use calamine::{Data, ExcelDateTime, Reader, Xlsx, XlsxError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::{
    Origin, RecordError, RecordErrorKind, RecordFormat, RecordIter, SourceRecord, deserialize_row,
    failed, file_error, file_name,
};

/// Largest xlsx file read (50 MiB). A workbook is decompressed and its sheet held in memory,
/// so size is bounded up front; a bigger extract should come as CSV.
pub const MAX_XLSX_BYTES: u64 = 50 * 1024 * 1024;

/// Most non-empty cells read from one sheet (5 million, a few hundred MB at worst): zip
/// compression means a file under [`MAX_XLSX_BYTES`] can still hold far more cells than that.
pub const MAX_XLSX_CELLS: usize = 5_000_000;

/// Reads one worksheet of an Excel workbook: one record per row below the header, a JSON
/// object keyed by the header's column names.
///
/// Values keep their Excel type: text is a trimmed string (`null` if empty), numbers are
/// numbers (whole ones as integers), booleans booleans, and date-formatted cells ISO strings
/// (`2026-03-14`, or `2026-03-14T09:30:00` when there is a time). A cell holding an Excel
/// error (`#N/A`, `#REF!`) loses its row with `XLSX_CELL_ERROR`; so does a value in a column
/// without a header (`XLSX_UNNAMED_CELL`). Empty rows are skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XlsxFormat {
    /// The worksheet's name; the first sheet if absent.
    pub sheet: Option<String>,
    /// The 1-based row holding the header; rows above it are skipped. Default 1.
    #[serde(deserialize_with = "deserialize_row")]
    pub header_row: usize,
}

impl Default for XlsxFormat {
    fn default() -> Self {
        Self {
            sheet: None,
            header_row: 1,
        }
    }
}

impl RecordFormat for XlsxFormat {
    fn name(&self) -> &'static str {
        "xlsx"
    }

    fn open(&self, path: &Path) -> RecordIter {
        let location = file_name(path);
        // calamine parses untrusted zip and XML; a panic in it must cost one file, not the run.
        let opened = catch_unwind(AssertUnwindSafe(|| self.read_sheet(path, &location)));
        match opened {
            Ok(Ok(rows)) => Box::new(rows),
            Ok(Err(e)) => failed(e),
            Err(_) => failed(file_error(
                "FILE_NOT_XLSX",
                &location,
                String::new(),
                "the xlsx reader failed on this file; it is probably corrupt".into(),
            )),
        }
    }
}

/// A cell's position (0-based row and column) and value.
type SheetCell = (u32, u32, Data);

impl XlsxFormat {
    fn read_sheet(&self, path: &Path, location: &str) -> Result<SheetRows, RecordError> {
        let error = |reason, message: String| file_error(reason, location, String::new(), message);
        if self.header_row == 0 {
            return Err(error("FILE_CONFIG", "header_row must be at least 1".into()));
        }
        let file =
            File::open(path).map_err(|e| error("FILE_IO", format!("cannot open the file: {e}")))?;
        let size = file
            .metadata()
            .map_err(|e| error("FILE_IO", format!("cannot read the file: {e}")))?
            .len();
        if size > MAX_XLSX_BYTES {
            return Err(error(
                "FILE_TOO_LARGE",
                format!(
                    "the file is {size} bytes; xlsx files over {MAX_XLSX_BYTES} bytes are \
                     refused (send large extracts as CSV)"
                ),
            ));
        }
        let not_xlsx = |e: XlsxError| match e {
            XlsxError::Io(e) => error("FILE_IO", format!("cannot read the file: {e}")),
            other => error(
                "FILE_NOT_XLSX",
                format!("the file is not a readable xlsx workbook: {other}"),
            ),
        };
        let mut workbook: Xlsx<_> = Xlsx::new(BufReader::new(file)).map_err(not_xlsx)?;
        let names = workbook.sheet_names();
        let sheet = match &self.sheet {
            Some(wanted) => names
                .iter()
                .find(|n| *n == wanted)
                .cloned()
                .ok_or_else(|| {
                    error(
                        "FILE_NO_SHEET",
                        format!("the workbook has no sheet {wanted:?} (sheets: {names:?})"),
                    )
                })?,
            None => names
                .first()
                .cloned()
                .ok_or_else(|| error("FILE_NO_SHEET", "the workbook has no sheets".into()))?,
        };

        let mut cells: Vec<SheetCell> = Vec::new();
        let mut reader = workbook.worksheet_cells_reader(&sheet).map_err(not_xlsx)?;
        while let Some(cell) = reader.next_cell().map_err(not_xlsx)? {
            let (row, col) = cell.get_position();
            let value = Data::from(cell.get_value().clone());
            if is_blank(&value) {
                continue;
            }
            if cells.len() >= MAX_XLSX_CELLS {
                return Err(error(
                    "FILE_TOO_LARGE",
                    format!("sheet {sheet:?} holds more than {MAX_XLSX_CELLS} cells"),
                ));
            }
            cells.push((row, col, value));
        }
        // Rows are stored in order in a well-formed sheet; sorting makes any other order
        // harmless (a stable sort is linear on sorted input).
        cells.sort_by_key(|&(row, col, _)| (row, col));
        SheetRows::new(sheet, location, self.header_row, cells)
    }
}

fn is_blank(value: &Data) -> bool {
    match value {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Excel's name for 0-based column `col`: A, B, ... Z, AA, AB ...
fn column_letters(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// A whole number as an integer: Excel stores every number as a float, but a count of 12 or
/// a code of 919 should reach the mapping as `12` and `919`, not `12.0`.
fn number(f: f64) -> Value {
    // 2^53: beyond it, floats no longer hold every integer.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if f.is_finite() && f.fract() == 0.0 && f.abs() < EXACT {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A date-formatted cell as ISO 8601 text; a duration (`[h]:mm:ss` format) as `H:MM:SS`.
fn date_time(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        let total = (dt.as_f64() * 86_400.0).round();
        let sign = if total < 0.0 { "-" } else { "" };
        let secs = total.abs() as u64;
        return format!(
            "{sign}{}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    match (h, mi, s, ms) {
        (0, 0, 0, 0) => format!("{y:04}-{mo:02}-{d:02}"),
        (_, _, _, 0) => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"),
        _ => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}"),
    }
}

/// A cell's JSON value, or the Excel error text it holds.
fn cell_value(value: &Data) -> Result<Value, String> {
    Ok(match value {
        Data::Empty => Value::Null,
        Data::Int(i) => Value::from(*i),
        Data::Float(f) => number(*f),
        Data::String(s) => match s.trim() {
            "" => Value::Null,
            t => Value::String(t.to_owned()),
        },
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(dt) => Value::String(date_time(dt)),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Value::String(s.clone()),
        Data::Error(e) => return Err(e.to_string()),
    })
}

/// The records of one sheet.
struct SheetRows {
    sheet: String,
    location: String,
    headers: Vec<String>,
    cells: std::iter::Peekable<std::vec::IntoIter<SheetCell>>,
}

impl SheetRows {
    fn new(
        sheet: String,
        location: &str,
        header_row: usize,
        cells: Vec<SheetCell>,
    ) -> Result<Self, RecordError> {
        let header_index = u32::try_from(header_row - 1).unwrap_or(u32::MAX);
        let position = format!("sheet {sheet} row {header_row}");
        let error = |reason, message| file_error(reason, location, position.clone(), message);
        let mut cells = cells.into_iter().peekable();
        // Title rows above the header are not data.
        while cells.next_if(|c| c.0 < header_index).is_some() {}
        let mut headers: Vec<String> = Vec::new();
        while let Some((_, col, value)) = cells.next_if(|c| c.0 == header_index) {
            let name = match cell_value(&value) {
                Ok(Value::String(s)) => s,
                Ok(Value::Null) => String::new(),
                Ok(other) => other.to_string(),
                Err(e) => {
                    return Err(error(
                        "FILE_BAD_HEADER",
                        format!("column {} holds the Excel error {e}", column_letters(col)),
                    ));
                }
            };
            let col = col as usize;
            if col > headers.len() {
                return Err(error(
                    "FILE_BAD_HEADER",
                    format!(
                        "column {} has no name",
                        column_letters(headers.len() as u32)
                    ),
                ));
            }
            if let Some(first) = headers.iter().position(|h| *h == name) {
                return Err(error(
                    "FILE_BAD_HEADER",
                    format!(
                        "column name {name:?} appears twice (columns {} and {})",
                        column_letters(first as u32),
                        column_letters(col as u32)
                    ),
                ));
            }
            headers.push(name);
        }
        if headers.is_empty() {
            return Err(error(
                "FILE_NO_HEADER",
                format!("sheet {sheet:?} has no header on row {header_row}"),
            ));
        }
        Ok(Self {
            sheet,
            location: location.to_owned(),
            headers,
            cells,
        })
    }

    fn header_name(&self, col: u32) -> String {
        match self.headers.get(col as usize) {
            Some(h) => format!("{h:?} ({})", column_letters(col)),
            None => column_letters(col),
        }
    }
}

impl Iterator for SheetRows {
    type Item = Result<SourceRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (row, _, _) = self.cells.peek()?;
        let row = *row;
        let origin = Origin {
            location: self.location.clone(),
            position: format!("sheet {} row {}", self.sheet, u64::from(row) + 1),
        };
        let mut value: Map<String, Value> = self
            .headers
            .iter()
            .map(|h| (h.clone(), Value::Null))
            .collect();
        let mut raw = Map::new();
        let mut problem: Option<(&'static str, String)> = None;
        while let Some((_, col, data)) = self.cells.next_if(|c| c.0 == row) {
            let cell = cell_value(&data);
            let header = self.headers.get(col as usize).cloned();
            let key = header.clone().unwrap_or_else(|| column_letters(col));
            raw.insert(
                key,
                match &cell {
                    Ok(v) => v.clone(),
                    Err(e) => Value::String(e.clone()),
                },
            );
            match (header, cell) {
                (Some(h), Ok(v)) => {
                    value.insert(h, v);
                }
                (_, Err(e)) => {
                    problem.get_or_insert((
                        "XLSX_CELL_ERROR",
                        format!("column {} holds the Excel error {e}", self.header_name(col)),
                    ));
                }
                (None, Ok(_)) => {
                    problem.get_or_insert((
                        "XLSX_UNNAMED_CELL",
                        format!(
                            "column {} holds a value but has no header",
                            column_letters(col)
                        ),
                    ));
                }
            }
        }
        Some(match problem {
            None => Ok(SourceRecord {
                value: Value::Object(value),
                origin,
            }),
            Some((reason, message)) => Err(RecordError {
                kind: RecordErrorKind::Record,
                reason,
                origin,
                message,
                raw: Some(Value::Object(raw).to_string()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_xlsxwriter::{ExcelDateTime as XlDate, Format, Formula, Workbook};
    use serde_json::json;

    fn collect(format: &XlsxFormat, path: &Path) -> Vec<Result<SourceRecord, RecordError>> {
        format.open(path).collect()
    }

    /// A workbook with a title row, a header on row 3 and typed cells.
    fn write_workbook(path: &Path) {
        let mut wb = Workbook::new();
        let date = Format::new().set_num_format("dd/mm/yyyy");
        let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let notes = wb.add_worksheet();
        notes.set_name("Notes").unwrap();
        notes.write_string(0, 0, "Read me").unwrap();
        let ws = wb.add_worksheet();
        ws.set_name("Audit").unwrap();
        ws.write_string(0, 0, "Plan quality audit (synthetic)")
            .unwrap();
        for (c, h) in [
            "Plan reference",
            "LA",
            "Audit date",
            "Score",
            "Final",
            "When",
            " Grade ",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(2, c as u16, *h).unwrap();
        }
        ws.write_string(3, 0, "  PLN-919-000001-0 ").unwrap();
        ws.write_number(3, 1, 919).unwrap();
        ws.write_datetime_with_format(3, 2, XlDate::from_ymd(2026, 3, 14).unwrap(), &date)
            .unwrap();
        ws.write_number(3, 3, 2.5).unwrap();
        ws.write_boolean(3, 4, true).unwrap();
        let when = XlDate::from_ymd(2026, 3, 14)
            .unwrap()
            .and_hms(9, 30, 0)
            .unwrap();
        ws.write_datetime_with_format(3, 5, when, &stamp).unwrap();
        ws.write_string(3, 6, "Good").unwrap();
        // Row 5: an error cell; row 6 is blank; row 7: a value beyond the header.
        ws.write_string(4, 0, "PLN-919-000002-0").unwrap();
        ws.write_formula(4, 3, Formula::new("=NA()").set_result("#N/A"))
            .unwrap();
        ws.write_string(5, 0, "   ").unwrap();
        ws.write_string(6, 0, "PLN-919-000003-1").unwrap();
        ws.write_string(6, 8, "stray").unwrap();
        ws.write_string(7, 0, "PLN-919-000004-0").unwrap();
        ws.write_string(7, 6, "").unwrap();
        wb.save(path).unwrap();
    }

    #[test]
    fn reads_typed_cells_below_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.xlsx");
        write_workbook(&path);
        let format = XlsxFormat {
            sheet: Some("Audit".into()),
            header_row: 3,
        };
        let items = collect(&format, &path);
        assert_eq!(items.len(), 4, "{items:?}");
        let first = items[0].as_ref().unwrap();
        assert_eq!(
            first.value,
            json!({"Plan reference": "PLN-919-000001-0", "LA": 919, "Audit date": "2026-03-14",
                   "Score": 2.5, "Final": true, "When": "2026-03-14T09:30:00", "Grade": "Good"})
        );
        assert_eq!(first.origin.to_string(), "audit.xlsx sheet Audit row 4");

        let err = items[1].as_ref().unwrap_err();
        assert_eq!(
            (err.kind, err.reason, err.origin.position.as_str()),
            (
                RecordErrorKind::Record,
                "XLSX_CELL_ERROR",
                "sheet Audit row 5"
            )
        );
        assert!(err.message.contains("\"Score\" (D)"), "{}", err.message);
        assert!(err.message.contains("#N/A"), "{}", err.message);
        assert!(err.raw.as_deref().unwrap().contains("PLN-919-000002-0"));

        let stray = items[2].as_ref().unwrap_err();
        assert_eq!(stray.reason, "XLSX_UNNAMED_CELL");
        assert!(stray.message.contains("column I"), "{}", stray.message);

        let last = items[3].as_ref().unwrap();
        assert_eq!(last.origin.position, "sheet Audit row 8");
        assert_eq!(last.value["Grade"], Value::Null);
        assert_eq!(last.value["LA"], Value::Null);
    }

    #[test]
    fn first_sheet_by_default_and_missing_sheets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.xlsx");
        write_workbook(&path);
        let items = collect(&XlsxFormat::default(), &path);
        assert_eq!(items.len(), 0, "Notes has a header and no rows: {items:?}");

        let missing = XlsxFormat {
            sheet: Some("Audti".into()),
            header_row: 1,
        };
        let items = collect(&missing, &path);
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().unwrap_err();
        assert_eq!(
            (err.kind, err.reason),
            (RecordErrorKind::File, "FILE_NO_SHEET")
        );
        assert!(err.message.contains("\"Audit\""), "{}", err.message);

        let no_header = XlsxFormat {
            sheet: Some("Audit".into()),
            header_row: 30,
        };
        let items = collect(&no_header, &path);
        assert_eq!(items[0].as_ref().unwrap_err().reason, "FILE_NO_HEADER");
    }

    #[test]
    fn bad_headers_fail_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for (cells, needle) in [
            (vec![(0u16, "a"), (2, "b")], "column B has no name"),
            (
                vec![(0, "a"), (1, "a")],
                "\"a\" appears twice (columns A and B)",
            ),
        ] {
            let path = dir.path().join("h.xlsx");
            let mut wb = Workbook::new();
            let ws = wb.add_worksheet();
            for (c, h) in cells {
                ws.write_string(0, c, h).unwrap();
            }
            ws.write_string(1, 0, "x").unwrap();
            wb.save(&path).unwrap();
            let items = collect(&XlsxFormat::default(), &path);
            assert_eq!(items.len(), 1);
            let err = items[0].as_ref().unwrap_err();
            assert_eq!(err.reason, "FILE_BAD_HEADER");
            assert!(err.message.contains(needle), "{}", err.message);
        }
    }

    #[test]
    fn non_xlsx_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("not.xlsx");
        std::fs::write(&csv, "a,b\n1,2\n").unwrap();
        let truncated = dir.path().join("cut.xlsx");
        write_workbook(&truncated);
        let bytes = std::fs::read(&truncated).unwrap();
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        for path in [&csv, &truncated] {
            let items = collect(&XlsxFormat::default(), path);
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].as_ref().unwrap_err().reason, "FILE_NOT_XLSX");
        }
        let items = collect(&XlsxFormat::default(), &dir.path().join("nope.xlsx"));
        assert_eq!(items[0].as_ref().unwrap_err().reason, "FILE_IO");
    }

    #[test]
    fn refuses_files_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xlsx");
        let file = File::create(&path).unwrap();
        // A sparse file: the size check must come before any reading.
        file.set_len(MAX_XLSX_BYTES + 1).unwrap();
        let items = collect(&XlsxFormat::default(), &path);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].as_ref().unwrap_err().reason, "FILE_TOO_LARGE");
    }

    #[test]
    fn helpers() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(number(3.0), json!(3));
        assert_eq!(number(-0.5), json!(-0.5));
        assert_eq!(number(f64::NAN), Value::Null);
        assert_eq!(number(1e300), json!(1e300));
        let d = ExcelDateTime::new(46095.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(date_time(&d), "2026-03-14");
        let t = ExcelDateTime::new(1.5, calamine::ExcelDateTimeType::TimeDelta, false);
        assert_eq!(date_time(&t), "36:00:00");
    }
}
