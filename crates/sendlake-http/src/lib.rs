//! The one HTTP client every declarative REST source goes through. Sources only describe
//! themselves; this crate does requests, auth, paging, retries and limits.
//!
//! # How the pieces connect
//!
//! - [`HttpSourceConfig`] is what a source's TOML says: base URL, [`Auth`], [`Pagination`],
//!   the `records` JSON pointer, static headers, timeouts, [`RateLimit`], concurrency and
//!   [`RetryPolicy`]. It names credentials only by environment variable.
//! - [`HttpClient::new`] validates the config, resolves those variables into [`Secret`]s (a
//!   missing one is [`HttpError::MissingSecret`]), refuses plain `http://` off loopback, and
//!   builds one connection pool, one `governor` rate limiter, one concurrency semaphore and
//!   one retry budget for the source.
//! - [`HttpClient::pages`] walks a paginated endpoint lazily, yielding one [`Page`] at a time;
//!   [`HttpClient::get_json`] makes a single request for metadata endpoints. Both go through
//!   the same retry loop: exponential back-off with full jitter, `Retry-After` first, every
//!   retry charged to the client's budget, OAuth2 tokens cached and refreshed once on a 401.
//! - Failures are [`HttpError`]s naming the source and the URL after [`redact_url`]; a
//!   per-attempt [`Failure`] says what the last attempt saw.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sendlake_http::HttpError> {
//! use futures::TryStreamExt;
//! let config = sendlake_http::HttpSourceConfig::new("https://partner.example/api");
//! let client = sendlake_http::HttpClient::new("partner", &config)?;
//! let mut pages = std::pin::pin!(client.pages("referrals", &[]));
//! while let Some(page) = pages.try_next().await? {
//!     let _records = page.records; // hand on to the mapping step
//! }
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod auth;
mod client;
mod config;
mod error;
mod retry;
mod secret;
mod url_util;

pub use client::{HttpClient, Page};
pub use config::{
    ApiKeyLocation, Auth, ClientAuthMethod, HttpSourceConfig, Pagination, RateLimit, RetryPolicy,
};
pub use error::{Failure, HttpError};
pub use secret::Secret;
pub use url_util::{is_allowed_scheme, redact_url};
