//! The commands that check or describe pipeline files and the schema: `check`, `dictionary`,
//! `powerbi`, `schema contract` and `new-source`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sendlake_pipeline::{ExitStatus, load_plan};

use crate::runtime;

/// A pipeline file and the schema, for the commands that describe a pipeline's tables; a
/// problem is printed and becomes exit code 2.
pub(crate) fn plan_and_schema(
    pipeline: &Path,
) -> Result<
    (
        sendlake_pipeline::PipelinePlan,
        sendlake_schema::SchemaRegistry,
    ),
    ExitStatus,
> {
    let plan = load_plan(pipeline).map_err(|errors| {
        eprintln!("{errors}");
        ExitStatus::Configuration
    })?;
    let registry = sendlake_pipeline::registry().map_err(|e| {
        eprintln!("error: schema: {e}");
        ExitStatus::Configuration
    })?;
    Ok((plan, registry))
}

/// `sendlake dictionary`: writes (or with `check`, compares) the data dictionary.
pub(crate) fn dictionary(pipeline: &Path, out: &Path, check: bool) -> ExitStatus {
    let (plan, registry) = match plan_and_schema(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dict = match sendlake_pipeline::dictionary::render(&plan, &registry) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Configuration;
        }
    };
    let mut stale = 0;
    for (file, text) in [
        ("data-dictionary.md", &dict.markdown),
        ("data-dictionary.html", &dict.html),
    ] {
        let path = out.join(file);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                eprintln!(
                    "{} is out of date: run `sendlake dictionary {} --out {}`",
                    path.display(),
                    pipeline.display(),
                    out.display()
                );
                stale += 1;
            }
        } else if let Err(e) =
            std::fs::create_dir_all(out).and_then(|()| std::fs::write(&path, text))
        {
            eprintln!("error: {}: {e}", path.display());
            return ExitStatus::Configuration;
        } else {
            eprintln!("wrote {}", path.display());
        }
    }
    ExitStatus::unless(stale == 0, ExitStatus::Partial)
}

/// `sendlake powerbi`: writes the Power BI project.
pub(crate) fn powerbi(pipeline: &Path, out: &Path, name: &str, lake: Option<&str>) -> ExitStatus {
    let (plan, registry) = match plan_and_schema(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let model = match sendlake_pipeline::powerbi::semantic_model(&plan, &registry, name, lake) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Configuration;
        }
    };
    match sendlake_pipeline::powerbi::write(&model, out) {
        Ok(done) => {
            eprintln!(
                "{}: {} file(s) written, {} unchanged; kept {} author table(s) and {} author measure(s)",
                out.join(format!("{name}.pbip")).display(),
                done.written.len(),
                done.unchanged.len(),
                done.author_tables.len(),
                done.author_measures.len()
            );
            ExitStatus::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitStatus::Configuration
        }
    }
}

/// `sendlake schema contract`: the published contract, a line per column.
pub(crate) fn sendlake_schema_contract() -> Result<Vec<String>, String> {
    sendlake_pipeline::registry()
        .map(|r| r.contract())
        .map_err(|e| e.to_string())
}

/// `sendlake check`: every problem of every pipeline file.
pub(crate) fn check(pipelines: &[PathBuf]) -> ExitStatus {
    let mut bad = 0;
    for p in pipelines {
        match load_plan(p) {
            Ok(plan) => eprintln!(
                "{}: ok ({} source(s), store {})",
                p.display(),
                plan.sources.len(),
                plan.store_url
            ),
            Err(errors) => {
                bad += 1;
                eprintln!("{errors}");
            }
        }
    }
    ExitStatus::unless(bad == 0, ExitStatus::Configuration)
}

/// `sendlake new-source`: a source file and its fixture to start from.
pub(crate) fn new_source(name: &str, kind: &str, table: &str) -> ExitStatus {
    use sendlake_pipeline::scaffold::{ScaffoldKind, new_source};
    let kind = if kind == "file" {
        ScaffoldKind::File
    } else {
        ScaffoldKind::Rest
    };
    let registry = match sendlake_pipeline::registry() {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: schema: {e}");
            return ExitStatus::Configuration;
        }
    };
    let Some(runtime) = runtime() else {
        return ExitStatus::Failed;
    };
    match runtime.block_on(new_source(Path::new("."), name, kind, table, registry)) {
        Ok(s) => {
            eprintln!("wrote {}", s.source_file.display());
            eprintln!(
                "wrote {} ({} synthetic records, all loaded by the mapping)",
                s.fixture_dir.display(),
                s.records
            );
            eprintln!(
                "next: point the field paths at the partner's records, add its awkward cases to the fixture, and add the source to a pipeline (docs/adding-a-source.md)"
            );
            ExitStatus::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitStatus::Configuration
        }
    }
}
