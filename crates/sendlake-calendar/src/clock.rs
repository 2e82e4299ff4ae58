//! The clock a run reads "now" from.
//!
//! A run asks the time once when it starts (its id, every row's `loaded_at`, the models'
//! "today") and again for its finish time and the quarantine's retention cut-off. Taking it
//! from an injected [`Clock`] rather than `Utc::now()` lets a test run a night at a chosen
//! date, or two nights months apart, without waiting or faking file times.

use std::fmt::Debug;

use chrono::{DateTime, Utc};

/// Where "now" comes from.
pub trait Clock: Debug + Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock: what production runs use.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
