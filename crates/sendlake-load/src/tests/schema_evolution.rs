//! Schema evolution on commit: a new nullable column is merged, a missing, retyped, new NOT NULL
//! or nested column is refused without touching the table, and a NOT NULL column may become
//! nullable but never the reverse.

use super::*;

#[tokio::test]
async fn schema_evolution_adds_nullable_columns_and_refuses_the_rest() {
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Published, "fact_plans");
    let rows = [batch(&schema, "sen2", "919-2026", 4, 0)];
    f.load(&uri, &schema, &rows, replace(&["919-2026"]), "r0")
        .await
        .unwrap();

    // A new nullable column is merged in the same single commit.
    let mut fields = base_fields();
    fields.push(Field::new("placement_type", DataType::Utf8, true));
    let wider: SchemaRef = Arc::new(Schema::new(fields));
    let rows = [batch(&wider, "sen2", "201-2026", 2, 0)];
    let o = f
        .load(&uri, &wider, &rows, replace(&["201-2026"]), "r1")
        .await
        .unwrap();
    assert_eq!(o.version, 1);
    let batches = read_table(&uri).await.unwrap();
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total, 6);
    assert!(batches.iter().all(|b| {
        b.column_by_name("placement_type")
            .is_some_and(|c| c.null_count() == b.num_rows())
    }));

    // A commit with the old (narrower) schema: a column is missing -> refused.
    let rows = [batch(&schema, "sen2", "919-2026", 1, 0)];
    let err = f
        .load(&uri, &schema, &rows, replace(&["919-2026"]), "r2")
        .await
        .unwrap_err();
    match &err {
        Error::SchemaContract { detail, .. } => {
            assert!(detail.contains("\"placement_type\" is missing"), "{detail}")
        }
        other => panic!("expected SchemaContract, got {other}"),
    }

    // Retyping n from Int64 to Utf8 -> refused.
    let retyped: SchemaRef = Arc::new(Schema::new(
        wider
            .fields()
            .iter()
            .map(|fl| {
                if fl.name() == "n" {
                    Field::new("n", DataType::Utf8, true)
                } else {
                    fl.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
    ));
    let err = commit_table(commit(&uri, &retyped, vec![], replace(&["919-2026"]), "r3"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::SchemaContract { detail, .. } if detail.contains("\"n\" would change type")),
        "{err}"
    );

    // A new NOT NULL column cannot be filled for existing rows -> refused.
    let mut fields: Vec<Field> = wider.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("must", DataType::Int64, false));
    let strict: SchemaRef = Arc::new(Schema::new(fields));
    let err = commit_table(commit(&uri, &strict, vec![], replace(&["919-2026"]), "r4"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SchemaContract { .. }), "{err}");

    // Nested types are refused outright.
    let mut fields: Vec<Field> = wider.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(
        "address",
        DataType::Struct(vec![Field::new("postcode", DataType::Utf8, true)].into()),
        true,
    ));
    let nested: SchemaRef = Arc::new(Schema::new(fields));
    let err = commit_table(commit(&uri, &nested, vec![], replace(&["919-2026"]), "r5"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedColumnType { column, .. } if column == "address"),
        "{err}"
    );

    // None of the refused commits touched the table.
    assert_eq!(table_version(&uri).await.unwrap(), Some(1));
    assert_eq!(count_rows(&uri).await.unwrap(), 6);
}

#[tokio::test]
async fn a_not_null_column_may_become_nullable_and_never_the_reverse() {
    let f = fixture();
    let schema = base_schema();
    let uri = f.lake.table_uri(Zone::Restricted, "request");
    let rows = [batch(&schema, "sen2", "919-2026", 3, 0)];
    f.load(&uri, &schema, &rows, replace(&["919-2026"]), "r0")
        .await
        .unwrap();

    // person_id (NOT NULL) becomes nullable, as a SEN2 value a defective record may now leave
    // out: one version, whose metadata says so, and a row with a null reads back beside the
    // old rows, which are rewritten through Arrow (their Parquet schema differs).
    let relaxed_fields = || -> Vec<Field> {
        base_fields()
            .into_iter()
            .map(|fl| {
                if fl.name() == "person_id" {
                    fl.with_nullable(true)
                } else {
                    fl
                }
            })
            .collect()
    };
    let relaxed: SchemaRef = Arc::new(Schema::new(relaxed_fields()));
    let mut b = batch(&relaxed, "sen2", "201-2026", 2, 0);
    let mut columns = b.columns().to_vec();
    columns[2] = Arc::new(StringArray::from(vec![Some("P1"), None]));
    b = RecordBatch::try_new(relaxed.clone(), columns).unwrap();
    let o = f
        .load(&uri, &relaxed, &[b], replace(&["201-2026"]), "r1")
        .await
        .unwrap();
    assert_eq!(o.version, 1);
    let batches = read_table(&uri).await.unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 5);
    let nulls: usize = batches
        .iter()
        .map(|b| b.column_by_name("person_id").unwrap().null_count())
        .sum();
    assert_eq!(nulls, 1);
    // The next commit of the same schema changes nothing in the metadata and still reads.
    let rows = [batch(&relaxed, "sen2", "919-2026", 1, 9)];
    f.load(&uri, &relaxed, &rows, replace(&["919-2026"]), "r2")
        .await
        .unwrap();
    assert_eq!(count_rows(&uri).await.unwrap(), 3);

    // Back to NOT NULL: refused, before anything is written.
    let err = commit_table(commit(&uri, &schema, vec![], replace(&["919-2026"]), "r3"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::SchemaContract { detail, .. } if detail.contains("\"person_id\" would become NOT NULL")),
        "{err}"
    );
    assert_eq!(table_version(&uri).await.unwrap(), Some(2));
}
