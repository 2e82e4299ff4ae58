//! Why a run stops, whose fault it is, and the exit status it ends with.
//!
//! Every failure says who has to act ([`Fault`]): the operator for configuration, the platform
//! for the environment, a partner for what it sent, nobody for a lock (wait, or unlock a dead
//! run's), and the developers for an internal error. A partner's fault never stops a run: its
//! source is marked stale in the manifest and the run goes on ([`crate::manifest::SourceEntry`]
//! keeps the fault); the others can, as a [`RunError`] that keeps its cause. A pipeline or
//! source file with problems is [`ConfigErrors`]: every problem, each naming file and key.

use serde::{Deserialize, Serialize};

use crate::lock::LockError;

/// The cause of a failure, kept for `{:#}` chains and `Error::source`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whose fault a failure is: who has to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The pipeline's files, the key setting, the schema: fix the configuration.
    Configuration,
    /// The store, the network, the staging disk, the machine: fix the platform and re-run.
    Environment,
    /// What a partner sent or served (an API down past its retries, an unreadable delivery,
    /// drift under `freeze`): the partner or the source's owner acts.
    Partner,
    /// Another run holds part of the lake: wait for it, or unlock a dead run's locks.
    Lock,
    /// A broken invariant inside sendlake: a bug to report.
    Internal,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::Configuration => "configuration",
            Fault::Environment => "environment",
            Fault::Partner => "partner",
            Fault::Lock => "lock",
            Fault::Internal => "internal",
        })
    }
}

/// How a `sendlake` command ends (docs/operations.md lists the codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Everything loaded, committed and reconciled.
    Success,
    /// Something failed and the rest was committed; or a check found differences.
    Partial,
    /// Bad configuration or usage; nothing was done.
    Configuration,
    /// Nothing could be done, or nothing was committed.
    Failed,
    /// Another run holds a lock this one needs; nothing was written.
    Locked,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Partial => 1,
            ExitStatus::Configuration => 2,
            ExitStatus::Failed => 3,
            ExitStatus::Locked => 4,
        }
    }

    /// Success when `ok`, else `otherwise`.
    pub fn unless(ok: bool, otherwise: ExitStatus) -> ExitStatus {
        if ok { ExitStatus::Success } else { otherwise }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(u8::try_from(s.code()).unwrap_or(3))
    }
}

/// A problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The pipeline file.
    pub file: std::path::PathBuf,
    /// Dotted key path (`sources[0].path`), empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: key `{}`: {}",
                self.file.display(),
                self.key,
                self.message
            )
        }
    }
}

/// Every problem found in a pipeline file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Why a run could not run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A configuration problem: no key, the demo key on a remote store, a bad schema.
    #[error("configuration: {message}")]
    Configuration {
        /// What is wrong, naming the file or setting.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The platform failed: the store is unreachable, staging failed, a helper did not start.
    #[error("environment: {message}")]
    Environment {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// Another run holds a lock this run needs; nothing was written.
    #[error(transparent)]
    Locked(LockError),
    /// A broken invariant: a bug in sendlake.
    #[error("internal error (please report it): {message}")]
    Internal {
        /// The invariant that did not hold.
        message: String,
    },
    /// The crash-simulation test hook (`failpoints` feature) fired after `.0` commits.
    #[cfg(feature = "failpoints")]
    #[error("simulated crash after {0} table commits")]
    SimulatedCrash(usize),
}

impl RunError {
    /// A configuration problem.
    pub fn config(message: impl Into<String>) -> Self {
        RunError::Configuration {
            message: message.into(),
            source: None,
        }
    }

    /// A configuration problem with its cause.
    pub fn config_because(message: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        RunError::Configuration {
            message: message.into(),
            source: Some(cause.into()),
        }
    }

    /// An environment failure.
    pub fn environment(message: impl Into<String>) -> Self {
        RunError::Environment {
            message: message.into(),
            source: None,
        }
    }

    /// An environment failure with its cause.
    pub fn environment_because(message: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        RunError::Environment {
            message: message.into(),
            source: Some(cause.into()),
        }
    }

    /// A broken invariant.
    pub fn internal(message: impl Into<String>) -> Self {
        RunError::Internal {
            message: message.into(),
        }
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            RunError::Configuration { .. } => Fault::Configuration,
            RunError::Environment { .. } => Fault::Environment,
            #[cfg(feature = "failpoints")]
            RunError::SimulatedCrash(_) => Fault::Environment,
            RunError::Locked(_) => Fault::Lock,
            RunError::Internal { .. } => Fault::Internal,
        }
    }

    /// How the process ends.
    pub fn exit_status(&self) -> ExitStatus {
        match self.fault() {
            Fault::Configuration => ExitStatus::Configuration,
            Fault::Lock => ExitStatus::Locked,
            Fault::Environment | Fault::Partner | Fault::Internal => ExitStatus::Failed,
        }
    }

    /// Process exit code.
    pub fn exit_code(&self) -> i32 {
        self.exit_status().code()
    }
}

/// A held lock refuses the run; a store that fails, or cannot make a write atomic, is the
/// environment's fault.
impl From<LockError> for RunError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Held(..) => RunError::Locked(e),
            LockError::Store(..) | LockError::NotAtomic(_) => RunError::Environment {
                message: e.to_string(),
                source: Some(Box::new(e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_ones() {
        let codes: Vec<i32> = [
            ExitStatus::Success,
            ExitStatus::Partial,
            ExitStatus::Configuration,
            ExitStatus::Failed,
            ExitStatus::Locked,
        ]
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
        assert_eq!(RunError::config("x").exit_code(), 2);
        assert_eq!(RunError::environment("x").exit_code(), 3);
        assert_eq!(RunError::internal("x").exit_code(), 3);
    }

    #[test]
    fn an_error_keeps_its_cause() {
        let cause = std::io::Error::other("disk full");
        let e = RunError::environment_because("staging", cause);
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk full"));
        assert_eq!(e.fault(), Fault::Environment);
        assert_eq!(e.to_string(), "environment: staging");
    }
}
