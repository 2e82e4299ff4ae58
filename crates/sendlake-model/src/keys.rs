//! Primary-key fingerprints taken while a model's rows are being written, so the built-in
//! "primary key is unique" check rarely needs a second pass over the table.
//!
//! Each row's key is encoded with Arrow's row format (injective: equal keys give equal bytes,
//! nulls included, as SQL `GROUP BY` groups them) and reduced to a 128-bit fingerprint. If no
//! fingerprint repeats, no key repeats, and the check passes without running SQL. A repeated
//! fingerprint is either a duplicated key or a hash collision; either way the exact SQL check
//! runs and its count is the one reported. So the fingerprints can only save work, never
//! change a result. At national scale they replace a `GROUP BY` over 3.4 million rows of
//! pseudonymised keys (docs/benchmarks.md); the memory is 16 bytes a row.

use std::hash::{BuildHasher, Hasher};

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::error::ArrowError;
use deltalake::arrow::row::{RowConverter, SortField};
use rustc_hash::{FxBuildHasher, FxHashSet};

/// Fingerprints of one table's primary key over the batches written so far.
pub(crate) struct KeyFingerprints {
    key: Vec<String>,
    columns: Vec<usize>,
    converter: RowConverter,
    seen: FxHashSet<u128>,
    repeated: bool,
}

impl KeyFingerprints {
    /// For `key` in `schema`; `None` when there is no key or the row format cannot encode it
    /// (the SQL check then runs as usual).
    pub(crate) fn new(schema: &SchemaRef, key: &[String]) -> Option<Self> {
        if key.is_empty() {
            return None;
        }
        let columns = key
            .iter()
            .map(|k| schema.index_of(k).ok())
            .collect::<Option<Vec<_>>>()?;
        let fields = columns
            .iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields).ok()?;
        Some(Self {
            key: key.to_vec(),
            columns,
            converter,
            seen: FxHashSet::default(),
            repeated: false,
        })
    }

    /// Adds the keys of one batch.
    pub(crate) fn add(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        if self.repeated {
            return Ok(());
        }
        let cols: Vec<_> = self
            .columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        let rows = self.converter.convert_columns(&cols)?;
        self.seen.reserve(rows.num_rows());
        for row in rows.iter() {
            if !self.seen.insert(fingerprint(row.as_ref())) {
                // The exact check will run; the set is no longer needed.
                self.repeated = true;
                self.seen = FxHashSet::default();
                break;
            }
        }
        Ok(())
    }

    /// The key columns when every fingerprint was distinct, so the key is known unique.
    pub(crate) fn distinct_key(&self) -> Option<&[String]> {
        (!self.repeated).then_some(self.key.as_slice())
    }
}

/// Two 64-bit hashes of the encoded key, told apart by a leading byte.
fn fingerprint(bytes: &[u8]) -> u128 {
    let half = |salt: u8| {
        let mut h = FxBuildHasher.build_hasher();
        h.write_u8(salt);
        h.write(bytes);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{ArrayRef, Int32Array, StringArray};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(a: Vec<Option<&str>>, b: Vec<Option<i32>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Int32, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(a)) as ArrayRef,
                Arc::new(Int32Array::from(b)) as ArrayRef,
            ],
        )
        .unwrap()
    }

    fn keys(batches: &[RecordBatch]) -> bool {
        let mut k = KeyFingerprints::new(&batches[0].schema(), &["a".into(), "b".into()]).unwrap();
        for b in batches {
            k.add(b).unwrap();
        }
        k.distinct_key().is_some()
    }

    #[test]
    fn distinct_keys_pass_and_repeats_are_found_across_batches() {
        let first = batch(
            vec![Some("x"), Some("x"), Some("y")],
            vec![Some(1), Some(2), Some(1)],
        );
        assert!(keys(std::slice::from_ref(&first)));
        // The same key in a later batch.
        let second = batch(vec![Some("y")], vec![Some(1)]);
        assert!(!keys(&[first.clone(), second]));
        // Within one batch.
        assert!(!keys(&[batch(
            vec![Some("z"), Some("z")],
            vec![Some(3), Some(3)]
        )]));
    }

    #[test]
    fn nulls_group_together_as_in_sql() {
        // GROUP BY puts two null keys in one group, so they count as a repeat.
        assert!(!keys(&[batch(vec![None, None], vec![Some(1), Some(1)])]));
        // A null is not equal to a value, nor to the string "null" or an empty string.
        assert!(keys(&[batch(
            vec![None, Some("null"), Some("")],
            vec![Some(1), Some(1), Some(1)]
        )]));
    }

    #[test]
    fn column_boundaries_are_kept() {
        // ("ab", "c") and ("a", "bc") must differ: the row format encodes lengths.
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, false),
            Field::new("b", DataType::Utf8, false),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["ab", "a"])) as ArrayRef,
                Arc::new(StringArray::from(vec!["c", "bc"])) as ArrayRef,
            ],
        )
        .unwrap();
        let mut k = KeyFingerprints::new(&schema, &["a".into(), "b".into()]).unwrap();
        k.add(&b).unwrap();
        assert!(k.distinct_key().is_some());
    }

    #[test]
    fn no_key_or_unknown_column_means_no_fingerprints() {
        let b = batch(vec![Some("x")], vec![Some(1)]);
        assert!(KeyFingerprints::new(&b.schema(), &[]).is_none());
        assert!(KeyFingerprints::new(&b.schema(), &["nope".into()]).is_none());
    }
}
