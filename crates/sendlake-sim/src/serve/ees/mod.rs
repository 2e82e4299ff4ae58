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

//!
//! The handlers and the query engine are here; the data sets they serve, and how their
//! figures are made, are in `statistics`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::Endpoint;
use super::{Reply, Shared, guarded, param};

mod statistics;

pub use statistics::EesData;
use statistics::{DataSet, LOCATIONS, Publication, Row};

fn level_label(code: &str) -> &'static str {
    match code {
        "NAT" => "National",
        "REG" => "Regional",
        _ => "Local authority",
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
