//! Small-number suppression (statistical disclosure control) of published aggregate tables.
//!
//! A published SEND aggregate counts children. A count of one to a few (the policy's
//! `suppress_max`, 4 by default) can point at an individual child in a small district, school or
//! need type, so it is not shown: the cell becomes null and its `<column>_status` companion gets
//! `c`, the EES symbol for "confidential". Hiding the small cell alone is not enough, because
//! the tables also say how counts add up: a suppressed part next to its shown total and shown
//! sibling parts is recovered by subtraction. So further ("secondary") cells are suppressed
//! until no relation has exactly one hidden cell. The declaration of what is a count, what adds
//! up to what and which rates and statistics depend on which counts is structural and lives in
//! the table's schema ([`SuppressionDef`]); the thresholds are policy and come from the pipeline
//! file ([`SuppressionPolicy`]), so one schema serves partners with different rules. The policy
//! may set other thresholds for some rows (its `rules`: NHS-derived counts hide 1–7 and round
//! to 5), or publish them as they are (the DfE's own LA-level annual SEN2 figures): each row
//! takes the first rule that selects it, else the defaults.
//!
//! # Rules, in the order they are applied
//!
//! 1. **Exempt rows.** A row whose `exempt.column` holds one of `exempt.values` (e.g. source
//!    `dfe_published`: figures the DfE has already published, so hiding them protects no one
//!    and would only make our tables disagree with theirs) is left exactly as it is: it is
//!    never suppressed, never chosen for secondary suppression, not a sibling in a partition
//!    and not rounded. In a rollup it is a shown cell that cannot be chosen (a total the DfE
//!    publishes still adds up its months). A row a policy rule publishes `unsuppressed` is
//!    exempt in the same way, except a rollup total over a single part with no remainder (a
//!    year whose activity all falls in one month): it would give that part away, so it is
//!    protected like any other row. Exempt rows are counted in `rows_exempt`.
//! 2. **Primary.** A count from 1 to the row's `suppress_max` becomes null with `c`. Zero stays shown (the
//!    DfE shows 0: an empty cell identifies nobody) and a null count stays null.
//! 3. **Secondary**, repeated until nothing changes, since one secondary suppression can leave
//!    another relation with a single hidden cell:
//!    - *additive* (`total` = sum of `parts`, in each row): the cells `{total} ∪ parts` of a row
//!      form one linear relation. If exactly one of them is suppressed, one more is suppressed:
//!      the smallest value above 0 among the shown (unsuppressed, non-null) parts, else the
//!      smallest (a 0) of them, ties to the first in declaration order. The total is chosen
//!      only when no part is available, because a shown total is the most useful figure of
//!      the row. Smallest, because it loses the least information; above 0 first, because a
//!      hidden 0 next to a hidden small count still lets a reader bound the small one tightly.
//!      A relation may declare an unpublished `remainder` (total = parts + remainder: exception
//!      cases between all plans and those without an exception). A reader gets the remainder
//!      by subtraction, so where it is from 1 to `suppress_max` it counts as a hidden cell that
//!      cannot be chosen; otherwise it is taken as known, since it could be guessed.
//!    - *rollups* (rows selected as parts add up to a total row of the same table: months to
//!      their calendar year, districts to their LA): for each count column, the cells of a
//!      group's parts and its total row are one relation, treated as an additive one (parts
//!      before the total, a declared remainder as above, judged by the strictest threshold of
//!      the group's rows). A group with no total row is treated as a partition. A rollup of
//!      areas declared `nested` also groups each level's rows under the area one level up
//!      they lie in ([`AreaTree`]: districts in localities, localities in quadrants), exactly,
//!      with no remainder.
//!    - *partitions* (rows agreeing on all `by` columns, nulls equal to nulls, are siblings of a
//!      total shown elsewhere, or of a `total` count column repeated in each of their rows):
//!      for each of its count columns (`counts`, default all) separately, if exactly one cell
//!      of the siblings and their total is suppressed, one more is: the smallest value above 0
//!      among the shown siblings, else the smallest (a 0), ties to the first in row order,
//!      else the total.
//!    - *repeated* counts (an area's caseload beside each of its needs): hidden in one row of
//!      the group, it is hidden in all.
//!
//!    Secondary cells also become null with `c` and are counted in `cells_secondary`. The
//!    passes visit the additive relations (rule by rule, row by row), the partition groups
//!    (rule by rule, group by first appearance, count column by declaration) and then the
//!    rollup groups (the same order), over and over; only relations whose cells changed since they were last looked at are looked at
//!    again, which gives the same result as full passes without their quadratic cost.
//!
//!    **3b. The relations together** (module `audit`): no relation with exactly one hidden
//!    cell is not enough where relations cross (a table of areas by need, each with its
//!    total: a hidden cell bridging two groups of hidden cells is their difference). Every
//!    relation instance becomes a linear equation over the hidden cells; Gaussian elimination
//!    finds any hidden cell (or small remainder) that follows from the shown ones. Where that
//!    would disclose something (a count from 1 to the row's threshold, a small remainder, or
//!    anything worked out through a rounded or missing figure), one more cell of its equations
//!    is hidden, then rule 3 runs again, until nothing protected follows. A secondary cell
//!    that follows exactly holds a count that could have been shown.
//!
//!    Counts `shared` with a table suppressed earlier in the run (an area's caseload, in
//!    three tables) follow it: hidden there, hidden here before rule 3 (counted as
//!    secondary); shown there, never chosen here.
//! 4. **Rates.** A rate cell becomes null with `c` if its numerator or denominator cell was
//!    suppressed (the rate and the other count would give the hidden one back), or if the
//!    original denominator is from 1 to the row's `min_rate_denominator - 1` (a percentage of a handful
//!    of children is itself a small-number disclosure). A denominator of 0 or null leaves the
//!    rate as it is: there is no one behind it to disclose.
//! 5. **Derived** statistics (a mean, a median over a count's records) become null with `c`
//!    when their count was suppressed: the mean of one child's waiting time is that child's.
//! 6. **Rounding.** Where the row's `round_to` is `Some(n)`, `n > 1`, every shown count (not suppressed, not
//!    exempt, not null) is rounded to the nearest multiple of `n`, halves up (n = 5: 7 → 5,
//!    8 → 10, 12 → 10, 13 → 15), so that differences between overlapping tables do not give
//!    small counts back. Rates and derived statistics are not recomputed: they were computed
//!    from the unrounded counts upstream and stay so. Changed cells are counted in
//!    `counts_rounded`.
//! 7. **Status columns.** Every protected column (counts, rates, derived) has a nullable Utf8
//!    `<column>_status` in the output. An existing one (e.g. a statistic imported from the DfE
//!    with `x` or `z`) keeps its values, overwritten with `c` only where this function
//!    suppressed; a missing one is appended after the input's columns, null where nothing was
//!    suppressed. All other columns pass through unchanged and in order; protected columns
//!    and their status columns are nullable in the output schema, since cells become null.
//!
//! Any declared column that is missing or of the wrong type is an error naming the table and
//! the column, found before anything is computed (see [`SuppressError`]).
//!
//! # Limitations
//!
//! - A partition group of one row has no sibling to suppress alongside its hidden cell; if its
//!   total is shown elsewhere, that total gives the cell back. Declare partitions whose groups
//!   have several rows, or with their `total` column, or suppress the total where it is
//!   published.
//! - Only linear relations are solved: bounds a reader gets from counts being at least 0
//!   (interval disclosure) are not.
//! - Relations between tables are seen only where declared `shared` (the same count in a
//!   table suppressed earlier in the run); areas that overlap without nesting (a district
//!   split between two localities) are not seen.
//! - Only relations within this one batch are seen: a total published in another table (or a
//!   sum over a partition group that is itself a row of this table but not declared as an
//!   additive relation) is not protected here.
//! - A null count in the input is treated as a shown cell that cannot be chosen. If it really
//!   hides a value, this can only suppress more than necessary, never less.
//! - The choice of secondary cells follows the simple rules above, not an optimisation over
//!   all relations, so it may suppress more cells than a minimal solution would.
//! - Every additive `total` and `part` must be a declared count, because it may have to be
//!   suppressed and only counts have the status column to say so; a rate's numerator or
//!   denominator and a derived statistic's count need not be (a population figure is public),
//!   but then they are never suppressed themselves.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::ArrowError;
use sendlake_schema::{SuppressionDef, SuppressionPolicy};

pub use crate::error::SuppressError;

/// The EES symbol for a cell suppressed to protect individuals.
const CONFIDENTIAL: &str = "c";

/// What [`suppress`] did, for the run report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SuppressionStats {
    /// Count cells from 1 to `suppress_max`.
    pub cells_primary: u64,
    /// Count cells suppressed so that no relation has a single hidden cell.
    pub cells_secondary: u64,
    /// Rate cells suppressed (with a count, or for a small denominator).
    pub rates_suppressed: u64,
    /// Derived statistics suppressed with their count.
    pub derived_suppressed: u64,
    /// Rows left as they are because they are exempt.
    pub rows_exempt: u64,
    /// Shown counts changed by rounding.
    pub counts_rounded: u64,
}

/// Applies the suppression declared by `def`, with the thresholds of `policy`, to the whole of
/// a published table (`table` names it in errors). See the module documentation for the rules.
///
/// # Errors
///
/// [`SuppressError`] when a declared column is missing or of the wrong type, a column is
/// declared twice, or an additive column is not a declared count; nothing is suppressed then.
pub fn suppress(
    table: &str,
    batch: &RecordBatch,
    def: &SuppressionDef,
    policy: &SuppressionPolicy,
) -> Result<(RecordBatch, SuppressionStats), SuppressError> {
    suppress_related(table, batch, def, policy, &Related::default())
}

/// What a table's suppression needs from outside its own batch.
#[derive(Debug, Default, Clone)]
pub struct Related {
    /// Which area lies in which, for rollups declared `nested`.
    pub areas: AreaTree,
    /// Published tables already suppressed this run, by name, for counts declared `shared`
    /// with them.
    pub published: std::collections::HashMap<String, RecordBatch>,
}

/// [`suppress`] for a table whose declaration reaches outside its batch: rollups that nest
/// areas in each other (`nested`, placed by `related.areas`), counts shared with a table
/// suppressed before it (`shared`, read from `related.published`).
///
/// # Errors
///
/// As [`suppress`]; also [`SuppressError::UnplacedArea`] when a part of a nested rollup names
/// an area the geography does not place, and [`SuppressError::SharedMissing`] when the table
/// a count is shared with is not in `related.published`.
pub fn suppress_related(
    table: &str,
    batch: &RecordBatch,
    def: &SuppressionDef,
    policy: &SuppressionPolicy,
    related: &Related,
) -> Result<(RecordBatch, SuppressionStats), SuppressError> {
    let input = Input::read(table, batch, def, policy, related)?;
    let mut stats = SuppressionStats {
        rows_exempt: input.exempt.iter().filter(|&&e| e).count() as u64,
        ..SuppressionStats::default()
    };
    let mut grid = Grid::new(&input);
    grid.primary(&input, &mut stats);
    grid.secondary(&input, &mut stats);
    // Rule 3b: relations solved together; each round hides at least one more cell, so it ends.
    loop {
        let more = audit::repair(&input, &mut grid);
        if more == 0 {
            break;
        }
        stats.cells_secondary += more;
        grid.secondary(&input, &mut stats);
    }

    let rate_masks: Vec<Vec<bool>> = input
        .rates
        .iter()
        .map(|rate| {
            let cells = batch.column(rate.position);
            let mask = rate_mask(rate, cells, &grid, &input);
            stats.rates_suppressed += mask.iter().filter(|&&m| m).count() as u64;
            mask
        })
        .collect();
    let derived_masks: Vec<Vec<bool>> = input
        .derived
        .iter()
        .map(|derived| {
            let mask = derived_mask(
                derived,
                batch.column(derived.position),
                &grid,
                &input.exempt,
            );
            stats.derived_suppressed += mask.iter().filter(|&&m| m).count() as u64;
            mask
        })
        .collect();

    grid.round(&input, &mut stats);

    let output = input
        .assemble(batch, &grid, &rate_masks, &derived_masks)
        .map_err(|source| SuppressError::Arrow {
            table: table.to_owned(),
            source,
        })?;
    Ok((output, stats))
}

/// A relation that may need a second suppressed cell. The derived order (additive before
/// partitions, then by rule, row or group, column) is the order of a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Relation {
    /// `{total} ∪ parts` of additive rule `rule` in row `row`.
    Additive { rule: usize, row: usize },
    /// Count column `column` over group `group` of partition rule `rule`.
    Partition {
        rule: usize,
        group: usize,
        column: usize,
    },
    /// Group `group` of repeated rule `rule`: one value in several rows.
    Repeated { rule: usize, group: usize },
    /// Count column `column` over group `group` (parts and total row) of rollup rule `rule`.
    Rollup {
        rule: usize,
        group: usize,
        column: usize,
    },
}

/// The count cells, `[column][row]`, and which of them this function suppressed.
struct Grid {
    values: Vec<Vec<Option<i64>>>,
    suppressed: Vec<Vec<bool>>,
    /// Rows published as they are: their cells are shown and can never be chosen.
    exempt: Vec<bool>,
    /// Cells another table shows (`shared`): never chosen here.
    shown_elsewhere: Vec<Vec<bool>>,
}

impl Grid {
    fn new(input: &Input) -> Self {
        Self {
            values: input.counts.iter().map(|c| c.values.clone()).collect(),
            suppressed: input
                .counts
                .iter()
                .map(|c| vec![false; c.values.len()])
                .collect(),
            exempt: input.exempt.clone(),
            shown_elsewhere: input.shown_elsewhere.clone(),
        }
    }

    /// Rule 2: counts from 1 to the row's `suppress_max`.
    fn primary(&mut self, input: &Input, stats: &mut SuppressionStats) {
        for (values, suppressed) in self.values.iter().zip(&mut self.suppressed) {
            for (row, value) in values.iter().enumerate() {
                let max = input.thresholds[row].suppress_max;
                if !input.exempt[row] && value.is_some_and(|v| (1..=max).contains(&v)) {
                    suppressed[row] = true;
                    stats.cells_primary += 1;
                }
            }
        }
        // What another table hides, this one hides too (counted as secondary: it was chosen
        // to protect a relation there).
        for &(column, row) in &input.hidden_elsewhere {
            if !self.suppressed[column][row] {
                self.suppressed[column][row] = true;
                stats.cells_secondary += 1;
            }
        }
    }

    /// Whether a cell can be chosen for secondary suppression: shown, known and not exempt.
    fn available(&self, column: usize, row: usize) -> Option<i64> {
        if self.suppressed[column][row] || self.exempt[row] || self.shown_elsewhere[column][row] {
            None
        } else {
            self.values[column][row]
        }
    }

    /// Rule 3: passes over the relations until none has exactly one suppressed cell that a
    /// second one could hide.
    ///
    /// Work list instead of full passes: a relation is looked at again only after one of its
    /// cells was suppressed. One that comes later in the current pass is looked at in this
    /// pass, one that came earlier in the next, which is exactly what full passes would do
    /// (a relation whose cells did not change cannot change its answer).
    fn secondary(&mut self, input: &Input, stats: &mut SuppressionStats) {
        let rows = input.exempt.len();
        // Which additive rules each count column takes part in.
        let mut additive_of: Vec<Vec<usize>> = vec![Vec::new(); self.values.len()];
        for (rule, relation) in input.additive.iter().enumerate() {
            for &column in std::iter::once(&relation.total).chain(&relation.parts) {
                additive_of[column].push(rule);
            }
        }

        let mut current = BTreeSet::new();
        for rule in 0..input.additive.len() {
            for row in (0..rows).filter(|&row| !input.exempt[row]) {
                current.insert(Relation::Additive { rule, row });
            }
        }
        for (rule, partition) in input.partitions.iter().enumerate() {
            for (group, members) in partition.groups.iter().enumerate() {
                // A lone row has no sibling to hide with it (see Limitations); with its total
                // in the table, the two are one relation.
                if members.len() > 1 || partition.total.is_some() {
                    for &column in &partition.columns {
                        current.insert(Relation::Partition {
                            rule,
                            group,
                            column,
                        });
                    }
                }
            }
        }
        for (rule, repeated) in input.repeated.iter().enumerate() {
            for group in 0..repeated.groups.len() {
                current.insert(Relation::Repeated { rule, group });
            }
        }
        for (rule, rollup) in input.rollups.iter().enumerate() {
            for group in 0..rollup.groups.len() {
                for &column in &rollup.columns {
                    current.insert(Relation::Rollup {
                        rule,
                        group,
                        column,
                    });
                }
            }
        }

        let mut next = BTreeSet::new();
        while !current.is_empty() {
            while let Some(relation) = current.pop_first() {
                let Some((column, row)) = self.second_cell(input, relation) else {
                    continue;
                };
                self.suppressed[column][row] = true;
                stats.cells_secondary += 1;
                let additive = additive_of[column]
                    .iter()
                    .map(|&rule| Relation::Additive { rule, row });
                let partitions =
                    input
                        .partitions
                        .iter()
                        .enumerate()
                        .filter_map(|(rule, partition)| {
                            let group = partition.group_of[row]?;
                            let members = &partition.groups[group];
                            // A hidden total reopens every column that adds up to it.
                            let column = if partition.columns.contains(&column) {
                                column
                            } else if partition.total == Some(column)
                                && members.first() == Some(&row)
                            {
                                *partition.columns.first()?
                            } else {
                                return None;
                            };
                            (members.len() > 1 || partition.total.is_some()).then_some(
                                Relation::Partition {
                                    rule,
                                    group,
                                    column,
                                },
                            )
                        });
                let rollups = input
                    .rollups
                    .iter()
                    .enumerate()
                    .filter(|(_, rollup)| rollup.columns.contains(&column))
                    .flat_map(|(rule, rollup)| {
                        rollup.groups_of[row]
                            .iter()
                            .map(move |&group| Relation::Rollup {
                                rule,
                                group,
                                column,
                            })
                    });
                let repeated = input
                    .repeated
                    .iter()
                    .enumerate()
                    .filter_map(|(rule, repeated)| {
                        (repeated.column == column).then_some(Relation::Repeated {
                            rule,
                            group: repeated.group_of[row]?,
                        })
                    });
                if matches!(relation, Relation::Repeated { .. }) {
                    // Unlike the others, it hides one copy at a time until none shows.
                    current.insert(relation);
                }
                for touched in additive.chain(partitions).chain(repeated).chain(rollups) {
                    if touched > relation {
                        current.insert(touched);
                    } else if touched < relation {
                        next.insert(touched);
                    }
                    // The relation itself now has two hidden cells; it needs another look only
                    // if one of its other cells changes, which re-queues it then.
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
    }

    /// The cell to suppress so that `relation` does not have exactly one hidden cell, if it
    /// has exactly one and a cell is available.
    fn second_cell(&self, input: &Input, relation: Relation) -> Option<(usize, usize)> {
        match relation {
            Relation::Additive { rule, row } => {
                let rule = input.additive.get(rule)?;
                // A small unpublished remainder is a hidden cell the reader must not get
                // by subtraction; a larger one is taken as known (it could be guessed).
                let max = input.thresholds[row].suppress_max;
                let remainder = rule.remainder[row].is_some_and(|v| (1..=max).contains(&v));
                let hidden = std::iter::once(&rule.total)
                    .chain(&rule.parts)
                    .filter(|&&column| self.suppressed[column][row])
                    .count()
                    + usize::from(remainder);
                if hidden != 1 {
                    return None;
                }
                // Parts before the total: the total is the row's most useful figure.
                let part = smallest(
                    rule.parts
                        .iter()
                        .filter_map(|&column| Some((column, self.available(column, row)?))),
                );
                part.or_else(|| self.available(rule.total, row).map(|_| rule.total))
                    .map(|column| (column, row))
            }
            Relation::Partition {
                rule,
                group,
                column,
            } => {
                let partition = input.partitions.get(rule)?;
                let members = partition.groups.get(group)?;
                // The group's total: a copy in its first row (the repeated relation keeps
                // the copies alike).
                let total = partition.total.zip(members.first().copied());
                let hidden = members
                    .iter()
                    .filter(|&&row| self.suppressed[column][row])
                    .count()
                    + usize::from(total.is_some_and(|(c, r)| self.suppressed[c][r]));
                if hidden != 1 {
                    return None;
                }
                smallest(
                    members
                        .iter()
                        .filter_map(|&row| Some((row, self.available(column, row)?))),
                )
                .map(|row| (column, row))
                .or_else(|| total.filter(|&(c, r)| self.available(c, r).is_some()))
            }
            Relation::Repeated { rule, group } => {
                // One hidden copy hides them all: the others would show its value.
                let rule = input.repeated.get(rule)?;
                let members = rule.groups.get(group)?;
                members
                    .iter()
                    .any(|&row| self.suppressed[rule.column][row])
                    .then(|| {
                        members
                            .iter()
                            .find(|&&row| self.available(rule.column, row).is_some())
                    })
                    .flatten()
                    .map(|&row| (rule.column, row))
            }
            Relation::Rollup {
                rule,
                group,
                column,
            } => {
                let group = input.rollups.get(rule)?.groups.get(group)?;
                let members = || group.parts.iter().chain(&group.total);
                // The remainder is judged by the strictest threshold among the rows it is
                // the difference of; with all of them exempt there is nothing to protect.
                let max = members()
                    .filter(|&&row| !input.exempt[row])
                    .map(|&row| input.thresholds[row].suppress_max)
                    .max()?;
                let remainder = group
                    .remainder
                    .get(column)
                    .copied()
                    .flatten()
                    .is_some_and(|v| (1..=max).contains(&v));
                let hidden = members()
                    .filter(|&&row| self.suppressed[column][row])
                    .count()
                    + usize::from(remainder);
                if hidden != 1 {
                    return None;
                }
                // Parts before the total, as for an additive relation.
                smallest(
                    group
                        .parts
                        .iter()
                        .filter_map(|&row| Some((row, self.available(column, row)?))),
                )
                .or_else(|| group.total.filter(|&t| self.available(column, t).is_some()))
                .map(|row| (column, row))
            }
        }
    }

    /// Rule 6: shown counts to the nearest multiple of the row's `round_to`, halves up.
    fn round(&mut self, input: &Input, stats: &mut SuppressionStats) {
        for (values, suppressed) in self.values.iter_mut().zip(&self.suppressed) {
            for (row, value) in values.iter_mut().enumerate() {
                let Some(n) = input.thresholds[row].round_to.filter(|&n| n > 1) else {
                    continue;
                };
                if input.exempt[row] || suppressed[row] {
                    continue;
                }
                if let Some(v) = value {
                    let rounded = round_half_up(*v, n);
                    if rounded != *v {
                        *v = rounded;
                        stats.counts_rounded += 1;
                    }
                }
            }
        }
    }
}

/// The candidate to suppress next: the smallest value above 0, else the smallest (a 0), ties
/// to the first offered. `min_by_key` keeps the first of equal minima.
fn smallest(candidates: impl Iterator<Item = (usize, i64)>) -> Option<usize> {
    candidates
        .min_by_key(|&(_, value)| (value <= 0, value))
        .map(|(id, _)| id)
}

/// `v` to the nearest multiple of `n` (> 1), halves up: with n = 5, 7 → 5, 8 → 10; with
/// n = 10, 15 → 20. Euclidean remainder so negative values (not expected in counts) round the
/// same way; a result that would overflow stays at the multiple below.
fn round_half_up(v: i64, n: i64) -> i64 {
    let down = v - v.rem_euclid(n);
    if 2 * v.rem_euclid(n) >= n {
        down.checked_add(n).unwrap_or(down)
    } else {
        down
    }
}

/// Rule 4: which rate cells to suppress.
fn rate_mask(rate: &Statistic, cells: &ArrayRef, grid: &Grid, input: &Input) -> Vec<bool> {
    let small = |row: usize| {
        let min = input.thresholds[row].min_rate_denominator;
        rate.denominator
            .as_ref()
            .and_then(|d| d[row])
            .is_some_and(|d| (1..min).contains(&d))
    };
    statistic_mask(rate, cells, grid, &input.exempt, small)
}

/// Rule 5: which derived cells to suppress.
fn derived_mask(stat: &Statistic, cells: &ArrayRef, grid: &Grid, exempt: &[bool]) -> Vec<bool> {
    statistic_mask(stat, cells, grid, exempt, |_| false)
}

/// Cells of a statistic to suppress: in a non-exempt row, shown (a null has nothing to hide
/// and keeps whatever status it has), and either depending on a suppressed count or
/// `also(row)`.
fn statistic_mask(
    stat: &Statistic,
    cells: &ArrayRef,
    grid: &Grid,
    exempt: &[bool],
    also: impl Fn(usize) -> bool,
) -> Vec<bool> {
    (0..exempt.len())
        .map(|row| {
            !exempt[row]
                && cells.is_valid(row)
                && (stat
                    .depends_on
                    .iter()
                    .flatten()
                    .any(|&column| grid.suppressed[column][row])
                    || also(row))
        })
        .collect()
}

/// A Float64 or Int64 statistic with its masked cells made null, values otherwise untouched.
fn null_where(array: &ArrayRef, mask: &[bool]) -> Result<ArrayRef, ArrowError> {
    fn masked<T: ArrowPrimitiveType>(
        array: &PrimitiveArray<T>,
        mask: &[bool],
    ) -> Result<ArrayRef, ArrowError> {
        let keep = NullBuffer::from(mask.iter().map(|&m| !m).collect::<Vec<bool>>());
        let nulls = NullBuffer::union(array.nulls(), Some(&keep));
        Ok(Arc::new(
            PrimitiveArray::<T>::try_new(array.values().clone(), nulls)?
                .with_data_type(array.data_type().clone()),
        ))
    }
    if let Some(array) = array.as_primitive_opt::<Float64Type>() {
        masked(array, mask)
    } else if let Some(array) = array.as_primitive_opt::<Int64Type>() {
        masked(array, mask)
    } else {
        Err(ArrowError::SchemaError(format!(
            "statistic column is {}, expected Float64 or Int64",
            array.data_type()
        )))
    }
}

mod areas;
mod audit;
mod read;

pub use areas::AreaTree;

use read::{Input, Statistic};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod relation_tests;
