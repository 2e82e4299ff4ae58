//! The DfE Explore Education Statistics (EES) API connector: published statistics (EHC plans,
//! 20-week timeliness, SEN in England, ...) as a stream of flat records, one per result row
//! and indicator, ready for the same declarative mapping as every other source.
//!
//! # Brief overview
//!
//! - [`EesConfig`] is what a source's TOML says: a list of [`EesDataSetConfig`], each an API
//!   data set id, a pinned `major_version`, and the slice to read by the names a person sees
//!   in the data set's metadata (indicator and filter columns, option labels, geographic
//!   level codes, ONS/LA location codes, [`EesTimePeriods`]). `deny_unknown_fields`
//!   throughout; [`EesConfig::validate`] checks the rest before any request.
//! - [`EesSource::new`] takes a [`sendlake_http::HttpClient`] (base URL = the API root) and
//!   the config. [`EesSource::records`] is a lazy stream: per data set, the summary picks the
//!   latest version of the pinned major, `meta` at that version turns names into the API's
//!   opaque ids (an unknown name fails the data set, listing what meta offers), then the GET
//!   `query` endpoint is read page by page until the `paging` object's last page. One page
//!   is held at a time; every request goes through the client (retries, rate limits, auth).
//! - Each row becomes [`sendlake_extract::records::SourceRecord`]s whose `value` is a flat
//!   object with the fields in [`FIXED_FIELDS`] plus `filter_<column>` per filter column;
//!   `value` is a number or null and `status` the [`Symbol`] code (`""` for a number). The
//!   origin is `ees:{data_set_id}`, `page N item M`. [`filter_key`] gives rows a stable key.
//! - [`EesError`] names the data set, the endpoint and the problem; its [`EesErrorKind`] says
//!   whether a whole data set failed (the stream moves to the next one) or one row did (the
//!   stream goes on), and [`EesError::to_record_error`] hands it to the common quarantine.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::TryStreamExt;
//! use sendlake_ees::{EesConfig, EesDataSetConfig, EesSource};
//!
//! let http = sendlake_http::HttpSourceConfig::new("https://api.education.gov.uk/statistics");
//! let client = sendlake_http::HttpClient::new("dfe_ees", &http)?;
//! // The "API data set ID" shown on the data set's data catalogue page.
//! let api_data_set_id = std::env::var("EES_TIMELINESS_DATA_SET")?;
//! let mut timeliness = EesDataSetConfig::new(api_data_set_id, 1);
//! timeliness.indicators = vec!["pc_within_20_weeks".into()];
//! timeliness.locations = vec!["919".into(), "E12000006".into(), "E92000001".into()];
//! let source = EesSource::new(client, EesConfig { data_sets: vec![timeliness] })?;
//! let mut records = std::pin::pin!(source.records());
//! while let Some(record) = records.try_next().await? {
//!     let _row = record.value; // {"la_code": "919", "indicator": "pc_within_20_weeks", ...}
//! }
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod codes;
mod config;
mod error;
mod meta;
mod record;
mod source;
mod version;

pub use codes::FIXED_FIELDS;
pub use config::{EesConfig, EesDataSetConfig, EesTimePeriods, MAX_PAGE_SIZE};
pub use error::{EesError, EesErrorKind, EesReason};
pub use source::EesSource;
// The DfE's open data conventions live with the file readers, which share them.
pub use sendlake_extract::records::{CellValue, Symbol, filter_key};
