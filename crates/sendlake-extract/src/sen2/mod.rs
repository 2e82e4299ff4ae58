//! SEN2 XML returns (the DfE special educational needs person-level survey).
//!
//! File shape (reference: `send-domain.md` §1.3): a `Message` root with one `Header` and one
//! `Persons`, which holds any number of `Person` subtrees. The reader yields one
//! [`Sen2Item`] per `Header` and per `Person`, so memory depends on the largest person, not
//! on the file. Everything inside an item is kept as a raw tree; nothing is checked against
//! the SEN2 schema here.

mod markup;
mod paths;
mod reader;
mod state;

pub use reader::Sen2Reader;

use crate::{Position, RawElement};

/// One `Person` subtree.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPerson {
    /// 1-based position among all `Person` elements of the file, counted in document order
    /// (across several `Persons` elements, should a file have them). Stable lineage for
    /// messages ("person 1234") that does not depend on any value inside the record.
    pub index: u64,
    /// The `Person` element with everything inside it.
    pub element: RawElement,
}

/// One item of a SEN2 file, in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Sen2Item {
    /// The whole `Header` subtree (collection details, source LA, ...).
    Header(RawElement),
    /// One `Person` subtree.
    Person(RawPerson),
    /// Something the reader did not turn into an item: an unexpected element outside a
    /// `Person` (for example an unknown child of `Message`; its subtree is skipped), or text
    /// mixed in with child elements (anywhere, also inside a `Person`). Reported rather than
    /// dropped silently so the validator can decide how serious it is. Notes found inside a
    /// `Header` or `Person` come right after that item.
    Skipped {
        /// Path of the skipped element, or of the element that contained the stray text.
        path: String,
        /// Where the skipped element or text starts.
        pos: Position,
        /// Why it was skipped, for a message. Never contains values from the file.
        reason: String,
    },
}

/// Bounds that keep memory in check whatever the input.
///
/// The defaults are far above anything a real return contains (a `Person` has about 60–150
/// elements), so hitting one means a corrupt or hostile file. A `Person` held in memory costs
/// at most about `max_person_nodes × max_value_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Most elements (containers and leaves, the `Person` itself included) in one `Person` or
    /// `Header` subtree. Default 10 000.
    pub max_person_nodes: usize,
    /// Longest text of one leaf, in bytes after decoding references. Default 64 KiB.
    pub max_value_bytes: usize,
    /// Deepest element nesting, the root counting as 1. A SEN2 leaf is at most 8 deep.
    /// Default 32.
    pub max_depth: usize,
    /// Longest single piece of markup or text run the parser may buffer (a tag, a comment,
    /// a CDATA section, a processing instruction, the text between two tags). Without it a
    /// file with no `<` for a gigabyte would be buffered whole before any other check could
    /// run. Effectively at least `max_value_bytes` + 1 KiB. Default 1 MiB.
    pub max_markup_bytes: usize,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        Self {
            max_person_nodes: 10_000,
            max_value_bytes: 64 * 1024,
            max_depth: 32,
            max_markup_bytes: 1024 * 1024,
        }
    }
}

impl ReaderLimits {
    /// The per-event byte cap handed to the position tracker.
    pub(crate) fn event_cap(&self) -> u64 {
        let cap = self
            .max_markup_bytes
            .max(self.max_value_bytes.saturating_add(1024));
        u64::try_from(cap).unwrap_or(u64::MAX)
    }
}
