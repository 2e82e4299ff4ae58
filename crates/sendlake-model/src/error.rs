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
    Suppress(#[from] crate::suppress::SuppressError),
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
