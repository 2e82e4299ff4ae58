//! Suppression with hand-worked tables, chains, exempt rows, rates, rounding and a property
//! test over random tables.

use super::*;
use arrow_array::{Float64Array, Int32Array, Int64Array, StringArray};
use arrow_schema::DataType;
use sendlake_schema::{AdditiveDef, DerivedDef, ExemptDef, PartitionDef, RateDef};

const TABLE: &str = "kpi_timeliness";

pub(super) fn int64(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn float64(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

pub(super) fn text(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// Fields are nullable only where the array has nulls, so the tests also see protected
/// columns turned nullable.
pub(super) fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

pub(super) fn counts(names: &[&str]) -> SuppressionDef {
    SuppressionDef {
        counts: names.iter().map(|n| n.to_string()).collect(),
        ..SuppressionDef::default()
    }
}

pub(super) fn additive(total: &str, parts: &[&str]) -> AdditiveDef {
    AdditiveDef {
        total: total.into(),
        parts: parts.iter().map(|p| p.to_string()).collect(),
        remainder: None,
    }
}

/// Counts `total` and `parts`, with the one relation `total` = sum of `parts`.
pub(super) fn additive_only(total: &str, parts: &[&str]) -> SuppressionDef {
    SuppressionDef {
        additive: vec![additive(total, parts)],
        ..counts(&[&[total], parts].concat())
    }
}

pub(super) fn partition(by: &[&str]) -> PartitionDef {
    PartitionDef {
        by: by.iter().map(|b| b.to_string()).collect(),
        counts: None,
        total: None,
    }
}

pub(super) fn policy(max: i64) -> SuppressionPolicy {
    SuppressionPolicy {
        suppress_max: max,
        ..SuppressionPolicy::default()
    }
}

pub(super) fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let column = batch.column_by_name(name).unwrap();
    column.as_primitive::<Int64Type>().iter().collect()
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let column = batch.column_by_name(name).unwrap();
    column.as_primitive::<Float64Type>().iter().collect()
}

pub(super) fn statuses(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = batch.column_by_name(name).unwrap();
    column
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

pub(super) fn st(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_owned)).collect()
}

pub(super) const C: Option<&str> = Some("c");

#[test]
fn primary_hides_one_to_max_and_shows_zero_and_null() {
    let input = batch(vec![
        ("la", text(&[Some("E1"); 5])),
        ("n", int64(&[Some(0), Some(1), Some(4), Some(5), None])),
    ]);
    let (out, stats) = suppress(TABLE, &input, &counts(&["n"]), &policy(4)).unwrap();
    assert_eq!(ints(&out, "n"), [Some(0), None, None, Some(5), None]);
    assert_eq!(statuses(&out, "n_status"), st(&[None, C, C, None, None]));
    assert_eq!(stats.cells_primary, 2);
    assert_eq!(stats.cells_secondary, 0);
    // Other columns pass through in order; the status is appended, nullable Utf8.
    let schema = out.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["la", "n", "n_status"]);
    assert_eq!(out.column(0), input.column(0));
    let status = schema.field_with_name("n_status").unwrap();
    assert_eq!(status.data_type(), &DataType::Utf8);
    assert!(status.is_nullable());
    assert!(schema.field_with_name("n").unwrap().is_nullable());
}

#[test]
fn primary_threshold_comes_from_the_policy() {
    let input = batch(vec![(
        "n",
        int64(&[Some(0), Some(1), Some(4), Some(5), Some(7), Some(8)]),
    )]);
    let (out, stats) = suppress(TABLE, &input, &counts(&["n"]), &policy(7)).unwrap();
    assert_eq!(ints(&out, "n"), [Some(0), None, None, None, None, Some(8)]);
    assert_eq!(stats.cells_primary, 4);
}

#[test]
fn additive_hides_the_smallest_other_part_not_the_total() {
    // 20 = 3 + 8 + 9: 3 is primary; alone it is 20 - 8 - 9, so 8 goes too.
    let input = batch(vec![
        ("total", int64(&[Some(20)])),
        ("a", int64(&[Some(3)])),
        ("b", int64(&[Some(8)])),
        ("c", int64(&[Some(9)])),
    ]);
    let def = additive_only("total", &["a", "b", "c"]);
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(ints(&out, "total"), [Some(20)]);
    assert_eq!(ints(&out, "a"), [None]);
    assert_eq!(ints(&out, "b"), [None]);
    assert_eq!(ints(&out, "c"), [Some(9)]);
    assert_eq!(statuses(&out, "a_status"), st(&[C]));
    assert_eq!(statuses(&out, "b_status"), st(&[C]));
    assert_eq!(statuses(&out, "c_status"), st(&[None]));
    assert_eq!(statuses(&out, "total_status"), st(&[None]));
    assert_eq!(stats.cells_primary, 1);
    assert_eq!(stats.cells_secondary, 1);
}

#[test]
fn additive_prefers_a_positive_part_to_a_zero_and_ties_to_the_first() {
    let input = batch(vec![
        ("total", int64(&[Some(12), Some(23)])),
        ("a", int64(&[Some(3), Some(3)])),
        ("b", int64(&[Some(0), Some(10)])),
        ("c", int64(&[Some(9), Some(10)])),
    ]);
    let def = additive_only("total", &["a", "b", "c"]);
    let (out, _) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    // Row 0: 9 rather than the 0. Row 1: the first of the two 10s.
    assert_eq!(ints(&out, "b"), [Some(0), None]);
    assert_eq!(ints(&out, "c"), [None, Some(10)]);
    assert_eq!(ints(&out, "total"), [Some(12), Some(23)]);
}

#[test]
fn additive_hides_a_zero_when_it_is_the_only_part_left() {
    // Total unknown, 3 hidden, 0 the only other shown cell.
    let input = batch(vec![
        ("total", int64(&[None])),
        ("a", int64(&[Some(3)])),
        ("b", int64(&[Some(0)])),
    ]);
    let def = additive_only("total", &["a", "b"]);
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(ints(&out, "b"), [None]);
    assert_eq!(statuses(&out, "b_status"), st(&[C]));
    assert_eq!(statuses(&out, "total_status"), st(&[None]));
    assert_eq!(stats.cells_secondary, 1);
}

#[test]
fn additive_hides_the_total_when_no_part_is_left() {
    // boys 2 hidden, girls not known: 7 would still give 2 back if girls were derivable
    // elsewhere, and is the only shown cell of the relation.
    let input = batch(vec![
        ("total", int64(&[Some(7)])),
        ("boys", int64(&[Some(2)])),
        ("girls", int64(&[None])),
    ]);
    let def = additive_only("total", &["boys", "girls"]);
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(ints(&out, "total"), [None]);
    assert_eq!(statuses(&out, "total_status"), st(&[C]));
    assert_eq!(statuses(&out, "girls_status"), st(&[None]));
    assert_eq!((stats.cells_primary, stats.cells_secondary), (1, 1));
}

#[test]
fn partition_hides_the_smallest_sibling_within_its_group_only() {
    let input = batch(vec![
        (
            "period",
            Arc::new(Int32Array::from(vec![2020, 2020, 2020, 2020, 2021, 2021])) as ArrayRef,
        ),
        (
            "district",
            text(&[
                Some("D1"),
                Some("D2"),
                Some("D3"),
                Some("D4"),
                Some("D1"),
                Some("D2"),
            ]),
        ),
        (
            "n",
            int64(&[Some(2), Some(10), Some(12), Some(30), Some(5), Some(6)]),
        ),
    ]);
    let def = SuppressionDef {
        partitions: vec![partition(&["period"])],
        ..counts(&["n"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(
        ints(&out, "n"),
        [None, None, Some(12), Some(30), Some(5), Some(6)]
    );
    assert_eq!(
        statuses(&out, "n_status"),
        st(&[C, C, None, None, None, None])
    );
    assert_eq!((stats.cells_primary, stats.cells_secondary), (1, 1));
}

#[test]
fn partition_groups_nulls_together_and_leaves_a_lone_row() {
    let input = batch(vec![
        ("la", text(&[None, None, Some("E1"), Some("E2")])),
        ("n", int64(&[Some(3), Some(20), Some(30), Some(2)])),
    ]);
    let def = SuppressionDef {
        partitions: vec![partition(&["la"])],
        ..counts(&["n"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    // The two null-LA rows are siblings; E2 is alone, so only its primary cell goes.
    assert_eq!(ints(&out, "n"), [None, None, Some(30), None]);
    assert_eq!((stats.cells_primary, stats.cells_secondary), (2, 1));
}

#[test]
fn partition_suppression_chains_into_additive_suppression() {
    // Row A: boys 3 and girls 2 are primary. The partition then needs a second boy cell
    // (B's 6) and a second girl cell (C's 7); that leaves B and C with one hidden part
    // each, so the additive relation hides B's girls and C's boys. D stays shown.
    let input = batch(vec![
        ("period", text(&[Some("2020"); 4])),
        ("total", int64(&[Some(5), Some(46), Some(57), Some(130)])),
        ("boys", int64(&[Some(3), Some(6), Some(50), Some(60)])),
        ("girls", int64(&[Some(2), Some(40), Some(7), Some(70)])),
    ]);
    let def = SuppressionDef {
        additive: vec![additive("total", &["boys", "girls"])],
        partitions: vec![partition(&["period"])],
        ..counts(&["total", "boys", "girls"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(ints(&out, "boys"), [None, None, None, Some(60)]);
    assert_eq!(ints(&out, "girls"), [None, None, None, Some(70)]);
    assert_eq!(
        ints(&out, "total"),
        [Some(5), Some(46), Some(57), Some(130)]
    );
    assert_eq!((stats.cells_primary, stats.cells_secondary), (2, 4));
}

#[test]
fn exempt_rows_are_untouched_and_take_no_part() {
    // The DfE row has a 1 and a 4 but is already public. It is not a sibling either: the
    // partition's second cell is local 20, not the exempt 1.
    let input = batch(vec![
        (
            "source",
            text(&[
                Some("dfe_published"),
                Some("local"),
                Some("local"),
                Some("local"),
            ]),
        ),
        ("period", text(&[Some("2020"); 4])),
        ("total", int64(&[Some(5), Some(30), Some(40), Some(50)])),
        ("a", int64(&[Some(1), Some(3), Some(20), Some(25)])),
        ("b", int64(&[Some(4), Some(27), Some(20), Some(25)])),
    ]);
    let def = SuppressionDef {
        additive: vec![additive("total", &["a", "b"])],
        partitions: vec![partition(&["period"])],
        exempt: Some(ExemptDef {
            column: "source".into(),
            values: vec!["dfe_published".into()],
        }),
        ..counts(&["total", "a", "b"])
    };
    let policy = SuppressionPolicy {
        round_to: Some(5),
        ..policy(4)
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy).unwrap();
    assert_eq!(ints(&out, "a"), [Some(1), None, None, Some(25)]);
    assert_eq!(ints(&out, "b"), [Some(4), None, None, Some(25)]);
    assert_eq!(ints(&out, "total"), [Some(5), Some(30), Some(40), Some(50)]);
    assert_eq!(statuses(&out, "a_status"), st(&[None, C, C, None]));
    assert_eq!(statuses(&out, "b_status"), st(&[None, C, C, None]));
    assert_eq!(stats.rows_exempt, 1);
    assert_eq!((stats.cells_primary, stats.cells_secondary), (1, 3));
    assert_eq!(stats.counts_rounded, 0);
}

#[test]
fn rates_follow_their_counts_and_small_denominators() {
    let input = batch(vec![
        (
            "num",
            int64(&[Some(3), Some(6), Some(0), Some(20), Some(5)]),
        ),
        ("den", int64(&[Some(50), Some(8), Some(0), Some(100), None])),
        (
            "rate",
            float64(&[Some(0.06), Some(0.75), Some(0.0), Some(0.2), None]),
        ),
        ("pct", int64(&[Some(6), Some(75), Some(0), Some(20), None])),
    ]);
    let def = SuppressionDef {
        rates: vec![
            RateDef {
                column: "rate".into(),
                numerator: "num".into(),
                denominator: "den".into(),
            },
            RateDef {
                column: "pct".into(),
                numerator: "num".into(),
                denominator: "den".into(),
            },
        ],
        ..counts(&["num", "den"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    // Row 0: numerator 3 hidden. Row 1: denominator 8 < 10. Row 2: denominator 0, kept.
    // Row 4: a null rate has nothing to hide.
    assert_eq!(
        floats(&out, "rate"),
        [None, None, Some(0.0), Some(0.2), None]
    );
    assert_eq!(ints(&out, "pct"), [None, None, Some(0), Some(20), None]);
    assert_eq!(statuses(&out, "rate_status"), st(&[C, C, None, None, None]));
    assert_eq!(statuses(&out, "pct_status"), st(&[C, C, None, None, None]));
    // The counts of row 1 are shown: only the rate is disclosive.
    assert_eq!(
        ints(&out, "num"),
        [None, Some(6), Some(0), Some(20), Some(5)]
    );
    assert_eq!(
        ints(&out, "den"),
        [Some(50), Some(8), Some(0), Some(100), None]
    );
    assert_eq!(stats.rates_suppressed, 4);
    assert_eq!(
        out.schema().field_with_name("pct").unwrap().data_type(),
        &DataType::Int64
    );
}

#[test]
fn rate_follows_a_secondarily_suppressed_count() {
    let input = batch(vec![
        ("total", int64(&[Some(20)])),
        ("a", int64(&[Some(3)])),
        ("b", int64(&[Some(8)])),
        ("c", int64(&[Some(9)])),
        ("b_share", float64(&[Some(0.4)])),
        ("c_share", float64(&[Some(0.45)])),
    ]);
    let rate = |column: &str, numerator: &str| RateDef {
        column: column.into(),
        numerator: numerator.into(),
        denominator: "total".into(),
    };
    let def = SuppressionDef {
        additive: vec![additive("total", &["a", "b", "c"])],
        rates: vec![rate("b_share", "b"), rate("c_share", "c")],
        ..counts(&["total", "a", "b", "c"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(floats(&out, "b_share"), [None]);
    assert_eq!(floats(&out, "c_share"), [Some(0.45)]);
    assert_eq!(stats.rates_suppressed, 1);
}

#[test]
fn derived_statistics_go_with_their_count() {
    let input = batch(vec![
        ("n", int64(&[Some(3), Some(10), Some(2)])),
        ("mean_days", float64(&[Some(12.5), Some(30.0), None])),
        ("median_days", int64(&[Some(12), Some(28), None])),
    ]);
    let derived = |column: &str| DerivedDef {
        column: column.into(),
        count: "n".into(),
    };
    let def = SuppressionDef {
        derived: vec![derived("mean_days"), derived("median_days")],
        ..counts(&["n"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(floats(&out, "mean_days"), [None, Some(30.0), None]);
    assert_eq!(ints(&out, "median_days"), [None, Some(28), None]);
    assert_eq!(statuses(&out, "mean_days_status"), st(&[C, None, None]));
    assert_eq!(statuses(&out, "median_days_status"), st(&[C, None, None]));
    assert_eq!(stats.derived_suppressed, 2);
}

#[test]
fn rounding_to_five_leaves_rates_from_unrounded_counts() {
    let n = [7, 8, 12, 13, 3, 10, 0].map(Some);
    let rate: Vec<Option<f64>> = n.iter().map(|v| v.map(|v| v as f64 / 20.0)).collect();
    let input = batch(vec![
        ("n", int64(&n)),
        ("d", int64(&[Some(20); 7])),
        ("r", float64(&rate)),
    ]);
    let def = SuppressionDef {
        rates: vec![RateDef {
            column: "r".into(),
            numerator: "n".into(),
            denominator: "d".into(),
        }],
        ..counts(&["n", "d"])
    };
    let policy = SuppressionPolicy {
        round_to: Some(5),
        ..policy(4)
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy).unwrap();
    assert_eq!(
        ints(&out, "n"),
        [
            Some(5),
            Some(10),
            Some(10),
            Some(15),
            None,
            Some(10),
            Some(0)
        ]
    );
    assert_eq!(ints(&out, "d"), [Some(20); 7]);
    assert_eq!(
        floats(&out, "r"),
        [
            Some(0.35),
            Some(0.4),
            Some(0.6),
            Some(0.65),
            None,
            Some(0.5),
            Some(0.0)
        ]
    );
    assert_eq!(stats.counts_rounded, 4);
    assert_eq!(stats.cells_primary, 1);
}

#[test]
fn rounding_goes_half_up() {
    assert_eq!(round_half_up(15, 10), 20);
    assert_eq!(round_half_up(25, 10), 30);
    assert_eq!(round_half_up(14, 10), 10);
    assert_eq!(round_half_up(2, 4), 4);
    assert_eq!(round_half_up(5, 4), 4);
    assert_eq!(round_half_up(6, 4), 8);
    assert_eq!(round_half_up(0, 5), 0);
    assert_eq!(round_half_up(i64::MAX, 10), i64::MAX - 7);
}

#[test]
fn existing_status_keeps_its_symbols_and_place() {
    let input = batch(vec![
        ("n", int64(&[None, Some(3), Some(20), None])),
        ("n_status", text(&[Some("x"), None, None, Some("z")])),
        (
            "la",
            text(&[Some("E1"), Some("E2"), Some("E3"), Some("E4")]),
        ),
    ]);
    let (out, _) = suppress(TABLE, &input, &counts(&["n"]), &policy(4)).unwrap();
    assert_eq!(
        statuses(&out, "n_status"),
        st(&[Some("x"), C, None, Some("z")])
    );
    let schema = out.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["n", "n_status", "la"]);
    assert!(schema.field(1).is_nullable());
}

#[test]
fn errors_name_the_table_and_the_column() {
    let input = batch(vec![
        ("n", text(&[Some("1")])),
        ("m", int64(&[Some(1)])),
        ("m_status", int64(&[Some(1)])),
        ("f", float64(&[Some(1.0)])),
    ]);
    let message = |def: &SuppressionDef| {
        suppress(TABLE, &input, def, &policy(4))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message(&counts(&["missing"])),
        "kpi_timeliness: suppression column `missing` is missing"
    );
    assert_eq!(
        message(&counts(&["n"])),
        "kpi_timeliness: suppression column `n` is Utf8, expected Int64"
    );
    assert_eq!(
        message(&counts(&["m"])),
        "kpi_timeliness: suppression column `m_status` is Int64, expected Utf8"
    );
    let rate_on_text = SuppressionDef {
        rates: vec![RateDef {
            column: "n".into(),
            numerator: "f".into(),
            denominator: "f".into(),
        }],
        ..SuppressionDef::default()
    };
    assert_eq!(
        message(&rate_on_text),
        "kpi_timeliness: suppression column `n` is Utf8, expected Float64 or Int64"
    );
    let float_total = SuppressionDef {
        additive: vec![additive("f", &[])],
        ..SuppressionDef::default()
    };
    assert_eq!(
        message(&float_total),
        "kpi_timeliness: suppression column `f` is Float64, expected Int64"
    );
    let float_partition = SuppressionDef {
        partitions: vec![partition(&["f"])],
        ..SuppressionDef::default()
    };
    assert!(
        message(&float_partition)
            .starts_with("kpi_timeliness: suppression column `f` is Float64, expected Utf8")
    );
    let undeclared_part = SuppressionDef {
        additive: vec![additive("m", &["m"])],
        ..SuppressionDef::default()
    };
    assert_eq!(
        message(&undeclared_part),
        "kpi_timeliness: suppression column `m` is in an additive relation but not among the counts"
    );
    let exempt_on_int = SuppressionDef {
        exempt: Some(ExemptDef {
            column: "m".into(),
            values: vec!["1".into()],
        }),
        ..SuppressionDef::default()
    };
    assert_eq!(
        message(&exempt_on_int),
        "kpi_timeliness: suppression column `m` is Int64, expected Utf8, LargeUtf8 or Utf8View"
    );
    let twice = SuppressionDef {
        derived: vec![DerivedDef {
            column: "f".into(),
            count: "m".into(),
        }],
        rates: vec![RateDef {
            column: "f".into(),
            numerator: "m".into(),
            denominator: "m".into(),
        }],
        ..SuppressionDef::default()
    };
    assert_eq!(
        message(&twice),
        "kpi_timeliness: suppression column `f` is declared more than once among counts, rates and derived"
    );
}

/// A small deterministic generator (64-bit LCG, high bits), so the property test needs no
/// crate and fails the same way every time.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    /// Mostly small counts, sometimes larger ones, sometimes null.
    pub(super) fn count(&mut self) -> Option<i64> {
        match self.below(12) {
            0 => None,
            1..=6 => Some(self.below(8) as i64),
            _ => Some(self.below(40) as i64),
        }
    }
}

#[test]
fn property_no_relation_keeps_a_single_hidden_cell() {
    const COLUMNS: [&str; 4] = ["total", "a", "b", "c"];
    let def = SuppressionDef {
        additive: vec![additive("total", &["a", "b", "c"])],
        partitions: vec![partition(&["period"])],
        exempt: Some(ExemptDef {
            column: "source".into(),
            values: vec!["dfe_published".into()],
        }),
        ..counts(&COLUMNS)
    };
    let mut rng = Lcg(20_240_901);
    let mut secondary_seen = 0;
    for _ in 0..600 {
        let rows = 1 + rng.below(12) as usize;
        let max = [1, 3, 4, 5, 7][rng.below(5) as usize];
        let period: Vec<i32> = (0..rows).map(|_| rng.below(3) as i32).collect();
        let exempt: Vec<bool> = (0..rows).map(|_| rng.below(8) == 0).collect();
        let mut cells: Vec<Vec<Option<i64>>> = vec![Vec::new(); 4];
        for _ in 0..rows {
            let parts = [rng.count(), rng.count(), rng.count()];
            let total = if rng.below(10) == 0 {
                None
            } else {
                Some(parts.iter().flatten().sum())
            };
            cells[0].push(total);
            for (column, part) in parts.into_iter().enumerate() {
                cells[column + 1].push(part);
            }
        }
        let source: Vec<Option<&str>> = exempt
            .iter()
            .map(|&e| Some(if e { "dfe_published" } else { "local" }))
            .collect();
        let mut columns = vec![
            ("source", text(&source)),
            (
                "period",
                Arc::new(Int32Array::from(period.clone())) as ArrayRef,
            ),
        ];
        for (name, values) in COLUMNS.iter().zip(&cells) {
            columns.push((name, int64(values)));
        }
        let input = batch(columns);
        let (out, stats) = suppress(TABLE, &input, &def, &policy(max)).unwrap();

        let shown: Vec<Vec<Option<i64>>> = COLUMNS.iter().map(|c| ints(&out, c)).collect();
        let hidden: Vec<Vec<bool>> = COLUMNS
            .iter()
            .map(|c| {
                statuses(&out, &format!("{c}_status"))
                    .iter()
                    .map(|s| s.as_deref() == Some("c"))
                    .collect()
            })
            .collect();
        let mut primary = 0;
        for column in 0..4 {
            for row in 0..rows {
                let before = cells[column][row];
                if exempt[row] {
                    assert!(!hidden[column][row]);
                    assert_eq!(shown[column][row], before);
                    continue;
                }
                if before.is_some_and(|v| (1..=max).contains(&v)) {
                    primary += 1;
                }
                if hidden[column][row] {
                    assert!(before.is_some() && shown[column][row].is_none());
                } else {
                    assert_eq!(shown[column][row], before);
                    assert!(!before.is_some_and(|v| (1..=max).contains(&v)));
                }
            }
        }
        let total_hidden = hidden.iter().flatten().filter(|&&h| h).count() as u64;
        assert_eq!(stats.cells_primary, primary);
        assert_eq!(stats.cells_primary + stats.cells_secondary, total_hidden);
        secondary_seen += stats.cells_secondary;

        // A relation with one hidden cell must have no other shown (non-null) cell.
        let lone_hidden_is_protected = |members: &[(usize, usize)]| {
            let hidden_cells = members.iter().filter(|&&(c, r)| hidden[c][r]).count();
            hidden_cells != 1
                || members
                    .iter()
                    .all(|&(c, r)| hidden[c][r] || cells[c][r].is_none())
        };
        for row in (0..rows).filter(|&r| !exempt[r]) {
            let members: Vec<(usize, usize)> = (0..4).map(|c| (c, row)).collect();
            assert!(lone_hidden_is_protected(&members), "additive row {row}");
        }
        for p in 0..3 {
            let group: Vec<usize> = (0..rows)
                .filter(|&r| !exempt[r] && period[r] == p)
                .collect();
            if group.len() < 2 {
                continue;
            }
            for column in 0..4 {
                let members: Vec<(usize, usize)> = group.iter().map(|&r| (column, r)).collect();
                assert!(
                    lone_hidden_is_protected(&members),
                    "period {p} column {column}"
                );
            }
        }

        // Running again on the output changes nothing: hidden cells are null now, and
        // no shown count is small.
        let (again, stats_again) = suppress(TABLE, &out, &def, &policy(max)).unwrap();
        assert_eq!(again, out);
        assert_eq!(
            stats_again,
            SuppressionStats {
                rows_exempt: stats.rows_exempt,
                ..SuppressionStats::default()
            }
        );
    }
    // The generator does exercise secondary suppression.
    assert!(secondary_seen > 100, "{secondary_seen}");
}
