//! Rule 3b: the relations solved together. Rule 3 makes sure no single relation has exactly
//! one hidden cell, which is not enough where relations cross: in a table of areas by need,
//! with each area's and each need's total known, a hidden cell that links two otherwise
//! separate sets of hidden cells is their difference (a bridge between two cycles). Here every
//! relation instance is a linear equation over the hidden cells (shown cells are constants; a
//! small unpublished remainder is one more unknown, a larger one is taken as known, as in rule
//! 3), and Gaussian elimination over each connected set of unknowns finds those that follow
//! from the rest. For each that would disclose a protected count (a primary cell, a small
//! remainder), one more cell of an equation it is in is hidden, and rule 3 runs again, until
//! no protected count can be worked out or nothing is left to hide.

use std::collections::HashMap;

use super::{Grid, Input, smallest};

/// An unknown: a hidden count cell, or the small remainder of an equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unknown {
    Cell { column: usize, row: usize },
    Remainder { equation: usize },
}

/// One relation instance: its cells with their signs, and whether its unpublished remainder
/// is small (then an unknown of its own). An equation whose remainder is larger is left out:
/// its remainder is an unknown that only it holds, so it pins nothing else down (rule 3,
/// which takes such a remainder as known, is the stricter of the two there).
struct Equation {
    cells: Vec<(usize, usize, f64)>,
    small_remainder: bool,
}

/// Sign of the total in an additive or rollup relation.
const TOTAL: f64 = 1.0;
/// Sign of a part.
const PART: f64 = -1.0;

/// Every relation instance that holds a hidden cell or a small remainder.
fn equations(input: &Input, grid: &Grid) -> Vec<Equation> {
    let small = |value: Option<i64>, max: i64| value.is_some_and(|v| (1..=max).contains(&v));
    let mut out = Vec::new();
    let mut push = |cells: Vec<(usize, usize, f64)>, small_remainder: bool| {
        if small_remainder || cells.iter().any(|&(c, r, _)| grid.suppressed[c][r]) {
            out.push(Equation {
                cells,
                small_remainder,
            });
        }
    };
    for rule in &input.additive {
        for row in (0..input.exempt.len()).filter(|&row| !input.exempt[row]) {
            let mut cells = vec![(rule.total, row, TOTAL)];
            cells.extend(rule.parts.iter().map(|&p| (p, row, PART)));
            let remainder = rule.remainder[row];
            let small_remainder = small(remainder, input.thresholds[row].suppress_max);
            if rule.declares_remainder && !small_remainder {
                continue;
            }
            push(cells, small_remainder);
        }
    }
    for partition in &input.partitions {
        let relations = partition
            .groups
            .iter()
            .filter(|m| m.len() > 1 || partition.total.is_some());
        for members in relations {
            for &column in &partition.columns {
                let mut cells: Vec<(usize, usize, f64)> =
                    members.iter().map(|&r| (column, r, PART)).collect();
                if let (Some(total), Some(&first)) = (partition.total, members.first()) {
                    cells.push((total, first, TOTAL));
                }
                push(cells, false);
            }
        }
    }
    for rule in &input.repeated {
        for members in &rule.groups {
            for pair in members.windows(2) {
                push(
                    vec![(rule.column, pair[0], TOTAL), (rule.column, pair[1], PART)],
                    false,
                );
            }
        }
    }
    for rollup in &input.rollups {
        for group in &rollup.groups {
            let Some(max) = group
                .parts
                .iter()
                .chain(&group.total)
                .filter(|&&row| !input.exempt[row])
                .map(|&row| input.thresholds[row].suppress_max)
                .max()
            else {
                continue;
            };
            for &column in &rollup.columns {
                let mut cells: Vec<(usize, usize, f64)> =
                    group.parts.iter().map(|&r| (column, r, PART)).collect();
                cells.extend(group.total.map(|t| (column, t, TOTAL)));
                let remainder = group.remainder.get(column).copied().flatten();
                let small_remainder = small(remainder, max);
                if rollup.declares_remainder && group.total.is_some() && !small_remainder {
                    continue;
                }
                push(cells, small_remainder);
            }
        }
    }
    out
}

/// The unknowns that follow from the published cells, each with the equations it is in and
/// every equation of its connected set.
fn determined(equations: &[Equation], grid: &Grid) -> Vec<(Unknown, Vec<usize>, Vec<usize>)> {
    let mut index: HashMap<Unknown, usize> = HashMap::new();
    let mut unknowns: Vec<Unknown> = Vec::new();
    let mut terms: Vec<Vec<(usize, f64)>> = Vec::with_capacity(equations.len());
    for (e, equation) in equations.iter().enumerate() {
        let mut vars = Vec::new();
        let hidden = equation
            .cells
            .iter()
            .filter(|&&(c, r, _)| grid.suppressed[c][r])
            .map(|&(column, row, sign)| (Unknown::Cell { column, row }, sign));
        let remainder = equation
            .small_remainder
            .then_some((Unknown::Remainder { equation: e }, PART));
        for (unknown, sign) in hidden.chain(remainder) {
            let id = *index.entry(unknown).or_insert_with(|| {
                unknowns.push(unknown);
                unknowns.len() - 1
            });
            vars.push((id, sign));
        }
        terms.push(vars);
    }

    // Connected sets of unknowns, so each elimination stays small.
    let mut parent: Vec<usize> = (0..unknowns.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for vars in &terms {
        for pair in vars.windows(2) {
            let (a, b) = (root(&mut parent, pair[0].0), root(&mut parent, pair[1].0));
            parent[a] = b;
        }
    }
    let mut components: HashMap<usize, Vec<usize>> = HashMap::new();
    for (e, vars) in terms.iter().enumerate() {
        if let Some(&(first, _)) = vars.first() {
            let r = root(&mut parent, first);
            components.entry(r).or_default().push(e);
        }
    }
    let mut roots: Vec<usize> = components.keys().copied().collect();
    roots.sort_unstable();

    let mut found = Vec::new();
    for r in roots {
        let members = &components[&r];
        let mut vars: Vec<usize> = members
            .iter()
            .flat_map(|&e| terms[e].iter().map(|&(u, _)| u))
            .collect();
        vars.sort_unstable();
        vars.dedup();
        let column_of: HashMap<usize, usize> =
            vars.iter().enumerate().map(|(i, &u)| (u, i)).collect();
        let mut m: Vec<Vec<f64>> = members
            .iter()
            .map(|&e| {
                let mut row = vec![0.0; vars.len()];
                for &(u, sign) in &terms[e] {
                    row[column_of[&u]] += sign;
                }
                row
            })
            .collect();
        for row in reduced_rows(&mut m) {
            let nonzero: Vec<usize> = (0..vars.len()).filter(|&k| row[k].abs() > 1e-9).collect();
            if let [only] = nonzero[..] {
                let unknown = unknowns[vars[only]];
                let within = members
                    .iter()
                    .copied()
                    .filter(|&e| terms[e].iter().any(|&(u, _)| u == vars[only]))
                    .collect();
                found.push((unknown, within, members.clone()));
            }
        }
    }
    found
}

/// Gaussian elimination to reduced row echelon form (coefficients are small integers, so
/// partial pivoting keeps it exact enough); returns the nonzero rows.
fn reduced_rows(m: &mut [Vec<f64>]) -> Vec<Vec<f64>> {
    let width = m.first().map_or(0, Vec::len);
    let mut pivot = 0;
    for col in 0..width {
        if pivot == m.len() {
            break;
        }
        let best = (pivot..m.len()).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()));
        let Some(best) = best.filter(|&b| m[b][col].abs() > 1e-9) else {
            continue;
        };
        m.swap(pivot, best);
        let lead = m[pivot][col];
        for v in m[pivot].iter_mut() {
            *v /= lead;
        }
        let pivot_row = m[pivot].clone();
        for (r, row) in m.iter_mut().enumerate() {
            let f = row[col];
            if r != pivot && f.abs() > 1e-12 {
                for (v, p) in row.iter_mut().zip(&pivot_row) {
                    *v -= f * p;
                }
            }
        }
        pivot += 1;
    }
    m[..pivot].to_vec()
}

/// How many hidden cells or small remainders still follow from the published cells.
#[cfg(test)]
pub(super) fn leaks(input: &Input, grid: &Grid) -> usize {
    let equations = equations(input, grid);
    determined(&equations, grid)
        .into_iter()
        .filter(|(u, _, component)| sensitive(input, grid, &equations, *u, component))
        .count()
}

/// Whether working an unknown out would disclose something: a count from 1 to its row's
/// threshold (a primary cell), a small remainder, or anything worked out through a shown cell
/// that is rounded or missing (the reader's figure is then not the true one, so the true one
/// is not judged). A secondary cell worked out exactly gives back only a count that could have
/// been shown; whether it lets a primary cell follow is decided by the same elimination, which
/// holds every equation.
fn sensitive(
    input: &Input,
    grid: &Grid,
    equations: &[Equation],
    unknown: Unknown,
    component: &[usize],
) -> bool {
    let Unknown::Cell { column, row } = unknown else {
        return true;
    };
    let inexact = component.iter().any(|&e| {
        equations[e].cells.iter().any(|&(c, r, _)| {
            !grid.suppressed[c][r]
                && (grid.values[c][r].is_none()
                    || input.thresholds[r].round_to.is_some_and(|n| n > 1))
        })
    });
    inexact
        || (!input.exempt[row]
            && grid.values[column][row]
                .is_some_and(|v| (1..=input.thresholds[row].suppress_max).contains(&v)))
}

/// Hides, for each unknown that follows from the rest, the smallest available cell of an
/// equation it is in. Returns how many cells it hid; 0 when nothing follows, or nothing
/// that follows has a cell left to hide with it.
pub(super) fn repair(input: &Input, grid: &mut Grid) -> u64 {
    let equations = equations(input, grid);
    let mut hidden = 0;
    let found: Vec<_> = determined(&equations, grid)
        .into_iter()
        .filter(|(u, _, component)| sensitive(input, grid, &equations, *u, component))
        .collect();
    for (_, within, component) in found {
        // Another cell of the first of its equations that still has one to give, else of
        // another equation of the chain it follows from.
        let choice = within.iter().chain(&component).find_map(|&e| {
            let cells = &equations[e].cells;
            // Parts before the total, as in rule 3.
            let pick = |sign: f64| {
                smallest(cells.iter().enumerate().filter_map(|(i, &(c, r, s))| {
                    (s == sign).then_some((i, grid.available(c, r)?))
                }))
            };
            let i = pick(PART).or_else(|| pick(TOTAL))?;
            let (c, r, _) = cells[i];
            Some((c, r))
        });
        if let Some((column, row)) = choice.filter(|&(c, r)| !grid.suppressed[c][r]) {
            grid.suppressed[column][row] = true;
            hidden += 1;
        }
    }
    hidden
}
