//! Tests that span the files: the committed demo files against the generator, and the files
//! against the partner simulator's APIs they must join.

use std::collections::{HashMap, HashSet};

use super::*;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/demo-data")
}

/// The committed CSVs are exactly what the code writes: regenerate them with
/// `cargo run -p sendlake-sim --example demo_files -- pipelines/demo-data` after a change.
#[test]
fn committed_csv_files_match_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    let written = write_demo_csv_files(&demo_files_config(), tmp.path()).unwrap();
    assert_eq!(written.len(), 4);
    for path in written {
        let rel = path.strip_prefix(tmp.path()).unwrap();
        let committed =
            fs::read(demo_dir().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let fresh = fs::read(&path).unwrap();
        assert!(
            committed == fresh,
            "{} differs from the generator's output; rerun the demo_files example",
            rel.display()
        );
    }
}

/// The JSON body of a simulator request that must succeed at the HTTP level.
async fn json(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The files link to the partner simulator's APIs: every audited plan is a live plan of
/// the council API (not ceased), and the SitRep's providers and service lines are those of
/// the NHS API's referrals (the constants here copy serve/data.rs, which is private).
#[tokio::test]
async fn files_link_to_the_simulator_apis() {
    use serde_json::Value;

    let sim = crate::serve::start(crate::serve::SimServerConfig {
        sen2: demo_files_config(),
        ..crate::serve::SimServerConfig::default()
    })
    .await
    .unwrap();
    let cfg = sim.config().clone();
    let c = reqwest::Client::new();
    let token = json(
        c.post(format!("{}/council/oauth/token", sim.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                cfg.client_id, cfg.client_secret
            )),
    )
    .await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    let mut plans: HashMap<String, Value> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit".to_owned(), "1000".to_owned())];
        if let Some(cur) = &cursor {
            q.push(("cursor".to_owned(), cur.clone()));
        }
        let page = json(
            c.get(format!("{}/council/api/v1/plans", sim.base_url()))
                .bearer_auth(&token)
                .query(&q),
        )
        .await;
        for p in page["data"].as_array().unwrap() {
            plans.insert(p["id"].as_str().unwrap().to_owned(), p.clone());
        }
        match page["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    let rows = quality_audit_rows(&demo_files_config()).unwrap();
    for row in &rows {
        let plan = plans
            .get(&row.plan_reference)
            .unwrap_or_else(|| panic!("{} is not a council plan", row.plan_reference));
        assert!(plan["cease_date"].is_null(), "{}", row.plan_reference);
    }
    let live_herts = plans
        .values()
        .filter(|p| p["id"].as_str().unwrap().starts_with("PLN-919-") && p["cease_date"].is_null())
        .count();
    assert_eq!(rows.len(), live_herts);

    let mut referrals: Vec<Value> = Vec::new();
    loop {
        let page = json(
            c.get(format!("{}/nhs/api/v1/referrals", sim.base_url()))
                .header("X-API-Key", &cfg.api_key)
                .query(&[
                    ("offset", referrals.len().to_string()),
                    ("limit", "1000".into()),
                ]),
        )
        .await;
        let items = page["items"].as_array().unwrap();
        referrals.extend(items.iter().cloned());
        if items.is_empty() || referrals.len() as u64 >= page["total"].as_u64().unwrap() {
            break;
        }
    }
    let served: HashSet<(String, String)> = referrals
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (s("provider_code"), s("service_line"))
        })
        .collect();
    let text = String::from_utf8(chs_waits_csv(&demo_files_config()).unwrap()).unwrap();
    let in_file: HashSet<(String, String)> = text
        .split("\r\n")
        .skip(CHS_HEADER_ROW)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_owned(), f[5].to_owned())
        })
        .collect();
    assert_eq!(in_file, served);
    sim.shutdown().await.unwrap();
}
