//! The HTTP client (`sendlake-http`) against the partner simulator (`sendlake-sim`) on
//! loopback: the two were built separately, so this checks they agree on the real contract.
//! OAuth2 + cursor paging on the council API, an API key + offset paging on the NHS API,
//! recovery from the simulator's faults, and the same children across both partners.

use std::collections::{HashMap, HashSet};

use futures::TryStreamExt as _;
use sendlake_http::{ApiKeyLocation, Auth, HttpClient, HttpSourceConfig, Pagination, RetryPolicy};
use sendlake_sim::serve::RunningSim;
use sendlake_sim::serve::council::CouncilStream;
use sendlake_sim::serve::faults::Endpoint;
use sendlake_test::sim::{self, quick_retries};

async fn simulator() -> RunningSim {
    sim::serve(sim::config(2, 80, 11)).await
}

fn council_client(sim: &RunningSim) -> HttpClient {
    let mut config = HttpSourceConfig::new(format!("{}/council/api/v1", sim.base_url()));
    config.auth = Auth::Oauth2ClientCredentials {
        token_url: format!("{}/council/oauth/token", sim.base_url()),
        client_id_env: "COUNCIL_CLIENT_ID".into(),
        client_secret_env: "COUNCIL_CLIENT_SECRET".into(),
        scope: None,
        client_auth: Default::default(),
    };
    config.pagination = Pagination::CursorBody {
        cursor_pointer: "/next_cursor".into(),
        cursor_param: "cursor".into(),
    };
    config.records = "/data".into();
    config.retry = quick_retries();
    let sim_config = sim.config().clone();
    let env = move |name: &str| match name {
        "COUNCIL_CLIENT_ID" => Some(sim_config.client_id.clone()),
        "COUNCIL_CLIENT_SECRET" => Some(sim_config.client_secret.clone()),
        _ => None,
    };
    HttpClient::with_env("council", &config, &env).expect("council client")
}

fn nhs_client(sim: &RunningSim) -> HttpClient {
    let mut config = HttpSourceConfig::new(format!("{}/nhs/api/v1", sim.base_url()));
    config.auth = Auth::ApiKey {
        location: ApiKeyLocation::Header,
        name: "X-API-Key".into(),
        value_env: "NHS_API_KEY".into(),
    };
    config.pagination = Pagination::OffsetLimit {
        offset_param: "offset".into(),
        limit_param: "limit".into(),
        limit: 25,
        total_pointer: Some("/total".into()),
    };
    config.records = "/items".into();
    config.retry = quick_retries();
    let key = sim.config().api_key.clone();
    let env = move |name: &str| (name == "NHS_API_KEY").then(|| key.clone());
    HttpClient::with_env("nhs", &config, &env).expect("nhs client")
}

async fn all_records(client: &HttpClient, path: &str) -> Vec<serde_json::Value> {
    let pages: Vec<_> = client
        .pages(path, &[("limit".to_owned(), "30".to_owned())])
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    pages.into_iter().flat_map(|p| p.records).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn council_and_nhs_apis_page_to_the_end_through_faults() {
    let sim = simulator().await;
    let council = council_client(&sim);
    let nhs = nhs_client(&sim);

    // A rate limit and a burst of server errors on the way: both recovered within the budget.
    sim.faults().rate_limit(Endpoint::CouncilRequests, 2, 1);
    sim.faults().server_errors(Endpoint::NhsReferrals, 2, 503);

    let requests = all_records(&council, "requests").await;
    let (live, tombstones) = sim.council_counts(CouncilStream::Requests);
    assert_eq!(requests.len(), live + tombstones);
    let ids: HashSet<_> = requests.iter().map(|r| r["id"].to_string()).collect();
    assert_eq!(ids.len(), requests.len(), "no record twice across pages");

    // A token revoked mid-run: the client refreshes it once and carries on.
    sim.faults().expire_tokens();
    let plans = all_records(&council, "plans").await;
    let (live, tombstones) = sim.council_counts(CouncilStream::Plans);
    assert_eq!(plans.len(), live + tombstones);

    let referrals = all_records(&nhs, "referrals").await;
    assert_eq!(referrals.len(), sim.referral_count());
    assert!(council.retry_budget_remaining() < RetryPolicy::default().budget);

    // The same children on both sides: every referral's NHS number is a council child's.
    let children: HashMap<String, Option<String>> = sim
        .children()
        .into_iter()
        .map(|c| (c.nhs_number, c.upn))
        .collect();
    let council_nhs: HashSet<String> = requests
        .iter()
        .filter_map(|r| r["child"]["nhs_number"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !council_nhs.is_empty(),
        "council requests carry the child's NHS number"
    );
    for referral in &referrals {
        let nhs_number = referral["nhs_number"].as_str().expect("nhs_number");
        assert!(
            children.contains_key(nhs_number),
            "{nhs_number} is not a known child"
        );
    }
    assert!(
        referrals
            .iter()
            .filter_map(|r| r["nhs_number"].as_str())
            .any(|n| council_nhs.contains(n)),
        "at least one child appears in both partners' data"
    );
    sim.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_fails_cleanly_without_printing_it() {
    let sim = simulator().await;
    let mut config = HttpSourceConfig::new(format!("{}/nhs/api/v1", sim.base_url()));
    config.auth = Auth::ApiKey {
        location: ApiKeyLocation::Header,
        name: "X-API-Key".into(),
        value_env: "NHS_API_KEY".into(),
    };
    config.records = "/items".into();
    let env = |name: &str| (name == "NHS_API_KEY").then(|| "not-the-key-4711".to_owned());
    let client = HttpClient::with_env("nhs", &config, &env).expect("client");
    let err = client
        .get_json("referrals", &[])
        .await
        .expect_err("a wrong key is refused");
    let message = err.to_string();
    assert!(message.contains("nhs"), "{message}");
    assert!(!message.contains("not-the-key-4711"), "{message}");
    assert!(!format!("{client:?}").contains("not-the-key-4711"));
    sim.shutdown().await.expect("shutdown");
}
