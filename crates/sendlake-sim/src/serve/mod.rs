//! The partner simulator: a real HTTP server on loopback serving synthetic, mutually
//! consistent partner data for the children of the synthetic SEN2 returns.
//!
//! Three partners share one listener, each under its own prefix:
//!
//! * `/council/…`: the council's case-management API ([`council`]): OAuth2 client
//!   credentials, cursor pages, `updated_since`, tombstones;
//! * `/nhs/…`: an NHS community provider ([`nhs`]): `X-API-Key`, offset pages;
//! * `/v1/…`: a subset of the DfE Explore Education Statistics API ([`ees`]), with the
//!   paths and shapes of the DfE's own OpenAPI description.
//!
//! [`start`] binds `127.0.0.1` and returns a [`RunningSim`]: its [`RunningSim::faults`]
//! switch per-endpoint misbehaviour at runtime ([`faults`]), and [`RunningSim::advance`]
//! moves the partners' data on (updates, new records, deletions with later
//! `updated_at`), so two incremental runs can be tested against one server.
//!
//! Handlers never hold a lock across an `.await`: all state is plain data behind std
//! mutexes, and the only awaits (fault delays and hangs) happen before a handler runs.

pub mod council;
mod data;
pub mod ees;
pub mod faults;
pub mod nhs;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand::seq::index::sample;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Sen2SimConfig, SimError};
use council::{CouncilStream, StreamStore, Tokens};
pub use data::MAX_CHILDREN;
use data::{Child, World};
use faults::{Endpoint, FaultControl};

/// How to run the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimServerConfig {
    /// Which children exist: the same config as [`crate::write_sen2_returns`] gives the
    /// same children (same UPNs, names, dates) as the SEN2 files.
    pub sen2: Sen2SimConfig,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// OAuth2 client id the council accepts.
    pub client_id: String,
    /// OAuth2 client secret the council accepts.
    pub client_secret: String,
    /// `X-API-Key` the NHS provider accepts.
    pub api_key: String,
    /// How long a council token lives.
    pub token_lifetime: Duration,
}

impl Default for SimServerConfig {
    fn default() -> Self {
        Self {
            sen2: Sen2SimConfig::default(),
            port: 0,
            client_id: "sendlake-sim".into(),
            client_secret: "sim-client-secret".into(),
            api_key: "sim-nhs-api-key".into(),
            token_lifetime: Duration::from_secs(3600),
        }
    }
}

impl SimServerConfig {
    /// Checks the SEN2 part and the simulator's own limits.
    ///
    /// # Errors
    /// [`SimError::Config`] naming the first problem.
    pub fn validate(&self) -> Result<(), SimError> {
        self.sen2.validate()?;
        if self.sen2.las.saturating_mul(self.sen2.persons_per_la) > MAX_CHILDREN {
            return Err(SimError::Config(format!(
                "las × persons_per_la must be at most {MAX_CHILDREN} (NHS test-number space)"
            )));
        }
        if self.client_id.is_empty() || self.client_secret.is_empty() || self.api_key.is_empty() {
            return Err(SimError::Config(
                "client_id, client_secret and api_key must not be empty".into(),
            ));
        }
        if self.token_lifetime.is_zero() {
            return Err(SimError::Config("token_lifetime must be positive".into()));
        }
        Ok(())
    }
}

/// A simulated child's identifiers, for tests that link partners' records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimChild {
    /// The LA whose SEN2 return holds the child.
    pub la_code: u16,
    /// The UPN in the SEN2 return (absent for some, as there).
    pub upn: Option<String>,
    /// The synthetic NHS number (999 test range) both partners use.
    pub nhs_number: String,
}

/// What [`RunningSim::advance`] should change. Counts are capped by what exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Live council records (any stream) to modify.
    pub updates: usize,
    /// Live council records to delete (served as tombstones afterwards).
    pub deletions: usize,
    /// New council requests (pending, outcome `A`) for existing children.
    pub new_requests: usize,
    /// Open referrals to move on (first contact, or discharge).
    pub referral_updates: usize,
    /// New referrals for existing children.
    pub new_referrals: usize,
    /// Referrals to remove from the provider's snapshot.
    pub referral_deletions: usize,
    /// How far the partners' clock moves first; every change is stamped after it.
    pub elapsed: TimeDelta,
}

impl Default for Changes {
    fn default() -> Self {
        Self {
            updates: 0,
            deletions: 0,
            new_requests: 0,
            referral_updates: 0,
            new_referrals: 0,
            referral_deletions: 0,
            elapsed: TimeDelta::days(1),
        }
    }
}

/// What one [`RunningSim::advance`] did, so tests can expect exact counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvanceReport {
    /// The partners' clock after the move; every change has `updated_at >= since`.
    pub since: DateTime<Utc>,
    /// Council records modified.
    pub updated: Vec<(CouncilStream, String)>,
    /// Council records deleted.
    pub deleted: Vec<(CouncilStream, String)>,
    /// Council records created.
    pub created: Vec<(CouncilStream, String)>,
    /// Referral ids moved on.
    pub referrals_updated: Vec<String>,
    /// Referral ids created.
    pub referrals_created: Vec<String>,
    /// Referral ids removed.
    pub referrals_deleted: Vec<String>,
}

impl AdvanceReport {
    /// How many council records of `stream` changed in any way (each appears once in a
    /// later `updated_since` read).
    pub fn changed_in(&self, stream: CouncilStream) -> usize {
        [&self.updated, &self.deleted, &self.created]
            .into_iter()
            .flatten()
            .filter(|(s, _)| *s == stream)
            .count()
    }
}

/// The partners' mutable data.
pub(crate) struct WorldState {
    pub council: [StreamStore; 4],
    pub referrals: Vec<Map<String, Value>>,
    children: Vec<Child>,
    clock: DateTime<Utc>,
    generation: usize,
}

/// State shared by all handlers.
pub(crate) struct Shared {
    pub config: SimServerConfig,
    pub faults: FaultControl,
    world: Mutex<WorldState>,
    tokens: Mutex<Tokens>,
    pub ees: ees::EesData,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    // Poisoning only means a handler panicked; the data is still consistent enough for a
    // simulator, and refusing all later requests would hide the original failure.
    pub(crate) fn lock_world(&self) -> MutexGuard<'_, WorldState> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock_tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A handler's answer before faults and serialisation.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Value,
    /// Key of the array of records in `body`, which drift applies to.
    pub records: Option<&'static str>,
    pub content_type: &'static str,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            records: None,
            content_type: "application/json",
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let bytes = serde_json::to_vec(&self.body).unwrap_or_default();
        build(self.status, self.content_type, self.headers, bytes)
    }
}

fn build(
    status: StatusCode,
    content_type: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
    bytes: Vec<u8>,
) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (k, v) in headers {
        h.append(k, v);
    }
    resp
}

/// Runs `handler` under `ep`'s fault knobs: hang, delay, 429 and 5xx before it; drift
/// and truncation on its successful answer.
pub(crate) async fn guarded(
    state: &Shared,
    ep: Endpoint,
    handler: impl FnOnce() -> Reply,
) -> Response {
    let planned = state.faults.plan(ep);
    let mut shutdown = state.shutdown.clone();
    if planned.hang {
        // A dead upstream: nothing until the server shuts down, which must not wait for
        // us (graceful shutdown waits for in-flight requests).
        let _ = shutdown.wait_for(|stop| *stop).await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !planned.delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(planned.delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    if let Some(secs) = planned.rate_limited {
        let mut r = Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "rate_limited", "message": "too many requests"}),
        );
        r.headers
            .push((header::RETRY_AFTER, HeaderValue::from(secs)));
        return r.into_response();
    }
    if let Some(status) = planned.server_error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Reply::json(
            status,
            json!({"error": "upstream", "message": "simulated failure"}),
        )
        .into_response();
    }
    let mut reply = handler();
    if !reply.status.is_success() {
        return reply.into_response();
    }
    let post = state.faults.post(ep);
    if let (Some(drift), Some(key)) = (&post.drift, reply.records)
        && let Some(Value::Array(records)) = reply.body.get_mut(key)
    {
        records.iter_mut().for_each(|r| drift.apply(r));
    }
    let mut bytes = serde_json::to_vec(&reply.body).unwrap_or_default();
    if post.truncate {
        // Half a document: the length header matches, so the client reads a "complete"
        // response that does not parse, as after a proxy cut a stream.
        bytes.truncate(bytes.len() / 2);
    }
    build(reply.status, reply.content_type, reply.headers, bytes)
}

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space, `%XX` a byte).
pub(crate) fn form_pairs(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = s
                        .get(i + 1..i + 3)
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    if let Some(b) = hex {
                        out.push(b);
                        i += 2;
                    } else {
                        out.push(b'%');
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of `name` among query or form pairs.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A running simulator. Dropping it without [`RunningSim::shutdown`] leaves the server
/// task running until the runtime stops.
pub struct RunningSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Builds the partners' data for `config`, binds `127.0.0.1:config.port` and serves it on
/// the current Tokio runtime.
///
/// # Errors
/// [`SimError::Config`] for an invalid config; [`SimError::Serve`] if the port cannot be
/// bound.
pub async fn start(config: SimServerConfig) -> Result<RunningSim, SimError> {
    config.validate()?;
    let World {
        children,
        council,
        referrals,
        census,
    } = data::build(&config.sen2);
    let mut streams: [StreamStore; 4] = Default::default();
    for d in council {
        let salt =
            d.id.bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let at = data::stamp(d.changed.min(census), salt);
        streams[d.stream % 4].put(d.id, at, Some(d.body));
    }
    let (stop, shutdown) = watch::channel(false);
    let shared = Arc::new(Shared {
        ees: ees::EesData::new(config.sen2.census_year),
        faults: FaultControl::default(),
        world: Mutex::new(WorldState {
            council: streams,
            referrals,
            children,
            // After every initial stamp (they are on or before census day, by 18:00).
            clock: data::stamp(census, 0) + TimeDelta::hours(16),
            generation: 0,
        }),
        tokens: Mutex::new(Tokens::default()),
        config,
        shutdown: shutdown.clone(),
    });

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, shared.config.port))
        .await
        .map_err(|source| SimError::Serve {
            what: "bind 127.0.0.1",
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Serve {
        what: "read the bound address",
        source,
    })?;
    let app = router(shared.clone());
    let mut signal = shutdown;
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(RunningSim {
        addr,
        shared,
        stop,
        task,
    })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/council/oauth/token", post(council::token))
        .route("/council/api/v1/{stream}", get(council::list))
        .route("/nhs/api/v1/referrals", get(nhs::referrals))
        .route("/v1/publications", get(ees::publications))
        .route("/v1/publications/{id}", get(ees::publication))
        .route("/v1/publications/{id}/data-sets", get(ees::data_sets))
        .route("/v1/data-sets/{id}", get(ees::data_set))
        .route("/v1/data-sets/{id}/meta", get(ees::meta))
        .route(
            "/v1/data-sets/{id}/query",
            get(ees::query_get).post(ees::query_post),
        )
        .fallback(|| async {
            Reply::json(
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "message": "no such endpoint"}),
            )
        })
        .with_state(shared)
}

impl RunningSim {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &SimServerConfig {
        &self.shared.config
    }

    /// The fault knobs (a shared handle: changes apply to the next request).
    pub fn faults(&self) -> &FaultControl {
        &self.shared.faults
    }

    /// The partners' clock: no record has a later `updated_at`.
    pub fn clock(&self) -> DateTime<Utc> {
        self.shared.lock_world().clock
    }

    /// `(live, tombstones)` currently in a council stream.
    pub fn council_counts(&self, stream: CouncilStream) -> (usize, usize) {
        self.shared.lock_world().council[stream.index()].counts()
    }

    /// Referrals currently in the provider's snapshot.
    pub fn referral_count(&self) -> usize {
        self.shared.lock_world().referrals.len()
    }

    /// All simulated children, in generation order (LA by LA, as in the SEN2 files).
    pub fn children(&self) -> Vec<SimChild> {
        self.shared
            .lock_world()
            .children
            .iter()
            .map(|c| SimChild {
                la_code: c.la_code,
                upn: c.upn.clone(),
                nhs_number: c.nhs_number.clone(),
            })
            .collect()
    }

    /// Moves the partners on: the clock by `changes.elapsed`, then the requested updates,
    /// deletions and creations, each stamped with a distinct instant after the new clock
    /// (1 ms apart). Which records change is drawn from the seed and the number of earlier
    /// advances, so a test run is reproducible.
    pub fn advance(&self, changes: &Changes) -> AdvanceReport {
        let mut guard = self.shared.lock_world();
        let w = &mut *guard;
        w.generation += 1;
        let generation = w.generation;
        w.clock += changes.elapsed.max(TimeDelta::zero());
        let since = w.clock;
        let today = since.date_naive();
        let mut rng = crate::la_rng(self.shared.config.sen2.seed, 1000 + generation, 3);
        let mut tick = 0i64;
        let mut next_stamp = || {
            tick += 1;
            since + TimeDelta::milliseconds(tick)
        };
        let mut report = AdvanceReport {
            since,
            ..AdvanceReport::default()
        };

        // Council updates and deletions, drawn together so no record is both.
        let pool: Vec<(usize, String)> = (0..4)
            .flat_map(|s| w.council[s].live_ids().into_iter().map(move |id| (s, id)))
            .collect();
        let wanted = (changes.updates + changes.deletions).min(pool.len());
        let picks = sample(&mut rng, pool.len(), wanted).into_vec();
        for (n, i) in picks.into_iter().enumerate() {
            let (s, id) = &pool[i];
            let stream = CouncilStream::from_index(*s);
            let at = next_stamp();
            if n < changes.updates {
                let mut body = w.council[*s].body(id).cloned().unwrap_or_default();
                modify(stream, &mut body, today);
                w.council[*s].put(id.clone(), at, Some(body));
                report.updated.push((stream, id.clone()));
            } else {
                w.council[*s].put(id.clone(), at, None);
                report.deleted.push((stream, id.clone()));
            }
        }

        // New requests: a child asks again (or for the first time since a refusal).
        for i in 0..changes.new_requests {
            if w.children.is_empty() {
                break;
            }
            let child = &w.children[rng.random_range(0..w.children.len())];
            let id = format!("REQ-{:03}-N{generation:04}-{i:05}", child.la_code);
            let body = json!({
                "id": id,
                "la_code": child.la_code,
                "child": child.json,
                "received_date": today.to_string(),
                "request_source": 1,
                "rya": null,
                "outcome": "A",
                "outcome_date": null,
                "mediation": null,
                "tribunal": null,
                "exported_to_la": null,
            });
            let Value::Object(body) = body else { continue };
            w.council[data::REQUESTS].put(id.clone(), next_stamp(), Some(body));
            report.created.push((CouncilStream::Requests, id));
        }

        // Referrals: progress open ones, add new ones, drop some.
        let open: Vec<usize> = (0..w.referrals.len())
            .filter(|&i| {
                w.referrals[i]
                    .get("discharge_date")
                    .is_some_and(Value::is_null)
            })
            .collect();
        let n = changes.referral_updates.min(open.len());
        for j in sample(&mut rng, open.len(), n).into_vec() {
            let r = &mut w.referrals[open[j]];
            let field = if r.get("first_contact_date").is_some_and(Value::is_null) {
                "first_contact_date"
            } else {
                "discharge_date"
            };
            r.insert(field.into(), json!(today.to_string()));
            if let Some(id) = r.get("referral_id").and_then(Value::as_str) {
                report.referrals_updated.push(id.to_string());
            }
        }
        for i in 0..changes.new_referrals {
            if w.children.is_empty() {
                break;
            }
            let child = &w.children[rng.random_range(0..w.children.len())];
            let id = format!("REF-N{generation:04}-{i:05}");
            let line = rng.random_range(0..data::SERVICE_LINES.len());
            let mut r = data::referral(&mut rng, child, id.clone(), line, today);
            r.insert("referral_date".into(), json!(today.to_string()));
            r.insert("first_contact_date".into(), Value::Null);
            r.insert("discharge_date".into(), Value::Null);
            // Ids of new referrals sort after all earlier ones, so the snapshot stays in
            // `referral_id` order by appending.
            w.referrals.push(r);
            report.referrals_created.push(id);
        }
        let n = changes.referral_deletions.min(w.referrals.len());
        let mut gone = sample(&mut rng, w.referrals.len(), n).into_vec();
        gone.sort_unstable_by(|a, b| b.cmp(a));
        for i in gone {
            let r = w.referrals.remove(i);
            if let Some(id) = r.get("referral_id").and_then(Value::as_str) {
                report.referrals_deleted.push(id.to_string());
            }
        }
        w.clock = next_stamp();
        report
    }

    /// Stops accepting connections, releases hung requests and waits (up to 5 s) for the
    /// server to finish.
    ///
    /// # Errors
    /// [`SimError::Serve`] if the server task failed.
    pub async fn shutdown(self) -> Result<(), SimError> {
        let _ = self.stop.send(true);
        let mut task = self.task;
        match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(source))) => Err(SimError::Serve {
                what: "serve",
                source,
            }),
            Ok(Err(join)) => Err(SimError::Serve {
                what: "join the server task",
                source: io::Error::other(join.to_string()),
            }),
            Err(_) => {
                // Clients holding connections open must not block a test forever.
                task.abort();
                Ok(())
            }
        }
    }
}

/// A plausible change to one council record, dated `today`.
fn modify(stream: CouncilStream, body: &mut Map<String, Value>, today: chrono::NaiveDate) {
    let day = json!(today.to_string());
    match stream {
        CouncilStream::Requests => {
            body.insert("mediation".into(), json!(true));
        }
        CouncilStream::Assessments => {
            let flipped = !body
                .get("week20_exception")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            body.insert("week20_exception".into(), json!(flipped));
        }
        CouncilStream::Plans => {
            body.insert("last_review_date".into(), day);
            body.insert("review_outcome".into(), json!("M"));
        }
        CouncilStream::Placements => {
            body.insert("leaving_date".into(), day);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        let p = form_pairs("grant_type=client_credentials&client_id=a%2Bb&client_secret=x+y&flag");
        assert_eq!(param(&p, "client_id"), Some("a+b"));
        assert_eq!(param(&p, "client_secret"), Some("x y"));
        assert_eq!(param(&p, "flag"), Some(""));
        assert_eq!(param(&p, "nope"), None);
    }

    #[test]
    fn config_limits() {
        assert!(SimServerConfig::default().validate().is_ok());
        let c = SimServerConfig {
            token_lifetime: Duration::ZERO,
            ..SimServerConfig::default()
        };
        assert!(c.validate().is_err());
        let mut c = SimServerConfig::default();
        c.sen2.las = 2;
        c.sen2.persons_per_la = 300_000;
        assert!(c.validate().is_err());
    }
}
