//! Reading a batch for [`suppress`](super::suppress): every declared column checked and read,
//! each row's policy, the relation instances (additive rows, partition and repeated groups,
//! rollup groups), and assembling the output; nothing here decides what to hide.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Schema};
use sendlake_schema::{
    RollupDef, RowPolicy, RowSelector, SharedDef, SuppressionDef, SuppressionPolicy, Thresholds,
};

use super::Related;
use super::areas::AreaTree;
use super::{CONFIDENTIAL, Grid, SuppressError, null_where};

/// A count column as read from the batch.
pub(super) struct CountColumn {
    /// Its position in the batch.
    pub(super) position: usize,
    pub(super) values: Vec<Option<i64>>,
}

/// A rate or derived statistic: the column and the counts it depends on.
pub(super) struct Statistic {
    /// Position of the statistic column in the batch.
    pub(super) position: usize,
    /// Index into the counts of the count whose suppression suppresses this one, per role
    /// (numerator and denominator for a rate, the count for a derived statistic); `None`
    /// when that column is not a declared count and so is never suppressed.
    pub(super) depends_on: Vec<Option<usize>>,
    /// The original denominator (rates only), for the small-denominator rule.
    pub(super) denominator: Option<Vec<Option<i64>>>,
}

/// One additive relation, as indices into the counts.
pub(super) struct Additive {
    pub(super) total: usize,
    /// Parts in declaration order, without duplicates or the total.
    pub(super) parts: Vec<usize>,
    /// The unpublished remainder `total − Σ parts` of each row, from the unsuppressed values
    /// (`None` where a cell is null or no remainder is declared).
    pub(super) remainder: Vec<Option<i64>>,
    /// Whether the relation declares a remainder.
    pub(super) declares_remainder: bool,
}

/// A count repeated in the rows of each group (exempt rows are in none).
pub(super) struct Repeated {
    pub(super) column: usize,
    pub(super) groups: Vec<Vec<usize>>,
    pub(super) group_of: Vec<Option<usize>>,
}

/// One rollup rule: its groups of part rows, each with its total row.
pub(super) struct Rollup {
    /// The count columns that add up.
    pub(super) columns: Vec<usize>,
    /// Whether the rule declares a remainder.
    pub(super) declares_remainder: bool,
    pub(super) groups: Vec<RollupGroup>,
    /// The groups each row is in (as a part or as the total; a total row totals one group
    /// per kind of part, e.g. its districts and its localities).
    pub(super) groups_of: Vec<Vec<usize>>,
}

/// Part rows adding up to a total row (exempt rows included: they are shown cells that cannot
/// be chosen).
pub(super) struct RollupGroup {
    pub(super) parts: Vec<usize>,
    /// `None` when the table has no total row for the group: the total is then taken to be
    /// shown elsewhere, as for a partition.
    pub(super) total: Option<usize>,
    /// Per count column: the unpublished remainder `total − Σ parts` where one is declared
    /// and every cell is known.
    pub(super) remainder: Vec<Option<i64>>,
}

/// One partition: its groups of sibling rows (exempt rows are in none).
pub(super) struct Partition {
    /// The count columns that add up over a group.
    pub(super) columns: Vec<usize>,
    /// The count column they add up to, repeated in each row of the group; `None`: shown
    /// elsewhere.
    pub(super) total: Option<usize>,
    /// Rows of each group, groups in order of first appearance, rows in row order.
    pub(super) groups: Vec<Vec<usize>>,
    /// The group of each row.
    pub(super) group_of: Vec<Option<usize>>,
}

/// A protected column's status companion.
pub(super) struct Status {
    /// Name of the protected column it belongs to.
    pub(super) name: String,
    /// Position of an existing status column in the batch; `None` means it is appended.
    pub(super) position: Option<usize>,
}

/// Everything the rules need, read and checked before any cell is touched, so a declaration
/// that does not fit the batch fails without a half-suppressed result.
pub(super) struct Input {
    pub(super) counts: Vec<CountColumn>,
    pub(super) rates: Vec<Statistic>,
    pub(super) derived: Vec<Statistic>,
    pub(super) additive: Vec<Additive>,
    pub(super) partitions: Vec<Partition>,
    pub(super) repeated: Vec<Repeated>,
    pub(super) rollups: Vec<Rollup>,
    /// Rows published as they are: exempt by the table or unsuppressed by a policy rule.
    pub(super) exempt: Vec<bool>,
    /// The thresholds of each row (those of an exempt row are never used).
    pub(super) thresholds: Vec<Thresholds>,
    /// Status companions in `protected_columns` order: counts, rates, derived.
    pub(super) statuses: Vec<Status>,
    /// Per count column and row: the same figure shows in the table it is `shared` with, so
    /// it cannot be chosen here.
    pub(super) shown_elsewhere: Vec<Vec<bool>>,
    /// (count column, row) of figures hidden in the table they are `shared` with.
    pub(super) hidden_elsewhere: Vec<(usize, usize)>,
}

/// What a table suppressed before this one, in a count this one shares: by the `by` key of
/// each of its rows, whether the figure is hidden there (null, with `c` beside it).
fn hidden_in(
    table: &str,
    shared: &SharedDef,
    related: &Related,
) -> Result<HashMap<Vec<KeyPart>, bool>, SuppressError> {
    let other =
        related
            .published
            .get(&shared.table)
            .ok_or_else(|| SuppressError::SharedMissing {
                table: table.to_owned(),
                column: shared.column.clone(),
                other: shared.table.clone(),
            })?;
    let status_name = format!("{}_status", shared.column);
    let (_, status) = column(&shared.table, other, &status_name)?;
    let status = text_values(&shared.table, &status_name, status)?;
    let keys = row_keys(&shared.table, other, &shared.by)?;
    Ok(keys
        .into_iter()
        .zip(status)
        .map(|(key, status)| (key, status == Some(CONFIDENTIAL)))
        .collect())
}

/// Each row's values of the `by` columns.
fn row_keys(
    table: &str,
    batch: &RecordBatch,
    by: &[String],
) -> Result<Vec<Vec<KeyPart>>, SuppressError> {
    let mut keys: Vec<Vec<KeyPart>> = vec![Vec::new(); batch.num_rows()];
    for name in by {
        for (key, part) in keys.iter_mut().zip(key_column(table, batch, name)?) {
            key.push(part);
        }
    }
    Ok(keys)
}

impl Input {
    pub(super) fn read(
        table: &str,
        batch: &RecordBatch,
        def: &SuppressionDef,
        policy: &SuppressionPolicy,
        related: &Related,
    ) -> Result<Self, SuppressError> {
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
            let remainder = if relation.remainder.is_some() {
                let cells: Vec<&[Option<i64>]> = std::iter::once(total)
                    .chain(parts.iter().copied())
                    .map(|c| counts[c].values.as_slice())
                    .collect();
                (0..batch.num_rows())
                    .map(|row| {
                        let mut rest = cells[0][row]?;
                        for part in &cells[1..] {
                            rest = rest.checked_sub(part[row]?)?;
                        }
                        Some(rest)
                    })
                    .collect()
            } else {
                vec![None; batch.num_rows()]
            };
            additive.push(Additive {
                total,
                parts,
                remainder,
                declares_remainder: relation.remainder.is_some(),
            });
        }

        let RowPolicies {
            mut exempt,
            thresholds,
            by_rule,
        } = row_policies(table, batch, def, policy)?;

        let mut rollups = Vec::with_capacity(def.rollups.len());
        for rule in &def.rollups {
            rollups.push(Rollup::read(
                table,
                batch,
                rule,
                &counts,
                &count_index,
                None,
            )?);
            // Each level of nested areas adds up to the level above, exactly.
            if rule.nested.is_some() {
                for pair in rule.parts.values.windows(2) {
                    let nest = Nest {
                        level: &pair[0],
                        above: &pair[1],
                        areas: &related.areas,
                    };
                    let rollup =
                        Rollup::read(table, batch, rule, &counts, &count_index, Some(nest))?;
                    rollups.push(rollup);
                }
            }
        }
        // A total a rule publishes as it is, over a single part with nothing else in it (a
        // year whose activity all falls in one month), would give that part away: it is
        // protected like any other row. Figures the table exempts are public already.
        for rollup in rollups.iter().filter(|r| !r.declares_remainder) {
            for group in rollup.groups.iter().filter(|g| g.parts.len() == 1) {
                if let Some(total) = group.total.filter(|&t| by_rule[t]) {
                    exempt[total] = false;
                }
            }
        }

        let mut partitions = Vec::with_capacity(def.partitions.len());
        for partition in &def.partitions {
            let (groups, group_of) = group_rows(table, batch, &partition.by, &exempt)?;
            let columns = relation_counts(
                table,
                partition.counts.as_deref(),
                &count_index,
                "partition",
            )?;
            let total = match &partition.total {
                None => None,
                Some(name) => Some(count_of(table, name, &count_index, "partition")?),
            };
            partitions.push(Partition {
                columns,
                total,
                groups,
                group_of,
            });
        }

        let mut repeated = Vec::with_capacity(def.repeated.len());
        for rule in &def.repeated {
            let column = count_of(table, &rule.column, &count_index, "repeated relation")?;
            let (groups, group_of) = group_rows(table, batch, &rule.by, &exempt)?;
            repeated.push(Repeated {
                column,
                groups,
                group_of,
            });
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

        let mut shown_elsewhere: Vec<Vec<bool>> = vec![vec![false; batch.num_rows()]; counts.len()];
        let mut hidden_elsewhere = Vec::new();
        for shared in &def.shared {
            let column = *count_index.get(shared.column.as_str()).ok_or_else(|| {
                SuppressError::RelationNotCount {
                    table: table.to_owned(),
                    column: shared.column.clone(),
                    relation: "shared count",
                }
            })?;
            let hidden = hidden_in(table, shared, related)?;
            for (row, key) in row_keys(table, batch, &shared.by)?.iter().enumerate() {
                match hidden.get(key) {
                    Some(true) => hidden_elsewhere.push((column, row)),
                    Some(false) => shown_elsewhere[column][row] = true,
                    None => {}
                }
            }
        }

        Ok(Self {
            counts,
            rates,
            derived,
            additive,
            partitions,
            repeated,
            rollups,
            exempt,
            thresholds,
            statuses,
            shown_elsewhere,
            hidden_elsewhere,
        })
    }

    /// The output batch: protected columns and their status columns rebuilt, the rest passed
    /// through, missing status columns appended.
    pub(super) fn assemble(
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

/// The index of a count a relation names, or the error naming it.
pub(super) fn count_of(
    table: &str,
    name: &str,
    count_index: &HashMap<&str, usize>,
    relation: &'static str,
) -> Result<usize, SuppressError> {
    count_index
        .get(name)
        .copied()
        .ok_or_else(|| SuppressError::RelationNotCount {
            table: table.to_owned(),
            column: name.to_owned(),
            relation,
        })
}

/// The counts a relation adds up: those it names, else every count.
pub(super) fn relation_counts(
    table: &str,
    names: Option<&[String]>,
    count_index: &HashMap<&str, usize>,
    relation: &'static str,
) -> Result<Vec<usize>, SuppressError> {
    match names {
        None => Ok((0..count_index.len()).collect()),
        Some(names) => names
            .iter()
            .map(|name| count_of(table, name, count_index, relation))
            .collect(),
    }
}

/// A text column's values, or the error naming it.
pub(super) fn text_values<'b>(
    table: &str,
    name: &str,
    array: &'b ArrayRef,
) -> Result<Vec<Option<&'b str>>, SuppressError> {
    strings(array).ok_or_else(|| SuppressError::WrongType {
        table: table.to_owned(),
        column: name.to_owned(),
        found: array.data_type().clone(),
        expected: "Utf8, LargeUtf8 or Utf8View",
    })
}

/// Which rows are published as they are, and the thresholds of each: the table's exemption
/// first (figures already published), then the policy's rules, first match wins.
pub(super) fn row_policies(
    table: &str,
    batch: &RecordBatch,
    def: &SuppressionDef,
    policy: &SuppressionPolicy,
) -> Result<RowPolicies, SuppressError> {
    let rows = batch.num_rows();
    let table_exempt: Vec<bool> = match &def.exempt {
        None => vec![false; rows],
        Some(exempt) => {
            let (_, array) = column(table, batch, &exempt.column)?;
            let values: HashSet<&str> = exempt.values.iter().map(String::as_str).collect();
            text_values(table, &exempt.column, array)?
                .into_iter()
                .map(|v| v.is_some_and(|v| values.contains(v)))
                .collect()
        }
    };
    // The columns the rules look at; one a table does not have selects none of its rows.
    let mut looked_at: HashMap<&str, Vec<Option<&str>>> = HashMap::new();
    for name in policy.rules.iter().flat_map(|rule| rule.when.keys()) {
        if looked_at.contains_key(name.as_str()) {
            continue;
        }
        if let Ok(position) = batch.schema().index_of(name) {
            let array = batch.column(position);
            // A flag (`period_complete`) is matched by its text, `true` or `false`.
            let values = match array.as_boolean_opt() {
                Some(flags) => flags
                    .iter()
                    .map(|f| f.map(|f| if f { "true" } else { "false" }))
                    .collect(),
                None => text_values(table, name, array)?,
            };
            looked_at.insert(name, values);
        }
    }
    let mut exempt = Vec::with_capacity(rows);
    let mut thresholds = Vec::with_capacity(rows);
    let mut by_rule = Vec::with_capacity(rows);
    for (row, &table_exempt) in table_exempt.iter().enumerate() {
        by_rule.push(false);
        let row_policy = if table_exempt {
            RowPolicy::AsIs
        } else {
            policy.for_row(|name| looked_at.get(name)?.get(row).copied().flatten())
        };
        match row_policy {
            RowPolicy::AsIs => {
                exempt.push(true);
                thresholds.push(policy.thresholds());
                if let Some(flag) = by_rule.last_mut() {
                    *flag = !table_exempt;
                }
            }
            RowPolicy::Protect(t) => {
                exempt.push(false);
                thresholds.push(t);
            }
        }
    }
    Ok(RowPolicies {
        exempt,
        thresholds,
        by_rule,
    })
}

/// Each row's policy, as [`row_policies`] reads it.
pub(super) struct RowPolicies {
    pub(super) exempt: Vec<bool>,
    pub(super) thresholds: Vec<Thresholds>,
    /// Exempt by a policy rule rather than by the table.
    pub(super) by_rule: Vec<bool>,
}

/// One level of a nested rollup: the rows of `level` add up to the row of the area at `above`
/// they lie in.
pub(super) struct Nest<'a> {
    pub(super) level: &'a str,
    pub(super) above: &'a str,
    pub(super) areas: &'a AreaTree,
}

impl Rollup {
    /// Groups the part rows by `by`, the year of `year_of` and their own selector value, and
    /// finds each group's total row. With `nest`, the parts are instead the rows of
    /// `nest.level`, grouped also by the area of `nest.above` they lie in, and the totals that
    /// area's rows; such a group has no remainder.
    pub(super) fn read(
        table: &str,
        batch: &RecordBatch,
        rule: &RollupDef,
        counts: &[CountColumn],
        count_index: &HashMap<&str, usize>,
        nest: Option<Nest<'_>>,
    ) -> Result<Self, SuppressError> {
        let rows = batch.num_rows();
        let columns = relation_counts(table, rule.counts.as_deref(), count_index, "rollup")?;
        // The columns that make a part distinct (an area), beside the group's key.
        let mut distinct: Vec<Vec<KeyPart>> = vec![Vec::new(); rows];
        for name in rule.distinct_by.iter().flatten() {
            for (key, part) in distinct.iter_mut().zip(key_column(table, batch, name)?) {
                key.push(part);
            }
        }
        let mut keys: Vec<Vec<KeyPart>> = vec![Vec::new(); rows];
        for name in &rule.by {
            for (key, part) in keys.iter_mut().zip(key_column(table, batch, name)?) {
                key.push(part);
            }
        }
        let mut month_of: Vec<Option<u32>> = vec![None; rows];
        if let Some(name) = &rule.year_of {
            let (_, array) = column(table, batch, name)?;
            let dates =
                array
                    .as_primitive_opt::<Date32Type>()
                    .ok_or_else(|| SuppressError::WrongType {
                        table: table.to_owned(),
                        column: name.clone(),
                        found: array.data_type().clone(),
                        expected: "Date32",
                    })?;
            for ((key, day), month) in keys.iter_mut().zip(dates.iter()).zip(&mut month_of) {
                let day = day.and_then(arrow_array::temporal_conversions::date32_to_datetime);
                let year = day.map(|d| chrono::Datelike::year(&d));
                *month = day.map(|d| chrono::Datelike::month(&d));
                key.push(year.map_or(KeyPart::Null, |y| KeyPart::Int(y.into())));
            }
        }
        let selected = |selector: &RowSelector| -> Result<Vec<Option<String>>, SuppressError> {
            let (_, array) = column(table, batch, &selector.column)?;
            Ok(text_values(table, &selector.column, array)?
                .into_iter()
                .map(|v| {
                    v.filter(|v| selector.values.iter().any(|x| x == v))
                        .map(str::to_owned)
                })
                .collect())
        };
        let (mut part_of, total_of) = match (&nest, &rule.nested) {
            (Some(nest), Some(code)) => nest.select(table, batch, rule, code, &mut keys)?,
            _ => (selected(&rule.parts)?, selected(&rule.total)?),
        };
        if let Some(month) = rule.month {
            for (part, m) in part_of.iter_mut().zip(&month_of) {
                if *m != Some(month) {
                    *part = None;
                }
            }
        }
        let declares_remainder = rule.remainder.is_some() && nest.is_none();

        let mut totals: HashMap<&[KeyPart], usize> = HashMap::new();
        for (row, key) in keys.iter().enumerate() {
            if total_of[row].is_some() {
                // A second total row for the same key (not expected under a primary key)
                // keeps the first: the group is then protected against that one.
                totals.entry(key.as_slice()).or_insert(row);
            }
        }
        let mut groups: Vec<RollupGroup> = Vec::new();
        let mut groups_of: Vec<Vec<usize>> = vec![Vec::new(); rows];
        let mut by_key: HashMap<(&[KeyPart], &str), usize> = HashMap::new();
        let mut seen: HashSet<(&[KeyPart], &str, &[KeyPart])> = HashSet::new();
        for (row, key) in keys.iter().enumerate() {
            let Some(kind) = part_of[row].as_deref() else {
                continue;
            };
            // A copy of a part already in the group (without `distinct_by`, none is).
            if rule.distinct_by.is_some()
                && !seen.insert((key.as_slice(), kind, distinct[row].as_slice()))
            {
                continue;
            }
            let group = *by_key.entry((key.as_slice(), kind)).or_insert_with(|| {
                let total = totals.get(key.as_slice()).copied();
                if let Some(total) = total {
                    groups_of[total].push(groups.len());
                }
                groups.push(RollupGroup {
                    parts: Vec::new(),
                    total,
                    remainder: Vec::new(),
                });
                groups.len() - 1
            });
            if let Some(g) = groups.get_mut(group) {
                g.parts.push(row);
            }
            groups_of[row].push(group);
        }
        for group in &mut groups {
            group.remainder = counts
                .iter()
                .map(|count| {
                    declares_remainder.then_some(())?;
                    let mut rest = count.values[group.total?]?;
                    for &part in &group.parts {
                        rest = rest.checked_sub(count.values[part]?)?;
                    }
                    Some(rest)
                })
                .collect();
        }
        Ok(Self {
            columns,
            declares_remainder,
            groups,
            groups_of,
        })
    }
}

impl Nest<'_> {
    /// Which rows are parts (those of `level`) and totals (those of `above`), with the area
    /// each lies in at `above` (a total's own) added to its key.
    #[allow(clippy::type_complexity)]
    fn select(
        &self,
        table: &str,
        batch: &RecordBatch,
        rule: &RollupDef,
        code: &str,
        keys: &mut [Vec<KeyPart>],
    ) -> Result<(Vec<Option<String>>, Vec<Option<String>>), SuppressError> {
        let (_, levels) = column(table, batch, &rule.parts.column)?;
        let levels = text_values(table, &rule.parts.column, levels)?;
        let (_, codes) = column(table, batch, code)?;
        let codes = text_values(table, code, codes)?;
        let mut parts = vec![None; keys.len()];
        let mut totals = vec![None; keys.len()];
        for (row, key) in keys.iter_mut().enumerate() {
            let (level, area) = (levels[row], codes[row]);
            let lies_in = if level == Some(self.above) {
                totals[row] = Some(self.above.to_owned());
                area
            } else if level == Some(self.level) {
                parts[row] = Some(self.level.to_owned());
                let area = area.unwrap_or_default();
                let parent = self.areas.parent(self.level, area, self.above);
                Some(parent.ok_or_else(|| SuppressError::UnplacedArea {
                    table: table.to_owned(),
                    level: self.level.to_owned(),
                    code: area.to_owned(),
                    above: self.above.to_owned(),
                })?)
            } else {
                None
            };
            key.push(lies_in.map_or(KeyPart::Null, |a| KeyPart::Text(a.to_owned())));
        }
        Ok((parts, totals))
    }
}

/// Groups of the rows agreeing on `by` (exempt rows in none), in order of first appearance,
/// and the group of each row.
#[allow(clippy::type_complexity)]
pub(super) fn group_rows(
    table: &str,
    batch: &RecordBatch,
    by: &[String],
    exempt: &[bool],
) -> Result<(Vec<Vec<usize>>, Vec<Option<usize>>), SuppressError> {
    let mut keys: Vec<Vec<KeyPart>> = vec![Vec::new(); batch.num_rows()];
    for name in by {
        for (key, part) in keys.iter_mut().zip(key_column(table, batch, name)?) {
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
    Ok((groups, group_of))
}

/// A grouping column's key parts, or the error naming it.
pub(super) fn key_column(
    table: &str,
    batch: &RecordBatch,
    name: &str,
) -> Result<Vec<KeyPart>, SuppressError> {
    let (_, array) = column(table, batch, name)?;
    key_parts(array).ok_or_else(|| SuppressError::WrongType {
        table: table.to_owned(),
        column: name.to_owned(),
        found: array.data_type().clone(),
        expected: "Utf8, LargeUtf8, Utf8View, an integer, Date32, Date64 or Boolean",
    })
}

/// Swaps in a rebuilt column, its field made nullable (cells may now be null) but otherwise
/// kept, metadata included.
pub(super) fn replace(
    fields: &mut [FieldRef],
    columns: &mut [ArrayRef],
    position: usize,
    array: ArrayRef,
) {
    if let (Some(field), Some(column)) = (fields.get_mut(position), columns.get_mut(position)) {
        *field = Arc::new(field.as_ref().clone().with_nullable(true));
        *column = array;
    }
}

/// The column named `name`, or the error naming it.
pub(super) fn column<'b>(
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
pub(super) fn read_int64(
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
pub(super) fn statistic_position(
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
pub(super) fn strings(array: &ArrayRef) -> Option<Vec<Option<&str>>> {
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
pub(super) enum KeyPart {
    /// Nulls group with nulls: rows with an unknown district are still siblings of each other.
    Null,
    Text(String),
    Int(i64),
    UInt(u64),
    Bool(bool),
}

/// A grouping column's key parts, or `None` for a type that cannot be a grouping key.
pub(super) fn key_parts(array: &ArrayRef) -> Option<Vec<KeyPart>> {
    pub(super) fn ints<T: ArrowPrimitiveType>(
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
