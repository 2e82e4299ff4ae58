//! A subset of the DfE Explore Education Statistics (EES) public API v1, serving synthetic
//! SEND data sets with the paths and response shapes of the DfE's OpenAPI description
//! (a copy is at `tests/fixtures/ees/openapi-v1.json`; send-domain.md §4).
//!
//! Served: `GET /v1/publications`, `/v1/publications/{id}`, `/v1/publications/{id}/data-sets`,
//! `/v1/data-sets/{id}`, `/v1/data-sets/{id}/meta` and `GET`/`POST /v1/data-sets/{id}/query`.
//! Four data sets (EHC plans by primary need, 20-week timeliness, EHC plans by placement
//! type, SEN in England) cover England, East of England and four of its LAs including
//! Hertfordshire (919), with the open-data symbols `x`, `c`, `z`, `low` and `u` planted in
//! known cells so a connector's symbol parsing is exercised on every run.
//!
//! Like the real API, filter, indicator and location ids are short opaque strings, stable
//! within a data set but different across data sets, so a connector must resolve them
//! through `meta`. Figures are synthetic, scaled from the national totals in
//! send-domain.md §7.4; they are not DfE statistics.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::Endpoint;
use super::{Reply, Shared, guarded, param};

/// `(level, label, ONS code, DfE old LA code, scale relative to England)`. All four LAs
/// are in the East of England, so every LA row's hierarchy is England → East → LA.
const LOCATIONS: [(&str, &str, &str, Option<&str>, f64); 6] = [
    ("NAT", "England", "E92000001", None, 1.0),
    ("REG", "East of England", "E12000006", None, 0.105),
    ("LA", "Hertfordshire", "E10000015", Some("919"), 0.0215),
    ("LA", "Essex", "E10000012", Some("881"), 0.0205),
    ("LA", "Cambridgeshire", "E10000003", Some("873"), 0.0095),
    ("LA", "Bedford", "E06000055", Some("822"), 0.0045),
];

fn level_label(code: &str) -> &'static str {
    match code {
        "NAT" => "National",
        "REG" => "Regional",
        _ => "Local authority",
    }
}

/// A short opaque id (5 base-62 characters) from a key: stable across runs, different
/// across data sets because the data set id is part of the key.
fn short_id(key: &str) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..5)
        .map(|_| {
            let c = DIGITS[(h % 62) as usize];
            h /= 62;
            char::from(c)
        })
        .collect()
}

/// Deterministic jitter in `[-1, 1]` for a cell, so figures look measured, not computed.
fn jitter(key: &str) -> f64 {
    let id = short_id(key);
    let n: u32 = id.bytes().map(u32::from).sum();
    (f64::from(n % 201) - 100.0) / 100.0
}

struct Publication {
    id: &'static str,
    title: &'static str,
    slug: &'static str,
    summary: &'static str,
    last_published: String,
}

struct Filter {
    id: String,
    column: &'static str,
    label: &'static str,
    hint: &'static str,
    /// `(id, label)`.
    options: Vec<(String, &'static str)>,
}

struct Indicator {
    id: String,
    column: &'static str,
    label: &'static str,
    unit: &'static str,
    decimal_places: Option<u32>,
}

struct Row {
    time: usize,
    location: usize,
    /// One option index per filter.
    options: Vec<usize>,
    /// One value per indicator, as the API sends it (a string, maybe a symbol).
    values: Vec<String>,
}

struct DataSet {
    id: &'static str,
    file_id: &'static str,
    publication: usize,
    title: &'static str,
    summary: &'static str,
    published: String,
    filters: Vec<Filter>,
    indicators: Vec<Indicator>,
    /// `(code, period, label)`, oldest first.
    time_periods: Vec<(&'static str, String, String)>,
    location_ids: Vec<String>,
    rows: Vec<Row>,
}

/// The published statistics the simulator serves; immutable once built.
pub struct EesData {
    publications: Vec<Publication>,
    data_sets: Vec<DataSet>,
}

/// An academic year `start/start+1` with its label `start/yy`.
fn academic(start: i32) -> (&'static str, String, String) {
    (
        "AY",
        format!("{start}/{}", start + 1),
        format!("{start}/{:02}", (start + 1) % 100),
    )
}

fn calendar(year: i32) -> (&'static str, String, String) {
    ("CY", year.to_string(), year.to_string())
}

/// Builder of one data set: ids from the data set id, rows from a value function.
struct Spec {
    id: &'static str,
    file_id: &'static str,
    publication: usize,
    title: &'static str,
    summary: &'static str,
    filters: Vec<(&'static str, &'static str, &'static str, Vec<&'static str>)>,
    indicators: Vec<(&'static str, &'static str, &'static str, Option<u32>)>,
    time_periods: Vec<(&'static str, String, String)>,
}

impl Spec {
    /// `value(time, location, options, indicator)` gives each cell.
    fn build(
        self,
        published: &str,
        value: impl Fn(usize, usize, &[usize], usize) -> String,
    ) -> DataSet {
        let ds = self.id;
        let filters: Vec<Filter> = self
            .filters
            .into_iter()
            .map(|(column, label, hint, options)| Filter {
                id: short_id(&format!("{ds}/filter/{column}")),
                column,
                label,
                hint,
                options: options
                    .into_iter()
                    .map(|o| (short_id(&format!("{ds}/filter/{column}/{o}")), o))
                    .collect(),
            })
            .collect();
        let indicators: Vec<Indicator> = self
            .indicators
            .into_iter()
            .map(|(column, label, unit, dp)| Indicator {
                id: short_id(&format!("{ds}/indicator/{column}")),
                column,
                label,
                unit,
                decimal_places: dp,
            })
            .collect();
        // Every combination of filter options, in option order.
        let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
        for f in &filters {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    (0..f.options.len()).map(move |o| {
                        let mut c = c.clone();
                        c.push(o);
                        c
                    })
                })
                .collect();
        }
        let mut rows = Vec::new();
        for time in 0..self.time_periods.len() {
            for location in 0..LOCATIONS.len() {
                for options in &combos {
                    let values = (0..indicators.len())
                        .map(|i| value(time, location, options, i))
                        .collect();
                    rows.push(Row {
                        time,
                        location,
                        options: options.clone(),
                        values,
                    });
                }
            }
        }
        DataSet {
            id: ds,
            file_id: self.file_id,
            publication: self.publication,
            title: self.title,
            summary: self.summary,
            published: published.to_string(),
            location_ids: LOCATIONS
                .iter()
                .map(|l| short_id(&format!("{ds}/location/{}", l.2)))
                .collect(),
            filters,
            indicators,
            time_periods: self.time_periods,
            rows,
        }
    }
}

/// Publication ids (API ids, synthetic: the real ones are not in the reference).
const EHCP_PUBLICATION: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000001";
const SEN_PUBLICATION: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000002";
/// Data set ids.
const NEED_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000101";
const TIMELINESS_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000102";
const PLACEMENT_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000103";
const SEN_DATA_SET: &str = "019a3c1e-5e4d-7a10-9b2c-5e4d00000201";

/// National EHC plan caseload in January of `year` (send-domain.md §7.4), extrapolated
/// by 11% a year outside the published range.
fn national_plans(year: i32) -> f64 {
    match year {
        2022 => 473_255.0,
        2023 => 517_000.0,
        2024 => 575_963.0,
        2025 => 638_745.0,
        2026 => 700_000.0,
        y if y > 2026 => 700_000.0 * 1.11f64.powi(y - 2026),
        y => 473_255.0 / 1.11f64.powi(2022 - y),
    }
}

fn count(x: f64) -> String {
    format!("{}", x.round().max(0.0) as i64)
}

fn pct(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "z".into()
    } else {
        format!("{:.1}", 100.0 * part / whole)
    }
}

impl EesData {
    /// The data sets as published after the SEN2 collection of `census_year` (the latest
    /// caseload is January of that year; the latest timeliness year the one before).
    pub fn new(census_year: i32) -> Self {
        let y = census_year;
        let published = format!("{y}-06-26T09:30:00Z");
        let publications = vec![
            Publication {
                id: EHCP_PUBLICATION,
                title: "Education, health and care plans",
                slug: "education-health-and-care-plans",
                summary: "Information on education, health and care (EHC) plans, requests \
                          and assessments, from the SEN2 data collection.",
                last_published: published.clone(),
            },
            Publication {
                id: SEN_PUBLICATION,
                title: "Special educational needs in England",
                slug: "special-educational-needs-in-england",
                summary: "Pupils with special educational needs (SEN), from the school \
                          census.",
                last_published: format!("{y}-06-12T09:30:00Z"),
            },
        ];
        let caseload_years = [y - 1, y];
        let scale = |loc: usize| LOCATIONS[loc].4;

        // EHC plans by primary need, by age group.
        let ages = vec![
            "Total",
            "Under 5",
            "Age 5 to 10",
            "Age 11 to 15",
            "Age 16 to 19",
            "Age 20 to 25",
        ];
        let age_share = [1.0, 0.09, 0.37, 0.32, 0.17, 0.05];
        let need_share = [0.315, 0.213, 0.207, 0.106, 0.008, 0.008];
        let need = Spec {
            id: NEED_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001101",
            publication: 0,
            title: "EHC plans by primary need",
            summary: "Number of children and young people with an EHC plan as at January, by \
                      primary type of need and age group.",
            filters: vec![("age_group", "Age group", "Age on 31 August", ages)],
            indicators: vec![
                ("ehc_plans", "Number of EHC plans", "", Some(0)),
                ("number_asd", "Autistic spectrum disorder", "", Some(0)),
                ("pc_asd", "Autistic spectrum disorder (%)", "%", Some(1)),
                (
                    "number_slcn",
                    "Speech, language and communication needs",
                    "",
                    Some(0),
                ),
                (
                    "number_semh",
                    "Social, emotional and mental health",
                    "",
                    Some(0),
                ),
                ("number_mld", "Moderate learning difficulty", "", Some(0)),
                ("number_ds", "Down syndrome", "", Some(0)),
                ("number_need_unknown", "Primary need unknown", "", Some(0)),
            ],
            time_periods: caseload_years.iter().map(|&c| academic(c - 1)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let year = caseload_years[t];
            let key = format!("need/{t}/{l}/{o:?}");
            let total =
                national_plans(year) * scale(l) * age_share[o[0]] * (1.0 + 0.01 * jitter(&key));
            match i {
                0 => count(total),
                1 => count(total * need_share[0]),
                2 => pct(total * need_share[0], total),
                // Down syndrome was first collected in the later year: not applicable before.
                6 if t == 0 => "z".into(),
                // Bedford could not supply need for its unknowns: unavailable.
                7 if LOCATIONS[l].1 == "Bedford" => "x".into(),
                n => count(total * need_share[n - 2]),
            }
        });

        // 20-week timeliness, including and excluding exceptions.
        let years = [y - 3, y - 2, y - 1];
        let rate = [0.50, 0.46, 0.48];
        let timeliness = Spec {
            id: TIMELINESS_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001102",
            publication: 0,
            title: "EHC plans issued within 20 weeks",
            summary: "New EHC plans issued in the calendar year and the percentage issued \
                      within 20 weeks of the request, including and excluding exceptions.",
            filters: vec![(
                "exceptions",
                "Exceptions",
                "Whether plans where an exception to the time limit applied are counted",
                vec!["Including exceptions", "Excluding exceptions"],
            )],
            indicators: vec![
                ("new_ehc_plans", "New EHC plans issued", "", Some(0)),
                ("within_20_weeks", "Issued within 20 weeks", "", Some(0)),
                (
                    "pc_within_20_weeks",
                    "Issued within 20 weeks (%)",
                    "%",
                    Some(1),
                ),
            ],
            time_periods: years.iter().map(|&c| calendar(c)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let name = LOCATIONS[l].1;
            // Cambridgeshire's earliest year is suppressed; Essex's latest rate is of low
            // reliability (a system change mid-year).
            if name == "Cambridgeshire" && t == 0 {
                return "c".into();
            }
            if name == "Essex" && t == 2 && i == 2 {
                return "u".into();
            }
            let key = format!("time/{t}/{l}");
            let issued = national_plans(years[t]) * 0.13 * scale(l) * (1.0 + 0.02 * jitter(&key));
            let issued = if o[0] == 1 { issued * 0.94 } else { issued };
            let r = (rate[t] + 0.08 * jitter(&format!("{key}/rate"))).clamp(0.05, 0.99);
            let r = if o[0] == 1 { (r * 1.05).min(0.99) } else { r };
            match i {
                0 => count(issued),
                1 => count(issued * r),
                _ => pct((issued * r).round(), issued.round()),
            }
        });

        // Caseload by type of placement.
        let kinds = vec![
            "Total",
            "Mainstream school",
            "Special school",
            "Alternative provision or pupil referral unit",
            "Further education",
            "Other arrangements",
        ];
        let kind_share = [1.0, 0.41, 0.33, 0.015, 0.13, 0.115];
        let placements = Spec {
            id: PLACEMENT_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001103",
            publication: 0,
            title: "EHC plans by placement type",
            summary: "Children and young people with an EHC plan as at January, by type of \
                      establishment or arrangement they attend.",
            filters: vec![(
                "establishment_type",
                "Establishment type",
                "DfE setting category of the main placement",
                kinds,
            )],
            indicators: vec![
                ("ehc_plans", "Number of EHC plans", "", Some(0)),
                ("ehc_plans_pc", "Percentage of EHC plans", "%", Some(1)),
            ],
            time_periods: caseload_years.iter().map(|&c| academic(c - 1)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let total = national_plans(caseload_years[t]) * scale(l);
            let n = total * kind_share[o[0]];
            // Bedford's "other arrangements" share rounds to zero without being zero.
            if LOCATIONS[l].1 == "Bedford" && o[0] == 5 && i == 1 && t == 0 {
                return "low".into();
            }
            match i {
                0 => count(n),
                _ => pct(n, total),
            }
        });

        // SEN in England: pupils by SEN provision.
        let sen = Spec {
            id: SEN_DATA_SET,
            file_id: "019a3c1e-5e4d-7a10-9b2c-5e4d00001201",
            publication: 1,
            title: "Special educational needs in England",
            summary: "Pupils in schools in England with an EHC plan or SEN support, from the \
                      January school census.",
            filters: vec![(
                "sen_provision",
                "SEN provision",
                "E = EHC plan, K = SEN support",
                vec!["Total", "EHC plan", "SEN support"],
            )],
            indicators: vec![
                ("number_of_pupils", "Number of pupils", "", Some(0)),
                ("percent_of_pupils", "Percentage of pupils", "%", Some(1)),
            ],
            time_periods: caseload_years.iter().map(|&c| academic(c - 1)).collect(),
        }
        .build(&published, |t, l, o, i| {
            let pupils = 9_100_000.0 * scale(l);
            let shares = [[0.195, 0.053, 0.142], [0.208, 0.060, 0.148]];
            let share = shares[t.min(1)][o[0]] * (1.0 + 0.03 * jitter(&format!("sen/{l}/{o:?}")));
            match i {
                0 => count(pupils * share),
                _ => format!("{:.1}", 100.0 * share),
            }
        });

        Self {
            publications,
            data_sets: vec![need, timeliness, placements, sen],
        }
    }

    fn data_set(&self, id: &str) -> Option<&DataSet> {
        self.data_sets.iter().find(|d| d.id == id)
    }
}

fn problem(status: StatusCode, title: &str, detail: String) -> Reply {
    Reply::json(
        status,
        json!({
            "type": format!("https://tools.ietf.org/html/rfc9110#section-15.5.{}",
                if status == StatusCode::NOT_FOUND { 5 } else { 1 }),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        }),
    )
}

fn not_found(what: &str) -> Reply {
    problem(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("{what} not found"),
    )
}

/// A 400 in the API's `ValidationProblemViewModel` shape.
fn invalid(path: &str, message: String) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        json!({
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "errors": [{"code": "Invalid", "message": message, "path": path}],
        }),
    )
}

/// Parses `page`/`pageSize` with the endpoint's default and maximum page size.
fn paging(query: &[(String, String)], default: usize, max: usize) -> Result<(usize, usize), Reply> {
    let page = match param(query, "page").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return Err(invalid("page", "Must be at least 1.".into())),
    };
    let size = match param(query, "pageSize").map(str::parse::<usize>) {
        None => default,
        Some(Ok(s)) if (1..=max).contains(&s) => s,
        Some(_) => return Err(invalid("pageSize", format!("Must be between 1 and {max}."))),
    };
    Ok((page, size))
}

fn paged(items: Vec<Value>, page: usize, size: usize) -> (Value, Vec<Value>) {
    let total = items.len();
    let paging = json!({
        "page": page,
        "pageSize": size,
        "totalResults": total,
        "totalPages": total.div_ceil(size),
    });
    let results = items
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .collect();
    (paging, results)
}

fn publication_json(p: &Publication) -> Value {
    json!({
        "id": p.id,
        "title": p.title,
        "slug": p.slug,
        "summary": p.summary,
        "lastPublished": p.last_published,
    })
}

fn data_set_json(d: &DataSet) -> Value {
    let first = d
        .time_periods
        .first()
        .map(|t| t.2.clone())
        .unwrap_or_default();
    let last = d
        .time_periods
        .last()
        .map(|t| t.2.clone())
        .unwrap_or_default();
    json!({
        "id": d.id,
        "title": d.title,
        "summary": d.summary,
        "status": "Published",
        "latestVersion": {
            "version": "1.0",
            "published": d.published,
            "totalResults": d.rows.len(),
            "file": {"id": d.file_id},
            "timePeriods": {"start": first, "end": last},
            "geographicLevels": ["National", "Regional", "Local authority"],
            "filters": d.filters.iter().map(|f| f.label).collect::<Vec<_>>(),
            "indicators": d.indicators.iter().map(|i| i.label).collect::<Vec<_>>(),
        },
    })
}

/// `GET /v1/publications?search=&page=&pageSize=` (page size default 20, max 40).
pub(crate) async fn publications(
    State(state): State<Arc<Shared>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    guarded(&state, Endpoint::EesPublications, || {
        let (page, size) = match paging(&query, 20, 40) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let search = param(&query, "search").map(str::to_lowercase);
        if search.as_ref().is_some_and(|s| s.chars().count() < 3) {
            return invalid("search", "Must be at least 3 characters.".into());
        }
        let items = state
            .ees
            .publications
            .iter()
            .filter(|p| {
                search.as_ref().is_none_or(|s| {
                    p.title.to_lowercase().contains(s) || p.summary.to_lowercase().contains(s)
                })
            })
            .map(publication_json)
            .collect();
        paged_reply(items, page, size)
    })
    .await
}

/// A `{paging, results}` page of `items`, the list shape every EES list endpoint shares.
fn paged_reply(items: Vec<Value>, page: usize, size: usize) -> Reply {
    let (paging, results) = paged(items, page, size);
    let mut r = Reply::json(
        StatusCode::OK,
        json!({"paging": paging, "results": results}),
    );
    r.records = Some("results");
    r
}

/// `GET /v1/publications/{publicationId}`.
pub(crate) async fn publication(
    State(state): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    guarded(&state, Endpoint::EesPublications, || {
        match state.ees.publications.iter().find(|p| p.id == id) {
            Some(p) => Reply::json(StatusCode::OK, publication_json(p)),
            None => not_found("Publication"),
        }
    })
    .await
}

/// `GET /v1/publications/{publicationId}/data-sets?page=&pageSize=` (default 10, max 20).
pub(crate) async fn data_sets(
    State(state): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    guarded(&state, Endpoint::EesPublications, || {
        let Some(pi) = state.ees.publications.iter().position(|p| p.id == id) else {
            return not_found("Publication");
        };
        let (page, size) = match paging(&query, 10, 20) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let items = state
            .ees
            .data_sets
            .iter()
            .filter(|d| d.publication == pi)
            .map(data_set_json)
            .collect();
        paged_reply(items, page, size)
    })
    .await
}

/// `GET /v1/data-sets/{dataSetId}`.
pub(crate) async fn data_set(State(state): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    guarded(&state, Endpoint::EesDataSet, || {
        match state.ees.data_set(&id) {
            Some(d) => Reply::json(StatusCode::OK, data_set_json(d)),
            None => not_found("Data set"),
        }
    })
    .await
}

/// Only version 1.0 exists: accepts absent, `1`, `1.0`, `1.*`, `*`, `v1…`.
fn version_ok(query: &[(String, String)]) -> bool {
    param(query, "dataSetVersion").is_none_or(|v| {
        matches!(
            v.trim_start_matches('v'),
            "1" | "1.0" | "1.*" | "*" | "1.0.0"
        )
    })
}

/// `GET /v1/data-sets/{dataSetId}/meta?types=&dataSetVersion=`. Types left out of `types`
/// come back as empty arrays, since the response schema requires all five keys.
pub(crate) async fn meta(
    State(state): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    guarded(&state, Endpoint::EesMeta, || {
        let Some(d) = state.ees.data_set(&id) else {
            return not_found("Data set");
        };
        if !version_ok(&query) {
            return not_found("Data set version");
        }
        let types: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == "types")
            .map(|(_, v)| v.as_str())
            .collect();
        let wants = |t: &str| types.is_empty() || types.contains(&t);
        let filters: Vec<Value> = if wants("Filters") {
            d.filters
                .iter()
                .map(|f| {
                    json!({
                        "id": f.id, "column": f.column, "label": f.label, "hint": f.hint,
                        "options": f.options.iter()
                            .map(|(id, label)| json!({"id": id, "label": label}))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let indicators: Vec<Value> = if wants("Indicators") {
            d.indicators
                .iter()
                .map(|i| {
                    json!({"id": i.id, "column": i.column, "label": i.label, "unit": i.unit,
                           "decimalPlaces": i.decimal_places})
                })
                .collect()
        } else {
            Vec::new()
        };
        let (levels, locations) = if wants("Locations") {
            let levels: Vec<Value> = ["NAT", "REG", "LA"]
                .iter()
                .map(|c| json!({"code": c, "label": level_label(c)}))
                .collect();
            let groups = ["NAT", "REG", "LA"]
                .iter()
                .map(|level| {
                    let options: Vec<Value> = LOCATIONS
                        .iter()
                        .zip(&d.location_ids)
                        .filter(|(l, _)| l.0 == *level)
                        .map(|(l, id)| match l.3 {
                            Some(old) => json!({"id": id, "label": l.1, "code": l.2, "oldCode": old}),
                            None => json!({"id": id, "label": l.1, "code": l.2}),
                        })
                        .collect();
                    json!({"level": {"code": level, "label": level_label(level)}, "options": options})
                })
                .collect();
            (levels, groups)
        } else {
            (Vec::new(), Vec::new())
        };
        let periods: Vec<Value> = if wants("TimePeriods") {
            d.time_periods
                .iter()
                .map(|(c, p, l)| json!({"code": c, "period": p, "label": l}))
                .collect()
        } else {
            Vec::new()
        };
        Reply::json(
            StatusCode::OK,
            json!({
                "filters": filters,
                "indicators": indicators,
                "geographicLevels": levels,
                "locations": locations,
                "timePeriods": periods,
            }),
        )
    })
    .await
}

/// A time period as a sortable number: the start year (and `code` must match to compare).
fn period_start(p: &str) -> Option<i32> {
    p.split('/').next()?.get(..4)?.parse().ok()
}

/// Whether row `r` of `d` satisfies criteria `c` (a facets object or an and/or/not
/// combinator, in the POST body's shape).
fn matches(d: &DataSet, r: &Row, c: &Value) -> Result<bool, String> {
    let Some(obj) = c.as_object() else {
        return Ok(c.is_null());
    };
    if let Some(list) = obj.get("and") {
        let list = list.as_array().ok_or("and must be an array")?;
        for c in list {
            if !matches(d, r, c)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(list) = obj.get("or") {
        let list = list.as_array().ok_or("or must be an array")?;
        for c in list {
            if matches(d, r, c)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(inner) = obj.get("not") {
        return Ok(!matches(d, r, inner)?);
    }
    for (facet, comps) in obj {
        let Some(comps) = comps.as_object() else {
            if comps.is_null() {
                continue;
            }
            return Err(format!("{facet} must be an object"));
        };
        for (op, arg) in comps {
            if arg.is_null() {
                continue;
            }
            let hit = |v: &Value| -> Result<bool, String> {
                match facet.as_str() {
                    "filters" => {
                        let id = v.as_str().ok_or("filter option ids are strings")?;
                        Ok(d.filters
                            .iter()
                            .zip(&r.options)
                            .any(|(f, &o)| f.options[o].0 == id))
                    }
                    "geographicLevels" => Ok(v.as_str() == Some(LOCATIONS[r.location].0)),
                    "locations" => {
                        let l = &LOCATIONS[r.location];
                        if v.get("level")
                            .and_then(Value::as_str)
                            .is_some_and(|lv| lv != l.0)
                        {
                            return Ok(false);
                        }
                        Ok(match v {
                            _ if v.get("id").is_some() => {
                                v["id"].as_str() == Some(d.location_ids[r.location].as_str())
                            }
                            _ if v.get("code").is_some() => v["code"].as_str() == Some(l.2),
                            _ if v.get("oldCode").is_some() => v["oldCode"].as_str() == l.3,
                            _ => false,
                        })
                    }
                    "timePeriods" => {
                        let (code, period, _) = &d.time_periods[r.time];
                        let want_code = v.get("code").and_then(Value::as_str);
                        let want = v.get("period").and_then(Value::as_str);
                        let ord = match (period_start(period), want.and_then(period_start)) {
                            (Some(a), Some(b)) if want_code == Some(*code) => Some(a.cmp(&b)),
                            _ => None,
                        };
                        use std::cmp::Ordering::{Equal, Greater, Less};
                        Ok(match op.as_str() {
                            "gt" => ord == Some(Greater),
                            "gte" => matches!(ord, Some(Greater | Equal)),
                            "lt" => ord == Some(Less),
                            "lte" => matches!(ord, Some(Less | Equal)),
                            _ => want_code == Some(*code) && want == Some(period.as_str()),
                        })
                    }
                    other => Err(format!("unknown criteria facet {other}")),
                }
            };
            let ok = match op.as_str() {
                "eq" | "gt" | "gte" | "lt" | "lte" => hit(arg)?,
                "notEq" => !hit(arg)?,
                "in" | "notIn" => {
                    let list = arg
                        .as_array()
                        .ok_or(format!("{facet}.{op} must be an array"))?;
                    let mut any = false;
                    for v in list {
                        any |= hit(v)?;
                    }
                    if op == "in" { any } else { !any }
                }
                other => return Err(format!("unknown comparator {facet}.{other}")),
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A GET location reference `LEVEL|property|value` as the POST body's object.
fn location_ref(s: &str) -> Value {
    let parts: Vec<&str> = s.splitn(3, '|').collect();
    match parts.as_slice() {
        [level, prop, value] => json!({"level": level, *prop: value}),
        _ => json!({"id": s}),
    }
}

/// A GET time period `period|code` as the POST body's object.
fn time_ref(s: &str) -> Value {
    match s.split_once('|') {
        Some((period, code)) => json!({"period": period, "code": code}),
        None => json!({"period": s, "code": ""}),
    }
}

/// The GET query string as a POST body (`criteria` facets, `indicators`, paging).
fn get_to_body(query: &[(String, String)]) -> Result<Value, Reply> {
    let mut facets = serde_json::Map::new();
    let mut indicators = Vec::new();
    let mut sorts = Vec::new();
    for (k, v) in query {
        if k == "indicators" {
            indicators.extend(v.split(',').map(|s| json!(s)));
            continue;
        }
        if k == "sorts" {
            if let Some((field, dir)) = v.rsplit_once('|') {
                sorts.push(json!({"field": field, "direction": dir}));
            }
            continue;
        }
        let Some((facet, op)) = k.split_once('.') else {
            continue;
        };
        let to_value = |v: &str| match facet {
            "filters" | "geographicLevels" => Ok(json!(v)),
            "locations" => Ok(location_ref(v)),
            "timePeriods" => Ok(time_ref(v)),
            _ => Err(invalid(k, format!("Unknown parameter {k}."))),
        };
        let entry = facets.entry(facet.to_string()).or_insert_with(|| json!({}));
        let Value::Object(comps) = entry else {
            continue;
        };
        if op == "in" || op == "notIn" {
            // Repeated parameters and comma-separated lists both add to the list.
            let list = comps.entry(op.to_string()).or_insert_with(|| json!([]));
            for part in v.split(',') {
                let value = to_value(part)?;
                if let Value::Array(list) = list {
                    list.push(value);
                }
            }
        } else {
            comps.insert(op.to_string(), to_value(v)?);
        }
    }
    let (page, size) = paging(query, 1000, 10_000)?;
    Ok(json!({
        "criteria": Value::Object(facets),
        "indicators": indicators,
        "sorts": sorts,
        "page": page,
        "pageSize": size,
    }))
}

/// Runs a query body against data set `id`.
fn run_query(state: &Shared, id: &str, query: &[(String, String)], body: &Value) -> Reply {
    let Some(d) = state.ees.data_set(id) else {
        return not_found("Data set");
    };
    if !version_ok(query) {
        return not_found("Data set version");
    }
    let page = body.get("page").and_then(Value::as_u64).unwrap_or(1) as usize;
    let size = body.get("pageSize").and_then(Value::as_u64).unwrap_or(1000) as usize;
    if page < 1 {
        return invalid("page", "Must be at least 1.".into());
    }
    if !(1..=10_000).contains(&size) {
        return invalid("pageSize", "Must be between 1 and 10000.".into());
    }
    // Indicators by id (or, leniently, by column); all of them when none are named.
    let mut wanted = Vec::new();
    for v in body
        .get("indicators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = v.as_str().unwrap_or_default();
        match d.indicators.iter().position(|i| i.id == s || i.column == s) {
            Some(i) => wanted.push(i),
            None => return invalid("indicators", format!("Indicator {s:?} not found.")),
        }
    }
    if wanted.is_empty() {
        wanted = (0..d.indicators.len()).collect();
    }
    let criteria = body.get("criteria").cloned().unwrap_or(Value::Null);
    let mut rows = Vec::new();
    for r in &d.rows {
        match matches(d, r, &criteria) {
            Ok(true) => rows.push(r),
            Ok(false) => {}
            Err(e) => return invalid("criteria", e),
        }
    }
    // Default sort: time period descending (then location and filter order).
    let ascending = body
        .get("sorts")
        .and_then(Value::as_array)
        .and_then(|s| s.iter().find(|s| s["field"] == "timePeriod"))
        .is_some_and(|s| s["direction"] == "Asc");
    rows.sort_by_key(|r| {
        let t = if ascending {
            r.time as i64
        } else {
            -(r.time as i64)
        };
        (t, r.location, r.options.clone())
    });
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let (code, period, _) = &d.time_periods[r.time];
            let level = LOCATIONS[r.location].0;
            let mut locations = serde_json::Map::new();
            // The row's location and the ones above it, as the real API lists them.
            for (i, l) in LOCATIONS.iter().enumerate() {
                let above = match level {
                    "NAT" => i == 0,
                    "REG" => i <= 1,
                    _ => i <= 1 || i == r.location,
                };
                if above {
                    locations.insert(l.0.to_string(), json!(d.location_ids[i]));
                }
            }
            let filters: serde_json::Map<String, Value> = d
                .filters
                .iter()
                .zip(&r.options)
                .map(|(f, &o)| (f.id.clone(), json!(f.options[o].0)))
                .collect();
            let values: serde_json::Map<String, Value> = wanted
                .iter()
                .map(|&i| (d.indicators[i].id.clone(), json!(r.values[i])))
                .collect();
            json!({
                "timePeriod": {"code": code, "period": period},
                "geographicLevel": level,
                "locations": locations,
                "filters": filters,
                "values": values,
            })
        })
        .collect();
    let (paging, results) = paged(items, page, size);
    let warnings = if paging["totalResults"] == 0 {
        vec![json!({"code": "QueryNoResults", "message": "No results matched the criteria."})]
    } else {
        Vec::new()
    };
    let mut r = Reply::json(
        StatusCode::OK,
        json!({"paging": paging, "results": results, "warnings": warnings}),
    );
    r.records = Some("results");
    r
}

/// `GET /v1/data-sets/{dataSetId}/query?…` (the simple query-string form).
pub(crate) async fn query_get(
    State(state): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    guarded(&state, Endpoint::EesQuery, || match get_to_body(&query) {
        Ok(body) => run_query(&state, &id, &query, &body),
        Err(r) => r,
    })
    .await
}

/// `POST /v1/data-sets/{dataSetId}/query?dataSetVersion=` with a JSON body.
pub(crate) async fn query_post(
    State(state): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    Json(body): Json<Value>,
) -> Response {
    guarded(&state, Endpoint::EesQuery, || {
        run_query(&state, &id, &query, &body)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_symbol_appears() {
        let data = EesData::new(2026);
        let all: Vec<&str> = data
            .data_sets
            .iter()
            .flat_map(|d| {
                d.rows
                    .iter()
                    .flat_map(|r| r.values.iter().map(String::as_str))
            })
            .collect();
        for s in ["x", "c", "z", "low", "u"] {
            assert!(all.contains(&s), "symbol {s} missing");
        }
    }

    #[test]
    fn ids_are_short_and_distinct_per_data_set() {
        let data = EesData::new(2026);
        let a = &data.data_sets[0].location_ids;
        let b = &data.data_sets[1].location_ids;
        assert!(a.iter().all(|i| i.len() == 5));
        assert!(a.iter().zip(b).all(|(x, y)| x != y));
    }
}
