//! What the tests of every sendlake crate share, in the manner of delta-rs's `crates/test`:
//!
//! - [`lake`]: a temp [`TestLake`](lake::TestLake), reading tables back as
//!   [`Table`](lake::Table)s and [`Row`](lake::Row)s, and the batch helpers ([`lake::rows`],
//!   [`lake::strings`], [`lake::content`]);
//! - [`tables`]: a batch of a declared table's exact Arrow schema from rows of text values, and
//!   committing it, so a test names only the values it is about;
//! - [`workspace`]: a temp folder with per-source inputs and a lake, for end-to-end runs;
//! - [`sim`]: the partner simulator on a loopback port, with test-sized data and fast retries;
//! - [`clock`]: a [`FixedClock`](clock::FixedClock) to run a night at a chosen time;
//! - [`golden`]: the one golden-file check (`UPDATE_EXPECT=1` rewrites the files).
//!
//! A dev-dependency only: nothing here is in a release build. It sits below the crates whose
//! tests use it (schema, load, sim, http), so their integration tests and this crate link the
//! same library; a crate's unit tests (`src/**/tests.rs`) cannot use it for the same reason.

// Test support: a failed set-up step is a failed test, so panicking is the error handling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

pub mod clock;
pub mod golden;
pub mod lake;
pub mod sim;
pub mod tables;
pub mod workspace;

pub use clock::FixedClock;
pub use golden::assert_golden;
pub use lake::{Row, Table, TestLake, content, rows, strings};
pub use workspace::Workspace;

/// The workspace's root folder (`pipelines/`, `schemas/`, `docs/` are below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a future to completion on a fresh current-thread runtime (for synchronous tests).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A multi-threaded runtime, as the `sendlake` binary runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}
