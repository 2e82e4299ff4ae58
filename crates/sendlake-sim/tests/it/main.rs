//! Integration tests of sendlake-sim: one binary (see reference/style.md), one module per
//! concern. `support` holds an independent reader of generated files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calibration;
mod counts;
mod defects;
mod determinism;
mod openapi;
mod rules;
mod serve;
mod support;
mod timing;
mod xsd;
