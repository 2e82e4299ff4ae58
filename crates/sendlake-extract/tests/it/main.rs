//! Integration tests of `sendlake-extract`: one binary, one module per concern.
//!
//! - `mock`: the third-party SEN2 mock return, structure and positions.
//! - `accept`: real-world input the reader must accept.
//! - `reject`: bad input, each with its error kind and position.
//! - `mutations`: property tests (truncation, byte and element mutations, round trips).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accept;
mod mock;
mod mutations;
mod reject;

use std::io::{self, BufReader, Read};

use sendlake_extract::{
    Position, RawElement, RawPerson, ReaderLimits, Sen2FileError, Sen2Item, Sen2Reader,
};

pub const MOCK_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sen2/SEN2-2024-mockup.xml"
);

pub fn mock_bytes() -> Vec<u8> {
    std::fs::read(MOCK_PATH).unwrap()
}

/// Everything the reader yields: the items before the error, and the error if any.
/// Panics if the iterator does not end within a generous bound (a non-terminating reader).
pub fn run_with(bytes: &[u8], limits: ReaderLimits) -> (Vec<Sen2Item>, Option<Sen2FileError>) {
    let mut reader = Sen2Reader::new(bytes).with_limits(limits);
    let mut items = Vec::new();
    let bound = bytes.len() + 16;
    for _ in 0..bound {
        match reader.next() {
            Some(Ok(item)) => items.push(item),
            Some(Err(e)) => {
                assert!(
                    reader.next().is_none(),
                    "the iterator must be fused after an error"
                );
                return (items, Some(e));
            }
            None => {
                assert!(reader.next().is_none(), "the iterator must stay finished");
                return (items, None);
            }
        }
    }
    panic!(
        "the reader yielded more than {bound} items for {} bytes",
        bytes.len()
    );
}

pub fn run(bytes: &[u8]) -> (Vec<Sen2Item>, Option<Sen2FileError>) {
    run_with(bytes, ReaderLimits::default())
}

/// Items of a document that must parse.
#[track_caller]
pub fn items(xml: &str) -> Vec<Sen2Item> {
    let (items, err) = run(xml.as_bytes());
    if let Some(e) = err {
        panic!("unexpected error: {e} ({:?})", e.kind);
    }
    items
}

/// The error of a document that must fail.
#[track_caller]
pub fn error(bytes: &[u8]) -> Sen2FileError {
    match run(bytes) {
        (_, Some(e)) => e,
        (items, None) => panic!("expected an error, got {} items", items.len()),
    }
}

pub fn persons(items: &[Sen2Item]) -> Vec<&RawPerson> {
    items
        .iter()
        .filter_map(|i| match i {
            Sen2Item::Person(p) => Some(p),
            _ => None,
        })
        .collect()
}

pub fn headers(items: &[Sen2Item]) -> Vec<&RawElement> {
    items
        .iter()
        .filter_map(|i| match i {
            Sen2Item::Header(h) => Some(h),
            _ => None,
        })
        .collect()
}

/// `(path, pos, reason)` of every `Skipped` item.
pub fn skipped(items: &[Sen2Item]) -> Vec<(&str, Position, &str)> {
    items
        .iter()
        .filter_map(|i| match i {
            Sen2Item::Skipped { path, pos, reason } => Some((path.as_str(), *pos, reason.as_str())),
            _ => None,
        })
        .collect()
}

/// A single-`Person` document.
pub fn person_doc(inner: &str) -> String {
    format!("<Message><Persons><Person>{inner}</Person></Persons></Message>")
}

/// The only person of a document that must parse.
#[track_caller]
pub fn only_person(xml: &str) -> RawElement {
    let items = items(xml);
    let ps = persons(&items);
    assert_eq!(ps.len(), 1, "expected one person");
    ps[0].element.clone()
}

/// Maps [`Position`]s back to byte offsets, to check that positions point at the right `<`.
pub struct Lines<'a> {
    text: &'a str,
    /// Byte offset of each line start (after a BOM).
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let mut starts = vec![bom];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, starts }
    }

    pub fn offset(&self, pos: Position) -> usize {
        let start = self.starts[pos.line as usize - 1];
        let col: usize = self.text[start..]
            .chars()
            .take(pos.column as usize - 1)
            .map(char::len_utf8)
            .sum();
        start + col
    }

    fn at(&self, pos: Position) -> &'a str {
        let at = self.offset(pos);
        &self.text[at..]
    }
}

/// Asserts that every node of `el` has a position pointing at `<name` (or `<prefix:name`).
#[track_caller]
pub fn assert_positions(text: &str, el: &RawElement) {
    assert_positions_in(&Lines::new(text), el);
}

#[track_caller]
pub fn assert_positions_in(lines: &Lines<'_>, el: &RawElement) {
    let points_at = |rest: &str, name: &str| {
        let tag = rest.strip_prefix('<').unwrap_or("");
        let local = tag
            .split_once(':')
            .filter(|(p, _)| !p.contains('>'))
            .map_or(tag, |(_, l)| l);
        local.starts_with(name)
            && local[name.len()..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace())
    };
    let snippet = |rest: &str| rest.chars().take(20).collect::<String>();
    let rest = lines.at(el.pos);
    assert!(
        points_at(rest, &el.name),
        "{} at {}: {:?}",
        el.path,
        el.pos,
        snippet(rest)
    );
    for f in &el.fields {
        let rest = lines.at(f.pos);
        assert!(
            points_at(rest, &f.name),
            "{} at {}: {:?}",
            el.field_path(&f.name),
            f.pos,
            snippet(rest)
        );
    }
    for c in &el.children {
        assert_positions_in(lines, c);
    }
}

/// Elements (containers and leaves) in a tree.
pub fn count_nodes(el: &RawElement) -> usize {
    1 + el.fields.len() + el.children.iter().map(count_nodes).sum::<usize>()
}

/// A reader that returns one byte per `read` call, to put every chunk boundary everywhere.
pub struct Trickle<'a>(pub &'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // A byte slice reads into `out` and moves past what it read; a one-byte window makes
        // each call hand out one byte (none at the end or into an empty buffer).
        let one = out.len().min(1);
        self.0.read(&mut out[..one])
    }
}

/// Runs the reader over a one-byte-at-a-time source.
pub fn run_trickle(bytes: &[u8]) -> (Vec<Sen2Item>, Option<Sen2FileError>) {
    let reader = Sen2Reader::new(BufReader::with_capacity(1, Trickle(bytes)));
    let mut items = Vec::new();
    for item in reader {
        match item {
            Ok(item) => items.push(item),
            Err(e) => return (items, Some(e)),
        }
    }
    (items, None)
}
