//! [`EesSource`]: walks the configured data sets one after another. For each: the data set
//! summary (status, latest version) → the version to read → `meta` at that exact version →
//! names resolved to ids → `query` page by page. Every request goes through the source's
//! [`HttpClient`], which owns retries, rate limits and auth.
//!
//! Paging follows the query response's own `paging` object (`page`, `totalResults`,
//! `totalPages`) rather than the client's generic page walk: the connector needs the totals
//! to prove it read every row, and the client's `pagination` setting belongs to whoever
//! built the client. So the connector asks for page 1, 2, ... up to `totalPages` with one
//! `get_json` each, and holds one page at a time.

use futures::stream::{self, Stream, StreamExt};
use sendlake_extract::records::SourceRecord;
use sendlake_http::{HttpClient, HttpError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::config::{EesConfig, EesDataSetConfig};
use crate::error::{EesError, EesReason};
use crate::meta::{Meta, QueryPage, Resolved, Summary, Unresolved, VersionList, resolve};
use crate::record::DataSetContext;
use crate::version::{self, Latest, Listed};

/// Pages of the version list we read at most (20 versions a page): far beyond any real data
/// set, and a bound on a server whose `totalPages` never ends.
const MAX_VERSION_PAGES: u64 = 50;

/// The EES connector for one source: a client and the data sets to read with it.
#[derive(Debug, Clone)]
pub struct EesSource {
    client: HttpClient,
    config: EesConfig,
}

/// Where the walk has got to.
enum State {
    /// Start data set `n` (or end, past the last).
    Next(usize),
    /// Fetch the next query page of a prepared data set.
    Page(Box<Walk>),
}

/// One data set being read.
struct Walk {
    index: usize,
    title: String,
    version: String,
    resolved: Resolved,
    /// Next page to fetch (1-based, as the API counts).
    page: u64,
    /// From the first page; later pages must agree.
    total_results: Option<u64>,
    /// Rows received so far, kept or not.
    seen: u64,
}

/// A batch of stream items and where to go next; `None` ends the stream.
type Step = Option<(Vec<Result<SourceRecord, EesError>>, State)>;

impl EesSource {
    /// A source reading `config`'s data sets through `client`. The client's base URL is the
    /// API root (`https://api.education.gov.uk/statistics`, or the simulator's address); its
    /// `pagination` and `records` settings are not used.
    ///
    /// # Errors
    /// [`EesReason::Config`] listing every problem in `config` (see [`EesConfig::validate`]).
    pub fn new(client: HttpClient, config: EesConfig) -> Result<Self, EesError> {
        if let Err(message) = config.validate() {
            let data_set_id = config
                .data_sets
                .iter()
                .enumerate()
                .find(|(i, _)| message.contains(&format!("data_sets[{i}]")))
                .map(|(_, d)| d.id.clone())
                .unwrap_or_default();
            return Err(EesError {
                reason: EesReason::Config,
                data_set_id,
                endpoint: "config".into(),
                position: None,
                message,
                raw: None,
            });
        }
        Ok(Self { client, config })
    }

    /// The configuration this source reads.
    pub fn config(&self) -> &EesConfig {
        &self.config
    }

    /// Every record of every configured data set, in config order, then in the API's row
    /// order (time period descending), each row's indicators in config order.
    ///
    /// Requests are made only as the stream is polled, and at most one query page is held
    /// at a time. A row problem is yielded as an error of kind
    /// [`crate::EesErrorKind::Row`] and the stream goes on; a data set problem is one error
    /// of kind [`crate::EesErrorKind::DataSet`], after which the stream goes on with the
    /// next data set (so records of a data set that failed part-way are a partial read).
    pub fn records(&self) -> impl Stream<Item = Result<SourceRecord, EesError>> + Send + '_ {
        stream::unfold(State::Next(0), move |state| self.step(state)).flat_map(stream::iter)
    }

    async fn step(&self, state: State) -> Step {
        match state {
            State::Next(index) => {
                let ds = self.config.data_sets.get(index)?;
                match self.prepare(index, ds).await {
                    Ok(walk) => Some((Vec::new(), State::Page(Box::new(walk)))),
                    Err(e) => Some((vec![Err(e)], State::Next(index + 1))),
                }
            }
            State::Page(mut walk) => {
                let index = walk.index;
                let ds = self.config.data_sets.get(index)?;
                match self.page(ds, &mut walk).await {
                    Ok((items, true)) => Some((items, State::Page(walk))),
                    Ok((items, false)) => {
                        info!(
                            data_set = %ds.id,
                            version = %walk.version,
                            rows = walk.seen,
                            "EES data set read."
                        );
                        Some((items, State::Next(index + 1)))
                    }
                    Err(e) => Some((vec![Err(e)], State::Next(index + 1))),
                }
            }
        }
    }

    /// Summary, version, meta: everything before the first query page.
    async fn prepare(&self, index: usize, ds: &EesDataSetConfig) -> Result<Walk, EesError> {
        let base = format!("v1/data-sets/{}", ds.id);
        let summary: Summary = self
            .get(ds, &base, &[], "reading the data set summary")
            .await?;
        let pin_error = |message: String| fail(ds, EesReason::VersionPin, base.clone(), message);
        match summary.status.as_str() {
            "Withdrawn" => {
                return Err(pin_error(format!(
                    "the data set has been withdrawn{}",
                    superseded(&summary)
                )));
            }
            "Deprecated" => warn!(
                data_set = %ds.id,
                superseded_by = summary.superseding_data_set_id.as_deref().unwrap_or(""),
                "EES data set is deprecated and will receive no more updates."
            ),
            _ => {}
        }
        let latest = summary
            .latest_version
            .as_ref()
            .map(|l| l.version.clone())
            .ok_or_else(|| pin_error("the data set has no published version".into()))?;
        let version = match version::check_latest(ds.major_version, &latest) {
            Ok(Latest::Use) => latest,
            Ok(Latest::NewerMajor) => {
                let chosen = self.listed_version(ds, &base).await?;
                warn!(
                    data_set = %ds.id,
                    pinned_major = ds.major_version,
                    reading = %chosen,
                    latest = %latest,
                    "A newer major version of the EES data set exists; reading the pinned major."
                );
                chosen
            }
            Err(message) => return Err(pin_error(message)),
        };

        let meta_path = format!("{base}/meta");
        let meta_query = vec![("dataSetVersion".to_owned(), version.clone())];
        let meta: Meta = self
            .get(
                ds,
                &meta_path,
                &meta_query,
                "reading the data set's metadata",
            )
            .await?;
        let resolved = resolve(ds, &meta).map_err(|u| {
            let (reason, message) = match u {
                Unresolved::Unknown(problems) => (EesReason::UnknownName, problems.join("; ")),
                Unresolved::Meta(m) => (EesReason::Response, format!("unusable metadata: {m}")),
            };
            fail(ds, reason, endpoint(&meta_path, &meta_query), message)
        })?;
        info!(
            data_set = %ds.id,
            title = %summary.title,
            version = %version,
            indicators = resolved.indicators.len(),
            "Reading EES data set."
        );
        Ok(Walk {
            index,
            title: summary.title,
            version,
            resolved,
            page: 1,
            total_results: None,
            seen: 0,
        })
    }

    /// The newest usable version of the pinned major, from the version list.
    async fn listed_version(&self, ds: &EesDataSetConfig, base: &str) -> Result<String, EesError> {
        let path = format!("{base}/versions");
        let mut listed = Vec::new();
        let mut page = 1u64;
        loop {
            let query = vec![
                ("page".to_owned(), page.to_string()),
                ("pageSize".to_owned(), "20".to_owned()),
            ];
            let list: VersionList = self
                .get(ds, &path, &query, "listing the data set's versions")
                .await?;
            let empty = list.results.is_empty();
            listed.extend(list.results.into_iter().map(|v| Listed {
                version: v.version,
                status: v.status,
            }));
            if empty || page >= list.paging.total_pages || page >= MAX_VERSION_PAGES {
                break;
            }
            page += 1;
        }
        let chosen = version::pick(ds.major_version, &listed)
            .map_err(|m| fail(ds, EesReason::VersionPin, path.clone(), m))?;
        if chosen.status == "Deprecated" {
            warn!(
                data_set = %ds.id,
                version = %chosen.version,
                "The pinned EES version is deprecated and will stop being served."
            );
        }
        Ok(chosen.version.clone())
    }

    /// Fetches and converts one query page; `true` when more pages follow.
    async fn page(
        &self,
        ds: &EesDataSetConfig,
        walk: &mut Walk,
    ) -> Result<(Vec<Result<SourceRecord, EesError>>, bool), EesError> {
        let path = format!("v1/data-sets/{}/query", ds.id);
        let mut query = vec![("dataSetVersion".to_owned(), walk.version.clone())];
        query.extend(walk.resolved.query.iter().cloned());
        query.push(("page".to_owned(), walk.page.to_string()));
        query.push(("pageSize".to_owned(), ds.page_size.to_string()));
        let shown = endpoint(&path, &query);
        let body: QueryPage = self
            .get(ds, &path, &query, &format!("querying page {}", walk.page))
            .await?;
        let paging = &body.paging;
        let inconsistent = |message: String| fail(ds, EesReason::Response, shown.clone(), message);
        if paging.page != walk.page {
            return Err(inconsistent(format!(
                "asked for page {} but the response is page {}",
                walk.page, paging.page
            )));
        }
        // Totals must hold still across pages: if they move, rows have shifted between pages
        // and some may have been skipped or read twice.
        let total = *walk.total_results.get_or_insert(paging.total_results);
        if paging.total_results != total {
            return Err(inconsistent(format!(
                "the total changed from {total} to {} rows between pages",
                paging.total_results
            )));
        }
        let more = walk.page < paging.total_pages;
        if body.results.is_empty() && more {
            return Err(inconsistent(format!(
                "page {} of {} is empty",
                walk.page, paging.total_pages
            )));
        }
        for w in &body.warnings {
            warn!(data_set = %ds.id, code = %w.code, message = %w.message, "EES query warning.");
        }
        debug!(
            data_set = %ds.id,
            page = walk.page,
            total_pages = paging.total_pages,
            rows = body.results.len(),
            "EES query page."
        );

        let ctx = DataSetContext {
            id: &ds.id,
            title: &walk.title,
            version: &walk.version,
            resolved: &walk.resolved,
            endpoint: &shown,
        };
        let mut out = Vec::with_capacity(body.results.len() * walk.resolved.indicators.len());
        for (i, row) in body.results.iter().enumerate() {
            ctx.row(row, walk.page, i + 1, &mut out);
        }
        walk.seen += body.results.len() as u64;
        if !more && walk.seen != total {
            out.push(Err(inconsistent(format!(
                "the API announced {total} rows but sent {}",
                walk.seen
            ))));
        }
        walk.page += 1;
        Ok((out, more))
    }

    /// One GET through the client, parsed as `T`.
    async fn get<T: DeserializeOwned>(
        &self,
        ds: &EesDataSetConfig,
        path: &str,
        query: &[(String, String)],
        what: &str,
    ) -> Result<T, EesError> {
        let shown = endpoint(path, query);
        let body: Value = self
            .client
            .get_json(path, query)
            .await
            .map_err(|e| http_error(ds, &shown, what, &e))?;
        serde_json::from_value(body).map_err(|e| {
            fail(
                ds,
                EesReason::Response,
                shown,
                format!("{what}: the response is not the documented shape: {e}"),
            )
        })
    }
}

fn superseded(summary: &Summary) -> String {
    summary
        .superseding_data_set_id
        .as_deref()
        .map(|id| format!("; it is superseded by data set `{id}`"))
        .unwrap_or_default()
}

fn fail(ds: &EesDataSetConfig, reason: EesReason, endpoint: String, message: String) -> EesError {
    EesError {
        reason,
        data_set_id: ds.id.clone(),
        endpoint,
        position: None,
        message,
        raw: None,
    }
}

/// `path?k=v&...` for messages. Unencoded, for reading; the client sends it encoded.
fn endpoint(path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}", pairs.join("&"))
}

/// A failed request as a data set error, with the client's redacted URL when it has one.
fn http_error(ds: &EesDataSetConfig, shown: &str, what: &str, e: &HttpError) -> EesError {
    let url = match e {
        HttpError::InvalidUrl { url, .. }
        | HttpError::InsecureUrl { url, .. }
        | HttpError::Rejected { url, .. }
        | HttpError::AttemptsExhausted { url, .. }
        | HttpError::BudgetExhausted { url, .. }
        | HttpError::Shape { url, .. }
        | HttpError::Pagination { url, .. }
        | HttpError::Client { url, .. } => url.clone(),
        _ => shown.to_owned(),
    };
    fail(ds, EesReason::Http, url, format!("{what} failed: {e}"))
}
