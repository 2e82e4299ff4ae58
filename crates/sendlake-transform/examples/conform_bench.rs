//! Throughput of read + conform (SEN2 XML to Arrow row batches), single-threaded.
//!
//! ```text
//! cargo run --release -p sendlake-transform --example conform_bench -- DIR [max_files] [rounds]
//! # e.g. DIR=/var/tmp/sendlake-bench/sub/sen2
//! # a digest of every batch, every stat and every person key, to check that an optimisation
//! # changed nothing (compare the `digest` line before and after):
//! VERIFY=1 cargo run --release -p sendlake-transform --example conform_bench -- DIR 4 1
//! ```
//!
//! Drives `Sen2Reader` and `FileConformer` the way the pipeline's `load_into` does (header
//! first, one person at a time, ready batches taken after each person, `finish` at the end)
//! but drops the batches instead of staging them, so only extract and transform are timed.
//! Files are read into memory first, and time is thread CPU time where Linux provides it,
//! so that disk and a busy machine skew results less.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark may panic"
)]

use std::collections::HashSet;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use sendlake_extract::{Sen2Item, Sen2Reader};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::{PseudonymisationKey, Sen2Conformer, SubmissionContext, read_header};
use sha2::{Digest, Sha256};

#[path = "../../../bench/timing.rs"]
mod timing;
use timing::timed;

/// What one pass over the files produced.
#[derive(Default)]
struct Totals {
    persons: u64,
    rows: u64,
    batches: u64,
    digest: Option<Sha256>,
}

impl Totals {
    fn batch(&mut self, table: &str, batch: &RecordBatch) {
        self.batches += 1;
        self.rows += batch.num_rows() as u64;
        if let Some(h) = &mut self.digest {
            h.update(table.as_bytes());
            hash_batch(h, batch);
        }
    }
}

/// Feeds every value of `batch` into `h`, nulls included, independent of buffer layout.
fn hash_batch(h: &mut Sha256, batch: &RecordBatch) {
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        h.update(field.name().as_bytes());
        for i in 0..col.len() {
            if col.is_null(i) {
                h.update(b"\x00N");
                continue;
            }
            h.update(b"\x01");
            match field.data_type() {
                DataType::Utf8 => h.update(col.as_string::<i32>().value(i).as_bytes()),
                DataType::Int32 => {
                    h.update(col.as_primitive::<Int32Type>().value(i).to_le_bytes());
                }
                DataType::Int64 => {
                    h.update(col.as_primitive::<Int64Type>().value(i).to_le_bytes());
                }
                DataType::Float64 => {
                    h.update(col.as_primitive::<Float64Type>().value(i).to_le_bytes());
                }
                DataType::Date32 => {
                    h.update(col.as_primitive::<Date32Type>().value(i).to_le_bytes());
                }
                DataType::Timestamp(..) => {
                    let v = col.as_primitive::<TimestampMicrosecondType>().value(i);
                    h.update(v.to_le_bytes());
                }
                DataType::Boolean => h.update([u8::from(col.as_boolean().value(i))]),
                other => panic!("unexpected column type {other}"),
            }
        }
    }
}

fn run(conformer: &Sen2Conformer, files: &[(String, Vec<u8>)], verify: bool) -> Totals {
    let registry = conformer.registry();
    let la_codes = registry.code_list("la_code").expect("la_code list");
    let loaded_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("timestamp");
    let mut totals = Totals {
        digest: verify.then(Sha256::new),
        ..Totals::default()
    };
    let seen = HashSet::new();
    for (name, bytes) in files {
        let mut file = None;
        for item in Sen2Reader::new(&bytes[..]) {
            match item.expect("the benchmark files are readable") {
                Sen2Item::Header(h) => {
                    let header = read_header(&h, la_codes).expect("valid header");
                    let ctx = SubmissionContext {
                        source: "sen2_returns".into(),
                        header,
                        source_file: name.clone(),
                        run_id: "bench".into(),
                        loaded_at,
                    };
                    file = Some(conformer.start_file(ctx).expect("start file"));
                }
                Sen2Item::Person(p) => {
                    totals.persons += 1;
                    let f = file.as_mut().expect("header before persons");
                    f.person(&p, &seen).expect("conform");
                    for (table, batch) in f.take_ready() {
                        totals.batch(&table, &batch);
                        black_box(batch);
                    }
                }
                Sen2Item::Skipped { .. } => {}
            }
        }
        let outcome = file.expect("a header").finish().expect("finish");
        for (table, batch) in &outcome.batches {
            totals.batch(table, batch);
        }
        if let Some(h) = &mut totals.digest {
            h.update(
                serde_json::to_string(&outcome.stats)
                    .expect("stats")
                    .as_bytes(),
            );
            let mut keys: Vec<&String> = outcome.person_keys.iter().collect();
            keys.sort();
            for k in keys {
                h.update(k.as_bytes());
            }
        }
        black_box(outcome);
    }
    totals
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: conform_bench DIR [max_files] [rounds]"),
    );
    let max_files: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let verify = std::env::var_os("VERIFY").is_some();

    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    paths.sort();
    paths.truncate(max_files);
    let files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).expect("read file"))
        })
        .collect();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    #[expect(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
    let mb = bytes as f64 / 1e6;

    let registry = Arc::new(SchemaRegistry::embedded().expect("schema"));
    let conformer = Sen2Conformer::new(registry, Arc::new(PseudonymisationKey::demo()), 65_536)
        .expect("conformer");
    println!("{} files, {mb:.1} MB, from {}", files.len(), dir.display());

    let mut best = f64::MAX;
    for round in 1..=rounds.max(1) {
        let (totals, secs) = timed(|| run(&conformer, &files, verify));
        best = best.min(secs);
        #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
        let persons = totals.persons as f64;
        println!(
            "round {round}: {:.1} MB/s, {:.0} persons/s ({} persons, {} rows in {} batches, {secs:.2} s)",
            mb / secs,
            persons / secs,
            totals.persons,
            totals.rows,
            totals.batches,
        );
        if let Some(h) = totals.digest {
            println!("digest: {}", hex::encode(h.finalize()));
        }
    }
    println!("best: {:.1} MB/s read+conform per core", mb / best);
}
