//! Helpers shared by the test binaries: a simulator on an ephemeral port, a client for it,
//! and an oracle that reads a data set straight from the simulator without the connector.
//! Each binary uses a different subset, hence `dead_code` is allowed here.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::StreamExt as _;
use sendlake_ees::{EesConfig, EesDataSetConfig, EesError, EesSource};
use sendlake_extract::records::SourceRecord;
use sendlake_http::{HttpClient, HttpSourceConfig, RetryPolicy};
use sendlake_sim::Sen2SimConfig;
use sendlake_sim::serve::RunningSim;
use serde_json::Value;

pub const NEED: &str = "EHC plans by primary need";
pub const TIMELINESS: &str = "EHC plans issued within 20 weeks";
pub const PLACEMENT: &str = "EHC plans by placement type";
pub const SEN: &str = "Special educational needs in England";

pub async fn simulator() -> RunningSim {
    sendlake_test::sim::serve(sendlake_test::sim::config(
        1,
        10,
        Sen2SimConfig::default().seed,
    ))
    .await
}

pub fn client(sim: &RunningSim, max_attempts: u32) -> HttpClient {
    let mut config = HttpSourceConfig::new(sim.base_url());
    config.retry = RetryPolicy {
        max_attempts,
        ..sendlake_test::sim::quick_retries()
    };
    HttpClient::new("dfe_ees", &config).expect("client")
}

/// Data set title → id, found through the publications endpoints as a user would.
pub async fn data_set_ids(client: &HttpClient) -> HashMap<String, String> {
    let q = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    let pubs = client
        .get_json("v1/publications", &q("pageSize", "40"))
        .await
        .unwrap();
    let mut out = HashMap::new();
    for p in pubs["results"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        let sets = client
            .get_json(
                &format!("v1/publications/{id}/data-sets"),
                &q("pageSize", "20"),
            )
            .await
            .unwrap();
        for d in sets["results"].as_array().unwrap() {
            out.insert(
                d["title"].as_str().unwrap().to_owned(),
                d["id"].as_str().unwrap().to_owned(),
            );
        }
    }
    assert_eq!(out.len(), 4, "{out:?}");
    out
}

pub async fn collect(source: &EesSource) -> (Vec<SourceRecord>, Vec<EesError>) {
    let items: Vec<_> = source.records().collect().await;
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match item {
            Ok(r) => records.push(r),
            Err(e) => errors.push(e),
        }
    }
    (records, errors)
}

pub fn source(client: &HttpClient, data_sets: Vec<EesDataSetConfig>) -> EesSource {
    EesSource::new(client.clone(), EesConfig { data_sets }).expect("valid config")
}

/// `2024/2025` → `202425`, the flat-CSV form, written out independently of the crate.
fn csv_period(p: &str) -> String {
    match p.split_once('/') {
        Some((a, b)) => format!("{a}{}", &b[2..]),
        None => p.to_owned(),
    }
}

/// One cell of a data set: period (CSV form), time code, level, location id, option ids
/// (sorted), indicator id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    pub period: String,
    pub code: String,
    pub level: String,
    pub location: String,
    pub options: Vec<String>,
    pub indicator: String,
}

/// A data set as the simulator serves it, read without the connector.
pub struct Oracle {
    pub meta: Value,
    /// Every cell and its raw value string.
    pub cells: BTreeMap<Cell, String>,
}

impl Oracle {
    pub async fn load(client: &HttpClient, id: &str) -> Oracle {
        let v = vec![("dataSetVersion".to_owned(), "1.0".to_owned())];
        let meta = client
            .get_json(&format!("v1/data-sets/{id}/meta"), &v)
            .await
            .unwrap();
        let mut q = v.clone();
        q.push(("pageSize".to_owned(), "10000".to_owned()));
        let all = client
            .get_json(&format!("v1/data-sets/{id}/query"), &q)
            .await
            .unwrap();
        assert_eq!(all["paging"]["totalPages"], 1, "one unpaged read");
        let mut cells = BTreeMap::new();
        for row in all["results"].as_array().unwrap() {
            let level = row["geographicLevel"].as_str().unwrap();
            let mut options: Vec<String> = row["filters"]
                .as_object()
                .unwrap()
                .values()
                .map(|o| o.as_str().unwrap().to_owned())
                .collect();
            options.sort();
            for (indicator, value) in row["values"].as_object().unwrap() {
                let cell = Cell {
                    period: csv_period(row["timePeriod"]["period"].as_str().unwrap()),
                    code: row["timePeriod"]["code"].as_str().unwrap().to_owned(),
                    level: level.to_owned(),
                    location: row["locations"][level].as_str().unwrap().to_owned(),
                    options: options.clone(),
                    indicator: indicator.clone(),
                };
                assert!(
                    cells
                        .insert(cell, value.as_str().unwrap().to_owned())
                        .is_none()
                );
            }
        }
        Oracle { meta, cells }
    }

    pub fn indicator(&self, column: &str) -> String {
        self.meta["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["column"] == column)
            .unwrap_or_else(|| panic!("no indicator {column}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn indicator_columns(&self) -> Vec<String> {
        self.meta["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["column"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The options of the filter with `column`.
    fn filter_options(&self, column: &str) -> &[Value] {
        let f = self.meta["filters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["column"] == column)
            .unwrap();
        f["options"].as_array().unwrap()
    }

    pub fn option(&self, column: &str, label: &str) -> String {
        self.filter_options(column)
            .iter()
            .find(|o| o["label"] == label)
            .unwrap_or_else(|| panic!("no option {label}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn option_labels(&self, column: &str) -> Vec<String> {
        self.filter_options(column)
            .iter()
            .map(|o| o["label"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Location ids with `code` (ONS or old LA code) at any level.
    pub fn locations(&self, code: &str) -> Vec<String> {
        self.meta["locations"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["options"].as_array().unwrap())
            .filter(|o| o["code"] == code || o["oldCode"] == code)
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn count(&self, key: &str) -> usize {
        self.meta[key].as_array().unwrap().len()
    }

    /// The cell a record claims to be, mapped back to the simulator's ids.
    pub fn cell_of(&self, r: &Value) -> Cell {
        let level = r["geographic_level_code"].as_str().unwrap();
        let location = self.meta["locations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["level"]["code"] == level)
            .flat_map(|g| g["options"].as_array().unwrap())
            .find(|o| o["code"] == r["location_code"])
            .unwrap_or_else(|| panic!("no location for {r}"))["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut options: Vec<String> = r["filters"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(column, label)| self.option(column, label.as_str().unwrap()))
            .collect();
        options.sort();
        Cell {
            period: r["time_period"].as_str().unwrap().to_owned(),
            code: r["time_period_code"].as_str().unwrap().to_owned(),
            level: level.to_owned(),
            location,
            options,
            indicator: self.indicator(r["indicator"].as_str().unwrap()),
        }
    }

    /// Checks every record against the simulator's raw value for its cell; returns the
    /// cells, which must all be distinct.
    pub fn check(&self, records: &[SourceRecord]) -> BTreeSet<Cell> {
        let mut seen = BTreeSet::new();
        for rec in records {
            let r = &rec.value;
            let cell = self.cell_of(r);
            let raw = self
                .cells
                .get(&cell)
                .unwrap_or_else(|| panic!("{r} is no cell of the simulator"));
            if ["z", "x", "c", "low", "u"].contains(&raw.as_str()) {
                assert_eq!(r["status"], raw.as_str(), "{r}");
                assert_eq!(r["value"], Value::Null, "{r}");
            } else {
                assert_eq!(r["status"], "", "{r}");
                let want: f64 = raw.parse().unwrap();
                assert_eq!(r["value"].as_f64(), Some(want), "{r}");
            }
            assert!(seen.insert(cell), "record twice: {r}");
        }
        seen
    }
}

/// Every cell whose indicator, location and options pass the given tests.
pub fn expected(
    oracle: &Oracle,
    indicators: &[String],
    locations: &[String],
    keep_options: impl Fn(&[String]) -> bool,
) -> BTreeSet<Cell> {
    oracle
        .cells
        .keys()
        .filter(|c| indicators.contains(&c.indicator))
        .filter(|c| locations.is_empty() || locations.contains(&c.location))
        .filter(|c| keep_options(&c.options))
        .cloned()
        .collect()
}
