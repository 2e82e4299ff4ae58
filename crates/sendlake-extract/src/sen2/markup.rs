//! From markup bytes to checked names and values: element names, attributes, references,
//! whitespace and leaf values. Knows XML, not SEN2.

use quick_xml::events::{BytesRef, BytesStart};
use rustc_hash::FxHashMap;

use super::state::malformed;
use crate::pos_reader::Locate;
use crate::{Name, Position, Sen2FileError, Sen2FileErrorKind};

/// Element names already checked, so that each distinct name is validated and decoded once.
///
/// A SEN2 file has about 80 distinct names repeated millions of times; checking and
/// decoding every occurrence was a measurable share of the run time, and so was copying the
/// name: the cache hands out shared [`Name`]s. Limited to short names and to a number of
/// them, so memory is bounded whatever the file.
#[derive(Debug, Default)]
pub(super) struct NameCache {
    /// Qualified name as in the file -> local name.
    names: FxHashMap<Box<[u8]>, Name>,
}

impl NameCache {
    const MAX_NAMES: usize = 1024;
    const MAX_LEN: usize = 64;

    pub(super) fn new() -> Self {
        Self::default()
    }

    /// The local name of `e`, checked (see [`element_name`]).
    pub(super) fn get(&mut self, e: &BytesStart<'_>, pos: Position) -> Result<Name, Sen2FileError> {
        let qname = e.name().into_inner();
        if let Some(local) = self.names.get(qname) {
            return Ok(local.clone());
        }
        let local = Name::from(element_name(e, pos)?);
        if qname.len() <= Self::MAX_LEN && self.names.len() < Self::MAX_NAMES {
            self.names.insert(qname.into(), local.clone());
        }
        Ok(local)
    }
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
pub(super) fn check_attributes(
    e: &BytesStart<'_>,
    name: &str,
    pos: Position,
) -> Result<(), Sen2FileError> {
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
pub(super) fn resolve_reference<'b>(
    r: &BytesRef<'_>,
    at: &mut dyn Locate,
    buf: &'b mut [u8; 4],
) -> Result<&'b str, Sen2FileError> {
    let pos = at.event_position();
    let name = utf8(r, pos)?;
    if name.starts_with('#') {
        return match r.resolve_char_ref() {
            Ok(Some(ch)) => Ok(ch.encode_utf8(buf)),
            _ => Err(malformed(pos, "invalid character reference")),
        };
    }
    match quick_xml::escape::resolve_xml_entity(name) {
        Some(text) => {
            let len = text.len();
            buf[..len].copy_from_slice(text.as_bytes());
            utf8(&buf[..len], pos)
        }
        // Not named: a reference sits in a value (`Smith&Jones;`), and messages never quote
        // values. The position points at it.
        None => Err(malformed(
            pos,
            "unknown entity (only `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` and character \
             references are allowed)",
        )),
    }
}

const fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

pub(super) fn is_blank_bytes(bytes: &[u8]) -> bool {
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
pub(super) fn leaf_value(text: &[u8], pos: Position) -> Result<Option<String>, Sen2FileError> {
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
    fn normalizes_line_ends() {
        let value = |s: &str| leaf_value(s.as_bytes(), Position::START).unwrap();
        assert_eq!(value(" a\r\nb\rc\r\n"), Some("a\nb\nc".into()));
        assert_eq!(value(" \t\r\n x y \n"), Some("x y".into()));
        assert_eq!(value("\u{a0}x"), Some("\u{a0}x".into()));
        assert_eq!(value(" \r\n\t"), None);
        assert_eq!(value(""), None);
    }
}
