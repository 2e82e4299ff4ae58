//! Run locks in the store, so two runs never write the same tables at once: a nightly job
//! that overruns into the next night, a second scheduler, or an operator's manual re-run.
//!
//! A run takes one lock per *unit* it will write: `source-<name>` for each source it reads
//! and `models` when it builds the models. A full run takes them all; the pods of a fan-out
//! (one source each, then one model build) take disjoint sets and run side by side.
//!
//! Each lock is a small JSON document at `_locks/<unit>.json`, created with a create-if-absent
//! write (atomic on local disk, Azure and S3), naming the run, host and process. While the run
//! lives it refreshes `heartbeat_at`. A lock is **stale** when its heartbeat is older than the
//! pipeline's `run.lock_stale_after_secs`, or when it was taken on this host by a process that
//! no longer exists; a new run takes a stale lock over and says whose it was. A live lock
//! refuses the run ([`LockError::Held`], exit code 4) with the holder and the way out:
//! `sendlake unlock PIPELINE --run <id>` when the operator knows that run is dead.
//!
//! Locks and Delta commits both rest on the store refusing a create-if-absent write to a path
//! that exists. Some S3-compatible stores ignore `If-None-Match: *` and overwrite instead, so
//! [`check_conditional_writes`] probes a remote store before a run writes to it.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sendlake_load::Lake;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// Folder of the lock documents in the store.
pub const LOCK_DIR: &str = "_locks";

/// What a lock document says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    /// The unit locked: `source-<name>` or `models`.
    pub unit: String,
    /// Run holding it.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Host name of the holder (a pod name on Kubernetes).
    pub host: String,
    /// Process id of the holder on that host.
    pub pid: u32,
    /// When the lock was taken (RFC 3339, UTC).
    pub acquired_at: String,
    /// Last sign of life (RFC 3339, UTC).
    pub heartbeat_at: String,
}

impl LockInfo {
    fn heartbeat(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.heartbeat_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Why the lock is stale, or `None` while its holder may still be running.
    pub fn stale_reason(&self, now: DateTime<Utc>, stale_after: Duration) -> Option<String> {
        if self.host == host_name() && self.pid != std::process::id() && !process_alive(self.pid) {
            return Some(format!(
                "process {} on this host ({}) no longer exists",
                self.pid, self.host
            ));
        }
        let age = self
            .heartbeat()
            .map(|t| (now - t).to_std().unwrap_or_default());
        match age {
            None => Some(format!(
                "its heartbeat {:?} is unreadable",
                self.heartbeat_at
            )),
            Some(age) if age > stale_after => Some(format!(
                "no heartbeat for {}s (stale after {}s)",
                age.as_secs(),
                stale_after.as_secs()
            )),
            Some(_) => None,
        }
    }
}

/// Why the locks could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live run holds a lock this run needs.
    #[error(
        "the store is locked: run {} (pipeline {}, host {}, pid {}) holds `{}` since {}, last heartbeat {}. \
         Wait for it to finish. If that run is dead, `sendlake unlock PIPELINE --run {}` releases its locks \
         (a lock also expires after {}s without a heartbeat)",
        .0.run_id, .0.pipeline, .0.host, .0.pid, .0.unit, .0.acquired_at, .0.heartbeat_at, .0.run_id, .1
    )]
    Held(Box<LockInfo>, u64),
    /// The store could not be read or written.
    #[error("lock `{0}`: {1}")]
    Store(String, String),
    /// The store overwrites on a create-if-absent write: nothing on it would be atomic.
    #[error("{0}")]
    NotAtomic(String),
}

/// Locks held by this run, refreshed in the background until [`RunLocks::release`].
pub struct RunLocks {
    lake: Lake,
    held: Vec<LockInfo>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    /// Stale locks this run took over, for the manifest.
    pub recovered: Vec<String>,
}

/// Lets a run go on against a store that ignores conditional writes. Only for a store that one
/// process can ever write to (an emulator in a test): with two writers, each would overwrite
/// the other's locks and Delta commits.
pub const UNSAFE_NO_CONDITIONAL_WRITES: &str = "SENDLAKE_UNSAFE_NO_CONDITIONAL_WRITES";

/// Checks that a remote store refuses a create-if-absent write to an existing path, by
/// creating a probe object twice (and deleting it). Local disk always does.
///
/// # Errors
/// [`LockError::NotAtomic`] when the store overwrote the probe (unless
/// [`UNSAFE_NO_CONDITIONAL_WRITES`] is set, which only warns); [`LockError::Store`] when it
/// could not be written.
pub async fn check_conditional_writes(lake: &Lake) -> Result<(), LockError> {
    if lake.is_local() {
        return Ok(());
    }
    let probe = format!("{LOCK_DIR}/.probe-{:016x}", rand::random::<u64>());
    let store_err = |e: sendlake_load::Error| LockError::Store("probe".into(), e.to_string());
    let first = lake.create_new(&probe, b"probe").await.map_err(store_err)?;
    let second = lake.create_new(&probe, b"probe").await.map_err(store_err);
    // Removed whatever the answer: a leftover probe is harmless, but untidy.
    if let Err(e) = lake.delete(&probe).await {
        warn!(error = %e, "Could not delete the store probe.");
    }
    if !first || !second? {
        return Ok(());
    }
    let why = format!(
        "the store {} overwrote an existing object on a create-if-absent write (it ignores `If-None-Match: *`): run locks and Delta commits on it would not be atomic, and two runs could overwrite each other's commits. Use a store that honours conditional writes (Azure Blob / ADLS Gen2, Amazon S3, MinIO, Cloudflare R2), or, only where a single process can ever write to it, set {UNSAFE_NO_CONDITIONAL_WRITES}=1",
        lake.root_uri()
    );
    let allowed = std::env::var(UNSAFE_NO_CONDITIONAL_WRITES)
        .is_ok_and(|v| matches!(v.as_str(), "1" | "true"));
    if allowed {
        warn!(store = %lake.root_uri(), "{UNSAFE_NO_CONDITIONAL_WRITES} is set: going on against a store without conditional writes; never run two jobs against it.");
        return Ok(());
    }
    Err(LockError::NotAtomic(why))
}

/// The lock unit of a source: each source's tables and cursors are written under one.
pub fn source_unit(source: &str) -> String {
    format!("source-{source}")
}

/// The lock unit of the model build (every model and published table).
pub const MODELS_UNIT: &str = "models";

/// Every unit of a pipeline: whoever holds them all has the lake to itself (retention).
pub fn pipeline_units(plan: &crate::PipelinePlan) -> Vec<String> {
    let mut units: Vec<String> = plan.sources.iter().map(|s| source_unit(s.name())).collect();
    if plan.models.is_some() {
        units.push(MODELS_UNIT.to_owned());
    }
    units
}

fn path(unit: &str) -> String {
    format!("{LOCK_DIR}/{unit}.json")
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The locks currently in the store (unreadable documents are reported as errors).
///
/// # Errors
/// The store could not be listed or read.
pub async fn list(lake: &Lake) -> Result<Vec<LockInfo>, LockError> {
    let objects = lake
        .list(LOCK_DIR)
        .await
        .map_err(|e| LockError::Store(LOCK_DIR.into(), e.to_string()))?;
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o.path.ends_with(".json")) {
        if let Some(info) = read(lake, &o.path).await? {
            out.push(info);
        }
    }
    Ok(out)
}

async fn read(lake: &Lake, path: &str) -> Result<Option<LockInfo>, LockError> {
    let bytes = lake
        .read_bytes(path)
        .await
        .map_err(|e| LockError::Store(path.into(), e.to_string()))?;
    match bytes {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| LockError::Store(path.into(), format!("unreadable lock document: {e}"))),
    }
}

impl RunLocks {
    /// Takes every lock in `units` for `run_id`, taking over stale ones. All or nothing: on
    /// a live lock the ones already taken are released before the error returns.
    ///
    /// # Errors
    /// [`LockError::Held`] when a live run holds one of them; [`LockError::Store`] when the
    /// store fails.
    pub async fn acquire(
        lake: &Lake,
        units: &[String],
        run_id: &str,
        pipeline: &str,
        stale_after: Duration,
    ) -> Result<RunLocks, LockError> {
        let mut locks = RunLocks {
            lake: lake.clone(),
            held: Vec::new(),
            heartbeat: None,
            recovered: Vec::new(),
        };
        for unit in units {
            let taken = locks.take(unit, run_id, pipeline, stale_after).await;
            if let Err(e) = taken {
                locks.release().await;
                return Err(e);
            }
        }
        locks.start_heartbeat(stale_after);
        Ok(locks)
    }

    async fn take(
        &mut self,
        unit: &str,
        run_id: &str,
        pipeline: &str,
        stale_after: Duration,
    ) -> Result<(), LockError> {
        let now = now_text();
        let info = LockInfo {
            unit: unit.to_owned(),
            run_id: run_id.to_owned(),
            pipeline: pipeline.to_owned(),
            host: host_name(),
            pid: std::process::id(),
            acquired_at: now.clone(),
            heartbeat_at: now,
        };
        let doc = serde_json::to_vec_pretty(&info)
            .map_err(|e| LockError::Store(unit.into(), e.to_string()))?;
        let p = path(unit);
        // Two attempts: the second after taking over a stale lock. If another run takes
        // it over in between, the create fails again and that run is reported as the holder.
        for _ in 0..2 {
            let created = self
                .lake
                .create_new(&p, &doc)
                .await
                .map_err(|e| LockError::Store(unit.into(), e.to_string()))?;
            if created {
                self.held.push(info);
                return Ok(());
            }
            let Some(holder) = read(&self.lake, &p).await? else {
                // Released between our create and our read: try again.
                continue;
            };
            match holder.stale_reason(Utc::now(), stale_after) {
                None => {
                    return Err(LockError::Held(Box::new(holder), stale_after.as_secs()));
                }
                Some(reason) => {
                    warn!(
                        lock = %unit,
                        stale_run = %holder.run_id,
                        host = %holder.host,
                        pid = holder.pid,
                        %reason,
                        "Taking over a stale lock: that run did not finish, and this run repairs what it left."
                    );
                    self.recovered.push(format!(
                        "{unit}: run {} (host {}, pid {}): {reason}",
                        holder.run_id, holder.host, holder.pid
                    ));
                    self.lake
                        .delete(&p)
                        .await
                        .map_err(|e| LockError::Store(unit.into(), e.to_string()))?;
                }
            }
        }
        let holder = read(&self.lake, &p).await?.ok_or_else(|| {
            LockError::Store(unit.into(), "lock kept changing hands; try again".into())
        })?;
        Err(LockError::Held(Box::new(holder), stale_after.as_secs()))
    }

    /// Refreshes `heartbeat_at` a few times per stale period, so a live run's locks never
    /// look stale, whatever its length.
    fn start_heartbeat(&mut self, stale_after: Duration) {
        if self.held.is_empty() {
            return;
        }
        let lake = self.lake.clone();
        let held = self.held.clone();
        let every = (stale_after / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        self.heartbeat = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                for lock in &held {
                    let mut info = lock.clone();
                    info.heartbeat_at = now_text();
                    let written = match serde_json::to_value(&info) {
                        Ok(v) => lake.write_json(&path(&info.unit), &v).await.err(),
                        Err(e) => Some(sendlake_load::Error::from(e)),
                    };
                    if let Some(e) = written {
                        warn!(lock = %info.unit, error = %e, "Could not refresh the run lock's heartbeat.");
                    }
                }
            }
        }));
    }

    /// Names of the units held.
    pub fn units(&self) -> Vec<String> {
        self.held.iter().map(|l| l.unit.clone()).collect()
    }

    /// Stops the heartbeat and deletes this run's lock documents (only those still ours).
    pub async fn release(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
            let _ = h.await;
        }
        for lock in std::mem::take(&mut self.held) {
            let p = path(&lock.unit);
            match read(&self.lake, &p).await {
                Ok(Some(now)) if now.run_id == lock.run_id => {
                    if let Err(e) = self.lake.delete(&p).await {
                        warn!(lock = %lock.unit, error = %e, "Could not release the run lock; the next run will find it stale.");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(lock = %lock.unit, error = %e, "Could not read the run lock to release it.")
                }
            }
        }
    }
}

impl Drop for RunLocks {
    /// A run dropped without [`RunLocks::release`] (its future cancelled by a timeout, say)
    /// must not keep its locks fresh from a detached heartbeat: stopped, they go stale like a
    /// killed process's, and `sendlake unlock` or the stale takeover frees them.
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

/// Deletes every lock held by `run_id`; returns the units released.
///
/// # Errors
/// The store could not be read or written.
pub async fn unlock(lake: &Lake, run_id: &str) -> Result<Vec<String>, LockError> {
    let mut released = Vec::new();
    for lock in list(lake).await? {
        if lock.run_id == run_id {
            lake.delete(&path(&lock.unit))
                .await
                .map_err(|e| LockError::Store(lock.unit.clone(), e.to_string()))?;
            info!(lock = %lock.unit, run_id, "Lock released by hand.");
            released.push(lock.unit);
        }
    }
    Ok(released)
}

/// This machine's name: the pod name on Kubernetes, the host name elsewhere.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether a process with this id runs on this host. Where that cannot be told (no
/// `/proc`), it is assumed alive, so only the heartbeat can make the lock stale. A killed
/// process that its parent has not reaped yet (a zombie, state `Z`) is dead.
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.is_dir() {
        return true;
    }
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| !matches!(state, "Z" | "X" | "x")),
        Err(_) => false,
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn lake() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        (dir, lake)
    }

    const MINUTES: Duration = Duration::from_secs(600);

    #[tokio::test]
    async fn a_live_lock_refuses_a_second_run_naming_the_holder() {
        let (_d, lake) = lake();
        let units = vec!["source-a".to_owned(), "models".to_owned()];
        let mut first = RunLocks::acquire(&lake, &units, "run-1", "p", MINUTES)
            .await
            .unwrap();
        let err =
            match RunLocks::acquire(&lake, &["models".to_owned()], "run-2", "p", MINUTES).await {
                Err(e) => e,
                Ok(_) => panic!("second run took a live lock"),
            };
        let text = err.to_string();
        assert!(matches!(err, LockError::Held(..)));
        assert!(
            text.contains("run run-1") && text.contains("sendlake unlock"),
            "{text}"
        );
        // A run on other units goes ahead: fan-out pods do not block each other.
        let mut other = RunLocks::acquire(&lake, &["source-b".to_owned()], "run-3", "p", MINUTES)
            .await
            .unwrap();
        other.release().await;
        first.release().await;
        assert!(list(&lake).await.unwrap().is_empty());
        let mut again = RunLocks::acquire(&lake, &units, "run-4", "p", MINUTES)
            .await
            .unwrap();
        again.release().await;
    }

    #[tokio::test]
    async fn all_or_nothing_when_one_unit_is_held() {
        let (_d, lake) = lake();
        let mut holder = RunLocks::acquire(&lake, &["models".to_owned()], "run-1", "p", MINUTES)
            .await
            .unwrap();
        let units = vec!["source-a".to_owned(), "models".to_owned()];
        assert!(
            RunLocks::acquire(&lake, &units, "run-2", "p", MINUTES)
                .await
                .is_err()
        );
        let left: Vec<String> = list(&lake)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.run_id)
            .collect();
        assert_eq!(left, ["run-1"], "run-2 released what it had taken");
        holder.release().await;
    }

    #[tokio::test]
    async fn stale_locks_are_taken_over_and_reported() {
        let (_d, lake) = lake();
        // A crashed run on this host: a process id that does not exist.
        let dead = LockInfo {
            unit: "models".into(),
            run_id: "crashed".into(),
            pipeline: "p".into(),
            host: host_name(),
            pid: u32::MAX - 1,
            acquired_at: now_text(),
            heartbeat_at: now_text(),
        };
        lake.write_json("_locks/models.json", &serde_json::to_value(&dead).unwrap())
            .await
            .unwrap();
        let mut locks = RunLocks::acquire(&lake, &["models".to_owned()], "run-2", "p", MINUTES)
            .await
            .unwrap();
        assert_eq!(locks.recovered.len(), 1);
        assert!(
            locks.recovered[0].contains("crashed"),
            "{:?}",
            locks.recovered
        );
        locks.release().await;

        // Another host's run whose heartbeat stopped long ago.
        let old = LockInfo {
            host: "elsewhere".into(),
            pid: 1,
            heartbeat_at: "2020-01-01T00:00:00Z".into(),
            ..dead.clone()
        };
        lake.write_json("_locks/models.json", &serde_json::to_value(&old).unwrap())
            .await
            .unwrap();
        let mut locks = RunLocks::acquire(&lake, &["models".to_owned()], "run-3", "p", MINUTES)
            .await
            .unwrap();
        assert!(
            locks.recovered[0].contains("no heartbeat"),
            "{:?}",
            locks.recovered
        );
        locks.release().await;

        // Another host's live run is never taken over.
        let live = LockInfo {
            host: "elsewhere".into(),
            pid: 1,
            heartbeat_at: now_text(),
            ..dead
        };
        lake.write_json("_locks/models.json", &serde_json::to_value(&live).unwrap())
            .await
            .unwrap();
        assert!(
            RunLocks::acquire(&lake, &["models".to_owned()], "run-4", "p", MINUTES)
                .await
                .is_err()
        );
        assert_eq!(unlock(&lake, "crashed").await.unwrap(), ["models"]);
        assert!(list(&lake).await.unwrap().is_empty());
    }

    #[test]
    fn this_process_is_alive_and_a_missing_one_is_not() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX - 1));
    }

    #[tokio::test]
    async fn the_heartbeat_keeps_a_long_run_fresh() {
        let (_d, lake) = lake();
        // Refreshed every second (a quarter of the stale period, at least a second).
        let stale_after = Duration::from_secs(4);
        let mut locks = RunLocks::acquire(&lake, &["models".to_owned()], "run-1", "p", stale_after)
            .await
            .unwrap();
        let first = list(&lake).await.unwrap()[0].heartbeat_at.clone();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let later = list(&lake).await.unwrap()[0].clone();
        assert_ne!(later.heartbeat_at, first, "heartbeat refreshed");
        assert_eq!(later.run_id, "run-1");
        locks.release().await;
        assert!(list(&lake).await.unwrap().is_empty());
    }
}
