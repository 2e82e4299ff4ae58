//! The models' dependency graph: which tables each model's SQL reads, and the order that
//! builds a model after every model it reads.
//!
//! Views (`*.view.sql`, [`ModelProject::views`](crate::ModelProject::views)) are nodes of
//! the same graph: a view comes after every model it reads (it is registered once they are
//! current) and before every model that reads it. What a model reads through a view counts
//! as read by the model, so a model is skipped when a table behind its view was not
//! published, and the run manifest lists the tables a model really reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use deltalake::datafusion::config::Dialect;
use deltalake::datafusion::prelude::SessionContext;
use sendlake_schema::Zone;

use crate::error::{ModelError, ProjectError, Result};
use crate::project::ModelDef;
use crate::session::BuildContext;

/// One step of the build: a model to run, or a view to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// The model (output table) or view.
    pub(crate) name: String,
    /// A view, rather than a model.
    pub(crate) view: bool,
    /// Every table it reads, directly or through views (views themselves not listed).
    pub(crate) reads: Vec<String>,
    /// Every view it reads, directly or through another view.
    pub(crate) views: Vec<String>,
}

/// Tables a SQL text reads (CTE names excluded).
fn references(ctx: &SessionContext, sql: &str) -> std::result::Result<Vec<String>, String> {
    let state = ctx.state();
    let statement = state
        .sql_to_statement(sql, &Dialect::Generic)
        .map_err(|e| e.to_string())?;
    let refs = state
        .resolve_table_references(&statement)
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = refs.iter().map(|r| r.table().to_owned()).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Models and views in dependency order (each after every model and view it reads), each
/// with what it reads: the SQL is parsed once, here. Unknown tables and cycles are errors
/// naming the model's or view's file.
pub(crate) fn order(cx: &BuildContext<'_>, ctx: &SessionContext) -> Result<Vec<Step>> {
    let registry = cx.registry;
    let is_input = |t: &str| {
        registry
            .table(t)
            .is_some_and(|t| t.zone == Zone::Restricted)
    };
    // A table that shares a count with another is suppressed after it, and cannot be
    // published without it: it reads it, as far as the order goes.
    let shared = |model: &str| {
        registry
            .table(model)
            .and_then(|t| t.suppression.as_ref())
            .map(|s| s.shared.iter().map(|s| s.table.clone()).collect())
            .unwrap_or_default()
    };
    steps(
        ctx,
        &cx.project.dir,
        &cx.project.models,
        &cx.project.views,
        &is_input,
        &shared,
    )
}

/// [`order`] without the build context: `is_input` says whether a table is an input (a
/// restricted table), `shared` lists the tables a model shares a suppressed count with.
fn steps(
    ctx: &SessionContext,
    dir: &Path,
    models: &BTreeMap<String, ModelDef>,
    views: &BTreeMap<String, ModelDef>,
    is_input: &dyn Fn(&str) -> bool,
    shared: &dyn Fn(&str) -> Vec<String>,
) -> Result<Vec<Step>> {
    let nodes = || models.iter().chain(views.iter());
    let mut deps: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut direct: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, m) in nodes() {
        match references(ctx, &m.sql) {
            Ok(mut refs) => {
                for r in &refs {
                    let known = models.contains_key(r)
                        || views.contains_key(r)
                        || r == "dim_date"
                        || r.starts_with("ref_")
                        || is_input(r);
                    if !known {
                        problems.push(ProjectError::new(
                            &m.file,
                            None,
                            format!("reads `{r}`, which is neither a restricted table, a reference table (ref_*), dim_date, another model nor a view (*.view.sql)"),
                        ));
                    }
                }
                if models.contains_key(name) {
                    for table in shared(name) {
                        if !refs.contains(&table) {
                            refs.push(table);
                        }
                    }
                }
                deps.insert(
                    name,
                    refs.iter()
                        .filter(|r| models.contains_key(*r) || views.contains_key(*r))
                        .cloned()
                        .collect(),
                );
                direct.insert(name, refs);
            }
            Err(e) => problems.push(ProjectError::new(
                &m.file,
                None,
                format!("SQL does not parse: {e}"),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(ModelError::Project(problems));
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out: Vec<Step> = Vec::new();
    while out.len() < deps.len() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(n, d)| !done.contains(**n) && d.iter().all(|x| done.contains(x)))
            .map(|(n, _)| (*n).to_owned())
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = deps
                .keys()
                .filter(|n| !done.contains(**n))
                .copied()
                .collect();
            return Err(ModelError::Project(vec![ProjectError::new(
                dir,
                None,
                format!(
                    "models and views read each other in a cycle: {}",
                    stuck.join(", ")
                ),
            )]));
        }
        for n in ready {
            done.insert(n.clone());
            // A view read here is already in `out`, with what it reads worked out.
            let mut reads = BTreeSet::new();
            let mut via = BTreeSet::new();
            for r in direct.remove(n.as_str()).unwrap_or_default() {
                match out.iter().find(|s| s.view && s.name == r) {
                    Some(v) => {
                        reads.extend(v.reads.iter().cloned());
                        via.extend(v.views.iter().cloned());
                        via.insert(r);
                    }
                    None => {
                        reads.insert(r);
                    }
                }
            }
            out.push(Step {
                view: views.contains_key(&n),
                name: n,
                reads: reads.into_iter().collect(),
                views: via.into_iter().collect(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(list: &[(&str, &str)], suffix: &str) -> BTreeMap<String, ModelDef> {
        list.iter()
            .map(|(name, sql)| {
                let def = ModelDef {
                    name: (*name).to_owned(),
                    file: format!("models/{name}{suffix}").into(),
                    sql: (*sql).to_owned(),
                };
                ((*name).to_owned(), def)
            })
            .collect()
    }

    fn run(models: &[(&str, &str)], views: &[(&str, &str)]) -> Result<Vec<Step>> {
        let is_input = |t: &str| t.starts_with("in_");
        let shared = |_: &str| Vec::new();
        steps(
            &SessionContext::new(),
            Path::new("models"),
            &defs(models, ".sql"),
            &defs(views, ".view.sql"),
            &is_input,
            &shared,
        )
    }

    fn position(steps: &[Step], name: &str) -> usize {
        steps.iter().position(|s| s.name == name).unwrap()
    }

    #[test]
    fn a_view_comes_after_the_models_it_reads_and_before_its_readers() {
        let steps = run(
            &[
                ("fact_a", "SELECT * FROM in_a"),
                (
                    "kpi_a",
                    "WITH x AS (SELECT * FROM snap) SELECT * FROM x JOIN in_b USING (k)",
                ),
            ],
            &[("snap", "SELECT * FROM fact_a JOIN dim_date ON true")],
        )
        .unwrap();
        assert!(position(&steps, "fact_a") < position(&steps, "snap"));
        assert!(position(&steps, "snap") < position(&steps, "kpi_a"));
        let kpi = &steps[position(&steps, "kpi_a")];
        assert!(!kpi.view);
        // The model reads the tables behind the view, not the view, as far as the manifest
        // and the skipping of models go; the view is listed apart.
        assert_eq!(kpi.reads, ["dim_date", "fact_a", "in_b"]);
        assert_eq!(kpi.views, ["snap"]);
        assert!(steps[position(&steps, "snap")].view);
    }

    #[test]
    fn a_view_read_through_another_view_counts_for_the_model() {
        let steps = run(
            &[("kpi_a", "SELECT * FROM outer_v")],
            &[
                ("outer_v", "SELECT * FROM inner_v"),
                ("inner_v", "SELECT * FROM in_a"),
            ],
        )
        .unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["inner_v", "outer_v", "kpi_a"]);
        let kpi = &steps[2];
        assert_eq!(kpi.reads, ["in_a"]);
        assert_eq!(kpi.views, ["inner_v", "outer_v"]);
    }

    #[test]
    fn a_view_reading_an_unknown_table_names_its_file() {
        let err = run(&[], &[("snap", "SELECT * FROM nowhere")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("models/snap.view.sql"), "{err}");
        assert!(err.contains("reads `nowhere`"), "{err}");
    }

    #[test]
    fn a_view_that_does_not_parse_names_its_file() {
        let err = run(&[], &[("snap", "SELEC nonsense")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("models/snap.view.sql: SQL does not parse"),
            "{err}"
        );
    }

    #[test]
    fn a_cycle_through_a_view_is_an_error() {
        let err = run(
            &[("kpi_a", "SELECT * FROM snap")],
            &[("snap", "SELECT * FROM kpi_a")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("in a cycle: kpi_a, snap"), "{err}");
    }
}
