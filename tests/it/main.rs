//! End-to-end tests: SEN2 files in, Delta lake out. One binary, modules by topic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

mod bad_input;
mod contract;
mod crash;
mod idempotence;
mod mutations;
mod privacy;
mod roundtrip;
mod rules;
mod third_party_mock;
