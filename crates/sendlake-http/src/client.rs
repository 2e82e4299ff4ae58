//! [`HttpClient`]: one per source per run. It owns the connection pool, resolved credentials,
//! rate limiter, concurrency permits and retry budget, so every request of the source shares
//! them.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{self, Stream, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::sync::Semaphore;
use tracing::{debug, warn};
use url::Url;

use crate::auth::{CachedToken, OAuth2, ResolvedAuth};
use crate::config::{HttpSourceConfig, Pagination};
use crate::error::{Failure, HttpError};
use crate::retry::{Budget, backoff, parse_retry_after};
use crate::secret::Secret;
use crate::url_util::{
    is_allowed_scheme, join, link_next, redact_url, same_origin, set_query_param,
};

/// One page of records.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records the `records` pointer selected, in server order.
    pub records: Vec<Value>,
    /// The URL the page came from, with secrets redacted.
    pub url: String,
    /// 0-based position of the page in its walk.
    pub index: u64,
}

/// The HTTP client for one source. Cheap to clone; clones share limits, budget and token.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    source: String,
    config: HttpSourceConfig,
    http: reqwest::Client,
    auth: ResolvedAuth,
    headers: HeaderMap,
    limiter: Option<DefaultDirectRateLimiter>,
    permits: Semaphore,
    budget: Budget,
}

/// What one request is for. Token requests skip the rate limiter and concurrency permits: the
/// token endpoint is a different service, and taking a permit while a data request already
/// holds one could deadlock at `concurrency = 1`.
#[derive(Clone, Copy)]
enum Target<'a> {
    Get(&'a Url),
    Token(&'a OAuth2),
}

/// A successful response: headers (for `Link`) and the parsed body.
struct Fetched {
    headers: HeaderMap,
    body: Value,
}

/// How one attempt ended, before the retry decision.
enum AttemptError {
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    Retryable(Failure),
    Fatal(String),
}

/// Where a page walk has got to.
struct Walk {
    next: Option<Url>,
    index: u64,
    /// Page number (page_number) or offset (offset_limit).
    position: u64,
    /// Last cursor sent, to catch a server that hands back the same cursor forever.
    last_cursor: Option<String>,
}

impl HttpClient {
    /// Builds the client for `source`, reading credentials from the process environment.
    pub fn new(source: &str, config: &HttpSourceConfig) -> Result<Self, HttpError> {
        Self::with_env(source, config, &|var| std::env::var(var).ok())
    }

    /// Like [`HttpClient::new`] but with credentials looked up through `env`, for callers with
    /// their own secret store and for tests (which cannot safely mutate the process
    /// environment).
    pub fn with_env(
        source: &str,
        config: &HttpSourceConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, HttpError> {
        let config_err = |message: String| HttpError::Config {
            source_name: source.to_owned(),
            message,
        };
        config.validate().map_err(config_err)?;

        let base = Url::parse(&config.base_url).map_err(|e| HttpError::InvalidUrl {
            source_name: source.to_owned(),
            url: config.base_url.clone(),
            message: e.to_string(),
        })?;
        if !is_allowed_scheme(&base) {
            return Err(HttpError::InsecureUrl {
                source_name: source.to_owned(),
                url: redact_url(&base, None),
            });
        }

        let auth = ResolvedAuth::resolve(source, &config.auth, &config.base_url, env)?;

        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| config_err(format!("`headers` key {name:?} is not a header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| config_err(format!("`headers.{name}` is not a valid header value")))?;
            headers.insert(name, value);
        }

        let limiter = match &config.rate_limit {
            None => None,
            Some(rl) => {
                let quota =
                    Quota::with_period(Duration::from_secs_f64(1.0 / rl.requests_per_second))
                        .ok_or_else(|| {
                            config_err("`rate_limit.requests_per_second` is too high".into())
                        })?;
                let burst = NonZeroU32::new(rl.burst)
                    .ok_or_else(|| config_err("`rate_limit.burst` must be at least 1".into()))?;
                Some(RateLimiter::direct(quota.allow_burst(burst)))
            }
        };

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(config.timeout_secs))
            .connect_timeout(Duration::from_secs_f64(config.connect_timeout_secs))
            .user_agent(concat!("sendlake/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect_policy())
            .build()
            .map_err(|e| HttpError::Client {
                source_name: source.to_owned(),
                url: redact_url(&base, auth.query_key_name()),
                message: error_chain(&e.without_url()),
            })?;

        Ok(Self {
            inner: Arc::new(Inner {
                source: source.to_owned(),
                config: config.clone(),
                http,
                auth,
                headers,
                limiter,
                permits: Semaphore::new(config.concurrency),
                budget: Budget::new(config.retry.budget),
            }),
        })
    }

    /// The source this client belongs to.
    pub fn source_name(&self) -> &str {
        &self.inner.source
    }

    /// The configured concurrency, for callers that run page walks in parallel
    /// (`buffer_unordered(client.concurrency())`). Requests beyond it wait for a permit anyway.
    pub fn concurrency(&self) -> usize {
        self.inner.config.concurrency
    }

    /// Retries still allowed for this client.
    pub fn retry_budget_remaining(&self) -> u32 {
        self.inner.budget.remaining()
    }

    /// One GET of `path` (relative to `base_url`) with `query`, returning the whole JSON body.
    /// For metadata endpoints; no pagination and no record selection.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, HttpError> {
        let url = self.url_for(path, query)?;
        Ok(self.execute(Target::Get(&url)).await?.body)
    }

    /// Walks every page of `path`, one page at a time: the next request is made only when the
    /// caller asks for the next item, so memory is bounded by one page. The stream ends after
    /// the last page or after the first error.
    pub fn pages<'a>(
        &'a self,
        path: &str,
        query: &[(String, String)],
    ) -> impl Stream<Item = Result<Page, HttpError>> + Send + 'a {
        let first = self.url_for(path, query).map(|mut url| {
            let position = match &self.inner.config.pagination {
                Pagination::PageNumber {
                    page_param,
                    size_param,
                    page_size,
                    first_page,
                } => {
                    set_query_param(&mut url, page_param, &first_page.to_string());
                    if let Some(size_param) = size_param {
                        set_query_param(&mut url, size_param, &page_size.to_string());
                    }
                    *first_page
                }
                Pagination::OffsetLimit {
                    offset_param,
                    limit_param,
                    limit,
                    ..
                } => {
                    set_query_param(&mut url, offset_param, "0");
                    set_query_param(&mut url, limit_param, &limit.to_string());
                    0
                }
                _ => 0,
            };
            Walk {
                next: Some(url),
                index: 0,
                position,
                last_cursor: None,
            }
        });
        match first {
            Err(e) => stream::once(async move { Err(e) }).left_stream(),
            Ok(walk) => stream::try_unfold(walk, move |walk| self.step(walk)).right_stream(),
        }
    }

    /// Fetches the page `walk` points at and works out the one after it.
    async fn step(&self, mut walk: Walk) -> Result<Option<(Page, Walk)>, HttpError> {
        let Some(url) = walk.next.take() else {
            return Ok(None);
        };
        let mut fetched = self.execute(Target::Get(&url)).await?;
        let count = self.record_count(&url, &fetched.body)?;
        if count == 0 {
            // Every mode stops on an empty page; it also guards against servers whose cursor or
            // next link never ends.
            return Ok(None);
        }
        walk.next = self.next_url(&url, &fetched, count, &mut walk)?;
        let records = match fetched.body.pointer_mut(&self.inner.config.records) {
            Some(Value::Array(items)) => std::mem::take(items),
            _ => Vec::new(),
        };
        let page = Page {
            records,
            url: self.redact(&url),
            index: walk.index,
        };
        walk.index += 1;
        Ok(Some((page, walk)))
    }

    /// Records on the page: null counts as none; a missing pointer or a non-array is an error,
    /// since silently reading zero records would look like the end of the data.
    fn record_count(&self, url: &Url, body: &Value) -> Result<usize, HttpError> {
        let pointer = &self.inner.config.records;
        match body.pointer(pointer) {
            Some(Value::Array(items)) => Ok(items.len()),
            Some(Value::Null) => Ok(0),
            Some(other) => Err(self.shape(
                url,
                format!(
                    "`records` pointer {pointer:?} selects a {}, not an array",
                    kind(other)
                ),
            )),
            None => Err(self.shape(
                url,
                format!("`records` pointer {pointer:?} not found in body"),
            )),
        }
    }

    fn next_url(
        &self,
        url: &Url,
        fetched: &Fetched,
        count: usize,
        walk: &mut Walk,
    ) -> Result<Option<Url>, HttpError> {
        let count = count as u64;
        match &self.inner.config.pagination {
            Pagination::None {} => Ok(None),
            Pagination::PageNumber {
                page_param,
                size_param,
                page_size,
                ..
            } => {
                if size_param.is_some() && count < *page_size {
                    return Ok(None);
                }
                walk.position += 1;
                let mut next = url.clone();
                set_query_param(&mut next, page_param, &walk.position.to_string());
                Ok(Some(next))
            }
            Pagination::OffsetLimit {
                offset_param,
                limit,
                total_pointer,
                ..
            } => {
                walk.position += count;
                match total_pointer {
                    Some(pointer) => {
                        let total =
                            fetched
                                .body
                                .pointer(pointer)
                                .and_then(as_u64)
                                .ok_or_else(|| {
                                    self.shape(
                                        url,
                                        format!("`total_pointer` {pointer:?} is not a number"),
                                    )
                                })?;
                        if walk.position >= total {
                            return Ok(None);
                        }
                    }
                    None if count < *limit => return Ok(None),
                    None => {}
                }
                let mut next = url.clone();
                set_query_param(&mut next, offset_param, &walk.position.to_string());
                Ok(Some(next))
            }
            Pagination::CursorBody {
                cursor_pointer,
                cursor_param,
            } => {
                let cursor = match fetched.body.pointer(cursor_pointer) {
                    None | Some(Value::Null) => return Ok(None),
                    Some(Value::String(s)) if s.is_empty() => return Ok(None),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(other) => {
                        return Err(self.shape(
                            url,
                            format!("cursor at {cursor_pointer:?} is a {}", kind(other)),
                        ));
                    }
                };
                if walk.last_cursor.as_deref() == Some(cursor.as_str()) {
                    return Err(self.paging(url, "the server returned the same cursor twice"));
                }
                let mut next = url.clone();
                set_query_param(&mut next, cursor_param, &cursor);
                walk.last_cursor = Some(cursor);
                Ok(Some(next))
            }
            Pagination::NextUrlBody { next_pointer } => match fetched.body.pointer(next_pointer) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => self.follow(url, s).map(Some),
                Some(other) => Err(self.shape(
                    url,
                    format!("next link at {next_pointer:?} is a {}", kind(other)),
                )),
            },
            Pagination::LinkHeader {} => {
                let values = fetched
                    .headers
                    .get_all(header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok());
                match link_next(values) {
                    None => Ok(None),
                    Some(target) => self.follow(url, &target).map(Some),
                }
            }
        }
    }

    /// Resolves a server-supplied next link and checks it is safe to send credentials to.
    fn follow(&self, current: &Url, target: &str) -> Result<Url, HttpError> {
        let next = current.join(target).map_err(|e| HttpError::InvalidUrl {
            source_name: self.inner.source.clone(),
            url: self.redact(current),
            message: format!("next link: {e}"),
        })?;
        if !same_origin(current, &next) {
            // Credentials (API key headers, bearer tokens) go with every request; a next link to
            // another host would hand them over.
            return Err(self.paging(
                current,
                &format!(
                    "next link points to another origin ({})",
                    self.redact(&next)
                ),
            ));
        }
        if &next == current {
            return Err(self.paging(current, "next link points at the same page"));
        }
        Ok(next)
    }

    /// `base_url` + `path` + caller query parameters.
    fn url_for(&self, path: &str, query: &[(String, String)]) -> Result<Url, HttpError> {
        let mut url =
            join(&self.inner.config.base_url, path).map_err(|e| HttpError::InvalidUrl {
                source_name: self.inner.source.clone(),
                url: format!("{} + {path}", self.inner.config.base_url),
                message: e.to_string(),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends one logical request, retrying per the policy. The 401 refresh and the retries are
    /// all here so every caller (pages, get_json, token fetch) behaves the same.
    async fn execute(&self, target: Target<'_>) -> Result<Fetched, HttpError> {
        let inner = &*self.inner;
        let policy = &inner.config.retry;
        let url = match target {
            Target::Get(url) => url,
            Target::Token(oauth) => &oauth.token_url,
        };
        let shown = match target {
            Target::Get(url) => self.redact(url),
            Target::Token(oauth) => redact_url(&oauth.token_url, None),
        };
        if !is_allowed_scheme(url) {
            return Err(HttpError::InsecureUrl {
                source_name: inner.source.clone(),
                url: shown.clone(),
            });
        }
        let mut attempts = 0u32;
        let mut failures = 0u32;
        let mut refreshed = false;
        loop {
            let (request, token) = self.build(target).await?;
            let permit = match target {
                Target::Get(_) => {
                    if let Some(limiter) = &inner.limiter {
                        limiter.until_ready().await;
                    }
                    // The semaphore is never closed, so this cannot fail; treat it as a build
                    // error rather than unwrap.
                    Some(
                        inner
                            .permits
                            .acquire()
                            .await
                            .map_err(|e| self.client_err(&shown, &e))?,
                    )
                }
                Target::Token(_) => None,
            };
            attempts += 1;
            debug!(source = %inner.source, url = %shown, attempt = attempts, "HTTP request");
            let outcome = attempt(request).await;
            // Release before any back-off sleep so a waiting request does not block others.
            drop(permit);

            let (cause, retry_after) = match outcome {
                Ok(fetched) => return Ok(fetched),
                Err(AttemptError::Fatal(message)) => {
                    return Err(HttpError::Client {
                        source_name: inner.source.clone(),
                        url: shown.clone(),
                        message,
                    });
                }
                Err(AttemptError::Retryable(failure)) => (failure, None),
                Err(AttemptError::Status {
                    status,
                    retry_after,
                }) => {
                    if status == 401
                        && !refreshed
                        && let (Target::Get(_), ResolvedAuth::OAuth2(oauth), Some(used)) =
                            (target, &inner.auth, &token)
                    {
                        // The token may have been revoked or expired early: get a new one
                        // and retry once. Not a server failure, so no budget is spent.
                        debug!(source = %inner.source, "401: refreshing OAuth2 token");
                        oauth.invalidate(used).await;
                        refreshed = true;
                        continue;
                    }
                    if !(status == 408 || status == 429 || (500..600).contains(&status)) {
                        return Err(HttpError::Rejected {
                            source_name: inner.source.clone(),
                            url: shown.clone(),
                            status,
                        });
                    }
                    (Failure::Status { status }, retry_after)
                }
            };

            failures += 1;
            if failures >= policy.max_attempts {
                return Err(HttpError::AttemptsExhausted {
                    source_name: inner.source.clone(),
                    url: shown.clone(),
                    attempts,
                    cause,
                });
            }
            if !inner.budget.try_take() {
                return Err(HttpError::BudgetExhausted {
                    source_name: inner.source.clone(),
                    url: shown.clone(),
                    attempts,
                    budget: inner.budget.total(),
                    cause,
                });
            }
            // Retry-After is the server telling us exactly when; it beats our guess.
            let delay = match retry_after {
                Some(d) => d.min(Duration::from_secs(policy.max_retry_after_secs)),
                None => backoff(policy, failures),
            };
            warn!(
                source = %inner.source,
                url = %shown,
                attempt = attempts,
                %cause,
                delay_ms = delay.as_millis() as u64,
                "retrying HTTP request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Builds one attempt's request. Returns the OAuth2 token used, so a 401 can invalidate
    /// exactly that token.
    async fn build(
        &self,
        target: Target<'_>,
    ) -> Result<(reqwest::RequestBuilder, Option<Secret>), HttpError> {
        let inner = &*self.inner;
        match target {
            Target::Token(oauth) => {
                let mut request = inner
                    .http
                    .post(oauth.token_url.clone())
                    .header(header::ACCEPT, "application/json")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(oauth.form_body());
                if oauth.client_auth == crate::config::ClientAuthMethod::Basic {
                    request = request
                        .basic_auth(oauth.client_id.expose(), Some(oauth.client_secret.expose()));
                }
                Ok((request, None))
            }
            Target::Get(url) => {
                let mut url = url.clone();
                if let ResolvedAuth::ApiKeyQuery { name, value } = &inner.auth {
                    set_query_param(&mut url, name, value.expose());
                }
                let request = inner.http.get(url).headers(inner.headers.clone());
                Ok(match &inner.auth {
                    ResolvedAuth::None | ResolvedAuth::ApiKeyQuery { .. } => (request, None),
                    ResolvedAuth::ApiKeyHeader { name, value } => {
                        (request.header(name.clone(), value.clone()), None)
                    }
                    ResolvedAuth::Bearer { token } => (request.bearer_auth(token.expose()), None),
                    ResolvedAuth::OAuth2(oauth) => {
                        let token = self.token(oauth).await?;
                        (request.bearer_auth(token.expose()), Some(token))
                    }
                })
            }
        }
    }

    /// A valid access token: the cached one while fresh, otherwise a new one.
    async fn token(&self, oauth: &OAuth2) -> Result<Secret, HttpError> {
        let mut cache = oauth.lock().await;
        if let Some(token) = cache.as_ref().and_then(|c| c.fresh(Instant::now())) {
            return Ok(token.clone());
        }
        let fetched = self.fetch_token(oauth).await?;
        let url = &oauth.token_url;
        let token = match fetched.body.get("access_token") {
            Some(Value::String(s)) if !s.is_empty() => Secret::new(s.clone()),
            _ => {
                return Err(HttpError::Shape {
                    source_name: self.inner.source.clone(),
                    url: redact_url(url, None),
                    message: "token response has no `access_token` string".into(),
                });
            }
        };
        let expires_in = fetched.body.get("expires_in").and_then(as_u64);
        debug!(source = %self.inner.source, expires_in, "fetched OAuth2 token");
        *cache = Some(CachedToken::new(token.clone(), expires_in, Instant::now()));
        Ok(token)
    }

    /// Boxed with an explicit `Send` so the recursion execute → build → token → execute has a
    /// nameable type.
    fn fetch_token<'a>(
        &'a self,
        oauth: &'a OAuth2,
    ) -> Pin<Box<dyn Future<Output = Result<Fetched, HttpError>> + Send + 'a>> {
        Box::pin(self.execute(Target::Token(oauth)))
    }

    /// A request URL as printed: with the API-key parameter shown (value redacted) when the key
    /// goes in the query, so the printed URL matches what was sent, and the cursor hidden: it is
    /// the partner's opaque position, often the last record's id in disguise (the simulator's
    /// is its hex), and a record id identifies a child to anyone with the partner's system.
    fn redact(&self, url: &Url) -> String {
        let mut shown = url.clone();
        if let Pagination::CursorBody { cursor_param, .. } = &self.inner.config.pagination
            && url.query_pairs().any(|(k, _)| k == cursor_param.as_str())
        {
            set_query_param(&mut shown, cursor_param, "[cursor]");
        }
        let key = self.inner.auth.query_key_name();
        if let Some(name) = key {
            set_query_param(&mut shown, name, "[redacted]");
        }
        redact_url(&shown, key)
    }

    fn shape(&self, url: &Url, message: String) -> HttpError {
        HttpError::Shape {
            source_name: self.inner.source.clone(),
            url: self.redact(url),
            message,
        }
    }

    fn paging(&self, url: &Url, message: &str) -> HttpError {
        HttpError::Pagination {
            source_name: self.inner.source.clone(),
            url: self.redact(url),
            message: message.to_owned(),
        }
    }

    fn client_err(&self, shown: &str, e: &dyn std::error::Error) -> HttpError {
        HttpError::Client {
            source_name: self.inner.source.clone(),
            url: shown.to_owned(),
            message: e.to_string(),
        }
    }
}

/// Sends one request and reads and parses its body.
async fn attempt(request: reqwest::RequestBuilder) -> Result<Fetched, AttemptError> {
    let response = request.send().await.map_err(classify)?;
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Err(AttemptError::Status {
            status: status.as_u16(),
            retry_after,
        });
    }
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(classify)?;
    let body = serde_json::from_slice(&bytes).map_err(|e| {
        AttemptError::Retryable(Failure::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    })?;
    Ok(Fetched { headers, body })
}

/// Sorts reqwest errors into retryable and not. The URL is stripped first: it may hold an API
/// key, and our own error already carries the redacted one.
fn classify(e: reqwest::Error) -> AttemptError {
    let e = e.without_url();
    let message = error_chain(&e);
    if e.is_timeout() {
        AttemptError::Retryable(Failure::Timeout)
    } else if e.is_builder() || e.is_redirect() {
        AttemptError::Fatal(message)
    } else if e.is_connect() {
        AttemptError::Retryable(Failure::Connect { message })
    } else {
        AttemptError::Retryable(Failure::Transport { message })
    }
}

/// An error and its causes, `outer: inner: innermost`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = inner.source();
    }
    out
}

/// Follows redirects only within the original origin and never to plain http off loopback:
/// reqwest strips `Authorization` on cross-host redirects but not a custom API-key header.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let allowed = attempt
            .previous()
            .first()
            .is_some_and(|first| same_origin(first, attempt.url()));
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if !allowed || !is_allowed_scheme(attempt.url()) {
            attempt.error("redirect to another origin refused")
        } else {
            attempt.follow()
        }
    })
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Config holds only environment variable names, never values, so it is safe to show.
        f.debug_struct("HttpClient")
            .field("source", &self.inner.source)
            .field("auth", &self.inner.auth.kind())
            .field("config", &self.inner.config)
            .field("retry_budget_remaining", &self.inner.budget.remaining())
            .finish_non_exhaustive()
    }
}
