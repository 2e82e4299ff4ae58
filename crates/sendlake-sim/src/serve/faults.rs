//! Fault knobs: per-endpoint misbehaviour that tests switch on at runtime.
//!
//! Connectors must survive real partners: rate limits, flaky gateways, slow or dead
//! upstreams, cut-off bodies, tokens revoked mid-run and payloads whose shape changes
//! without notice. Each knob here reproduces one of those on one [`Endpoint`], so a test
//! can prove the HTTP module's retry, timeout and drift policies against a real socket.
//!
//! Knobs are shared state behind [`FaultControl`] (a cheap clone of an `Arc`): the test
//! holds one handle, the request handlers another. Counted knobs (`next N requests`) are
//! consumed one per request, in the order the server sees them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;

/// An endpoint of the simulator a fault can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /council/oauth/token`.
    CouncilToken,
    /// `GET /council/api/v1/requests`.
    CouncilRequests,
    /// `GET /council/api/v1/assessments`.
    CouncilAssessments,
    /// `GET /council/api/v1/plans`.
    CouncilPlans,
    /// `GET /council/api/v1/placements`.
    CouncilPlacements,
    /// `GET /nhs/api/v1/referrals`.
    NhsReferrals,
    /// `GET /v1/publications`, `/v1/publications/{id}` and `/v1/publications/{id}/data-sets`.
    EesPublications,
    /// `GET /v1/data-sets/{id}`.
    EesDataSet,
    /// `GET /v1/data-sets/{id}/meta`.
    EesMeta,
    /// `GET` and `POST /v1/data-sets/{id}/query`.
    EesQuery,
}

impl Endpoint {
    /// Every endpoint, for clearing or inspecting all knobs.
    pub const ALL: [Endpoint; 10] = [
        Endpoint::CouncilToken,
        Endpoint::CouncilRequests,
        Endpoint::CouncilAssessments,
        Endpoint::CouncilPlans,
        Endpoint::CouncilPlacements,
        Endpoint::NhsReferrals,
        Endpoint::EesPublications,
        Endpoint::EesDataSet,
        Endpoint::EesMeta,
        Endpoint::EesQuery,
    ];
}

/// How a response's records change shape (applied to every record of a successful page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// A field the contract never mentioned appears, with a string value.
    AddField(String),
    /// A field disappears.
    RemoveField(String),
    /// A field keeps its name but changes JSON type: numbers and booleans become strings,
    /// strings become numbers when they parse as one and one-element arrays otherwise,
    /// `null` becomes `""`, objects and arrays become their JSON text.
    ChangeType(String),
}

/// The knobs of one endpoint. `Default` is "behave".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointFaults {
    /// Answer the next N requests with 429 Too Many Requests.
    pub rate_limited: u32,
    /// `Retry-After` (seconds) sent with those 429s.
    pub retry_after_secs: u64,
    /// Answer the next N requests with a 5xx.
    pub server_errors: u32,
    /// Which 5xx (500 if unset or not a 5xx).
    pub server_error_status: u16,
    /// Wait this long before answering every request.
    pub delay: Duration,
    /// Never answer (until the knob is cleared or the server shuts down).
    pub hang: bool,
    /// Cut the JSON body of the next N successful responses in half.
    pub truncated: u32,
    /// Change the shape of every record in successful responses.
    pub drift: Option<Drift>,
}

/// What one request must suffer, decided (and counted knobs consumed) on arrival.
#[derive(Debug, Clone, Default)]
pub(crate) struct Planned {
    pub hang: bool,
    pub delay: Duration,
    pub rate_limited: Option<u64>,
    pub server_error: Option<u16>,
}

/// What a successful response must suffer before it leaves.
#[derive(Debug, Clone, Default)]
pub(crate) struct PostFaults {
    pub truncate: bool,
    pub drift: Option<Drift>,
}

#[derive(Debug, Default)]
struct Inner {
    knobs: HashMap<Endpoint, EndpointFaults>,
    hits: HashMap<Endpoint, u64>,
    /// Bumped by [`FaultControl::expire_tokens`]; tokens minted under an older epoch are
    /// rejected, so "expire everything now" needs no access to the token table.
    token_epoch: u64,
}

/// Shared, runtime-settable fault knobs. Cloning shares the same state.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    inner: Arc<Mutex<Inner>>,
}

impl FaultControl {
    /// A poisoned lock only means a handler panicked mid-update; the knobs are plain data
    /// and still usable, so carry on rather than take the whole simulator down.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The knobs currently set on `ep`.
    pub fn get(&self, ep: Endpoint) -> EndpointFaults {
        self.lock().knobs.get(&ep).cloned().unwrap_or_default()
    }

    /// Replaces all knobs of `ep` at once.
    pub fn set(&self, ep: Endpoint, faults: EndpointFaults) {
        self.lock().knobs.insert(ep, faults);
    }

    fn update(&self, ep: Endpoint, f: impl FnOnce(&mut EndpointFaults)) {
        f(self.lock().knobs.entry(ep).or_default());
    }

    /// 429 with `Retry-After: retry_after_secs` for the next `n` requests to `ep`.
    pub fn rate_limit(&self, ep: Endpoint, n: u32, retry_after_secs: u64) {
        self.update(ep, |k| {
            k.rate_limited = n;
            k.retry_after_secs = retry_after_secs;
        });
    }

    /// A burst of `n` responses with `status` (a 5xx) on `ep`.
    pub fn server_errors(&self, ep: Endpoint, n: u32, status: u16) {
        self.update(ep, |k| {
            k.server_errors = n;
            k.server_error_status = status;
        });
    }

    /// Delays every response of `ep` by `delay` (zero to stop).
    pub fn delay(&self, ep: Endpoint, delay: Duration) {
        self.update(ep, |k| k.delay = delay);
    }

    /// Makes `ep` never answer (`true`) or answer again (`false`). Requests already
    /// hanging stay hung until the server shuts down, like a dead upstream would.
    pub fn hang(&self, ep: Endpoint, on: bool) {
        self.update(ep, |k| k.hang = on);
    }

    /// Truncates the JSON body of the next `n` successful responses of `ep`.
    pub fn truncate(&self, ep: Endpoint, n: u32) {
        self.update(ep, |k| k.truncated = n);
    }

    /// Sets (or with `None` clears) schema drift on `ep`'s records.
    pub fn drift(&self, ep: Endpoint, drift: Option<Drift>) {
        self.update(ep, |k| k.drift = drift);
    }

    /// Expires every bearer token issued so far, as if the council rotated its keys.
    pub fn expire_tokens(&self) {
        self.lock().token_epoch += 1;
    }

    /// Clears the knobs of `ep`.
    pub fn clear(&self, ep: Endpoint) {
        self.lock().knobs.remove(&ep);
    }

    /// Clears every knob (token expiry is not undone).
    pub fn clear_all(&self) {
        self.lock().knobs.clear();
    }

    /// Requests `ep` has received so far, faulted or not: lets a test count retries.
    pub fn hits(&self, ep: Endpoint) -> u64 {
        self.lock().hits.get(&ep).copied().unwrap_or(0)
    }

    pub(crate) fn token_epoch(&self) -> u64 {
        self.lock().token_epoch
    }

    /// Counts the request and decides its pre-handler faults, consuming counted knobs.
    /// Hanging and delayed requests still consume a 429/5xx so that the order of faults
    /// a client sees does not depend on its timeouts.
    pub(crate) fn plan(&self, ep: Endpoint) -> Planned {
        let mut inner = self.lock();
        *inner.hits.entry(ep).or_default() += 1;
        let Some(k) = inner.knobs.get_mut(&ep) else {
            return Planned::default();
        };
        let mut planned = Planned {
            hang: k.hang,
            delay: k.delay,
            ..Planned::default()
        };
        if k.rate_limited > 0 {
            k.rate_limited -= 1;
            planned.rate_limited = Some(k.retry_after_secs);
        } else if k.server_errors > 0 {
            k.server_errors -= 1;
            let status = if (500..600).contains(&k.server_error_status) {
                k.server_error_status
            } else {
                500
            };
            planned.server_error = Some(status);
        }
        planned
    }

    /// Decides the post-handler faults of a successful response, consuming a truncation.
    pub(crate) fn post(&self, ep: Endpoint) -> PostFaults {
        let mut inner = self.lock();
        let Some(k) = inner.knobs.get_mut(&ep) else {
            return PostFaults::default();
        };
        let truncate = k.truncated > 0;
        if truncate {
            k.truncated -= 1;
        }
        PostFaults {
            truncate,
            drift: k.drift.clone(),
        }
    }
}

impl Drift {
    /// Applies the drift to one record (a no-op on non-objects).
    pub(crate) fn apply(&self, record: &mut Value) {
        let Some(obj) = record.as_object_mut() else {
            return;
        };
        match self {
            Drift::AddField(name) => {
                obj.insert(name.clone(), Value::String("drift".into()));
            }
            Drift::RemoveField(name) => {
                obj.remove(name);
            }
            Drift::ChangeType(name) => {
                if let Some(v) = obj.get_mut(name) {
                    *v = retype(v.take());
                }
            }
        }
    }
}

/// The value in a different JSON type (see [`Drift::ChangeType`]).
fn retype(v: Value) -> Value {
    match v {
        Value::Null => Value::String(String::new()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::String(s) => match s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::Array(vec![Value::String(s)]),
        },
        other @ (Value::Array(_) | Value::Object(_)) => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counted_knobs_are_consumed_in_order() {
        let f = FaultControl::default();
        f.rate_limit(Endpoint::NhsReferrals, 1, 7);
        f.server_errors(Endpoint::NhsReferrals, 2, 503);
        assert_eq!(f.plan(Endpoint::NhsReferrals).rate_limited, Some(7));
        assert_eq!(f.plan(Endpoint::NhsReferrals).server_error, Some(503));
        assert_eq!(f.plan(Endpoint::NhsReferrals).server_error, Some(503));
        let p = f.plan(Endpoint::NhsReferrals);
        assert!(p.rate_limited.is_none() && p.server_error.is_none());
        assert_eq!(f.hits(Endpoint::NhsReferrals), 4);
        assert_eq!(f.hits(Endpoint::EesMeta), 0);
    }

    #[test]
    fn drift_changes_records() {
        let mut r = json!({"a": 1, "b": "2024-01-01", "c": "7", "d": true});
        Drift::ChangeType("a".into()).apply(&mut r);
        Drift::ChangeType("b".into()).apply(&mut r);
        Drift::ChangeType("c".into()).apply(&mut r);
        Drift::RemoveField("d".into()).apply(&mut r);
        Drift::AddField("e".into()).apply(&mut r);
        assert_eq!(
            r,
            json!({"a": "1", "b": ["2024-01-01"], "c": 7.0, "e": "drift"})
        );
    }
}
