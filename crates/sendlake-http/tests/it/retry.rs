//! Retries: Retry-After, 5xx bursts, the budget, timeouts, truncated JSON, limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sendlake_http::{Failure, HttpError};
use serde_json::json;

use crate::support::{Counter, cfg, client, collect, ids, items, serve_client};

/// Fails the first `failures` requests with `fail`, then answers with three records.
fn flaky(failures: usize, hits: Counter, fail: fn() -> axum::response::Response) -> Router {
    Router::new().route(
        "/r",
        get(move || {
            let hits = hits.clone();
            async move {
                if hits.hit() <= failures {
                    fail()
                } else {
                    Json(items(0, 3)).into_response()
                }
            }
        }),
    )
}

#[tokio::test]
async fn retry_after_is_honoured_before_backoff() {
    let hits = Counter::default();
    let app = flaky(1, hits.clone(), || {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "slow down",
        )
            .into_response()
    });
    // Back-off alone would wait at most 5 ms.
    let (c, _) = serve_client(app, "").await;
    let start = Instant::now();
    let pages = collect(&c, "r").await.unwrap();
    assert_eq!(ids(&pages), [0, 1, 2]);
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(hits.get(), 2);
    assert_eq!(c.retry_budget_remaining(), 49);
}

#[tokio::test]
async fn burst_of_5xx_recovers_within_budget() {
    let hits = Counter::default();
    let app = flaky(4, hits.clone(), || {
        let status = [StatusCode::SERVICE_UNAVAILABLE, StatusCode::BAD_GATEWAY];
        static N: AtomicUsize = AtomicUsize::new(0);
        status[N.fetch_add(1, Ordering::Relaxed) % 2].into_response()
    });
    let (c, _) = serve_client(
        app,
        "[retry]\nmax_attempts = 6\nbudget = 10\ninitial_backoff_ms = 1\nmax_backoff_ms = 10",
    )
    .await;
    let pages = collect(&c, "r").await.unwrap();
    assert_eq!(ids(&pages), [0, 1, 2]);
    assert_eq!(hits.get(), 5);
    assert_eq!(c.retry_budget_remaining(), 6);
}

#[tokio::test]
async fn exhausted_budget_fails_with_a_useful_error() {
    let hits = Counter::default();
    let app = flaky(usize::MAX, hits.clone(), || {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    });
    let (c, base) = serve_client(
        app,
        "[retry]\nmax_attempts = 10\nbudget = 3\ninitial_backoff_ms = 1\nmax_backoff_ms = 2",
    )
    .await;
    let err = collect(&c, "r").await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            HttpError::BudgetExhausted {
                attempts: 4,
                budget: 3,
                cause: Failure::Status { status: 500 },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        text.contains("partner")
            && text.contains(&format!("{base}/r"))
            && text.contains("HTTP 500"),
        "{text}"
    );
    assert_eq!(hits.get(), 4);
    // The budget is per client: the next request fails after its first failure.
    let again = c.get_json("r", &[]).await.unwrap_err();
    assert!(
        matches!(again, HttpError::BudgetExhausted { attempts: 1, .. }),
        "{again}"
    );
}

#[tokio::test]
async fn max_attempts_fails_with_last_cause() {
    let hits = Counter::default();
    let app = flaky(usize::MAX, hits.clone(), || {
        StatusCode::BAD_GATEWAY.into_response()
    });
    let (c, _) = serve_client(
        app,
        "[retry]\nmax_attempts = 3\ninitial_backoff_ms = 1\nmax_backoff_ms = 2",
    )
    .await;
    let err = c.get_json("r", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::AttemptsExhausted {
                attempts: 3,
                cause: Failure::Status { status: 502 },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("after 3 attempt(s)"), "{err}");
    assert_eq!(hits.get(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let hits = Counter::default();
    let app = flaky(usize::MAX, hits.clone(), || {
        StatusCode::NOT_FOUND.into_response()
    });
    let (c, _) = serve_client(app, "").await;
    let err = c.get_json("r", &[]).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(hits.get(), 1);
}

#[tokio::test]
async fn slow_response_times_out_and_is_retried() {
    let hits = Counter::default();
    let h = hits.clone();
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let h = h.clone();
                async move {
                    // The first request hangs; the rest answer at once.
                    if h.hit() == 1 {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    Json(items(0, 2))
                }
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Json(items(0, 2))
            }),
        );
    let (c, _) = serve_client(
        app,
        "timeout_secs = 0.2\n[retry]\nmax_attempts = 2\ninitial_backoff_ms = 1\nmax_backoff_ms = 2",
    )
    .await;
    let start = Instant::now();
    assert_eq!(ids(&collect(&c, "slow").await.unwrap()), [0, 1]);
    let err = c.get_json("hang", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::AttemptsExhausted {
                attempts: 2,
                cause: Failure::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn truncated_json_is_retried_then_fails_with_position() {
    let hits = Counter::default();
    let app = flaky(1, hits.clone(), || {
        (
            [(header::CONTENT_TYPE, "application/json")],
            "[{\"id\": 1}, {\"id\"",
        )
            .into_response()
    });
    let (c, _) = serve_client(app, "").await;
    // Truncated once, then whole: recovered.
    assert_eq!(ids(&collect(&c, "r").await.unwrap()), [0, 1, 2]);

    let always = Router::new().route(
        "/t",
        get(|| async { "{\"data\": [{\"id\": 1},\n{\"id\": 2" }),
    );
    let (c, _) = serve_client(
        always,
        "records = \"/data\"\n[retry]\nmax_attempts = 3\ninitial_backoff_ms = 1\nmax_backoff_ms = 2",
    )
    .await;
    let err = collect(&c, "t").await.unwrap_err();
    match &err {
        HttpError::AttemptsExhausted {
            attempts: 3,
            cause: Failure::Json { line, column, .. },
            ..
        } => {
            assert_eq!((*line, *column), (2, 8));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("line 2 column 8"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // Bind and drop to get a port nobody listens on.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&cfg(&format!(
        "base_url = \"http://127.0.0.1:{port}\"\n[retry]\nmax_attempts = 2\ninitial_backoff_ms = 1\nmax_backoff_ms = 2"
    )));
    let err = c.get_json("r", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::AttemptsExhausted {
                attempts: 2,
                cause: Failure::Connect { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn concurrency_and_rate_limits_apply_across_requests() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (f, p) = (in_flight.clone(), peak.clone());
    let app = Router::new().route(
        "/c",
        get(move || {
            let (f, p) = (f.clone(), p.clone());
            async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(40)).await;
                f.fetch_sub(1, Ordering::SeqCst);
                Json(json!([]))
            }
        }),
    );
    let (c, _) = serve_client(
        app,
        "concurrency = 2\nrate_limit = { requests_per_second = 50, burst = 2 }",
    )
    .await;
    assert_eq!(c.concurrency(), 2);
    let start = Instant::now();
    let results = futures::future::join_all((0..6).map(|_| c.get_json("c", &[]))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    // Six requests, burst 2 at 50/s: at least four 20 ms gaps.
    assert!(
        start.elapsed() >= Duration::from_millis(75),
        "{:?}",
        start.elapsed()
    );
}
