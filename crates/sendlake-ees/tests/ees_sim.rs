//! The EES connector against the partner simulator's DfE statistics API on an ephemeral
//! port. Expected records are computed from the simulator's own answers (its metadata and an
//! unpaged query read with plain `get_json`, in `common`), never from counts typed into the
//! test. `openapi_requests.rs` checks every request against the DfE's OpenAPI description.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use sendlake_ees::{EesConfig, EesDataSetConfig, EesErrorKind, EesReason, EesSource, Symbol};
use sendlake_extract::records::SourceRecord;
use sendlake_sim::serve::faults::Endpoint;
use serde_json::{Value, json};

/// After a data set failed, the stream went on to the next one: there are records, and all
/// are from data set `id`.
fn assert_only_from(records: &[SourceRecord], id: &str) {
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r.value["data_set_id"] == id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_resolve_through_meta_and_records_match_the_simulator() {
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;
    let id = &ids[TIMELINESS];
    let oracle = Oracle::load(&c, id).await;

    let mut ds = EesDataSetConfig::new(id, 1);
    ds.indicators = vec!["pc_within_20_weeks".into(), "new_ehc_plans".into()];
    ds.filters
        .insert("exceptions".into(), vec!["Excluding exceptions".into()]);
    ds.locations = vec!["919".into(), "E12000006".into(), "E92000001".into()];
    let (records, errors) = collect(&source(&c, vec![ds])).await;
    assert!(errors.is_empty(), "{errors:?}");

    let excluding = oracle.option("exceptions", "Excluding exceptions");
    let locations: Vec<String> = ["919", "E12000006", "E92000001"]
        .iter()
        .flat_map(|code| oracle.locations(code))
        .collect();
    let want = expected(
        &oracle,
        &[
            oracle.indicator("pc_within_20_weeks"),
            oracle.indicator("new_ehc_plans"),
        ],
        &locations,
        |o| o.contains(&excluding),
    );
    assert!(!want.is_empty());
    assert_eq!(oracle.check(&records), want);

    // Indicators come in config order for each row, with meta's labels and units.
    assert_eq!(records[0].value["indicator"], "pc_within_20_weeks");
    assert_eq!(records[1].value["indicator"], "new_ehc_plans");
    assert_eq!(records[0].origin.position, records[1].origin.position);
    for r in &records {
        let v = &r.value;
        assert_eq!(v["data_set_id"], id.as_str());
        assert_eq!(v["data_set_title"], TIMELINESS);
        assert_eq!(v["data_set_version"], "1.0");
        assert_eq!(v["filter_exceptions"], "Excluding exceptions");
        assert_eq!(v["filter_key"], "exceptions=Excluding exceptions");
        assert_eq!(v["time_identifier"], "Calendar year");
        let (label, unit) = if v["indicator"] == "pc_within_20_weeks" {
            ("Issued within 20 weeks (%)", "%")
        } else {
            ("New EHC plans issued", "")
        };
        assert_eq!(v["indicator_label"], label);
        assert_eq!(v["unit"], unit);
        assert_eq!(r.origin.location, format!("ees:{id}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_fail_their_data_set_naming_what_meta_offers() {
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;
    let timeliness = Oracle::load(&c, &ids[TIMELINESS]).await;
    let need = Oracle::load(&c, &ids[NEED]).await;

    let mut bad_indicator = EesDataSetConfig::new(&ids[TIMELINESS], 1);
    bad_indicator.indicators = vec!["plans_issued_within_20_weeks".into()];
    let mut bad_option = EesDataSetConfig::new(&ids[NEED], 1);
    bad_option
        .filters
        .insert("age_group".into(), vec!["Age 0 to 4".into()]);
    let mut fine = EesDataSetConfig::new(&ids[SEN], 1);
    fine.locations = vec!["919".into()];
    let (records, errors) = collect(&source(&c, vec![bad_indicator, bad_option, fine])).await;

    assert_eq!(errors.len(), 2, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e.kind(), EesErrorKind::DataSet);
    assert_eq!(e.reason, EesReason::UnknownName);
    assert_eq!(e.data_set_id, ids[TIMELINESS]);
    assert!(e.endpoint.contains("/meta"), "{}", e.endpoint);
    let text = e.to_string();
    assert!(text.contains(&ids[TIMELINESS]), "{text}");
    assert!(text.contains("indicators: unknown indicator `plans_issued_within_20_weeks`"));
    for column in timeliness.indicator_columns() {
        assert!(text.contains(&column), "{column} not offered in {text}");
    }

    let e = &errors[1];
    assert_eq!(
        (e.reason, e.data_set_id.as_str()),
        (EesReason::UnknownName, ids[NEED].as_str())
    );
    assert!(
        e.message
            .contains("filters.age_group: unknown option `Age 0 to 4`")
    );
    for label in need.option_labels("age_group") {
        assert!(e.message.contains(&label), "{label} not offered in {e}");
    }

    // The stream went on to the next data set.
    assert_only_from(&records, &ids[SEN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_pages_return_exactly_the_simulators_rows() {
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;
    let oracle = Oracle::load(&c, &ids[NEED]).await;

    let mut ds = EesDataSetConfig::new(&ids[NEED], 1);
    ds.indicators = vec!["ehc_plans".into(), "number_ds".into()];
    ds.filters
        .insert("age_group".into(), vec!["Total".into(), "Under 5".into()]);
    ds.page_size = 5;
    let before = sim.faults().hits(Endpoint::EesQuery);
    let (records, errors) = collect(&source(&c, vec![ds])).await;
    assert!(errors.is_empty(), "{errors:?}");

    let kept = [
        oracle.option("age_group", "Total"),
        oracle.option("age_group", "Under 5"),
    ];
    let want = expected(
        &oracle,
        &[oracle.indicator("ehc_plans"), oracle.indicator("number_ds")],
        &[],
        |o| kept.iter().any(|k| o.contains(k)),
    );
    assert_eq!(oracle.check(&records), want);

    // The simulator completes the matrix (every period × location × option has a row), so
    // the rows are also its metadata's product: periods × locations × the two ages kept.
    let locations: usize = oracle.meta["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["options"].as_array().unwrap().len())
        .sum();
    let rows = oracle.count("timePeriods") * locations * kept.len();
    assert_eq!(records.len(), rows * 2);
    let pages = rows.div_ceil(5);
    assert!(pages >= 3, "several pages: {pages}");
    assert_eq!(
        sim.faults().hits(Endpoint::EesQuery) - before,
        pages as u64,
        "one request per page, none past the last"
    );
    let last = records.last().unwrap();
    assert_eq!(
        last.origin.position,
        format!("page {pages} item {}", rows - (pages - 1) * 5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbols_become_null_values_with_their_status() {
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;

    // Every cell of three data sets at England, Essex, Cambridgeshire and Bedford.
    let locations = vec![
        "E92000001".to_owned(),
        "881".into(),
        "873".into(),
        "822".into(),
    ];
    let mut seen_status = BTreeSet::new();
    for title in [NEED, TIMELINESS, PLACEMENT] {
        let oracle = Oracle::load(&c, &ids[title]).await;
        let mut ds = EesDataSetConfig::new(&ids[title], 1);
        ds.locations = locations.clone();
        let (records, errors) = collect(&source(&c, vec![ds])).await;
        assert!(errors.is_empty(), "{errors:?}");
        let wanted_locations: Vec<String> =
            locations.iter().flat_map(|l| oracle.locations(l)).collect();
        let all_indicators: Vec<String> = oracle
            .indicator_columns()
            .iter()
            .map(|c| oracle.indicator(c))
            .collect();
        assert_eq!(
            oracle.check(&records),
            expected(&oracle, &all_indicators, &wanted_locations, |_| true)
        );
        for r in &records {
            seen_status.insert(r.value["status"].as_str().unwrap().to_owned());
        }
    }
    let mut want: BTreeSet<String> = Symbol::ALL.iter().map(|s| s.code().to_owned()).collect();
    want.insert(String::new());
    assert_eq!(seen_status, want, "every symbol (and plain numbers) seen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_recovered_by_the_client() {
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;
    let mut ds = EesDataSetConfig::new(&ids[TIMELINESS], 1);
    ds.page_size = 7;
    let clean = collect(&source(&c, vec![ds.clone()])).await.0;

    let budget = c.retry_budget_remaining();
    sim.faults().server_errors(Endpoint::EesDataSet, 1, 502);
    sim.faults().server_errors(Endpoint::EesMeta, 2, 503);
    sim.faults().rate_limit(Endpoint::EesQuery, 2, 0);
    let (records, errors) = collect(&source(&c, vec![ds.clone()])).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(records, clean);
    assert_eq!(c.retry_budget_remaining(), budget - 5);

    // A server that stays down fails that data set with the HTTP error, and the next one
    // is still read.
    let c = client(&sim, 3);
    sim.faults().server_errors(Endpoint::EesQuery, 3, 503);
    let (records, errors) = collect(&source(
        &c,
        vec![ds.clone(), EesDataSetConfig::new(&ids[SEN], 1)],
    ))
    .await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(
        (e.kind(), e.reason),
        (EesErrorKind::DataSet, EesReason::Http)
    );
    assert!(e.endpoint.starts_with(&sim.base_url()), "{}", e.endpoint);
    assert!(e.endpoint.contains("/query?"), "{}", e.endpoint);
    assert!(e.message.contains("503"), "{e}");
    assert_only_from(&records, &ids[SEN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_to_a_major_that_does_not_exist_fails_clearly() {
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;
    let pinned = EesDataSetConfig::new(&ids[TIMELINESS], 2);
    let mut next = EesDataSetConfig::new(&ids[SEN], 1);
    next.locations = vec!["E92000001".into()];
    let (records, errors) = collect(&source(&c, vec![pinned, next])).await;

    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(
        (e.kind(), e.reason),
        (EesErrorKind::DataSet, EesReason::VersionPin)
    );
    assert_eq!(e.data_set_id, ids[TIMELINESS]);
    assert!(
        e.message.contains("pinned major version 2 does not exist")
            && e.message.contains("latest published version is 1.0"),
        "{e}"
    );
    assert_only_from(&records, &ids[SEN]);

    // A major of 0 never gets as far as a request.
    let e = EesSource::new(
        c.clone(),
        EesConfig {
            data_sets: vec![EesDataSetConfig::new(&ids[SEN], 0)],
        },
    )
    .unwrap_err();
    assert_eq!(e.reason, EesReason::Config);
    assert!(e.message.contains("data_sets[0].major_version"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_for_hertfordshire_east_of_england_and_england() {
    let sim = simulator().await;
    let c = client(&sim, 5);
    let ids = data_set_ids(&c).await;
    let oracle = Oracle::load(&c, &ids[TIMELINESS]).await;
    let mut ds = EesDataSetConfig::new(&ids[TIMELINESS], 1);
    ds.indicators = vec!["pc_within_20_weeks".into()];
    ds.locations = vec!["919".into(), "E12000006".into(), "E92000001".into()];
    let (records, errors) = collect(&source(&c, vec![ds.clone()])).await;
    assert!(errors.is_empty(), "{errors:?}");

    let mut by_place: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in &records {
        by_place
            .entry(r.value["location_name"].as_str().unwrap().to_owned())
            .or_default()
            .push(&r.value);
    }
    let names: Vec<&str> = by_place.keys().map(String::as_str).collect();
    assert_eq!(names, ["East of England", "England", "Hertfordshire"]);
    let per_place = oracle.count("timePeriods") * oracle.option_labels("exceptions").len();
    let expect = |name: &str, fields: Value| {
        let rows = &by_place[name];
        assert_eq!(rows.len(), per_place, "{name}");
        for r in rows {
            for (k, v) in fields.as_object().unwrap() {
                assert_eq!(&r[k], v, "{name} {k}: {r}");
            }
        }
    };
    expect(
        "Hertfordshire",
        json!({"geographic_level": "Local authority", "geographic_level_code": "LA",
               "location_code": "E10000015", "la_code": "919", "new_la_code": "E10000015",
               "region_code": "E12000006", "country_code": "E92000001"}),
    );
    expect(
        "East of England",
        json!({"geographic_level": "Regional", "geographic_level_code": "REG",
               "location_code": "E12000006", "la_code": null, "new_la_code": null,
               "region_code": "E12000006", "country_code": "E92000001"}),
    );
    expect(
        "England",
        json!({"geographic_level": "National", "geographic_level_code": "NAT",
               "location_code": "E92000001", "la_code": null, "new_la_code": null,
               "region_code": null, "country_code": "E92000001"}),
    );
    oracle.check(&records);

    // The LA's new code names the same location as its old one.
    ds.locations = vec!["E10000015".into()];
    let (by_new_code, errors) = collect(&source(&c, vec![ds])).await;
    assert!(errors.is_empty(), "{errors:?}");
    let herts: Vec<&Value> = by_place["Hertfordshire"].clone();
    assert_eq!(
        by_new_code.iter().map(|r| &r.value).collect::<Vec<_>>(),
        herts
    );
}
