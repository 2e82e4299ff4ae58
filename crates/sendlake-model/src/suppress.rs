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
//! file ([`SuppressionPolicy`]), so one schema serves partners with different rules.
//!
//! # Rules, in the order they are applied
//!
//! 1. **Exempt rows.** A row whose `exempt.column` holds one of `exempt.values` (e.g. source
//!    `dfe_published`: figures the DfE has already published, so hiding them protects no one
//!    and would only make our tables disagree with theirs) is left exactly as it is and takes no
//!    part in any rule below: it is never suppressed, never chosen for secondary suppression,
//!    not a sibling in a partition and not rounded. Such rows are counted in `rows_exempt`.
//! 2. **Primary.** A count from 1 to `suppress_max` becomes null with `c`. Zero stays shown (the
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
//!    - *partitions* (rows agreeing on all `by` columns, nulls equal to nulls, are siblings of a
//!      total shown elsewhere): for each count column separately, if exactly one sibling cell
//!      is suppressed, one more is: the smallest value above 0 among the shown siblings, else
//!      the smallest (a 0), ties to the first in row order.
//!
//!    Secondary cells also become null with `c` and are counted in `cells_secondary`. The
//!    passes visit the additive relations (rule by rule, row by row) and then the partition
//!    groups (rule by rule, group by first appearance, count column by declaration), over and
//!    over; only relations whose cells changed since they were last looked at are looked at
//!    again, which gives the same result as full passes without their quadratic cost.
//! 4. **Rates.** A rate cell becomes null with `c` if its numerator or denominator cell was
//!    suppressed (the rate and the other count would give the hidden one back), or if the
//!    original denominator is from 1 to `min_rate_denominator - 1` (a percentage of a handful
//!    of children is itself a small-number disclosure). A denominator of 0 or null leaves the
//!    rate as it is: there is no one behind it to disclose.
//! 5. **Derived** statistics (a mean, a median over a count's records) become null with `c`
//!    when their count was suppressed: the mean of one child's waiting time is that child's.
//! 6. **Rounding.** With `round_to = Some(n)`, `n > 1`, every shown count (not suppressed, not
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
//!   have several rows, or suppress the total where it is published.
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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, Int64Array, PrimitiveArray, RecordBatch,
    RecordBatchOptions, StringArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Schema};
use sendlake_schema::{SuppressionDef, SuppressionPolicy};

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

/// A declaration that does not fit the batch, naming the table and the column.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    /// A column named by the declaration is not in the batch.
    #[error("{table}: suppression column `{column}` is missing")]
    MissingColumn {
        /// The table being suppressed.
        table: String,
        /// The missing column.
        column: String,
    },
    /// A column named by the declaration has a type the rule cannot work with.
    #[error("{table}: suppression column `{column}` is {found}, expected {expected}")]
    WrongType {
        /// The table being suppressed.
        table: String,
        /// The column.
        column: String,
        /// Its type in the batch.
        found: DataType,
        /// The types the rule accepts.
        expected: &'static str,
    },
    /// A column is declared twice among counts, rates and derived: its cells and its status
    /// column would be written by two rules.
    #[error(
        "{table}: suppression column `{column}` is declared more than once among counts, rates and derived"
    )]
    Duplicate {
        /// The table being suppressed.
        table: String,
        /// The column.
        column: String,
    },
    /// An additive total or part is not a declared count, so it could not be suppressed (it
    /// has no status column) when its relation needs a second hidden cell.
    #[error(
        "{table}: suppression column `{column}` is in an additive relation but not among the counts"
    )]
    AdditiveNotCount {
        /// The table being suppressed.
        table: String,
        /// The column.
        column: String,
    },
    /// Arrow refused the output batch (a bug here rather than in the data).
    #[error("{table}: building the suppressed batch: {source}")]
    Arrow {
        /// The table being suppressed.
        table: String,
        /// Arrow's error.
        #[source]
        source: ArrowError,
    },
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
    let input = Input::read(table, batch, def)?;
    let mut stats = SuppressionStats {
        rows_exempt: input.exempt.iter().filter(|&&e| e).count() as u64,
        ..SuppressionStats::default()
    };
    let mut grid = Grid::new(&input.counts);
    grid.primary(&input.exempt, policy.suppress_max, &mut stats);
    grid.secondary(&input, &mut stats);

    let rate_masks: Vec<Vec<bool>> = input
        .rates
        .iter()
        .map(|rate| {
            let cells = batch.column(rate.position);
            let mask = rate_mask(
                rate,
                cells,
                &grid,
                &input.exempt,
                policy.min_rate_denominator,
            );
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

    if let Some(n) = policy.round_to.filter(|&n| n > 1) {
        grid.round(&input.exempt, n, &mut stats);
    }

    let output = input
        .assemble(batch, &grid, &rate_masks, &derived_masks)
        .map_err(|source| SuppressError::Arrow {
            table: table.to_owned(),
            source,
        })?;
    Ok((output, stats))
}

/// A count column as read from the batch.
struct CountColumn {
    /// Its position in the batch.
    position: usize,
    values: Vec<Option<i64>>,
}

/// A rate or derived statistic: the column and the counts it depends on.
struct Statistic {
    /// Position of the statistic column in the batch.
    position: usize,
    /// Index into the counts of the count whose suppression suppresses this one, per role
    /// (numerator and denominator for a rate, the count for a derived statistic); `None`
    /// when that column is not a declared count and so is never suppressed.
    depends_on: Vec<Option<usize>>,
    /// The original denominator (rates only), for the small-denominator rule.
    denominator: Option<Vec<Option<i64>>>,
}

/// One additive relation, as indices into the counts.
struct Additive {
    total: usize,
    /// Parts in declaration order, without duplicates or the total.
    parts: Vec<usize>,
}

/// One partition: its groups of sibling rows (exempt rows are in none).
struct Partition {
    /// Rows of each group, groups in order of first appearance, rows in row order.
    groups: Vec<Vec<usize>>,
    /// The group of each row.
    group_of: Vec<Option<usize>>,
}

/// A protected column's status companion.
struct Status {
    /// Name of the protected column it belongs to.
    name: String,
    /// Position of an existing status column in the batch; `None` means it is appended.
    position: Option<usize>,
}

/// Everything the rules need, read and checked before any cell is touched, so a declaration
/// that does not fit the batch fails without a half-suppressed result.
struct Input {
    counts: Vec<CountColumn>,
    rates: Vec<Statistic>,
    derived: Vec<Statistic>,
    additive: Vec<Additive>,
    partitions: Vec<Partition>,
    exempt: Vec<bool>,
    /// Status companions in `protected_columns` order: counts, rates, derived.
    statuses: Vec<Status>,
}

impl Input {
    fn read(table: &str, batch: &RecordBatch, def: &SuppressionDef) -> Result<Self, SuppressError> {
        let mut seen = HashSet::new();
        for name in def.protected_columns() {
            if !seen.insert(name) {
                return Err(SuppressError::Duplicate {
                    table: table.to_owned(),
                    column: name.to_owned(),
                });
            }
        }

        let mut counts = Vec::with_capacity(def.counts.len());
        let mut count_index = HashMap::new();
        for name in &def.counts {
            let (position, values) = read_int64(table, batch, name)?;
            count_index.insert(name.as_str(), counts.len());
            counts.push(CountColumn { position, values });
        }

        let mut rates = Vec::with_capacity(def.rates.len());
        for rate in &def.rates {
            let position = statistic_position(table, batch, &rate.column)?;
            read_int64(table, batch, &rate.numerator)?;
            let (_, denominator) = read_int64(table, batch, &rate.denominator)?;
            rates.push(Statistic {
                position,
                depends_on: vec![
                    count_index.get(rate.numerator.as_str()).copied(),
                    count_index.get(rate.denominator.as_str()).copied(),
                ],
                denominator: Some(denominator),
            });
        }

        let mut derived = Vec::with_capacity(def.derived.len());
        for stat in &def.derived {
            let position = statistic_position(table, batch, &stat.column)?;
            read_int64(table, batch, &stat.count)?;
            derived.push(Statistic {
                position,
                depends_on: vec![count_index.get(stat.count.as_str()).copied()],
                denominator: None,
            });
        }

        let mut additive = Vec::with_capacity(def.additive.len());
        for relation in &def.additive {
            let index = |name: &str| -> Result<usize, SuppressError> {
                // Type and presence first, so the error says what is wrong with the column.
                read_int64(table, batch, name)?;
                count_index
                    .get(name)
                    .copied()
                    .ok_or_else(|| SuppressError::AdditiveNotCount {
                        table: table.to_owned(),
                        column: name.to_owned(),
                    })
            };
            let total = index(&relation.total)?;
            let mut parts = Vec::with_capacity(relation.parts.len());
            for part in &relation.parts {
                let part = index(part)?;
                // A repeated cell is one unknown, not two: counting it twice would make a
                // relation look protected when it is not.
                if part != total && !parts.contains(&part) {
                    parts.push(part);
                }
            }
            additive.push(Additive { total, parts });
        }

        let exempt = match &def.exempt {
            None => vec![false; batch.num_rows()],
            Some(exempt) => {
                let (_, array) = column(table, batch, &exempt.column)?;
                let values: HashSet<&str> = exempt.values.iter().map(String::as_str).collect();
                let text = strings(array).ok_or_else(|| SuppressError::WrongType {
                    table: table.to_owned(),
                    column: exempt.column.clone(),
                    found: array.data_type().clone(),
                    expected: "Utf8, LargeUtf8 or Utf8View",
                })?;
                text.into_iter()
                    .map(|v| v.is_some_and(|v| values.contains(v)))
                    .collect()
            }
        };

        let mut partitions = Vec::with_capacity(def.partitions.len());
        for partition in &def.partitions {
            let mut keys: Vec<Vec<KeyPart>> = vec![Vec::new(); batch.num_rows()];
            for name in &partition.by {
                let (_, array) = column(table, batch, name)?;
                let parts = key_parts(array).ok_or_else(|| SuppressError::WrongType {
                    table: table.to_owned(),
                    column: name.clone(),
                    found: array.data_type().clone(),
                    expected: "Utf8, LargeUtf8, Utf8View, an integer, Date32, Date64 or Boolean",
                })?;
                for (key, part) in keys.iter_mut().zip(parts) {
                    key.push(part);
                }
            }
            let mut groups: Vec<Vec<usize>> = Vec::new();
            let mut group_of = vec![None; batch.num_rows()];
            let mut by_key: HashMap<Vec<KeyPart>, usize> = HashMap::new();
            for (row, key) in keys.into_iter().enumerate() {
                if exempt[row] {
                    continue;
                }
                let group = *by_key.entry(key).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                if let Some(rows) = groups.get_mut(group) {
                    rows.push(row);
                }
                group_of[row] = Some(group);
            }
            partitions.push(Partition { groups, group_of });
        }

        let mut statuses = Vec::new();
        for name in def.protected_columns() {
            let status = format!("{name}_status");
            let position = match batch.schema().index_of(&status) {
                Err(_) => None,
                Ok(position) => {
                    let found = batch.column(position).data_type();
                    if *found != DataType::Utf8 {
                        return Err(SuppressError::WrongType {
                            table: table.to_owned(),
                            column: status,
                            found: found.clone(),
                            expected: "Utf8",
                        });
                    }
                    Some(position)
                }
            };
            statuses.push(Status {
                name: name.to_owned(),
                position,
            });
        }

        Ok(Self {
            counts,
            rates,
            derived,
            additive,
            partitions,
            exempt,
            statuses,
        })
    }

    /// The output batch: protected columns and their status columns rebuilt, the rest passed
    /// through, missing status columns appended.
    fn assemble(
        &self,
        batch: &RecordBatch,
        grid: &Grid,
        rate_masks: &[Vec<bool>],
        derived_masks: &[Vec<bool>],
    ) -> Result<RecordBatch, ArrowError> {
        let schema = batch.schema();
        let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let mut masks: Vec<&[bool]> = Vec::with_capacity(self.statuses.len());

        for (col, count) in self.counts.iter().enumerate() {
            let values = grid.values[col]
                .iter()
                .zip(&grid.suppressed[col])
                .map(|(&v, &s)| if s { None } else { v });
            replace(
                &mut fields,
                &mut columns,
                count.position,
                Arc::new(Int64Array::from_iter(values)),
            );
            masks.push(&grid.suppressed[col]);
        }
        for (stat, mask) in self
            .rates
            .iter()
            .zip(rate_masks)
            .chain(self.derived.iter().zip(derived_masks))
        {
            let array = null_where(batch.column(stat.position), mask)?;
            replace(&mut fields, &mut columns, stat.position, array);
            masks.push(mask);
        }

        for (status, mask) in self.statuses.iter().zip(masks) {
            match status.position {
                Some(position) => {
                    let existing =
                        batch
                            .column(position)
                            .as_string_opt::<i32>()
                            .ok_or_else(|| {
                                ArrowError::SchemaError(format!(
                                    "`{}_status` is not Utf8",
                                    status.name
                                ))
                            })?;
                    let values = existing
                        .iter()
                        .zip(mask)
                        .map(|(v, &s)| if s { Some(CONFIDENTIAL) } else { v });
                    replace(
                        &mut fields,
                        &mut columns,
                        position,
                        Arc::new(StringArray::from_iter(values)),
                    );
                }
                None => {
                    let values = mask.iter().map(|&s| s.then_some(CONFIDENTIAL));
                    fields.push(Arc::new(Field::new(
                        format!("{}_status", status.name),
                        DataType::Utf8,
                        true,
                    )));
                    columns.push(Arc::new(StringArray::from_iter(values)));
                }
            }
        }

        let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
        // The row count is given explicitly so a declaration with nothing to protect on a
        // batch with no columns still yields a valid (empty-schema) batch.
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        RecordBatch::try_new_with_options(Arc::new(schema), columns, &options)
    }
}

/// Swaps in a rebuilt column, its field made nullable (cells may now be null) but otherwise
/// kept, metadata included.
fn replace(fields: &mut [FieldRef], columns: &mut [ArrayRef], position: usize, array: ArrayRef) {
    if let (Some(field), Some(column)) = (fields.get_mut(position), columns.get_mut(position)) {
        *field = Arc::new(field.as_ref().clone().with_nullable(true));
        *column = array;
    }
}

/// The column named `name`, or the error naming it.
fn column<'b>(
    table: &str,
    batch: &'b RecordBatch,
    name: &str,
) -> Result<(usize, &'b ArrayRef), SuppressError> {
    let position = batch
        .schema()
        .index_of(name)
        .map_err(|_| SuppressError::MissingColumn {
            table: table.to_owned(),
            column: name.to_owned(),
        })?;
    Ok((position, batch.column(position)))
}

/// An Int64 column's values.
fn read_int64(
    table: &str,
    batch: &RecordBatch,
    name: &str,
) -> Result<(usize, Vec<Option<i64>>), SuppressError> {
    let (position, array) = column(table, batch, name)?;
    let values = array
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| SuppressError::WrongType {
            table: table.to_owned(),
            column: name.to_owned(),
            found: array.data_type().clone(),
            expected: "Int64",
        })?;
    Ok((position, values.iter().collect()))
}

/// Position of a rate or derived column, which may be Float64 (a proportion, a mean) or Int64
/// (a whole-number percentage, a median of days).
fn statistic_position(
    table: &str,
    batch: &RecordBatch,
    name: &str,
) -> Result<usize, SuppressError> {
    let (position, array) = column(table, batch, name)?;
    match array.data_type() {
        DataType::Float64 | DataType::Int64 => Ok(position),
        found => Err(SuppressError::WrongType {
            table: table.to_owned(),
            column: name.to_owned(),
            found: found.clone(),
            expected: "Float64 or Int64",
        }),
    }
}

/// A text column's values, whichever of Arrow's three string layouts it uses.
fn strings(array: &ArrayRef) -> Option<Vec<Option<&str>>> {
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string_opt::<i32>()?.iter().collect()),
        DataType::LargeUtf8 => Some(array.as_string_opt::<i64>()?.iter().collect()),
        DataType::Utf8View => Some(array.as_string_view_opt()?.iter().collect()),
        _ => None,
    }
}

/// One grouping column's value in a partition key. Typed rather than formatted, so that e.g.
/// the text "1" and the number 1 in different columns cannot be confused and no formatting
/// options matter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyPart {
    /// Nulls group with nulls: rows with an unknown district are still siblings of each other.
    Null,
    Text(String),
    Int(i64),
    UInt(u64),
    Bool(bool),
}

/// A grouping column's key parts, or `None` for a type that cannot be a grouping key.
fn key_parts(array: &ArrayRef) -> Option<Vec<KeyPart>> {
    fn ints<T: ArrowPrimitiveType>(
        array: &ArrayRef,
        f: fn(T::Native) -> KeyPart,
    ) -> Option<Vec<KeyPart>> {
        let values = array.as_primitive_opt::<T>()?;
        Some(values.iter().map(|v| v.map_or(KeyPart::Null, f)).collect())
    }
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(
            strings(array)?
                .into_iter()
                .map(|v| v.map_or(KeyPart::Null, |v| KeyPart::Text(v.to_owned())))
                .collect(),
        ),
        DataType::Int8 => ints::<Int8Type>(array, |v| KeyPart::Int(v.into())),
        DataType::Int16 => ints::<Int16Type>(array, |v| KeyPart::Int(v.into())),
        DataType::Int32 => ints::<Int32Type>(array, |v| KeyPart::Int(v.into())),
        DataType::Int64 => ints::<Int64Type>(array, KeyPart::Int),
        DataType::UInt8 => ints::<UInt8Type>(array, |v| KeyPart::UInt(v.into())),
        DataType::UInt16 => ints::<UInt16Type>(array, |v| KeyPart::UInt(v.into())),
        DataType::UInt32 => ints::<UInt32Type>(array, |v| KeyPart::UInt(v.into())),
        DataType::UInt64 => ints::<UInt64Type>(array, KeyPart::UInt),
        DataType::Date32 => ints::<Date32Type>(array, |v| KeyPart::Int(v.into())),
        DataType::Date64 => ints::<Date64Type>(array, KeyPart::Int),
        DataType::Boolean => Some(
            array
                .as_boolean_opt()?
                .iter()
                .map(|v| v.map_or(KeyPart::Null, KeyPart::Bool))
                .collect(),
        ),
        _ => None,
    }
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
}

/// The count cells, `[column][row]`, and which of them this function suppressed.
struct Grid {
    values: Vec<Vec<Option<i64>>>,
    suppressed: Vec<Vec<bool>>,
}

impl Grid {
    fn new(counts: &[CountColumn]) -> Self {
        Self {
            values: counts.iter().map(|c| c.values.clone()).collect(),
            suppressed: counts.iter().map(|c| vec![false; c.values.len()]).collect(),
        }
    }

    /// Rule 2: counts from 1 to `max`.
    fn primary(&mut self, exempt: &[bool], max: i64, stats: &mut SuppressionStats) {
        for (values, suppressed) in self.values.iter().zip(&mut self.suppressed) {
            for (row, value) in values.iter().enumerate() {
                if !exempt[row] && value.is_some_and(|v| (1..=max).contains(&v)) {
                    suppressed[row] = true;
                    stats.cells_primary += 1;
                }
            }
        }
    }

    /// Whether a cell can be chosen for secondary suppression: shown and known.
    fn available(&self, column: usize, row: usize) -> Option<i64> {
        if self.suppressed[column][row] {
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
                // A lone row has no sibling to hide with it (see Limitations).
                if members.len() > 1 {
                    for column in 0..self.values.len() {
                        current.insert(Relation::Partition {
                            rule,
                            group,
                            column,
                        });
                    }
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
                            (partition.groups[group].len() > 1).then_some(Relation::Partition {
                                rule,
                                group,
                                column,
                            })
                        });
                for touched in additive.chain(partitions) {
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
                let hidden = std::iter::once(&rule.total)
                    .chain(&rule.parts)
                    .filter(|&&column| self.suppressed[column][row])
                    .count();
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
                let members = input.partitions.get(rule)?.groups.get(group)?;
                let hidden = members
                    .iter()
                    .filter(|&&row| self.suppressed[column][row])
                    .count();
                if hidden != 1 {
                    return None;
                }
                smallest(
                    members
                        .iter()
                        .filter_map(|&row| Some((row, self.available(column, row)?))),
                )
                .map(|row| (column, row))
            }
        }
    }

    /// Rule 6: shown counts to the nearest multiple of `n`, halves up.
    fn round(&mut self, exempt: &[bool], n: i64, stats: &mut SuppressionStats) {
        for (values, suppressed) in self.values.iter_mut().zip(&self.suppressed) {
            for (row, value) in values.iter_mut().enumerate() {
                if exempt[row] || suppressed[row] {
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
fn rate_mask(
    rate: &Statistic,
    cells: &ArrayRef,
    grid: &Grid,
    exempt: &[bool],
    min_denominator: i64,
) -> Vec<bool> {
    let small = |row: usize| {
        rate.denominator
            .as_ref()
            .and_then(|d| d[row])
            .is_some_and(|d| (1..min_denominator).contains(&d))
    };
    statistic_mask(rate, cells, grid, exempt, small)
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

#[cfg(test)]
mod tests;
