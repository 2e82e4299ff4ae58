//! What a declarative REST source says about itself. Nothing here holds a secret: credentials are
//! named by environment variable and resolved when the [`crate::HttpClient`] is built.

use std::collections::BTreeMap;

use serde::Deserialize;

/// How to talk to one partner API. Deserialised from the `[http]` part of a source's TOML file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// Scheme, host and optional path prefix, e.g. `https://api.example.org/v1`. Plain `http://`
    /// is accepted only for loopback hosts (the simulator, tests).
    pub base_url: String,
    /// How requests prove who we are.
    #[serde(default)]
    pub auth: Auth,
    /// How to walk from one page to the next.
    #[serde(default)]
    pub pagination: Pagination,
    /// JSON pointer (RFC 6901) to the array of records in each response body; `""` means the
    /// body itself is the array.
    #[serde(default)]
    pub records: String,
    /// Static, non-secret headers sent with every request. `Authorization` is refused here so
    /// that credentials can only come from the environment.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Whole-request timeout (connect, send, read the body). Fractions are allowed.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    /// Time allowed to open the TCP/TLS connection. Fractions are allowed.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: f64,
    /// Client-side request rate; `None` means unlimited.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Most requests in flight at once for this source, across all of its page streams.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Back-off and retry limits.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// The authentication modes a source can choose from. Closed on purpose: a new mode is a code
/// change reviewed here, not something a config file can invent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// No credentials (public data such as the DfE statistics API). An empty struct variant
    /// rather than a unit one so that `deny_unknown_fields` also applies to it.
    None {},
    /// A static key sent in a header or in the query string.
    ApiKey {
        /// Where the key goes.
        location: ApiKeyLocation,
        /// Header or query parameter name, e.g. `X-API-Key` or `api_key`.
        name: String,
        /// Environment variable holding the key.
        value_env: String,
    },
    /// A long-lived bearer token.
    Bearer {
        /// Environment variable holding the token.
        token_env: String,
    },
    /// OAuth2 client-credentials grant (RFC 6749 §4.4); tokens are cached until shortly before
    /// they expire and refreshed once on a 401.
    Oauth2ClientCredentials {
        /// Token endpoint: an absolute URL, or a path resolved against `base_url`.
        token_url: String,
        /// Environment variable holding the client id.
        client_id_env: String,
        /// Environment variable holding the client secret.
        client_secret_env: String,
        /// Space-separated scopes to request, if the provider needs them.
        #[serde(default)]
        scope: Option<String>,
        /// How the client credentials are presented to the token endpoint.
        #[serde(default)]
        client_auth: ClientAuthMethod,
    },
}

/// Where an API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyLocation {
    /// As a request header.
    Header,
    /// As a query-string parameter (redacted wherever the URL is printed).
    Query,
}

/// How OAuth2 client credentials reach the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// `client_id` and `client_secret` in the form body: the form most partner APIs accept.
    #[default]
    Body,
    /// HTTP Basic authentication with the id and secret.
    Basic,
}

/// The paging styles partner APIs use. Every mode also stops on an empty page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// One request returns everything. (Empty braces: see [`Auth::None`].)
    None {},
    /// `?page=1&page_size=100`, then `page=2`, ... Stops on a short page only when `size_param`
    /// is set: otherwise we never told the server the size, so a short page proves nothing.
    PageNumber {
        /// Query parameter carrying the page number.
        #[serde(default = "default_page_param")]
        page_param: String,
        /// Query parameter carrying the page size, if the API takes one.
        #[serde(default)]
        size_param: Option<String>,
        /// Records per page we ask for (and expect on every page but the last).
        #[serde(default = "default_page_size")]
        page_size: u64,
        /// Number of the first page (usually 1, sometimes 0).
        #[serde(default = "default_first_page")]
        first_page: u64,
    },
    /// `?offset=0&limit=100`, then `offset=100`, ...
    OffsetLimit {
        /// Query parameter carrying the offset.
        #[serde(default = "default_offset_param")]
        offset_param: String,
        /// Query parameter carrying the limit.
        #[serde(default = "default_limit_param")]
        limit_param: String,
        /// Records per page we ask for.
        #[serde(default = "default_page_size")]
        limit: u64,
        /// JSON pointer to a total record count. When present it decides when to stop, so a
        /// server that caps `limit` below ours does not look like the last page.
        #[serde(default)]
        total_pointer: Option<String>,
    },
    /// The body carries an opaque cursor that is sent back as a query parameter.
    CursorBody {
        /// JSON pointer to the next cursor; null, missing or `""` ends paging.
        cursor_pointer: String,
        /// Query parameter the cursor is sent in.
        cursor_param: String,
    },
    /// The body carries the full URL of the next page (absolute or relative).
    NextUrlBody {
        /// JSON pointer to the next URL; null, missing or `""` ends paging.
        next_pointer: String,
    },
    /// RFC 8288 `Link: <...>; rel="next"` response header.
    LinkHeader {},
}

/// Client-side rate limit (GCRA via `governor`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained rate; fractions allowed (0.5 = one request every two seconds).
    pub requests_per_second: f64,
    /// Requests allowed back to back before the rate applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

/// Retry limits. Defaults suit a nightly batch: patient, but bounded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Back-off ceiling for the first retry; doubles per retry, full jitter.
    pub initial_backoff_ms: u64,
    /// Back-off ceiling for any retry.
    pub max_backoff_ms: u64,
    /// Retries allowed in total for one client (one source, one run), so a partner that is down
    /// fails the source quickly instead of retrying every page `max_attempts` times.
    pub budget: u32,
    /// Longest `Retry-After` we will wait; longer requests are capped to this.
    pub max_retry_after_secs: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            budget: 50,
            max_retry_after_secs: 300,
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::None {}
    }
}

impl Default for Pagination {
    fn default() -> Self {
        Self::None {}
    }
}

const fn default_timeout_secs() -> f64 {
    30.0
}
const fn default_connect_timeout_secs() -> f64 {
    10.0
}
const fn default_concurrency() -> usize {
    4
}
const fn default_burst() -> u32 {
    1
}
const fn default_page_size() -> u64 {
    100
}
const fn default_first_page() -> u64 {
    1
}
fn default_page_param() -> String {
    "page".to_owned()
}
fn default_offset_param() -> String {
    "offset".to_owned()
}
fn default_limit_param() -> String {
    "limit".to_owned()
}

impl HttpSourceConfig {
    /// A config with defaults for everything but the base URL; handy in code and tests.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            auth: Auth::None {},
            pagination: Pagination::None {},
            records: String::new(),
            headers: BTreeMap::new(),
            timeout_secs: default_timeout_secs(),
            connect_timeout_secs: default_connect_timeout_secs(),
            rate_limit: None,
            concurrency: default_concurrency(),
            retry: RetryPolicy::default(),
        }
    }

    /// Checks what serde cannot: ranges, pointer syntax, forbidden headers. Returns a message
    /// naming the offending key; [`crate::HttpClient`] wraps it with the source name.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "`{key}` must be a positive number of seconds, got {v}"
                ))
            }
        };
        positive("timeout_secs", self.timeout_secs)?;
        positive("connect_timeout_secs", self.connect_timeout_secs)?;
        if self.concurrency == 0 {
            return Err("`concurrency` must be at least 1".into());
        }
        if self.retry.max_attempts == 0 {
            return Err("`retry.max_attempts` must be at least 1".into());
        }
        if self.retry.initial_backoff_ms > self.retry.max_backoff_ms {
            return Err("`retry.initial_backoff_ms` must not exceed `retry.max_backoff_ms`".into());
        }
        if let Some(rl) = &self.rate_limit {
            if !(rl.requests_per_second.is_finite() && rl.requests_per_second > 0.0) {
                return Err("`rate_limit.requests_per_second` must be positive".into());
            }
            if rl.burst == 0 {
                return Err("`rate_limit.burst` must be at least 1".into());
            }
        }
        check_pointer("records", &self.records)?;
        match &self.pagination {
            Pagination::PageNumber { page_size, .. } if *page_size == 0 => {
                return Err("`pagination.page_size` must be at least 1".into());
            }
            Pagination::OffsetLimit {
                limit,
                total_pointer,
                ..
            } => {
                if *limit == 0 {
                    return Err("`pagination.limit` must be at least 1".into());
                }
                if let Some(p) = total_pointer {
                    check_pointer("pagination.total_pointer", p)?;
                }
            }
            Pagination::CursorBody { cursor_pointer, .. } => {
                check_pointer("pagination.cursor_pointer", cursor_pointer)?;
            }
            Pagination::NextUrlBody { next_pointer } => {
                check_pointer("pagination.next_pointer", next_pointer)?;
            }
            _ => {}
        }
        for name in self.headers.keys() {
            let lower = name.to_ascii_lowercase();
            if lower == "authorization" || lower == "proxy-authorization" || lower == "cookie" {
                return Err(format!(
                    "`headers.{name}` may carry credentials; use `auth` with an environment \
                     variable instead"
                ));
            }
        }
        Ok(())
    }
}

/// RFC 6901: empty, or starting with `/`.
fn check_pointer(key: &str, pointer: &str) -> Result<(), String> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "`{key}` must be a JSON pointer such as \"/data\" (or \"\" for the whole body), \
             got {pointer:?}"
        ))
    }
}
