//! Bad input: every case is a `Sen2FileError` with a kind and a position, never a panic.

use std::io::{self, BufReader, Read};

use sendlake_extract::{Position, ReaderLimits, Sen2FileErrorKind as Kind, Sen2Reader};

use crate::{error, mock_bytes, person_doc, persons, run, run_with};

fn pos(line: u32, column: u32) -> Option<Position> {
    Some(Position { line, column })
}

#[track_caller]
fn assert_error(bytes: &[u8], kind: Kind, at: Option<Position>, needle: &str) {
    let e = error(bytes);
    assert_eq!((e.kind, e.pos), (kind, at), "{e}");
    assert!(
        e.message.contains(needle),
        "{:?} should mention {needle:?}",
        e.message
    );
}

// --- not XML ---------------------------------------------------------------------------

#[test]
fn empty_and_blank_files_are_not_xml() {
    assert_error(b"", Kind::NotXml, pos(1, 1), "empty");
    assert_error(b"\xEF\xBB\xBF", Kind::NotXml, pos(1, 1), "whitespace");
    assert_error(b" \r\n\t\n", Kind::NotXml, pos(3, 1), "whitespace");
}

#[test]
fn csv_json_and_binary_files_are_not_xml() {
    assert_error(
        b"UPN,Sex\r\nA123,M\r\n",
        Kind::NotXml,
        pos(1, 1),
        "starts with `U`",
    );
    assert_error(b"\n  {\"a\": 1}", Kind::NotXml, pos(2, 3), "JSON");
    assert_error(
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        Kind::NotXml,
        pos(1, 1),
        "PNG",
    );
    assert_error(b"PK\x03\x04\x14\0\x06\0", Kind::NotXml, pos(1, 1), "Excel");
    assert_error(b"%PDF-1.7", Kind::NotXml, pos(1, 1), "PDF");
}

// --- encoding --------------------------------------------------------------------------

#[test]
fn invalid_utf8_is_reported_at_the_byte() {
    let mut doc = b"<Message>\r\n<Persons><Person>\r\n<Surname>Caf".to_vec();
    doc.extend_from_slice(b"\xE9</Surname></Person></Persons></Message>"); // Latin-1 é
    assert_error(&doc, Kind::Encoding, pos(3, 13), "UTF-8");

    let in_comment = b"<Message><!-- \xFF --></Message>";
    assert_error(in_comment, Kind::Encoding, pos(1, 15), "UTF-8");

    let in_name = b"<Message><Pers\xC3ons/></Message>";
    assert_error(in_name, Kind::Encoding, pos(1, 15), "UTF-8");

    let outside_items = b"<Message><Footer>\xC0\xAF</Footer></Message>"; // overlong
    assert_error(outside_items, Kind::Encoding, pos(1, 18), "UTF-8");
}

#[test]
fn a_declared_non_utf8_encoding_is_named_in_the_message() {
    let doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<Message><Persons><Person>\
                <Surname>Caf\xE9</Surname></Person></Persons></Message>";
    assert_error(doc, Kind::Encoding, pos(2, 39), "ISO-8859-1");
    // Plain ASCII under such a declaration reads fine.
    let (items, err) =
        run(b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><Message><Persons><Person/></Persons></Message>");
    assert!(err.is_none());
    assert_eq!(items.len(), 1);
}

#[test]
fn utf16_files_are_rejected_as_encoding() {
    let utf16: Vec<u8> = "\u{feff}<Message/>"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_error(&utf16, Kind::Encoding, pos(1, 1), "UTF-16");
    let no_bom: Vec<u8> = "<Message/>"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    assert_eq!(error(&no_bom).kind, Kind::Encoding);
}

#[test]
fn a_file_cut_inside_a_multibyte_character_is_an_error() {
    let doc = "<Message><Persons><Person><Surname>Zoë</Surname></Person></Persons></Message>";
    let cut = doc.find('ë').unwrap() + 1;
    let e = error(&doc.as_bytes()[..cut]);
    assert!(matches!(e.kind, Kind::Encoding | Kind::Truncated), "{e}");
    assert!(e.pos.is_some());
}

// --- malformed -------------------------------------------------------------------------

#[test]
fn mismatched_and_unmatched_end_tags() {
    assert_error(
        person_doc("<Sex>M</Sexx>").as_bytes(),
        Kind::Malformed,
        pos(1, 33),
        "`</Sex>` but found `</Sexx>`",
    );
    assert_error(
        person_doc("<Sex>M</Person>").as_bytes(),
        Kind::Malformed,
        pos(1, 33),
        "</Sex>",
    );
    assert_error(
        b"<Message></Message></Message>",
        Kind::Malformed,
        pos(1, 20),
        "</Message>",
    );
    assert_error(
        b"<Message>\n<Persons>\n</Message>",
        Kind::Malformed,
        pos(3, 1),
        "`</Persons>` but found `</Message>`",
    );
}

#[test]
fn bad_names_references_and_attributes() {
    assert_error(
        person_doc("<Sex>A<B</Sex>").as_bytes(),
        Kind::Malformed,
        pos(1, 33),
        "name",
    );
    assert_error(
        person_doc("<1st>x</1st>").as_bytes(),
        Kind::Malformed,
        pos(1, 27),
        "name",
    );
    assert_error(
        person_doc("<>x</>").as_bytes(),
        Kind::Malformed,
        pos(1, 27),
        "name",
    );
    assert_error(
        person_doc("<a:>x</a:>").as_bytes(),
        Kind::Malformed,
        pos(1, 27),
        "name",
    );
    assert_error(
        person_doc("<Surname>Smith &nbsp;</Surname>").as_bytes(),
        Kind::Malformed,
        pos(1, 42),
        "unknown entity",
    );
    // A reference sits in a value, so the message does not quote it.
    let e = error(person_doc("<Surname>Smith&Jones;</Surname>").as_bytes());
    assert!(!e.message.contains("Jones"), "{e}");
    assert_error(
        person_doc("<Surname>Smith & Sons</Surname>").as_bytes(),
        Kind::Malformed,
        pos(1, 42),
        "&amp;",
    );
    assert_error(
        person_doc("<Sex>&#0;</Sex>").as_bytes(),
        Kind::Malformed,
        pos(1, 32),
        "character reference",
    );
    assert_error(
        person_doc("<Sex>&#xZZ;</Sex>").as_bytes(),
        Kind::Malformed,
        pos(1, 32),
        "character reference",
    );
    assert_error(
        person_doc("<Sex a>M</Sex>").as_bytes(),
        Kind::Malformed,
        pos(1, 27),
        "attribute",
    );
    assert_error(
        person_doc("<Sex a=\"1\" a=\"2\">M</Sex>").as_bytes(),
        Kind::Malformed,
        pos(1, 27),
        "attribute",
    );
}

#[test]
fn text_and_elements_outside_the_root() {
    assert_error(
        b"<?xml version=\"1.0\"?>hello<Message/>",
        Kind::Malformed,
        pos(1, 22),
        "before",
    );
    assert_error(b"<Message/>\nbye", Kind::Malformed, pos(1, 11), "after");
    assert_error(b"<Message/>&amp;", Kind::Malformed, pos(1, 11), "after");
    assert_error(
        b"<Message/>\n<Message/>",
        Kind::Malformed,
        pos(2, 1),
        "second root",
    );
    assert_error(
        b"<Message><Persons/></Message><Persons/>",
        Kind::Malformed,
        pos(1, 30),
        "second root",
    );
}

#[test]
fn misplaced_declarations_and_doctypes() {
    assert_error(
        b"<!-- c --><?xml version=\"1.0\"?><Message/>",
        Kind::Malformed,
        pos(1, 11),
        "first",
    );
    assert_error(
        b"<Message><?xml version=\"1.0\"?></Message>",
        Kind::Malformed,
        pos(1, 10),
        "first",
    );
    assert_error(b"<?xml?><Message/>", Kind::Malformed, pos(1, 1), "version");
    assert_error(
        b"<Message><!DOCTYPE x></Message>",
        Kind::Malformed,
        pos(1, 10),
        "DOCTYPE",
    );
}

// --- truncated ---------------------------------------------------------------------------

#[test]
fn eof_with_open_elements_is_truncated_and_names_the_element() {
    let doc = "<Message>\n<Persons>\n<Person>\n<Requests>\n<RYA>0</RYA>";
    let e = error(doc.as_bytes());
    assert_eq!((e.kind, e.pos), (Kind::Truncated, pos(5, 13)), "{e}");
    assert!(
        e.message.contains("<Requests>") && e.message.contains("line 4, column 1"),
        "{e}"
    );
    assert_eq!(e.to_string(), format!("line 5, column 13: {}", e.message));

    for (cut_doc, kind) in [
        ("<Message><Persons><Person><Sex>M</Se", Kind::Truncated),
        ("<Message><Persons><Person><Sex>M", Kind::Truncated),
        ("<Message><Persons><Person><Sex", Kind::Truncated),
        ("<Message><Persons><Person><!-- com", Kind::Truncated),
        ("<Message><Persons><Person><Sex>&am", Kind::Truncated),
        ("<Message><Persons><Person><Sex><![CDATA[x", Kind::Truncated),
        ("<Message><Footer><A>", Kind::Truncated),
        ("<Message", Kind::Truncated),
        ("<", Kind::Truncated),
        ("<?xml version=\"1.0\"?>", Kind::Truncated),
        ("<!-- only a comment -->", Kind::Truncated),
        ("<Message/><!-- trailing", Kind::Truncated),
    ] {
        let e = error(cut_doc.as_bytes());
        assert_eq!(e.kind, kind, "{cut_doc:?}: {e}");
        assert!(e.pos.is_some(), "{cut_doc:?}");
    }
}

#[test]
fn persons_before_a_cut_are_delivered_then_the_error_ends_the_stream() {
    let mock = mock_bytes();
    let second_person = mock.windows(8).rposition(|w| w == b"<Person>").unwrap();
    let (items, err) = run(&mock[..second_person + 30]); // inside the Surname text
    assert_eq!(
        persons(&items).len(),
        1,
        "person 1 is complete, person 2 is not"
    );
    let err = err.unwrap();
    assert_eq!(err.kind, Kind::Truncated);
    assert!(
        err.message.contains("<Surname>") || err.message.contains("<Person>"),
        "{err}"
    );
}

// --- wrong root -------------------------------------------------------------------------

#[test]
fn a_root_other_than_message_is_wrong_root() {
    assert_error(
        b"<html><body/></html>",
        Kind::WrongRoot,
        pos(1, 1),
        "`<html>`",
    );
    assert_error(
        b"<?xml version=\"1.0\"?>\r\n<CIN><Header/></CIN>",
        Kind::WrongRoot,
        pos(2, 1),
        "not a SEN2",
    );
    assert_eq!(
        error(b"<message/>").kind,
        Kind::WrongRoot,
        "names are case-sensitive"
    );
}

// --- too large --------------------------------------------------------------------------

#[test]
fn a_person_with_too_many_elements_is_too_large() {
    let limits = ReaderLimits {
        max_person_nodes: 5,
        ..ReaderLimits::default()
    };
    let ok = person_doc("<A/><B/><C/><D/>");
    assert!(
        run_with(ok.as_bytes(), limits).1.is_none(),
        "exactly at the limit"
    );
    let doc = person_doc("<A/><B/><C/><D/><E>1</E>");
    let e = run_with(doc.as_bytes(), limits).1.unwrap();
    assert_eq!((e.kind, e.pos), (Kind::TooLarge, pos(1, 43)));
    assert!(
        e.message.contains("person 1") && e.message.contains("max_person_nodes"),
        "{e}"
    );
}

#[test]
fn a_long_value_is_too_large() {
    let limits = ReaderLimits {
        max_value_bytes: 10,
        ..ReaderLimits::default()
    };
    assert!(
        run_with(person_doc("<A>0123456789</A>").as_bytes(), limits)
            .1
            .is_none()
    );
    // Padding counts: the limit is on what is buffered, before trimming.
    let e = run_with(person_doc("<A>01234<!---->56789X</A>").as_bytes(), limits)
        .1
        .unwrap();
    assert_eq!((e.kind, e.pos), (Kind::TooLarge, pos(1, 30)));
    assert!(e.message.contains("<A>"), "{e}");
}

#[test]
fn deep_nesting_is_too_large_also_in_skipped_subtrees() {
    let limits = ReaderLimits {
        max_depth: 5,
        ..ReaderLimits::default()
    };
    let ok = person_doc("<A><B/></A>"); // Message, Persons, Person, A, B = 5
    assert!(run_with(ok.as_bytes(), limits).1.is_none());
    let e = run_with(person_doc("<A><B><C/></B></A>").as_bytes(), limits)
        .1
        .unwrap();
    assert_eq!((e.kind, e.pos), (Kind::TooLarge, pos(1, 33)));

    let deep = format!(
        "<Message><X>{}{}</X></Message>",
        "<a>".repeat(100),
        "</a>".repeat(100)
    );
    let e = error(deep.as_bytes());
    assert_eq!(e.kind, Kind::TooLarge, "default max_depth 32");
}

#[test]
fn huge_markup_or_text_is_refused_before_it_is_buffered() {
    let limits = ReaderLimits {
        max_markup_bytes: 4096,
        max_value_bytes: 100,
        ..ReaderLimits::default()
    };
    // One text run of 1 MiB with no `<`: the parser must stop long before buffering it all.
    let mut doc = b"<Message><Footer>".to_vec();
    doc.extend(std::iter::repeat_n(b'x', 1 << 20));
    doc.extend_from_slice(b"</Footer></Message>");
    let e = run_with(&doc, limits).1.unwrap();
    assert_eq!((e.kind, e.pos), (Kind::TooLarge, pos(1, 18)));
    assert!(e.message.contains("max_markup_bytes"), "{e}");

    let mut comment = b"<Message><!--".to_vec();
    comment.extend(std::iter::repeat_n(b'-', 1 << 20));
    assert_eq!(run_with(&comment, limits).1.unwrap().kind, Kind::TooLarge);

    let long_name = format!("<Message><{}/></Message>", "N".repeat(10_000));
    assert_eq!(
        run_with(long_name.as_bytes(), limits).1.unwrap().kind,
        Kind::TooLarge
    );
}

#[test]
fn many_unknown_siblings_do_not_grow_memory_unboundedly() {
    // 5000 distinct unknown elements under Persons: all skipped, all reported, no error.
    let mut doc = String::from("<Message><Persons>");
    for i in 0..5000 {
        doc.push_str(&format!("<U{i}/>"));
    }
    doc.push_str("<Person/></Persons></Message>");
    let (items, err) = run(doc.as_bytes());
    assert!(err.is_none());
    assert_eq!(items.len(), 5001);
}

// --- I/O and the iterator contract ------------------------------------------------------

struct FailAfter<'a>(&'a [u8]);

impl Read for FailAfter<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::other("disk on fire"));
        }
        let n = self.0.len().min(out.len()).min(16);
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn io_errors_are_io_and_end_the_stream() {
    let doc = person_doc("<Sex>M</Sex>");
    let mut reader = Sen2Reader::new(BufReader::new(FailAfter(&doc.as_bytes()[..30])));
    let e = reader.next().unwrap().unwrap_err();
    assert_eq!(e.kind, Kind::Io);
    assert!(e.message.contains("disk on fire"));
    assert!(
        std::error::Error::source(&e).is_some(),
        "the io::Error is kept as the source"
    );
    assert!(reader.next().is_none());

    let e = Sen2Reader::open(std::path::Path::new("/definitely/not/here.xml")).unwrap_err();
    assert_eq!((e.kind, e.pos), (Kind::Io, None));
}

#[test]
fn nothing_is_yielded_after_an_error() {
    let doc = "<Message><Persons><Person/><Person></Oops><Person/></Persons></Message>";
    let mut reader = Sen2Reader::new(doc.as_bytes());
    assert!(reader.next().unwrap().is_ok());
    assert_eq!(reader.next().unwrap().unwrap_err().kind, Kind::Malformed);
    for _ in 0..3 {
        assert!(reader.next().is_none());
    }
}
