//! The partner simulator as a test fixture: a few children, on a loopback port, and an HTTP
//! retry policy quick enough for the simulator's injected faults.

use sendlake_http::RetryPolicy;
use sendlake_sim::Sen2SimConfig;
use sendlake_sim::serve::{RunningSim, SimServerConfig, start};

/// Returns of `las` local authorities with `persons_per_la` children each, from `seed`; the
/// rest as the demo has it (2026, clean).
pub fn sen2(las: usize, persons_per_la: usize, seed: u64) -> Sen2SimConfig {
    Sen2SimConfig {
        las,
        persons_per_la,
        seed,
        ..Sen2SimConfig::default()
    }
}

/// A simulator for the children of [`sen2`]`(las, persons_per_la, seed)`.
pub fn config(las: usize, persons_per_la: usize, seed: u64) -> SimServerConfig {
    SimServerConfig {
        sen2: sen2(las, persons_per_la, seed),
        ..SimServerConfig::default()
    }
}

/// Starts the simulator on an ephemeral loopback port (inside a Tokio runtime).
pub async fn serve(config: SimServerConfig) -> RunningSim {
    start(config).await.expect("simulator starts")
}

/// A synchronous test's simulator: the runtime it serves on, which the test runs the
/// pipeline on too.
pub struct Simulator {
    pub rt: tokio::runtime::Runtime,
    pub sim: RunningSim,
}

impl Simulator {
    pub fn start(config: SimServerConfig) -> Self {
        let rt = crate::runtime();
        let sim = rt.block_on(serve(config));
        Self { rt, sim }
    }
}

/// Retries in milliseconds, honouring the simulator's `Retry-After` but capped at a second.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff_ms: 5,
        max_backoff_ms: 50,
        max_retry_after_secs: 1,
        ..RetryPolicy::default()
    }
}
