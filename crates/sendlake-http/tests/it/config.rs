//! Config parsing from TOML.

use sendlake_http::{
    ApiKeyLocation, Auth, ClientAuthMethod, HttpSourceConfig, Pagination, RetryPolicy,
};

fn parse(text: &str) -> Result<HttpSourceConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

#[test]
fn minimal_config_gets_defaults() {
    let c = parse(r#"base_url = "https://api.example.org""#).unwrap();
    assert_eq!(c, HttpSourceConfig::new("https://api.example.org"));
    assert_eq!(c.auth, Auth::None {});
    assert_eq!(c.pagination, Pagination::None {});
    assert_eq!(c.retry, RetryPolicy::default());
    assert_eq!(
        (c.timeout_secs, c.connect_timeout_secs, c.concurrency),
        (30.0, 10.0, 4)
    );
    c.validate().unwrap();
}

#[test]
fn full_config_parses() {
    let c = parse(
        r#"
base_url = "https://nhs.example/api/v2"
records = "/data/items"
timeout_secs = 12.5
connect_timeout_secs = 3
concurrency = 2
headers = { "X-Partner" = "sendlake" }
rate_limit = { requests_per_second = 2.5, burst = 5 }

[auth]
type = "api_key"
location = "header"
name = "X-API-Key"
value_env = "NHS_API_KEY"

[pagination]
type = "offset_limit"
offset_param = "skip"
limit_param = "take"
limit = 250
total_pointer = "/meta/total"

[retry]
max_attempts = 7
budget = 100
"#,
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(
        c.auth,
        Auth::ApiKey {
            location: ApiKeyLocation::Header,
            name: "X-API-Key".into(),
            value_env: "NHS_API_KEY".into()
        }
    );
    assert_eq!(
        c.rate_limit
            .as_ref()
            .map(|r| (r.requests_per_second, r.burst)),
        Some((2.5, 5))
    );
    assert_eq!(
        (
            c.retry.max_attempts,
            c.retry.budget,
            c.retry.initial_backoff_ms
        ),
        (7, 100, 500)
    );
    assert!(matches!(
        c.pagination,
        Pagination::OffsetLimit { limit: 250, .. }
    ));
}

#[test]
fn every_auth_and_pagination_type_parses() {
    for auth in [
        r#"{ type = "none" }"#,
        r#"{ type = "api_key", location = "query", name = "k", value_env = "K" }"#,
        r#"{ type = "bearer", token_env = "T" }"#,
        r#"{ type = "oauth2_client_credentials", token_url = "https://a/t", client_id_env = "I", client_secret_env = "S", scope = "x y", client_auth = "basic" }"#,
    ] {
        parse(&format!("base_url = \"https://a\"\nauth = {auth}")).unwrap();
    }
    let c = parse(r#"base_url = "https://a"
auth = { type = "oauth2_client_credentials", token_url = "https://a/t", client_id_env = "I", client_secret_env = "S" }"#).unwrap();
    assert!(matches!(
        c.auth,
        Auth::Oauth2ClientCredentials {
            client_auth: ClientAuthMethod::Body,
            scope: None,
            ..
        }
    ));
    for pagination in [
        r#"{ type = "none" }"#,
        r#"{ type = "page_number" }"#,
        r#"{ type = "page_number", page_param = "p", size_param = "n", page_size = 50, first_page = 0 }"#,
        r#"{ type = "offset_limit" }"#,
        r#"{ type = "cursor_body", cursor_pointer = "/next", cursor_param = "cursor" }"#,
        r#"{ type = "next_url_body", next_pointer = "/links/next" }"#,
        r#"{ type = "link_header" }"#,
    ] {
        let c = parse(&format!(
            "base_url = \"https://a\"\npagination = {pagination}"
        ))
        .unwrap();
        c.validate().unwrap();
    }
}

#[test]
fn unknown_fields_and_types_are_errors() {
    let cases = [
        ("base_url = \"https://a\"\nretries = 3", "retries"),
        (
            "base_url = \"https://a\"\n[retry]\nmax_retries = 3",
            "max_retries",
        ),
        (
            "base_url = \"https://a\"\nauth = { type = \"bearer\", token = \"abc\" }",
            "token",
        ),
        (
            "base_url = \"https://a\"\nauth = { type = \"basic\" }",
            "basic",
        ),
        (
            "base_url = \"https://a\"\npagination = { type = \"link_header\", rel = \"next\" }",
            "rel",
        ),
        (
            "base_url = \"https://a\"\nauth = { type = \"none\", token_env = \"T\" }",
            "token_env",
        ),
        (
            "base_url = \"https://a\"\nrate_limit = { requests_per_second = 1, burst = 1, jitter = 1 }",
            "jitter",
        ),
        (
            "base_url = \"https://a\"\nauth = { type = \"api_key\", location = \"cookie\", name = \"k\", value_env = \"K\" }",
            "cookie",
        ),
    ];
    for (text, word) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.contains(word), "expected {word:?} in: {err}");
    }
}

#[test]
fn validation_names_the_key() {
    let cases = [
        ("records = \"data\"", "records"),
        ("concurrency = 0", "concurrency"),
        ("timeout_secs = 0", "timeout_secs"),
        ("[retry]\nmax_attempts = 0", "retry.max_attempts"),
        (
            "pagination = { type = \"cursor_body\", cursor_pointer = \"next\", cursor_param = \"c\" }",
            "cursor_pointer",
        ),
        (
            "rate_limit = { requests_per_second = 0 }",
            "requests_per_second",
        ),
    ];
    for (extra, key) in cases {
        let c = parse(&format!("base_url = \"https://a\"\n{extra}")).unwrap();
        let err = c.validate().unwrap_err();
        assert!(err.contains(key), "expected {key:?} in: {err}");
    }
}
