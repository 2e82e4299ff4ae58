//! The Azure Container Apps job: scheduled at night in GMT and BST alike, with a bounded
//! timeout and retries, and its secrets read from Key Vault with the job's managed identity.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_norway::Value;

use super::{by_name, daily_time, items, rel, secret_like, yaml_documents};

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
