//! The whole demo pipeline against Azure Blob Storage, as Microsoft's emulator (Azurite)
//! serves it: a clean run, a run killed with SIGKILL part-way through its commits, a second
//! run refused while the first holds the store's locks, and the re-run that takes the dead
//! run's locks over and ends exactly where the clean run did.
//!
//! The runs are the `sendlake` binary, so credentials reach the store the way they do in
//! production: from the environment. `scripts/test.sh` installs Azurite (npm) and points
//! `SENDLAKE_AZURITE` at it; the test starts its own instance on a free port.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::published::demo_pipeline;
use crate::store_runs::{Emulator, StoreRuns, npm_tool};
use crate::support::*;

const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's published development key (not a secret: it is in Microsoft's documentation).
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER: &str = "lake";

/// A running Azurite blob service.
struct Azurite(Emulator);

impl Azurite {
    fn start() -> Azurite {
        let bin = npm_tool("SENDLAKE_AZURITE", "azurite-blob");
        Azurite(Emulator::start("Azurite", bin, |port, data| {
            let port = port.to_string();
            let mut args: Vec<OsString> = [
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port,
                "--location",
            ]
            .map(OsString::from)
            .into();
            args.push(data.into());
            args
        }))
    }

    /// A signed request to the blob service (Shared Key, the emulator's account).
    fn request(&self, method: &str, path: &str, query: &[(&str, &str)]) -> (u16, Vec<u8>) {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let mut canon = format!("/{ACCOUNT}/{ACCOUNT}/{path}");
        let mut sorted: Vec<_> = query.to_vec();
        sorted.sort();
        for (k, v) in &sorted {
            canon.push_str(&format!("\n{k}:{v}"));
        }
        // Content-Length is signed as empty when it is 0 (service versions since 2015).
        let to_sign = format!(
            "{method}\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n{canon}"
        );
        let key = base64_decode(ACCOUNT_KEY);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        let sig = base64_encode(&mac.finalize().into_bytes());
        let qs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let url = format!(
            "http://127.0.0.1:{}/{ACCOUNT}/{path}{}{}",
            self.0.port,
            if qs.is_empty() { "" } else { "?" },
            qs.join("&")
        );
        block_on(async {
            let resp = reqwest::Client::new()
                .request(method.parse().unwrap(), url)
                .header("x-ms-date", date)
                .header("x-ms-version", version)
                .header("Authorization", format!("SharedKey {ACCOUNT}:{sig}"))
                .header("Content-Length", "0")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.bytes().await.unwrap().to_vec())
        })
    }

    fn create_container(&self) {
        let (status, body) = self.request("PUT", CONTAINER, &[("restype", "container")]);
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    }

    fn manifest(&self, prefix: &str, run_id: &str) -> serde_json::Value {
        let (status, body) = self.request(
            "GET",
            &format!("{CONTAINER}/{prefix}/_runs/{run_id}.json"),
            &[],
        );
        assert_eq!(status, 200, "manifest of {run_id}");
        serde_json::from_slice(&body).unwrap()
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Rows of every model table, from a manifest.
fn model_rows(m: &serde_json::Value) -> BTreeMap<String, u64> {
    m["models"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["table"].as_str().unwrap().to_owned(),
                o["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Rows committed to each SEN2 table, from a manifest.
fn sen2_rows(m: &serde_json::Value) -> BTreeMap<String, u64> {
    m["tables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(t, e)| (t.clone(), e["rows_written"].as_u64().unwrap_or(0)))
        .collect()
}

#[test]
fn the_demo_runs_on_azure_blob_storage_and_recovers_from_a_killed_run() {
    let az = Azurite::start();
    az.create_container();
    let ws = Workspace::new();
    let store = StoreRuns::new(
        format!("az://{CONTAINER}/demo"),
        demo_pipeline(&ws),
        &[
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            (
                "AZURITE_BLOB_STORAGE_URL",
                format!("http://127.0.0.1:{}", az.0.port),
            ),
        ],
    );

    // 1. A clean run: everything lands in the emulator.
    let (code, clean_id, _) = store.run_to_end(&[]);
    assert_eq!(code, 0);
    let clean = az.manifest("demo", &clean_id);
    assert_eq!(clean["status"], "succeeded");
    assert_eq!(clean["reconciled"], true);
    assert!(
        clean["store"]
            .as_str()
            .unwrap()
            .starts_with("az://lake/demo")
    );
    let models = model_rows(&clean);
    assert_eq!(models.len(), 34, "{models:?}");
    assert!(
        clean["models"]["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "committed")
    );

    // 2. A run killed after a few table commits, and a second run started while it lives.
    let mut victim = store.run().stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(victim.stderr.take().unwrap()).lines();
    let mut commits = 0;
    let mut victim_id = None;
    while commits < 4 {
        let line = lines
            .next()
            .expect("the run ended before 4 commits")
            .unwrap();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if victim_id.is_none() {
            victim_id = v["run_id"].as_str().map(str::to_owned);
        }
        if v["message"] == "Table committed." {
            commits += 1;
        }
    }
    let refused = store.run().output().unwrap();
    let refused_err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{refused_err}");
    assert!(refused_err.contains("the store is locked"), "{refused_err}");
    victim.kill().unwrap(); // SIGKILL: no clean-up runs.
    victim.wait().unwrap();
    let victim_id = victim_id.unwrap_or_else(|| {
        // The run id is in every later log line; the first lines may lack it.
        panic!("no run id in the killed run's log")
    });

    // The killed run shows as unfinished, its locks still in the store.
    let runs = store.runs();
    let listed = runs["runs"].as_array().unwrap();
    let killed = listed
        .iter()
        .find(|r| r["run_id"] == victim_id.as_str())
        .unwrap();
    assert_eq!(killed["status"], "running");
    assert!(
        runs["locks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["run_id"] == victim_id.as_str())
    );

    // 3. The re-run takes the dead run's locks over and ends where the clean run did.
    let (code, rerun_id, _) = store.run_to_end(&[]);
    assert_eq!(code, 0);
    let rerun = az.manifest("demo", &rerun_id);
    assert_eq!(rerun["status"], "succeeded");
    assert_eq!(rerun["reconciled"], true);
    let recovered = rerun["recovered_locks"].as_array().unwrap();
    assert!(!recovered.is_empty());
    assert!(
        recovered
            .iter()
            .all(|r| r.as_str().unwrap().contains(&victim_id))
    );
    assert_eq!(
        model_rows(&rerun),
        models,
        "model tables as after the clean run"
    );
    assert_eq!(
        sen2_rows(&rerun),
        sen2_rows(&clean),
        "SEN2 tables as after the clean run"
    );
    let runs = store.runs();
    assert!(runs["locks"].as_array().unwrap().is_empty(), "{runs}");
    assert_eq!(runs["runs"][0]["run_id"], rerun_id.as_str());
    assert_eq!(runs["runs"][0]["status"], "succeeded");

    // 4. Retention on the store: every table found and planned, nothing removed, no lock left.
    let out = store.on_store("vacuum", &["--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let totals = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "Retention applied.")
        .unwrap_or_else(|| panic!("no totals: {stderr}"));
    assert_eq!(totals["dry_run"], true);
    assert_eq!(totals["failed"], 0, "{stderr}");
    assert!(totals["tables"].as_u64().unwrap() > 28, "{totals}");
    assert!(store.runs()["locks"].as_array().unwrap().is_empty());
}
