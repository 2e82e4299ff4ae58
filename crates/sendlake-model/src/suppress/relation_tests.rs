//! Unpublished remainders, rollups of rows into a total row, and per-row policies.

use super::tests::{
    C, Lcg, additive, batch, counts, int64, ints, partition, policy, st, statuses, text,
};
use super::*;
use sendlake_schema::{PartitionDef, PolicyRule, RollupDef, RowSelector};

const TABLE: &str = "kpi_timeliness";

fn with_remainder(total: &str, parts: &[&str]) -> sendlake_schema::AdditiveDef {
    sendlake_schema::AdditiveDef {
        remainder: Some("exception cases".into()),
        ..additive(total, parts)
    }
}

fn select(column: &str, values: &[&str]) -> RowSelector {
    RowSelector {
        column: column.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// The policy of [`policy`]`(4)`, with the rows matching `when` published unsuppressed.
fn unsuppressed(when: &[(&str, &[&str])]) -> SuppressionPolicy {
    let mut p = policy(4);
    p.rules.push(PolicyRule {
        unsuppressed: true,
        ..rule(when)
    });
    p
}

/// A rollup of the `parts` rows into the `total` row, agreeing on `by`, with every option off
/// (a test turns on the ones it is about).
fn rollup(parts: RowSelector, total: RowSelector, by: &[&str]) -> RollupDef {
    RollupDef {
        parts,
        total,
        by: by.iter().map(|c| (*c).to_owned()).collect(),
        year_of: None,
        month: None,
        remainder: None,
        counts: None,
        distinct_by: None,
        nested: None,
    }
}

fn rule(when: &[(&str, &[&str])]) -> PolicyRule {
    PolicyRule {
        when: when
            .iter()
            .map(|(c, v)| (c.to_string(), v.iter().map(|v| v.to_string()).collect()))
            .collect(),
        reason: "test".into(),
        unsuppressed: false,
        suppress_max: None,
        min_rate_denominator: None,
        round_to: None,
    }
}

fn dates(days: &[i32]) -> ArrayRef {
    Arc::new(arrow_array::Date32Array::from(days.to_vec()))
}

#[test]
fn a_small_difference_between_two_shown_counts_is_protected() {
    // 30 plans, 28 without an exception: 2 exception cases, a small number nobody
    // published, given away by the difference. 40 − 20 = 20 gives away nothing.
    let input = batch(vec![
        ("den", int64(&[Some(30), Some(40)])),
        ("den_ex", int64(&[Some(28), Some(20)])),
    ]);
    let def = SuppressionDef {
        additive: vec![with_remainder("den", &["den_ex"])],
        ..counts(&["den", "den_ex"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    // The part goes before the total, as in any additive relation.
    assert_eq!(ints(&out, "den"), [Some(30), Some(40)]);
    assert_eq!(ints(&out, "den_ex"), [None, Some(20)]);
    assert_eq!(statuses(&out, "den_ex_status"), st(&[C, None]));
    assert_eq!((stats.cells_primary, stats.cells_secondary), (0, 1));

    // Without the declaration the difference is not seen: the leak the declaration closes.
    let undeclared = counts(&["den", "den_ex"]);
    let (out, _) = suppress(TABLE, &input, &undeclared, &policy(4)).unwrap();
    assert_eq!(ints(&out, "den_ex"), [Some(28), Some(20)]);
}

#[test]
fn a_large_remainder_is_taken_as_known_so_a_hidden_part_gets_company() {
    // den_ex 3 is hidden; 30 − 3 = 27 exception cases could be guessed, so den goes too.
    let input = batch(vec![
        ("den", int64(&[Some(30)])),
        ("den_ex", int64(&[Some(3)])),
    ]);
    let def = SuppressionDef {
        additive: vec![with_remainder("den", &["den_ex"])],
        ..counts(&["den", "den_ex"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(ints(&out, "den"), [None]);
    assert_eq!((stats.cells_primary, stats.cells_secondary), (1, 1));
}

#[test]
fn months_roll_up_to_their_year_and_a_hidden_year_gets_a_month_with_it() {
    // 2024: months 3, 10, 7 of a year of 20: the 3 is primary, the 7 goes with it (the
    // smallest other month), the year stays. 2025: the year's `x` is hidden by its row's
    // additive relation; the months show every `x`, so one of them goes too.
    let jan24 = 19_723; // 2024-01-01
    let jan25 = 20_089; // 2025-01-01
    let input = batch(vec![
        (
            "period_type",
            text(&[
                Some("calendar_year"),
                Some("month"),
                Some("month"),
                Some("month"),
                Some("calendar_year"),
                Some("month"),
                Some("month"),
            ]),
        ),
        (
            "period_start",
            dates(&[
                jan24,
                jan24,
                jan24 + 31,
                jan24 + 60,
                jan25,
                jan25,
                jan25 + 31,
            ]),
        ),
        (
            "x",
            int64(&[
                Some(20),
                Some(3),
                Some(10),
                Some(7),
                Some(40),
                Some(20),
                Some(20),
            ]),
        ),
        (
            "y",
            int64(&[
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(2),
                Some(0),
                Some(2),
            ]),
        ),
        (
            "t",
            int64(&[
                Some(20),
                Some(3),
                Some(10),
                Some(7),
                Some(42),
                Some(20),
                Some(22),
            ]),
        ),
    ]);
    let def = SuppressionDef {
        additive: vec![additive("t", &["x", "y"])],
        rollups: vec![RollupDef {
            year_of: Some("period_start".into()),
            ..rollup(
                select("period_type", &["month"]),
                select("period_type", &["calendar_year"]),
                &[],
            )
        }],
        ..counts(&["t", "x", "y"])
    };
    let (out, _) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    let x = ints(&out, "x");
    assert_eq!(&x[..4], [Some(20), None, Some(10), None]);
    // 2025: y 2 (year) and y 2 (Feb) are primary; each row's additive relation then hides
    // one more cell: x in the year row (40 < 42) and x in February.
    assert_eq!(x[4], None);
    let unknown = x[4..].iter().filter(|v| v.is_none()).count();
    assert!(
        unknown >= 2,
        "the year's hidden x needs a hidden month with it: {x:?}"
    );
}

#[test]
fn districts_roll_up_to_their_la_with_a_remainder_of_children_without_a_district() {
    // The LA row is published as it is (policy rule); its districts add up to 18 of its 20
    // children: 2 have no district, a small number given away by the difference.
    let input = batch(vec![
        ("source", text(&[Some("sen2"); 3])),
        (
            "geography_level",
            text(&[Some("la"), Some("district"), Some("district")]),
        ),
        ("la_code", text(&[Some("919"); 3])),
        ("n", int64(&[Some(20), Some(8), Some(10)])),
    ]);
    let def = SuppressionDef {
        rollups: vec![RollupDef {
            remainder: Some("children whose postcode maps to no district".into()),
            ..rollup(
                select("geography_level", &["district"]),
                select("geography_level", &["la"]),
                &["source", "la_code"],
            )
        }],
        ..counts(&["n"])
    };
    let p = unsuppressed(&[("geography_level", &["la"])]);
    let (out, stats) = suppress(TABLE, &input, &def, &p).unwrap();
    assert_eq!(ints(&out, "n"), [Some(20), None, Some(10)]);
    assert_eq!(stats.rows_exempt, 1);
    assert_eq!(stats.cells_secondary, 1);
}

#[test]
fn a_repeated_count_hidden_in_one_row_is_hidden_in_all_and_only_declared_columns_add_up() {
    // An area's needs: 3 ASD (primary), 20 MLD, 30 SEMH, caseload 53 beside each. Needs add
    // up to the caseload, so MLD goes with ASD; the caseload does not add up over the needs,
    // so the partition leaves it alone. Area B: caseload 2 is primary in its first row, and
    // with it in the others.
    let input = batch(vec![
        (
            "area",
            text(&[Some("A"), Some("A"), Some("A"), Some("B"), Some("B")]),
        ),
        ("n", int64(&[Some(3), Some(20), Some(30), Some(0), Some(0)])),
        (
            "total",
            int64(&[Some(53), Some(53), Some(53), Some(2), Some(0)]),
        ),
    ]);
    let def = SuppressionDef {
        partitions: vec![PartitionDef {
            counts: Some(vec!["n".into()]),
            ..partition(&["area"])
        }],
        repeated: vec![sendlake_schema::RepeatedDef {
            column: "total".into(),
            by: vec!["area".into()],
        }],
        ..counts(&["n", "total"])
    };
    let (out, _) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(ints(&out, "n"), [None, None, Some(30), Some(0), Some(0)]);
    assert_eq!(
        ints(&out, "total"),
        [Some(53), Some(53), Some(53), None, None]
    );
}

#[test]
fn an_area_total_repeated_beside_its_rows_rolls_up_once_per_area() {
    // The LA's caseload 13 is published as it is; area A's 10 is shown beside both of its
    // needs, area B's 3 is primary. Counted once per area, 13 = 10 + 3 gives B back, so A's
    // 10 goes too, in both of its rows.
    let input = batch(vec![
        (
            "level",
            text(&[
                Some("la"),
                Some("district"),
                Some("district"),
                Some("district"),
            ]),
        ),
        ("area", text(&[Some("L"), Some("A"), Some("A"), Some("B")])),
        ("total", int64(&[Some(13), Some(10), Some(10), Some(3)])),
    ]);
    let def = SuppressionDef {
        rollups: vec![RollupDef {
            remainder: Some("children with no district".into()),
            counts: Some(vec!["total".into()]),
            distinct_by: Some(vec!["area".into()]),
            ..rollup(
                select("level", &["district"]),
                select("level", &["la"]),
                &[],
            )
        }],
        repeated: vec![sendlake_schema::RepeatedDef {
            column: "total".into(),
            by: vec!["area".into()],
        }],
        ..counts(&["total"])
    };
    let p = unsuppressed(&[("level", &["la"])]);
    let (out, _) = suppress(TABLE, &input, &def, &p).unwrap();
    assert_eq!(ints(&out, "total"), [Some(13), None, None, None]);
}

#[test]
fn each_row_takes_the_thresholds_of_the_first_rule_that_selects_it() {
    // NHS-derived rows: 1–7 hidden, the rest to the nearest 5, rates need 20. SEN2 LA
    // rows: published as the DfE publishes them. Everything else: the default 1–4.
    let input = batch(vec![
        (
            "source",
            text(&[
                Some("nhs_community"),
                Some("nhs_community"),
                Some("sen2"),
                Some("sen2"),
            ]),
        ),
        (
            "geography_level",
            text(&[Some("la"), Some("la"), Some("la"), Some("district")]),
        ),
        ("n", int64(&[Some(6), Some(12), Some(3), Some(6)])),
        ("d", int64(&[Some(15), Some(15), Some(15), Some(15)])),
        (
            "r",
            Arc::new(arrow_array::Float64Array::from(vec![50.0; 4])) as ArrayRef,
        ),
    ]);
    let def = SuppressionDef {
        rates: vec![sendlake_schema::RateDef {
            column: "r".into(),
            numerator: "n".into(),
            denominator: "d".into(),
        }],
        ..counts(&["n"])
    };
    let mut p = policy(4);
    p.rules.push(PolicyRule {
        suppress_max: Some(7),
        round_to: Some(5),
        min_rate_denominator: Some(20),
        ..rule(&[("source", &["nhs_community"])])
    });
    p.rules.push(PolicyRule {
        unsuppressed: true,
        ..rule(&[("source", &["sen2"]), ("geography_level", &["la"])])
    });
    // A rule on a column the table does not have selects none of its rows.
    p.rules.insert(
        0,
        PolicyRule {
            unsuppressed: true,
            ..rule(&[("period_type", &["calendar_year"])])
        },
    );
    let (out, stats) = suppress(TABLE, &input, &def, &p).unwrap();
    assert_eq!(ints(&out, "n"), [None, Some(10), Some(3), Some(6)]);
    assert_eq!(statuses(&out, "n_status"), st(&[C, None, None, None]));
    let r = out
        .column_by_name("r")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(
        r.iter().collect::<Vec<_>>(),
        [None, None, Some(50.0), Some(50.0)],
        "NHS rates need a denominator of 20; SEN2's 10"
    );
    assert_eq!(stats.rows_exempt, 1);
    assert_eq!(stats.counts_rounded, 1);
}

#[test]
fn a_rule_column_that_is_not_text_is_an_error_naming_it() {
    let input = batch(vec![
        ("source", int64(&[Some(1)])),
        ("n", int64(&[Some(1)])),
    ]);
    let p = unsuppressed(&[("source", &["1"])]);
    let err = suppress(TABLE, &input, &counts(&["n"]), &p).unwrap_err();
    assert!(err.to_string().contains("`source`"), "{err}");
}

/// Random tables of months and years, with remainders and an unsuppressed kind of row: after
/// suppression, no relation (row additive with its remainder, months to year) has exactly one
/// unknown that is sensitive, and suppressing again changes nothing.
#[test]
fn property_rollups_and_remainders_leave_no_lone_sensitive_unknown() {
    let def = SuppressionDef {
        additive: vec![with_remainder("total", &["a", "b"])],
        rollups: vec![RollupDef {
            year_of: Some("period_start".into()),
            ..rollup(
                select("period_type", &["month"]),
                select("period_type", &["calendar_year"]),
                &["source"],
            )
        }],
        ..counts(&["total", "a", "b"])
    };
    let mut rng = Lcg(20_261_207);
    let mut secondary_seen = 0;
    for _ in 0..400 {
        let max = [3, 4, 7][rng.below(3) as usize];
        let mut p = policy(max);
        if rng.below(2) == 0 {
            p.rules.push(PolicyRule {
                unsuppressed: true,
                ..rule(&[("source", &["la"]), ("period_type", &["calendar_year"])])
            });
        }
        let (mut kind, mut start, mut source) = (Vec::new(), Vec::new(), Vec::new());
        let mut cells: [Vec<Option<i64>>; 3] = Default::default();
        for src in ["la", "district"] {
            let months = 1 + rng.below(5) as i32;
            let mut year = [0_i64; 3];
            for m in 0..months {
                let a = rng.count().unwrap_or(0);
                let b = rng.count().unwrap_or(0);
                let rest = if rng.below(3) == 0 {
                    rng.below(6) as i64
                } else {
                    0
                };
                for (y, v) in year.iter_mut().zip([a + b + rest, a, b]) {
                    *y += v;
                }
                kind.push("month");
                start.push(19_723 + 31 * m);
                source.push(src);
                for (c, v) in cells.iter_mut().zip([a + b + rest, a, b]) {
                    c.push(Some(v));
                }
            }
            kind.push("calendar_year");
            start.push(19_723);
            source.push(src);
            for (c, v) in cells.iter_mut().zip(year) {
                c.push(Some(v));
            }
        }
        let rows = kind.len();
        let input = batch(vec![
            (
                "period_type",
                text(&kind.iter().map(|k| Some(*k)).collect::<Vec<_>>()),
            ),
            ("period_start", dates(&start)),
            (
                "source",
                text(&source.iter().map(|s| Some(*s)).collect::<Vec<_>>()),
            ),
            ("total", int64(&cells[0])),
            ("a", int64(&cells[1])),
            ("b", int64(&cells[2])),
        ]);
        let (out, stats) = suppress(TABLE, &input, &def, &p).unwrap();
        secondary_seen += stats.cells_secondary;
        let hidden: Vec<Vec<bool>> = ["total", "a", "b"]
            .iter()
            .map(|c| {
                statuses(&out, &format!("{c}_status"))
                    .iter()
                    .map(|s| s.as_deref() == Some("c"))
                    .collect()
            })
            .collect();
        // A year over a single month is protected like any other row: it would give the
        // month away.
        let months_of = |src: &str| {
            (0..rows)
                .filter(|&r| source[r] == src && kind[r] == "month")
                .count()
        };
        let exempt = |row: usize| {
            p.rules.len() == 1
                && source[row] == "la"
                && kind[row] == "calendar_year"
                && months_of("la") > 1
        };
        let sensitive = |v: i64| (1..=max).contains(&v);
        for row in 0..rows {
            for c in 0..3 {
                let v = cells[c][row].unwrap();
                if exempt(row) {
                    assert!(!hidden[c][row]);
                } else if sensitive(v) {
                    assert!(hidden[c][row], "row {row} column {c} shows {v}");
                }
            }
            // Row additive with its remainder: one unknown, sensitive or hiding a
            // sensitive remainder, is a leak.
            if !exempt(row) {
                let rest = cells[0][row].unwrap() - cells[1][row].unwrap() - cells[2][row].unwrap();
                let unknown =
                    (0..3).filter(|&c| hidden[c][row]).count() + usize::from(sensitive(rest));
                assert_ne!(unknown, 1, "row {row}: one unknown in total = a + b + rest");
            }
        }
        for src in ["la", "district"] {
            let members: Vec<usize> = (0..rows).filter(|&r| source[r] == src).collect();
            for c in 0..3 {
                let unknown = members.iter().filter(|&&r| hidden[c][r]).count();
                assert_ne!(
                    unknown,
                    1,
                    "{src} column {c}: one unknown among months and year: {:?} hidden {:?}",
                    members.iter().map(|&r| cells[c][r]).collect::<Vec<_>>(),
                    members.iter().map(|&r| hidden[c][r]).collect::<Vec<_>>()
                );
            }
        }
        let (again, _) = suppress(TABLE, &out, &def, &p).unwrap();
        // Hidden cells are null now, so remainders are unknown and nothing more is hidden.
        assert_eq!(again.columns(), out.columns());
    }
    assert!(secondary_seen > 100, "{secondary_seen}");
}

#[test]
fn a_hidden_cell_that_bridges_two_hidden_blocks_is_not_left_to_follow() {
    // Areas R1..R4 by needs C1..C4, each area's and each need's total known. Two 2×2 blocks
    // of small counts (R1-R2 × C1-C2, R3-R4 × C3-C4) and one small count joining them (R2,
    // C3): every area and need has two or more hidden cells, so rule 3 is satisfied, yet
    // (R2, C3) is R1's and R2's totals less C1's and C2's hidden sums: a bridge. Rule 3b
    // hides one more cell.
    let small = [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 2),
        (2, 3),
        (3, 2),
        (3, 3),
        (1, 2),
    ];
    let (mut area, mut need, mut n) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..4 {
        for c in 0..4 {
            area.push(Some(["R1", "R2", "R3", "R4"][r]));
            need.push(Some(["C1", "C2", "C3", "C4"][c]));
            n.push(Some(if small.contains(&(r, c)) {
                2
            } else {
                50 + (4 * r + c) as i64
            }));
        }
    }
    let input = batch(vec![
        ("area", text(&area)),
        ("need", text(&need)),
        ("n", int64(&n)),
    ]);
    let def = SuppressionDef {
        partitions: vec![partition(&["area"]), partition(&["need"])],
        ..counts(&["n"])
    };
    let (out, stats) = suppress(TABLE, &input, &def, &policy(4)).unwrap();
    assert_eq!(stats.cells_primary, 9);
    assert!(stats.cells_secondary >= 1, "{stats:?}");
    let hidden: Vec<(usize, usize)> = ints(&out, "n")
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_none())
        .map(|(i, _)| (i / 4, i % 4))
        .collect();
    // The bridge now lies on a cycle: the area or the need it joins has another hidden cell
    // outside the blocks, and so does the other end of that cell.
    assert!(hidden.len() >= 10, "{hidden:?}");
}

/// Areas by need, as kpi_caseload_need publishes them: each area's rows add up to its total
/// (repeated in each row), and the areas add up to the LA's rows, need by need and in total,
/// less the children with no area. After suppression nothing hidden follows from the rest,
/// solving every relation together (rule 3b's own solver, checked by hand-built cases above
/// and independently by tests/it/disclosure.rs on the demo's published zone).
#[test]
fn property_two_way_tables_keep_nothing_that_follows() {
    let def = SuppressionDef {
        partitions: vec![PartitionDef {
            counts: Some(vec!["n".into()]),
            total: Some("t".into()),
            ..partition(&["area"])
        }],
        repeated: vec![sendlake_schema::RepeatedDef {
            column: "t".into(),
            by: vec!["area".into()],
        }],
        rollups: vec![
            RollupDef {
                remainder: Some("no district".into()),
                counts: Some(vec!["n".into()]),
                ..rollup(
                    select("level", &["district"]),
                    select("level", &["la"]),
                    &["need"],
                )
            },
            RollupDef {
                remainder: Some("no district".into()),
                counts: Some(vec!["t".into()]),
                distinct_by: Some(vec!["area".into()]),
                ..rollup(
                    select("level", &["district"]),
                    select("level", &["la"]),
                    &[],
                )
            },
        ],
        ..counts(&["n", "t"])
    };
    let mut rng = Lcg(7);
    let mut secondary = 0;
    for round in 0..300 {
        let (areas, needs) = (2 + rng.below(5) as usize, 2 + rng.below(8) as usize);
        let mut cells = vec![vec![None; needs]; areas];
        for row in cells.iter_mut() {
            for cell in row.iter_mut() {
                if rng.below(6) != 0 {
                    *cell = Some(rng.count().unwrap_or(0));
                }
            }
        }
        let unplaced: Vec<i64> = (0..needs).map(|_| rng.below(3) as i64).collect();
        let (mut level, mut area, mut need, mut n, mut t) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let names = ["A", "B", "C", "D", "E", "F"];
        let codes = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
        for (a, row) in cells.iter().enumerate() {
            let total: i64 = row.iter().flatten().sum();
            for (c, cell) in row.iter().enumerate() {
                if let Some(v) = cell {
                    level.push(Some("district"));
                    area.push(Some(names[a]));
                    need.push(Some(codes[c]));
                    n.push(Some(*v));
                    t.push(Some(total));
                }
            }
        }
        let la_total: i64 =
            cells.iter().flatten().flatten().sum::<i64>() + unplaced.iter().sum::<i64>();
        for c in 0..needs {
            level.push(Some("la"));
            area.push(Some("LA"));
            need.push(Some(codes[c]));
            n.push(Some(
                cells.iter().filter_map(|r| r[c]).sum::<i64>() + unplaced[c],
            ));
            t.push(Some(la_total));
        }
        let input = batch(vec![
            ("level", text(&level)),
            ("area", text(&area)),
            ("need", text(&need)),
            ("n", int64(&n)),
            ("t", int64(&t)),
        ]);
        let p = policy(4);
        let read = Input::read(TABLE, &input, &def, &p, &Related::default()).unwrap();
        let (out, stats) = suppress(TABLE, &input, &def, &p).unwrap();
        secondary += stats.cells_secondary;
        let mut grid = Grid::new(&read);
        for (c, name) in ["n_status", "t_status"].iter().enumerate() {
            grid.suppressed[c] = statuses(&out, name)
                .iter()
                .map(|s| s.as_deref() == Some("c"))
                .collect();
        }
        assert_eq!(
            super::audit::leaks(&read, &grid),
            0,
            "round {round}: {n:?} -> {:?}",
            ints(&out, "n")
        );
    }
    assert!(secondary > 100, "{secondary}");
}

#[test]
fn areas_that_lie_in_each_other_are_protected_together() {
    // Districts D1 (3) in locality L1, D2 (17) and D3 (20) in L2, D4 (30) in L3; the LA row
    // (70) is published as it is. Each level alone: D1 takes D2 with it (the smallest), L1
    // takes L3 (30 < 37). Then L2 − D3 gives D2 back and D4 is L3's very figure: declared
    // `nested`, the districts add up to their localities and nothing follows.
    let levels = [
        "la", "district", "district", "district", "district", "locality", "locality", "locality",
    ];
    let codes = ["919", "D1", "D2", "D3", "D4", "L1", "L2", "L3"];
    let input = batch(vec![
        ("source", text(&[Some("sen2"); 8])),
        ("geography_level", text(&levels.map(Some))),
        ("geography_code", text(&codes.map(Some))),
        ("la_code", text(&[Some("919"); 8])),
        ("n", int64(&[70, 3, 17, 20, 30, 3, 37, 30].map(Some))),
    ]);
    let def = |nested: Option<&str>| SuppressionDef {
        rollups: vec![RollupDef {
            nested: nested.map(str::to_owned),
            ..rollup(
                select("geography_level", &["district", "locality"]),
                select("geography_level", &["la"]),
                &["source", "la_code"],
            )
        }],
        ..counts(&["n"])
    };
    let p = unsuppressed(&[("geography_level", &["la"])]);
    let geography: crate::project::Geography = toml::from_str(
        r#"
        [[localities]]
        code = "L1"
        name = "L1"
        quadrant = "Q"
        [[localities]]
        code = "L2"
        name = "L2"
        quadrant = "Q"
        [[localities]]
        code = "L3"
        name = "L3"
        quadrant = "Q"
        [[districts]]
        code = "D1"
        name = "D1"
        la_code = "919"
        locality = "L1"
        postcode_districts = []
        [[districts]]
        code = "D2"
        name = "D2"
        la_code = "919"
        locality = "L2"
        postcode_districts = []
        [[districts]]
        code = "D3"
        name = "D3"
        la_code = "919"
        locality = "L2"
        postcode_districts = []
        [[districts]]
        code = "D4"
        name = "D4"
        la_code = "919"
        locality = "L3"
        postcode_districts = []
        "#,
    )
    .unwrap();
    let areas = Related {
        areas: AreaTree::new(&geography),
        ..Related::default()
    };
    let hidden = |out: &RecordBatch| -> Vec<&str> {
        let n = ints(out, "n");
        codes
            .iter()
            .zip(n)
            .filter(|(_, v)| v.is_none())
            .map(|(c, _)| *c)
            .collect()
    };

    // Without the nesting, each level is protected on its own and both leaks are there.
    let (flat, _) = suppress_related(TABLE, &input, &def(None), &p, &areas).unwrap();
    assert_eq!(hidden(&flat), ["D1", "D2", "L1", "L3"]);

    let (out, _) =
        suppress_related(TABLE, &input, &def(Some("geography_code")), &p, &areas).unwrap();
    let h = hidden(&out);
    assert!(
        h.contains(&"D4"),
        "L3 is hidden, so its only district is: {h:?}"
    );
    assert!(
        h.contains(&"L2") || h.contains(&"D3"),
        "D2 is hidden, so L2 − D3 must not show: {h:?}"
    );
    let read = Input::read(TABLE, &input, &def(Some("geography_code")), &p, &areas).unwrap();
    assert_eq!(
        read.rollups.len(),
        2,
        "the LA rollup and districts in localities"
    );

    // An area the geography does not place is an error naming it, not an unprotected row.
    let err = suppress_related(
        TABLE,
        &input,
        &def(Some("geography_code")),
        &p,
        &Related::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("district `D1` lies in no locality"),
        "{err}"
    );
}

#[test]
fn a_stocks_year_row_is_its_december_row_and_is_hidden_with_it() {
    // Children waiting at each month end, and at the year end (the December figure again):
    // November 9, December 3. Declared for month 12, the year row goes with December; the
    // other months are not parts (a stock does not add up over the year).
    let days = [20_393, 20_423, 20_089]; // 2025-11-01, 2025-12-01, 2025-01-01
    let input = batch(vec![
        (
            "period_type",
            text(&[Some("month"), Some("month"), Some("calendar_year")]),
        ),
        ("period_start", dates(&days)),
        ("source", text(&[Some("nhs_community"); 3])),
        ("n", int64(&[Some(9), Some(3), Some(3)])),
    ]);
    let def = |month: Option<u32>| SuppressionDef {
        rollups: vec![RollupDef {
            year_of: Some("period_start".into()),
            month,
            ..rollup(
                select("period_type", &["month"]),
                select("period_type", &["calendar_year"]),
                &["source"],
            )
        }],
        ..counts(&["n"])
    };
    let (out, _) = suppress(TABLE, &input, &def(Some(12)), &policy(4)).unwrap();
    assert_eq!(ints(&out, "n"), [Some(9), None, None]);
    let read = Input::read(
        TABLE,
        &input,
        &def(Some(12)),
        &policy(4),
        &Related::default(),
    );
    let groups = &read.unwrap().rollups[0].groups;
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (groups[0].parts.clone(), groups[0].total),
        (vec![1], Some(2))
    );
    // Without `month`, every month of the year is a part, as for a flow.
    let read = Input::read(TABLE, &input, &def(None), &policy(4), &Related::default());
    assert_eq!(read.unwrap().rollups[0].groups[0].parts, [0, 1]);
}

#[test]
fn a_count_shared_with_a_table_suppressed_first_follows_it() {
    // kpi_caseload_need hid area A's caseload (20, as a secondary cell there) and showed B's
    // (30). Here A's is hidden too, whatever this table's own cells say, and B's is never
    // chosen: B's 2 SEMH takes its other need (11) with it, not the caseload.
    let need = batch(vec![
        ("area", text(&[Some("A"), Some("B")])),
        ("total", int64(&[None, Some(30)])),
        ("total_status", text(&[C, None])),
    ]);
    let input = batch(vec![
        (
            "area",
            text(&[Some("A"), Some("A"), Some("B"), Some("B"), Some("B")]),
        ),
        (
            "need",
            text(&[
                Some("ASD"),
                Some("MLD"),
                Some("ASD"),
                Some("MLD"),
                Some("SEMH"),
            ]),
        ),
        (
            "n",
            int64(&[Some(12), Some(8), Some(17), Some(11), Some(2)]),
        ),
        (
            "total",
            int64(&[Some(20), Some(20), Some(30), Some(30), Some(30)]),
        ),
    ]);
    let def = SuppressionDef {
        partitions: vec![PartitionDef {
            counts: Some(vec!["n".into()]),
            total: Some("total".into()),
            ..partition(&["area"])
        }],
        repeated: vec![sendlake_schema::RepeatedDef {
            column: "total".into(),
            by: vec!["area".into()],
        }],
        shared: vec![sendlake_schema::SharedDef {
            column: "total".into(),
            table: "kpi_caseload_need".into(),
            by: vec!["area".into()],
        }],
        ..counts(&["n", "total"])
    };
    let related = Related {
        published: [("kpi_caseload_need".to_owned(), need)].into(),
        ..Related::default()
    };
    let (out, stats) = suppress_related(TABLE, &input, &def, &policy(4), &related).unwrap();
    assert_eq!(
        ints(&out, "total"),
        [None, None, Some(30), Some(30), Some(30)]
    );
    // A: its total hidden, so one need is hidden with it (8), leaving 12 unknowable.
    // B: 2 is primary; the smallest other need (11) goes, the shown caseload stays.
    assert_eq!(ints(&out, "n"), [Some(12), None, Some(17), None, None]);
    assert_eq!(stats.cells_primary, 1);

    // Suppressed before the table it is shared with: an error naming both.
    let err = suppress_related(TABLE, &input, &def, &policy(4), &Related::default()).unwrap_err();
    assert!(
        err.to_string().contains("shared with `kpi_caseload_need`"),
        "{err}"
    );
}
