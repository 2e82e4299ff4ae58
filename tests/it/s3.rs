//! The whole demo pipeline against S3-compatible storage, as the s3rver emulator (npm) serves
//! it, through the `sendlake` binary with the endpoint and credentials in `AWS_*` variables as
//! in production.
//!
//! s3rver ignores `If-None-Match: *`, as some S3-compatible stores do: a create-if-absent
//! write overwrites. Run locks and Delta commits both rest on that write, so a run refuses
//! such a store (exit code 3) unless the operator accepts the risk for a store only one
//! process writes to (`SENDLAKE_UNSAFE_NO_CONDITIONAL_WRITES=1`). Amazon S3, MinIO and R2
//! honour it; the Azure test covers locking against a store that does.

use std::ffi::OsString;

use crate::published::demo_pipeline;
use crate::store_runs::{Emulator, StoreRuns, npm_tool};
use crate::support::*;

const BUCKET: &str = "lake";

/// s3rver with one bucket.
fn s3rver() -> Emulator {
    let bin = npm_tool("SENDLAKE_S3RVER", "s3rver");
    Emulator::start("s3rver", bin, |port, data| {
        let port = port.to_string();
        let mut args: Vec<OsString> = vec!["-d".into(), data.into()];
        args.extend(
            [
                "-a",
                "127.0.0.1",
                "-p",
                &port,
                "--silent",
                "--configure-bucket",
                BUCKET,
            ]
            .map(OsString::from),
        );
        args
    })
}

#[test]
fn the_demo_runs_on_s3_compatible_storage_and_refuses_a_store_without_conditional_writes() {
    let s3 = s3rver();
    let ws = Workspace::new();
    let store = StoreRuns::new(
        format!("s3://{BUCKET}/demo"),
        demo_pipeline(&ws),
        &[
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", s3.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
            // s3rver's fixed development credentials.
            ("AWS_ACCESS_KEY_ID", "S3RVER".into()),
            ("AWS_SECRET_ACCESS_KEY", "S3RVER".into()),
            ("AWS_REGION", "us-east-1".into()),
        ],
    );

    // 1. The store overwrites on a conditional write: refused before anything is written.
    let (code, refusal, summary) = store.run_to_end(&[]);
    assert_eq!(code, 3, "{refusal}");
    assert!(summary.is_null(), "the run never started");
    assert!(
        refusal.contains("If-None-Match")
            && refusal.contains("SENDLAKE_UNSAFE_NO_CONDITIONAL_WRITES"),
        "the message says why and the way out: {refusal}"
    );
    assert!(store.runs()["runs"].as_array().unwrap().is_empty());

    // 2. Accepted for this single-writer store: the demo lands in the bucket.
    let unsafe_ok = [("SENDLAKE_UNSAFE_NO_CONDITIONAL_WRITES", "1")];
    let (code, clean_id, clean) = store.run_to_end(&unsafe_ok);
    assert_eq!(code, 0, "{clean_id}");
    assert_eq!(clean["status"], "Succeeded");
    assert_eq!(clean["reconciled"], true);
    assert_eq!(clean["models_committed"], 34);
    assert_eq!(clean["checks_failed"], 0);
    assert_eq!(
        clean["manifest"],
        format!("s3://{BUCKET}/demo/_runs/{clean_id}.json")
    );

    // 3. The same night again: replaced, not added to.
    let (code, rerun_id, rerun) = store.run_to_end(&unsafe_ok);
    assert_eq!(code, 0, "{rerun_id}");
    assert_eq!(rerun["status"], "Succeeded");
    assert_eq!(rerun["sen2_rows_loaded"], clean["sen2_rows_loaded"]);
    assert_eq!(rerun["models_committed"], 34);

    let runs = store.runs();
    let listed: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [rerun_id.as_str(), clean_id.as_str()]);
    assert_eq!(runs["runs"][0]["models_total"], 34);
    assert!(runs["locks"].as_array().unwrap().is_empty(), "{runs}");
}
