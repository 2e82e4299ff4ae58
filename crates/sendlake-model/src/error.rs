//! Errors of the modelling layer. Every message names the file, model or table, and the key
//! or column, so an engineer can go straight to the line to fix.

use std::path::PathBuf;

/// A problem in the model project's files (`pipelines/models/`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}: {message}", file.display(), key.as_ref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
pub struct ProjectError {
    /// The file.
    pub file: PathBuf,
    /// The key within it, where known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ProjectError {
    pub(crate) fn new(
        file: impl Into<PathBuf>,
        key: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            key,
            message: message.into(),
        }
    }
}

/// A failure while building models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The project files are wrong (all problems found, not just the first).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Project(Vec<ProjectError>),
    /// A model's SQL failed to plan or run.
    #[error("model {model} ({file}): {message}")]
    Sql {
        /// Model (= output table) name.
        model: String,
        /// Its SQL file.
        file: String,
        /// DataFusion's message.
        message: String,
    },
    /// A model's output does not match its declared table.
    #[error("model {model}: column `{column}`: {message}")]
    Output {
        /// Model name.
        model: String,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing the lake failed.
    #[error("{context}: {message}")]
    Lake {
        /// What was being done.
        context: String,
        /// The loader's message.
        message: String,
    },
    /// Suppression failed (a declaration that does not fit the data).
    #[error(transparent)]
    Suppress(#[from] SuppressError),
}

impl ModelError {
    pub(crate) fn lake(context: impl Into<String>, e: impl std::fmt::Display) -> Self {
        Self::Lake {
            context: context.into(),
            message: e.to_string(),
        }
    }
}

/// Result alias.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// A declaration that does not fit the batch, naming the table and the column.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    /// A column named by the declaration is not in the batch.
    #[error("{table}: suppression column `{column}` is missing")]
    MissingColumn {
        /// The table being suppressed.
        table: String,
        /// The missing column.
        column: String,
    },
    /// A column named by the declaration has a type the rule cannot work with.
    #[error("{table}: suppression column `{column}` is {found}, expected {expected}")]
    WrongType {
        /// The table being suppressed.
        table: String,
        /// The column.
        column: String,
        /// Its type in the batch.
        found: arrow_schema::DataType,
        /// The types the rule accepts.
        expected: &'static str,
    },
    /// A column is declared twice among counts, rates and derived: its cells and its status
    /// column would be written by two rules.
    #[error(
        "{table}: suppression column `{column}` is declared more than once among counts, rates and derived"
    )]
    Duplicate {
        /// The table being suppressed.
        table: String,
        /// The column.
        column: String,
    },
    /// An additive total or part is not a declared count, so it could not be suppressed (it
    /// has no status column) when its relation needs a second hidden cell.
    #[error(
        "{table}: suppression column `{column}` is in an additive relation but not among the counts"
    )]
    AdditiveNotCount {
        /// The table being suppressed.
        table: String,
        /// The column.
        column: String,
    },
    /// A partition's or a repeated relation's column is not a declared count.
    #[error("{table}: suppression column `{column}` is in a {relation} but not among the counts")]
    RelationNotCount {
        /// The table being suppressed.
        table: String,
        /// The column.
        column: String,
        /// The kind of relation.
        relation: &'static str,
    },
    /// A row names an area the geography does not place in the level above, so the nested
    /// rollup it is a part of could not be protected.
    #[error(
        "{table}: the {level} `{code}` lies in no {above} of the geography (geography.toml), so its rows cannot be protected with that {above}'s"
    )]
    UnplacedArea {
        /// The table being suppressed.
        table: String,
        /// The row's level.
        level: String,
        /// The row's area code.
        code: String,
        /// The level above.
        above: String,
    },
    /// A count is declared shared with a table that was not suppressed before this one.
    #[error(
        "{table}: `{column}` is shared with `{other}`, which was not published before it this run, so the two cannot be kept consistent"
    )]
    SharedMissing {
        /// The table being suppressed.
        table: String,
        /// The shared count.
        column: String,
        /// The table it is shared with.
        other: String,
    },
    /// Arrow refused the output batch (a bug here rather than in the data).
    #[error("{table}: building the suppressed batch: {source}")]
    Arrow {
        /// The table being suppressed.
        table: String,
        /// Arrow's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
}
