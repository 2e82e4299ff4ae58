//! Every pagination mode end to end, with exact record and request counts.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use sendlake_http::Page;

use crate::support::{Counter, cfg, client, collect, ids, items, q, serve, serve_client};

const TOTAL: u64 = 23;

/// A router with one GET route on `path` that counts its requests in `hits` and answers each
/// from its query parameters and headers.
fn counted<R: IntoResponse>(
    path: &str,
    hits: &Counter,
    answer: impl Fn(&HashMap<String, String>, &HeaderMap) -> R + Clone + Send + Sync + 'static,
) -> Router {
    let hits = hits.clone();
    Router::new().route(
        path,
        get(
            move |Query(p): Query<HashMap<String, String>>, headers: HeaderMap| {
                let (hits, answer) = (hits.clone(), answer.clone());
                async move {
                    hits.hit();
                    answer(&p, &headers)
                }
            },
        ),
    )
}

/// The walk read all `TOTAL` records in order, on `pages_and_requests.0` pages from
/// `pages_and_requests.1` requests.
fn assert_walk(pages: &[Page], hits: &Counter, pages_and_requests: (usize, usize)) {
    assert_eq!(ids(pages), (0..TOTAL).collect::<Vec<_>>());
    assert_eq!((pages.len(), hits.get()), pages_and_requests);
}

#[tokio::test]
async fn no_pagination_reads_the_whole_body_as_one_page() {
    let app = Router::new().route("/all", get(|| async { Json(items(0, 7)) }));
    let (c, base) = serve_client(app, "").await;
    let pages = collect(&c, "/all").await.unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(ids(&pages), (0..7).collect::<Vec<_>>());
    assert_eq!(pages[0].url, format!("{base}/all"));
}

#[tokio::test]
async fn page_number_stops_on_short_page() {
    let hits = Counter::default();
    let app = counted("/items", &hits, |p, _| {
        let (page, size) = (q(p, "page").unwrap(), q(p, "per_page").unwrap());
        let from = (page - 1) * size;
        Json(json!({ "data": items(from.min(TOTAL), (from + size).min(TOTAL)) }))
    });
    let config = r#"records = "/data"
[pagination]
type = "page_number"
page_param = "page"
size_param = "per_page"
page_size = 5
first_page = 1
"#;
    let (c, _) = serve_client(app, config).await;
    let pages = collect(&c, "items").await.unwrap();
    // 5,5,5,5,3: the short fifth page ends the walk without a sixth request.
    assert_walk(&pages, &hits, (5, 5));
    assert_eq!(
        pages.iter().map(|p| p.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
}

#[tokio::test]
async fn page_number_without_size_param_stops_on_empty_page() {
    let hits = Counter::default();
    let app = counted("/items", &hits, |p, _| {
        // Zero-based pages of 10 chosen by the server.
        let from = q(p, "p").unwrap() * 10;
        Json(json!({ "data": items(from.min(TOTAL), (from + 10).min(TOTAL)) }))
    });
    let config = r#"records = "/data"
pagination = { type = "page_number", page_param = "p", first_page = 0 }
"#;
    let (c, _) = serve_client(app, config).await;
    let pages = collect(&c, "items").await.unwrap();
    // 10, 10, 3, then an empty page.
    assert_walk(&pages, &hits, (3, 4));
}

fn offset_app(server_cap: u64, hits: &Counter) -> Router {
    counted("/rows", hits, move |p, _| {
        let offset = q(p, "offset").unwrap();
        let limit = q(p, "limit").unwrap().min(server_cap);
        Json(json!({
            "results": items(offset.min(TOTAL), (offset + limit).min(TOTAL)),
            "paging": { "total": TOTAL.to_string() }
        }))
    })
}

#[tokio::test]
async fn offset_limit_stops_on_short_page() {
    let hits = Counter::default();
    let config = r#"records = "/results"
pagination = { type = "offset_limit", limit = 10 }
"#;
    let (c, _) = serve_client(offset_app(100, &hits), config).await;
    assert_walk(&collect(&c, "rows").await.unwrap(), &hits, (3, 3));
}

#[tokio::test]
async fn offset_limit_with_total_survives_a_server_that_caps_the_limit() {
    let hits = Counter::default();
    // We ask for 10, the server gives 4: only the total tells us when we are done.
    let config = r#"records = "/results"
pagination = { type = "offset_limit", offset_param = "offset", limit_param = "limit", limit = 10, total_pointer = "/paging/total" }
"#;
    let (c, _) = serve_client(offset_app(4, &hits), config).await;
    assert_walk(&collect(&c, "rows").await.unwrap(), &hits, (6, 6));
}

#[tokio::test]
async fn cursor_in_body() {
    let hits = Counter::default();
    let app = counted("/cases", &hits, |p, _| {
        assert_eq!(
            p.get("updated_since").map(String::as_str),
            Some("2025-01-01")
        );
        let from: u64 = p
            .get("cursor")
            .map(|c| c.trim_start_matches("c").parse().unwrap())
            .unwrap_or(0);
        let to = (from + 7).min(TOTAL);
        let next = if to < TOTAL {
            json!(format!("c{to}"))
        } else {
            json!(null)
        };
        Json(json!({ "data": items(from, to), "meta": { "next_cursor": next } }))
    });
    let config = r#"records = "/data"
pagination = { type = "cursor_body", cursor_pointer = "/meta/next_cursor", cursor_param = "cursor" }
"#;
    let (c, _) = serve_client(app, config).await;
    let query = [("updated_since".to_owned(), "2025-01-01".to_owned())];
    let pages: Vec<_> = futures::TryStreamExt::try_collect(c.pages("cases", &query))
        .await
        .unwrap();
    assert_walk(&pages, &hits, (4, 4));
}

#[tokio::test]
async fn repeated_cursor_is_an_error_not_a_loop() {
    let app = Router::new().route(
        "/loop",
        get(|| async { Json(json!({ "data": items(0, 2), "next": "same" })) }),
    );
    let config = r#"records = "/data"
pagination = { type = "cursor_body", cursor_pointer = "/next", cursor_param = "c" }
"#;
    let (c, _) = serve_client(app, config).await;
    let err = collect(&c, "loop").await.unwrap_err();
    assert!(err.to_string().contains("same cursor"), "{err}");
}

#[tokio::test]
async fn next_url_in_body_relative_and_absolute() {
    let hits = Counter::default();
    let app = counted("/v1/refs", &hits, |p, headers| {
        let from = q(p, "after").unwrap_or(0);
        let to = (from + 6).min(TOTAL);
        let host = headers[header::HOST].to_str().unwrap().to_owned();
        // Alternate absolute and relative links; the last page has no link at all.
        let links = if to >= TOTAL {
            json!({})
        } else if from.is_multiple_of(12) {
            json!({ "next": format!("http://{host}/v1/refs?after={to}") })
        } else {
            json!({ "next": format!("refs?after={to}") })
        };
        Json(json!({ "items": items(from, to), "links": links }))
    });
    // The base URL has a path, so not serve_client: relative links resolve against it.
    let base = serve(app).await;
    let c = client(&cfg(&format!(
        r#"base_url = "{base}/v1"
records = "/items"
pagination = {{ type = "next_url_body", next_pointer = "/links/next" }}
"#
    )));
    assert_walk(&collect(&c, "refs").await.unwrap(), &hits, (4, 4));
}

#[tokio::test]
async fn next_link_to_another_origin_is_refused() {
    let app = Router::new().route(
        "/refs",
        get(|| async {
            Json(json!({ "items": items(0, 3), "next": "https://elsewhere.example/refs?p=2" }))
        }),
    );
    let config = r#"records = "/items"
pagination = { type = "next_url_body", next_pointer = "/next" }
"#;
    let (c, _) = serve_client(app, config).await;
    let err = collect(&c, "refs").await.unwrap_err();
    assert!(err.to_string().contains("another origin"), "{err}");
}

#[tokio::test]
async fn link_header() {
    let hits = Counter::default();
    let app = counted("/waits", &hits, |p, headers| {
        let page = q(p, "page").unwrap_or(1);
        let from = (page - 1) * 10;
        let to = (from + 10).min(TOTAL);
        let host = headers[header::HOST].to_str().unwrap().to_owned();
        let mut link = format!(r#"<http://{host}/waits?page=1>; rel="first""#);
        if to < TOTAL {
            link.push_str(&format!(
                r#", <http://{host}/waits?page={}>; rel="next""#,
                page + 1
            ));
        }
        ([(header::LINK, link)], Json(items(from, to))).into_response()
    });
    let (c, _) = serve_client(app, r#"pagination = { type = "link_header" }"#).await;
    assert_walk(&collect(&c, "waits").await.unwrap(), &hits, (3, 3));
}

#[tokio::test]
async fn missing_records_pointer_is_an_error() {
    let app = Router::new().route("/x", get(|| async { Json(json!({ "rows": [] })) }));
    let (c, _) = serve_client(app, r#"records = "/data""#).await;
    let err = collect(&c, "x").await.unwrap_err();
    assert!(err.to_string().contains("\"/data\" not found"), "{err}");
}
