//! [`EesError`]: every failure names the data set, the endpoint and what went wrong, and says
//! whether it costs the whole data set or one row, so the pipeline can quarantine a row and
//! go on, or mark the data set stale.

use sendlake_extract::records::{Origin, RecordError, RecordErrorKind};

/// How much an error loses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EesErrorKind {
    /// The data set cannot be read (or finished): configuration, HTTP, version pin, metadata
    /// or paging problems. The stream goes on with the next configured data set; records of
    /// this one that came before the error are a partial read.
    DataSet,
    /// One result row (or one indicator value in it) cannot be turned into records; the
    /// stream goes on with the next.
    Row,
}

/// Why, as a reason code the quarantine can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EesReason {
    /// The source's EES config is invalid.
    Config,
    /// A request failed for good: the HTTP client's retries ran out, or the API refused it
    /// (a 404 for an unknown data set, a 400 for a bad query).
    Http,
    /// The pinned major version does not exist (or no longer does), or the data set has no
    /// usable version (withdrawn, never published).
    VersionPin,
    /// The config names an indicator, filter, option, geographic level, location or time
    /// period the data set's metadata does not have.
    UnknownName,
    /// A response is not the shape the OpenAPI description documents, or paging is
    /// inconsistent (totals changing between pages, fewer rows than announced).
    Response,
    /// A result row is malformed or refers to ids its metadata does not define.
    Row,
    /// An indicator value is neither a number nor a known symbol.
    Value,
}

impl EesReason {
    /// The reason code, e.g. `EES_VERSION_PIN`.
    pub fn code(self) -> &'static str {
        match self {
            EesReason::Config => "EES_CONFIG",
            EesReason::Http => "EES_HTTP",
            EesReason::VersionPin => "EES_VERSION_PIN",
            EesReason::UnknownName => "EES_UNKNOWN_NAME",
            EesReason::Response => "EES_RESPONSE",
            EesReason::Row => "EES_ROW",
            EesReason::Value => "EES_VALUE",
        }
    }

    /// Whole data set or one row.
    pub fn kind(self) -> EesErrorKind {
        match self {
            EesReason::Row | EesReason::Value => EesErrorKind::Row,
            _ => EesErrorKind::DataSet,
        }
    }
}

/// Something the connector could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "EES data set `{data_set_id}`{}: {message} [{endpoint}]",
    at(.position)
)]
pub struct EesError {
    /// Why; also decides [`EesError::kind`].
    pub reason: EesReason,
    /// The configured data set id (empty only for a config with no data sets).
    pub data_set_id: String,
    /// The request concerned: the client's redacted URL when a request failed, otherwise the
    /// path and query the connector built (it never holds credentials: the client adds
    /// those).
    pub endpoint: String,
    /// For row problems, `page N item M` of the query walk.
    pub position: Option<String>,
    /// What went wrong, naming the key, indicator or value concerned.
    pub message: String,
    /// For row problems, the result row as the API sent it (public statistics and opaque
    /// ids, no personal data), for the quarantine. Boxed to keep the error small enough to
    /// pass around in `Result`s cheaply.
    pub raw: Option<Box<str>>,
}

fn at(position: &Option<String>) -> String {
    position
        .as_ref()
        .map(|p| format!(" {p}"))
        .unwrap_or_default()
}

impl EesError {
    /// Whole data set or one row.
    pub fn kind(&self) -> EesErrorKind {
        self.reason.kind()
    }

    /// The same problem as the record-level error every source reports, so EES problems go
    /// to the same quarantine as file sources'. A data set failure maps to
    /// [`RecordErrorKind::File`], a row problem to [`RecordErrorKind::Record`].
    pub fn to_record_error(&self) -> RecordError {
        RecordError {
            kind: match self.kind() {
                EesErrorKind::DataSet => RecordErrorKind::File,
                EesErrorKind::Row => RecordErrorKind::Record,
            },
            reason: self.reason.code(),
            origin: Origin {
                location: format!("ees:{}", self.data_set_id),
                position: self.position.clone().unwrap_or_default(),
            },
            message: format!("{} [{}]", self.message, self.endpoint),
            raw: self.raw.as_deref().map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_reasons_and_map_to_record_errors() {
        let e = EesError {
            reason: EesReason::Value,
            data_set_id: "ds1".into(),
            endpoint: "v1/data-sets/ds1/query?page=2".into(),
            position: Some("page 2 item 3".into()),
            message: "bad value".into(),
            raw: Some("{}".into()),
        };
        assert_eq!(e.kind(), EesErrorKind::Row);
        assert_eq!(
            e.to_string(),
            "EES data set `ds1` page 2 item 3: bad value [v1/data-sets/ds1/query?page=2]"
        );
        let r = e.to_record_error();
        assert_eq!(r.kind, RecordErrorKind::Record);
        assert_eq!(r.reason, "EES_VALUE");
        assert_eq!(r.origin.location, "ees:ds1");

        let e = EesError {
            reason: EesReason::VersionPin,
            position: None,
            raw: None,
            ..e
        };
        assert_eq!(e.kind(), EesErrorKind::DataSet);
        assert_eq!(e.to_record_error().kind, RecordErrorKind::File);
        assert!(!e.to_string().contains("item"));
        for r in [
            EesReason::Config,
            EesReason::Http,
            EesReason::UnknownName,
            EesReason::Response,
        ] {
            assert_eq!(r.kind(), EesErrorKind::DataSet);
        }
        assert_eq!(EesReason::Row.kind(), EesErrorKind::Row);
    }
}
