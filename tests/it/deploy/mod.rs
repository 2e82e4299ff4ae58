//! The deployment (`deploy/`) and the pipeline files (`pipelines/`), checked as they will be
//! deployed: a change that would run a night at the wrong time, twice at once, as root, with a
//! literal key or against a pipeline that does not load fails here, in CI, instead of at 02:30.
//! Nothing here needs a cluster, Docker or systemd: the files are read as text and YAML.
//!
//! One module a subject: `kubernetes`, `fanout`, `container_apps`, `systemd`, `image`,
//! `pipelines` and `secrets`. The readers more than one of them uses (YAML documents and
//! workloads, unit files, the Dockerfile, pipeline files as deployed) are here.

mod container_apps;
mod fanout;
mod image;
mod kubernetes;
mod pipelines;
mod secrets;
mod systemd;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use sendlake_pipeline::PipelinePlan;
use sendlake_pipeline::config::{PipelineFile, SourceConfig};
use serde::Deserialize as _;
use serde_norway::Value;

/// Where deployments mount the partners' file drop (read-only).
const INBOUND: &str = "/data/inbound";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", rel(path)))
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every YAML document under `deploy/`, with its file. A file that is not YAML fails here.
fn yaml_documents() -> Vec<(PathBuf, Value)> {
    let mut docs = Vec::new();
    for file in files_under(&root().join("deploy")) {
        if !matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            continue;
        }
        let text = read(&file);
        let before = docs.len();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: not YAML: {e}", rel(&file)));
            docs.push((file.clone(), value));
        }
        assert!(docs.len() > before, "{}: no YAML document", rel(&file));
    }
    docs
}

/// A Kubernetes CronJob or Job: where it is, and its Job spec.
struct Workload {
    at: String,
    file: PathBuf,
    /// The CronJob's own spec (schedule, time zone, …); `None` for a plain Job.
    cron: Option<Value>,
    job: Value,
}

impl Workload {
    fn pod(&self) -> &Value {
        &self.job["template"]["spec"]
    }

    fn containers(&self) -> &[Value] {
        self.pod()["containers"]
            .as_sequence()
            .map_or(&[], Vec::as_slice)
    }

    /// The command line of its (one) container, entrypoint overrides included.
    fn command_line(&self) -> Vec<String> {
        let c = &self.containers()[0];
        strings(&c["command"])
            .into_iter()
            .chain(strings(&c["args"]))
            .collect()
    }
}

fn workloads(docs: &[(PathBuf, Value)]) -> Vec<Workload> {
    docs.iter()
        .filter_map(|(file, d)| {
            let at = format!(
                "{}: {} {}",
                rel(file),
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["name"].as_str().unwrap_or("?")
            );
            match d["kind"].as_str() {
                Some("CronJob") => Some(Workload {
                    at,
                    file: file.clone(),
                    cron: Some(d["spec"].clone()),
                    job: d["spec"]["jobTemplate"]["spec"].clone(),
                }),
                Some("Job") => Some(Workload {
                    at,
                    file: file.clone(),
                    cron: None,
                    job: d["spec"].clone(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The items of a YAML list; none if it is missing.
fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_sequence().into_iter().flatten()
}

/// A YAML list of objects with a `name` (env, volumes, secrets), by name.
fn by_name(v: &Value) -> BTreeMap<&str, &Value> {
    items(v)
        .filter_map(|x| Some((x["name"].as_str()?, x)))
        .collect()
}

/// A YAML list of strings (command lines, file lists).
fn strings(v: &Value) -> Vec<String> {
    items(v)
        .map(|x| x.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `M H * * *` → (hour, minute): the deployments run once a day at a fixed time.
fn daily_time(at: &str, cron: &Value) -> (u32, u32) {
    let cron = cron.as_str().unwrap_or_else(|| panic!("{at}: no schedule"));
    let fields: Vec<&str> = cron.split_whitespace().collect();
    assert!(
        fields.len() == 5 && fields[2..] == ["*", "*", "*"],
        "{at}: schedule `{cron}` is not once a day at a fixed time (M H * * *)"
    );
    let number = |f: &str, max: u32| {
        f.parse::<u32>()
            .ok()
            .filter(|n| *n <= max)
            .unwrap_or_else(|| panic!("{at}: schedule `{cron}`: `{f}` is not a fixed time"))
    };
    (number(fields[1], 23), number(fields[0], 59))
}

/// The UK's clocks change at 01:00 GMT: on the last Sunday of March 01:00-01:59 does not exist
/// (CronJob and systemd skip the night) and on the last Sunday of October it happens twice.
fn assert_clear_of_clock_change(at: &str, hour: u32) {
    assert_ne!(
        hour, 1,
        "{at}: 01:xx UK time is skipped or repeated when the clocks change"
    );
}

/// Environment variable names that hold secrets (`SENDLAKE_NHS_API_KEY`, `..._CLIENT_SECRET`).
fn secret_like(name: &str) -> bool {
    ["KEY", "SECRET", "TOKEN", "PASSWORD"]
        .iter()
        .any(|w| name.contains(w))
}

/// The pipeline file a command line runs: its first `pipelines/*.toml` argument.
fn pipeline_of(at: &str, args: &[String]) -> String {
    args.iter()
        .find(|a| a.starts_with("pipelines/") && a.ends_with(".toml"))
        .cloned()
        .unwrap_or_else(|| panic!("{at}: names no pipelines/*.toml in {args:?}"))
}

/// Loads a pipeline file as `check` does where it is deployed: the folders under /data/inbound,
/// which exist only where the partners' file drop is mounted, are stood in by temporary folders.
/// Returns the plan and the inbound folders the pipeline reads.
fn load_deployed(path: &Path) -> (PipelinePlan, BTreeSet<String>) {
    let mut file = PipelineFile::load(path).unwrap_or_else(|e| panic!("{e}"));
    let stand_in = tempfile::tempdir().unwrap();
    let mut inbound = BTreeSet::new();
    let mut reroot = |p: &mut PathBuf| {
        if let Ok(rest) = p.strip_prefix(INBOUND) {
            inbound.insert(rest.display().to_string());
            *p = stand_in.path().join(rest);
            fs::create_dir_all(&*p).unwrap();
        }
    };
    for source in &mut file.sources {
        match source {
            SourceConfig::Sen2Xml(s) => reroot(&mut s.path),
            SourceConfig::SourceFile(r) => {
                if let Some(p) = &mut r.path {
                    reroot(p);
                }
            }
        }
    }
    let plan = file
        .check(path)
        .unwrap_or_else(|e| panic!("{} does not load:\n{e}", rel(path)));
    (plan, inbound)
}

/// A unit file: section → key → values (keys such as `Environment=` repeat).
struct UnitFile(BTreeMap<String, BTreeMap<String, Vec<String>>>, String);

impl UnitFile {
    fn all(&self, section: &str, key: &str) -> Vec<String> {
        self.0
            .get(section)
            .and_then(|s| s.get(key))
            .cloned()
            .unwrap_or_default()
    }

    fn one(&self, section: &str, key: &str) -> String {
        let all = self.all(section, key);
        assert_eq!(
            all.len(),
            1,
            "{}: [{section}] {key}= must be set once: {all:?}",
            self.1
        );
        all[0].clone()
    }
}

/// Reads a unit file as systemd does: `[Section]` headers, `Key=value` lines, `#` and `;`
/// comments. Anything else (or a key before any section) is an error.
fn unit_file(path: &str) -> UnitFile {
    let text = read(&root().join(path));
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "{path}:{}: no continuation lines",
            n + 1
        );
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.entry(name.to_owned()).or_default();
            current = Some(name.to_owned());
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{path}:{}: not a section, a comment or Key=value", n + 1));
        let key = key.trim();
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()),
            "{path}:{}: `{key}` is not a key",
            n + 1
        );
        let section = current
            .clone()
            .unwrap_or_else(|| panic!("{path}:{}: a key before any section", n + 1));
        sections
            .entry(section)
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    UnitFile(sections, path.to_owned())
}

/// The Dockerfile's instructions (continuation lines joined), by stage.
struct Dockerfile(Vec<Vec<(String, String)>>);

impl Dockerfile {
    /// The arguments of every `instruction` in the last (runtime) stage.
    fn last_stage(&self, instruction: &str) -> Vec<String> {
        self.0
            .last()
            .into_iter()
            .flatten()
            .filter(|(i, _)| i == instruction)
            .map(|(_, a)| a.clone())
            .collect()
    }
}

fn dockerfile() -> Dockerfile {
    let text = read(&root().join("deploy/Dockerfile"));
    let mut stages: Vec<Vec<(String, String)>> = vec![Vec::new()];
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let (instruction, args) = full.split_once(' ').unwrap_or((&full, ""));
        let instruction = instruction.to_ascii_uppercase();
        if instruction == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .unwrap()
            .push((instruction, args.trim().to_owned()));
    }
    // Instructions before the first FROM (ARG) are no stage.
    Dockerfile(stages.into_iter().skip(1).collect())
}

/// An exec-form instruction's JSON array.
fn json_array(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("`{args}` is not exec form: {e}"))
}
