//! The deployment (`deploy/`) and the pipeline files (`pipelines/`), checked as they will be
//! deployed: a change that would run a night at the wrong time, twice at once, as root, with a
//! literal key or against a pipeline that does not load fails here, in CI, instead of at 02:30.
//! Nothing here needs a cluster, Docker or systemd: the files are read as text and YAML.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sendlake_pipeline::config::{PipelineFile, SourceConfig, SourcePlan};
use sendlake_pipeline::{PipelinePlan, load_plan};
use sendlake_transform::mapping::RECORD_REJECTS_TABLE;
use serde::Deserialize as _;
use serde_norway::Value;

use crate::support::SEN2_TABLES;

/// Where deployments mount the partners' file drop (read-only).
const INBOUND: &str = "/data/inbound";

/// The fan-out's partition of the pipeline's sources, one line per pod.
const PARTITION: &str = "deploy/kubernetes/fanout/sources.txt";

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

/// The tables a source writes. Every SEN2 source writes all the SEN2 tables; every partner
/// source writes its streams' tables and the shared quarantine of rejected records.
fn tables_written(source: &SourcePlan) -> BTreeSet<String> {
    match source {
        SourcePlan::Sen2Xml { .. } => SEN2_TABLES
            .iter()
            .map(|t| (*t).to_owned())
            .chain(["quarantine/sen2_rejects".to_owned()])
            .collect(),
        SourcePlan::Declared(d) => d
            .def
            .streams()
            .into_iter()
            .map(|(_, m)| m.table.clone())
            .chain([RECORD_REJECTS_TABLE.to_owned()])
            .collect(),
    }
}

/// The fan-out partition: the source names of each line (comments and blank lines skipped,
/// as run-sources.sh reads it).
fn partition() -> Vec<Vec<String>> {
    read(&root().join(PARTITION))
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|names| !names.is_empty())
        .collect()
}

#[test]
fn every_yaml_file_parses_and_every_kustomization_names_real_files() {
    let docs = yaml_documents();
    let kinds: BTreeSet<&str> = docs
        .iter()
        .filter_map(|(_, d)| d["kind"].as_str())
        .collect();
    for kind in ["CronJob", "ServiceAccount", "Secret", "Kustomization"] {
        assert!(kinds.contains(kind), "no {kind} under deploy/: {kinds:?}");
    }
    for (file, d) in &docs {
        if d["apiVersion"].is_null() {
            continue;
        }
        assert!(
            d["kind"].is_string()
                && (d["metadata"]["name"].is_string() || d["kind"] == "Kustomization"),
            "{}: a Kubernetes object needs a kind and a name",
            rel(file)
        );
        if d["kind"] != "Kustomization" {
            continue;
        }
        let dir = file.parent().unwrap();
        for r in strings(&d["resources"]) {
            let p = dir.join(&r);
            assert!(
                p.is_file() || p.join("kustomization.yaml").is_file(),
                "{}: resource `{r}` does not exist",
                rel(file)
            );
        }
        for generator in items(&d["configMapGenerator"]) {
            for f in strings(&generator["files"]) {
                assert!(
                    dir.join(&f).is_file(),
                    "{}: `{f}` does not exist",
                    rel(file)
                );
            }
        }
    }
}

#[test]
fn cronjobs_run_once_a_night_unprivileged_with_the_key_from_a_secret() {
    let docs = yaml_documents();
    let service_accounts: BTreeMap<&str, &Value> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "ServiceAccount")
        .filter_map(|(_, d)| Some((d["metadata"]["name"].as_str()?, d)))
        .collect();
    let workloads = workloads(&docs);
    assert!(
        workloads.iter().filter(|w| w.cron.is_some()).count() >= 3,
        "the nightly CronJob and the fan-out's two"
    );
    for w in &workloads {
        let at = &w.at;
        if let Some(cron) = &w.cron {
            assert_eq!(
                cron["timeZone"].as_str(),
                Some("Europe/London"),
                "{at}: timeZone"
            );
            assert_eq!(
                cron["concurrencyPolicy"].as_str(),
                Some("Forbid"),
                "{at}: a night still running must not be joined by the next"
            );
            let (hour, _) = daily_time(at, &cron["schedule"]);
            assert_clear_of_clock_change(at, hour);
            assert!(
                cron["startingDeadlineSeconds"]
                    .as_u64()
                    .is_some_and(|s| s > 0),
                "{at}: startingDeadlineSeconds"
            );
        }
        let retries = w.job["backoffLimit"]
            .as_u64()
            .or_else(|| w.job["backoffLimitPerIndex"].as_u64());
        assert!(
            retries.is_some_and(|n| n <= 2),
            "{at}: backoffLimit (or backoffLimitPerIndex) must be set and small"
        );
        for key in ["activeDeadlineSeconds", "ttlSecondsAfterFinished"] {
            assert!(
                w.job[key].as_u64().is_some_and(|s| s > 0),
                "{at}: {key} must be set"
            );
        }

        let pod = w.pod();
        let sc = &pod["securityContext"];
        assert_eq!(
            sc["runAsNonRoot"].as_bool(),
            Some(true),
            "{at}: runAsNonRoot"
        );
        assert!(
            sc["runAsUser"].as_u64().is_some_and(|u| u > 0),
            "{at}: runAsUser must be a non-root uid"
        );
        assert_eq!(
            pod["restartPolicy"].as_str(),
            Some("Never"),
            "{at}: restartPolicy"
        );
        // The lake is reached with the workload identity, never a storage key.
        assert_eq!(
            w.job["template"]["metadata"]["labels"]["azure.workload.identity/use"].as_str(),
            Some("true"),
            "{at}: the pod must use Azure workload identity"
        );
        let sa = pod["serviceAccountName"].as_str().unwrap_or_default();
        let sa = service_accounts
            .get(sa)
            .unwrap_or_else(|| panic!("{at}: service account `{sa}` is not under deploy/"));
        assert!(
            sa["metadata"]["annotations"]["azure.workload.identity/client-id"].is_string(),
            "{at}: its service account needs azure.workload.identity/client-id"
        );

        let volumes: BTreeMap<&str, &Value> = by_name(&pod["volumes"]);
        assert!(!w.containers().is_empty(), "{at}: no container");
        for c in w.containers() {
            let csc = &c["securityContext"];
            for (key, want) in [
                ("readOnlyRootFilesystem", true),
                ("allowPrivilegeEscalation", false),
            ] {
                assert_eq!(
                    csc[key].as_bool(),
                    Some(want),
                    "{at}: securityContext.{key}"
                );
            }
            assert!(
                strings(&csc["capabilities"]["drop"]).contains(&"ALL".to_owned()),
                "{at}: capabilities must drop ALL"
            );
            // Staging needs a writable /tmp on a read-only root.
            let tmp = items(&c["volumeMounts"])
                .find(|m| m["mountPath"] == "/tmp")
                .and_then(|m| volumes.get(m["name"].as_str()?))
                .unwrap_or_else(|| panic!("{at}: nothing mounted at /tmp"));
            assert!(!tmp["emptyDir"].is_null(), "{at}: /tmp must be an emptyDir");
            for r in ["requests", "limits"] {
                assert!(
                    c["resources"][r]["memory"].is_string(),
                    "{at}: resources.{r}.memory"
                );
            }

            let env: BTreeMap<&str, &Value> = by_name(&c["env"]);
            assert!(
                !c["envFrom"].is_sequence(),
                "{at}: name each variable (env), so this test sees where each comes from"
            );
            let key = env
                .get("SENDLAKE_PSEUDONYMISATION_KEY")
                .unwrap_or_else(|| panic!("{at}: no SENDLAKE_PSEUDONYMISATION_KEY"));
            assert!(
                key["valueFrom"]["secretKeyRef"]["name"].is_string(),
                "{at}: the pseudonymisation key must come from a Secret"
            );
            for (name, e) in &env {
                if secret_like(name) {
                    assert!(
                        e["value"].is_null() && e["valueFrom"]["secretKeyRef"]["key"].is_string(),
                        "{at}: {name} must come from a Secret (secretKeyRef), never a literal value"
                    );
                }
            }
            assert_eq!(
                env.get("MIMALLOC_PURGE_DELAY")
                    .and_then(|e| e["value"].as_str()),
                Some("-1"),
                "{at}: MIMALLOC_PURGE_DELAY=-1 (docs/operations.md, Memory)"
            );
        }
    }
}

#[test]
fn deployments_run_pipelines_that_exist_and_load() {
    let mut named = Vec::new();
    let docs = yaml_documents();
    for w in workloads(&docs) {
        named.push((w.at.clone(), pipeline_of(&w.at, &w.command_line())));
    }
    for (file, d) in &docs {
        for c in items(&d["properties"]["template"]["containers"]) {
            let at = format!(
                "{}: container {}",
                rel(file),
                c["name"].as_str().unwrap_or("?")
            );
            let args = strings(&c["command"])
                .into_iter()
                .chain(strings(&c["args"]));
            named.push((at.clone(), pipeline_of(&at, &args.collect::<Vec<_>>())));
        }
    }
    let dockerfile = dockerfile();
    let cmd = json_array(&dockerfile.last_stage("CMD")[0]);
    named.push(("deploy/Dockerfile: CMD".into(), pipeline_of("CMD", &cmd)));
    let service = unit_file("deploy/systemd/sendlake.service");
    let exec = service.one("Service", "ExecStart");
    let exec: Vec<String> = exec.split_whitespace().map(str::to_owned).collect();
    named.push((
        "sendlake.service: ExecStart".into(),
        pipeline_of("ExecStart", &exec),
    ));

    assert!(named.len() >= 6, "{named:?}");
    for (at, pipeline) in named {
        let path = root().join(&pipeline);
        assert!(path.is_file(), "{at}: {pipeline} is not in pipelines/");
        let (plan, _) = load_deployed(&path);
        assert!(
            plan.simulator.is_none(),
            "{at}: {pipeline} starts the partner simulator"
        );
        assert!(
            plan.store_url.contains("://"),
            "{at}: {pipeline} writes to a local folder, not the partnership's store"
        );
    }
}

#[test]
fn every_pipeline_file_loads_and_production_only_lacks_its_mounted_folders() {
    let pipelines: Vec<PathBuf> = files_under(&root().join("pipelines"))
        .into_iter()
        .filter(|p| p.parent() == Some(root().join("pipelines").as_path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(pipelines.len() >= 2, "{pipelines:?}");
    let mut inbound = BTreeSet::new();
    for p in &pipelines {
        let (plan, folders) = load_deployed(p);
        assert!(!plan.sources.is_empty(), "{}", rel(p));
        inbound.extend(folders);
        // Where the file drop is not mounted, `check` may fail on its folders, and on nothing else.
        if !Path::new(INBOUND).exists()
            && let Err(errors) = load_plan(p)
        {
            for e in &errors.0 {
                assert!(
                    e.message.starts_with(&format!("folder {INBOUND}/"))
                        && e.message.ends_with("does not exist"),
                    "{}: {e}",
                    rel(p)
                );
            }
        }
    }
    // The image creates exactly the folders the pipelines read, so `check` passes in the image
    // and a mount missing one fails.
    let created: BTreeSet<String> = dockerfile()
        .last_stage("RUN")
        .iter()
        .flat_map(|run| run.split_whitespace())
        .filter_map(|w| w.strip_prefix(&format!("{INBOUND}/")))
        .map(str::to_owned)
        .collect();
    assert_eq!(created, inbound, "deploy/Dockerfile's {INBOUND} folders");
}

#[test]
fn the_fanout_partition_covers_every_source_once_and_no_two_pods_write_one_table() {
    let docs = yaml_documents();
    let workloads = workloads(&docs);
    let lines = partition();
    let fanned: Vec<&Workload> = workloads
        .iter()
        .filter(|w| {
            w.command_line()
                .iter()
                .any(|a| a.ends_with("/run-sources.sh"))
        })
        .collect();
    assert_eq!(fanned.len(), 1, "one fan-out Job");
    let w = fanned[0];
    let at = &w.at;
    assert_eq!(
        w.job["completionMode"].as_str(),
        Some("Indexed"),
        "{at}: completionMode"
    );
    assert_eq!(
        w.job["completions"].as_u64(),
        Some(lines.len() as u64),
        "{at}: completions must equal the lines of {PARTITION}"
    );
    assert!(
        w.job["parallelism"]
            .as_u64()
            .is_some_and(|p| (1..=lines.len() as u64).contains(&p)),
        "{at}: parallelism"
    );

    // The partition reaches the pod: the script and the list are mounted where the command
    // looks for them, from the ConfigMap the kustomization generates.
    let script = w
        .command_line()
        .into_iter()
        .find(|a| a.ends_with("/run-sources.sh"))
        .unwrap();
    let mount_dir = Path::new(&script).parent().unwrap();
    let mount = items(&w.containers()[0]["volumeMounts"])
        .find(|m| m["mountPath"].as_str() == mount_dir.to_str())
        .unwrap_or_else(|| panic!("{at}: nothing mounted at {}", mount_dir.display()));
    let config_map = items(&w.pod()["volumes"])
        .find(|v| v["name"] == mount["name"])
        .and_then(|v| v["configMap"]["name"].as_str())
        .unwrap_or_else(|| panic!("{at}: {} is not a ConfigMap", mount_dir.display()));
    let kustomization = docs
        .iter()
        .find(|(f, d)| d["kind"] == "Kustomization" && f.parent() == w.file.parent())
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("{at}: no kustomization beside it"));
    let generated = items(&kustomization["configMapGenerator"])
        .find(|g| g["name"].as_str() == Some(config_map))
        .unwrap_or_else(|| panic!("{at}: ConfigMap {config_map} is not generated beside it"));
    for f in ["run-sources.sh", "sources.txt"] {
        assert!(
            strings(&generated["files"]).contains(&f.to_owned()),
            "{f} not in {config_map}"
        );
    }

    let pipeline = pipeline_of(at, &w.command_line());
    let (plan, _) = load_deployed(&root().join(&pipeline));
    let order: Vec<&str> = plan.sources.iter().map(SourcePlan::name).collect();
    let mut seen = BTreeSet::new();
    let mut writers: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let positions: Vec<usize> = line
            .iter()
            .map(|name| {
                assert!(
                    seen.insert(name.clone()),
                    "{PARTITION}: `{name}` runs in two pods"
                );
                order
                    .iter()
                    .position(|n| n == name)
                    .unwrap_or_else(|| panic!("{PARTITION}: no source `{name}` in {pipeline}"))
            })
            .collect();
        assert!(
            positions.is_sorted(),
            "{PARTITION} line {}: sources must keep the pipeline's order ({order:?})",
            i + 1
        );
        for p in positions {
            for table in tables_written(&plan.sources[p]) {
                if let Some(other) = writers.insert(table.clone(), i)
                    && other != i
                {
                    panic!(
                        "{PARTITION}: lines {} and {} both write `{table}`: one pod would stop at the other's lock (exit code 4)",
                        other + 1,
                        i + 1
                    );
                }
            }
        }
    }
    let missing: Vec<&&str> = order.iter().filter(|n| !seen.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "{PARTITION}: sources that never run: {missing:?}"
    );

    // The model build starts after every source pod has stopped: the sources' latest start
    // (schedule + startingDeadlineSeconds) plus their run deadline.
    let cron = w.cron.as_ref().unwrap();
    let (h, m) = daily_time(at, &cron["schedule"]);
    let sources_done = h * 60
        + m
        + (cron["startingDeadlineSeconds"].as_u64().unwrap() as u32
            + w.job["activeDeadlineSeconds"].as_u64().unwrap() as u32)
            .div_ceil(60);
    let models: Vec<&Workload> = workloads
        .iter()
        .filter(|x| {
            x.file.parent() == w.file.parent()
                && x.command_line().contains(&"--models-only".to_owned())
        })
        .collect();
    assert_eq!(models.len(), 1, "one model build beside the fan-out");
    let mc = models[0].cron.as_ref().unwrap();
    assert_eq!(
        mc["timeZone"], cron["timeZone"],
        "{}: time zone",
        models[0].at
    );
    let (mh, mm) = daily_time(&models[0].at, &mc["schedule"]);
    assert!(
        mh * 60 + mm > sources_done && sources_done < 24 * 60,
        "{}: starts at {mh:02}:{mm:02}, before the sources' deadline ({:02}:{:02})",
        models[0].at,
        sources_done / 60,
        sources_done % 60
    );
}

#[test]
fn the_fanout_script_gives_each_pod_its_line_of_sources() {
    let script = root().join("deploy/kubernetes/fanout/run-sources.sh");
    let stub = tempfile::tempdir().unwrap();
    // A stand-in `sendlake` that prints the arguments it was given, one a line.
    let bin = stub.path().join("sendlake");
    fs::write(&bin, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        stub.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |index: usize| {
        Command::new("sh")
            .arg(&script)
            .arg("pipelines/hertfordshire.toml")
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("SENDLAKE_FANOUT_SOURCES", root().join(PARTITION))
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let lines = partition();
    for (i, line) in lines.iter().enumerate() {
        let out = run(i);
        assert!(
            out.status.success(),
            "index {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let args: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let mut expected: Vec<String> = [
            "--log-format",
            "json",
            "run",
            "pipelines/hertfordshire.toml",
            "--no-models",
        ]
        .map(str::to_owned)
        .to_vec();
        for name in line {
            expected.extend(["--source".to_owned(), name.clone()]);
        }
        assert_eq!(args, expected, "index {i}");
    }
    // An index past the partition is a configuration error, as sendlake's own exit code 2.
    let out = run(lines.len());
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_container_apps_job_takes_its_secrets_from_key_vault() {
    let docs = yaml_documents();
    let jobs: Vec<&(PathBuf, Value)> = docs
        .iter()
        .filter(|(_, d)| d["properties"]["configuration"]["triggerType"].is_string())
        .collect();
    assert_eq!(jobs.len(), 1, "one Container Apps job under deploy/");
    let (file, d) = jobs[0];
    let at = rel(file);
    let conf = &d["properties"]["configuration"];
    assert_eq!(
        conf["triggerType"].as_str(),
        Some("Schedule"),
        "{at}: triggerType"
    );
    // Container Apps cron is UTC: night in GMT (UTC+0) and in BST (UTC+1) alike.
    let (hour, _) = daily_time(&at, &conf["scheduleTriggerConfig"]["cronExpression"]);
    // BST is hour + 1: both must fall between midnight and 05:59.
    assert!(
        hour < 5,
        "{at}: {hour}:xx UTC is not night in both GMT and BST"
    );
    assert!(
        conf["replicaTimeout"]
            .as_u64()
            .is_some_and(|t| t > 0 && t < 86_400),
        "{at}: replicaTimeout"
    );
    assert!(
        conf["replicaRetryLimit"].as_u64().is_some_and(|n| n <= 2),
        "{at}: replicaRetryLimit"
    );
    let identities: BTreeSet<&str> = d["identity"]["userAssignedIdentities"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str())
        .collect();
    let mut secrets = BTreeSet::new();
    for s in items(&conf["secrets"]) {
        let name = s["name"].as_str().unwrap_or_default();
        assert!(
            s["value"].is_null(),
            "{at}: secret {name} has a literal value"
        );
        assert!(
            s["keyVaultUrl"].as_str().is_some_and(
                |u| u.starts_with("https://") && u.contains(".vault.azure.net/secrets/")
            ),
            "{at}: secret {name} must be a Key Vault reference"
        );
        assert!(
            s["identity"]
                .as_str()
                .is_some_and(|i| identities.contains(i)),
            "{at}: secret {name} must be read with the job's managed identity"
        );
        secrets.insert(name);
    }
    let containers: Vec<&Value> = items(&d["properties"]["template"]["containers"]).collect();
    assert!(!containers.is_empty(), "{at}: no container");
    for c in containers {
        let env: BTreeMap<&str, &Value> = by_name(&c["env"]);
        assert!(
            env.contains_key("SENDLAKE_PSEUDONYMISATION_KEY"),
            "{at}: no SENDLAKE_PSEUDONYMISATION_KEY"
        );
        for (name, e) in &env {
            if secret_like(name) {
                assert!(
                    e["value"].is_null()
                        && e["secretRef"].as_str().is_some_and(|r| secrets.contains(r)),
                    "{at}: {name} must be a secretRef to one of the job's secrets"
                );
            }
        }
        assert_eq!(
            env.get("MIMALLOC_PURGE_DELAY")
                .and_then(|e| e["value"].as_str()),
            Some("-1"),
            "{at}: MIMALLOC_PURGE_DELAY"
        );
    }
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

#[test]
fn the_systemd_units_run_a_sandboxed_oneshot_at_a_fixed_uk_time() {
    let service = unit_file("deploy/systemd/sendlake.service");
    assert_eq!(service.one("Service", "Type"), "oneshot", "[Service] Type");
    let user = service.one("Service", "User");
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "User={user}"
    );
    assert!(
        service
            .one("Service", "EnvironmentFile")
            .starts_with("/etc/")
    );
    assert!(
        service
            .all("Service", "Environment")
            .contains(&"MIMALLOC_PURGE_DELAY=-1".to_owned()),
        "Environment=MIMALLOC_PURGE_DELAY=-1"
    );
    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "true"),
        ("PrivateTmp", "true"),
        ("ProtectHome", "true"),
    ] {
        assert_eq!(service.one("Service", key), value, "[Service] {key}");
    }
    assert_ne!(
        service.one("Service", "TimeoutStartSec"),
        "infinity",
        "a hung run must be stopped"
    );

    let timer = unit_file("deploy/systemd/sendlake.timer");
    let on = timer.one("Timer", "OnCalendar");
    let (schedule, zone) = on.rsplit_once(' ').unwrap();
    assert_eq!(zone, "Europe/London", "OnCalendar={on}");
    let time = schedule
        .strip_prefix("*-*-* ")
        .unwrap_or_else(|| panic!("OnCalendar={on}: daily"));
    let hour: u32 = time.split(':').next().unwrap().parse().unwrap();
    assert_clear_of_clock_change("sendlake.timer", hour);
    assert_eq!(
        timer.one("Timer", "Persistent"),
        "true",
        "[Timer] Persistent"
    );
    assert!(!timer.one("Timer", "RandomizedDelaySec").is_empty());
    assert_eq!(
        timer.one("Install", "WantedBy"),
        "timers.target",
        "[Install] WantedBy"
    );
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

#[test]
fn the_image_is_built_locked_in_stages_and_runs_unprivileged() {
    let d = dockerfile();
    assert!(d.0.len() >= 2, "a build stage and a runtime stage");
    let builds: Vec<&String> = d.0[..d.0.len() - 1]
        .iter()
        .flatten()
        .filter(|(i, a)| i == "RUN" && a.contains("cargo build"))
        .map(|(_, a)| a)
        .collect();
    assert!(
        !builds.is_empty(),
        "no cargo build before the runtime stage"
    );
    for b in builds {
        assert!(b.contains("--locked") && b.contains("--release"), "{b}");
    }
    let user = d.last_stage("USER");
    assert_eq!(user.len(), 1, "one USER in the runtime stage");
    let uid = user[0].split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "USER {}", user[0]);
    assert!(
        d.last_stage("ENV")
            .contains(&"MIMALLOC_PURGE_DELAY=-1".to_owned()),
        "ENV MIMALLOC_PURGE_DELAY=-1 in the runtime stage"
    );
    let entrypoint = json_array(&d.last_stage("ENTRYPOINT")[0]);
    assert!(
        entrypoint.last().is_some_and(|e| e.ends_with("/sendlake")),
        "{entrypoint:?}"
    );
    // The build context is an allowlist: nothing but what the build and the image need.
    let ignore = read(&root().join(".dockerignore"));
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        patterns.first(),
        Some(&"*"),
        ".dockerignore must start by excluding everything"
    );
    for needed in ["!Cargo.lock", "!crates", "!schemas", "!pipelines"] {
        assert!(patterns.contains(&needed), ".dockerignore: {needed}");
    }
}

/// Strings that look like real credentials: long runs of base64 (mixed case and digits) or hex,
/// and the markers of Azure connection strings, SAS tokens and private keys.
fn secret_looking(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = text.to_ascii_lowercase();
    for marker in [
        "accountkey=",
        "sharedaccesssignature=",
        "&sig=",
        "?sig=",
        "-----begin",
    ] {
        if lower.contains(marker) {
            found.push(marker.to_owned());
        }
    }
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    for token in text.split(|c: char| !base64(c)) {
        let token = token.trim_matches('/');
        if token.len() < 32 {
            continue;
        }
        let hex = token.chars().all(|c| c.is_ascii_hexdigit());
        let mixed = token.chars().any(|c| c.is_ascii_digit())
            && token.chars().any(|c| c.is_ascii_uppercase())
            && token.chars().any(|c| c.is_ascii_lowercase());
        if hex || mixed {
            found.push(token.to_owned());
        }
    }
    found
}

#[test]
fn the_secret_detector_finds_keys() {
    // Built here, not written out, so no key-shaped string sits in the repository.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let base64: String = (0..88)
        .map(|i| alphabet[(i * 37 + 11) % 64] as char)
        .collect();
    let hex: String = (0..64)
        .map(|i| b"0123456789abcdef"[(i * 7) % 16] as char)
        .collect();
    assert!(!secret_looking(&format!("key: \"{base64}\"")).is_empty());
    assert!(!secret_looking(&format!("SENDLAKE_NHS_API_KEY={hex}")).is_empty());
    assert!(!secret_looking("DefaultEndpointsProtocol=https;AccountKey=x").is_empty());
    assert!(
        secret_looking("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg")
            .is_empty()
    );
}

#[test]
fn nothing_under_deploy_looks_like_a_real_secret() {
    let mut files = files_under(&root().join("deploy"));
    files.push(root().join(".dockerignore"));
    files.extend(
        files_under(&root().join("pipelines"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml")),
    );
    for file in &files {
        let found = secret_looking(&read(file));
        assert!(
            found.is_empty(),
            "{}: looks like a secret: {found:?}",
            rel(file)
        );
    }

    // The examples' secret values are placeholders, too short to be taken for a key: applied by
    // mistake, the run stops (exit code 2) before it writes anything.
    let placeholder = |at: &str, name: &str, value: &str| {
        if secret_like(name) {
            assert!(
                value.contains("REPLACE") && value.len() < 32,
                "{at}: {name} must be a short REPLACE placeholder, not `{value}`"
            );
        }
    };
    for (file, d) in yaml_documents()
        .iter()
        .filter(|(_, d)| d["kind"] == "Secret")
    {
        for (k, v) in d["stringData"].as_mapping().into_iter().flatten() {
            placeholder(
                &rel(file),
                k.as_str().unwrap_or_default(),
                v.as_str().unwrap_or_default(),
            );
        }
        assert!(
            d["data"].is_null(),
            "{}: use stringData placeholders, not data",
            rel(file)
        );
    }
    let env = "deploy/systemd/sendlake.env.example";
    for line in read(&root().join(env)).lines() {
        if let Some((k, v)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            placeholder(env, k.trim(), v.trim());
        }
    }
}
