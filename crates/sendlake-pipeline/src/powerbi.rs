//! Which tables and roles a pipeline's Power BI model holds: the tables its models build (and
//! the built-in `dim_date` and `data_quality`), one role per SEND locality of its geography,
//! and the lake it opens on.

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
    })
}
