//! The models' dependency graph: which tables each model's SQL reads, and the order that
//! builds a model after every model it reads.

use std::collections::{BTreeMap, BTreeSet};

use deltalake::datafusion::config::Dialect;
use deltalake::datafusion::prelude::SessionContext;
use sendlake_schema::Zone;

use crate::error::{ModelError, Result};
use crate::session::BuildContext;

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

/// Models in dependency order (a model after every model it reads), each with every table it
/// reads: the SQL is parsed once, here. Unknown tables and cycles are errors naming the
/// model's file.
pub(crate) fn order(
    cx: &BuildContext<'_>,
    ctx: &SessionContext,
) -> Result<Vec<(String, Vec<String>)>> {
    let models = &cx.project.models;
    let mut deps: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut reads: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, m) in models {
        match references(ctx, &m.sql) {
            Ok(refs) => {
                for r in &refs {
                    let known = models.contains_key(r)
                        || r == "dim_date"
                        || r.starts_with("ref_")
                        || cx
                            .registry
                            .table(r)
                            .is_some_and(|t| t.zone == Zone::Restricted);
                    if !known {
                        problems.push(crate::error::ProjectError::new(
                            &m.file,
                            None,
                            format!("reads `{r}`, which is neither a restricted table, a reference table (ref_*), dim_date nor another model"),
                        ));
                    }
                }
                // A table that shares a count with another is suppressed after it, and
                // cannot be published without it: it reads it, as far as the order goes.
                let mut refs = refs;
                let shared = cx
                    .registry
                    .table(name)
                    .and_then(|t| t.suppression.as_ref())
                    .map(|s| s.shared.iter().map(|s| s.table.clone()).collect::<Vec<_>>())
                    .unwrap_or_default();
                for table in shared {
                    if !refs.contains(&table) {
                        refs.push(table);
                    }
                }
                deps.insert(
                    name,
                    refs.iter()
                        .filter(|r| models.contains_key(*r))
                        .cloned()
                        .collect(),
                );
                reads.insert(name, refs);
            }
            Err(e) => problems.push(crate::error::ProjectError::new(
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
    let mut out = Vec::new();
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
            return Err(ModelError::Project(vec![crate::error::ProjectError::new(
                &cx.project.dir,
                None,
                format!("models read each other in a cycle: {}", stuck.join(", ")),
            )]));
        }
        for n in ready {
            done.insert(n.clone());
            let r = reads.remove(n.as_str()).unwrap_or_default();
            out.push((n, r));
        }
    }
    Ok(out)
}
