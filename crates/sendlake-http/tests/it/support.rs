//! Test server and helpers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use futures::TryStreamExt;
use sendlake_http::{HttpClient, HttpError, HttpSourceConfig, Page};
use serde_json::{Value, json};

/// Starts `app` on an ephemeral loopback port and returns `http://127.0.0.1:PORT`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// Parses a TOML config, appending fast retry settings unless the text has its own.
pub fn cfg(toml_text: &str) -> HttpSourceConfig {
    let text = if toml_text.contains("[retry]") {
        toml_text.to_owned()
    } else {
        format!("{toml_text}\n[retry]\ninitial_backoff_ms = 1\nmax_backoff_ms = 5\n")
    };
    toml::from_str(&text).unwrap_or_else(|e| panic!("bad test config: {e}\n{text}"))
}

/// An environment with just these variables.
pub fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

pub fn client(config: &HttpSourceConfig) -> HttpClient {
    HttpClient::with_env("partner", config, &env(&[])).unwrap()
}

/// Serves `app` and returns a client for it, configured by `base_url` (the server's address)
/// and then `rest` (TOML), with the server's address.
pub async fn serve_client(app: Router, rest: &str) -> (HttpClient, String) {
    let base = serve(app).await;
    (
        client(&cfg(&format!("base_url = \"{base}\"\n{rest}"))),
        base,
    )
}

pub async fn collect(client: &HttpClient, path: &str) -> Result<Vec<Page>, HttpError> {
    client.pages(path, &[]).try_collect().await
}

/// Records `{"id": n}` for `n` in `from..to`.
pub fn items(from: u64, to: u64) -> Vec<Value> {
    (from..to).map(|id| json!({ "id": id })).collect()
}

/// The ids of all records of all pages, in order.
pub fn ids(pages: &[Page]) -> Vec<u64> {
    pages
        .iter()
        .flat_map(|p| p.records.iter())
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

/// A shared request counter.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    /// Increments and returns the new count (1 for the first request).
    pub fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn q(params: &HashMap<String, String>, key: &str) -> Option<u64> {
    params.get(key).and_then(|v| v.parse().ok())
}
