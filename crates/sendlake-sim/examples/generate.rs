//! Writes a synthetic SEN2 run and reports how long it took.
//!
//! `cargo run --release -p sendlake-sim --example generate -- OUT_DIR [LAS] [PERSONS_PER_LA] [FORMAT]`
//! e.g. `... -- /tmp/sen2 10 4500 2026`; the national benchmark is `153 4500`.

use std::path::PathBuf;
use std::time::Instant;

use sendlake_sim::{Sen2Format, Sen2SimConfig, SimError, write_sen2_returns};

fn main() -> Result<(), SimError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().map_or("sen2-sim-out", String::as_str));
    let number = |i: usize, default: usize| -> Result<usize, SimError> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| SimError::Config(format!("argument {i} ({s:?}) is not a number")))
        })
    };
    let cfg = Sen2SimConfig {
        las: number(1, 10)?,
        persons_per_la: number(2, 4_500)?,
        format: args.get(3).map_or(Ok(Sen2Format::V2026), |s| s.parse())?,
        ..Sen2SimConfig::default()
    };
    let started = Instant::now();
    let summary = write_sen2_returns(&cfg, &out)?;
    let elapsed = started.elapsed();
    let totals = summary.totals();
    eprintln!(
        "{} files, {} persons, {} requests, {} active plans in {:.2?} -> {}",
        summary.files.len(),
        totals.persons,
        totals.requests,
        totals.active_plans,
        elapsed,
        out.display()
    );
    Ok(())
}
