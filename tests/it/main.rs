//! End-to-end tests: SEN2 files in, Delta lake out; the HTTP client against the partner
//! simulator. One binary, modules by topic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

mod azure;
mod bad_input;
mod clock;
mod contract;
mod crash;
mod declared_sources;
mod deploy;
mod dictionary;
mod disclosure;
mod idempotence;
mod kpi_oracle;
mod logs;
mod models;
mod mutations;
mod partner_apis;
mod powerbi;
mod privacy;
mod published;
mod report;
mod retention;
mod roundtrip;
mod rules;
mod s3;
mod source_fixtures;
mod store_runs;
mod third_party_mock;
