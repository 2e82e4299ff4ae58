//! The sources a run loads, one module per kind. SEN2 returns (XML files) are here; partner
//! sources (REST, files, EES) still run through `records.rs` until they move behind the same
//! seam (issue 16).

pub(crate) mod sen2;
