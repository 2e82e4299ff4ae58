//! The one error type of this crate: a file that cannot be read as a whole.
//!
//! Problems with a single record's *content* are not errors here; they travel as data (raw
//! values, [`Sen2Item::Skipped`](crate::Sen2Item::Skipped)) to the validator. A
//! [`Sen2FileError`] means the reader could not go on, so the file must be rejected whole:
//! a cut-off file read "successfully" up to the cut would silently lose records.

use std::fmt;
use std::sync::Arc;

use crate::Position;

/// Why a file could not be read. Each kind suggests who has to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sen2FileErrorKind {
    /// The file could not be opened or read (permissions, disk, network share).
    Io,
    /// The file is not XML at all: empty, only whitespace, or it does not start with `<`
    /// (a CSV, a spreadsheet, an image dropped into the wrong folder).
    NotXml,
    /// The bytes are not valid UTF-8 (or the file is UTF-16). The position is the first
    /// offending byte.
    Encoding,
    /// The XML is broken: mismatched or stray end tags, bad names, unknown entities, text or a
    /// second element outside the root, broken attributes.
    Malformed,
    /// The file ends too early: inside a tag, a comment, a reference, or with elements still
    /// open. Usually an interrupted copy or upload.
    Truncated,
    /// Well-formed so far, but the root element is not `Message`: not a SEN2 return.
    WrongRoot,
    /// A configured [`ReaderLimits`](crate::ReaderLimits) bound was exceeded. This protects
    /// memory against hostile or corrupt files.
    TooLarge,
}

impl Sen2FileErrorKind {
    /// A short, stable snake_case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::NotXml => "not_xml",
            Self::Encoding => "encoding",
            Self::Malformed => "malformed",
            Self::Truncated => "truncated",
            Self::WrongRoot => "wrong_root",
            Self::TooLarge => "too_large",
        }
    }
}

impl fmt::Display for Sen2FileErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SEN2 file that cannot be read.
///
/// `Display` prints `line 12, column 7: <message>` (or just the message when there is no
/// position, e.g. for a file that cannot be opened), so a caller can write
/// `format!("{}: {err}", path.display())` and get the usual `file:line:column` feel.
/// Messages name elements and positions but never quote values, because values in SEN2 files
/// are personal data and these messages end up in logs.
#[derive(Debug, thiserror::Error)]
#[error("{}{}", PosPrefix(.pos), .message)]
pub struct Sen2FileError {
    /// What went wrong, for matching.
    pub kind: Sen2FileErrorKind,
    /// Where in the file, when known.
    pub pos: Option<Position>,
    /// A human-readable explanation (without the position).
    pub message: String,
    /// The underlying I/O error for [`Sen2FileErrorKind::Io`]. `Arc` because quick-xml hands
    /// I/O errors over shared.
    #[source]
    source: Option<Arc<std::io::Error>>,
}

impl Sen2FileError {
    /// An error of `kind` at `pos`.
    pub fn new(kind: Sen2FileErrorKind, pos: Option<Position>, message: impl Into<String>) -> Self {
        Self {
            kind,
            pos,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn io(pos: Option<Position>, what: &str, err: Arc<std::io::Error>) -> Self {
        Self {
            kind: Sen2FileErrorKind::Io,
            pos,
            message: format!("{what}: {err}"),
            source: Some(err),
        }
    }
}

/// Renders `line L, column C: ` or nothing.
struct PosPrefix<'a>(&'a Option<Position>);

impl fmt::Display for PosPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pos) => write!(f, "{pos}: "),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_position_first() {
        let e = Sen2FileError::new(
            Sen2FileErrorKind::Malformed,
            Some(Position {
                line: 12,
                column: 7,
            }),
            "expected `</Sex>`",
        );
        assert_eq!(e.to_string(), "line 12, column 7: expected `</Sex>`");
        let e = Sen2FileError::new(Sen2FileErrorKind::Io, None, "cannot open");
        assert_eq!(e.to_string(), "cannot open");
        assert_eq!(Sen2FileErrorKind::WrongRoot.to_string(), "wrong_root");
    }
}
