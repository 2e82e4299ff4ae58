//! Partner-API extraction benchmark (docs/benchmarks.md): the council and NHS source files
//! of `pipelines/sources/` against the partner simulator on loopback, into a local lake.
//!
//! 1. A full load: every council stream (cursor paging, 500 records a page) and the NHS
//!    snapshot (offset paging, 500 a page). Reports wall time, records per second and the
//!    run's resident-memory growth.
//! 2. A nightly incremental run after 1% of the council's records changed (updates, deletions,
//!    new requests) and 1% of referrals moved on: its wall time as a share of the full load.
//!
//! ```sh
//! cargo run --release -p sendlake-pipeline --example partner_bench -- 10 2000
//! ```
//! Arguments: LAs, persons per LA (default 10 × 2000).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use sendlake_pipeline::{RunOptions, load_plan, run};
use sendlake_sim::Sen2SimConfig;
use sendlake_sim::serve::{Changes, SimServerConfig, start};

/// `VmRSS` and `VmHWM` of this process in MiB (Linux).
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let las = args.first().copied().unwrap_or(10);
    let persons = args.get(1).copied().unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(start(SimServerConfig {
            sen2: Sen2SimConfig {
                las,
                persons_per_la: persons,
                seed: 42,
                ..Sen2SimConfig::default()
            },
            ..SimServerConfig::default()
        }))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("sendlake-partner-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/sources");
    let pipeline = |name: &str, files: &[&str]| {
        let mut text = format!(
            "[pipeline]\nname = \"{name}\"\n[store]\nurl = {:?}\n",
            dir.join("lake").display().to_string()
        );
        for f in files {
            text.push_str(&format!(
                "[[sources]]\ntype = \"source_file\"\nfile = {:?}\nbase_url = {:?}\n",
                sources.join(f).display().to_string(),
                sim.base_url()
            ));
        }
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        load_plan(&path).unwrap()
    };
    let council_plan = pipeline("council", &["council_cms.toml"]);
    let nhs_plan = pipeline("nhs", &["nhs_community.toml"]);
    let c = sim.config().clone();
    let opts = || RunOptions {
        demo: true,
        secrets: BTreeMap::from([
            ("SENDLAKE_COUNCIL_CLIENT_ID".to_owned(), c.client_id.clone()),
            (
                "SENDLAKE_COUNCIL_CLIENT_SECRET".to_owned(),
                c.client_secret.clone(),
            ),
            ("SENDLAKE_NHS_API_KEY".to_owned(), c.api_key.clone()),
        ]),
        ..RunOptions::default()
    };
    let timed = |plan: &sendlake_pipeline::PipelinePlan| {
        let t = Instant::now();
        let m = rt.block_on(run(plan, opts())).unwrap().manifest;
        let secs = t.elapsed().as_secs_f64();
        assert!(m.reconciled, "run does not reconcile");
        let streams = m.sources.iter().flat_map(|s| s.streams.iter());
        let (read, pages) = streams.fold((0, 0), |(r, p), s| {
            (r + s.records.read, p + s.records.pages)
        });
        (secs, read, pages)
    };
    println!("children: {}", las * persons);
    let (rss_before, _) = memory();
    let (full_secs, read, pages) = timed(&council_plan);
    let (_, hwm) = memory();
    println!(
        "council full load:   {read} records, {pages} pages in {full_secs:.2} s = {:.0} records/s; RSS {rss_before:.0} MiB before (simulator included), peak {hwm:.0} MiB",
        read as f64 / full_secs
    );
    let (secs, read, pages) = timed(&nhs_plan);
    let (_, hwm) = memory();
    println!(
        "NHS snapshot load:   {read} records, {pages} pages in {secs:.2} s = {:.0} records/s; peak RSS {hwm:.0} MiB",
        read as f64 / secs
    );

    let council: usize = sendlake_sim::serve::council::CouncilStream::ALL
        .iter()
        .map(|s| sim.council_counts(*s).0)
        .sum();
    let report = sim.advance(&Changes {
        updates: council * 8 / 1000,
        deletions: council / 1000,
        new_requests: council / 1000,
        ..Changes::default()
    });
    let changed = report.updated.len() + report.deleted.len() + report.created.len();
    let (inc_secs, read, pages) = timed(&council_plan);
    println!(
        "council incremental: {changed} changes ({:.2}% of {council} records); {read} records, {pages} pages in {inc_secs:.2} s = {:.1}% of the full load",
        100.0 * changed as f64 / council as f64,
        100.0 * inc_secs / full_secs
    );
    rt.block_on(sim.shutdown()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
