//! A table created and read back in the Power BI-safe profile: Arrow types, Delta protocol 1/2
//! without table features, per-file statistics and commit info, and ZSTD Parquet with
//! dictionaries, statistics and µs UTC timestamps.

use super::*;

#[tokio::test]
async fn create_then_read_back_with_power_bi_safe_profile() {
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Restricted, "person");
    assert_eq!(table_version(&uri).await.unwrap(), None);

    let part = stage(
        &f.area,
        &schema,
        &[batch(&schema, "sen2", "919-2026", 10, 0)],
    );
    let mut c = commit(&uri, &schema, vec![part], replace(&["919-2026"]), "run-1");
    c.app_metadata.insert("source_files".into(), json!(3));
    let outcome = commit_table(c).await.unwrap();
    assert_eq!(outcome.version, 0);
    assert_eq!(outcome.rows_written, 10);
    assert_eq!(outcome.files_added, 1);
    assert_eq!(outcome.files_removed, 0);
    assert_eq!(table_version(&uri).await.unwrap(), Some(0));
    assert_eq!(count_rows(&uri).await.unwrap(), 10);

    // Round trip keeps the Arrow types Power BI needs.
    let batches = read_table(&uri).await.unwrap();
    let read_schema = batches[0].schema();
    assert_eq!(
        read_schema
            .field_with_name("loaded_at")
            .unwrap()
            .data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
    );
    assert_eq!(
        read_schema.field_with_name("dob").unwrap().data_type(),
        &DataType::Date32
    );
    assert_eq!(content(&uri).await.len(), 10);

    // Protocol 1/2 and no table features in the first commit.
    let table_dir = local_path(&uri);
    let log = log_entry(&table_dir, 0);
    let protocol = log
        .iter()
        .find_map(|a| a.get("protocol"))
        .expect("protocol action");
    assert_eq!(protocol["minReaderVersion"], json!(1));
    assert_eq!(protocol["minWriterVersion"], json!(2));
    assert!(protocol.get("readerFeatures").is_none(), "{protocol}");
    assert!(protocol.get("writerFeatures").is_none(), "{protocol}");
    let metadata = log.iter().find_map(|a| a.get("metaData")).unwrap();
    assert_eq!(metadata["partitionColumns"], json!([]));
    // Per-file statistics: COUNT(*) and file skipping depend on them.
    let add = log.iter().find_map(|a| a.get("add")).expect("add action");
    let stats: Value = serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
    assert_eq!(stats["numRecords"], json!(10));
    assert_eq!(stats["minValues"]["submission_id"], json!("919-2026"));
    assert_eq!(stats["maxValues"]["submission_id"], json!("919-2026"));
    assert_eq!(stats["minValues"]["n"], json!(0));
    assert_eq!(stats["maxValues"]["n"], json!(9));
    assert_eq!(stats["minValues"]["dob"], json!("2008-05-01"));
    assert_eq!(
        stats["maxValues"]["loaded_at"],
        json!("2026-01-01T00:00:09.001Z")
    );
    assert_eq!(stats["nullCount"]["ratio"], json!(0));
    let commit_info = log.iter().find_map(|a| a.get("commitInfo")).unwrap();
    assert_eq!(commit_info["run_id"], json!("run-1"));
    assert_eq!(commit_info["userMetadata"], json!("sendlake run run-1"));
    assert_eq!(commit_info["source_files"], json!(3));

    // The Parquet files: ZSTD, dictionary + statistics, big row groups, µs UTC timestamps,
    // DATE dates.
    let files = data_files(&table_dir);
    assert_eq!(files.len(), 1);
    let reader = SerializedFileReader::new(std::fs::File::open(&files[0]).unwrap()).unwrap();
    let meta = reader.metadata();
    let descr = meta.file_metadata().schema_descr();
    let col = |name: &str| {
        (0..descr.num_columns())
            .find(|i| descr.column(*i).name() == name)
            .unwrap()
    };
    let ts = descr.column(col("loaded_at"));
    assert_eq!(ts.physical_type(), PhysicalType::INT64);
    assert_eq!(
        ts.logical_type_ref(),
        Some(&LogicalType::timestamp(
            true,
            parquet::basic::TimeUnit::MICROS
        ))
    );
    let mut printed = Vec::new();
    parquet::schema::printer::print_schema(&mut printed, descr.root_schema());
    let printed = String::from_utf8(printed).unwrap();
    assert!(
        printed.contains("INT64 loaded_at (TIMESTAMP(MICROS,true))"),
        "{printed}"
    );
    assert_eq!(
        descr.column(col("dob")).logical_type_ref(),
        Some(&LogicalType::Date)
    );
    let rg = meta.row_group(0);
    for c in rg.columns() {
        assert!(
            matches!(c.compression(), Compression::ZSTD(_)),
            "{}: {:?}",
            c.column_path(),
            c.compression()
        );
        assert!(
            c.statistics().is_some(),
            "{} has no statistics",
            c.column_path()
        );
    }
    let source_chunk = rg.column(col("source"));
    assert!(source_chunk.dictionary_page_offset().is_some());
    assert!(
        source_chunk
            .encodings()
            .any(|e| e == Encoding::RLE_DICTIONARY)
    );
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    assert!(
        kv.iter()
            .any(|k| k.key == "sendlake.run_id" && k.value.as_deref() == Some("run-1"))
    );
}
