//! The council's case-management API: OAuth2 client-credentials tokens and four
//! incrementally readable streams (requests, assessments, plans, placements).
//!
//! Streams are ordered by `(updated_at, id)` and paged by keyset: the cursor is the key of
//! the last record returned. A record changed while a client pages therefore moves behind
//! the cursor and is read again later, never skipped, which is the contract an incremental
//! extractor relies on. `updated_since` is inclusive, so a client that restarts from the
//! largest `updated_at` it stored re-reads that record rather than risk missing its
//! siblings with the same timestamp. Deleted records stay as tombstones.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::faults::Endpoint;
use super::{Reply, Shared, form_pairs, guarded, param};

/// One of the council API's record streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CouncilStream {
    /// EHC needs assessment requests (SEN2 module 2), each with its child's identifiers.
    Requests,
    /// Assessments (module 3).
    Assessments,
    /// EHC plans (modules 4 and 5a).
    Plans,
    /// Placements (module 5b).
    Placements,
}

impl CouncilStream {
    /// All streams, in URL order.
    pub const ALL: [CouncilStream; 4] = [
        CouncilStream::Requests,
        CouncilStream::Assessments,
        CouncilStream::Plans,
        CouncilStream::Placements,
    ];

    /// The URL segment: `/council/api/v1/{name}`.
    pub fn as_str(self) -> &'static str {
        super::data::STREAM_NAMES[self.index()]
    }

    pub(crate) fn index(self) -> usize {
        match self {
            CouncilStream::Requests => super::data::REQUESTS,
            CouncilStream::Assessments => super::data::ASSESSMENTS,
            CouncilStream::Plans => super::data::PLANS,
            CouncilStream::Placements => super::data::PLACEMENTS,
        }
    }

    pub(crate) fn from_index(i: usize) -> Self {
        Self::ALL[i % Self::ALL.len()]
    }

    pub(crate) fn endpoint(self) -> Endpoint {
        match self {
            CouncilStream::Requests => Endpoint::CouncilRequests,
            CouncilStream::Assessments => Endpoint::CouncilAssessments,
            CouncilStream::Plans => Endpoint::CouncilPlans,
            CouncilStream::Placements => Endpoint::CouncilPlacements,
        }
    }
}

/// Largest page a client may ask for, and the page it gets by default.
pub const MAX_LIMIT: usize = 1000;
/// Default `limit`.
pub const DEFAULT_LIMIT: usize = 100;

#[derive(Debug, Clone)]
struct Stored {
    updated_at: DateTime<Utc>,
    /// `None` once deleted: served as a tombstone.
    body: Option<Map<String, Value>>,
}

/// One stream's records with the `(updated_at, id)` index that pages them.
#[derive(Debug, Default)]
pub(crate) struct StreamStore {
    records: HashMap<String, Stored>,
    order: BTreeSet<(DateTime<Utc>, String)>,
}

impl StreamStore {
    /// Inserts or replaces `id` (with `body = None` for a deletion) at `at`.
    pub(crate) fn put(&mut self, id: String, at: DateTime<Utc>, body: Option<Map<String, Value>>) {
        if let Some(old) = self.records.get(&id) {
            self.order.remove(&(old.updated_at, id.clone()));
        }
        let body = body.map(|mut b| {
            b.insert("updated_at".into(), json!(rfc3339(at)));
            b
        });
        self.order.insert((at, id.clone()));
        self.records.insert(
            id,
            Stored {
                updated_at: at,
                body,
            },
        );
    }

    pub(crate) fn body(&self, id: &str) -> Option<&Map<String, Value>> {
        self.records.get(id).and_then(|s| s.body.as_ref())
    }

    /// Ids of live (not deleted) records in key order: the deterministic pool `advance`
    /// draws from.
    pub(crate) fn live_ids(&self) -> Vec<String> {
        self.order
            .iter()
            .filter(|(_, id)| self.body(id).is_some())
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// `(live, tombstones)`.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let live = self.records.values().filter(|s| s.body.is_some()).count();
        (live, self.records.len() - live)
    }

    /// Records after `after` (exclusive) or from `since` (inclusive), up to `limit`, and
    /// whether more follow.
    fn page(
        &self,
        since: Option<DateTime<Utc>>,
        after: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> (Vec<Value>, Option<(DateTime<Utc>, String)>) {
        let lower = match (after, since) {
            (Some(key), _) => Bound::Excluded(key),
            (None, Some(t)) => Bound::Included((t, String::new())),
            (None, None) => Bound::Unbounded,
        };
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut last = None;
        let mut more = false;
        for key in self.order.range((lower, Bound::Unbounded)) {
            if since.is_some_and(|s| key.0 < s) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            let (at, id) = key;
            let record = match self.records.get(id).and_then(|s| s.body.as_ref()) {
                Some(body) => Value::Object(body.clone()),
                None => json!({"id": id, "deleted": true, "updated_at": rfc3339(*at)}),
            };
            out.push(record);
            last = Some(key.clone());
        }
        (out, if more { last } else { None })
    }
}

/// The council's timestamps: RFC 3339, UTC, milliseconds.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Opaque cursor: the hex of `micros:id`. Hex keeps it URL-safe without an encoder.
fn encode_cursor((at, id): &(DateTime<Utc>, String)) -> String {
    format!("{}:{id}", at.timestamp_micros())
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(s: &str) -> Option<(DateTime<Utc>, String)> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    let text = String::from_utf8(bytes).ok()?;
    let (micros, id) = text.split_once(':')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, id.to_string()))
}

/// Issued bearer tokens: when each expires and under which expiry epoch it was minted.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: HashMap<String, (Instant, u64)>,
    counter: u64,
}

/// Why a bearer token was refused.
enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

impl Tokens {
    fn issue(&mut self, seed: u64, lifetime: Duration, epoch: u64) -> String {
        let now = Instant::now();
        // Forget dead tokens so a long soak run does not grow the table.
        self.issued.retain(|_, (exp, e)| *exp > now && *e == epoch);
        self.counter += 1;
        let mix = (seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(self.counter | 1);
        let token = format!("sim.{:016x}.{:08x}", mix, self.counter);
        self.issued.insert(token.clone(), (now + lifetime, epoch));
        token
    }

    fn check(&self, token: &str, epoch: u64) -> Result<(), TokenProblem> {
        match self.issued.get(token) {
            None => Err(TokenProblem::Unknown),
            Some((exp, e)) if *exp <= Instant::now() || *e != epoch => Err(TokenProblem::Expired),
            Some(_) => Ok(()),
        }
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Reply {
    let mut r = Reply::json(
        status,
        json!({"error": code, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers.push((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"council\""),
        ));
    }
    r
}

/// Decodes standard base64 (with or without padding); enough for an HTTP Basic header.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `POST /council/oauth/token`: RFC 6749 §4.4 client credentials, with the client
/// authenticating either in the form body or by HTTP Basic (both are common in the wild).
pub(crate) async fn token(
    State(state): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    guarded(&state, Endpoint::CouncilToken, || {
        let form = form_pairs(&body);
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
            })
            .and_then(base64_decode)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            });
        let Some(grant) = param(&form, "grant_type") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        };
        if grant != "client_credentials" {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        let (id, secret) = match basic {
            Some(pair) => pair,
            None => (
                param(&form, "client_id").unwrap_or_default().to_string(),
                param(&form, "client_secret")
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        let cfg = &state.config;
        if id != cfg.client_id || secret != cfg.client_secret {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or bad secret",
            );
        }
        let epoch = state.faults.token_epoch();
        let token = state
            .lock_tokens()
            .issue(cfg.sen2.seed, cfg.token_lifetime, epoch);
        let mut r = Reply::json(
            StatusCode::OK,
            json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": cfg.token_lifetime.as_secs(),
            }),
        );
        r.headers
            .push((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        r
    })
    .await
}

fn bearer_error(problem: TokenProblem) -> Reply {
    let (www, msg) = match problem {
        TokenProblem::Missing => ("Bearer realm=\"council\"", "missing bearer token"),
        TokenProblem::Unknown => (
            "Bearer realm=\"council\", error=\"invalid_token\", error_description=\"unknown token\"",
            "unknown token",
        ),
        TokenProblem::Expired => (
            "Bearer realm=\"council\", error=\"invalid_token\", error_description=\"token expired\"",
            "token expired",
        ),
    };
    let code = match problem {
        TokenProblem::Missing => "invalid_request",
        _ => "invalid_token",
    };
    let mut r = Reply::json(
        StatusCode::UNAUTHORIZED,
        json!({"error": code, "error_description": msg}),
    );
    r.headers
        .push((header::WWW_AUTHENTICATE, HeaderValue::from_static(www)));
    r
}

fn bad_request(message: String) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "message": message}),
    )
}

/// Parses an RFC 3339 instant; a `+` that a client forgot to percent-encode arrives as a
/// space, so that is read back as `+` rather than rejected.
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&s.replace(' ', "+"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `GET /council/api/v1/{stream}?updated_since=&cursor=&limit=` with a bearer token.
pub(crate) async fn list(
    State(state): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(stream) = CouncilStream::ALL.into_iter().find(|s| s.as_str() == name) else {
        return Reply::json(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "message": format!("no stream {name:?}")}),
        )
        .into_response();
    };
    guarded(&state, stream.endpoint(), || {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
        let checked = match token {
            None => Err(TokenProblem::Missing),
            Some(t) => state.lock_tokens().check(t, state.faults.token_epoch()),
        };
        if let Err(problem) = checked {
            return bearer_error(problem);
        }
        let limit = match param(&query, "limit").map(str::parse::<usize>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => return bad_request(format!("limit must be an integer in 1..={MAX_LIMIT}")),
        };
        let since = match param(&query, "updated_since").map(parse_instant) {
            None => None,
            Some(Some(t)) => Some(t),
            Some(None) => return bad_request("updated_since must be an RFC 3339 date-time".into()),
        };
        let after = match param(&query, "cursor")
            .filter(|c| !c.is_empty())
            .map(decode_cursor)
        {
            None => None,
            Some(Some(k)) => Some(k),
            Some(None) => return bad_request("cursor is not one this server issued".into()),
        };
        let world = state.lock_world();
        let (data, next) = world.council[stream.index()].page(since, after, limit);
        let next = next.as_ref().map(encode_cursor);
        let mut r = Reply::json(StatusCode::OK, json!({"data": data, "next_cursor": next}));
        r.records = Some("data");
        r
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let key = (
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            "PLC-919-000001-0-1".to_string(),
        );
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
    }

    #[test]
    fn base64_decodes_basic_credentials() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn keyset_pages_and_tombstones() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let mut s = StreamStore::default();
        for i in 0..5 {
            s.put(format!("r{i}"), t(i % 2), Some(Map::new()));
        }
        let (p1, next) = s.page(None, None, 3);
        assert_eq!(p1.len(), 3);
        let (p2, end) = s.page(None, next, 3);
        assert_eq!(p2.len(), 2);
        assert!(end.is_none());
        s.put("r0".into(), t(10), None);
        let (p3, _) = s.page(Some(t(10)), None, 10);
        assert_eq!(
            p3,
            vec![json!({"id": "r0", "deleted": true, "updated_at": rfc3339(t(10))})]
        );
        assert_eq!(s.counts(), (4, 1));
    }
}
