//! Errors. Every variant names the source, and every URL in them has already been through
//! [`crate::redact_url`], so an error can be logged or shown to a user as is.

/// Why one attempt failed. Kept apart from [`HttpError`] so the final error can say what the
/// *last* attempt saw after retries ran out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The server answered with a status we retry (408, 429, 5xx).
    #[error("HTTP {status}")]
    Status {
        /// Status code.
        status: u16,
    },
    /// The request (or reading its body) took longer than `timeout_secs`.
    #[error("timed out")]
    Timeout,
    /// The connection could not be opened.
    #[error("connection failed: {message}")]
    Connect {
        /// Cause, without the URL.
        message: String,
    },
    /// The body was not valid JSON (often a truncated response).
    #[error("invalid JSON: {message}")]
    Json {
        /// 1-based line reported by serde_json.
        line: usize,
        /// 1-based column reported by serde_json.
        column: usize,
        /// serde_json's message, which includes the line and column.
        message: String,
    },
    /// Anything else on the wire (reset connection, body cut short).
    #[error("transport error: {message}")]
    Transport {
        /// Cause, without the URL.
        message: String,
    },
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The source's config is invalid.
    #[error("source `{source_name}`: invalid HTTP config: {message}")]
    Config {
        /// Source name.
        source_name: String,
        /// What is wrong, naming the config key.
        message: String,
    },
    /// A credential's environment variable is not set.
    #[error(
        "source `{source_name}`: environment variable `{var}` (config key `{key}`) is not set \
         or is not valid UTF-8"
    )]
    MissingSecret {
        /// Source name.
        source_name: String,
        /// The variable name (never its value).
        var: String,
        /// The config key that names the variable, e.g. `auth.token_env`.
        key: String,
    },
    /// A URL could not be parsed or joined.
    #[error("source `{source_name}`: invalid URL {url}: {message}")]
    InvalidUrl {
        /// Source name.
        source_name: String,
        /// The (redacted) URL text.
        url: String,
        /// Parser message.
        message: String,
    },
    /// Plain `http://` to a host other than loopback.
    #[error(
        "source `{source_name}`: refusing plain http:// to a non-loopback host ({url}); use \
         https:// (http is allowed only for 127.0.0.1, ::1 and localhost)"
    )]
    InsecureUrl {
        /// Source name.
        source_name: String,
        /// The (redacted) URL.
        url: String,
    },
    /// The server answered with a status we do not retry (4xx other than 408/429, or a 401
    /// that a token refresh did not cure).
    #[error("source `{source_name}`: {url} was rejected with HTTP {status} (not retried)")]
    Rejected {
        /// Source name.
        source_name: String,
        /// The (redacted) URL.
        url: String,
        /// Status code.
        status: u16,
    },
    /// `retry.max_attempts` attempts all failed.
    #[error("source `{source_name}`: {url} failed after {attempts} attempt(s); last: {cause}")]
    AttemptsExhausted {
        /// Source name.
        source_name: String,
        /// The (redacted) URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt saw.
        cause: Failure,
    },
    /// The client's retry budget ran out.
    #[error(
        "source `{source_name}`: retry budget of {budget} exhausted at {url} after {attempts} \
         attempt(s) on this request; last: {cause}"
    )]
    BudgetExhausted {
        /// Source name.
        source_name: String,
        /// The (redacted) URL.
        url: String,
        /// Attempts made on this request.
        attempts: u32,
        /// The configured budget.
        budget: u32,
        /// What the last attempt saw.
        cause: Failure,
    },
    /// The body was valid JSON but not the shape the config describes.
    #[error("source `{source_name}`: unexpected response from {url}: {message}")]
    Shape {
        /// Source name.
        source_name: String,
        /// The (redacted) URL.
        url: String,
        /// What was expected.
        message: String,
    },
    /// Paging could not continue safely (a cursor that repeats, a next link to another host).
    #[error("source `{source_name}`: pagination stopped at {url}: {message}")]
    Pagination {
        /// Source name.
        source_name: String,
        /// The (redacted) URL of the page that produced the bad link.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The underlying HTTP client could not be created or a request could not be built.
    #[error("source `{source_name}`: cannot build HTTP request for {url}: {message}")]
    Client {
        /// Source name.
        source_name: String,
        /// The (redacted) URL.
        url: String,
        /// Cause, without the URL.
        message: String,
    },
}

impl HttpError {
    /// The source the error belongs to.
    pub fn source_name(&self) -> &str {
        match self {
            Self::Config { source_name, .. }
            | Self::MissingSecret { source_name, .. }
            | Self::InvalidUrl { source_name, .. }
            | Self::InsecureUrl { source_name, .. }
            | Self::Rejected { source_name, .. }
            | Self::AttemptsExhausted { source_name, .. }
            | Self::BudgetExhausted { source_name, .. }
            | Self::Shape { source_name, .. }
            | Self::Pagination { source_name, .. }
            | Self::Client { source_name, .. } => source_name,
        }
    }

    /// The last per-attempt failure, when retries ran out.
    pub fn last_failure(&self) -> Option<&Failure> {
        match self {
            Self::AttemptsExhausted { cause, .. } | Self::BudgetExhausted { cause, .. } => {
                Some(cause)
            }
            _ => None,
        }
    }
}
