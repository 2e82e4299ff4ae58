//! Release-mode timing of a 10 LA × 4 500 person run (ignored by default):
//! `cargo test --release -p sendlake-sim --test it -- --ignored --nocapture timing`.
//! `SENDLAKE_SIM_LAS` overrides the number of LAs (153 is the national benchmark).

use std::time::Instant;

use sendlake_sim::{Sen2SimConfig, write_sen2_returns};

#[test]
#[ignore = "timing run; use --release"]
fn timing_10_las_by_4500_persons() {
    let las = std::env::var("SENDLAKE_SIM_LAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let cfg = Sen2SimConfig {
        las,
        persons_per_la: 4_500,
        ..Sen2SimConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let summary = write_sen2_returns(&cfg, dir.path()).unwrap();
    let elapsed = started.elapsed();
    let totals = summary.totals();
    let bytes: u64 = summary
        .files
        .iter()
        .map(|f| std::fs::metadata(&f.path).unwrap().len())
        .sum();
    eprintln!(
        "{las} LAs x 4500 persons: {} persons, {:.1} MB in {elapsed:.2?}",
        totals.persons,
        bytes as f64 / 1e6
    );
    assert_eq!(totals.persons, las as u64 * 4_500);
}
