//! The built-in partner simulator (`[simulator]`, demo builds only): started in-process on a
//! loopback port for the length of a run, with fresh random credentials, so the demo's
//! partner sources talk to a real HTTP server. A production build has no simulator; its
//! pipeline check refuses `[simulator]` and says how to get a demo build.

use std::collections::BTreeMap;

use crate::config::PipelinePlan;
use crate::error::RunError;

/// A running simulator and the environment variables that stand for its credentials.
pub(crate) struct Simulator {
    #[cfg(feature = "demo")]
    running: sendlake_sim::serve::RunningSim,
    /// Variable name → credential, consulted before the process environment.
    pub env: BTreeMap<String, String>,
}

/// Starts the pipeline's simulator when one of `plan`'s sources uses it.
///
/// # Errors
/// The simulator could not start (the environment's fault: no loopback port).
#[cfg(feature = "demo")]
pub(crate) async fn start(plan: &PipelinePlan) -> Result<Option<Simulator>, RunError> {
    use crate::config::{SimCredential, SourcePlan};
    use tracing::info;

    let uses = plan
        .sources
        .iter()
        .any(|s| matches!(s, SourcePlan::Declared(d) if d.simulator));
    let Some(cfg) = plan.simulator.as_ref().filter(|_| uses) else {
        return Ok(None);
    };
    let secret = || format!("{:032x}", rand::random::<u128>());
    let server = sendlake_sim::serve::SimServerConfig {
        sen2: sendlake_sim::Sen2SimConfig {
            las: cfg.las,
            persons_per_la: cfg.persons_per_la,
            seed: cfg.seed,
            census_year: cfg.census_year,
            ..sendlake_sim::Sen2SimConfig::default()
        },
        port: 0,
        client_id: format!("sendlake-{}", &secret()[..8]),
        client_secret: secret(),
        api_key: secret(),
        ..sendlake_sim::serve::SimServerConfig::default()
    };
    let env = cfg
        .env
        .iter()
        .map(|(name, which)| {
            let value = match which {
                SimCredential::ClientId => server.client_id.clone(),
                SimCredential::ClientSecret => server.client_secret.clone(),
                SimCredential::ApiKey => server.api_key.clone(),
            };
            (name.clone(), value)
        })
        .collect();
    let running = sendlake_sim::serve::start(server)
        .await
        .map_err(|e| RunError::environment_because("starting the partner simulator", e))?;
    info!(url = %running.base_url(), "Partner simulator started.");
    Ok(Some(Simulator { running, env }))
}

/// A production build: the pipeline check has already refused `[simulator]`.
///
/// # Errors
/// Never, unless the check was bypassed.
#[cfg(not(feature = "demo"))]
pub(crate) async fn start(plan: &PipelinePlan) -> Result<Option<Simulator>, RunError> {
    match plan.simulator {
        None => Ok(None),
        Some(_) => Err(RunError::config(crate::config::NO_DEMO)),
    }
}

impl Simulator {
    /// Its base URL.
    pub(crate) fn url(&self) -> String {
        #[cfg(feature = "demo")]
        return self.running.base_url();
        #[cfg(not(feature = "demo"))]
        String::new()
    }

    /// Stops it; a simulator that does not stop cleanly is only a warning.
    pub(crate) async fn stop(self) {
        #[cfg(feature = "demo")]
        if let Err(e) = self.running.shutdown().await {
            tracing::warn!(error = %e, "The partner simulator did not shut down cleanly.");
        }
    }
}
