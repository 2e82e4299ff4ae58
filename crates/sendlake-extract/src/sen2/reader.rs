//! The driver: pulls quick-xml events through the position tracker and hands them to the
//! state machine (`state.rs`), which queues [`Sen2Item`]s; maps quick-xml's errors to ours.
//!
//! Work per event is kept small because a national file has tens of millions of events: one
//! event buffer and one text buffer are reused for the whole file; each distinct element name
//! is validated once (`markup.rs`); container paths are built once per container and a
//! leaf's path never (see [`RawElement::field_path`](crate::RawElement::field_path));
//! positions are computed only for the events that keep or report one; vectors are sized
//! from the previous element of the same name. What remains per leaf is what the public tree
//! owns: a `String` name and value.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::iter::FusedIterator;
use std::path::Path;
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, IllFormedError};
use quick_xml::events::Event;

use super::state::{Phase, State};
use super::{ReaderLimits, Sen2Item};
use crate::pos_reader::{Locate, PosReader, Sniff};
use crate::{Position, Sen2FileError, Sen2FileErrorKind};

/// Reads a SEN2 XML file one item at a time.
///
/// An [`Iterator`] of `Result<Sen2Item, Sen2FileError>`. Items come in document order; after
/// the last item the iterator ends, after an error it ends too (it is fused): a file with an
/// error must be rejected as a whole, because everything after the error point is unknown.
/// Reaching the end of the input with elements still open is an error
/// ([`Sen2FileErrorKind::Truncated`]), so a cut-off file is never taken for a complete one.
///
/// ```
/// use sendlake_extract::{Sen2Item, Sen2Reader};
///
/// let xml = "<Message><Header><Source><LEA>919</LEA></Source></Header>\
///            <Persons><Person><Sex> M </Sex><UPNunknown/></Person></Persons></Message>";
/// let mut persons = 0;
/// for item in Sen2Reader::new(xml.as_bytes()) {
///     match item? {
///         Sen2Item::Header(h) => assert_eq!(h.child("Source").unwrap().value("LEA"), Some("919")),
///         Sen2Item::Person(p) => {
///             persons += 1;
///             assert_eq!(p.element.path, "Message/Persons/Person[1]");
///             assert_eq!(p.element.value("Sex"), Some("M"));
///             assert_eq!(p.element.field("UPNunknown").unwrap().value, None);
///         }
///         Sen2Item::Skipped { .. } => unreachable!(),
///     }
/// }
/// assert_eq!(persons, 1);
/// # Ok::<(), sendlake_extract::Sen2FileError>(())
/// ```
pub struct Sen2Reader<R: BufRead> {
    xml: Reader<PosReader<R>>,
    /// Event buffer reused for every event.
    buf: Vec<u8>,
    st: State,
}

impl Sen2Reader<BufReader<File>> {
    /// Opens a file for reading.
    ///
    /// # Errors
    ///
    /// [`Sen2FileErrorKind::Io`] if the file cannot be opened. Everything else is reported by
    /// the iterator.
    pub fn open(path: &Path) -> Result<Self, Sen2FileError> {
        let file = File::open(path)
            .map_err(|e| Sen2FileError::io(None, "cannot open the file", Arc::new(e)))?;
        Ok(Self::new(BufReader::new(file)))
    }
}

impl<R: BufRead> Sen2Reader<R> {
    /// Reads from any buffered source (a file, a decompressor, `&[u8]`), with default limits.
    pub fn new(reader: R) -> Self {
        let limits = ReaderLimits::default();
        let mut xml = Reader::from_reader(PosReader::new(reader, limits.event_cap()));
        let config = xml.config_mut();
        // Stated explicitly because the reader's guarantees rest on them.
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
        config.expand_empty_elements = false;
        // Trimming is done per leaf value; quick-xml's own trimming would also trim around
        // comments and references inside a value.
        config.trim_text(false);
        Self {
            xml,
            buf: Vec::with_capacity(4096),
            st: State::new(limits),
        }
    }

    /// Replaces the default [`ReaderLimits`]. Meant to be called before reading.
    #[must_use]
    pub fn with_limits(mut self, limits: ReaderLimits) -> Self {
        self.xml.get_mut().set_event_cap(limits.event_cap());
        self.st.limits = limits;
        self
    }

    /// Bytes of input consumed so far (a BOM included), for progress reporting.
    pub fn bytes_read(&self) -> u64 {
        self.xml.get_ref().consumed()
    }

    /// Runs the parser until an item is queued, the document ends, or an error occurs.
    fn advance(&mut self) -> Result<(), Sen2FileError> {
        if self.st.phase == Phase::Start {
            self.sniff()?;
        }
        while self.st.queue.is_empty() && self.st.phase != Phase::Done {
            self.xml.get_mut().mark_event();
            self.buf.clear();
            let result = self.xml.read_event_into(&mut self.buf);
            let tracker = self.xml.get_mut();
            // Checked before the event itself: quick-xml does not validate UTF-8 in most
            // places, so a broken byte must not get as far as a name or a value.
            if let Some(pos) = tracker.utf8_error() {
                return Err(self.st.encoding_error(pos));
            }
            let event = match result {
                Ok(event) => event,
                Err(e) => {
                    let start = tracker.event_position();
                    return Err(map_xml_error(e, start, tracker));
                }
            };
            if matches!(event, Event::Eof) {
                return self.st.on_eof(tracker.position());
            }
            // The event's position is computed only if a handler asks for it.
            self.st.handle(event, tracker)?;
        }
        Ok(())
    }

    /// Rejects input that is not XML before quick-xml sees it, with a message that says so.
    fn sniff(&mut self) -> Result<(), Sen2FileError> {
        let tracker = self.xml.get_mut();
        let sniff = tracker
            .sniff()
            .map_err(|e| Sen2FileError::io(None, "cannot read the file", Arc::new(e)))?;
        let pos = tracker.position();
        self.st.phase = Phase::Prolog;
        match sniff {
            Sniff::First(b'<') => Ok(()),
            Sniff::First(byte) => Err(Sen2FileError::new(
                Sen2FileErrorKind::NotXml,
                Some(pos),
                format!(
                    "not an XML file: it should start with `<` but starts with {}",
                    describe_start(byte, tracker.fill_buf_peek())
                ),
            )),
            // Positions even here, so that every content error has one.
            Sniff::Empty { had_bytes: false } => Err(Sen2FileError::new(
                Sen2FileErrorKind::NotXml,
                Some(Position::START),
                "the file is empty",
            )),
            Sniff::Empty { had_bytes: true } => Err(Sen2FileError::new(
                Sen2FileErrorKind::NotXml,
                Some(pos),
                "the file contains nothing but whitespace",
            )),
            Sniff::Utf16 => Err(Sen2FileError::new(
                Sen2FileErrorKind::Encoding,
                Some(Position::START),
                "the file is UTF-16; SEN2 files must be UTF-8 (re-save it as UTF-8)",
            )),
        }
    }
}

impl<R: BufRead> Iterator for Sen2Reader<R> {
    type Item = Result<Sen2Item, Sen2FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.st.queue.pop_front() {
            return Some(Ok(item));
        }
        if self.st.phase == Phase::Done {
            return None;
        }
        match self.advance() {
            Ok(()) => self.st.queue.pop_front().map(Ok),
            Err(e) => {
                self.st.phase = Phase::Done;
                self.st.queue.clear();
                Some(Err(e))
            }
        }
    }
}

impl<R: BufRead> FusedIterator for Sen2Reader<R> {}

impl<R: BufRead> std::fmt::Debug for Sen2Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sen2Reader")
            .field("bytes_read", &self.bytes_read())
            .field("limits", &self.st.limits)
            .finish_non_exhaustive()
    }
}

impl<R: std::io::Read> PosReader<R> {
    /// The unconsumed bytes already buffered, for describing the start of a non-XML file.
    fn fill_buf_peek(&mut self) -> &[u8] {
        match self.fill_buf() {
            Ok(bytes) => &bytes[..bytes.len().min(8)],
            Err(_) => &[],
        }
    }
}

/// "byte 0x89 (a PNG image?)" / "`a`": enough for someone who dropped the wrong file.
fn describe_start(byte: u8, head: &[u8]) -> String {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG image"),
        (b"PK\x03\x04", "a ZIP archive or an Excel/Office file"),
        (b"%PDF", "a PDF"),
        (b"\xD0\xCF\x11\xE0", "an old-style Office file"),
        (b"\x1F\x8B", "a gzip file"),
        (b"{", "JSON"),
    ];
    let what = if byte.is_ascii_graphic() {
        format!("`{}`", char::from(byte))
    } else {
        format!("byte 0x{byte:02X}")
    };
    match SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        Some((_, name)) => format!("{what} (it looks like {name})"),
        None => what,
    }
}

/// Turns a quick-xml error into ours. `start` is where the failing event began.
fn map_xml_error<R: std::io::Read>(
    err: XmlError,
    start: Position,
    tracker: &PosReader<R>,
) -> Sen2FileError {
    use Sen2FileErrorKind::{Encoding, Malformed, TooLarge, Truncated};
    // quick-xml reports "input ended before ..." as syntax errors; whether they mean a cut
    // file or garbage depends on whether the input really ended there.
    let cut = if tracker.at_eof() {
        Truncated
    } else {
        Malformed
    };
    let (kind, message) = match err {
        XmlError::Io(_) if tracker.cap_hit() => (
            TooLarge,
            format!(
                "a single tag, comment or run of text is longer than {} bytes \
                     (ReaderLimits::max_markup_bytes)",
                tracker.event_cap()
            ),
        ),
        XmlError::Io(e) => return Sen2FileError::io(Some(start), "cannot read the file", e),
        XmlError::Syntax(e) => {
            let hint = if cut == Truncated {
                "; the file is probably truncated"
            } else {
                ""
            };
            (cut, format!("{e}{hint}"))
        }
        XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => (
            Malformed,
            format!("expected `</{expected}>` but found `</{found}>`"),
        ),
        XmlError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => (
            Malformed,
            format!("end tag `</{name}>` does not close any open element"),
        ),
        XmlError::IllFormed(IllFormedError::UnclosedReference) => (
            cut,
            "`&` must start a reference ending in `;` (write `&amp;` for a literal `&`)".into(),
        ),
        XmlError::IllFormed(e) => (Malformed, e.to_string()),
        XmlError::Encoding(e) => (Encoding, e.to_string()),
        XmlError::Escape(e) => (Malformed, e.to_string()),
        XmlError::InvalidAttr(e) => (Malformed, format!("broken attribute: {e}")),
        XmlError::Namespace(e) => (Malformed, e.to_string()),
    };
    Sen2FileError::new(kind, Some(start), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_non_xml_starts() {
        assert_eq!(describe_start(b'a', b"a,b"), "`a`");
        assert_eq!(
            describe_start(0x89, b"\x89PNG\r\n"),
            "byte 0x89 (it looks like a PNG image)"
        );
    }
}
