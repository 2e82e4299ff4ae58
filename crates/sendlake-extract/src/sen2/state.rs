//! The reader's state machine: what is open, what is being built, what comes next.
//!
//! Above the items (`Message`, `Persons`) only a stack of frames is kept; inside an item a
//! [`RawElement`] tree is built, and an element is decided to be a leaf or a container when
//! it gets its first child or closes. Anything unexpected outside an item is skipped without
//! being stored. The driver in `reader.rs` feeds it one quick-xml event at a time.

use std::collections::VecDeque;
use std::fmt::Write as _;

use quick_xml::events::{BytesDecl, BytesStart, Event};

use super::markup::{NameCache, check_attributes, is_blank_bytes, leaf_value, resolve_reference};
use super::paths::{SiblingCounts, push_segment};
use super::{RawPerson, ReaderLimits, Sen2Item};
use crate::pos_reader::Locate;
use crate::{Name, Position, RawElement, RawField, Sen2FileError, Sen2FileErrorKind};

/// The root element every SEN2 return has.
const ROOT: &str = "Message";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
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

/// Field and child counts of the last container of each name, to size the next one.
#[derive(Debug, Default)]
struct CapacityHints(Vec<(Name, usize, usize)>);

impl CapacityHints {
    /// Enough for every SEN2 container; more names are simply not remembered.
    const MAX_NAMES: usize = 64;
    /// A hostile file must not make every later element reserve a huge vector.
    const MAX_HINT: usize = 64;

    fn get(&self, name: &str) -> (usize, usize) {
        self.0
            .iter()
            .find(|(n, ..)| *n == *name)
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

/// Everything but the parser and its buffer, so that an event borrowed from the buffer can
/// be handled while the state is mutated.
#[derive(Debug)]
pub(super) struct State {
    pub(super) limits: ReaderLimits,
    pub(super) phase: Phase,
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
    pub(super) queue: VecDeque<Sen2Item>,
}

impl State {
    pub(super) fn new(limits: ReaderLimits) -> Self {
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

    pub(super) fn handle(
        &mut self,
        event: Event<'_>,
        at: &mut dyn Locate,
    ) -> Result<(), Sen2FileError> {
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

    fn outer_start(
        &mut self,
        element: &Name,
        pos: Position,
        empty: bool,
    ) -> Result<(), Sen2FileError> {
        let Some(parent) = self.outer.last_mut() else {
            return Ok(());
        };
        let name = element.as_str();
        let n = parent.children.bump(name);
        let mut path = parent.path.clone();
        push_segment(&mut path, name, n);
        match (parent.kind, name) {
            (OuterKind::Message, "Header") => {
                self.item_start(ItemKind::Header, element, path, pos, empty)
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
                self.item_start(kind, element, path, pos, empty)
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
        name: &Name,
        path: String,
        pos: Position,
        empty: bool,
    ) -> Result<(), Sen2FileError> {
        self.item = Some(kind);
        self.item_nodes = 1;
        self.check_nodes(pos)?;
        let element = RawElement {
            name: name.clone(),
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

    fn build_start(&mut self, name: Name, pos: Position, empty: bool) -> Result<(), Sen2FileError> {
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
            let same = |name: &Name| *name == top.name;
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
            (&top.path, top.name.as_str())
        } else if let Some(top) = self.outer.last() {
            (&top.path, top.name.as_str())
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

    pub(super) fn on_eof(&mut self, here: Position) -> Result<(), Sen2FileError> {
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

    pub(super) fn encoding_error(&self, pos: Position) -> Sen2FileError {
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
pub(super) fn malformed(pos: Position, message: impl Into<String>) -> Sen2FileError {
    Sen2FileError::new(Sen2FileErrorKind::Malformed, Some(pos), message)
}

#[cold]
fn too_large(pos: Position, message: String) -> Sen2FileError {
    Sen2FileError::new(Sen2FileErrorKind::TooLarge, Some(pos), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_hints_remember_the_last_shape_and_are_bounded() {
        let mut hints = CapacityHints::default();
        assert_eq!(hints.get("Person"), (0, 0));
        let el = RawElement {
            name: "Person".into(),
            pos: Position::START,
            path: String::new(),
            fields: (0..100)
                .map(|i| RawField {
                    name: format!("F{i}").into(),
                    value: None,
                    pos: Position::START,
                })
                .collect(),
            children: Vec::new(),
        };
        hints.record(&el);
        assert_eq!(hints.get("Person"), (CapacityHints::MAX_HINT, 0));
    }
}
