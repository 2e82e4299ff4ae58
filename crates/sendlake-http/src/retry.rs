//! Back-off arithmetic, `Retry-After` parsing and the per-client retry budget.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::config::RetryPolicy;

/// Full-jitter exponential back-off (the AWS "exponential back-off and jitter" scheme): a
/// uniform delay in `0..=min(max, initial * 2^(retry-1))`. Jitter spreads the retries of
/// parallel page streams so they do not hit a recovering server in lockstep.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let shift = retry.saturating_sub(1).min(32);
    let ceiling = policy
        .initial_backoff_ms
        .saturating_mul(1u64 << shift)
        .min(policy.max_backoff_ms);
    let ms = if ceiling == 0 {
        0
    } else {
        rand::rng().random_range(0..=ceiling)
    };
    Duration::from_millis(ms)
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past
/// means "now". Unparseable values are ignored and normal back-off applies.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Retries left for one client. Shared by every request and page stream of the client, so a
/// partner that is down costs at most `budget` retries per run, not `budget` per page.
#[derive(Debug)]
pub(crate) struct Budget {
    total: u32,
    left: AtomicU32,
}

impl Budget {
    pub(crate) fn new(total: u32) -> Self {
        Self {
            total,
            left: AtomicU32::new(total),
        }
    }

    pub(crate) fn total(&self) -> u32 {
        self.total
    }

    pub(crate) fn remaining(&self) -> u32 {
        self.left.load(Ordering::Relaxed)
    }

    /// Takes one retry; `false` when none are left.
    pub(crate) fn try_take(&self) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy {
            initial_backoff_ms: 100,
            max_backoff_ms: 250,
            ..RetryPolicy::default()
        };
        for retry in 1..40 {
            assert!(backoff(&p, retry) <= Duration::from_millis(250));
        }
        for _ in 0..50 {
            assert!(backoff(&p, 1) <= Duration::from_millis(100));
        }
    }

    #[test]
    fn retry_after_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn budget_runs_out() {
        let b = Budget::new(2);
        assert!(b.try_take() && b.try_take());
        assert!(!b.try_take());
        assert_eq!(b.remaining(), 0);
    }
}
