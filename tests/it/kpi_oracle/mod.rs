//! The published KPI tables against a second, independent computation: generated SEN2 returns
//! are read here with a plain XML event loop (`returns.rs`; not sendlake's reader, conformer or
//! SQL), the DfE's definitions (send-domain.md §3.5, docs/kpi-definitions.md) are applied in
//! Rust, and every `sen2` cell of the KPI tables of SEN2 must equal what this computes:
//! requests, 20-week timeliness and the caseload by need (`headline.rs`), the tables the DfE
//! added in 2026 (`added.rs`), ceased plans by reason, annual reviews on census day and the
//! month rows (`more.rs`), and the caseload by placement category (`placements.rs`, with the
//! GIAS extract the run loads). Every cell means the LA's rows and those of every district,
//! locality and quadrant (`areas.rs`: the oracle places each child by its postcode).
//!
//! The same figures, written out in the DfE's own file layout, are then loaded as the DfE's
//! published statistics (`pipelines/sources/dfe_files.toml`): the reconciliation with the DfE
//! must show no difference, and a planted one-plan difference must be reported.
//!
//! Last (`defects.rs`), the same children's returns with defects injected (dates out of order,
//! cessations without a reason, outcomes contradicting what follows them, ...): every record
//! still loads, the manifest accounts for every defect, the figures no defect can touch equal
//! the clean returns', and every cell equals the independent computation over the returns
//! as the oracle's own model of the rules degrades them.

mod added;
mod areas;
mod defects;
mod headline;
mod more;
mod placements;
mod returns;
mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sendlake_model::CheckStatus;

use crate::support::*;
use added::Added;
use areas::Areas;
use headline::Headline;
use more::More;
use placements::{Placements, Register};
use returns::{Return, read_return};
use view::{Cells, Lake, Scope, numbers, years};

/// The pipeline: the generated returns, the GIAS extract, the DfE's files (with `dfe`) and the
/// models, unsuppressed.
fn pipeline(ws: &Workspace, dfe: bool) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let abs = |p: &str| repo.join(p).canonicalize().unwrap().display().to_string();
    let file_source = |config: &str, folder: &str| {
        format!(
            "[[sources]]\ntype = \"source_file\"\nfile = {:?}\npath = {:?}\n",
            abs(config),
            ws.inputs(folder).display().to_string(),
        )
    };
    let dfe = if dfe {
        file_source("pipelines/sources/dfe_files.toml", "dfe")
    } else {
        String::new()
    };
    let text = format!(
        "[pipeline]\nname = \"oracle\"\n[store]\nurl = \"lake\"\n\
         [[sources]]\ntype = \"sen2_xml\"\nname = \"sen2\"\npath = \"inputs/sen2\"\n{gias}{dfe}\
         [models]\ndir = {:?}\n[models.publish]\nsuppress_max = 0\nmin_rate_denominator = 1\n",
        abs("pipelines/models"),
        gias = file_source("pipelines/sources/gias.toml", "gias"),
    );
    let p = ws.dir.path().join("oracle.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The columns before the figures in every DfE file (send-domain.md §4.4).
pub(crate) const DFE_HEAD: &str = "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,new_la_code,old_la_code,la_name,breakdown_topic,breakdown";

/// The columns of a DfE file before its breakdown, for one LA's row (send-domain.md §4.4).
pub(crate) fn dfe_la_row(period: &str, identifier: &str, la: &str) -> String {
    format!(
        "{period},{identifier},Local authority,E92000001,England,E12000006,East of England,E0000{la},{la},\"Synthetic, LA {la}\""
    )
}

/// The returns both tests read: two LAs of 400 children.
fn returns_config() -> sendlake_sim::Sen2SimConfig {
    sendlake_sim::Sen2SimConfig {
        las: 2,
        persons_per_la: 400,
        seed: 11,
        ..Default::default()
    }
}

/// Generates the returns (with `cfg`'s defects, if any) and the GIAS extract of the same LAs
/// into `ws`; the returns as the oracle reads them, the register, and the generator's summary.
fn generate(
    ws: &Workspace,
    cfg: &sendlake_sim::Sen2SimConfig,
) -> (Vec<Return>, Register, sendlake_sim::Sen2SimSummary) {
    let summary = sendlake_sim::write_sen2_returns(cfg, &ws.inputs("sen2")).unwrap();
    let returns = summary.files.iter().map(|f| read_return(&f.path)).collect();
    let extract = sendlake_sim::gias_csv(cfg).unwrap();
    std::fs::write(
        ws.inputs("gias").join("edubasealldata20260901.csv"),
        &extract,
    )
    .unwrap();
    (returns, Register::read(&extract), summary)
}

/// Every cell of the KPI tables the oracle computes, in the LA rows and in every area's, equals
/// the oracle's computation over the children of that scope; no area the oracle does not place
/// a child in has a row. With `dfe`, the DfE's files of the same figures are checked too.
fn assert_every_cell(ws: &Workspace, returns: &[Return], register: &Register, dfe: bool) {
    let lake = Lake::new(ws);
    let areas = Areas::configured();
    let activity_year = returns[0].census_year - 1;
    let mut scopes = vec![Scope::La];
    scopes.extend(areas.scopes(returns));
    assert!(
        scopes.len() >= 20,
        "the returns place children in only {} areas",
        scopes.len() - 1
    );
    for scope in &scopes {
        let within = areas.within(returns, scope);
        Headline::compute(&within).assert_tables(&lake, scope, activity_year);
        Added::compute(&within).assert_tables(&lake, scope, dfe);
        More::compute(&within).assert_tables(&lake, scope);
        Placements::compute(&within, register).assert_table(&lake, scope);
    }
    for table in [
        "kpi_requests",
        "kpi_timeliness",
        "kpi_caseload_need",
        "kpi_assessments",
        "kpi_annual_reviews",
        "kpi_annual_reviews_year",
        "kpi_caseload_age",
        "kpi_ceased",
        "kpi_placements",
    ] {
        for b in lake.batches(table) {
            let one = std::slice::from_ref(&b);
            let (levels, codes) = (
                strings(one, "geography_level"),
                strings(one, "geography_code"),
            );
            for (level, code) in levels.iter().zip(&codes) {
                let (Some(level), Some(code)) = (level.as_deref(), code.as_deref()) else {
                    continue;
                };
                let placed = scopes
                    .iter()
                    .any(|s| matches!(s, Scope::Area(l, c) if *l == level && c == code));
                assert!(
                    !matches!(level, "district" | "locality" | "quadrant") || placed,
                    "{table}: a row for {level} {code}, where the oracle places no child"
                );
            }
        }
    }
}

#[test]
fn kpi_tables_equal_an_independent_computation_and_reconcile_with_the_dfe() {
    let ws = Workspace::new();
    let (returns, register, _) = generate(&ws, &returns_config());
    let o = Headline::compute(&returns);
    assert!(o.requests.len() >= 2 && o.timeliness.len() >= 2 && o.caseload.len() == 2);
    o.dfe_files(&ws.inputs("dfe"), None);
    Added::compute(&returns).dfe_files(&ws.inputs("dfe"));

    let p = pipeline(&ws, true);
    let report = ws.run(&p);
    assert_eq!(report.exit_code(), 0, "{:?}", report.manifest.status);
    assert_every_cell(&ws, &returns, &register, true);

    // The DfE's files computed from the same returns: loaded as `dfe_published` rows, and the
    // reconciliation finds no difference beyond rounding.
    let lake = Lake::new(&ws);
    let dfe = Cells::read(&lake, "kpi_requests", "dfe_published", None, &Scope::La);
    assert_eq!(dfe.rows.len(), o.requests.len());
    let recon = ws.read("published", "dfe_reconciliation");
    let compared = rows(&recon);
    // Whole years only: the activity year of each LA's return, 14 columns each (some rates may
    // be missing where a denominator is 0).
    assert!(
        compared >= 10 * returns.len(),
        "only {compared} figures compared"
    );
    let check = |report: &sendlake_pipeline::RunReport| {
        report
            .manifest
            .models
            .as_ref()
            .unwrap()
            .checks
            .iter()
            .find(|c| c.name == "dfe_reconciliation: sendlake agrees with the DfE")
            .cloned()
            .unwrap()
    };
    let agrees = check(&report);
    assert_eq!(agrees.status, CheckStatus::Pass, "{}", agrees.detail);

    // One plan more in the DfE's figure for one LA and whole year: reported, as a warning,
    // once.
    let (la, year) = (returns[0].la.clone(), returns[0].census_year - 1);
    assert!(o.timeliness.contains_key(&(la.clone(), year)));
    o.dfe_files(&ws.inputs("dfe"), Some((&la, year)));
    let report = ws.run(&p);
    let differs = check(&report);
    assert_eq!(differs.status, CheckStatus::Warn, "{}", differs.detail);
    assert_eq!(differs.failing_rows, Some(1));
    let recon = read_reconciliation(&ws);
    assert_eq!(
        recon.get(&(la.clone(), year, "plans_issued_den".to_owned())),
        Some(&(-1.0, false)),
        "sendlake counts one plan fewer than the DfE's planted figure"
    );
    assert_eq!(recon.values().filter(|(_, ok)| !ok).count(), 1);
}

/// `dfe_reconciliation` as (LA, year, column) → (difference, within tolerance).
fn read_reconciliation(ws: &Workspace) -> BTreeMap<(String, i32, String), (f64, bool)> {
    let mut out = BTreeMap::new();
    for b in ws.read("published", "dfe_reconciliation") {
        let one = std::slice::from_ref(&b);
        let (las, columns) = (strings(one, "la_code"), strings(one, "kpi_column"));
        let years = years(&b);
        for i in 0..b.num_rows() {
            let cells = numbers(&b, i);
            out.insert(
                (
                    las[i].clone().unwrap(),
                    years[i],
                    columns[i].clone().unwrap(),
                ),
                (
                    cells["difference"].unwrap(),
                    cells["within_tolerance"] == Some(1.0),
                ),
            );
        }
    }
    out
}
