//! The caseload by the DfE placement category of each active plan's main placement
//! (`kpi_placements`), computed independently: the main placement is the rank 1
//! `PlacementDetail` open on census day; a URN is looked up in the GIAS extract the run loads
//! (read here with the `csv` crate, not sendlake's reader), a UKPRN without a URN likewise,
//! and the SEN2 setting code names the rest (send-domain.md §4.5). The GIAS type → category
//! table is the partnership's configuration (`pipelines/sources/gias.toml`, read here with
//! `toml`), not something to compute twice.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use super::added::age_at_31_august;
use super::returns::{Placement, Return};
use super::view::{Cells, Lake, Scope, assert_cells, n, pc};

/// The GIAS register: establishment categories by URN and by UKPRN.
pub(crate) struct Register {
    by_urn: BTreeMap<u64, String>,
    by_ukprn: BTreeMap<u64, String>,
}

impl Register {
    /// Reads a GIAS extract with the category table `pipelines/sources/gias.toml` configures.
    pub(crate) fn read(extract: &[u8]) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/sources/gias.toml");
        let doc: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let column = doc["streams"][0]["mapping"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"].as_str() == Some("setting_category"))
            .unwrap()
            .clone();
        let default = column["default"].as_str().unwrap().to_owned();
        let category = |code: &str| {
            column["map"]
                .get(code)
                .map_or_else(|| default.clone(), |c| c.as_str().unwrap().to_owned())
        };
        let mut csv = csv::Reader::from_reader(extract);
        let headers = csv.byte_headers().unwrap().clone();
        let at = |name: &str| headers.iter().position(|h| h == name.as_bytes()).unwrap();
        let (urn, ukprn, kind) = (at("URN"), at("UKPRN"), at("TypeOfEstablishment (code)"));
        let mut out = Self {
            by_urn: BTreeMap::new(),
            by_ukprn: BTreeMap::new(),
        };
        for record in csv.byte_records() {
            let record = record.unwrap();
            let number = |i: usize| std::str::from_utf8(&record[i]).unwrap().trim().parse().ok();
            let c = category(std::str::from_utf8(&record[kind]).unwrap().trim());
            if let Some(u) = number(ukprn) {
                // A provider with several establishments: the least category, as any fixed
                // choice would do (the generated register has one establishment per UKPRN).
                let e = out.by_ukprn.entry(u).or_insert_with(|| c.clone());
                if c < *e {
                    *e = c.clone();
                }
            }
            out.by_urn.insert(number(urn).unwrap(), c);
        }
        out
    }

    /// The DfE placement category of a placement (send-domain.md §4.5).
    fn category(&self, p: &Placement) -> String {
        let number = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<u64>().ok());
        if let Some(urn) = number(&p.urn) {
            let Some(c) = self.by_urn.get(&urn) else {
                return "placement_unknown".to_owned();
            };
            let mainstream = matches!(
                c.as_str(),
                "mainstream_la_maintained" | "mainstream_academy" | "mainstream_free_school"
            );
            return match (mainstream, p.unit, p.resourced) {
                (true, true, _) => format!("{c}_senunit"),
                (true, false, true) => format!("{c}_resourced_provision"),
                _ => c.clone(),
            };
        }
        if let Some(ukprn) = number(&p.ukprn) {
            return self
                .by_ukprn
                .get(&ukprn)
                .cloned()
                .unwrap_or_else(|| "ukrlp_provider".to_owned());
        }
        match p.setting.as_deref() {
            Some("EHE") => "elective_home_education",
            Some("OLA") => "other_arrangements_la",
            Some("OPA") => "other_arrangements_parents",
            Some("EYP") => "nm_early_years",
            Some("NEET") => "neet",
            Some("NIEC") => "neet_ntci",
            Some("NIEO") => "neet_other",
            Some("OTH") => "other_placement_settings",
            _ => "placement_unknown",
        }
        .to_owned()
    }
}

/// Plans in one category on a census day, and those of compulsory school age (5 to 15 at 31
/// August).
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    plans: i64,
    csa: i64,
}

/// (LA, census year) → category → plans.
#[derive(Default)]
pub(crate) struct Placements {
    by_category: BTreeMap<(String, i32), BTreeMap<String, Figures>>,
}

/// The main placement open on `day`: rank 1, entered on or before it, not left by it.
fn main_placement(placements: &[Placement], day: NaiveDate) -> Option<&Placement> {
    placements.iter().find(|p| {
        p.rank == "1" && p.entry.is_none_or(|e| e <= day) && p.leaving.is_none_or(|l| l > day)
    })
}

impl Placements {
    pub(crate) fn compute(returns: &[Return], register: &Register) -> Self {
        let mut o = Self::default();
        for ret in returns {
            let census_day = ret.census_day.unwrap();
            for r in ret.requests.iter().filter(|r| r.active) {
                let category = main_placement(&r.placements, census_day)
                    .map_or_else(|| "placement_unknown".to_owned(), |p| register.category(p));
                let age = r.birth.map(|b| age_at_31_august(b, ret.census_year - 1));
                let f = o
                    .by_category
                    .entry((ret.la.clone(), ret.census_year))
                    .or_default()
                    .entry(category)
                    .or_default();
                f.plans += 1;
                f.csa += i64::from(age.is_some_and(|a| (5..=15).contains(&a)));
            }
        }
        o
    }

    /// Every `sen2` calendar-year cell of `kpi_placements` in `scope` equals this computation,
    /// and no other row is there.
    pub(crate) fn assert_table(&self, lake: &Lake<'_>, scope: &Scope) {
        let kpi = Cells::read(
            lake,
            "kpi_placements",
            "sen2",
            Some("setting_category"),
            scope,
        );
        let mut cells = 0;
        for ((la, year), categories) in &self.by_category {
            let total: i64 = categories.values().map(|f| f.plans).sum();
            for (category, f) in categories {
                cells += 1;
                assert_cells(
                    &format!("kpi_placements {scope} {la} {year} {category}"),
                    kpi.get(la, *year, category),
                    &[
                        ("ehc_plans", n(f.plans)),
                        ("caseload_total", n(total)),
                        ("ehc_plans_pc", pc(f.plans, total)),
                        ("ehc_plans_csa", n(f.csa)),
                        ("ehc_plans_not_csa", n(f.plans - f.csa)),
                    ],
                );
            }
        }
        assert_eq!(kpi.rows.len(), cells, "kpi_placements {scope}");
        if scope.is_la() {
            let seen: Vec<&String> = self.by_category.values().flat_map(|c| c.keys()).collect();
            let has = |suffix: &str| seen.iter().any(|c| c.ends_with(suffix));
            assert!(
                has("_senunit") && has("_resourced_provision") && has("special_la_maintained"),
                "the returns do not place children in units, resourced provision and special schools: {seen:?}"
            );
            assert!(
                self.by_category
                    .values()
                    .any(|c| c.get("neet_other").is_some_and(|f| f.csa > 0)),
                "the returns never place a child of compulsory school age in NIEO"
            );
        }
    }
}
