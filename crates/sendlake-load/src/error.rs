//! The crate's single error type.

use std::path::PathBuf;

use deltalake::DeltaTableError;
use deltalake::datafusion::error::DataFusionError;

/// Everything that can go wrong while staging or committing a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem operation failed; `context` says which one and on what path.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing, with the path involved.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The lake root or a table URI is not a location this crate can use.
    #[error("invalid location {location:?}: {reason}")]
    InvalidLocation {
        /// The location as given.
        location: String,
        /// Why it was refused.
        reason: String,
    },

    /// A path relative to the lake root is absolute, empty or escapes the root.
    #[error("invalid relative path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A column type that the Power BI-safe profile does not allow (nested types,
    /// nanosecond or timezone-less timestamps, ...).
    #[error(
        "column {column:?} has type {data_type}, which the Power BI-safe profile does not allow: {reason}"
    )]
    UnsupportedColumnType {
        /// Column name.
        column: String,
        /// The Arrow type, formatted.
        data_type: String,
        /// What to write instead.
        reason: &'static str,
    },

    /// The commit would drop, retype or add a non-nullable column to an existing table.
    /// Published column names are a contract with report authors: add, never rename.
    #[error("schema change refused for {table_uri}: {detail}")]
    SchemaContract {
        /// The table.
        table_uri: String,
        /// Which columns and how.
        detail: String,
    },

    /// A batch handed to a [`crate::StagedTableWriter`] does not have the writer's schema.
    #[error("batch for staged table {table:?} does not match its schema: {detail}")]
    BatchSchemaMismatch {
        /// Staged table name.
        table: String,
        /// The difference.
        detail: String,
    },

    /// A staged part is missing or does not match the commit's schema.
    #[error("staged part {}: {detail}", path.display())]
    StagedPart {
        /// The part file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// A [`crate::WriteMode`] that cannot be turned into a sensible predicate.
    #[error("invalid write mode: {0}")]
    InvalidWriteMode(String),

    /// A retention step (vacuum, expiring the log, deleting expired rows) failed on a table.
    #[error("retention of {table_uri}: {step} failed: {detail}")]
    Retention {
        /// The table.
        table_uri: String,
        /// Which step (`vacuum`, `expiring the log`, `deleting expired rows`, ...).
        step: &'static str,
        /// What went wrong.
        detail: String,
    },

    /// delta-rs failed (log read, conflict, commit, ...).
    #[error("Delta table operation failed: {0}")]
    Delta(#[source] Box<DeltaTableError>),

    /// DataFusion failed while planning or scanning the staged files.
    #[error("DataFusion failed: {0}")]
    DataFusion(#[source] Box<DataFusionError>),

    /// Writing or reading a Parquet file failed.
    #[error("Parquet failed: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

    /// An Arrow schema or array operation failed.
    #[error("Arrow failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),

    /// An object-store request failed (Azure, S3, or the local store behind the same API).
    #[error("object store: {context}: {source}")]
    ObjectStore {
        /// What was being done, naming the object.
        context: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },

    /// (De)serialising JSON failed.
    #[error("JSON failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

// The delta-rs and DataFusion errors are large enums; boxing them keeps `Result<T>` small on
// the happy path (clippy's `result_large_err`).
impl From<DeltaTableError> for Error {
    fn from(err: DeltaTableError) -> Self {
        Error::Delta(Box::new(err))
    }
}

impl From<DataFusionError> for Error {
    fn from(err: DataFusionError) -> Self {
        Error::DataFusion(Box::new(err))
    }
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
