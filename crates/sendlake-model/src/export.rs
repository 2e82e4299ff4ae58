//! The engine comparison's export (docs/benchmarks.md): what another SQL engine needs to run
//! the same models over the same data, written beside the run.

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::compute::concat_batches;
use deltalake::{DeltaTable, ensure_table_uri};

use crate::error::{ModelError, Result};
use crate::graph::order;
use crate::reference;
use crate::session::{BuildContext, Prepared, date_range, prepare, table_def};
use crate::targets::{PERIOD_COMPLETE, with_targets};

/// Writes what another SQL engine needs to run the same models over the same data, for the
/// engine comparison in docs/benchmarks.md: `inputs.json` (each input table's current Parquet
/// files, or an empty file with its schema), the reference tables and `dim_date` as Parquet
/// under `ref/`, and `models.json` (each model's SQL as sendlake runs it, in build order, with
/// the views the models read, marked `"view": true`, in their place in that order).
pub async fn export_sql(cx: &BuildContext<'_>, dir: &std::path::Path) -> Result<()> {
    let Prepared { ctx, inputs, .. } = prepare(cx).await?;
    let io = |e: std::io::Error| ModelError::lake(format!("writing {}", dir.display()), e);
    std::fs::create_dir_all(dir.join("ref")).map_err(io)?;
    let write_parquet = |path: std::path::PathBuf, batch: &RecordBatch| -> Result<()> {
        let file = std::fs::File::create(&path).map_err(io)?;
        let mut w = deltalake::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
            .map_err(|e| ModelError::lake(format!("writing {}", path.display()), e))?;
        w.write(batch)
            .map_err(|e| ModelError::lake(format!("writing {}", path.display()), e))?;
        w.close()
            .map_err(|e| ModelError::lake(format!("writing {}", path.display()), e))?;
        Ok(())
    };
    let mut files = serde_json::Map::new();
    for def in &inputs {
        let uri = cx.lake.table_uri(def.zone, &def.name);
        let mut list = Vec::new();
        if sendlake_load::table_version(&uri)
            .await
            .map_err(|e| ModelError::lake(format!("opening {}", def.name), e))?
            .is_some()
        {
            let url = ensure_table_uri(&uri).map_err(|e| ModelError::lake(&def.name, e))?;
            let table = DeltaTable::try_from_url(url)
                .await
                .map_err(|e| ModelError::lake(&def.name, e))?;
            for f in table
                .get_file_uris()
                .map_err(|e| ModelError::lake(&def.name, e))?
            {
                list.push(serde_json::Value::String(f));
            }
        }
        if list.is_empty() {
            let path = dir.join("ref").join(format!("empty__{}.parquet", def.name));
            write_parquet(path.clone(), &RecordBatch::new_empty(def.arrow_schema()))?;
            list.push(serde_json::Value::String(path.display().to_string()));
        }
        files.insert(def.name.clone(), serde_json::Value::Array(list));
    }
    let (first, last) = date_range(&ctx, &inputs, cx.started.date_naive()).await;
    let mut refs = vec![(
        "dim_date".to_owned(),
        reference::dim_date(first, last).map_err(|e| ModelError::lake("dim_date", e))?,
    )];
    for name in [
        "ref_code",
        "ref_local_authority",
        "ref_geography",
        "ref_geo_bridge",
        "ref_target",
    ] {
        let batches = ctx
            .sql(&format!("SELECT * FROM {name}"))
            .await
            .map_err(|e| ModelError::lake(name, e))?
            .collect()
            .await
            .map_err(|e| ModelError::lake(name, e))?;
        if let Some(b) = batches.first() {
            let b = concat_batches(&b.schema(), &batches).map_err(|e| ModelError::lake(name, e))?;
            refs.push((name.to_owned(), b));
        }
    }
    for (name, batch) in &refs {
        let path = dir.join("ref").join(format!("{name}.parquet"));
        write_parquet(path.clone(), batch)?;
        files.insert(
            name.clone(),
            serde_json::Value::Array(vec![serde_json::Value::String(path.display().to_string())]),
        );
    }
    let mut models = Vec::new();
    for step in order(cx, &ctx)? {
        let name = step.name;
        if step.view {
            // Another engine creates it as a view, in this place of the order.
            if let Some(v) = cx.project.views.get(&name) {
                models.push(serde_json::json!({ "name": name, "sql": v.sql, "view": true }));
            }
            continue;
        }
        let Some(m) = cx.project.models.get(&name) else {
            continue;
        };
        let def = table_def(cx.registry, &name)?;
        let sql = match def.suppression.as_ref().and_then(|s| s.headline.as_deref()) {
            Some(h) => with_targets(&m.sql, h, def.has_column(PERIOD_COMPLETE)),
            None => m.sql.clone(),
        };
        models.push(serde_json::json!({ "name": name, "sql": sql }));
    }
    let write_json = |name: &str, v: serde_json::Value| -> Result<()> {
        let text = serde_json::to_string_pretty(&v).map_err(|e| ModelError::lake(name, e))?;
        std::fs::write(dir.join(name), text).map_err(io)
    };
    write_json("inputs.json", serde_json::Value::Object(files))?;
    write_json("models.json", serde_json::Value::Array(models))?;
    Ok(())
}
