//! The `sendlake` binary run against an object store, with the store's endpoint and
//! credentials in the environment as in production: shared by the Azure (Azurite) and S3
//! (s3rver) emulator tests.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A free TCP port on loopback, for an emulator.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port` (a minute at most).
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An npm tool `scripts/test.sh` installs, from the variable it exports, or on `PATH`.
pub(crate) fn npm_tool(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "{name} is not installed: run ./scripts/test.sh (it installs it with npm), or set {var}"
        )
    })
}

/// A storage emulator on a free loopback port with its own data folder, stopped on drop.
pub(crate) struct Emulator {
    child: Child,
    pub(crate) port: u16,
    _data: tempfile::TempDir,
}

impl Emulator {
    /// Starts `bin` with the arguments `args` gives for the port and data folder, and waits
    /// until it listens.
    pub(crate) fn start(
        what: &str,
        bin: PathBuf,
        args: impl FnOnce(u16, &Path) -> Vec<OsString>,
    ) -> Emulator {
        let port = free_port();
        let data = tempfile::tempdir().unwrap();
        let child = Command::new(bin)
            .args(args(port, data.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let emulator = Emulator {
            child,
            port,
            _data: data,
        };
        wait_for_port(port, what);
        emulator
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs of one pipeline against one store URL.
pub(crate) struct StoreRuns {
    pub(crate) url: String,
    pub(crate) pipeline: PathBuf,
    env: Vec<(String, String)>,
}

impl StoreRuns {
    /// `env`: the store's endpoint and credentials. A random pseudonymisation key is added.
    pub(crate) fn new(url: String, pipeline: PathBuf, env: &[(&str, String)]) -> StoreRuns {
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        env.push((
            "SENDLAKE_PSEUDONYMISATION_KEY".into(),
            format!("{:064x}", rand::random::<u128>()),
        ));
        StoreRuns { url, pipeline, env }
    }

    /// `sendlake --log-format json ARGS`, with the store's environment and nothing inherited
    /// that could change what is tested.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::logs::sendlake_binary());
        c.args(["--log-format", "json"])
            .args(args)
            .env_remove("SENDLAKE_LOG")
            .env_remove(sendlake_pipeline::lock::UNSAFE_NO_CONDITIONAL_WRITES)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// `sendlake run PIPELINE --store URL`.
    pub(crate) fn run(&self) -> Command {
        let mut c = self.command(&["run"]);
        c.arg(&self.pipeline)
            .args(["--store", &self.url, "--no-progress"]);
        c
    }

    /// Runs to the end; the exit code, the run id and the `Run summary.` event (`Null` when
    /// the run ended before one).
    pub(crate) fn run_to_end(&self, extra_env: &[(&str, &str)]) -> (i32, String, Value) {
        let out = self.run().envs(extra_env.iter().copied()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or(-1);
        let events: Vec<Value> = stderr
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let summary = events
            .iter()
            .find(|v| v["message"] == "Run summary.")
            .cloned()
            .unwrap_or(Value::Null);
        let id = events
            .iter()
            .rev()
            .find_map(|v| v["run_id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| stderr.clone());
        (code, id, summary)
    }

    /// `sendlake COMMAND PIPELINE --store URL ARGS`, to the end.
    pub(crate) fn on_store(&self, command: &str, args: &[&str]) -> Output {
        self.command(&[command])
            .arg(&self.pipeline)
            .args(["--store", &self.url])
            .args(args)
            .output()
            .unwrap()
    }

    /// `sendlake runs --json`.
    pub(crate) fn runs(&self) -> Value {
        let out = self.on_store("runs", &["--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}
