//! The crate's one error type.

use std::io;
use std::path::PathBuf;

/// Everything that can stop a simulation run.
///
/// Variants say who is to blame: `Config` is the caller's input, the others are the
/// environment (disk, serialisation).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The configuration (or an LA code / index passed to [`crate::write_sen2_return`]) is
    /// outside what the generator supports.
    #[error("invalid SEN2 simulator configuration: {0}")]
    Config(String),
    /// Creating the output directory or a file in it failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory that could not be written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing XML to the caller's writer failed.
    #[error("cannot write SEN2 XML: {0}")]
    Write(#[from] io::Error),
    /// `summary.json` could not be serialised.
    #[error("cannot serialise summary.json: {0}")]
    Json(#[from] serde_json::Error),
    /// The partner simulator's server could not start or stopped with an error.
    #[error("partner simulator cannot {what}: {source}")]
    Serve {
        /// What it was doing.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl SimError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
