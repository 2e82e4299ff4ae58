//! Timing for the bench examples (`parse_bench`, `conform_bench`), written once: each example
//! includes this file with `#[path]`, since examples of two crates share no library.

use std::time::Instant;

/// CPU time of this thread in seconds (Linux), so that a busy machine skews results less
/// than wall time; `None` elsewhere.
pub fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

/// Runs `f`, returning its result and its (CPU if available, else wall) time in seconds.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let (cpu, wall) = (thread_cpu_secs(), Instant::now());
    let out = f();
    let secs = match (cpu, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall.elapsed().as_secs_f64(),
    };
    (out, secs)
}
