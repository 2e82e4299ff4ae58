//! Every auth mode, including an OAuth2 token revoked mid-run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use sendlake_http::{HttpClient, HttpError, HttpSourceConfig};
use serde_json::json;

use crate::support::{Counter, cfg, collect, env, ids, items, q, serve};

const KEY: &str = "k-SECRET-4242";

/// Pages of 5 from 0..12, guarded by `check`.
fn guarded(
    check: impl Fn(&HeaderMap, &HashMap<String, String>) -> bool + Clone + Send + Sync + 'static,
) -> Router {
    Router::new().route(
        "/items",
        get(
            move |Query(p): Query<HashMap<String, String>>, headers: HeaderMap| {
                let check = check.clone();
                async move {
                    if !check(&headers, &p) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    let from = q(&p, "offset").unwrap_or(0);
                    Json(json!({ "data": items(from.min(12), (from + 5).min(12)) })).into_response()
                }
            },
        ),
    )
}

const PAGING: &str = r#"records = "/data"
pagination = { type = "offset_limit", limit = 5 }
"#;

/// Serves [`guarded`]`(check)` and returns the config that pages it, with this `auth` line.
async fn serve_guarded(
    check: impl Fn(&HeaderMap, &HashMap<String, String>) -> bool + Clone + Send + Sync + 'static,
    auth: &str,
) -> HttpSourceConfig {
    let base = serve(guarded(check)).await;
    cfg(&format!("base_url = \"{base}\"\n{PAGING}\n{auth}\n"))
}

#[tokio::test]
async fn api_key_in_header() {
    let config = serve_guarded(
        |h, _| h.get("x-api-key").is_some_and(|v| v == KEY),
        r#"auth = { type = "api_key", location = "header", name = "X-API-Key", value_env = "NHS_KEY" }"#,
    )
    .await;
    let c = HttpClient::with_env("nhs", &config, &env(&[("NHS_KEY", KEY)])).unwrap();
    assert_eq!(ids(&collect(&c, "items").await.unwrap()).len(), 12);

    // Without the key the server says 401, which is not retried for API keys.
    let wrong = HttpClient::with_env("nhs", &config, &env(&[("NHS_KEY", "nope")])).unwrap();
    let err = collect(&wrong, "items").await.unwrap_err();
    assert!(
        matches!(err, HttpError::Rejected { status: 401, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn api_key_in_query_is_redacted_from_page_urls() {
    let config = serve_guarded(
        |_, p| p.get("api_key").is_some_and(|v| v == KEY),
        r#"auth = { type = "api_key", location = "query", name = "api_key", value_env = "NHS_KEY" }"#,
    )
    .await;
    let c = HttpClient::with_env("nhs", &config, &env(&[("NHS_KEY", KEY)])).unwrap();
    let pages = collect(&c, "items").await.unwrap();
    assert_eq!(ids(&pages), (0..12).collect::<Vec<_>>());
    for page in &pages {
        assert!(!page.url.contains(KEY), "{}", page.url);
        assert!(page.url.contains("api_key=%5Bredacted%5D"), "{}", page.url);
    }
}

#[tokio::test]
async fn bearer_token() {
    let config = serve_guarded(
        |h, _| {
            h.get(header::AUTHORIZATION)
                .is_some_and(|v| v == format!("Bearer {KEY}").as_str())
        },
        r#"auth = { type = "bearer", token_env = "COUNCIL_TOKEN" }"#,
    )
    .await;
    let c = HttpClient::with_env("council", &config, &env(&[("COUNCIL_TOKEN", KEY)])).unwrap();
    assert_eq!(ids(&collect(&c, "items").await.unwrap()).len(), 12);
}

/// A token server that issues `tok-N` and a data API that accepts only the newest token and
/// revokes it after `revoke_after` data requests.
struct OAuthServer {
    generation: AtomicUsize,
    token_hits: Counter,
    data_hits: Counter,
    revoke_after: usize,
    basic: bool,
}

impl OAuthServer {
    fn new(revoke_after: usize, basic: bool) -> Arc<Self> {
        Arc::new(OAuthServer {
            generation: AtomicUsize::new(0),
            token_hits: Counter::default(),
            data_hits: Counter::default(),
            revoke_after,
            basic,
        })
    }
}

fn oauth_app(state: Arc<OAuthServer>) -> Router {
    let token_state = state.clone();
    Router::new()
        .route(
            "/oauth/token",
            post(move |headers: HeaderMap, body: String| {
                let s = token_state.clone();
                async move {
                    s.token_hits.hit();
                    let form: HashMap<String, String> =
                        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                    let ok_type = form.get("grant_type").map(String::as_str) == Some("client_credentials");
                    let ok_scope = form.get("scope").map(String::as_str) == Some("cases.read");
                    let ok_client = if s.basic {
                        // base64("council-client:c-SECRET-9999")
                        headers.get(header::AUTHORIZATION).is_some_and(|v| {
                            v == "Basic Y291bmNpbC1jbGllbnQ6Yy1TRUNSRVQtOTk5OQ=="
                        })
                    } else {
                        form.get("client_id").map(String::as_str) == Some("council-client")
                            && form.get("client_secret").map(String::as_str) == Some("c-SECRET-9999")
                    };
                    if !(ok_type && ok_scope && ok_client) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_client" })))
                            .into_response();
                    }
                    let n = s.generation.fetch_add(1, Ordering::SeqCst) + 1;
                    Json(json!({ "access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": 3600 }))
                        .into_response()
                }
            }),
        )
        .route(
            "/items",
            get(move |Query(p): Query<HashMap<String, String>>, headers: HeaderMap| {
                let s = state.clone();
                async move {
                    let expected = format!("Bearer tok-{}", s.generation.load(Ordering::SeqCst));
                    if headers.get(header::AUTHORIZATION).is_none_or(|v| v != expected.as_str()) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    if s.data_hits.hit() == s.revoke_after {
                        // Expire the token server-side, as if its lifetime ran out early.
                        s.generation.fetch_add(1, Ordering::SeqCst);
                    }
                    let from = q(&p, "offset").unwrap_or(0);
                    Json(json!({ "data": items(from.min(12), (from + 5).min(12)) })).into_response()
                }
            }),
        )
}

async fn oauth_run(basic: bool) {
    let state = OAuthServer::new(1, basic);
    let base = serve(oauth_app(state.clone())).await;
    let client_auth = if basic { "basic" } else { "body" };
    let config = cfg(&format!(
        r#"base_url = "{base}"
{PAGING}
[auth]
type = "oauth2_client_credentials"
token_url = "{base}/oauth/token"
client_id_env = "CM_ID"
client_secret_env = "CM_SECRET"
scope = "cases.read"
client_auth = "{client_auth}"
"#
    ));
    let vars = env(&[("CM_ID", "council-client"), ("CM_SECRET", "c-SECRET-9999")]);
    let c = HttpClient::with_env("council", &config, &vars).unwrap();
    let pages = collect(&c, "items").await.unwrap();
    assert_eq!(ids(&pages), (0..12).collect::<Vec<_>>());
    // One token at the start, one after the mid-run 401; the second token is then cached.
    assert_eq!(state.token_hits.get(), 2);
    // Three accepted page requests (the 401 is refused before it is counted).
    assert_eq!(state.data_hits.get(), 3);
    // A 401 refresh is not a server failure, so it costs no retry budget.
    assert_eq!(c.retry_budget_remaining(), 50);
}

#[tokio::test]
async fn oauth2_client_credentials_in_body_refreshes_after_401() {
    oauth_run(false).await;
}

#[tokio::test]
async fn oauth2_client_credentials_with_basic_auth() {
    oauth_run(true).await;
}

#[tokio::test]
async fn oauth2_bad_credentials_fail_without_leaking_them() {
    let state = OAuthServer::new(0, false);
    let base = serve(oauth_app(state.clone())).await;
    let config = cfg(&format!(
        r#"base_url = "{base}"
{PAGING}
auth = {{ type = "oauth2_client_credentials", token_url = "{base}/oauth/token", client_id_env = "CM_ID", client_secret_env = "CM_SECRET", scope = "cases.read" }}
"#
    ));
    let vars = env(&[("CM_ID", "council-client"), ("CM_SECRET", "WRONG-SECRET-1")]);
    let c = HttpClient::with_env("council", &config, &vars).unwrap();
    let err = c.get_json("items", &[]).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        matches!(err, HttpError::Rejected { status: 401, .. }),
        "{text}"
    );
    assert!(
        text.contains("/oauth/token") && !text.contains("WRONG-SECRET-1"),
        "{text}"
    );
    assert_eq!(state.data_hits.get(), 0);
}

#[tokio::test]
async fn missing_secret_names_variable_and_key() {
    let config = cfg(r#"base_url = "https://api.example.org"
auth = { type = "bearer", token_env = "NOT_SET_ANYWHERE" }
"#);
    let err = HttpClient::with_env("council", &config, &env(&[])).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, HttpError::MissingSecret { .. }));
    assert!(
        text.contains("NOT_SET_ANYWHERE")
            && text.contains("auth.token_env")
            && text.contains("council"),
        "{text}"
    );
    // Resolution through the real environment fails the same way.
    assert!(matches!(
        HttpClient::new("council", &config),
        Err(HttpError::MissingSecret { .. })
    ));
}

#[tokio::test]
async fn token_response_without_access_token_is_a_clear_error() {
    let app = Router::new().route(
        "/token",
        post(|| async { Json(json!({ "token_type": "Bearer" })) }),
    );
    let base = serve(app).await;
    let config = cfg(&format!(
        r#"base_url = "{base}"
auth = {{ type = "oauth2_client_credentials", token_url = "{base}/token", client_id_env = "I", client_secret_env = "S" }}
"#
    ));
    let c = HttpClient::with_env("council", &config, &env(&[("I", "i"), ("S", "s")])).unwrap();
    let err = c.get_json("x", &[]).await.unwrap_err();
    assert!(err.to_string().contains("access_token"), "{err}");
}
