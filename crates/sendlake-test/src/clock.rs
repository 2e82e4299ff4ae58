//! A clock a test sets: a run at a chosen time, then another some days later.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use sendlake_calendar::Clock;

/// A clock that says what it was set to until it is moved. Clones share the time, so a test
/// keeps one clone and hands another to the run.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    /// A clock at `rfc3339` (`"2026-03-02T01:30:00Z"`).
    pub fn at(rfc3339: &str) -> Self {
        let t = DateTime::parse_from_rfc3339(rfc3339)
            .unwrap_or_else(|e| panic!("bad time {rfc3339:?}: {e}"))
            .with_timezone(&Utc);
        Self(Arc::new(Mutex::new(t)))
    }

    /// Moves the clock on by `by` (for the next night, `TimeDelta::days(1)`).
    pub fn advance(&self, by: TimeDelta) {
        let mut t = self.0.lock().unwrap();
        *t += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_time_and_advance_moves_it() {
        let clock = FixedClock::at("2026-03-02T01:30:00Z");
        let run = clock.clone();
        assert_eq!(run.now().to_rfc3339(), "2026-03-02T01:30:00+00:00");
        clock.advance(TimeDelta::days(181));
        assert_eq!(run.now().to_rfc3339(), "2026-08-30T01:30:00+00:00");
    }
}
