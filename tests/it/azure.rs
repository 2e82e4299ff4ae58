//! The whole demo pipeline against Azure Blob Storage, as Microsoft's emulator (Azurite)
//! serves it: a clean run, a run killed with SIGKILL part-way through its commits, a second
//! run refused while the first holds the store's locks, and the re-run that takes the dead
//! run's locks over and ends exactly where the clean run did.
//!
//! The runs are the `sendlake` binary, so credentials reach the store the way they do in
//! production: from the environment. `scripts/test.sh` installs Azurite (npm) and points
//! `SENDLAKE_AZURITE` at it; the test starts its own instance on a free port.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::published::demo_pipeline;
use crate::support::*;

const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's published development key (not a secret: it is in Microsoft's documentation).
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER: &str = "lake";

/// A running Azurite blob service, stopped on drop.
struct Azurite {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn azurite_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SENDLAKE_AZURITE") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("azurite-blob"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "Azurite is not installed: run ./scripts/test.sh (it installs it with npm), or set SENDLAKE_AZURITE to azurite-blob"
        )
    })
}

impl Azurite {
    fn start() -> Azurite {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = tempfile::tempdir().unwrap();
        let child = Command::new(azurite_bin())
            .args(["--silent", "--skipApiVersionCheck", "--loose"])
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let az = Azurite {
            child,
            port,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "Azurite did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        az
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
            self.port,
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

struct Store<'a> {
    az: &'a Azurite,
    url: String,
    pipeline: PathBuf,
    key: String,
}

impl Store<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::logs::sendlake_binary());
        c.args(["--log-format", "json"])
            .args(args)
            .env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env(
                "AZURITE_BLOB_STORAGE_URL",
                format!("http://127.0.0.1:{}", self.az.port),
            )
            .env("SENDLAKE_PSEUDONYMISATION_KEY", &self.key)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null());
        c
    }

    fn run(&self) -> Command {
        let mut c = self.command(&["run"]);
        c.arg(&self.pipeline)
            .args(["--store", &self.url, "--no-progress"]);
        c
    }

    /// Runs to the end; returns the exit code and the run id from the last log line.
    fn run_to_end(&self) -> (i32, String) {
        let out = self.run().output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or(-1);
        (
            code,
            run_id_in(&stderr).unwrap_or_else(|| panic!("no run id: {stderr}")),
        )
    }

    fn runs(&self) -> serde_json::Value {
        let out = self
            .command(&["runs"])
            .arg(&self.pipeline)
            .args(["--store", &self.url, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn run_id_in(stderr: &str) -> Option<String> {
    stderr.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        v["run_id"].as_str().map(str::to_owned)
    })
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
    let store = Store {
        az: &az,
        url: format!("az://{CONTAINER}/demo"),
        pipeline: demo_pipeline(&ws),
        key: format!("{:064x}", rand::random::<u128>()),
    };

    // 1. A clean run: everything lands in the emulator.
    let (code, clean_id) = store.run_to_end();
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
    assert_eq!(models.len(), 28, "{models:?}");
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
    let (code, rerun_id) = store.run_to_end();
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
}
