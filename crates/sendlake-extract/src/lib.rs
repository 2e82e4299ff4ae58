//! Reading SEND source files: the SEN2 XML return, one record at a time, and flat CSV and
//! Excel files as records.
//!
//! Brief overview: this crate turns a SEN2 file (the DfE special educational needs
//! person-level survey, XML) into a stream of raw records, with memory bounded by the largest
//! record rather than by the file: a 1.5 GB national file is read in a few megabytes. It knows
//! the XML *shape* only; whether a record obeys the SEN2 rules is decided downstream, in the
//! validator of `sendlake-transform`.
//!
//! - [`discover_files`] lists the input files of a run (one folder, a `*.xml` style pattern,
//!   sorted so runs are deterministic).
//! - [`Sen2Reader`] opens one file ([`Sen2Reader::open`], or [`Sen2Reader::new`] over any
//!   `BufRead`) and is an iterator of `Result<`[`Sen2Item`]`, `[`Sen2FileError`]`>`.
//! - A [`Sen2Item`] is the [`Header`](Sen2Item::Header), one
//!   [`Person`](Sen2Item::Person) ([`RawPerson`]: its 1-based index in the file and its
//!   tree), or a [`Skipped`](Sen2Item::Skipped) note for something unexpected that was not
//!   turned into an item.
//! - Trees are made of [`RawElement`]s (elements with child elements: `Requests`,
//!   `PlacementDetail`...) and [`RawField`]s (elements with text only: `Sex`, `UPN`...). Every
//!   node carries the [`Position`] of its start tag; containers carry a path such as
//!   `Message/Persons/Person[3]/Requests[2]`. Accessors ([`RawElement::value`],
//!   [`RawElement::children_named`]...) keep validator code short.
//! - A [`Sen2FileError`] means the *file* cannot be read (not XML, bad UTF-8, broken or
//!   truncated XML, wrong root, over a [`ReaderLimits`] bound). Its `Display` reads
//!   `line 12, column 7: <message>`, so callers prefix the file name. After an error the
//!   iterator ends: a file is accepted whole or rejected whole.
//!
//! ```
//! use sendlake_extract::{Sen2Item, Sen2Reader};
//!
//! let xml = "\u{feff}<?xml version=\"1.0\"?>\r\n<Message>\r\n<Persons>\r\n\
//!            <Person><Surname>Zoë</Surname><Sex> F </Sex></Person>\r\n</Persons>\r\n</Message>";
//! let items: Vec<Sen2Item> = Sen2Reader::new(xml.as_bytes()).collect::<Result<_, _>>()?;
//! let Sen2Item::Person(person) = &items[0] else { panic!() };
//! assert_eq!(person.index, 1);
//! assert_eq!(person.element.value("Sex"), Some("F"));
//! let sex = person.element.field("Sex").unwrap();
//! assert_eq!((sex.pos.line, sex.pos.column), (4, 31)); // characters: `ë` counts once
//!
//! let err = Sen2Reader::new(&b"<Message><Persons><Person><Sex>M</Se"[..])
//!     .find_map(Result::err)
//!     .unwrap();
//! assert_eq!(err.kind, sendlake_extract::Sen2FileErrorKind::Truncated);
//! # Ok::<(), sendlake_extract::Sen2FileError>(())
//! ```
//!
//! # What the reader accepts
//!
//! A UTF-8 BOM; CRLF or LF line ends; an XML declaration or none; comments, processing
//! instructions and one DOCTYPE (ignored); CDATA; the five predefined entities and character
//! references; namespace prefixes and a default namespace (elements are matched and stored by
//! local name); attributes (checked for well-formedness, then ignored: SEN2 has none). Leaf
//! values are trimmed of XML whitespace, and blank, empty and self-closing leaves are all
//! `None`. Only UTF-8 is read: a file in another encoding fails with
//! [`Sen2FileErrorKind::Encoding`] at its first non-UTF-8 byte.
//!
//! # Paths
//!
//! A container's path is its ancestors' local names and its own, joined by `/`. A segment
//! gets a 1-based index `[n]` (counting same-named siblings, leaves included) when either
//! - the name is one SEN2 repeats by design: `Person`, `Requests`, `PlanDetail`,
//!   `PlacementDetail`, `SENneed` (always, also `[1]`, so the same logical thing always looks
//!   the same), or
//! - it is not the first sibling with that name (`Assessment`, then `Assessment[2]`), which
//!   keeps every path unique even in broken files.
//!
//! A leaf's path is its parent's path, `/` and its name ([`RawElement::field_path`]); it is
//! built on demand because paths are only needed for messages.
//!
//! # Memory and speed
//!
//! Memory is one 64 KiB read buffer, the current event and the current `Person` tree, whose
//! size [`ReaderLimits`] bounds. `examples/parse_bench.rs` measures throughput on a synthetic
//! file shaped like the mock return and compares it with quick-xml's bare event loop; per
//! leaf, the main costs after quick-xml itself are the owned `String` name and value that
//! [`RawField`] carries.
//!
//! # Adding a source format
//!
//! Formats sit behind one boundary, [`SourceFormat`]: each variant is one module that reads a
//! `BufRead` and yields `Result<Sen2Item, Sen2FileError>`, made of the format-neutral raw
//! types in `raw.rs`. To read, say, the COLLECT "Blade" CSV export of the same return:
//! 1. add `src/sen2_csv/` with a `Sen2CsvReader<R: BufRead>` iterator that groups the
//!    module CSVs into the same `Person` trees (same element names, so the validator does not
//!    change), with a `Position` per cell (line = row, column = field);
//! 2. reuse the position tracker (`pos_reader.rs`: line/column counting, UTF-8 validation
//!    and size caps are format-neutral) and [`ReaderLimits`];
//! 3. add a `SourceFormat::Sen2Csv` variant; the compiler then points at every `match` that
//!    must handle it (`name`, `default_pattern`, `open`).
//!
//! The reader never depends on the validator or on Arrow, so a new format never touches
//! them.
//!
//! # Other sources: [`records`]
//!
//! Flat sources (CSV and Excel files now; partner APIs and published statistics through the
//! same shape) are read by the [`records`] module into a stream of
//! [`SourceRecord`](records::SourceRecord)s: a JSON object per row plus its
//! [`Origin`](records::Origin) (file name and `line 12` or `sheet Audit row 4`), with
//! [`RecordError`](records::RecordError)s that lose one record or the whole file, each with a
//! reason code for the quarantine. A pipeline file names the format as a
//! [`FileFormatConfig`](records::FileFormatConfig): `csv` (streamed; UTF-8 or Windows-1252;
//! a header below title lines) or `xlsx` (one sheet, in memory, size-capped).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod discover;
mod error;
mod pos_reader;
mod raw;
pub mod records;
mod sen2;

use std::path::Path;

pub use discover::{discover_files, glob_matches};
pub use error::{Sen2FileError, Sen2FileErrorKind};
pub use raw::{Name, Position, RawElement, RawField};
pub use sen2::{RawPerson, ReaderLimits, Sen2Item, Sen2Reader};

/// The items of one file, whatever its format.
pub type Sen2Items = Box<dyn Iterator<Item = Result<Sen2Item, Sen2FileError>> + Send>;

/// The file formats this crate reads: one variant per reader module. A closed set, so that
/// adding a format is a compile error everywhere it must be handled (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// The SEN2 XML return, read by [`Sen2Reader`].
    Sen2Xml,
}

impl SourceFormat {
    /// Every format, for listings and `--help` text.
    pub const ALL: &'static [Self] = &[Self::Sen2Xml];

    /// A short, stable snake_case name for configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sen2Xml => "sen2_xml",
        }
    }

    /// The [`discover_files`] pattern that finds this format's files by default.
    pub fn default_pattern(self) -> &'static str {
        match self {
            Self::Sen2Xml => "*.xml",
        }
    }

    /// Opens `path` as this format.
    ///
    /// # Errors
    ///
    /// [`Sen2FileErrorKind::Io`] if the file cannot be opened; problems with the content come
    /// from the returned iterator.
    pub fn open(self, path: &Path, limits: ReaderLimits) -> Result<Sen2Items, Sen2FileError> {
        match self {
            Self::Sen2Xml => Ok(Box::new(Sen2Reader::open(path)?.with_limits(limits))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_format_opens_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml");
        std::fs::write(&path, "<Message><Persons><Person/></Persons></Message>").unwrap();
        for &format in SourceFormat::ALL {
            assert_eq!(format.default_pattern(), "*.xml");
            let items: Vec<_> = format
                .open(&path, ReaderLimits::default())
                .unwrap()
                .collect();
            assert_eq!(items.len(), 1, "{}", format.name());
        }
        let missing =
            SourceFormat::Sen2Xml.open(&dir.path().join("nope.xml"), ReaderLimits::default());
        assert_eq!(missing.err().map(|e| e.kind), Some(Sen2FileErrorKind::Io));
    }
}
