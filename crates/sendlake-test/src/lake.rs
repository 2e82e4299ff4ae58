//! A lake in a temp folder, and tables read back for assertions.

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::DataType;
use deltalake::arrow::compute::{cast, concat_batches};
use sendlake_load::Lake;
use sendlake_schema::SchemaRegistry;

/// A lake in its own temp folder, with the embedded schema to place tables in zones.
pub struct TestLake {
    pub lake: Lake,
    pub registry: SchemaRegistry,
    /// Removed when the lake is dropped.
    _dir: tempfile::TempDir,
}

impl TestLake {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        Self {
            lake,
            registry: SchemaRegistry::embedded().unwrap(),
            _dir: dir,
        }
    }

    /// Where table `name` lives, in the zone the schema gives it.
    pub fn uri(&self, name: &str) -> String {
        let zone = self
            .registry
            .table(name)
            .unwrap_or_else(|| panic!("no table {name}"))
            .zone;
        self.lake.table_uri(zone, name)
    }

    /// The current version of table `name`, read whole (empty with its declared schema if the
    /// table does not exist yet).
    pub async fn read(&self, name: &str) -> Table {
        let batches = sendlake_load::read_table(&self.uri(name)).await.unwrap();
        match batches.first() {
            Some(first) => Table::new(name, concat_batches(&first.schema(), &batches).unwrap()),
            None => Table::new(
                name,
                RecordBatch::new_empty(self.registry.table(name).unwrap().arrow_schema()),
            ),
        }
    }

    /// The current version of table `name`; `None` if it was never committed.
    pub async fn version(&self, name: &str) -> Option<i64> {
        sendlake_load::table_version(&self.uri(name)).await.unwrap()
    }
}

impl Default for TestLake {
    fn default() -> Self {
        Self::new()
    }
}

/// A table read whole, to look rows up by the text of their key columns.
pub struct Table {
    pub name: String,
    pub batch: RecordBatch,
}

impl Table {
    pub fn new(name: &str, batch: RecordBatch) -> Self {
        Self {
            name: name.to_owned(),
            batch,
        }
    }

    fn text(&self, column: &str) -> StringArray {
        text_column(&self.name, &self.batch, column)
    }

    /// Rows whose columns render as the given text (dates as `YYYY-MM-DD`).
    pub fn find(&self, key: &[(&str, &str)]) -> Vec<Row> {
        let cols: Vec<(StringArray, &str)> = key.iter().map(|(c, v)| (self.text(c), *v)).collect();
        (0..self.batch.num_rows())
            .filter(|&i| cols.iter().all(|(a, v)| a.is_valid(i) && a.value(i) == *v))
            .map(|i| Row {
                table: self.name.clone(),
                batch: self.batch.slice(i, 1),
            })
            .collect()
    }

    /// The one row matching `key`.
    pub fn row(&self, key: &[(&str, &str)]) -> Row {
        let mut rows = self.find(key);
        assert!(
            rows.len() == 1,
            "{}: {} rows match {key:?}, expected 1",
            self.name,
            rows.len()
        );
        rows.remove(0)
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }
}

fn text_column(table: &str, batch: &RecordBatch, column: &str) -> StringArray {
    let col = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("{table} has no column {column}"));
    cast(col, &DataType::Utf8)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone()
}

/// One row of a [`Table`].
pub struct Row {
    table: String,
    batch: RecordBatch,
}

impl Row {
    fn col(&self, column: &str) -> ArrayRef {
        self.batch
            .column_by_name(column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.table))
            .clone()
    }

    pub fn int(&self, column: &str) -> Option<i64> {
        let c = cast(&self.col(column), &DataType::Int64).unwrap();
        let c = c.as_any().downcast_ref::<Int64Array>().unwrap();
        c.is_valid(0).then(|| c.value(0))
    }

    pub fn float(&self, column: &str) -> Option<f64> {
        let c = cast(&self.col(column), &DataType::Float64).unwrap();
        let c = c.as_any().downcast_ref::<Float64Array>().unwrap();
        c.is_valid(0).then(|| c.value(0))
    }

    pub fn text(&self, column: &str) -> Option<String> {
        let c = text_column(&self.table, &self.batch, column);
        c.is_valid(0).then(|| c.value(0).to_owned())
    }

    pub fn bool(&self, column: &str) -> Option<bool> {
        let c = self.col(column);
        let c = c.as_any().downcast_ref::<BooleanArray>().unwrap();
        c.is_valid(0).then(|| c.value(0))
    }

    /// Asserts integer columns, naming the column that differs.
    pub fn assert_ints(&self, expected: &[(&str, i64)]) {
        for (c, v) in expected {
            assert_eq!(self.int(c), Some(*v), "{}.{c}", self.table);
        }
    }

    /// Asserts a float column to 1e-9.
    pub fn assert_float(&self, column: &str, expected: f64) {
        let got = self
            .float(column)
            .unwrap_or_else(|| panic!("{}.{column} is null, expected {expected}", self.table));
        assert!(
            (got - expected).abs() < 1e-9,
            "{}.{column} = {got}, expected {expected}",
            self.table
        );
    }
}

/// Rows in all `batches`.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// All values of a string column, nulls as `None`, in table order.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"));
        let arr = col
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap_or_else(|| panic!("{column} is not utf8"));
        for i in 0..arr.len() {
            out.push(arr.is_valid(i).then(|| arr.value(i).to_owned()));
        }
    }
    out
}

/// Rows rendered as sorted lines, without the run-specific lineage columns (`run_id`,
/// `loaded_at`, `rejected_at`): equal for two loads of the same data.
pub fn content(batches: &[RecordBatch]) -> Vec<String> {
    let mut lines = Vec::new();
    for b in batches {
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&i| {
                !matches!(
                    b.schema().field(i).name().as_str(),
                    "run_id" | "loaded_at" | "rejected_at"
                )
            })
            .collect();
        let b = b.project(&keep).unwrap();
        lines.extend((0..b.num_rows()).map(|r| {
            (0..b.num_columns())
                .map(|c| {
                    let col = b.column(c);
                    if col.is_null(r) {
                        "∅".to_owned()
                    } else {
                        format!("{:?}", col.slice(r, 1))
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        }));
    }
    lines.sort();
    lines
}
