//! End-to-end tests of sendlake-http against a small axum server on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod config;
mod paging;
mod retry;
mod security;
mod support;
