//! The format-neutral raw tree: what every source format hands to the validator.
//!
//! These types carry the *shape* of a record (names, text, nesting, where it was in the file)
//! and nothing else. They deliberately know no SEN2 rule: a missing `Sex`, a duplicated
//! `UPN` or a `PlacementRank` of `7` all arrive here unchanged so that the validator in
//! `sendlake-transform` can report every problem with its position, instead of the reader
//! giving up on the first one.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A place in a source file, used for error messages and lineage.
///
/// Both numbers are 1-based. `column` counts Unicode scalar values (characters), not bytes,
/// from the start of the line, because that is what editors show: `<Surname>Zoë</Surname>`
/// puts the `<` of `</Surname>` in column 13, not 14. A line ends at LF; the CR of a CRLF pair
/// is the last character of its line, so CRLF files get the same numbers as LF files. A byte
/// order mark at the start of the file is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column in characters, starting at 1.
    pub column: u32,
}

impl Position {
    /// The first character of a file.
    pub const START: Self = Self { line: 1, column: 1 };
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// An element name: a string that is shared rather than copied.
///
/// A file repeats a few dozen names millions of times, and an owned `String` per element
/// (allocated, copied, freed) was one of the reader's largest costs. Use it like a `&str`
/// ([`as_str`](Self::as_str), `Deref`, comparisons with `str` and `String`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Shows the name as a string does, so `Debug` output of the raw tree reads as before.
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.as_ref().to_owned()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

/// A leaf: an element with text only, or with nothing at all.
#[derive(Debug, Clone, PartialEq)]
pub struct RawField {
    /// Local element name (a namespace prefix, if any, is dropped), exactly as in the file.
    pub name: Name,
    /// The text content with entity and character references decoded, CDATA included, and
    /// surrounding XML whitespace (space, tab, CR, LF) trimmed, because padded values such as
    /// `<Sex> M </Sex>` are common in local-authority exports. `None` when the element is
    /// self-closing, empty or whitespace-only: "blank" is one state, however it was written.
    pub value: Option<String>,
    /// Where the element's start tag begins (its `<`).
    pub pos: Position,
}

/// A container: an element with at least one child element.
///
/// Leaves go to [`fields`](Self::fields) and containers to [`children`](Self::children), each
/// in document order. Any text found directly inside a container is not kept here; the
/// reader reports it separately (for SEN2: [`Sen2Item::Skipped`](crate::Sen2Item::Skipped)).
#[derive(Debug, Clone, PartialEq)]
pub struct RawElement {
    /// Local element name, exactly as in the file.
    pub name: Name,
    /// Where the element's start tag begins (its `<`).
    pub pos: Position,
    /// Slash-separated location from the root, for messages, e.g.
    /// `Message/Persons/Person[3]/Requests[2]/ActivePlans/PlacementDetail[2]`. See the
    /// crate docs ("Paths") for when an `[n]` index is written.
    pub path: String,
    /// Leaf children, in document order (duplicates kept).
    pub fields: Vec<RawField>,
    /// Container children, in document order.
    pub children: Vec<RawElement>,
}

impl RawElement {
    /// The first leaf called `name`, if any.
    pub fn field(&self, name: &str) -> Option<&RawField> {
        self.fields.iter().find(|f| *f.name == *name)
    }

    /// The trimmed value of the first leaf called `name`; `None` when the leaf is missing or
    /// blank. Use [`field`](Self::field) to tell those two apart.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(|f| f.value.as_deref())
    }

    /// Every leaf called `name`, in document order. More than one is a data error for the
    /// validator to report; the reader keeps them all so it can.
    pub fn fields_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a RawField> {
        self.fields.iter().filter(move |f| *f.name == *name)
    }

    /// Every container child called `name`, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a RawElement> {
        self.children.iter().filter(move |c| *c.name == *name)
    }

    /// The first container child called `name`, if any.
    pub fn child(&self, name: &str) -> Option<&RawElement> {
        self.children.iter().find(|c| *c.name == *name)
    }

    /// The path of a leaf of this element: this element's path, `/`, and the leaf name.
    ///
    /// Leaf paths are built on demand rather than stored, because they are only needed for
    /// messages and a file has tens of millions of leaves.
    pub fn field_path(&self, name: &str) -> String {
        let mut path = String::with_capacity(self.path.len() + 1 + name.len());
        path.push_str(&self.path);
        path.push('/');
        path.push_str(name);
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str, value: Option<&str>) -> RawField {
        RawField {
            name: name.into(),
            value: value.map(Into::into),
            pos: Position::START,
        }
    }

    #[test]
    fn accessors_find_first_and_all() {
        let el = RawElement {
            name: "Person".into(),
            pos: Position::START,
            path: "Message/Persons/Person[1]".into(),
            fields: vec![
                leaf("UPN", None),
                leaf("Sex", Some("M")),
                leaf("Sex", Some("F")),
            ],
            children: vec![RawElement {
                name: "Requests".into(),
                pos: Position { line: 2, column: 3 },
                path: "Message/Persons/Person[1]/Requests[1]".into(),
                fields: vec![],
                children: vec![],
            }],
        };
        assert_eq!(el.value("Sex"), Some("M"));
        assert_eq!(el.fields_named("Sex").count(), 2);
        assert!(el.field("UPN").is_some());
        assert_eq!(el.value("UPN"), None);
        assert_eq!(el.value("Missing"), None);
        assert_eq!(el.child("Requests").map(|c| c.pos.line), Some(2));
        assert_eq!(el.children_named("Requests").count(), 1);
        assert!(el.child("Assessment").is_none());
        assert_eq!(el.field_path("Sex"), "Message/Persons/Person[1]/Sex");
        assert_eq!(
            Position {
                line: 12,
                column: 7
            }
            .to_string(),
            "line 12, column 7"
        );
    }
}
