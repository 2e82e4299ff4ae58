//! Every request the EES connector makes is a GET of a path the DfE's OpenAPI description
//! defines (the in-repo copy used by the simulator's tests), with only that operation's query
//! parameters, within their enums and ranges.
//!
//! A test binary of its own with a single test: URLs are captured from the HTTP client's
//! `debug` event per request, through a global `tracing` subscriber, which must not see
//! other tests' requests (and a thread-local one misses events when other test threads
//! register the same callsite concurrently).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use common::*;
use sendlake_ees::{EesDataSetConfig, EesReason, EesTimePeriods};
use sendlake_sim::serve::faults::Endpoint;
use serde_json::{Value, json};

/// Captures the URL of every request the HTTP client sends: it logs each attempt as a
/// `debug` event "HTTP request" with a `url` field (retries included).
#[derive(Clone, Default)]
struct RequestLog(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for RequestLog {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        #[derive(Default)]
        struct Fields {
            message: String,
            url: Option<String>,
        }
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                match field.name() {
                    "message" => self.message = format!("{value:?}"),
                    "url" => self.url = Some(format!("{value:?}")),
                    _ => {}
                }
            }
        }
        let mut f = Fields::default();
        event.record(&mut f);
        if f.message == "HTTP request"
            && let Some(url) = f.url
        {
            self.0.lock().unwrap().push(url);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// `%7C` → `|`, `+` → space.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The enum values a parameter schema allows, through `$ref`, `allOf` and `items`.
fn enum_of(spec: &Value, schema: &Value) -> Option<Vec<String>> {
    if let Some(r) = schema["$ref"].as_str() {
        return enum_of(spec, spec.pointer(r.trim_start_matches('#')).unwrap());
    }
    if let Some(values) = schema["enum"].as_array() {
        return Some(
            values
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
        );
    }
    if let Some(parts) = schema["allOf"].as_array() {
        return parts.iter().find_map(|p| enum_of(spec, p));
    }
    if schema["items"].is_object() {
        return enum_of(spec, &schema["items"]);
    }
    None
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks one request URL against the OpenAPI description: a GET path it defines (with
/// UUID path ids), only its query parameters, enum and range constraints kept, and the
/// `level|property|value` and `period|code` formats its GET query describes. Returns the
/// path template.
fn check_request(spec: &Value, base: &str, url: &str) -> String {
    let rest = url
        .strip_prefix(base)
        .unwrap_or_else(|| panic!("{url} is not under {base}"));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let segments: Vec<&str> = path.split('/').collect();
    let (template, op) = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(t, _)| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len()
                && ts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && is_uuid(s)))
        })
        .unwrap_or_else(|| panic!("{path} is no path of the OpenAPI description"));
    let op = &op["get"];
    assert!(op.is_object(), "{template} has no GET");
    let levels = enum_of(
        spec,
        &json!({"$ref": "#/components/schemas/GeographicLevelCode"}),
    )
    .unwrap();
    let codes = enum_of(
        spec,
        &json!({"$ref": "#/components/schemas/TimePeriodCode"}),
    )
    .unwrap();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        let param = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == k.as_str() && p["in"] == "query")
            .unwrap_or_else(|| panic!("{template} takes no query parameter {k} ({url})"));
        let schema = &param["schema"];
        if let Some(allowed) = enum_of(spec, schema) {
            assert!(allowed.contains(&v), "{k}={v} not in {allowed:?}");
        }
        if schema["type"] == "integer" {
            let n: i64 = v
                .parse()
                .unwrap_or_else(|_| panic!("{k}={v} is not an integer"));
            if let Some(min) = schema["minimum"].as_i64() {
                assert!(n >= min, "{k}={v} < {min}");
            }
            if let Some(max) = schema["maximum"].as_i64() {
                assert!(n <= max, "{k}={v} > {max}");
            }
        }
        if k.starts_with("locations.") {
            let parts: Vec<&str> = v.split('|').collect();
            assert_eq!(parts.len(), 3, "{k}={v}");
            assert!(levels.contains(&parts[0].to_owned()), "{k}={v}");
            assert!(
                ["id", "code", "oldCode", "urn", "laEstab", "ukprn"].contains(&parts[1]),
                "{k}={v}"
            );
        }
        if k.starts_with("timePeriods.") {
            let (period, code) = v.split_once('|').unwrap();
            assert!(codes.contains(&code.to_owned()), "{k}={v}");
            assert!(period.split('/').all(|y| y.len() == 4), "{k}={v}");
        }
    }
    template.clone()
}

#[tokio::test]
async fn every_request_is_a_path_and_query_the_openapi_description_defines() {
    let log = RequestLog::default();
    tracing::subscriber::set_global_default(log.clone()).expect("the only subscriber");
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;
    // Periods as the simulator's metadata has them: `period|code`, the first written out in
    // full, the last as the single starting year the API also accepts.
    let periods = |o: &Oracle| -> Vec<(String, String)> {
        o.meta["timePeriods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["period"].as_str().unwrap().to_owned(),
                    t["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let need_periods = periods(&Oracle::load(&c, &ids[NEED]).await);
    let time_periods = periods(&Oracle::load(&c, &ids[TIMELINESS]).await);
    assert!(need_periods.len() >= 2 && time_periods.len() >= 2);
    log.0.lock().unwrap().clear();

    // Every facet of the query, a failed pin, an unknown name and a retried request.
    let (need_first, need_last) = (&need_periods[0], &need_periods[need_periods.len() - 1]);
    let mut need = EesDataSetConfig::new(&ids[NEED], 1);
    need.indicators = vec!["ehc_plans".into(), "pc_asd".into()];
    need.filters.insert(
        "age_group".into(),
        vec!["Total".into(), "Age 5 to 10".into()],
    );
    need.geographic_levels = vec!["NAT".into(), "LA".into()];
    need.locations = vec!["E92000001".into(), "919".into()];
    need.time_periods = Some(EesTimePeriods {
        from: None,
        to: None,
        periods: vec![
            format!("{}|{}", need_first.0, need_first.1),
            format!("{}|{}", &need_last.0[..4], need_last.1),
        ],
    });
    need.page_size = 3;
    let mut timeliness = EesDataSetConfig::new(&ids[TIMELINESS], 1);
    let (first, last) = (&time_periods[0], &time_periods[time_periods.len() - 1]);
    timeliness.time_periods = Some(EesTimePeriods {
        from: Some(format!("{}|{}", first.0, first.1)),
        to: Some(format!("{}|{}", last.0, last.1)),
        periods: vec![],
    });
    timeliness.page_size = 10_000;
    let pinned = EesDataSetConfig::new(&ids[PLACEMENT], 3);
    let mut unknown = EesDataSetConfig::new(&ids[SEN], 1);
    unknown.indicators = vec!["no_such_indicator".into()];
    sim.faults().server_errors(Endpoint::EesQuery, 1, 500);
    let (records, errors) = collect(&source(&c, vec![need, timeliness, pinned, unknown])).await;
    assert!(!records.is_empty());
    let reasons: Vec<EesReason> = errors.iter().map(|e| e.reason).collect();
    assert_eq!(
        reasons,
        [EesReason::VersionPin, EesReason::UnknownName],
        "{errors:?}"
    );

    let urls = log.0.lock().unwrap().clone();
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sendlake-sim/tests/fixtures/ees/openapi-v1.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let templates: BTreeSet<String> = urls
        .iter()
        .map(|u| check_request(&spec, &sim.base_url(), u))
        .collect();
    assert_eq!(
        templates,
        BTreeSet::from(
            [
                "/v1/data-sets/{dataSetId}",
                "/v1/data-sets/{dataSetId}/meta",
                "/v1/data-sets/{dataSetId}/query"
            ]
            .map(str::to_owned)
        )
    );
    // Summaries for all four, meta for the three with a good pin, and the query pages of
    // two plus one retried attempt: nothing logged went unchecked.
    let count = |suffix: &str| {
        urls.iter()
            .filter(|u| u.split('?').next().unwrap().ends_with(suffix))
            .count()
    };
    assert_eq!(count("/meta"), 3);
    assert!(count("/query") >= 3, "{urls:#?}");
    let decoded: Vec<String> = urls.iter().map(|u| decode(u)).collect();
    // The single-year period went out as the full period meta names.
    let musts = [
        "filters.in=".to_owned(),
        "locations.in=LA|id|".to_owned(),
        "geographicLevels.in=NAT".to_owned(),
        format!("timePeriods.in={}|{}", need_last.0, need_last.1),
        format!("timePeriods.gte={}|{}", first.0, first.1),
        format!("timePeriods.lte={}|{}", last.0, last.1),
        "indicators=".to_owned(),
    ];
    for must in &musts {
        assert!(
            decoded.iter().any(|u| u.contains(must.as_str())),
            "no request with {must}: {decoded:#?}"
        );
    }
}
