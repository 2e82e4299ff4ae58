//! The staging area: a staged writer finishes a part already in the published format, aborts
//! only its own file, refuses other or nested schemas and is removed on drop; and committing
//! big staged parts keeps memory bounded (ignored by default).

use super::*;

#[test]
fn staged_writer_finish_and_abort() {
    let dir = tempfile::tempdir().unwrap();
    let schema = base_schema();
    let area = StagingArea::new(Some(dir.path())).unwrap();
    let area_dir = area.path().to_path_buf();
    assert!(area_dir.starts_with(dir.path()));

    let mut w = area
        .table_writer("quarantine/sen2_rejects", schema.clone())
        .unwrap();
    w.write(&batch(&schema, "sen2", "x", 4, 0)).unwrap();
    w.write(&batch(&schema, "sen2", "x", 2, 0)).unwrap();
    assert_eq!(w.rows(), 6);
    let path = w.path().to_path_buf();
    assert!(path.starts_with(area_dir.join("quarantine/sen2_rejects")));
    let part = w.finish().unwrap();
    assert_eq!(part.rows, 6);
    let reader = SerializedFileReader::new(std::fs::File::open(&part.path).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 6);
    // Staged parts are already in the published format: the commit copies them as they are.
    assert!(matches!(
        reader.metadata().row_group(0).column(0).compression(),
        Compression::ZSTD(_)
    ));

    let mut w = area
        .table_writer("quarantine/sen2_rejects", schema.clone())
        .unwrap();
    w.write(&batch(&schema, "sen2", "bad", 3, 0)).unwrap();
    let aborted = w.path().to_path_buf();
    assert_ne!(aborted, part.path);
    assert!(aborted.exists());
    w.abort().unwrap();
    assert!(!aborted.exists());
    assert!(part.path.exists(), "abort must only remove its own file");

    // A batch with other columns is refused with a clear error.
    let mut w = area.table_writer("person", schema.clone()).unwrap();
    let other = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let b = RecordBatch::try_new(other, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
    assert!(matches!(
        w.write(&b),
        Err(Error::BatchSchemaMismatch { .. })
    ));

    // Nested schemas never get a staged file.
    let nested = Arc::new(Schema::new(vec![Field::new(
        "tags",
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        true,
    )]));
    assert!(matches!(
        area.table_writer("person", nested),
        Err(Error::UnsupportedColumnType { .. })
    ));

    drop(w);
    drop(area);
    assert!(!area_dir.exists(), "staging area is removed on drop");
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn reset_hwm() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// Run with `cargo test -p sendlake-load -- --ignored big_commit --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "large: 3 million rows; run explicitly to measure peak RSS"]
async fn big_commit_has_bounded_memory() {
    const PARTS: usize = 6;
    const ROWS_PER_PART: usize = 500_000;
    const CHUNK: usize = 50_000;
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Restricted, "person");

    let mut parts = Vec::new();
    for p in 0..PARTS {
        let mut w = f.area.table_writer("person", schema.clone()).unwrap();
        for c in 0..ROWS_PER_PART / CHUNK {
            let sub = format!("{p:03}-2026");
            w.write(&batch(&schema, "sen2", &sub, CHUNK, (c * CHUNK) as i64))
                .unwrap();
        }
        parts.push(w.finish().unwrap());
    }
    let subs: Vec<String> = (0..PARTS).map(|p| format!("{p:03}-2026")).collect();
    let sub_refs: Vec<&str> = subs.iter().map(String::as_str).collect();
    let staged_mib: u64 = parts
        .iter()
        .map(|p| std::fs::metadata(&p.path).unwrap().len())
        .sum::<u64>()
        / (1 << 20);

    reset_hwm();
    let base = vm_hwm_kib();
    let start = std::time::Instant::now();
    let o = commit_table(commit(&uri, &schema, parts, replace(&sub_refs), "big"))
        .await
        .unwrap();
    let first = vm_hwm_kib();
    let first_secs = start.elapsed().as_secs_f64();
    assert_eq!(o.rows_written, (PARTS * ROWS_PER_PART) as u64);

    // Replace one submission: the file holding it also holds the other five, so it is
    // rewritten, its surviving row groups copied as they are.
    let p = stage(
        &f.area,
        &schema,
        &[batch(&schema, "sen2", "000-2026", 1000, 0)],
    );
    reset_hwm();
    let start = std::time::Instant::now();
    let o2 = commit_table(commit(
        &uri,
        &schema,
        vec![p],
        replace(&["000-2026"]),
        "big2",
    ))
    .await
    .unwrap();
    let second = vm_hwm_kib();
    let second_secs = start.elapsed().as_secs_f64();
    assert_eq!(
        count_rows(&uri).await.unwrap(),
        ((PARTS - 1) * ROWS_PER_PART + 1000) as u64
    );
    let files = data_files(&local_path(&uri));
    eprintln!(
        "big commit: {} rows staged as {staged_mib} MiB in {PARTS} parts; RSS before {} MiB; \
         peak during create+load {} MiB ({first_secs:.1}s, {} files added); \
         peak during replace of one submission {} MiB ({second_secs:.1}s, {} added / {} removed); \
         {} data files on disk",
        PARTS * ROWS_PER_PART,
        base / 1024,
        first / 1024,
        o.files_added,
        second / 1024,
        o2.files_added,
        o2.files_removed,
        files.len()
    );
    // Measured growth is ~25 MiB for both (row groups are copied a column chunk at a time).
    // Collecting the 3M rows (~60 bytes each as Arrow) would add ~180 MiB, and re-encoding
    // them would hold a 2^20-row row group (~140 MiB measured with the earlier DataFusion
    // path), so these bounds fail for a commit that does either.
    assert!(
        first - base < 100 * 1024,
        "peak RSS grew by {} KiB",
        first - base
    );
    assert!(
        second - base < 100 * 1024,
        "peak RSS grew by {} KiB",
        second - base
    );
}
