//! The KPI measures. Each reads a published KPI table, whose rows hold several geography
//! levels, period types and sources at once: adding across them would double count, so
//! each measure is blank unless one level, one period type and one source are in context (a slicer or
//! a row of the visual). Suppressed cells are null and add nothing.

use std::collections::BTreeSet;

/// The home table of the measures (`Measures` is reserved by Power BI).
pub(crate) const MEASURES_TABLE: &str = "_KPIs";

/// One KPI measure of the model's `_KPIs` table.
#[derive(Debug, Clone)]
pub struct Measure {
    /// Name, as report authors see it.
    pub name: String,
    /// The published KPI table it reads.
    pub table: String,
    /// Its DAX expression.
    pub dax: String,
    /// Format string.
    pub format: &'static str,
    /// Display folder.
    pub folder: &'static str,
    /// What it means.
    pub description: String,
}

fn guarded(table: &str, body: &str) -> String {
    format!(
        "IF(\n\tHASONEVALUE({table}[geography_level]) && HASONEVALUE({table}[period_type]) && HASONEVALUE({table}[source]),\n\t{body}\n)"
    )
}

fn rate(table: &str, num: &str, den: &str) -> String {
    guarded(
        table,
        &format!("DIVIDE(SUM({table}[{num}]), SUM({table}[{den}])) * 100"),
    )
}

/// England's value of a measure on a KPI table (the DfE's published national row), beside
/// the local one.
fn england(table: &str, measure: &str) -> String {
    format!(
        "CALCULATE(\n\t[{measure}],\n\t{table}[source] = \"dfe_published\",\n\t{table}[geography_level] = \"national\",\n\tREMOVEFILTERS({table}[geography_code]),\n\tREMOVEFILTERS({table}[la_code])\n)"
    )
}

/// The measures whose tables are in the model.
pub fn measures(tables: &BTreeSet<&str>) -> Vec<Measure> {
    let mut out = Vec::new();
    let mut add = |table: &str,
                   name: &str,
                   dax: String,
                   format: &'static str,
                   folder: &'static str,
                   description: &str| {
        if tables.contains(table) {
            out.push(Measure {
                name: name.to_owned(),
                table: table.to_owned(),
                dax,
                format,
                folder,
                description: description.to_owned(),
            });
        }
    };
    let t = "kpi_timeliness";
    add(
        t,
        "Plans issued",
        guarded(t, &format!("SUM({t}[plans_issued_den])")),
        "#,0",
        "Timeliness",
        "New EHC plans issued in the period (excluding transferred-in plans), the denominator of the 20-week rate.",
    );
    add(
        t,
        "Issued within 20 weeks (%)",
        rate(t, "plans_issued_within_20_weeks", "plans_issued_den"),
        "0.0",
        "Timeliness",
        "Percentage of new EHC plans issued within 20 weeks (140 days) of the request, including exceptions: the DfE's headline measure.",
    );
    add(
        t,
        "Issued within 20 weeks excluding exceptions (%)",
        rate(t, "plans_issued_20_weeks_ex", "plans_issued_den_ex"),
        "0.0",
        "Timeliness",
        "The 20-week rate with plans whose delay falls under a statutory exception left out of both parts.",
    );
    add(
        t,
        "Issued within 20 weeks, England (%)",
        england(t, "Issued within 20 weeks (%)"),
        "0.0",
        "Timeliness",
        "England's 20-week rate as the DfE published it, for the same period: compare with the local rate.",
    );
    add(t, "Issued within 20 weeks vs England (points)",
        "VAR l = [Issued within 20 weeks (%)]\nVAR e = [Issued within 20 weeks, England (%)]\nRETURN IF(NOT ISBLANK(l) && NOT ISBLANK(e), l - e)".into(),
        "+0.0;-0.0;0.0", "Timeliness",
        "Local 20-week rate minus England's, in percentage points: positive is better than England.");
    let c = "kpi_caseload_need";
    add(
        c,
        "EHC plans",
        guarded(c, &format!("SUM({c}[ehc_plans])")),
        "#,0",
        "Caseload",
        "EHC plans maintained on the snapshot day (census day or month end), by primary need where need is in context.",
    );
    if tables.contains("population_estimate") && tables.contains("dim_local_authority") {
        add(
            c,
            "EHC plans per 1,000 aged 0-25",
            format!(
                "VAR level = SELECTEDVALUE({c}[geography_level])\n\
             VAR code = SELECTEDVALUE({c}[geography_code])\n\
             VAR ons = IF(level = \"la\", LOOKUPVALUE(dim_local_authority[ons_code], dim_local_authority[la_code], code), code)\n\
             VAR yr = YEAR(MAX({c}[period_start]))\n\
             VAR py = CALCULATE(MAX(population_estimate[year]), REMOVEFILTERS(population_estimate), population_estimate[geography_code] = ons, population_estimate[year] <= yr)\n\
             VAR pop = CALCULATE(SUM(population_estimate[population]), REMOVEFILTERS(population_estimate), population_estimate[geography_code] = ons, population_estimate[year] = py, population_estimate[age] <= 25)\n\
             RETURN IF(level IN {{\"la\", \"district\"}} && pop > 0, DIVIDE([EHC plans], pop) * 1000)"
            ),
            "0.0",
            "Caseload",
            "EHC plans per 1,000 residents aged 0-25, for one LA or district: the ONS mid-year estimate of the latest year up to the period's (population_estimate, when the pipeline loads it).",
        );
    }
    let p = "kpi_placements";
    add(
        p,
        "Placements share (%)",
        guarded(
            p,
            &format!(
                "DIVIDE(SUM({p}[ehc_plans]), CALCULATE(SUM({p}[ehc_plans]), REMOVEFILTERS({p}[setting_group], {p}[setting_category]))) * 100"
            ),
        ),
        "0.0",
        "Placements",
        "Share of the EHC plan caseload placed in the setting groups or categories in context: the placements mix.",
    );
    add(
        p,
        "NIEO of compulsory school age",
        guarded(
            p,
            &format!("CALCULATE(SUM({p}[ehc_plans_csa]), {p}[setting_category] = \"neet_other\")"),
        ),
        "#,0",
        "Placements",
        "Children of compulsory school age (5 to 15 at 31 August) whose main placement is \"not in education - other\" (NIEO): the DfE's neet_other_csa.",
    );
    let a = "kpi_caseload_age";
    add(
        a,
        "Caseload by age share (%)",
        guarded(
            a,
            &format!(
                "DIVIDE(SUM({a}[ehc_plans]), CALCULATE(SUM({a}[ehc_plans]), REMOVEFILTERS({a}[age_band]))) * 100"
            ),
        ),
        "0.0",
        "Caseload",
        "Share of the EHC plan caseload in the age bands in context (age at 31 August, the DfE's bands).",
    );
    let d = "kpi_assessments";
    add(
        d,
        "Not to issue within 16 weeks (%)",
        rate(d, "outcome_decision_within_time", "decisions_not_to_issue"),
        "0.0",
        "Assessments",
        "Of the decisions not to issue a plan made in the period, the percentage made within 16 weeks (112 days) of the request (the DfE's outcome_decision_within_time_pc).",
    );
    let y = "kpi_annual_reviews_year";
    add(
        y,
        "Reviews completed in year (%)",
        rate(y, "review_completed", "review_expected"),
        "0.0",
        "Annual reviews",
        "Of the plans whose annual review fell due in the calendar year, the percentage reviewed in it (the DfE's review_completed over review_expected).",
    );
    add(
        y,
        "Review decisions within 4 weeks (%)",
        rate(y, "decision_4_weeks", "review_completed"),
        "0.0",
        "Annual reviews",
        "Of the reviews completed in the calendar year, the percentage with the LA's decision within 4 weeks of the meeting (the DfE's decision_4_weeks; no decision date counts as over).",
    );
    let r = "kpi_requests";
    add(
        r,
        "Requests received",
        guarded(r, &format!("SUM({r}[requests_received_in_year])")),
        "#,0",
        "Requests",
        "Requests for an EHC needs assessment received in the period.",
    );
    add(
        r,
        "Requests agreed (%)",
        rate(r, "requests_decided_to_assess", "requests_received_in_year"),
        "0.0",
        "Requests",
        "Of the requests received in the period, the percentage the LA agreed to assess (the DfE's request_assess_pc).",
    );
    add(
        r,
        "Decided within 6 weeks (%)",
        rate(r, "request_outcome_six_weeks", "request_decisions_in_year"),
        "0.0",
        "Requests",
        "Of the decisions made in the period (whenever the request came), the percentage made within 6 weeks (42 days) of the request (the DfE's request_outcome_six_weeks_pc).",
    );
    let h = "kpi_health_waits";
    add(
        h,
        "Waiting over 18 weeks",
        guarded(h, &format!("SUM({h}[waiting_over_18_weeks])")),
        "#,0",
        "Health waits",
        "Children and young people waiting more than 18 weeks for a community health service.",
    );
    add(
        h,
        "Waiting over 52 weeks",
        guarded(h, &format!("SUM({h}[waiting_over_52_weeks])")),
        "#,0",
        "Health waits",
        "Children and young people waiting more than 52 weeks for a community health service.",
    );
    add(
        h,
        "Waiting over 18 weeks (%)",
        rate(h, "waiting_over_18_weeks", "waiting_total"),
        "0.0",
        "Health waits",
        "Share of those waiting who have waited more than 18 weeks.",
    );
    add(
        h,
        "Waiting over 52 weeks (%)",
        rate(h, "waiting_over_52_weeks", "waiting_total"),
        "0.0",
        "Health waits",
        "Share of those waiting who have waited more than 52 weeks.",
    );
    out
}
