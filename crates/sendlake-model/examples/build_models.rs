//! Builds the models of a project against an existing lake and prints the report:
//! `cargo run -p sendlake-model --example build_models -- LAKE [MODELS_DIR]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lake = sendlake_load::Lake::open(&args[0]).unwrap();
    let dir = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "pipelines/models".into());
    let registry = sendlake_schema::SchemaRegistry::embedded().unwrap();
    let project = match sendlake_model::ModelProject::load(std::path::Path::new(&dir), &registry) {
        Ok(p) => p,
        Err(problems) => {
            for p in problems {
                println!("{p}");
            }
            std::process::exit(2);
        }
    };
    let staging = sendlake_load::StagingArea::new(None).unwrap();
    let started = std::time::Instant::now();
    let report = sendlake_model::build(&sendlake_model::BuildContext {
        lake: &lake,
        registry: &registry,
        project: &project,
        policy: sendlake_schema::SuppressionPolicy::default(),
        staging: &staging,
        run_id: "dev",
        started: chrono::Utc::now(),
        plans: None,
    })
    .await;
    match report {
        Ok(r) => {
            for m in &r.models {
                println!(
                    "{:<24} {:<10} {:>8} rows {:>6} ms {}",
                    m.table,
                    format!("{:?}", m.status),
                    m.rows,
                    m.millis,
                    m.reason.clone().unwrap_or_default()
                );
            }
            for c in r
                .checks
                .iter()
                .filter(|c| c.status != sendlake_model::CheckStatus::Pass)
            {
                println!("CHECK {:?} {} — {}", c.status, c.name, c.detail);
            }
        }
        Err(e) => println!("ERROR {e}"),
    }
    println!("total {:?}", started.elapsed());
}
