//! The KPI models checked against figures worked out by hand: each test writes a handful of
//! SEN2 rows into a temp lake, builds the real model project (`pipelines/models`) and reads
//! the published KPI tables. The comment above each assertion shows the arithmetic; the
//! numbers are never recomputed with the models' own logic.
//!
//! Every test child lives in LA 919 (Hertfordshire). Postcode districts used: SG1 (Stevenage,
//! E07000243, DSPL2, North) and AL1 (St Albans, E07000240, DSPL7, South).
//! Suppression is off (`suppress_max = 0`) except in the test that checks it.
//!
//! The tests are grouped by subject, one module each; the keys they look rows up by are in
//! `keys`, the lake, inputs and lookups in `tests/support/` (shared with `dfe_kpis.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// tests/support/mod.rs: from here a plain `mod support;` would look in tests/kpis/.
#[path = "../support/mod.rs"]
mod support;

mod keys;

mod ceased;
mod census;
mod checks;
mod districts;
mod requests;
mod timeliness;
