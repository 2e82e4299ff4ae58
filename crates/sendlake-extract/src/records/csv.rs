//! Delimited text files (CSV), streamed: memory is one read buffer and the current record,
//! whatever the file's size.
//!
//! The bytes go through three stages: the encoding (UTF-8 with an optional BOM, or
//! Windows-1252 decoded on the fly into UTF-8 by [`DecodeReader`]), then the lines above the
//! header are skipped as raw lines (title lines of NHS SitRep files are not CSV-shaped, so
//! they never reach the parser), then the `csv` crate splits records. Lines are counted
//! across all stages so positions are physical lines of the file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use ::csv::{ByteRecord, Reader, ReaderBuilder, Terminator, WriterBuilder};
use encoding_rs::{CoderResult, Decoder, WINDOWS_1252};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Origin, RecordError, RecordErrorKind, RecordFormat, RecordIter, SourceRecord, deserialize_row,
    failed, file_error, file_name,
};

/// Size of the read buffers. Big enough that system calls are not the cost.
const BUFFER: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a CSV file's bytes encode text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Encoding {
    /// UTF-8. A leading byte-order mark (as Excel writes) is skipped; invalid bytes fail the
    /// file with `FILE_ENCODING`, because guessing would corrupt names silently.
    #[default]
    #[serde(rename = "utf8", alias = "utf-8")]
    Utf8,
    /// Windows-1252 ("ANSI"), as GIAS extracts and many Excel exports are. Every byte has a
    /// meaning, so decoding cannot fail. A file that starts with a UTF-8 or UTF-16 byte-order
    /// mark is decoded as that encoding instead: the mark is unambiguous, and partners do
    /// re-save files.
    #[serde(rename = "windows_1252", alias = "windows-1252")]
    Windows1252,
}

/// Reads a delimited text file: one record per data row, a JSON object keyed by the header's
/// column names, with every value a string (or `null` for an empty cell).
///
/// Rows whose cells are all empty (blank lines, `,,,` lines Excel leaves at the end) are
/// skipped, not counted. A row with more or fewer fields than the header is a record error
/// (`CSV_FIELD_COUNT`) and reading goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvFormat {
    /// The field delimiter, one ASCII character (`,` by default; `;`, `|` or a tab).
    #[serde(deserialize_with = "deserialize_delimiter")]
    pub delimiter: char,
    /// The text encoding.
    pub encoding: Encoding,
    /// The 1-based physical line holding the header; lines above it are skipped whatever they
    /// hold (title lines, notes). Default 1.
    #[serde(deserialize_with = "deserialize_row")]
    pub header_row: usize,
    /// Trim whitespace around values (default true). Column names are always trimmed, so
    /// `"Name "` still matches a mapping's `Name`.
    pub trim: bool,
}

impl Default for CsvFormat {
    fn default() -> Self {
        Self {
            delimiter: ',',
            encoding: Encoding::Utf8,
            header_row: 1,
            trim: true,
        }
    }
}

fn deserialize_delimiter<'de, D: serde::Deserializer<'de>>(d: D) -> Result<char, D::Error> {
    let c = char::deserialize(d)?;
    if !c.is_ascii() || c == '"' || c == '\n' || c == '\r' {
        return Err(serde::de::Error::custom(
            "delimiter must be one ASCII character other than a quote or a line end",
        ));
    }
    Ok(c)
}

impl RecordFormat for CsvFormat {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn open(&self, path: &Path) -> RecordIter {
        let location = file_name(path);
        match File::open(path) {
            Ok(file) => self.read(&location, file),
            Err(e) => failed(file_error(
                "FILE_IO",
                &location,
                String::new(),
                format!("cannot open the file: {e}"),
            )),
        }
    }
}

impl CsvFormat {
    /// Reads CSV from any byte stream (a download, an archive member); `location` names it in
    /// every [`Origin`]. [`RecordFormat::open`] is this over a file.
    pub fn read(&self, location: &str, input: impl Read + Send + 'static) -> RecordIter {
        match CsvRecords::new(self, location, Box::new(input)) {
            Ok(records) => Box::new(records),
            Err(e) => failed(e),
        }
    }
}

/// The records of one CSV stream.
struct CsvRecords {
    reader: Reader<Box<dyn BufRead + Send>>,
    location: String,
    headers: Vec<String>,
    /// Physical lines skipped above the header, added to the parser's line numbers.
    skipped_lines: u64,
    delimiter: u8,
    trim: bool,
    record: ByteRecord,
    done: bool,
}

impl CsvRecords {
    fn new(
        format: &CsvFormat,
        location: &str,
        input: Box<dyn Read + Send>,
    ) -> Result<Self, RecordError> {
        let io_error = |e: io::Error| {
            file_error(
                "FILE_IO",
                location,
                String::new(),
                format!("cannot read the file: {e}"),
            )
        };
        // The struct can be built in code, bypassing the checks deserialization makes.
        let delimiter = u8::try_from(format.delimiter)
            .ok()
            .filter(|d| d.is_ascii() && !matches!(d, b'"' | b'\n' | b'\r'));
        let (Some(delimiter), true) = (delimiter, format.header_row >= 1) else {
            return Err(file_error(
                "FILE_CONFIG",
                location,
                String::new(),
                format!(
                    "delimiter {:?} must be one ASCII character and header_row ({}) at least 1",
                    format.delimiter, format.header_row
                ),
            ));
        };

        let mut raw = BufReader::with_capacity(BUFFER, input);
        let mut text: Box<dyn BufRead + Send> = match format.encoding {
            Encoding::Utf8 => {
                if raw.fill_buf().map_err(io_error)?.starts_with(UTF8_BOM) {
                    raw.consume(UTF8_BOM.len());
                }
                Box::new(raw)
            }
            Encoding::Windows1252 => Box::new(BufReader::with_capacity(
                BUFFER,
                DecodeReader::new(raw, WINDOWS_1252.new_decoder()),
            )),
        };

        let skipped_lines = (format.header_row - 1) as u64;
        for line in 1..format.header_row {
            if !skip_line(&mut text).map_err(io_error)? {
                return Err(file_error(
                    "FILE_NO_HEADER",
                    location,
                    format!("line {line}"),
                    format!(
                        "the file ends at line {line}, before the header expected on line {}",
                        format.header_row
                    ),
                ));
            }
        }

        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            // Records end at `\n` only, and a `\r` before it is dropped by `record_fields`: the
            // parser's CRLF mode reports the line of the previous record for every record
            // after a CRLF, which would make every position in a Windows file wrong by one.
            .terminator(Terminator::Any(b'\n'))
            .from_reader(text);
        let mut header = ByteRecord::new();
        // Blank lines before the header are skipped, as they are between records.
        let found = loop {
            let found = reader.read_byte_record(&mut header).map_err(|e| {
                file_error(
                    "FILE_IO",
                    location,
                    String::new(),
                    format!("cannot read the file: {e}"),
                )
            })?;
            if !found || !record_fields(&header).all(|f| f.trim_ascii().is_empty()) {
                break found;
            }
        };
        let line = header.position().map_or(1, |p| p.line()) + skipped_lines;
        if !found {
            return Err(file_error(
                "FILE_NO_HEADER",
                location,
                format!("line {line}"),
                format!(
                    "the file holds no header (expected on line {})",
                    format.header_row
                ),
            ));
        }

        let mut headers: Vec<String> = Vec::with_capacity(header.len());
        for (i, field) in record_fields(&header).enumerate() {
            let name = std::str::from_utf8(field).map_err(|_| {
                file_error(
                    "FILE_ENCODING",
                    location,
                    format!("line {line}"),
                    format!("column {} of the header is not valid UTF-8", i + 1),
                )
            })?;
            let name = name.trim();
            let bad_header =
                |message| file_error("FILE_BAD_HEADER", location, format!("line {line}"), message);
            if name.is_empty() {
                return Err(bad_header(format!("column {} has no name", i + 1)));
            }
            if let Some(first) = headers.iter().position(|h| h == name) {
                return Err(bad_header(format!(
                    "column name {name:?} appears twice (columns {} and {})",
                    first + 1,
                    i + 1
                )));
            }
            headers.push(name.to_owned());
        }

        Ok(Self {
            reader,
            location: location.to_owned(),
            headers,
            skipped_lines,
            delimiter,
            trim: format.trim,
            record: ByteRecord::new(),
            done: false,
        })
    }

    fn origin(&self, line: u64) -> Origin {
        Origin {
            location: self.location.clone(),
            position: format!("line {line}"),
        }
    }

    /// The record re-written as one CSV line (quoted where needed) for the quarantine. The
    /// parser does not keep the original bytes; this is the same row, field for field.
    fn raw_text(&self, fields: &[&str]) -> String {
        let mut writer = WriterBuilder::new()
            .delimiter(self.delimiter)
            .terminator(Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let written = writer
            .write_record(fields)
            .ok()
            .and_then(|()| writer.into_inner().ok());
        let mut text = written.map_or_else(
            || fields.join(&char::from(self.delimiter).to_string()),
            |bytes| String::from_utf8_lossy(&bytes).into_owned(),
        );
        if text.ends_with('\n') {
            text.pop();
        }
        text
    }

    /// Reads the next non-blank record: `Ok(None)` at the end.
    fn next_record(&mut self) -> Result<Option<SourceRecord>, RecordError> {
        loop {
            let found = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| {
                    file_error(
                        "FILE_IO",
                        &self.location,
                        String::new(),
                        format!("cannot read the file: {e}"),
                    )
                })?;
            if !found {
                return Ok(None);
            }
            let line = self.record.position().map_or(0, |p| p.line()) + self.skipped_lines;
            let mut fields: Vec<&str> = Vec::with_capacity(self.record.len());
            for (i, field) in record_fields(&self.record).enumerate() {
                let text = std::str::from_utf8(field).map_err(|e| {
                    let column = self
                        .headers
                        .get(i)
                        .map_or_else(|| format!("{}", i + 1), |h| format!("{h:?}"));
                    RecordError {
                        kind: RecordErrorKind::File,
                        reason: "FILE_ENCODING",
                        origin: self.origin(line),
                        message: format!(
                            "column {column} is not valid UTF-8 (byte {} of the value); \
                             is the file Windows-1252? Set encoding = \"windows_1252\"",
                            e.valid_up_to() + 1
                        ),
                        raw: None,
                    }
                })?;
                fields.push(if self.trim { text.trim() } else { text });
            }
            if fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            if fields.len() != self.headers.len() {
                return Err(RecordError {
                    kind: RecordErrorKind::Record,
                    reason: "CSV_FIELD_COUNT",
                    origin: self.origin(line),
                    message: format!(
                        "the row has {} fields but the header has {}",
                        fields.len(),
                        self.headers.len()
                    ),
                    raw: Some(self.raw_text(&fields)),
                });
            }
            let value: Map<String, Value> = self
                .headers
                .iter()
                .zip(&fields)
                .map(|(h, f)| {
                    let v = if f.is_empty() {
                        Value::Null
                    } else {
                        Value::String((*f).to_owned())
                    };
                    (h.clone(), v)
                })
                .collect();
            return Ok(Some(SourceRecord {
                value: Value::Object(value),
                origin: self.origin(line),
            }));
        }
    }
}

impl Iterator for CsvRecords {
    type Item = Result<SourceRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = e.kind == RecordErrorKind::File;
                Some(Err(e))
            }
        }
    }
}

/// The fields of `record`, without the `\r` of a CRLF line end on the last one. Only a
/// line end can leave a `\r` there: one inside a quoted value is followed by more text.
fn record_fields(record: &ByteRecord) -> impl Iterator<Item = &[u8]> {
    let last = record.len().saturating_sub(1);
    record.iter().enumerate().map(move |(i, f)| {
        if i == last {
            f.strip_suffix(b"\r").unwrap_or(f)
        } else {
            f
        }
    })
}

/// Skips one physical line (through its `\n`) without holding it in memory. `Ok(false)` if
/// the stream was already at its end.
fn skip_line(r: &mut dyn BufRead) -> io::Result<bool> {
    let mut any = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any);
        }
        any = true;
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            r.consume(i + 1);
            return Ok(true);
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// A streaming decoder: reads bytes in some encoding from `inner` and yields UTF-8, a buffer
/// at a time, so a Windows-1252 file is never held whole in memory.
struct DecodeReader<R> {
    inner: R,
    decoder: Decoder,
    out: Box<[u8]>,
    start: usize,
    end: usize,
    finished: bool,
}

impl<R: BufRead> DecodeReader<R> {
    fn new(inner: R, decoder: Decoder) -> Self {
        Self {
            inner,
            decoder,
            out: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            finished: false,
        }
    }
}

impl<R: BufRead> Read for DecodeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.start < self.end {
                let available = self.out.get(self.start..self.end).unwrap_or_default();
                let n = available.len().min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), available.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.start += n;
                return Ok(n);
            }
            if self.finished || buf.is_empty() {
                return Ok(0);
            }
            let src = self.inner.fill_buf()?;
            let last = src.is_empty();
            // `out` holds far more than the 4 bytes one character needs, so every call makes
            // progress; `OutputFull` just means "call again".
            let (result, read, written, _) = self.decoder.decode_to_utf8(src, &mut self.out, last);
            self.inner.consume(read);
            self.start = 0;
            self.end = written;
            if last && result == CoderResult::InputEmpty {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_bytes(format: &CsvFormat, bytes: &[u8]) -> Vec<Result<SourceRecord, RecordError>> {
        format
            .read("test.csv", io::Cursor::new(bytes.to_vec()))
            .collect()
    }

    fn values(items: &[Result<SourceRecord, RecordError>]) -> Vec<Value> {
        items
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.value.clone()))
            .collect()
    }

    #[test]
    fn reads_bom_crlf_quotes_and_empty_cells() {
        let bytes = b"\xEF\xBB\xBFURN,Name , Note\r\n1,\"Oak, Elm\",\"two\r\nlines\"\r\n2, ,\r\n";
        let items = read_bytes(&CsvFormat::default(), bytes);
        assert_eq!(
            values(&items),
            vec![
                serde_json::json!({"URN": "1", "Name": "Oak, Elm", "Note": "two\r\nlines"}),
                serde_json::json!({"URN": "2", "Name": null, "Note": null}),
            ]
        );
        let positions: Vec<_> = items
            .iter()
            .map(|r| r.as_ref().unwrap().origin.to_string())
            .collect();
        // The second record starts on line 4: the quoted newline is part of line 2's record.
        assert_eq!(positions, ["test.csv line 2", "test.csv line 4"]);
    }

    #[test]
    fn trim_can_be_turned_off() {
        let format = CsvFormat {
            trim: false,
            delimiter: ';',
            ..CsvFormat::default()
        };
        let items = read_bytes(&format, b"a;b\n x ;\n");
        assert_eq!(
            values(&items),
            vec![serde_json::json!({"a": " x ", "b": null})]
        );
    }

    #[test]
    fn decodes_windows_1252() {
        let format = CsvFormat {
            encoding: Encoding::Windows1252,
            ..CsvFormat::default()
        };
        // 0xE9 is é and 0x92 is ’ in Windows-1252 (0x92 is a C1 control in Latin-1).
        let items = read_bytes(&format, b"Name,Caf\xE9\nSt Mary\x92s,cr\xE8me\n");
        assert_eq!(
            values(&items),
            vec![serde_json::json!({"Name": "St Mary\u{2019}s", "Café": "crème"})]
        );
        // The same bytes as UTF-8 fail the file, naming the column and the line.
        let utf8 = read_bytes(&CsvFormat::default(), b"Name\nok\nSt Mary\x92s\nnever\n");
        assert_eq!(utf8.len(), 2);
        let err = utf8[1].as_ref().unwrap_err();
        assert_eq!(
            (err.kind, err.reason, err.origin.position.as_str()),
            (RecordErrorKind::File, "FILE_ENCODING", "line 3")
        );
        assert!(err.message.contains("\"Name\""), "{}", err.message);
    }

    #[test]
    fn decodes_across_buffer_boundaries() {
        // Longer than every buffer, with a multi-byte output character at each boundary.
        let mut bytes = b"Name\n".to_vec();
        let mut expected = Vec::new();
        for i in 0..40_000 {
            bytes.push(0x92);
            bytes.extend_from_slice(i.to_string().as_bytes());
            bytes.extend_from_slice(b"\xE9\n");
            expected.push(serde_json::json!({"Name": format!("\u{2019}{i}é")}));
        }
        let format = CsvFormat {
            encoding: Encoding::Windows1252,
            ..CsvFormat::default()
        };
        let items = read_bytes(&format, &bytes);
        assert_eq!(values(&items), expected);
    }

    #[test]
    fn skips_lines_above_the_header() {
        let format = CsvFormat {
            header_row: 3,
            ..CsvFormat::default()
        };
        let bytes = b"Title, with \"odd quote\nPublished 2026\r\nA,B\r\n1,2\r\n";
        let items = read_bytes(&format, bytes);
        assert_eq!(
            values(&items),
            vec![serde_json::json!({"A": "1", "B": "2"})]
        );
        assert_eq!(items[0].as_ref().unwrap().origin.position, "line 4");

        let short = read_bytes(
            &CsvFormat {
                header_row: 5,
                ..CsvFormat::default()
            },
            bytes,
        );
        let err = short[0].as_ref().unwrap_err();
        assert_eq!(err.reason, "FILE_NO_HEADER");
        assert_eq!(short.len(), 1);
    }

    #[test]
    fn field_count_errors_do_not_stop_the_file() {
        let items = read_bytes(
            &CsvFormat::default(),
            b"a,b\n1,2\n3\n4,5,\"6,7\"\n,,\n8,9\n",
        );
        assert_eq!(items.len(), 4, "{items:?}");
        let errors: Vec<_> = items.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errors.len(), 2);
        assert!(
            errors
                .iter()
                .all(|e| e.kind == RecordErrorKind::Record && e.reason == "CSV_FIELD_COUNT")
        );
        assert_eq!(errors[0].raw.as_deref(), Some("3"));
        assert_eq!(errors[0].origin.position, "line 3");
        assert_eq!(errors[1].raw.as_deref(), Some("4,5,\"6,7\""));
        assert_eq!(values(&items).len(), 2);
        assert_eq!(items[3].as_ref().unwrap().origin.position, "line 6");
    }

    #[test]
    fn empty_and_headerless_files_fail() {
        for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\n", b"\r\n"] {
            let items = read_bytes(&CsvFormat::default(), bytes);
            assert_eq!(items.len(), 1, "{bytes:?}");
            assert_eq!(items[0].as_ref().unwrap_err().reason, "FILE_NO_HEADER");
        }
        // A header and nothing else is a valid, empty file.
        assert!(read_bytes(&CsvFormat::default(), b"a,b\r\n").is_empty());
    }

    #[test]
    fn bad_headers_fail_the_file() {
        for (bytes, needle) in [
            (&b"a,,b\n1,2,3\n"[..], "column 2 has no name"),
            (b"a, b ,b\n1,2,3\n", "\"b\" appears twice (columns 2 and 3)"),
            (b"a,b,\n1,2,3\n", "column 3 has no name"),
        ] {
            let items = read_bytes(&CsvFormat::default(), bytes);
            assert_eq!(items.len(), 1);
            let err = items[0].as_ref().unwrap_err();
            assert_eq!(
                (err.kind, err.reason),
                (RecordErrorKind::File, "FILE_BAD_HEADER")
            );
            assert!(err.message.contains(needle), "{}", err.message);
        }
    }

    #[test]
    fn missing_file_and_bad_config() {
        let dir = tempfile::tempdir().unwrap();
        let items: Vec<_> = CsvFormat::default()
            .open(&dir.path().join("nope.csv"))
            .collect();
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().unwrap_err();
        assert_eq!(
            (err.reason, err.origin.location.as_str()),
            ("FILE_IO", "nope.csv")
        );

        let path = dir.path().join("ok.csv");
        std::fs::write(&path, "x\n1\n").unwrap();
        let items: Vec<_> = CsvFormat::default().open(&path).collect();
        assert_eq!(values(&items), vec![serde_json::json!({"x": "1"})]);

        let bad = CsvFormat {
            delimiter: 'é',
            ..CsvFormat::default()
        };
        let items: Vec<_> = bad.open(&path).collect();
        assert_eq!(items[0].as_ref().unwrap_err().reason, "FILE_CONFIG");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
                        header_row in 1usize..4, cp1252 in proptest::bool::ANY) {
            let format = CsvFormat {
                header_row,
                encoding: if cp1252 { Encoding::Windows1252 } else { Encoding::Utf8 },
                ..CsvFormat::default()
            };
            let items = read_bytes(&format, &bytes);
            // A file error is always last.
            if let Some(i) = items.iter().position(|r| matches!(r, Err(e) if e.kind == RecordErrorKind::File)) {
                proptest::prop_assert_eq!(i, items.len() - 1);
            }
        }
    }
}
