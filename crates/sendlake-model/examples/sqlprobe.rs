#![allow(clippy::unwrap_used, clippy::print_stdout)]
use deltalake::datafusion::prelude::SessionContext;
#[tokio::main]
async fn main() {
    let ctx = SessionContext::new();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--lake") {
        let root = args[1].clone();
        args.drain(0..2);
        for zone in ["restricted", "published"] {
            let Ok(rd) = std::fs::read_dir(format!("{root}/{zone}")) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let p = std::fs::canonicalize(e.path()).unwrap();
                let url = url::Url::from_directory_path(&p).unwrap();
                let Ok(t) = deltalake::DeltaTable::try_from_url(url).await else {
                    continue;
                };
                t.update_datafusion_session(&ctx.state()).unwrap();
                ctx.register_table(name.as_str(), t.table_provider().await.unwrap())
                    .unwrap();
            }
        }
    }
    for q in args {
        match ctx.sql(&q).await {
            Ok(df) => match df.collect().await {
                Ok(b) => println!(
                    "{q}\n{}",
                    deltalake::arrow::util::pretty::pretty_format_batches(&b).unwrap()
                ),
                Err(e) => println!("{q}\nEXEC ERR {e}"),
            },
            Err(e) => println!("{q}\nPLAN ERR {e}"),
        }
    }
}
