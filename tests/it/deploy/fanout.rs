//! The Kubernetes fan-out: its partition runs every source once, in the pipeline's order, with
//! no two pods writing one table; the model build starts after every source pod's deadline; and
//! `run-sources.sh` gives each pod its line of sources.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use sendlake_pipeline::config::SourcePlan;
use sendlake_transform::mapping::RECORD_REJECTS_TABLE;

use super::{
    Workload, daily_time, items, load_deployed, pipeline_of, read, root, strings, workloads,
    yaml_documents,
};
use crate::support::SEN2_TABLES;

/// The fan-out's partition of the pipeline's sources, one line per pod.
const PARTITION: &str = "deploy/kubernetes/fanout/sources.txt";

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
