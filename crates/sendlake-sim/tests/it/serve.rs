//! The partner simulator over real loopback HTTP: each API, auth failures, paging to the
//! end with exact counts, incremental reads after `advance`, every fault knob, and the
//! EES responses checked against the DfE's OpenAPI description.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use sendlake_sim::serve::council::CouncilStream;
use sendlake_sim::serve::faults::{Drift, Endpoint};
use sendlake_sim::serve::{Changes, RunningSim, SimServerConfig, start};
use sendlake_sim::write_sen2_return;
use serde_json::{Value, json};

use crate::openapi::Spec;

fn config() -> SimServerConfig {
    sendlake_test::sim::config(2, 60, 7)
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25").replace('+', "%2B").replace(' ', "+")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn token_response(sim: &RunningSim, c: &Client, body: String) -> reqwest::Response {
    c.post(format!("{}/council/oauth/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A client-credentials token request with the simulator's client id and `secret`.
async fn client_credentials(sim: &RunningSim, c: &Client, secret: &str) -> reqwest::Response {
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &sim.config().client_id),
        ("client_secret", secret),
    ]);
    token_response(sim, c, body).await
}

async fn token(sim: &RunningSim, c: &Client) -> String {
    let r = client_credentials(sim, c, &sim.config().client_secret).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    v["access_token"].as_str().unwrap().to_string()
}

async fn council_get(
    sim: &RunningSim,
    c: &Client,
    tok: &str,
    stream: CouncilStream,
    query: &[(&str, &str)],
) -> reqwest::Response {
    c.get(format!(
        "{}/council/api/v1/{}",
        sim.base_url(),
        stream.as_str()
    ))
    .bearer_auth(tok)
    .query(query)
    .send()
    .await
    .unwrap()
}

/// Reads a stream to the end; returns the records and the number of pages.
async fn read_all(
    sim: &RunningSim,
    c: &Client,
    tok: &str,
    stream: CouncilStream,
    since: Option<&str>,
    limit: usize,
) -> (Vec<Value>, usize) {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let limit_s = limit.to_string();
        let mut q = vec![("limit", limit_s.as_str())];
        if let Some(s) = since {
            q.push(("updated_since", s));
        }
        if let Some(cur) = &cursor {
            q.push(("cursor", cur.as_str()));
        }
        let r = council_get(sim, c, tok, stream, &q).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        pages += 1;
        let data = v["data"].as_array().unwrap();
        assert!(data.len() <= limit);
        out.extend(data.iter().cloned());
        match v["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    (out, pages)
}

async fn nhs_get(
    sim: &RunningSim,
    c: &Client,
    key: Option<&str>,
    q: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = c
        .get(format!("{}/nhs/api/v1/referrals", sim.base_url()))
        .query(q);
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    req.send().await.unwrap()
}

async fn nhs_all(sim: &RunningSim, c: &Client, limit: usize) -> (Vec<Value>, u64) {
    let key = sim.config().api_key.clone();
    let mut out = Vec::new();
    let mut total;
    loop {
        let (off, lim) = (out.len().to_string(), limit.to_string());
        let r = nhs_get(sim, c, Some(&key), &[("offset", &off), ("limit", &lim)]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        total = v["total"].as_u64().unwrap();
        let items = v["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        out.extend(items.iter().cloned());
        if out.len() as u64 >= total {
            break;
        }
    }
    (out, total)
}

#[tokio::test]
async fn council_auth_paging_and_increments() {
    let sim = start(config()).await.unwrap();
    let c = Client::new();
    let cfg = sim.config().clone();

    // Token endpoint failures: RFC 6749 codes.
    let r = client_credentials(&sim, &c, "wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = token_response(&sim, &c, form(&[("grant_type", "password")])).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = token_response(&sim, &c, String::new()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // HTTP Basic client authentication works too.
    let r = c
        .post(format!("{}/council/oauth/token", sim.base_url()))
        .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Bearer failures.
    let r = c
        .get(format!("{}/council/api/v1/requests", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = council_get(&sim, &c, "forged", CouncilStream::Requests, &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_token");

    let tok = token(&sim, &c).await;
    // Bad parameters are 400s.
    for q in [
        [("limit", "0")],
        [("limit", "1001")],
        [("updated_since", "yesterday")],
        [("cursor", "zz")],
    ] {
        let r = council_get(&sim, &c, &tok, CouncilStream::Requests, &q).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q:?}");
    }
    let r = c
        .get(format!("{}/council/api/v1/nonsense", sim.base_url()))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Paging to the end gives every record once, in (updated_at, id) order.
    let mut council_nhs = HashSet::new();
    let mut request_upns = HashSet::new();
    for stream in CouncilStream::ALL {
        let (records, pages) = read_all(&sim, &c, &tok, stream, None, 7).await;
        let (live, dead) = sim.council_counts(stream);
        assert_eq!(dead, 0);
        assert_eq!(records.len(), live, "{stream:?}");
        assert_eq!(pages, live.div_ceil(7).max(1), "{stream:?}");
        let ids: HashSet<_> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), records.len());
        let keys: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r["updated_at"].as_str().unwrap().to_string(),
                    r["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        for r in &records {
            let nhs = r["nhs_number"]
                .as_str()
                .or(r["child"]["nhs_number"].as_str())
                .unwrap();
            council_nhs.insert(nhs.to_string());
            if let Some(u) = r["child"]["upn"].as_str() {
                request_upns.insert(u.to_string());
            }
        }
        if stream == CouncilStream::Requests {
            let r = &records[0];
            for k in ["received_date", "outcome", "request_source", "la_code"] {
                assert!(r.get(k).is_some(), "requests lack {k}");
            }
            assert!(["Y", "N", "A", "W", "H"].contains(&r["outcome"].as_str().unwrap()));
        }
    }
    // The same children as the SEN2 file for the first LA (same seed ⇒ same UPNs).
    let mut xml = Vec::new();
    write_sen2_return(&cfg.sen2, 919, 0, &mut xml).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let herts: Vec<_> = sim
        .children()
        .into_iter()
        .filter(|c| c.la_code == 919)
        .collect();
    assert_eq!(herts.len(), 60);
    for child in herts.iter().filter_map(|c| c.upn.as_ref()) {
        assert!(
            xml.contains(&format!("<UPN>{child}</UPN>")),
            "{child} not in SEN2 file"
        );
        assert!(request_upns.contains(child));
    }

    // NHS: auth, paging to the end, and shared children.
    let r = nhs_get(&sim, &c, None, &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = nhs_get(&sim, &c, Some("wrong"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = nhs_get(&sim, &c, Some(&cfg.api_key), &[("limit", "5000")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (refs, total) = nhs_all(&sim, &c, 9).await;
    assert_eq!(refs.len() as u64, total);
    assert_eq!(total as usize, sim.referral_count());
    let ids: HashSet<_> = refs
        .iter()
        .map(|r| r["referral_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), refs.len());
    let lines: HashSet<_> = refs
        .iter()
        .map(|r| r["service_line"].as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for r in &refs {
        assert!(council_nhs.contains(r["nhs_number"].as_str().unwrap()));
        for k in [
            "provider_code",
            "service_code",
            "referral_date",
            "first_contact_date",
            "discharge_date",
        ] {
            assert!(r.get(k).is_some());
        }
    }
    assert!(refs.iter().any(|r| r["first_contact_date"].is_null()));
    assert!(refs.iter().any(|r| r["discharge_date"].is_string()));
    assert!(refs.iter().any(|r| r["provider_code"] == "RY4"));

    // Advance, then read only what changed.
    let report = sim.advance(&Changes {
        updates: 9,
        deletions: 4,
        new_requests: 3,
        referral_updates: 5,
        new_referrals: 6,
        referral_deletions: 2,
        ..Changes::default()
    });
    assert_eq!(
        (
            report.updated.len(),
            report.deleted.len(),
            report.created.len()
        ),
        (9, 4, 3)
    );
    let since = report.since.to_rfc3339();
    let deleted: HashSet<_> = report.deleted.iter().map(|(_, id)| id.as_str()).collect();
    let mut seen = 0;
    for stream in CouncilStream::ALL {
        let (records, _) = read_all(&sim, &c, &tok, stream, Some(&since), 2).await;
        assert_eq!(records.len(), report.changed_in(stream), "{stream:?}");
        for r in &records {
            let id = r["id"].as_str().unwrap();
            let at =
                chrono::DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap()).unwrap();
            assert!(at >= report.since);
            if deleted.contains(id) {
                assert_eq!(r["deleted"], true);
                assert_eq!(
                    r.as_object().unwrap().len(),
                    3,
                    "tombstones carry id, deleted, updated_at"
                );
            } else {
                assert!(r.get("deleted").is_none());
            }
        }
        seen += records.len();
        let (live, dead) = sim.council_counts(stream);
        let (all, _) = read_all(&sim, &c, &tok, stream, None, 50).await;
        assert_eq!(all.len(), live + dead);
    }
    assert_eq!(seen, 16);
    // Nothing later than the clock.
    let later = (sim.clock() + chrono::TimeDelta::seconds(1)).to_rfc3339();
    let (none, _) = read_all(&sim, &c, &tok, CouncilStream::Plans, Some(&later), 10).await;
    assert!(none.is_empty());
    let (refs2, total2) = nhs_all(&sim, &c, 50).await;
    assert_eq!(total2, total + 6 - 2);
    assert_eq!(refs2.len() as u64, total2);
    let new_ids: HashSet<_> = report
        .referrals_created
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        refs2
            .iter()
            .filter(|r| new_ids.contains(r["referral_id"].as_str().unwrap()))
            .count(),
        6
    );

    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn fault_knobs() {
    let sim = start(config()).await.unwrap();
    let c = Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let f = sim.faults().clone();
    let key = sim.config().api_key.clone();
    let ok = |r: &reqwest::Response| r.status() == StatusCode::OK;
    // Whether a council stream answers 200 to `tok`.
    let answers =
        async |tok: &str, stream: CouncilStream| ok(&council_get(&sim, &c, tok, stream, &[]).await);

    // 429 with Retry-After for the next 2, then fine.
    f.rate_limit(Endpoint::NhsReferrals, 2, 3);
    for _ in 0..2 {
        let r = nhs_get(&sim, &c, Some(&key), &[]).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "3");
    }
    assert!(ok(&nhs_get(&sim, &c, Some(&key), &[]).await));
    assert_eq!(f.hits(Endpoint::NhsReferrals), 3);

    // A burst of 5xx.
    f.server_errors(Endpoint::CouncilToken, 3, 503);
    for _ in 0..3 {
        let r = token_response(&sim, &c, String::new()).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let tok = token(&sim, &c).await;

    // Delay.
    f.delay(Endpoint::CouncilPlans, Duration::from_millis(150));
    let t = Instant::now();
    assert!(answers(&tok, CouncilStream::Plans).await);
    assert!(t.elapsed() >= Duration::from_millis(150));
    f.delay(Endpoint::CouncilPlans, Duration::ZERO);

    // Hang: the client times out; other endpoints still answer.
    f.hang(Endpoint::CouncilAssessments, true);
    let err = c
        .get(format!("{}/council/api/v1/assessments", sim.base_url()))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert!(answers(&tok, CouncilStream::Plans).await);
    f.hang(Endpoint::CouncilAssessments, false);
    assert!(answers(&tok, CouncilStream::Assessments).await);

    // Truncated JSON for the next one only.
    f.truncate(Endpoint::CouncilRequests, 1);
    let r = council_get(&sim, &c, &tok, CouncilStream::Requests, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert!(text.starts_with("{\"data\":["));
    let r = council_get(&sim, &c, &tok, CouncilStream::Requests, &[]).await;
    assert!(r.json::<Value>().await.is_ok());

    // Token expiry mid-run: 401, then a fresh token works.
    f.expire_tokens();
    let r = council_get(&sim, &c, &tok, CouncilStream::Requests, &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("expired")
    );
    let tok = token(&sim, &c).await;
    assert!(answers(&tok, CouncilStream::Requests).await);

    // Schema drift: add, remove, change type; each time the first placement shows it.
    let drifted = async |drift: Drift| {
        f.drift(Endpoint::CouncilPlacements, Some(drift));
        let r = council_get(&sim, &c, &tok, CouncilStream::Placements, &[]).await;
        r.json::<Value>().await.unwrap()["data"][0].clone()
    };
    let r = drifted(Drift::AddField("new_col".into())).await;
    assert_eq!(r["new_col"], "drift");
    let r = drifted(Drift::RemoveField("entry_date".into())).await;
    assert!(r.get("entry_date").is_none() && r.get("id").is_some());
    let r = drifted(Drift::ChangeType("rank".into())).await;
    assert!(r["rank"].is_string());
    f.drift(
        Endpoint::NhsReferrals,
        Some(Drift::ChangeType("referral_date".into())),
    );
    let v: Value = nhs_get(&sim, &c, Some(&key), &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(v["items"][0]["referral_date"].is_array());
    f.clear_all();
    let v: Value = nhs_get(&sim, &c, Some(&key), &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(v["items"][0]["referral_date"].is_string());

    // Shutdown is prompt even with a request hanging.
    f.hang(Endpoint::NhsReferrals, true);
    let url = format!("{}/nhs/api/v1/referrals", sim.base_url());
    let hung = tokio::spawn(async move { Client::new().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    sim.shutdown().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
    let _ = hung.await;
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let sim = start(SimServerConfig {
        token_lifetime: Duration::from_secs(1),
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new();
    let cfg = sim.config().clone();
    let r = client_credentials(&sim, &c, &cfg.client_secret).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 1);
    let tok = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        council_get(&sim, &c, &tok, CouncilStream::Plans, &[])
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        council_get(&sim, &c, &tok, CouncilStream::Plans, &[])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    sim.shutdown().await.unwrap();
}

/// An EES client for one test: every GET is of an OpenAPI path template, its one parameter (if
/// it has one) filled with `id`, and its answer is checked against the description and must be
/// 200.
struct Ees<'a> {
    sim: &'a RunningSim,
    c: Client,
    spec: Spec,
}

impl Ees<'_> {
    async fn get(&self, template: &str, id: &str, q: &[(&str, &str)]) -> Value {
        let path = match (template.find('{'), template.find('}')) {
            (Some(open), Some(close)) => {
                format!("{}{id}{}", &template[..open], &template[close + 1..])
            }
            _ => template.to_owned(),
        };
        let r = self
            .c
            .get(format!("{}{path}", self.sim.base_url()))
            .query(q)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        self.spec.check(template, "get", status, &v);
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// Every page of `template` at `page_size`, from page 1 until `paging.totalPages`.
    async fn pages(&self, template: &str, id: &str, page_size: &str) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut page = 1;
        loop {
            let ps = page.to_string();
            let v = self
                .get(template, id, &[("page", &ps), ("pageSize", page_size)])
                .await;
            let total_pages = v["paging"]["totalPages"].as_u64().unwrap();
            pages.push(v);
            if page >= total_pages {
                return pages;
            }
            page += 1;
        }
    }
}

fn results(v: &Value) -> impl Iterator<Item = Value> + '_ {
    v["results"].as_array().unwrap().iter().cloned()
}

#[tokio::test]
async fn ees_conforms_to_the_openapi_description() {
    let sim = start(config()).await.unwrap();
    let ees = Ees {
        sim: &sim,
        c: Client::new(),
        spec: Spec::load(),
    };
    let (c, spec) = (&ees.c, &ees.spec);

    let pubs = ees.get("/v1/publications", "", &[]).await;
    assert_eq!(pubs["paging"]["totalResults"], 2);
    let found = ees
        .get("/v1/publications", "", &[("search", "health and care")])
        .await;
    assert_eq!(
        found["results"][0]["slug"],
        "education-health-and-care-plans"
    );
    let mut data_sets = Vec::new();
    for p in pubs["results"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        let one = ees.get("/v1/publications/{publicationId}", id, &[]).await;
        assert_eq!(&one, p);
        // Page size 1 walks to the end with exact counts.
        let pages = ees
            .pages("/v1/publications/{publicationId}/data-sets", id, "1")
            .await;
        for v in &pages {
            data_sets.extend(results(v));
        }
    }
    assert_eq!(data_sets.len(), 4);

    let mut symbols = HashSet::new();
    for ds in &data_sets {
        let id = ds["id"].as_str().unwrap();
        let one = ees.get("/v1/data-sets/{dataSetId}", id, &[]).await;
        assert_eq!(&one, ds);
        let meta = ees
            .get(
                "/v1/data-sets/{dataSetId}/meta",
                id,
                &[("dataSetVersion", "1.*")],
            )
            .await;
        let total = ds["latestVersion"]["totalResults"].as_u64().unwrap();

        // Whole data set, page by page (GET).
        let mut rows = Vec::new();
        let pages = ees.pages("/v1/data-sets/{dataSetId}/query", id, "10").await;
        for v in &pages {
            assert_eq!(v["paging"]["totalResults"].as_u64().unwrap(), total);
            rows.extend(results(v));
        }
        assert_eq!(rows.len() as u64, total);
        for r in &rows {
            for v in r["values"].as_object().unwrap().values() {
                let v = v.as_str().unwrap();
                if v.parse::<f64>().is_err() {
                    symbols.insert(v.to_string());
                }
            }
        }

        // Hertfordshire by old LA code, latest period, one indicator (GET form).
        let la = meta["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["level"]["code"] == "LA")
            .unwrap();
        let herts = la["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["oldCode"] == "919")
            .unwrap();
        assert_eq!(herts["code"], "E10000015");
        let tp = &meta["timePeriods"].as_array().unwrap().last().unwrap();
        let tp_s = format!(
            "{}|{}",
            tp["period"].as_str().unwrap(),
            tp["code"].as_str().unwrap()
        );
        let ind = meta["indicators"][0]["id"].as_str().unwrap();
        let n_options: usize = meta["filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["options"].as_array().unwrap().len())
            .product();
        let v = ees
            .get(
                "/v1/data-sets/{dataSetId}/query",
                id,
                &[
                    ("locations.in", "LA|oldCode|919"),
                    ("timePeriods.eq", &tp_s),
                    ("indicators", ind),
                ],
            )
            .await;
        assert_eq!(
            v["paging"]["totalResults"].as_u64().unwrap() as usize,
            n_options
        );
        for r in v["results"].as_array().unwrap() {
            assert_eq!(r["locations"]["LA"], herts["id"]);
            assert_eq!(r["geographicLevel"], "LA");
            assert_eq!(r["values"].as_object().unwrap().len(), 1);
        }

        // POST form: England or the region, not the earliest period.
        let first_tp = &meta["timePeriods"][0];
        let body = json!({
            "criteria": {"and": [
                {"geographicLevels": {"in": ["NAT", "REG"]}},
                {"not": {"timePeriods": {"eq": {"period": first_tp["period"], "code": first_tp["code"]}}}}
            ]},
            "indicators": [ind],
            "page": 1,
            "pageSize": 1000
        });
        let r = c
            .post(format!("{}/v1/data-sets/{id}/query", sim.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        spec.check("/v1/data-sets/{dataSetId}/query", "post", 200, &v);
        let periods = meta["timePeriods"].as_array().unwrap().len();
        assert_eq!(
            v["paging"]["totalResults"].as_u64().unwrap() as usize,
            2 * (periods - 1) * n_options
        );
    }
    for s in ["x", "c", "z", "low", "u"] {
        assert!(symbols.contains(s), "symbol {s} missing from {symbols:?}");
    }

    // Errors in the spec's problem shapes.
    let nf = "019a3c1e-5e4d-7a10-9b2c-000000000000";
    let r = c
        .get(format!("{}/v1/data-sets/{nf}", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    spec.check(
        "/v1/data-sets/{dataSetId}",
        "get",
        404,
        &r.json().await.unwrap(),
    );
    let r = c
        .get(format!("{}/v1/publications?pageSize=41", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    spec.check("/v1/publications", "get", 400, &r.json().await.unwrap());
    let id = data_sets[0]["id"].as_str().unwrap();
    let r = c
        .get(format!(
            "{}/v1/data-sets/{id}/meta?dataSetVersion=2.0",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let empty = ees
        .get(
            "/v1/data-sets/{dataSetId}/query",
            id,
            &[("geographicLevels.eq", "SCH")],
        )
        .await;
    assert_eq!(empty["paging"]["totalResults"], 0);
    assert_eq!(empty["warnings"][0]["code"], "QueryNoResults");

    // Faults apply to EES too, and drift shows in the results.
    sim.faults()
        .drift(Endpoint::EesQuery, Some(Drift::AddField("extra".into())));
    let r = c
        .get(format!(
            "{}/v1/data-sets/{id}/query?pageSize=1",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let mut errors = Vec::new();
    spec.validate(
        &spec.response_schema("/v1/data-sets/{dataSetId}/query", "get", 200),
        &v,
        "$",
        &mut errors,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    sim.shutdown().await.unwrap();
}
