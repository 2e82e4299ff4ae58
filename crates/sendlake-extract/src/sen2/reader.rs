//! The streaming SEN2 reader: quick-xml events in, [`Sen2Item`]s out.
//!
//! The reader is a small state machine over quick-xml's pull parser. Above the items
//! (`Message`, `Persons`) it keeps only a stack of frames; inside an item it builds a
//! [`RawElement`] tree, deciding leaf or container when an element gets its first child or
//! closes. Outside an item, anything unexpected is skipped without being stored.
//!
//! Work per event is kept small because a national file has tens of millions of events: one
//! event buffer and one text buffer are reused for the whole file; each distinct element name
//! is validated once (`NameCache`); container paths are built once per container and a
//! leaf's path never (see [`RawElement::field_path`]); positions are computed only for the
//! events that keep or report one; vectors are sized from the previous element of the same
//! name. What remains per leaf is what the public tree owns: a `String` name and value.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::iter::FusedIterator;
use std::path::Path;
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, IllFormedError};
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};

use super::{RawPerson, ReaderLimits, Sen2Item};
use crate::pos_reader::{Locate, PosReader, Sniff};
use crate::{Position, RawElement, RawField, Sen2FileError, Sen2FileErrorKind};

/// The root element every SEN2 return has.
const ROOT: &str = "Message";

/// Elements that SEN2 repeats by design. Their path segment always carries an index, also for
/// the first one (`Requests[1]`), so that paths of the same logical thing look the same in
/// every file. This is presentation only; the reader does not check any of it.
const REPEATING: &[&str] = &[
    "Person",
    "Requests",
    "PlanDetail",
    "PlacementDetail",
    "SENneed",
];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read yet.
    Start,
    /// Before the root element.
    Prolog,
    /// Inside the root element.
    Root,
    /// After the root element closed.
    Epilog,
    /// End of input or error.
    Done,
}

/// An open element above the items.
#[derive(Debug)]
struct OuterFrame {
    kind: OuterKind,
    name: String,
    pos: Position,
    path: String,
    children: SiblingCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OuterKind {
    Message,
    Persons,
}

/// Which item the element tree under construction is.
#[derive(Debug, Clone, Copy)]
enum ItemKind {
    Header,
    Person { index: u64 },
}

/// An element outside the items being skipped, subtree and all.
#[derive(Debug)]
struct Skip {
    /// Open elements inside the skipped subtree, itself included.
    depth: usize,
    name: String,
    path: String,
    pos: Position,
    reason: String,
}

/// How many children of each name an outer frame has had, for path indexes.
#[derive(Debug, Default)]
struct SiblingCounts(Vec<(String, u32)>);

impl SiblingCounts {
    /// Enough for any real file; a hostile one with more distinct names only gets less
    /// precise indexes, not unbounded memory.
    const MAX_NAMES: usize = 64;

    /// Counts one more child called `name` and returns its 1-based index.
    fn bump(&mut self, name: &str) -> u32 {
        if let Some((_, n)) = self.0.iter_mut().find(|(k, _)| k == name) {
            *n = n.saturating_add(1);
            return *n;
        }
        if self.0.len() < Self::MAX_NAMES {
            self.0.push((name.to_owned(), 1));
        }
        1
    }
}

/// Element names already checked, so that each distinct name is validated and decoded once.
///
/// A SEN2 file has about 80 distinct names repeated millions of times; checking and
/// decoding every occurrence was a measurable share of the run time. Direct-mapped (a name
/// that collides just replaces the slot) and limited to short names, so memory is bounded.
#[derive(Debug)]
struct NameCache {
    /// `(qualified name as in the file, local name)`.
    slots: Vec<Option<(Box<[u8]>, String)>>,
}

impl NameCache {
    const SLOTS: usize = 256;
    const MAX_LEN: usize = 64;

    fn new() -> Self {
        Self {
            slots: vec![None; Self::SLOTS],
        }
    }

    /// The local name of `e`, checked (see [`element_name`]).
    fn get(&mut self, e: &BytesStart<'_>, pos: Position) -> Result<String, Sen2FileError> {
        let qname = e.name().into_inner();
        if qname.len() > Self::MAX_LEN {
            return element_name(e, pos).map(str::to_owned);
        }
        // FNV-1a: names are short, so a simple byte hash is the cheapest good one.
        let hash = qname.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let slot = usize::try_from(hash).unwrap_or_default() % Self::SLOTS;
        if let Some((cached, local)) = &self.slots[slot]
            && **cached == *qname
        {
            return Ok(local.clone());
        }
        let local = element_name(e, pos)?.to_owned();
        self.slots[slot] = Some((qname.into(), local.clone()));
        Ok(local)
    }
}

/// Field and child counts of the last container of each name, to size the next one.
#[derive(Debug, Default)]
struct CapacityHints(Vec<(String, usize, usize)>);

impl CapacityHints {
    /// Enough for every SEN2 container; more names are simply not remembered.
    const MAX_NAMES: usize = 64;
    /// A hostile file must not make every later element reserve a huge vector.
    const MAX_HINT: usize = 64;

    fn get(&self, name: &str) -> (usize, usize) {
        self.0
            .iter()
            .find(|(n, ..)| n == name)
            .map_or((0, 0), |&(_, f, c)| (f, c))
    }

    fn record(&mut self, el: &RawElement) {
        let counts = (
            el.fields.len().min(Self::MAX_HINT),
            el.children.len().min(Self::MAX_HINT),
        );
        if let Some(entry) = self.0.iter_mut().find(|(n, ..)| *n == el.name) {
            (entry.1, entry.2) = counts;
        } else if self.0.len() < Self::MAX_NAMES {
            self.0.push((el.name.clone(), counts.0, counts.1));
        }
    }
}

/// Appends `/name` or `/name[n]` to `path` (see [`REPEATING`] and the crate docs).
fn push_segment(path: &mut String, name: &str, n: u32) {
    if !path.is_empty() {
        path.push('/');
    }
    path.push_str(name);
    if n > 1 || REPEATING.contains(&name) {
        // By hand rather than `write!`: the formatting machinery cost more than the rest of
        // building a path, and this runs for every container of every person.
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        path.push('[');
        path.extend(digits[i..].iter().map(|&d| char::from(d)));
        path.push(']');
    }
}

/// Everything but the parser and its buffer, so that an event borrowed from the buffer can
/// be handled while the state is mutated.
#[derive(Debug)]
struct State {
    limits: ReaderLimits,
    phase: Phase,
    /// Whether anything has been seen in the prolog (the XML declaration must come first).
    prolog_seen: bool,
    doctype_seen: bool,
    declared_encoding: Option<String>,
    outer: Vec<OuterFrame>,
    /// The item under construction: its root first, the innermost open element last.
    build: Vec<RawElement>,
    item: Option<ItemKind>,
    item_nodes: usize,
    persons: u64,
    skip: Option<Skip>,
    /// Text of the innermost open element while it may still be a leaf (UTF-8, already
    /// validated; kept as bytes so that whitespace between tags is never converted).
    text: Vec<u8>,
    text_pos: Option<Position>,
    /// Non-whitespace text found directly in the innermost open container.
    stray: Option<Position>,
    /// `Skipped` notes found inside the current item, queued after it.
    notes: Vec<Sen2Item>,
    names: NameCache,
    hints: CapacityHints,
    queue: VecDeque<Sen2Item>,
}

impl State {
    fn new(limits: ReaderLimits) -> Self {
        Self {
            limits,
            phase: Phase::Start,
            prolog_seen: false,
            doctype_seen: false,
            declared_encoding: None,
            outer: Vec::new(),
            build: Vec::new(),
            item: None,
            item_nodes: 0,
            persons: 0,
            skip: None,
            text: Vec::with_capacity(256),
            text_pos: None,
            stray: None,
            notes: Vec::new(),
            names: NameCache::new(),
            hints: CapacityHints::default(),
            queue: VecDeque::new(),
        }
    }

    fn depth(&self) -> usize {
        self.outer.len() + self.build.len() + self.skip.as_ref().map_or(0, |s| s.depth)
    }

    fn handle(&mut self, event: Event<'_>, at: &mut dyn Locate) -> Result<(), Sen2FileError> {
        match event {
            Event::Start(e) => self.on_start(&e, at.event_position(), false),
            Event::Empty(e) => self.on_start(&e, at.event_position(), true),
            Event::End(_) => self.on_end(),
            // Raw bytes: the position tracker has validated the UTF-8, and a value is
            // converted to a `String` once, when its element closes.
            Event::Text(t) => self.on_chars(&t, at, false),
            Event::CData(t) => self.on_chars(&t, at, false),
            Event::GeneralRef(r) => {
                let mut utf8_buf = [0; 4];
                let text = resolve_reference(&r, at, &mut utf8_buf)?;
                self.on_chars(text.as_bytes(), at, true)
            }
            Event::Comment(_) | Event::PI(_) => {
                self.prolog_seen = true;
                Ok(())
            }
            Event::Decl(d) => self.on_decl(&d, at.event_position()),
            Event::DocType(_) => self.on_doctype(at.event_position()),
            // Handled by the caller, which has the position of the end of input.
            Event::Eof => Ok(()),
        }
    }

    fn on_start(
        &mut self,
        e: &BytesStart<'_>,
        pos: Position,
        empty: bool,
    ) -> Result<(), Sen2FileError> {
        let name = self.names.get(e, pos)?;
        check_attributes(e, &name, pos)?;
        match self.phase {
            Phase::Prolog => self.on_root(&name, pos, empty),
            Phase::Root => {
                self.flush_stray();
                if self.depth() + 1 > self.limits.max_depth {
                    return Err(too_large(
                        pos,
                        format!(
                            "`<{name}>` is nested more than {} elements deep \
                             (ReaderLimits::max_depth)",
                            self.limits.max_depth
                        ),
                    ));
                }
                if let Some(skip) = &mut self.skip {
                    if !empty {
                        skip.depth += 1;
                    }
                    return Ok(());
                }
                if self.build.is_empty() {
                    self.outer_start(&name, pos, empty)
                } else {
                    self.build_start(name, pos, empty)
                }
            }
            Phase::Epilog => Err(malformed(
                pos,
                format!("a second root element `<{name}>` after the end of `<{ROOT}>`"),
            )),
            Phase::Start | Phase::Done => Ok(()),
        }
    }

    fn on_root(&mut self, name: &str, pos: Position, empty: bool) -> Result<(), Sen2FileError> {
        if name != ROOT {
            return Err(Sen2FileError::new(
                Sen2FileErrorKind::WrongRoot,
                Some(pos),
                format!(
                    "the root element is `<{name}>`, not `<{ROOT}>`: this is not a SEN2 return"
                ),
            ));
        }
        if empty {
            self.phase = Phase::Epilog;
        } else {
            self.outer.push(OuterFrame {
                kind: OuterKind::Message,
                name: name.to_owned(),
                pos,
                path: name.to_owned(),
                children: SiblingCounts::default(),
            });
            self.phase = Phase::Root;
        }
        Ok(())
    }

    fn outer_start(&mut self, name: &str, pos: Position, empty: bool) -> Result<(), Sen2FileError> {
        let Some(parent) = self.outer.last_mut() else {
            return Ok(());
        };
        let n = parent.children.bump(name);
        let mut path = parent.path.clone();
        push_segment(&mut path, name, n);
        match (parent.kind, name) {
            (OuterKind::Message, "Header") => {
                self.item_start(ItemKind::Header, name, path, pos, empty)
            }
            (OuterKind::Message, "Persons") => {
                if !empty {
                    self.outer.push(OuterFrame {
                        kind: OuterKind::Persons,
                        name: name.to_owned(),
                        pos,
                        path,
                        children: SiblingCounts::default(),
                    });
                }
                Ok(())
            }
            (OuterKind::Persons, "Person") => {
                self.persons += 1;
                let kind = ItemKind::Person {
                    index: self.persons,
                };
                self.item_start(kind, name, path, pos, empty)
            }
            (kind, _) => {
                let parent_name = &parent.name;
                let reason = if kind == OuterKind::Message && name == "Person" {
                    format!(
                        "`<Person>` directly inside `<{parent_name}>` instead of inside `<Persons>`; skipped"
                    )
                } else {
                    format!(
                        "unexpected element `<{name}>` inside `<{parent_name}>`; skipped with its content"
                    )
                };
                if empty {
                    self.queue
                        .push_back(Sen2Item::Skipped { path, pos, reason });
                } else {
                    self.skip = Some(Skip {
                        depth: 1,
                        name: name.to_owned(),
                        path,
                        pos,
                        reason,
                    });
                }
                Ok(())
            }
        }
    }

    fn item_start(
        &mut self,
        kind: ItemKind,
        name: &str,
        path: String,
        pos: Position,
        empty: bool,
    ) -> Result<(), Sen2FileError> {
        self.item = Some(kind);
        self.item_nodes = 1;
        self.check_nodes(pos)?;
        let element = RawElement {
            name: name.to_owned(),
            pos,
            path,
            fields: Vec::new(),
            children: Vec::new(),
        };
        if empty {
            self.emit_item(element);
        } else {
            self.build.push(element);
        }
        Ok(())
    }

    #[inline]
    fn check_nodes(&self, pos: Position) -> Result<(), Sen2FileError> {
        if self.item_nodes <= self.limits.max_person_nodes {
            return Ok(());
        }
        Err(self.too_many_nodes(pos))
    }

    #[cold]
    fn too_many_nodes(&self, pos: Position) -> Sen2FileError {
        let (what, start) = match (self.item, self.build.first()) {
            (Some(ItemKind::Person { index }), Some(root)) => (format!("person {index}"), root.pos),
            (_, Some(root)) => (format!("`<{}>`", root.name), root.pos),
            (_, None) => ("the item".to_owned(), pos),
        };
        too_large(
            pos,
            format!(
                "{what} (starting at {start}) has more than {} elements \
                 (ReaderLimits::max_person_nodes)",
                self.limits.max_person_nodes
            ),
        )
    }

    fn build_start(
        &mut self,
        name: String,
        pos: Position,
        empty: bool,
    ) -> Result<(), Sen2FileError> {
        self.item_nodes += 1;
        self.check_nodes(pos)?;
        self.make_top_container();
        let Some(parent) = self.build.last_mut() else {
            return Ok(());
        };
        if empty {
            parent.fields.push(RawField {
                name,
                value: None,
                pos,
            });
        } else {
            self.build.push(RawElement {
                name,
                pos,
                // Filled in by `make_top_container` if the element turns out to be one.
                path: String::new(),
                fields: Vec::new(),
                children: Vec::new(),
            });
        }
        Ok(())
    }

    /// The innermost open element is getting a child, so it is a container: give it a path,
    /// and report any text it had collected as stray.
    fn make_top_container(&mut self) {
        if let Some(top) = self.build.last_mut()
            && top.fields.capacity() == 0
            && top.children.capacity() == 0
        {
            // First child: size the vectors like the last element of this name, instead of
            // growing them 4, 8, 16 (SEN2 records repeat the same shape).
            let (fields, children) = self.hints.get(&top.name);
            top.fields.reserve(fields);
            top.children.reserve(children);
        }
        let len = self.build.len();
        if len >= 2 && self.build[len - 1].path.is_empty() {
            let (parents, top) = self.build.split_at_mut(len - 1);
            let (parent, top) = (&parents[len - 2], &mut top[0]);
            let same = |name: &str| name == top.name;
            let before = parent.fields.iter().filter(|f| same(&f.name)).count()
                + parent.children.iter().filter(|c| same(&c.name)).count();
            let n = u32::try_from(before + 1).unwrap_or(u32::MAX);
            let mut path = String::with_capacity(parent.path.len() + top.name.len() + 8);
            path.push_str(&parent.path);
            push_segment(&mut path, &top.name, n);
            top.path = path;
        }
        // Reported now, while this element is still the innermost: `flush_stray` would run
        // too late, when the new child is the innermost element.
        if let Some(text_pos) = self.text_pos.take() {
            if !is_blank_bytes(&self.text)
                && let Some(top) = self.build.last()
            {
                let note = stray_note(&top.path, &top.name, text_pos);
                self.notes.push(note);
            }
            self.text.clear();
        }
    }

    fn on_end(&mut self) -> Result<(), Sen2FileError> {
        if self.phase != Phase::Root {
            return Ok(());
        }
        self.flush_stray();
        if let Some(skip) = &mut self.skip {
            skip.depth -= 1;
            if skip.depth == 0
                && let Some(Skip {
                    path, pos, reason, ..
                }) = self.skip.take()
            {
                self.queue
                    .push_back(Sen2Item::Skipped { path, pos, reason });
            }
            return Ok(());
        }
        if let Some(element) = self.build.pop() {
            return self.build_end(element);
        }
        self.outer.pop();
        if self.outer.is_empty() {
            self.phase = Phase::Epilog;
        }
        Ok(())
    }

    fn build_end(&mut self, element: RawElement) -> Result<(), Sen2FileError> {
        let is_leaf = element.fields.is_empty() && element.children.is_empty();
        if !is_leaf {
            self.hints.record(&element);
            match self.build.last_mut() {
                Some(parent) => parent.children.push(element),
                None => self.emit_item(element),
            }
            return Ok(());
        }
        let text_pos = self.text_pos.take();
        let value = leaf_value(&self.text, text_pos.unwrap_or(element.pos))?;
        self.text.clear();
        match self.build.last_mut() {
            Some(parent) => {
                parent.fields.push(RawField {
                    name: element.name,
                    value,
                    pos: element.pos,
                });
            }
            None => {
                // `<Person>text</Person>`: an item with text and no children.
                if value.is_some() {
                    let pos = text_pos.unwrap_or(element.pos);
                    self.notes
                        .push(stray_note(&element.path, &element.name, pos));
                }
                self.emit_item(element);
            }
        }
        Ok(())
    }

    fn emit_item(&mut self, element: RawElement) {
        let item = match self.item.take() {
            Some(ItemKind::Person { index }) => Sen2Item::Person(RawPerson { index, element }),
            Some(ItemKind::Header) | None => Sen2Item::Header(element),
        };
        self.queue.push_back(item);
        self.queue.extend(self.notes.drain(..));
    }

    /// Reports text found directly inside the innermost open container, once per run of text.
    fn flush_stray(&mut self) {
        let Some(pos) = self.stray.take() else { return };
        let (path, name) = if let Some(top) = self.build.last() {
            (&top.path, &top.name)
        } else if let Some(top) = self.outer.last() {
            (&top.path, &top.name)
        } else {
            return;
        };
        let note = stray_note(path, name, pos);
        if self.build.is_empty() {
            self.queue.push_back(note);
        } else {
            self.notes.push(note);
        }
    }

    /// Text, CDATA or a resolved reference.
    /// Text, CDATA or a resolved reference. Asks for the position only when it is kept (the
    /// start of a value, stray text) or reported: most text is whitespace between tags.
    fn on_chars(
        &mut self,
        s: &[u8],
        at: &mut dyn Locate,
        is_ref: bool,
    ) -> Result<(), Sen2FileError> {
        match self.phase {
            Phase::Root => {}
            Phase::Prolog | Phase::Epilog => {
                if is_ref || !is_blank_bytes(s) {
                    let place = if self.phase == Phase::Prolog {
                        "before"
                    } else {
                        "after"
                    };
                    return Err(malformed(
                        at.event_position(),
                        format!("text {place} the root element `<{ROOT}>`"),
                    ));
                }
                return Ok(());
            }
            Phase::Start | Phase::Done => return Ok(()),
        }
        if self.skip.is_some() {
            return Ok(());
        }
        let leaf_candidate = self
            .build
            .last()
            .is_some_and(|top| top.fields.is_empty() && top.children.is_empty());
        if !leaf_candidate {
            if self.stray.is_none() && (is_ref || !is_blank_bytes(s)) {
                self.stray = Some(at.event_position());
            }
            return Ok(());
        }
        if self.text_pos.is_none() {
            self.text_pos = Some(at.event_position());
        }
        if self.text.len() + s.len() > self.limits.max_value_bytes {
            let name = self.build.last().map_or("?", |top| top.name.as_str());
            return Err(too_large(
                self.text_pos.unwrap_or(Position::START),
                format!(
                    "the text of `<{name}>` is longer than {} bytes (ReaderLimits::max_value_bytes)",
                    self.limits.max_value_bytes
                ),
            ));
        }
        self.text.extend_from_slice(s);
        Ok(())
    }

    fn on_decl(&mut self, decl: &BytesDecl<'_>, pos: Position) -> Result<(), Sen2FileError> {
        if self.phase != Phase::Prolog || self.prolog_seen {
            return Err(malformed(
                pos,
                "the XML declaration `<?xml ...?>` must come first",
            ));
        }
        self.prolog_seen = true;
        if let Err(e) = decl.version() {
            return Err(malformed(pos, format!("bad XML declaration: {e}")));
        }
        if let Some(Ok(enc)) = decl.encoding() {
            let enc = String::from_utf8_lossy(&enc).into_owned();
            if !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("utf8") {
                // Plain ASCII content reads the same either way, so this is only an error
                // once a non-UTF-8 byte turns up; remembered for that message.
                self.declared_encoding = Some(enc);
            }
        }
        Ok(())
    }

    fn on_doctype(&mut self, pos: Position) -> Result<(), Sen2FileError> {
        if self.phase != Phase::Prolog || self.doctype_seen {
            return Err(malformed(
                pos,
                "a `<!DOCTYPE>` is only allowed once, before the root element",
            ));
        }
        self.doctype_seen = true;
        self.prolog_seen = true;
        Ok(())
    }

    fn on_eof(&mut self, here: Position) -> Result<(), Sen2FileError> {
        let open = if let Some(skip) = &self.skip {
            Some((skip.name.as_str(), skip.pos))
        } else if let Some(top) = self.build.last() {
            Some((top.name.as_str(), top.pos))
        } else {
            self.outer.last().map(|top| (top.name.as_str(), top.pos))
        };
        match (self.phase, open) {
            (Phase::Epilog, _) => {
                self.phase = Phase::Done;
                Ok(())
            }
            (Phase::Root, Some((name, pos))) => Err(Sen2FileError::new(
                Sen2FileErrorKind::Truncated,
                Some(here),
                format!(
                    "the file ends inside `<{name}>` (opened at {pos}); it is probably truncated"
                ),
            )),
            _ => Err(Sen2FileError::new(
                Sen2FileErrorKind::Truncated,
                Some(here),
                format!("the file ends before the root element `<{ROOT}>`"),
            )),
        }
    }

    fn encoding_error(&self, pos: Position) -> Sen2FileError {
        let mut message = "invalid UTF-8 byte sequence".to_owned();
        if let Some(enc) = &self.declared_encoding {
            let _ = write!(
                message,
                " (the file declares encoding `{enc}`, but SEN2 files must be UTF-8: re-save it as UTF-8)"
            );
        }
        Sen2FileError::new(Sen2FileErrorKind::Encoding, Some(pos), message)
    }
}

/// The note for text found directly inside a container. The text itself is not quoted: it
/// may be personal data, and notes end up in logs.
#[cold]
fn stray_note(path: &str, name: &str, pos: Position) -> Sen2Item {
    Sen2Item::Skipped {
        path: path.to_owned(),
        pos,
        reason: format!("text directly inside `<{name}>` ignored (it holds elements, not a value)"),
    }
}

#[cold]
fn malformed(pos: Position, message: impl Into<String>) -> Sen2FileError {
    Sen2FileError::new(Sen2FileErrorKind::Malformed, Some(pos), message)
}

#[cold]
fn too_large(pos: Position, message: String) -> Sen2FileError {
    Sen2FileError::new(Sen2FileErrorKind::TooLarge, Some(pos), message)
}

/// Event text as `&str`. The position tracker has validated these bytes already, so the
/// error arm is a safety net, not a code path.
fn utf8(bytes: &[u8], pos: Position) -> Result<&str, Sen2FileError> {
    std::str::from_utf8(bytes).map_err(|_| {
        Sen2FileError::new(
            Sen2FileErrorKind::Encoding,
            Some(pos),
            "invalid UTF-8 byte sequence",
        )
    })
}

/// The local name of an element, after checking that the whole name is a plausible XML name.
///
/// quick-xml takes whatever is between `<` and the first space as the name; without this
/// check a stray `<` in a value (`<Surname>A<B</Surname>`) would become an element called
/// `B</Surname`. The check is the XML `Name` production for ASCII; any non-ASCII character is
/// accepted (XML allows nearly all of them).
fn element_name<'a>(e: &'a BytesStart<'_>, pos: Position) -> Result<&'a str, Sen2FileError> {
    let qname = e.name().into_inner();
    let valid = match qname.split_first() {
        Some((&first, rest)) => {
            (first.is_ascii_alphabetic() || matches!(first, b'_' | b':') || first >= 0x80)
                && rest.iter().all(|&b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.') || b >= 0x80
                })
        }
        None => false,
    };
    let local = utf8(e.local_name().into_inner(), pos)?;
    if !valid || local.is_empty() {
        // The bad "name" is usually part of a value (a `<` in the text), so it is not quoted.
        return Err(malformed(
            pos,
            "`<` is not followed by a valid element name (a `<` inside a value must be \
             written `&lt;`)",
        ));
    }
    Ok(local)
}

/// SEN2 has no attributes, so they are ignored, but they must at least be well-formed: a
/// broken attribute usually means a broken tag.
fn check_attributes(e: &BytesStart<'_>, name: &str, pos: Position) -> Result<(), Sen2FileError> {
    if is_blank_bytes(e.attributes_raw()) {
        return Ok(());
    }
    for attr in e.attributes() {
        if let Err(err) = attr {
            return Err(malformed(
                pos,
                format!("broken attribute in `<{name}>`: {err}"),
            ));
        }
    }
    Ok(())
}

/// The text a general reference stands for: a character reference or one of the five
/// predefined entities. Entities declared in a DTD are not supported (SEN2 has none).
fn resolve_reference<'b>(
    r: &BytesRef<'_>,
    at: &mut dyn Locate,
    buf: &'b mut [u8; 4],
) -> Result<&'b str, Sen2FileError> {
    let pos = at.event_position();
    let name = utf8(r, pos)?;
    if name.starts_with('#') {
        return match r.resolve_char_ref() {
            Ok(Some(ch)) => Ok(ch.encode_utf8(buf)),
            _ => Err(malformed(
                pos,
                format!("invalid character reference `&{name};`"),
            )),
        };
    }
    match quick_xml::escape::resolve_xml_entity(name) {
        Some(text) => {
            let len = text.len();
            buf[..len].copy_from_slice(text.as_bytes());
            utf8(&buf[..len], pos)
        }
        None => Err(malformed(
            pos,
            format!(
                "unknown entity `&{name};` (only `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` \
                 and character references are allowed)"
            ),
        )),
    }
}

const fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_blank_bytes(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| is_xml_space(b))
}

/// Trims XML whitespace only: a non-breaking space is data, not padding.
fn trim_xml(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_xml_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_xml_space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// A leaf's value from its collected text: trimmed, blank as `None`, and with XML
/// end-of-line handling (CRLF and lone CR become LF) applied to what is left.
fn leaf_value(text: &[u8], pos: Position) -> Result<Option<String>, Sen2FileError> {
    let trimmed = trim_xml(text);
    if trimmed.is_empty() {
        return Ok(None);
    }
    let s = utf8(trimmed, pos)?;
    if !trimmed.contains(&b'\r') {
        return Ok(Some(s.to_owned()));
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        let mut p = String::new();
        push_segment(&mut p, "Message", 1);
        push_segment(&mut p, "Persons", 1);
        push_segment(&mut p, "Person", 3);
        push_segment(&mut p, "Assessment", 1);
        push_segment(&mut p, "Assessment", 2);
        assert_eq!(p, "Message/Persons/Person[3]/Assessment/Assessment[2]");
        let mut p = String::new();
        push_segment(&mut p, "X", 1_234_567_890);
        push_segment(&mut p, "Y", 10);
        push_segment(&mut p, "Z", u32::MAX);
        assert_eq!(p, "X[1234567890]/Y[10]/Z[4294967295]");
    }

    #[test]
    fn sibling_counts_are_bounded() {
        let mut c = SiblingCounts::default();
        assert_eq!(c.bump("a"), 1);
        assert_eq!(c.bump("a"), 2);
        for i in 0..1000 {
            c.bump(&format!("n{i}"));
        }
        assert_eq!(c.0.len(), SiblingCounts::MAX_NAMES);
        assert_eq!(c.bump("a"), 3);
    }

    #[test]
    fn normalizes_line_ends() {
        let value = |s: &str| leaf_value(s.as_bytes(), Position::START).unwrap();
        assert_eq!(value(" a\r\nb\rc\r\n"), Some("a\nb\nc".into()));
        assert_eq!(value(" \t\r\n x y \n"), Some("x y".into()));
        assert_eq!(value("\u{a0}x"), Some("\u{a0}x".into()));
        assert_eq!(value(" \r\n\t"), None);
        assert_eq!(value(""), None);
    }

    #[test]
    fn describes_non_xml_starts() {
        assert_eq!(describe_start(b'a', b"a,b"), "`a`");
        assert_eq!(
            describe_start(0x89, b"\x89PNG\r\n"),
            "byte 0x89 (it looks like a PNG image)"
        );
    }
}
