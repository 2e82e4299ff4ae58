//! Plain http off loopback, and secrets kept out of Debug output and errors.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use sendlake_http::{HttpClient, HttpError, Secret};

use crate::support::{cfg, env, serve};

const KEY: &str = "k-SECRET-77";
const CLIENT_SECRET: &str = "cs-SECRET-88";

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    for url in ["http://api.example.org", "http://10.1.2.3:8080/v1"] {
        let err = HttpClient::with_env("nhs", &cfg(&format!("base_url = \"{url}\"")), &env(&[]))
            .unwrap_err();
        assert!(matches!(err, HttpError::InsecureUrl { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("https://") && text.contains("nhs"), "{text}");
    }
    for url in [
        "http://127.0.0.1:9",
        "http://localhost:9",
        "http://[::1]:9",
        "https://api.example.org",
    ] {
        HttpClient::with_env("nhs", &cfg(&format!("base_url = \"{url}\"")), &env(&[])).unwrap();
    }
    // The token endpoint is held to the same rule.
    let config = cfg(r#"base_url = "https://api.example.org"
auth = { type = "oauth2_client_credentials", token_url = "http://auth.example.org/token", client_id_env = "I", client_secret_env = "S" }
"#);
    let err = HttpClient::with_env("c", &config, &env(&[("I", "i"), ("S", "s")])).unwrap_err();
    assert!(matches!(err, HttpError::InsecureUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let app = Router::new()
        .route(
            "/denied",
            get(|| async { StatusCode::FORBIDDEN.into_response() }),
        )
        .route(
            "/broken",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR.into_response() }),
        );
    let base = serve(app).await;
    let vars = env(&[
        ("NHS_KEY", KEY),
        ("CID", "client-id-SECRET-99"),
        ("CSEC", CLIENT_SECRET),
    ]);

    let query_key = cfg(&format!(
        r#"base_url = "{base}"
auth = {{ type = "api_key", location = "query", name = "subscription-key", value_env = "NHS_KEY" }}
[retry]
max_attempts = 2
initial_backoff_ms = 1
max_backoff_ms = 1
"#
    ));
    let client = HttpClient::with_env("nhs", &query_key, &vars).unwrap();
    let mut texts = vec![format!("{query_key:?}"), format!("{client:?}")];
    for path in ["denied", "broken"] {
        let err = client.get_json(path, &[]).await.unwrap_err();
        assert!(
            err.to_string().contains("subscription-key=%5Bredacted%5D"),
            "{err}"
        );
        texts.push(format!("{err} {err:?}"));
    }

    let oauth = cfg(&format!(
        r#"base_url = "{base}"
auth = {{ type = "oauth2_client_credentials", token_url = "{base}/no-token-here", client_id_env = "CID", client_secret_env = "CSEC" }}
"#
    ));
    let client = HttpClient::with_env("council", &oauth, &vars).unwrap();
    texts.push(format!("{oauth:?} {client:?}"));
    let err = client.get_json("denied", &[]).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));

    // A header value that cannot be sent: the error names the variable, not the value.
    let bad = env(&[("NHS_KEY", "bad\nSECRET-LINE")]);
    let header_key = cfg(r#"base_url = "https://x.example"
auth = { type = "api_key", location = "header", name = "X-Key", value_env = "NHS_KEY" }
"#);
    let err = HttpClient::with_env("nhs", &header_key, &bad).unwrap_err();
    assert!(err.to_string().contains("NHS_KEY"), "{err}");
    texts.push(format!("{err} {err:?}"));

    texts.push(format!(
        "{:?} {}",
        Secret::new(KEY.into()),
        Secret::new(KEY.into())
    ));
    for text in &texts {
        for secret in [KEY, CLIENT_SECRET, "client-id-SECRET-99", "SECRET-LINE"] {
            assert!(!text.contains(secret), "secret {secret} leaked in: {text}");
        }
    }
}

#[test]
fn credentials_in_static_headers_are_refused() {
    let config = cfg(r#"base_url = "https://x.example"
headers = { Authorization = "Bearer abc" }
"#);
    let err = HttpClient::with_env("nhs", &config, &env(&[])).unwrap_err();
    assert!(
        matches!(err, HttpError::Config { .. }) && err.to_string().contains("auth"),
        "{err}"
    );
}

#[tokio::test]
async fn redirects_stay_on_the_same_origin() {
    use axum::Json;
    use axum::response::Redirect;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app =
        Router::new()
            .route(
                "/data",
                get(|| async { Json(serde_json::json!([{ "id": 1 }])) }),
            )
            .route("/moved", get(|| async { Redirect::temporary("/data") }))
            // Same server, but `localhost` is a different origin from `127.0.0.1`.
            .route(
                "/away",
                get(move || async move {
                    Redirect::temporary(&format!("http://localhost:{port}/data"))
                }),
            );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = cfg(&format!("base_url = \"http://127.0.0.1:{port}\""));
    let c = HttpClient::with_env("nhs", &config, &env(&[])).unwrap();
    assert_eq!(c.get_json("moved", &[]).await.unwrap()[0]["id"], 1);
    let err = c.get_json("away", &[]).await.unwrap_err();
    assert!(matches!(err, HttpError::Client { .. }), "{err:?}");
    assert!(err.to_string().contains("another origin"), "{err}");
}
