//! The API's JSON shapes the connector reads (OpenAPI `DataSetViewModel`,
//! `DataSetMetaViewModel`, `DataSetQueryPaginatedResultsViewModel`, ...), and the resolution of
//! a data set's config against its metadata: names → opaque ids for the query, ids → names
//! for the records.
//!
//! Responses are read leniently (unknown fields ignored, optional fields defaulted): the
//! OpenAPI description closes every object, but a new optional field in a minor API release
//! must not stop a nightly load.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use crate::codes;
use crate::codes::FIXED_FIELDS;
use crate::config::{EesDataSetConfig, TimePeriodRef};

/// `GET /v1/data-sets/{dataSetId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    pub title: String,
    /// `Published`, `Deprecated` or `Withdrawn`.
    pub status: String,
    #[serde(default)]
    pub superseding_data_set_id: Option<String>,
    #[serde(default)]
    pub latest_version: Option<LatestVersion>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LatestVersion {
    pub version: String,
}

/// `{paging, results}` lists and query pages.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Paging {
    pub page: u64,
    pub total_results: u64,
    pub total_pages: u64,
}

/// `GET /v1/data-sets/{dataSetId}/versions`.
#[derive(Debug, Deserialize)]
pub(crate) struct VersionList {
    pub paging: Paging,
    pub results: Vec<VersionItem>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct VersionItem {
    pub version: String,
    pub status: String,
}

/// `GET /v1/data-sets/{dataSetId}/query`. Rows stay raw JSON so one malformed row is a row
/// error, not a failed page.
#[derive(Debug, Deserialize)]
pub(crate) struct QueryPage {
    pub paging: Paging,
    pub results: Vec<Value>,
    #[serde(default)]
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Warning {
    pub code: String,
    pub message: String,
}

/// `GET /v1/data-sets/{dataSetId}/meta`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta {
    #[serde(default)]
    pub filters: Vec<MetaFilter>,
    #[serde(default)]
    pub indicators: Vec<MetaIndicator>,
    #[serde(default)]
    pub geographic_levels: Vec<MetaLevel>,
    #[serde(default)]
    pub locations: Vec<MetaLocationGroup>,
    #[serde(default)]
    pub time_periods: Vec<MetaTimePeriod>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaFilter {
    pub id: String,
    pub column: String,
    #[serde(default)]
    pub options: Vec<MetaOption>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaOption {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaIndicator {
    pub id: String,
    pub column: String,
    pub label: String,
    #[serde(default)]
    pub unit: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaLevel {
    pub code: String,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaLocationGroup {
    pub level: MetaLevel,
    #[serde(default)]
    pub options: Vec<MetaLocation>,
}

/// Any of the location option view models: coded, LA, school, provider, RSC region.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetaLocation {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub old_code: Option<String>,
    #[serde(default)]
    pub urn: Option<String>,
    #[serde(default)]
    pub la_estab: Option<String>,
    #[serde(default)]
    pub ukprn: Option<String>,
}

impl MetaLocation {
    /// The codes a config may name this location by.
    fn codes(&self) -> impl Iterator<Item = &str> {
        [
            &self.code,
            &self.old_code,
            &self.urn,
            &self.la_estab,
            &self.ukprn,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
    }

    /// `E10000015/919 (Hertfordshire)`, for "what meta offers" lists.
    fn describe(&self) -> String {
        let codes: Vec<&str> = self.codes().collect();
        if codes.is_empty() {
            self.label.clone()
        } else {
            format!("{} ({})", codes.join("/"), self.label)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaTimePeriod {
    pub code: String,
    pub period: String,
}

/// An indicator to emit records for.
#[derive(Debug, Clone)]
pub(crate) struct IndicatorInfo {
    pub id: String,
    pub column: String,
    pub label: String,
    pub unit: String,
}

/// A filter, for turning a row's option ids back into labels.
#[derive(Debug, Clone)]
pub(crate) struct FilterInfo {
    pub column: String,
    /// Option id → label.
    pub options: HashMap<String, String>,
}

/// A location, for turning a row's location ids back into codes and names.
#[derive(Debug, Clone)]
pub(crate) struct LocationInfo {
    pub label: String,
    /// ONS code (or other coded id; for LAs the new 9-character code).
    pub code: Option<String>,
    /// Old (LEA) code, LAs only.
    pub old_code: Option<String>,
    /// The code shown as `location_code` when there is no `code`: URN, UKPRN.
    pub other_code: Option<String>,
}

/// A data set's config resolved against its metadata: what to ask and how to read answers.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Query parameters other than the version and paging, in the OpenAPI's GET form.
    pub query: Vec<(String, String)>,
    /// Indicators to emit, in config order (meta order when the config names none).
    pub indicators: Vec<IndicatorInfo>,
    /// Filter id → filter.
    pub filters: HashMap<String, FilterInfo>,
    /// Every filter column of the data set, sorted, so every record has the same
    /// `filter_<column>` fields.
    pub filter_columns: Vec<String>,
    /// Filter id → option ids the config keeps. The GET query's `filters.in` matches rows
    /// with *any* listed option, so with two restricted filter columns it returns more
    /// than asked for; rows are checked against this again on arrival.
    pub required: Vec<(String, HashSet<String>)>,
    /// `(level code, location id)` → location.
    pub locations: HashMap<(String, String), LocationInfo>,
    /// Level code → label, as meta gives it.
    pub level_labels: HashMap<String, String>,
}

/// At most this many entries in a "meta offers" list: an LA-level data set has 150+
/// locations, and the message must stay readable in a log.
const OFFER_LIMIT: usize = 40;

fn offers<I: IntoIterator<Item = String>>(items: I) -> String {
    let all: Vec<String> = items.into_iter().collect();
    if all.is_empty() {
        return "nothing".to_owned();
    }
    let shown = all.len().min(OFFER_LIMIT);
    let mut out = all[..shown].join(", ");
    if all.len() > shown {
        out.push_str(&format!(" and {} more", all.len() - shown));
    }
    out
}

/// Why resolution failed: unknown names (the config's fault) or metadata we cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unresolved {
    /// Names the config uses that meta does not have, one message per key.
    Unknown(Vec<String>),
    /// Meta itself is unusable.
    Meta(String),
}

/// Resolves `ds` against `meta`, collecting every unknown name before failing so one run
/// reports them all.
pub(crate) fn resolve(ds: &EesDataSetConfig, meta: &Meta) -> Result<Resolved, Unresolved> {
    let mut unknown = Vec::new();
    let mut query: Vec<(String, String)> = Vec::new();

    // Filters. Every flattened `filter_<column>` field must not clash with a fixed field.
    let mut filters = HashMap::new();
    let mut filter_columns = BTreeSet::new();
    for f in &meta.filters {
        let field = format!("filter_{}", f.column);
        if FIXED_FIELDS.contains(&field.as_str()) {
            return Err(Unresolved::Meta(format!(
                "filter column `{}` would be flattened to `{field}`, which is a fixed record field",
                f.column
            )));
        }
        if !filter_columns.insert(f.column.clone()) {
            return Err(Unresolved::Meta(format!(
                "meta lists filter column `{}` twice",
                f.column
            )));
        }
        filters.insert(
            f.id.clone(),
            FilterInfo {
                column: f.column.clone(),
                options: f
                    .options
                    .iter()
                    .map(|o| (o.id.clone(), o.label.clone()))
                    .collect(),
            },
        );
    }
    let mut required = Vec::new();
    for (column, labels) in &ds.filters {
        let Some(f) = meta.filters.iter().find(|f| &f.column == column) else {
            unknown.push(format!(
                "filters: unknown filter column `{column}`; the data set has: {}",
                offers(meta.filters.iter().map(|f| f.column.clone()))
            ));
            continue;
        };
        let mut ids = HashSet::new();
        for label in labels {
            match f.options.iter().find(|o| &o.label == label) {
                Some(o) => {
                    ids.insert(o.id.clone());
                    query.push(("filters.in".into(), o.id.clone()));
                }
                None => unknown.push(format!(
                    "filters.{column}: unknown option `{label}`; the filter has: {}",
                    offers(f.options.iter().map(|o| o.label.clone()))
                )),
            }
        }
        required.push((f.id.clone(), ids));
    }

    // Geographic levels.
    let meta_levels: Vec<&str> = meta
        .geographic_levels
        .iter()
        .map(|l| l.code.as_str())
        .collect();
    for level in &ds.geographic_levels {
        if meta_levels.contains(&level.as_str()) {
            query.push(("geographicLevels.in".into(), level.clone()));
        } else {
            unknown.push(format!(
                "geographic_levels: the data set has no `{level}` level; it has: {}",
                offers(meta_levels.iter().map(|l| (*l).to_owned()))
            ));
        }
    }

    // Locations: by any code, at any level unless the config narrows the levels. Sent by id,
    // which the OpenAPI recommends because ids match exactly one location.
    let mut locations = HashMap::new();
    for group in &meta.locations {
        for o in &group.options {
            locations.insert(
                (group.level.code.clone(), o.id.clone()),
                LocationInfo {
                    label: o.label.clone(),
                    code: o.code.clone(),
                    old_code: o.old_code.clone(),
                    other_code: o.urn.clone().or_else(|| o.ukprn.clone()),
                },
            );
        }
    }
    let level_allowed = |level: &str| {
        ds.geographic_levels.is_empty() || ds.geographic_levels.iter().any(|l| l == level)
    };
    for wanted in &ds.locations {
        let matches: Vec<(&str, &MetaLocation)> = meta
            .locations
            .iter()
            .flat_map(|g| g.options.iter().map(move |o| (g.level.code.as_str(), o)))
            .filter(|(_, o)| o.codes().any(|c| c == wanted))
            .collect();
        let kept: Vec<&(&str, &MetaLocation)> =
            matches.iter().filter(|(l, _)| level_allowed(l)).collect();
        if kept.is_empty() {
            if matches.is_empty() {
                unknown.push(format!(
                    "locations: no location has code `{wanted}`; the data set has: {}",
                    offers(
                        meta.locations
                            .iter()
                            .flat_map(|g| g.options.iter().map(MetaLocation::describe))
                    )
                ));
            } else {
                unknown.push(format!(
                    "locations: `{wanted}` is only at level(s) {} of the data set, not at the \
                     configured geographic_levels {}",
                    matches
                        .iter()
                        .map(|(l, _)| *l)
                        .collect::<Vec<_>>()
                        .join(", "),
                    ds.geographic_levels.join(", ")
                ));
            }
        }
        for (level, o) in kept {
            query.push(("locations.in".into(), format!("{level}|id|{}", o.id)));
        }
    }

    // Time periods: a list must name periods meta has; range bounds need not exist, but
    // their code must be one the data set uses, or nothing could compare with them.
    if let Some(tp) = &ds.time_periods {
        let meta_codes: BTreeSet<&str> =
            meta.time_periods.iter().map(|t| t.code.as_str()).collect();
        let offered = || {
            offers(
                meta.time_periods
                    .iter()
                    .map(|t| format!("{}|{}", t.period, t.code)),
            )
        };
        for text in &tp.periods {
            let Ok(r) = TimePeriodRef::parse(text) else {
                continue; // config validation already reported it
            };
            let found: Vec<&MetaTimePeriod> = meta
                .time_periods
                .iter()
                .filter(|t| r.names(&t.period, &t.code))
                .collect();
            if found.is_empty() {
                unknown.push(format!(
                    "time_periods.periods: the data set has no period `{text}`; it has: {}",
                    offered()
                ));
            }
            for t in found {
                query.push(("timePeriods.in".into(), format!("{}|{}", t.period, t.code)));
            }
        }
        for (name, param, bound) in [
            ("from", "timePeriods.gte", &tp.from),
            ("to", "timePeriods.lte", &tp.to),
        ] {
            let Some(text) = bound else { continue };
            let Ok(r) = TimePeriodRef::parse(text) else {
                continue;
            };
            if meta_codes.contains(r.code.as_str()) {
                query.push((param.into(), format!("{}|{}", r.period, r.code)));
            } else {
                unknown.push(format!(
                    "time_periods.{name}: the data set has no `{}` periods; it has: {}",
                    r.code,
                    offered()
                ));
            }
        }
    }

    // Indicators last, so the query string reads facets, then indicators.
    let all: Vec<IndicatorInfo> = meta
        .indicators
        .iter()
        .map(|i| IndicatorInfo {
            id: i.id.clone(),
            column: i.column.clone(),
            label: i.label.clone(),
            unit: i.unit.clone().unwrap_or_default(),
        })
        .collect();
    let indicators = if ds.indicators.is_empty() {
        all
    } else {
        let mut chosen = Vec::new();
        for column in &ds.indicators {
            match all.iter().find(|i| &i.column == column) {
                Some(i) => {
                    query.push(("indicators".into(), i.id.clone()));
                    chosen.push(i.clone());
                }
                None => unknown.push(format!(
                    "indicators: unknown indicator `{column}`; the data set has: {}",
                    offers(all.iter().map(|i| i.column.clone()))
                )),
            }
        }
        chosen
    };
    if indicators.is_empty() && unknown.is_empty() {
        return Err(Unresolved::Meta("meta lists no indicators".into()));
    }

    if !unknown.is_empty() {
        return Err(Unresolved::Unknown(unknown));
    }
    let level_labels = meta
        .geographic_levels
        .iter()
        .chain(meta.locations.iter().map(|g| &g.level))
        .filter_map(|l| l.label.clone().map(|label| (l.code.clone(), label)))
        .collect();
    Ok(Resolved {
        query,
        indicators,
        filters,
        filter_columns: filter_columns.into_iter().collect(),
        required,
        locations,
        level_labels,
    })
}

impl Resolved {
    /// The flat-CSV label of a level: meta's, else the API's documented one.
    pub(crate) fn level_label(&self, code: &str) -> Option<String> {
        self.level_labels
            .get(code)
            .cloned()
            .or_else(|| codes::level_label(code).map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> Meta {
        serde_json::from_value(json!({
            "filters": [
                {"id": "F1", "column": "age_group", "label": "Age group",
                 "options": [{"id": "o1", "label": "Total"}, {"id": "o2", "label": "Under 5"}]},
                {"id": "F2", "column": "sex", "label": "Sex",
                 "options": [{"id": "s1", "label": "Total"}, {"id": "s2", "label": "Female"}]}
            ],
            "indicators": [
                {"id": "I1", "column": "ehc_plans", "label": "EHC plans", "unit": ""},
                {"id": "I2", "column": "pc_asd", "label": "ASD (%)", "unit": "%"}
            ],
            "geographicLevels": [{"code": "NAT", "label": "National"}, {"code": "LA", "label": "Local authority"},
                                 {"code": "LAD", "label": "Local authority district"}],
            "locations": [
                {"level": {"code": "NAT", "label": "National"},
                 "options": [{"id": "L0", "label": "England", "code": "E92000001"}]},
                {"level": {"code": "LA", "label": "Local authority"},
                 "options": [{"id": "L1", "label": "Hertfordshire", "code": "E10000015", "oldCode": "919"},
                             {"id": "L2", "label": "Bedford", "code": "E06000055", "oldCode": "822"}]},
                {"level": {"code": "LAD", "label": "Local authority district"},
                 "options": [{"id": "L3", "label": "Bedford", "code": "E06000055"}]}
            ],
            "timePeriods": [{"code": "AY", "period": "2023/2024", "label": "2023/24"},
                            {"code": "AY", "period": "2024/2025", "label": "2024/25"}]
        }))
        .unwrap()
    }

    fn pairs(r: &Resolved) -> Vec<String> {
        r.query.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    #[test]
    fn names_become_ids_in_the_query() {
        let mut ds = EesDataSetConfig::new("d", 1);
        ds.indicators = vec!["pc_asd".into()];
        ds.filters.insert("sex".into(), vec!["Female".into()]);
        ds.locations = vec!["919".into(), "E06000055".into()];
        ds.time_periods = Some(crate::config::EesTimePeriods {
            from: None,
            to: None,
            periods: vec!["2024|AY".into()],
        });
        let r = resolve(&ds, &meta()).unwrap();
        assert_eq!(
            pairs(&r),
            [
                "filters.in=s2",
                "locations.in=LA|id|L1",
                "locations.in=LA|id|L2",
                "locations.in=LAD|id|L3",
                "timePeriods.in=2024/2025|AY",
                "indicators=I2"
            ]
        );
        assert_eq!(r.indicators.len(), 1);
        assert_eq!(r.indicators[0].unit, "%");
        assert_eq!(r.filter_columns, ["age_group", "sex"]);
        assert_eq!(
            r.required,
            vec![("F2".to_owned(), HashSet::from(["s2".to_owned()]))]
        );
        assert_eq!(
            r.level_label("LAD").as_deref(),
            Some("Local authority district")
        );

        // Narrowing the levels drops the LA district that shares Bedford's code.
        ds.geographic_levels = vec!["LA".into()];
        let r = resolve(&ds, &meta()).unwrap();
        assert!(!pairs(&r).contains(&"locations.in=LAD|id|L3".to_owned()));
        assert!(pairs(&r).contains(&"geographicLevels.in=LA".to_owned()));
    }

    #[test]
    fn every_unknown_name_is_reported_with_what_meta_offers() {
        let mut ds = EesDataSetConfig::new("d", 1);
        ds.indicators = vec!["plans_issued_within_20_weeks".into(), "ehc_plans".into()];
        ds.filters
            .insert("age_group".into(), vec!["Over 90".into()]);
        ds.filters.insert("phase".into(), vec!["Primary".into()]);
        ds.geographic_levels = vec!["NAT".into(), "REG".into()];
        ds.locations = vec!["E10000099".into(), "919".into()];
        ds.time_periods = Some(crate::config::EesTimePeriods {
            from: Some("2020|CY".into()),
            to: None,
            periods: vec![],
        });
        let Err(Unresolved::Unknown(problems)) = resolve(&ds, &meta()) else {
            panic!("expected unknown names")
        };
        let all = problems.join("\n");
        for needle in [
            "unknown indicator `plans_issued_within_20_weeks`; the data set has: ehc_plans, pc_asd",
            "filters.age_group: unknown option `Over 90`; the filter has: Total, Under 5",
            "unknown filter column `phase`; the data set has: age_group, sex",
            "no `REG` level; it has: NAT, LA, LAD",
            "no location has code `E10000099`",
            "E10000015/919 (Hertfordshire)",
            "`919` is only at level(s) LA",
            "time_periods.from: the data set has no `CY` periods; it has: 2023/2024|AY, 2024/2025|AY",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in\n{all}");
        }
        assert_eq!(problems.len(), 7, "{all}");
    }

    #[test]
    fn a_filter_column_that_would_clash_with_a_fixed_field_is_refused() {
        let mut m = meta();
        m.filters[0].column = "key".into();
        let Err(Unresolved::Meta(msg)) = resolve(&EesDataSetConfig::new("d", 1), &m) else {
            panic!("expected a meta problem")
        };
        assert!(msg.contains("`filter_key`"), "{msg}");
    }

    #[test]
    fn long_offer_lists_are_cut() {
        let s = offers((0..50).map(|i| i.to_string()));
        assert!(s.ends_with("39 and 10 more"), "{s}");
        assert_eq!(offers(Vec::new()), "nothing");
    }
}
