//! A second, independent proof that a published table gives no hidden cell back: the
//! suppression code checks its relations one at a time ("never exactly one hidden cell"); this
//! solves them together, as a reader with every published figure would.
//!
//! Every hidden count cell is an unknown. Each declared relation instance (a row's additive
//! relation, a group of sibling rows, parts rolling up to a total row) is a linear equation
//! with coefficients ±1 over the unknowns it holds; shown cells are constants. A hidden cell is
//! given back when its unit vector lies in the span of the equations, which Gaussian
//! elimination over each connected set of unknowns decides. A relation with an unpublished
//! remainder is an equation with one more unknown of its own, so it cannot pin the others
//! down; its own disclosure is the remainder, which is checked wherever every published cell
//! of the relation shows: the difference must not be a small count.

use std::collections::{BTreeMap, HashMap};

use arrow_array::{Array, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray};
use sendlake_schema::{SuppressionDef, SuppressionPolicy};

/// The cells of one published table that the relations speak of.
pub(crate) struct Table {
    rows: Vec<Row>,
    counts: Vec<String>,
}

struct Row {
    /// Grouping and selector columns as text (dates as days, flags as true/false).
    text: HashMap<String, String>,
    /// The calendar year of each Date32 column.
    years: HashMap<String, i32>,
    /// The month (1–12) of each Date32 column.
    months: HashMap<String, u32>,
    values: Vec<Option<i64>>,
    hidden: Vec<bool>,
    /// Published as it is (exempt by the table or unsuppressed by a rule).
    exempt: bool,
    /// Exempt by a rule, not by the table.
    by_rule: bool,
    /// This row's threshold and rounding.
    max: i64,
    round_to: Option<i64>,
}

/// A relation instance: its name, its cells (row, column, sign) and whether it declares an
/// unpublished remainder.
type Relation = (String, Vec<(usize, usize, i64)>, bool);

/// What the proof looked at, so a test can tell it had something to prove.
#[derive(Debug, Default)]
pub(crate) struct Proof {
    pub hidden: usize,
    pub equations: usize,
    pub remainders_checked: usize,
    pub exempt_rows: usize,
    pub rounded_rows: usize,
    /// Hidden cells that follow from the published ones but hold no protected count (a
    /// secondary cell of a figure that could have been shown).
    pub determined_unprotected: usize,
}

fn cell_text(batch: &RecordBatch, column: &str, i: usize) -> Option<String> {
    let c = batch.column_by_name(column)?;
    if c.is_null(i) {
        return Some(String::new());
    }
    let any = c.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        Some(a.value(i).to_owned())
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        Some(a.value(i).to_string())
    } else if let Some(a) = any.downcast_ref::<Date32Array>() {
        Some(a.value(i).to_string())
    } else {
        any.downcast_ref::<Int64Array>()
            .map(|a| a.value(i).to_string())
    }
}

impl Table {
    /// The table's cells, with each row's policy worked out here from the pipeline's rules
    /// (first match wins; a rule on a column the table lacks selects nothing).
    pub(crate) fn read(
        batches: &[RecordBatch],
        sup: &SuppressionDef,
        policy: &SuppressionPolicy,
    ) -> Self {
        use chrono::Datelike;
        let mut rows = Vec::new();
        for batch in batches {
            let schema = batch.schema();
            for i in 0..batch.num_rows() {
                let mut text = HashMap::new();
                let mut years = HashMap::new();
                let mut months = HashMap::new();
                for field in schema.fields() {
                    if let Some(v) = cell_text(batch, field.name(), i) {
                        text.insert(field.name().clone(), v);
                    }
                    if let Some(d) = batch
                        .column_by_name(field.name())
                        .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
                        .and_then(|d| d.value_as_date(i))
                    {
                        years.insert(field.name().clone(), d.year());
                        months.insert(field.name().clone(), d.month());
                    }
                }
                let column = |name: &str| -> Option<&Int64Array> {
                    batch.column_by_name(name)?.as_any().downcast_ref()
                };
                let values = sup
                    .counts
                    .iter()
                    .map(|c| {
                        let a = column(c).unwrap();
                        a.is_valid(i).then(|| a.value(i))
                    })
                    .collect();
                let hidden = sup
                    .counts
                    .iter()
                    .map(|c| text.get(&format!("{c}_status")).is_some_and(|s| s == "c"))
                    .collect();
                let table_exempt = sup
                    .exempt
                    .as_ref()
                    .is_some_and(|e| text.get(&e.column).is_some_and(|v| e.values.contains(v)));
                let rule = policy.rules.iter().find(|r| {
                    r.when
                        .iter()
                        .all(|(c, vs)| text.get(c).is_some_and(|v| vs.contains(v)))
                });
                let exempt = table_exempt || rule.is_some_and(|r| r.unsuppressed);
                let max = rule
                    .and_then(|r| r.suppress_max)
                    .unwrap_or(policy.suppress_max);
                let round = rule.and_then(|r| r.round_to).or(policy.round_to);
                rows.push(Row {
                    text,
                    years,
                    months,
                    values,
                    hidden,
                    exempt,
                    by_rule: !table_exempt && rule.is_some_and(|r| r.unsuppressed),
                    max,
                    round_to: round.filter(|&n| n > 1),
                });
            }
        }
        // A rule's year over a single month (and nothing else) would give the month away,
        // so it is not published as it is: the pipeline protects it like any other row.
        for u in sup.rollups.iter().filter(|u| u.remainder.is_none()) {
            let key = |row: &Row| -> Vec<String> {
                let mut key: Vec<String> = u.by.iter().map(|b| row.text[b].clone()).collect();
                if let Some(y) = &u.year_of {
                    key.push(row.years.get(y).map(|y| y.to_string()).unwrap_or_default());
                }
                key
            };
            let mut parts: HashMap<(Vec<String>, String), usize> = HashMap::new();
            for row in &rows {
                if let Some(kind) = part_of(u, row) {
                    *parts.entry((key(row), kind.clone())).or_default() += 1;
                }
            }
            let lone: std::collections::HashSet<Vec<String>> = parts
                .into_iter()
                .filter(|(_, n)| *n == 1)
                .map(|((k, _), _)| k)
                .collect();
            for row in rows.iter_mut() {
                let is_total = row
                    .text
                    .get(&u.total.column)
                    .is_some_and(|v| u.total.values.contains(v));
                if row.by_rule && is_total && lone.contains(&key(row)) {
                    row.exempt = false;
                }
            }
        }
        Self {
            rows,
            counts: sup.counts.clone(),
        }
    }

    fn col(&self, name: &str) -> usize {
        self.counts.iter().position(|c| c == name).unwrap()
    }

    /// Panics naming the table, the relation and the cell if a hidden cell can be worked out
    /// from what is published, or a small unpublished remainder shows as a difference.
    pub(crate) fn prove(&self, table: &str, sup: &SuppressionDef) -> Proof {
        let mut proof = Proof::default();
        // No small count showing where the row is protected; rounded rows show multiples.
        for (r, row) in self.rows.iter().enumerate() {
            if row.exempt {
                proof.exempt_rows += 1;
                continue;
            }
            proof.rounded_rows += usize::from(row.round_to.is_some());
            for (c, v) in row.values.iter().enumerate() {
                let Some(v) = *v else { continue };
                assert!(
                    v == 0 || v > row.max,
                    "{table}.{} shows {v} in row {r}",
                    self.counts[c]
                );
                if let Some(n) = row.round_to {
                    assert_eq!(
                        v % n,
                        0,
                        "{table}.{} shows {v} unrounded in row {r}",
                        self.counts[c]
                    );
                }
            }
        }
        // Unknowns: hidden cells, numbered.
        let mut unknown: HashMap<(usize, usize), usize> = HashMap::new();
        let mut cells: Vec<(usize, usize)> = Vec::new();
        for (r, row) in self.rows.iter().enumerate() {
            for (c, &h) in row.hidden.iter().enumerate() {
                if h {
                    unknown.insert((r, c), cells.len());
                    cells.push((r, c));
                }
            }
        }
        proof.hidden = cells.len();
        // Each relation instance: its cells as (row, column, sign), and its remainder if any.
        let mut relations: Vec<Relation> = Vec::new();
        for (k, a) in sup.additive.iter().enumerate() {
            let total = self.col(&a.total);
            for (r, row) in self.rows.iter().enumerate() {
                if row.exempt {
                    continue;
                }
                let mut terms = vec![(r, total, 1)];
                terms.extend(a.parts.iter().map(|p| (r, self.col(p), -1)));
                relations.push((
                    format!("additive[{k}] row {r}"),
                    terms,
                    a.remainder.is_some(),
                ));
            }
        }
        for (k, p) in sup.partitions.iter().enumerate() {
            let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
            for (r, row) in self.rows.iter().enumerate() {
                if !row.exempt {
                    let key = p.by.iter().map(|b| row.text[b].clone()).collect();
                    groups.entry(key).or_default().push(r);
                }
            }
            let columns: Vec<usize> = match &p.counts {
                None => (0..self.counts.len()).collect(),
                Some(names) => names.iter().map(|n| self.col(n)).collect(),
            };
            let total = p.total.as_ref().map(|t| self.col(t));
            for (key, members) in groups
                .into_iter()
                .filter(|(_, m)| m.len() > 1 || total.is_some())
            {
                for &c in &columns {
                    // The siblings add up to the total column (a copy in each row), or to a
                    // total published elsewhere: a constant here.
                    let mut terms: Vec<(usize, usize, i64)> =
                        members.iter().map(|&r| (r, c, -1)).collect();
                    terms.extend(total.map(|t| (members[0], t, 1)));
                    relations.push((
                        format!("partition[{k}] {key:?} {}", self.counts[c]),
                        terms,
                        false,
                    ));
                }
            }
        }
        for (k, q) in sup.repeated.iter().enumerate() {
            let c = self.col(&q.column);
            let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
            for (r, row) in self.rows.iter().enumerate() {
                if !row.exempt {
                    let key = q.by.iter().map(|b| row.text[b].clone()).collect();
                    groups.entry(key).or_default().push(r);
                }
            }
            // One value in every row of the group: each pair of rows is equal.
            for (key, members) in groups {
                for w in members.windows(2) {
                    let terms = vec![(w[0], c, 1), (w[1], c, -1)];
                    relations.push((format!("repeated[{k}] {key:?}"), terms, false));
                }
            }
        }
        for (k, u) in sup.rollups.iter().enumerate() {
            let key = |row: &Row| -> Vec<String> {
                let mut key: Vec<String> = u.by.iter().map(|b| row.text[b].clone()).collect();
                if let Some(y) = &u.year_of {
                    key.push(row.years.get(y).map(|y| y.to_string()).unwrap_or_default());
                }
                key
            };
            let columns: Vec<usize> = match &u.counts {
                None => (0..self.counts.len()).collect(),
                Some(names) => names.iter().map(|n| self.col(n)).collect(),
            };
            let mut totals: HashMap<Vec<String>, usize> = HashMap::new();
            let mut parts: BTreeMap<(Vec<String>, String), Vec<usize>> = BTreeMap::new();
            let mut seen = std::collections::HashSet::new();
            for (r, row) in self.rows.iter().enumerate() {
                let sel = |s: &sendlake_schema::RowSelector| {
                    row.text
                        .get(&s.column)
                        .filter(|v| s.values.contains(v))
                        .cloned()
                };
                if sel(&u.total).is_some() {
                    totals.entry(key(row)).or_insert(r);
                }
                if let Some(kind) = part_of(u, row)
                    && (u.distinct_by.is_none()
                        || seen.insert((key(row), kind.clone(), distinct(u, row))))
                {
                    parts.entry((key(row), kind)).or_default().push(r);
                }
            }
            // Areas lie in each other (geography.toml, read here on its own): whatever the
            // declaration says, a district's rows add up to its locality's, and a locality's
            // to its quadrant's, exactly.
            if u.parts.column == "geography_level" {
                for (level, above) in [("district", "locality"), ("locality", "quadrant")] {
                    if !u.parts.values.iter().any(|v| v == level)
                        || !u.parts.values.iter().any(|v| v == above)
                    {
                        continue;
                    }
                    let mut uppers: HashMap<(Vec<String>, String), usize> = HashMap::new();
                    let mut lowers: BTreeMap<(Vec<String>, String), Vec<usize>> = BTreeMap::new();
                    let mut seen = std::collections::HashSet::new();
                    for (r, row) in self.rows.iter().enumerate() {
                        let code = row.text["geography_code"].clone();
                        if row.text["geography_level"] == above {
                            uppers.entry((key(row), code)).or_insert(r);
                        } else if row.text["geography_level"] == level {
                            let parent = nesting()
                                .get(&(level.to_owned(), code.clone(), above.to_owned()))
                                .unwrap_or_else(|| panic!("{level} {code} lies in no {above}"))
                                .clone();
                            if u.distinct_by.is_none()
                                || seen.insert((key(row), code.clone(), distinct(u, row)))
                            {
                                lowers.entry((key(row), parent)).or_default().push(r);
                            }
                        }
                    }
                    for ((key, parent), members) in lowers {
                        let total = uppers.get(&(key.clone(), parent.clone())).copied();
                        for &c in &columns {
                            let mut terms: Vec<(usize, usize, i64)> =
                                members.iter().map(|&r| (r, c, -1)).collect();
                            terms.extend(total.map(|t| (t, c, 1)));
                            relations.push((
                                format!(
                                    "rollup[{k}] {key:?} {above} {parent} over its {level} rows, {}",
                                    self.counts[c]
                                ),
                                terms,
                                false,
                            ));
                        }
                    }
                }
            }
            for ((key, kind), members) in parts {
                let total = totals.get(&key).copied();
                for &c in &columns {
                    let mut terms: Vec<(usize, usize, i64)> =
                        members.iter().map(|&r| (r, c, -1)).collect();
                    terms.extend(total.map(|t| (t, c, 1)));
                    // Without a total row the total is published elsewhere, as for a partition;
                    // with one, a remainder is only meaningful against it.
                    let remainder = u.remainder.is_some() && total.is_some();
                    relations.push((
                        format!("rollup[{k}] {key:?} {kind} {}", self.counts[c]),
                        terms,
                        remainder,
                    ));
                }
            }
        }

        // Remainders: where every cell shows, the difference is published in all but name.
        for (name, terms, remainder) in &relations {
            if !*remainder || terms.iter().any(|&(r, c, _)| self.rows[r].hidden[c]) {
                continue;
            }
            let protected: Vec<&Row> = terms
                .iter()
                .map(|&(r, _, _)| &self.rows[r])
                .filter(|row| !row.exempt)
                .collect();
            // Rounded rows hide small differences by rounding; exempt ones have nothing to hide.
            if protected.is_empty() || protected.iter().any(|row| row.round_to.is_some()) {
                continue;
            }
            let Some(rest) = terms
                .iter()
                .map(|&(r, c, s)| self.rows[r].values[c].map(|v| s * v))
                .sum::<Option<i64>>()
            else {
                continue;
            };
            let max = protected.iter().map(|row| row.max).max().unwrap();
            proof.remainders_checked += 1;
            assert!(
                !(1..=max).contains(&rest),
                "{table}: {name}: the unpublished remainder {rest} shows as a difference of published cells"
            );
        }

        // Equations over hidden cells; a remainder's equation has an unknown of its own.
        // Each with its constant (what the shown cells make the unknowns add up to) and
        // whether that constant is exact (no rounded or missing shown cell in it).
        #[allow(clippy::type_complexity)]
        let equations: Vec<(&String, Vec<(usize, i64)>, f64, bool)> = relations
            .iter()
            .filter(|(_, _, remainder)| !remainder)
            .map(|(name, terms, _)| {
                let vars = terms
                    .iter()
                    .filter_map(|&(r, c, s)| unknown.get(&(r, c)).map(|&u| (u, s)))
                    .collect::<Vec<_>>();
                let shown = terms
                    .iter()
                    .filter(|&&(r, c, _)| !unknown.contains_key(&(r, c)));
                let mut constant = 0.0;
                let mut exact = true;
                for &(r, c, sign) in shown {
                    let row = &self.rows[r];
                    match row.values[c] {
                        Some(v) => constant -= (sign * v) as f64,
                        None => exact = false,
                    }
                    exact &= row.round_to.is_none();
                }
                (name, vars, constant, exact)
            })
            .filter(|(_, vars, _, _)| !vars.is_empty())
            .collect();
        proof.equations = equations.len();

        // Connected sets of unknowns (union-find), then elimination within each.
        let mut parent: Vec<usize> = (0..cells.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for (_, vars, _, _) in &equations {
            for w in vars.windows(2) {
                let (a, b) = (find(&mut parent, w[0].0), find(&mut parent, w[1].0));
                parent[a] = b;
            }
        }
        let mut components: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, (_, vars, _, _)) in equations.iter().enumerate() {
            let root = find(&mut parent, vars[0].0);
            components.entry(root).or_default().push(i);
        }
        for members in components.values() {
            let mut vars: Vec<usize> = members
                .iter()
                .flat_map(|&e| equations[e].1.iter().map(|&(u, _)| u))
                .collect();
            vars.sort_unstable();
            vars.dedup();
            let index: HashMap<usize, usize> =
                vars.iter().enumerate().map(|(i, &u)| (u, i)).collect();
            // The constant rides along as the last column.
            let mut m: Vec<Vec<f64>> = members
                .iter()
                .map(|&e| {
                    let mut row = vec![0.0; vars.len() + 1];
                    for &(u, s) in &equations[e].1 {
                        row[index[&u]] += s as f64;
                    }
                    row[vars.len()] = equations[e].2;
                    row
                })
                .collect();
            let exact = members.iter().all(|&e| equations[e].3);
            // Reduced row echelon form.
            let mut pivot_row = 0;
            for col in 0..vars.len() {
                let Some(p) = (pivot_row..m.len())
                    .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
                else {
                    break;
                };
                if m[p][col].abs() < 1e-9 {
                    continue;
                }
                m.swap(pivot_row, p);
                let lead = m[pivot_row][col];
                for v in &mut m[pivot_row] {
                    *v /= lead;
                }
                let pivot = m[pivot_row].clone();
                for (r, row) in m.iter_mut().enumerate() {
                    let f = row[col];
                    if r != pivot_row && f.abs() > 1e-12 {
                        for (v, p) in row.iter_mut().zip(&pivot) {
                            *v -= f * p;
                        }
                    }
                }
                pivot_row += 1;
            }
            for row in &m {
                let nonzero: Vec<usize> =
                    (0..vars.len()).filter(|&k| row[k].abs() > 1e-9).collect();
                if let [only] = nonzero[..] {
                    let (r, c) = cells[vars[only]];
                    // Worked out exactly, a count above the threshold (or 0) discloses
                    // nothing: it is a secondary cell that could have been shown.
                    let value = row[vars.len()].round() as i64;
                    if exact && !(1..=self.rows[r].max).contains(&value) {
                        proof.determined_unprotected += 1;
                        continue;
                    }
                    let names: Vec<&String> = members.iter().map(|&e| equations[e].0).collect();
                    panic!(
                        "{table}: hidden cell {} in row {r} ({:?}) follows from the published cells ({}) through {names:?}",
                        self.counts[c],
                        self.rows[r]
                            .text
                            .iter()
                            .filter(|(k, _)| !k.ends_with("_status"))
                            .collect::<BTreeMap<_, _>>(),
                        if exact {
                            format!("= {value}, a protected count")
                        } else {
                            "a rounded or missing cell in the way".to_owned()
                        },
                    );
                }
            }
        }
        proof
    }
}

/// (level, area, level above) → the area above it lies in, as `pipelines/models/geography.toml`
/// nests them: each district in its locality and that locality's quadrant.
fn nesting() -> &'static HashMap<(String, String, String), String> {
    static NESTING: std::sync::OnceLock<HashMap<(String, String, String), String>> =
        std::sync::OnceLock::new();
    NESTING.get_or_init(read_nesting)
}

fn read_nesting() -> HashMap<(String, String, String), String> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/models/geography.toml");
    let doc: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let text = |v: &toml::Value, key: &str| v[key].as_str().unwrap().to_owned();
    let mut out = HashMap::new();
    for l in doc["localities"].as_array().unwrap() {
        let (code, quadrant) = (text(l, "code"), text(l, "quadrant"));
        out.insert(
            ("locality".to_owned(), code, "quadrant".to_owned()),
            quadrant,
        );
    }
    for d in doc["districts"].as_array().unwrap() {
        let (code, locality) = (text(d, "code"), text(d, "locality"));
        out.insert(
            ("district".to_owned(), code, "locality".to_owned()),
            locality,
        );
    }
    out
}

/// The kind of part a row is in rollup `u` (its value of the parts' column), if it is one: a
/// rollup declared for one `month` takes only the parts dated in it.
fn part_of(u: &sendlake_schema::RollupDef, row: &Row) -> Option<String> {
    let kind = row
        .text
        .get(&u.parts.column)
        .filter(|v| u.parts.values.contains(v))?;
    let in_month = match (u.month, &u.year_of) {
        (Some(m), Some(y)) => row.months.get(y) == Some(&m),
        _ => true,
    };
    in_month.then(|| kind.clone())
}

/// The columns that name one area in one period from one source.
const AREA_PERIOD: [&str; 6] = [
    "period_type",
    "period_start",
    "geography_level",
    "geography_code",
    "la_code",
    "source",
];

/// A figure that is one figure per area and period (an area's caseload) shows the same value,
/// or is hidden, in every row of every table that publishes it: shown in one place and hidden
/// in another, it is not hidden at all. Returns how many figures were published in more than
/// one table.
pub(crate) fn same_figure_everywhere(tables: &[(&str, Vec<RecordBatch>)], column: &str) -> usize {
    // (area and period) → (table, row, value or hidden)
    let mut seen: HashMap<Vec<String>, Vec<(String, Option<i64>)>> = HashMap::new();
    for (table, batches) in tables {
        for b in batches {
            let values = b
                .column_by_name(column)
                .unwrap()
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            for i in 0..b.num_rows() {
                let key: Vec<String> = AREA_PERIOD
                    .iter()
                    .map(|c| cell_text(b, c, i).unwrap())
                    .collect();
                let v = values.is_valid(i).then(|| values.value(i));
                seen.entry(key).or_default().push(((*table).to_owned(), v));
            }
        }
    }
    let mut shared = 0;
    for (key, cells) in &seen {
        let (first_table, first) = &cells[0];
        for (table, v) in cells {
            assert_eq!(
                v, first,
                "{column} of {key:?}: {v:?} in {table}, {first:?} in {first_table}"
            );
        }
        if cells.iter().any(|(t, _)| t != first_table) {
            shared += 1;
        }
    }
    shared
}

/// A part's values of the rollup's `distinct_by` columns: it counts once per distinct value.
fn distinct(u: &sendlake_schema::RollupDef, row: &Row) -> Vec<String> {
    u.distinct_by
        .iter()
        .flatten()
        .map(|d| row.text[d].clone())
        .collect()
}
