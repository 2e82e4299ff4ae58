//! The `Lake`: root and table URIs for a folder, a `file://` URL and object stores, and the
//! small documents beside the tables: `create_new` lets exactly one writer win, `write_json`
//! is atomic.

use super::*;

#[tokio::test]
async fn lake_paths_and_uris() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b");
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    assert!(root.is_dir(), "open creates the root");
    assert!(lake.is_local());
    let canonical = std::fs::canonicalize(&root).unwrap();
    let expected_root = format!("file://{}", canonical.display());
    assert_eq!(lake.root_uri(), expected_root);
    assert_eq!(
        lake.table_uri(Zone::Restricted, "person"),
        format!("{expected_root}/restricted/person")
    );
    assert_eq!(
        lake.table_uri(Zone::Secure, "quarantine/sen2_rejects"),
        format!("{expected_root}/secure/quarantine/sen2_rejects")
    );
    assert_eq!(
        lake.table_uri(Zone::Published, "../x"),
        format!("{expected_root}/published/__/x")
    );

    // The same root through a file:// URL.
    let again = Lake::open(&format!("{expected_root}/")).unwrap();
    assert_eq!(again.root_uri(), lake.root_uri());
    assert!(matches!(
        Lake::open("gs://bucket/lake"),
        Err(Error::InvalidLocation { .. })
    ));
    // Object stores open without touching the network (credentials are checked on use).
    let s3 = Lake::open("s3://bucket/lake/").unwrap();
    assert!(!s3.is_local());
    assert_eq!(
        s3.table_uri(Zone::Published, "kpi_timeliness"),
        "s3://bucket/lake/published/kpi_timeliness"
    );
}

#[tokio::test]
async fn create_new_lets_exactly_one_writer_win_and_list_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(Lake::open(dir.path().to_str().unwrap()).unwrap());
    assert!(lake.list("_locks").await.unwrap().is_empty());
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let lake = lake.clone();
            tokio::spawn(async move {
                lake.create_new("_locks/models.json", format!("{i}").as_bytes())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        winners += usize::from(r.await.unwrap());
    }
    assert_eq!(winners, 1);
    let listed = lake.list("_locks").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, "_locks/models.json");
    assert_eq!(listed[0].size, 1);
    assert!(
        lake.read_bytes("_locks/models.json")
            .await
            .unwrap()
            .is_some()
    );
    lake.delete("_locks/models.json").await.unwrap();
    lake.delete("_locks/models.json").await.unwrap();
    assert!(
        lake.read_bytes("_locks/models.json")
            .await
            .unwrap()
            .is_none()
    );
    assert!(lake.create_new("_locks/models.json", b"x").await.unwrap());
    assert!(lake.create_new("../x", b"x").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_json_is_atomic_and_read_json_handles_missing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(Lake::open(dir.path().to_str().unwrap()).unwrap());
    assert_eq!(lake.read_json("_runs/none.json").await.unwrap(), None);
    assert!(matches!(
        lake.write_json("../escape.json", &json!({})).await,
        Err(Error::InvalidPath { .. })
    ));

    let doc = |i: usize| json!({ "run": i, "padding": "x".repeat(200_000 + i) });
    lake.write_json("_runs/r1.json", &doc(0)).await.unwrap();
    assert_eq!(lake.read_json("_runs/r1.json").await.unwrap(), Some(doc(0)));

    // A reader racing a writer must always see a whole document (a truncate-then-write
    // implementation fails this with empty or partial JSON).
    let writer = {
        let lake = lake.clone();
        tokio::spawn(async move {
            for i in 1..=40 {
                lake.write_json("_runs/r1.json", &doc(i)).await.unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() {
        let v = lake.read_json("_runs/r1.json").await.unwrap().unwrap();
        assert!(v["run"].as_u64().is_some());
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 0);
    assert_eq!(
        lake.read_json("_runs/r1.json").await.unwrap(),
        Some(doc(40))
    );

    // Only the target remains: no temp files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("_runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["r1.json".to_owned()]);
}
