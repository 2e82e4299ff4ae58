//! The NHS community provider's referrals API: API-key auth and offset pagination.
//!
//! Unlike the council, the provider offers no change feed: every call pages through the
//! current snapshot (`total` is its size), ordered by `referral_id`. That is the shape
//! many provider extracts have, and it makes the connector prove it copes with a source
//! that can only be fully re-read. Children are identified by NHS number only, the key
//! shared with the council records.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::Endpoint;
use super::{Reply, Shared, guarded, param};

/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 1000;
/// Default `limit`.
pub const DEFAULT_LIMIT: usize = 100;

/// The header carrying the provider's API key.
pub const API_KEY_HEADER: &str = "x-api-key";

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": status.as_u16(), "message": message}),
    )
}

/// `GET /nhs/api/v1/referrals?offset=&limit=`: 401 without a key, 403 with a wrong one.
pub(crate) async fn referrals(
    State(state): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    guarded(&state, Endpoint::NhsReferrals, || {
        match headers.get(API_KEY_HEADER).map(|v| v.as_bytes()) {
            None => return error(StatusCode::UNAUTHORIZED, "X-API-Key header required"),
            Some(k) if k != state.config.api_key.as_bytes() => {
                return error(StatusCode::FORBIDDEN, "API key not recognised");
            }
            Some(_) => {}
        }
        let offset = match param(&query, "offset").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "offset must be a non-negative integer",
                );
            }
        };
        let limit = match param(&query, "limit").map(str::parse::<usize>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => return error(StatusCode::BAD_REQUEST, "limit must be in 1..=1000"),
        };
        let world = state.lock_world();
        let items: Vec<Value> = world
            .referrals
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| Value::Object(r.clone()))
            .collect();
        let mut r = Reply::json(
            StatusCode::OK,
            json!({"items": items, "total": world.referrals.len()}),
        );
        r.records = Some("items");
        r
    })
    .await
}
