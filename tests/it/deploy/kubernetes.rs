//! The Kubernetes manifests: every YAML file parses and every kustomization names real files;
//! every CronJob and Job runs once a night at a fixed UK time, unprivileged, through workload
//! identity, with the pseudonymisation key and every secret-like variable from a Secret.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;

use super::{
    assert_clear_of_clock_change, by_name, daily_time, items, rel, secret_like, strings, workloads,
    yaml_documents,
};

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
