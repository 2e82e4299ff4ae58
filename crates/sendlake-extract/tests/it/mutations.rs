//! Property tests: damaged documents never panic, never hang, and are never taken for
//! complete ones.
//!
//! The oracle is a deliberately small, independent well-formedness checker ([`check`]) for the
//! subset of XML that the mock return is written in (ASCII elements and text, no references,
//! comments, declarations or attributes with values). For documents inside that subset it
//! says exactly whether the reader must succeed and how many persons it must find; outside the
//! subset it says `Unknown`, and only the general contract is checked: termination, and an
//! error always carries a position.

use proptest::prelude::*;
use sendlake_extract::{Sen2FileErrorKind as Kind, Sen2Item};

use crate::{assert_positions, mock_bytes, persons, run};

// --- the reference checker ---------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    WellFormed {
        root: String,
        persons: usize,
        elements: Vec<Span>,
    },
    NotWellFormed(&'static str),
    Unknown,
}

/// An element's byte range (from `<` to after `>`) and its parent's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    parent: Option<usize>,
}

const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn valid_name(name: &[u8]) -> Result<(), Verdict> {
    if name.contains(&b':') {
        return Err(Verdict::Unknown);
    }
    match name.split_first() {
        Some((first, rest))
            if (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b)) =>
        {
            Ok(())
        }
        _ => Err(Verdict::NotWellFormed("bad name")),
    }
}

fn check(doc: &[u8]) -> Verdict {
    match check_inner(doc) {
        Ok(v) | Err(v) => v,
    }
}

fn check_inner(doc: &[u8]) -> Result<Verdict, Verdict> {
    let outside_subset =
        |b: &u8| *b >= 0x7F || (*b < 0x20 && !is_ws(*b)) || *b == b'&' || *b == b'"' || *b == b'\'';
    if doc.iter().any(outside_subset) || doc.windows(3).any(|w| w == b"]]>") {
        return Err(Verdict::Unknown);
    }
    let mut stack: Vec<(&[u8], usize)> = Vec::new();
    let mut elements: Vec<Span> = Vec::new();
    let mut root: Option<&[u8]> = None;
    let mut root_done = false;
    let mut persons = 0;
    let mut i = 0;
    while i < doc.len() {
        if doc[i] != b'<' {
            let end = doc[i..]
                .iter()
                .position(|&b| b == b'<')
                .map_or(doc.len(), |k| i + k);
            if stack.is_empty() && !doc[i..end].iter().all(|&b| is_ws(b)) {
                return Err(Verdict::NotWellFormed("text outside the root"));
            }
            i = end;
            continue;
        }
        let close = doc[i + 1..]
            .iter()
            .position(|&b| b == b'>')
            .ok_or(Verdict::NotWellFormed("unclosed tag"))?
            + i
            + 1;
        let tag = &doc[i + 1..close];
        if tag.contains(&b'<') {
            return Err(Verdict::NotWellFormed("`<` inside a tag"));
        }
        if matches!(tag.first(), Some(b'!' | b'?')) {
            return Err(Verdict::Unknown);
        }
        if let Some(end_name) = tag.strip_prefix(b"/") {
            let trimmed_len = end_name
                .iter()
                .rposition(|&b| !is_ws(b))
                .map_or(0, |k| k + 1);
            let name = &end_name[..trimmed_len];
            valid_name(name)?;
            match stack.pop() {
                Some((open, idx)) if open == name => elements[idx].end = close + 1,
                _ => return Err(Verdict::NotWellFormed("mismatched end tag")),
            }
            if stack.is_empty() {
                root_done = true;
            }
        } else {
            let (body, empty) = match tag.strip_suffix(b"/") {
                Some(body) => (body, true),
                None => (tag, false),
            };
            let name_len = body.iter().position(|&b| is_ws(b)).unwrap_or(body.len());
            let (name, rest) = body.split_at(name_len);
            valid_name(name)?;
            if !rest.iter().all(|&b| is_ws(b)) {
                return Err(if rest.contains(&b'=') {
                    Verdict::Unknown
                } else {
                    Verdict::NotWellFormed("attribute without a value")
                });
            }
            if root_done {
                return Err(Verdict::NotWellFormed("second root"));
            }
            if stack.is_empty() {
                root = Some(name);
            }
            let path: Vec<&[u8]> = stack.iter().map(|(n, _)| *n).collect();
            if name == b"Person" && path == [b"Message".as_slice(), b"Persons".as_slice()] {
                persons += 1;
            }
            let parent = stack.last().map(|(_, idx)| *idx);
            elements.push(Span {
                start: i,
                end: close + 1,
                parent,
            });
            if empty {
                root_done |= stack.is_empty();
            } else {
                stack.push((name, elements.len() - 1));
            }
        }
        i = close + 1;
    }
    match root {
        Some(root) if root_done && stack.is_empty() => Ok(Verdict::WellFormed {
            root: String::from_utf8_lossy(root).into_owned(),
            persons,
            elements,
        }),
        Some(_) => Err(Verdict::NotWellFormed("unclosed elements")),
        None => Err(Verdict::NotWellFormed("no root element")),
    }
}

/// The reader's outcome must agree with the checker and with the general contract.
fn assert_outcome(doc: &[u8]) -> Result<(), TestCaseError> {
    let (items, err) = run(doc); // panics if the reader does not terminate
    if let Some(e) = &err {
        prop_assert!(e.pos.is_some(), "every content error has a position: {e:?}");
    }
    match check(doc) {
        Verdict::NotWellFormed(why) => {
            prop_assert!(
                err.is_some(),
                "accepted a document that is not well-formed ({why})"
            );
        }
        Verdict::WellFormed {
            root,
            persons: expected,
            ..
        } if root == "Message" => match err {
            None => prop_assert_eq!(persons(&items).len(), expected),
            Some(e) => prop_assert_eq!(e.kind, Kind::TooLarge, "rejected a good document: {}", e),
        },
        Verdict::WellFormed { .. } => {
            prop_assert_eq!(err.map(|e| e.kind), Some(Kind::WrongRoot));
        }
        Verdict::Unknown => {}
    }
    Ok(())
}

#[test]
fn the_checker_agrees_with_known_answers() {
    let mock = mock_bytes();
    assert!(matches!(
        check(&mock),
        Verdict::WellFormed { persons: 2, .. }
    ));
    assert_eq!(
        check(b"<a></b>"),
        Verdict::NotWellFormed("mismatched end tag")
    );
    assert_eq!(check(b"<a/><a/>"), Verdict::NotWellFormed("second root"));
    assert_eq!(
        check(b"<a b></a>"),
        Verdict::NotWellFormed("attribute without a value")
    );
    assert_eq!(
        check(b"x<a/>"),
        Verdict::NotWellFormed("text outside the root")
    );
    assert_eq!(check(b"<a>&amp;</a>"), Verdict::Unknown);
    assert!(matches!(
        check(b" <a > <b/> </a >\n"),
        Verdict::WellFormed { .. }
    ));
}

// --- (a) truncation ----------------------------------------------------------------------

/// Byte offset just after the root's end tag.
fn root_end(doc: &[u8]) -> usize {
    doc.windows(10).rposition(|w| w == b"</Message>").unwrap() + 10
}

/// Every prefix shorter than the document's root is an error, its items are a prefix of the
/// full document's items, and every prefix that keeps the root is the full document.
fn assert_truncation(doc: &[u8], cut: usize, full: &[Sen2Item]) -> Result<(), TestCaseError> {
    let (items, err) = run(&doc[..cut]);
    prop_assert!(items.len() <= full.len());
    prop_assert_eq!(
        &items[..],
        &full[..items.len()],
        "items before a cut are never altered"
    );
    if cut < root_end(doc) {
        let e = err.ok_or_else(|| {
            TestCaseError::fail(format!(
                "cut at {cut} of {} was read as complete",
                doc.len()
            ))
        })?;
        prop_assert!(e.pos.is_some());
    } else {
        prop_assert!(err.is_none(), "only trailing whitespace was cut: {:?}", err);
        prop_assert_eq!(items.len(), full.len());
    }
    Ok(())
}

#[test]
fn the_mock_cut_at_every_byte_offset_is_never_complete() {
    let mock = mock_bytes();
    let (full, err) = run(&mock);
    assert!(err.is_none());
    for cut in 0..=mock.len() {
        if let Err(e) = assert_truncation(&mock, cut, &full) {
            panic!("cut at {cut}: {e}");
        }
    }
}

// --- synthetic documents with known content ------------------------------------------------

const NAMES: &[&str] = &["Surname", "Forename", "Sex", "UPN", "PostCode", "Prénom"];

#[derive(Debug, Clone)]
struct SynField {
    name: usize,
    value: String,
    style: u8,
}

#[derive(Debug, Clone)]
struct SynPerson {
    fields: Vec<SynField>,
    requests: Vec<Vec<SynField>>,
}

#[derive(Debug, Clone)]
struct SynDoc {
    bom: bool,
    decl: bool,
    crlf: bool,
    persons: Vec<SynPerson>,
}

fn field_strategy() -> impl Strategy<Value = SynField> {
    (0..NAMES.len(), "[ a-zA-Z0-9éöłŁ😀&<>]{0,10}", 0u8..5)
        .prop_map(|(name, value, style)| SynField { name, value, style })
}

fn doc_strategy() -> impl Strategy<Value = SynDoc> {
    let person = (
        prop::collection::vec(field_strategy(), 0..6),
        prop::collection::vec(prop::collection::vec(field_strategy(), 0..4), 0..3),
    )
        .prop_map(|(fields, requests)| SynPerson { fields, requests });
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(person, 0..5),
    )
        .prop_map(|(bom, decl, crlf, persons)| SynDoc {
            bom,
            decl,
            crlf,
            persons,
        })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn char_refs(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !"&<>".contains(c) {
                c.to_string()
            } else {
                format!("&#x{:X};", c as u32)
            }
        })
        .collect()
}

/// One leaf in one of five spellings of the same value.
fn render_field(f: &SynField) -> String {
    let name = NAMES[f.name];
    let v = &f.value;
    let inner = match f.style {
        0 => format!("  {}\t", escape(v)),
        1 => format!("<![CDATA[{v}]]>"),
        2 => char_refs(v),
        3 => {
            let mid = v
                .char_indices()
                .nth(v.chars().count() / 2)
                .map_or(v.len(), |(i, _)| i);
            format!("{}<!-- split -->{}", escape(&v[..mid]), escape(&v[mid..]))
        }
        _ if v.trim().is_empty() => return format!("<{name}/>"),
        _ => escape(v),
    };
    format!("<{name}>{inner}</{name}>")
}

fn expected_fields(fields: &[SynField]) -> Vec<(String, Option<String>)> {
    fields
        .iter()
        .map(|f| {
            let v = f.value.trim_matches(' ');
            (
                NAMES[f.name].to_owned(),
                (!v.is_empty()).then(|| v.to_owned()),
            )
        })
        .collect()
}

fn render(doc: &SynDoc) -> String {
    let nl = if doc.crlf { "\r\n" } else { "\n" };
    let mut s = String::new();
    if doc.bom {
        s.push('\u{feff}');
    }
    if doc.decl {
        s.push_str(&format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{nl}"));
    }
    s.push_str(&format!("<Message>{nl}<!-- synthetic -->{nl}<Header><Source><LEA>919</LEA></Source></Header>{nl}<Persons>{nl}"));
    for p in &doc.persons {
        s.push_str(&format!("\t<Person>{nl}"));
        for f in &p.fields {
            s.push_str(&format!("\t\t{}{nl}", render_field(f)));
        }
        for r in &p.requests {
            s.push_str(&format!("\t\t<Requests>{nl}"));
            for f in r {
                s.push_str(&format!("\t\t\t{}{nl}", render_field(f)));
            }
            // Keep every Requests a container, so its shape is known.
            s.push_str(&format!("\t\t\t<RYA>0</RYA>{nl}\t\t</Requests>{nl}"));
        }
        s.push_str(&format!("\t</Person>{nl}"));
    }
    s.push_str(&format!("</Persons>{nl}</Message>{nl}"));
    s
}

fn fields_of(el: &sendlake_extract::RawElement) -> Vec<(String, Option<String>)> {
    el.fields
        .iter()
        .map(|f| (f.name.to_string(), f.value.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Round trip: whatever the spelling, the reader returns exactly the values written, and
    /// every position points at its tag.
    #[test]
    fn synthetic_documents_read_back_exactly(doc in doc_strategy()) {
        let text = render(&doc);
        let (items, err) = run(text.as_bytes());
        prop_assert!(err.is_none(), "{:?}", err);
        let ps = persons(&items);
        prop_assert_eq!(ps.len(), doc.persons.len());
        for (got, want) in ps.iter().zip(&doc.persons) {
            prop_assert_eq!(fields_of(&got.element), expected_fields(&want.fields));
            let reqs: Vec<_> = got.element.children_named("Requests").collect();
            prop_assert_eq!(reqs.len(), want.requests.len());
            for (r, want_r) in reqs.iter().zip(&want.requests) {
                let mut expected = expected_fields(want_r);
                expected.push(("RYA".into(), Some("0".into())));
                prop_assert_eq!(fields_of(r), expected);
            }
            assert_positions(&text, &got.element);
        }
    }

    /// (a) A synthetic document cut anywhere before its root ends is an error.
    #[test]
    fn synthetic_documents_cut_anywhere_are_never_complete(doc in doc_strategy(), frac in 0.0..1.0f64) {
        let text = render(&doc);
        let bytes = text.as_bytes();
        let (full, _) = run(bytes);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let cut = (frac * bytes.len() as f64) as usize;
        assert_truncation(bytes, cut, &full)?;
    }

    /// (b) Byte ranges deleted, duplicated or swapped.
    #[test]
    fn byte_range_mutations(doc in 0..2usize, a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
                            len in 1..64usize, op in 0..3u8) {
        let base = base_doc(doc);
        let (x, y) = (a.index(base.len()), b.index(base.len()));
        let (lo, hi) = (x.min(y), x.max(y));
        let mutated = match op {
            0 => [&base[..lo], &base[(lo + len).min(base.len())..]].concat(),
            1 => [&base[..hi], &base[lo..hi.min(lo + len)], &base[hi..]].concat(),
            _ => {
                // Swap two non-overlapping ranges [lo, lo+n) and [hi, hi+m).
                let n = len.min(hi - lo);
                let m = len.min(base.len() - hi);
                [&base[..lo], &base[hi..hi + m], &base[lo + n..hi], &base[lo..lo + n], &base[hi + m..]].concat()
            }
        };
        assert_outcome(&mutated)?;
    }

    /// (c) Random bytes inserted, biased towards XML's own characters.
    #[test]
    fn random_insertions(doc in 0..2usize, at in any::<prop::sample::Index>(),
                         junk in prop::collection::vec(prop_oneof![
                             4 => prop::sample::select(b"<>/&;!?[]-= \r\nPersonMessage\"'".to_vec()),
                             1 => any::<u8>(),
                         ], 1..8)) {
        let base = base_doc(doc);
        let at = at.index(base.len() + 1);
        let mutated = [&base[..at], &junk[..], &base[at..]].concat();
        assert_outcome(&mutated)?;
    }

    /// (b) Whole elements deleted, duplicated or swapped with a sibling: still well-formed, so
    /// the reader must succeed and find exactly the persons that are there.
    #[test]
    fn element_mutations(pick in any::<prop::sample::Index>(), other in any::<prop::sample::Index>(), op in 0..3u8) {
        let base = mock_bytes();
        let Verdict::WellFormed { elements, .. } = check(&base) else { panic!("mock") };
        let el = elements[pick.index(elements.len())];
        let siblings: Vec<Span> = elements.iter().copied()
            .filter(|s| s.parent == el.parent && s.parent.is_some() && s.start > el.end)
            .collect();
        let mutated = match op {
            0 => [&base[..el.start], &base[el.end..]].concat(),
            1 => [&base[..el.end], &base[el.start..el.end], &base[el.end..]].concat(),
            _ if !siblings.is_empty() => {
                let sib = siblings[other.index(siblings.len())];
                [&base[..el.start], &base[sib.start..sib.end], &base[el.end..sib.start],
                 &base[el.start..el.end], &base[sib.end..]].concat()
            }
            _ => base.clone(),
        };
        if el.parent.is_some() {
            prop_assert!(matches!(check(&mutated), Verdict::WellFormed { .. }), "mutation kept the tree");
        }
        assert_outcome(&mutated)?;
    }
}

/// The documents that byte mutations start from: the mock, and a synthetic one with every
/// spelling (BOM, declaration, comments, CDATA, references, non-ASCII, self-closing).
fn base_doc(which: usize) -> Vec<u8> {
    if which == 0 {
        return mock_bytes();
    }
    let f = |name, value: &str, style| SynField {
        name,
        value: value.into(),
        style,
    };
    let doc = SynDoc {
        bom: true,
        decl: true,
        crlf: true,
        persons: vec![
            SynPerson {
                fields: vec![
                    f(0, " Łukasz & Zoë ", 0),
                    f(1, "a<b", 1),
                    f(2, "M", 2),
                    f(3, "", 4),
                ],
                requests: vec![vec![f(4, "AB1 2CD", 3)], vec![]],
            },
            SynPerson {
                fields: vec![f(5, "😀", 2)],
                requests: vec![],
            },
        ],
    };
    render(&doc).into_bytes()
}
