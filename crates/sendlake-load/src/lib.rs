//! Load stage: staged Parquet files during a run, then one atomic, Power BI-safe Delta commit
//! per table at the end.
//!
//! The main types and how they connect:
//!
//! * [`Lake`] is the store root: a local directory, or an Azure (ADLS Gen2 / Blob / OneLake)
//!   or S3-compatible object store ([`store`] registers them with delta-rs; credentials come
//!   from the environment). It maps a [`Zone`] and table name to a table URI
//!   (`<root>/<zone>/<name>`) and stores small documents such as run records atomically
//!   ([`Lake::write_json`], [`Lake::read_json`]), with a create-if-absent write
//!   ([`Lake::create_new`]) for the run lock, and listing ([`Lake::list`]).
//! * [`StagingArea`] is a per-run temporary directory. Its [`StagedTableWriter`]s stream
//!   conformed Arrow batches into local Parquet part files, already in the published format
//!   (ZSTD, dictionaries, page statistics), so memory stays bounded at national scale and
//!   nothing is encoded twice. [`StagedTableWriter::finish`] yields a
//!   [`StagedPart`]; [`StagedTableWriter::abort`] deletes the file when a source turns out to
//!   be bad and is quarantined whole.
//! * At the end of the run the pipeline builds one [`TableCommit`] per table (schema, parts,
//!   [`WriteMode`], run id) and calls [`commit_table`]. It copies the staged row groups byte
//!   for byte into one data file per table (splitting at 512 MiB), rewrites only files that
//!   hold both replaced and kept rows, and commits removals and additions as a single table
//!   version through delta-rs's transaction API ([`CommitOutcome`]).
//!   `WriteMode::ReplaceWhere` replaces the rows of the submissions loaded in this run, so
//!   re-loading a submission replaces it instead of duplicating it.
//! * [`read_table`], [`table_version`] and [`count_rows`] read tables back for checks.
//! * Retention ([`vacuum_table`], [`delete_older_than`], [`purge_table`]): vacuuming (full
//!   mode: also files a crashed run never committed) and expiring old log entries, so versions
//!   older than the policy are really gone ([`VacuumOutcome`]); deleting expired rows in one
//!   commit, then purging the older versions that still hold them.
//!
//! Every table written here keeps the Power BI-safe profile: Delta protocol reader 1 /
//! writer 2 with no table features, no partitioning, flat columns only, `Date32` dates and
//! `Timestamp(Microsecond, "UTC")` timestamps (Parquet `TIMESTAMP(MICROS, true)`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod assemble;
mod commit;
mod error;
mod lake;
mod profile;
mod retention;
mod staging;
mod stats;
pub mod store;

pub use commit::{
    CommitOutcome, TableCommit, WriteMode, commit_table, count_rows, latest_commit_value,
    read_table, table_version,
};
pub use error::{Error, Result};
pub use lake::{Lake, StoredObject, Zone};
pub use retention::{VacuumOutcome, delete_older_than, purge_table, vacuum_table};
pub use staging::{StagedPart, StagedTableWriter, StagingArea};

#[cfg(test)]
mod tests;
