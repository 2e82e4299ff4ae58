//! `sendlake sim`: synthetic SEN2 returns (optionally with injected defects) and the partner
//! API simulator, for the demo, tests and benchmarks.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sendlake_pipeline::ExitStatus;

use crate::runtime;

#[derive(Debug, Subcommand)]
pub(crate) enum SimCommand {
    /// Write synthetic person-level SEN2 returns (one XML file per LA).
    Sen2 {
        #[command(flatten)]
        children: Children,
        /// Census year of the collection.
        #[arg(long, default_value_t = 2026)]
        census_year: i32,
        /// XML layout: 2024 (validates against the third-party 2024 XSD) or 2026 (adds the
        /// 2026 items).
        #[arg(long, default_value = "2026")]
        format: String,
        /// Inject defects the pipeline degrades rather than rejects (dates out of order,
        /// cessations without a reason, outcomes that contradict what follows, ...) into this
        /// share of eligible items, for each kind; counted per file and kind in summary.json.
        #[arg(long, value_name = "RATE")]
        defects: Option<f64>,
        /// With --defects: only the kinds that keep the files valid against the XSD.
        #[arg(long, requires = "defects")]
        xsd_valid: bool,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve the synthetic partner APIs (council case management, NHS community provider,
    /// DfE statistics) on loopback until interrupted, for the same children as `sim sen2`.
    Serve {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8089)]
        port: u16,
        #[command(flatten)]
        children: Children,
    },
}

/// Which synthetic children exist. Shared by `sim sen2` and `sim serve`, so the same values
/// give the same children in the SEN2 files and behind the partner APIs.
#[derive(Debug, clap::Args)]
pub(crate) struct Children {
    /// Number of local authorities (one SEN2 file each).
    #[arg(long, default_value_t = 3)]
    las: usize,
    /// Persons per LA.
    #[arg(long, default_value_t = 500)]
    persons_per_la: usize,
    /// Random seed (same seed, same children).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

impl Children {
    fn sen2_config(&self) -> sendlake_sim::Sen2SimConfig {
        sendlake_sim::Sen2SimConfig {
            las: self.las,
            persons_per_la: self.persons_per_la,
            seed: self.seed,
            ..sendlake_sim::Sen2SimConfig::default()
        }
    }
}

/// Runs a `sim` subcommand; returns the exit code.
pub(crate) fn run(what: &SimCommand) -> ExitStatus {
    match what {
        SimCommand::Sen2 {
            children,
            census_year,
            format,
            defects,
            xsd_valid,
            out,
        } => {
            let defects = defects.map(|rate| {
                if *xsd_valid {
                    sendlake_sim::DefectConfig::xsd_valid(rate)
                } else {
                    sendlake_sim::DefectConfig::uniform(rate)
                }
            });
            sim_sen2(children, *census_year, format, defects, out)
        }
        SimCommand::Serve { port, children } => sim_serve(*port, children),
    }
}

fn sim_serve(port: u16, children: &Children) -> ExitStatus {
    let config = sendlake_sim::serve::SimServerConfig {
        port,
        sen2: children.sen2_config(),
        ..sendlake_sim::serve::SimServerConfig::default()
    };
    let Some(runtime) = runtime() else {
        return ExitStatus::Failed;
    };
    runtime.block_on(async move {
        let sim = match sendlake_sim::serve::start(config).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitStatus::Failed;
            }
        };
        // The simulator's credentials are fixed, public development values (see
        // SimServerConfig::default); real partner credentials never pass through here.
        eprintln!(
            "partner simulator on {} (council: /council, NHS: /nhs, DfE statistics: /v1); Ctrl-C to stop",
            sim.base_url()
        );
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("error: waiting for Ctrl-C: {e}");
        }
        match sim.shutdown().await {
            Ok(()) => ExitStatus::Success,
            Err(e) => {
                eprintln!("error: {e}");
                ExitStatus::Failed
            }
        }
    })
}

fn sim_sen2(
    children: &Children,
    census_year: i32,
    format: &str,
    defects: Option<sendlake_sim::DefectConfig>,
    out: &Path,
) -> ExitStatus {
    let format = match format.parse::<sendlake_sim::Sen2Format>() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Configuration;
        }
    };
    let cfg = sendlake_sim::Sen2SimConfig {
        census_year,
        format,
        defects,
        ..children.sen2_config()
    };
    match sendlake_sim::write_sen2_returns(&cfg, out) {
        Ok(summary) => {
            let t = summary.totals();
            eprintln!(
                "wrote {} file(s) to {}: {} persons, {} requests, {} assessments, {} named plans, {} active plans, {} placements, {} needs",
                summary.files.len(),
                out.display(),
                t.persons,
                t.requests,
                t.assessments,
                t.named_plans,
                t.active_plans,
                t.placements,
                t.sen_needs
            );
            if !t.defects.is_empty() {
                eprintln!(
                    "injected {} defect(s): {} value(s) the pipeline nulls, {} it warns of (by kind in summary.json)",
                    t.defects.total(),
                    t.defects.nulled.values().sum::<u64>(),
                    t.defects.warned.values().sum::<u64>()
                );
            }
            ExitStatus::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitStatus::Configuration
        }
    }
}
