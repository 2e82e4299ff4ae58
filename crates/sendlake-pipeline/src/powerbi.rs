//! Which tables and roles a pipeline's Power BI model holds: the tables its models build (and
//! the built-in `dim_date` and `data_quality`), one role per SEND locality of its geography,
//! the lake it opens on, and the source each starter page shows (`report.toml`).

use sendlake_powerbi::RoleLocality;
pub use sendlake_powerbi::{SemanticModel, Written, write};
use sendlake_schema::SchemaRegistry;

use crate::PipelinePlan;

/// The semantic model of `plan`'s model tables, opening on `lake` (default: the pipeline's
/// store, made absolute, since Power BI resolves no relative folder).
///
/// # Errors
/// The pipeline has no `[models]`, or a model table is not declared in the schema.
pub fn semantic_model<'a>(
    plan: &PipelinePlan,
    registry: &'a SchemaRegistry,
    name: &str,
    lake: Option<&str>,
) -> Result<SemanticModel<'a>, String> {
    let Some(models) = &plan.models else {
        return Err(format!(
            "{}: the pipeline has no [models]; the Power BI model is built on the model tables",
            plan.file.display()
        ));
    };
    let names = models
        .project
        .models
        .keys()
        .map(String::as_str)
        .chain(sendlake_model::project::BUILT_IN);
    // Population estimates, where a source of the pipeline loads them: the denominator of
    // rates per 1,000 children and young people.
    let population = plan.sources.iter().any(|s| match s {
        crate::config::SourcePlan::Declared(d) => d
            .def
            .streams()
            .iter()
            .any(|(_, m)| m.table == "population_estimate"),
        crate::config::SourcePlan::Sen2Xml(_) => false,
    });
    let names = names.chain(population.then_some("population_estimate"));
    let mut tables = Vec::new();
    for table in names {
        tables.push(
            registry.table(table).ok_or_else(|| {
                format!("model table `{table}` is not declared in schemas/tables")
            })?,
        );
    }
    // Dimensions first, then facts, then the KPI and other tables, each alphabetical.
    let rank = |n: &str| {
        if n.starts_with("dim_") {
            0
        } else if n.starts_with("fact_") {
            1
        } else {
            2
        }
    };
    tables.sort_by(|a, b| (rank(&a.name), &a.name).cmp(&(rank(&b.name), &b.name)));
    let lake_location = lake.map(str::to_owned).unwrap_or_else(|| {
        let store = plan.store_url.trim_start_matches("file://");
        if store.contains("://") {
            store.to_owned()
        } else {
            std::path::absolute(store)
                .map(|p| std::fs::canonicalize(&p).unwrap_or(p).display().to_string())
                .unwrap_or_else(|_| store.to_owned())
        }
    });
    Ok(SemanticModel {
        name: name.to_owned(),
        tables,
        localities: models
            .project
            .geography
            .localities
            .iter()
            .map(|l| RoleLocality {
                code: l.code.clone(),
                name: l.name.clone(),
            })
            .collect(),
        lake_location,
        page_sources: models.project.report.powerbi.page_sources.clone(),
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn demo_project() -> sendlake_model::ModelProject {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/models");
        sendlake_model::ModelProject::load(&dir, &SchemaRegistry::embedded().unwrap()).unwrap()
    }

    #[test]
    fn the_demo_pages_show_the_sources_they_showed_as_constants() {
        let mut project = demo_project();
        // The sources the snapshot in sendlake-powerbi/tests/model.rs is generated with.
        let expected: std::collections::BTreeMap<String, String> = [
            ("kpi_timeliness", "sen2"),
            ("kpi_caseload_need", "sen2"),
            ("kpi_requests", "sen2"),
            ("kpi_health_waits", "nhs_community"),
        ]
        .map(|(t, s)| (t.to_owned(), s.to_owned()))
        .into();
        assert_eq!(project.report.powerbi.page_sources, expected);
        assert!(crate::config::page_source_problems(&project).is_empty());

        // A table the starter report has no page on is a problem in report.toml.
        project
            .report
            .powerbi
            .page_sources
            .insert("kpi_family_feedback".into(), "family_feedback".into());
        let problems = crate::config::page_source_problems(&project);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].file.ends_with("report.toml"));
        assert_eq!(problems[0].key, "powerbi.page_sources.kpi_family_feedback");
    }
}
