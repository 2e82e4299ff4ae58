//! The pipelines the deployments run: every CronJob, Job, Container Apps job, the image's CMD
//! and the systemd service names one that exists, loads and writes to the partnership's store;
//! every pipeline file loads, and the image creates exactly the inbound folders they read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sendlake_pipeline::load_plan;

use super::{
    INBOUND, dockerfile, files_under, items, json_array, load_deployed, pipeline_of, rel, root,
    strings, unit_file, workloads, yaml_documents,
};

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
