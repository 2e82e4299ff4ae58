//! The write modes: `ReplaceWhere` replaces only the matching submissions, in one version, and is
//! idempotent; rows outside its predicate or a bad predicate fail and change nothing; `Append`
//! and `ReplaceAll`; and a replace with zero staged parts removes the rows in one version.

use super::*;

// ---------------------------------------------------------------- 2. ReplaceWhere

#[tokio::test]
async fn replace_where_replaces_only_matching_submissions_and_is_idempotent() {
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Restricted, "person");

    // v0: two sen2 submissions in one commit, from two staged parts.
    let p1 = stage(
        &f.area,
        &schema,
        &[batch(&schema, "sen2", "919-2026", 5, 0)],
    );
    let p2 = stage(
        &f.area,
        &schema,
        &[batch(&schema, "sen2", "201-2026", 3, 100)],
    );
    let o = commit_table(commit(
        &uri,
        &schema,
        vec![p1, p2],
        replace(&["919-2026", "201-2026"]),
        "r0",
    ))
    .await
    .unwrap();
    assert_eq!((o.version, o.rows_written), (0, 8));
    // Each staged part's row group was copied whole, not re-encoded into one.
    let files = data_files(&local_path(&uri));
    assert_eq!(files.len(), 1);
    let reader = SerializedFileReader::new(std::fs::File::open(&files[0]).unwrap()).unwrap();
    let row_groups: Vec<i64> = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| rg.num_rows())
        .collect();
    assert_eq!(row_groups, vec![5, 3]);

    // v1: another source shares a submission id; it must survive sen2 replaces.
    let mode = WriteMode::ReplaceWhere(vec![("source".into(), vec!["cin".into()])]);
    let cin = [batch(&schema, "cin", "919-2026", 4, 500)];
    let o = f.load(&uri, &schema, &cin, mode, "r1").await.unwrap();
    assert_eq!(o.version, 1);
    let before = content(&uri).await;

    // v2: reload 919-2026 with 7 rows.
    let reload = [batch(&schema, "sen2", "919-2026", 7, 1000)];
    let o = f
        .load(&uri, &schema, &reload, replace(&["919-2026"]), "r2")
        .await
        .unwrap();
    assert_eq!(o.version, 2, "exactly one version per commit");
    assert_eq!(o.rows_written, 7);
    assert!(o.files_removed >= 1);
    let counts = per_submission(&uri).await;
    assert_eq!(counts[&key("sen2", "919-2026")], 7);
    assert_eq!(counts[&key("sen2", "201-2026")], 3);
    assert_eq!(counts[&key("cin", "919-2026")], 4);
    let after_first = content(&uri).await;
    // Untouched submissions keep exactly their rows.
    let untouched = |rows: &[(String, String, String, i64, i32, i64)]| {
        rows.iter()
            .filter(|r| !(r.0 == "sen2" && r.1 == "919-2026"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(untouched(&before), untouched(&after_first));
    assert!(
        after_first
            .iter()
            .filter(|r| r.0 == "sen2" && r.1 == "919-2026")
            .all(|r| r.3 >= 1000)
    );

    // v3: the same reload again: same content, no duplicates.
    let o = f
        .load(&uri, &schema, &reload, replace(&["919-2026"]), "r2")
        .await
        .unwrap();
    assert_eq!(o.version, 3);
    assert_eq!(content(&uri).await, after_first);
    assert_eq!(table_version(&uri).await.unwrap(), Some(3));

    // Each replace is one log entry holding both removes and adds.
    let entry = log_entry(&local_path(&uri), 3);
    assert!(entry.iter().any(|a| a.get("remove").is_some()));
    assert!(entry.iter().any(|a| a.get("add").is_some()));
}

#[tokio::test]
async fn staged_rows_outside_the_replace_predicate_fail_and_change_nothing() {
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Restricted, "person");
    let first = [batch(&schema, "sen2", "919-2026", 5, 0)];
    f.load(&uri, &schema, &first, replace(&["919-2026"]), "r0")
        .await
        .unwrap();

    // Rows for 201-2026 staged, but the commit claims to replace 919-2026 only.
    let outside = [batch(&schema, "sen2", "201-2026", 2, 0)];
    let err = f
        .load(&uri, &schema, &outside, replace(&["919-2026"]), "r1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("failed validation"), "{err}");
    // The writer aborted: no orphan data file next to the original one.
    assert_eq!(data_files(&local_path(&uri)).len(), 1);
    assert_eq!(table_version(&uri).await.unwrap(), Some(0));
    assert_eq!(count_rows(&uri).await.unwrap(), 5);

    let empty = WriteMode::ReplaceWhere(vec![("submission_id".into(), vec![])]);
    let err = commit_table(commit(&uri, &schema, vec![], empty, "r2"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidWriteMode(_)), "{err}");
    let unknown = WriteMode::ReplaceWhere(vec![("nope".into(), vec!["x".into()])]);
    let err = commit_table(commit(&uri, &schema, vec![], unknown, "r3"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidWriteMode(_)), "{err}");
    assert_eq!(table_version(&uri).await.unwrap(), Some(0));
}

#[tokio::test]
async fn append_and_replace_all() {
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Published, "fact_ehcp");
    for (i, run) in ["a", "b"].iter().enumerate() {
        let rows = [batch(&schema, "sen2", run, 3, 0)];
        let o = f
            .load(&uri, &schema, &rows, WriteMode::Append, run)
            .await
            .unwrap();
        assert_eq!(o.version, i as i64);
    }
    assert_eq!(count_rows(&uri).await.unwrap(), 6);
    // No rows this run still makes exactly one (empty) version.
    let o = commit_table(commit(&uri, &schema, vec![], WriteMode::Append, "empty"))
        .await
        .unwrap();
    assert_eq!((o.version, o.files_added, o.rows_written), (2, 0, 0));
    assert_eq!(count_rows(&uri).await.unwrap(), 6);
    let rows = [batch(&schema, "sen2", "c", 2, 0)];
    let o = f
        .load(&uri, &schema, &rows, WriteMode::ReplaceAll, "c")
        .await
        .unwrap();
    assert_eq!((o.version, o.files_removed), (3, 2));
    assert_eq!(count_rows(&uri).await.unwrap(), 2);
}

// ---------------------------------------------------------------- 3. zero parts

#[tokio::test]
async fn replace_where_with_zero_parts_removes_rows_in_one_version() {
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Restricted, "person");
    let rows = [
        batch(&schema, "sen2", "919-2026", 5, 0),
        batch(&schema, "sen2", "201-2026", 3, 0),
    ];
    f.load(
        &uri,
        &schema,
        &rows,
        replace(&["919-2026", "201-2026"]),
        "r0",
    )
    .await
    .unwrap();

    let o = commit_table(commit(&uri, &schema, vec![], replace(&["919-2026"]), "r1"))
        .await
        .unwrap();
    assert_eq!(o.version, 1);
    assert_eq!(o.rows_written, 0);
    assert_eq!(o.files_removed, 1);
    assert_eq!(table_version(&uri).await.unwrap(), Some(1));
    let counts = per_submission(&uri).await;
    assert_eq!(counts.get(&key("sen2", "919-2026")), None);
    assert_eq!(counts[&key("sen2", "201-2026")], 3);
    // The single new log entry removes the old file (and rewrites the survivors).
    let entry = log_entry(&local_path(&uri), 1);
    assert!(entry.iter().any(|a| a.get("remove").is_some()));

    // Zero parts on a missing table creates it, empty, with the schema.
    let uri2 = f.lake.table_uri(Zone::Restricted, "empty");
    let o = commit_table(commit(&uri2, &schema, vec![], replace(&["x"]), "r2"))
        .await
        .unwrap();
    assert_eq!(o.version, 0);
    assert_eq!(count_rows(&uri2).await.unwrap(), 0);
}
