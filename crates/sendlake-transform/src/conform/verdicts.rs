//! The degrade-vs-reject decision: a problem's severity says whether the value is nulled and
//! the record loads, the record is rejected, or a warning is only counted.

use sendlake_schema::{ColumnDef, Derive, Severity};

use super::{Node, Problem};
use crate::rows::Cell;

/// What the problems of one record come to, once each has its severity.
#[derive(Default)]
pub(super) struct Verdicts {
    /// Problems that reject the record (and, by cascade, the records under it).
    pub(super) record: Vec<Problem>,
    /// Values nulled: each goes to the quarantine with its raw value and is counted.
    pub(super) field: Vec<Problem>,
    /// Rules that only warn: counted in the manifest.
    pub(super) warnings: Vec<&'static str>,
}

impl Verdicts {
    /// Applies `severity` to `p`. A `Field` problem nulls every column that carries the
    /// field's value; when one of them may not be null (a key, a rank, a mandatory value the
    /// shared schema declares non-nullable), or the problem names no field, there is nothing
    /// to null and the record is rejected instead.
    pub(super) fn route(
        &mut self,
        node: &Node,
        values: &mut [Cell<'_>],
        p: Problem,
        severity: Severity,
    ) {
        let same = |q: &Problem| q.reason == p.reason && q.field == p.field;
        match severity {
            Severity::Field => {
                let Some(field) = p.field.as_deref() else {
                    self.record.push(p);
                    return;
                };
                let carriers = || {
                    node.table
                        .columns
                        .iter()
                        .enumerate()
                        .filter(|(_, col)| carries_value(col, field))
                };
                if carriers().any(|(_, col)| !col.nullable) {
                    if !self.record.iter().any(same) {
                        self.record.push(p);
                    }
                    return;
                }
                for (i, _) in carriers() {
                    if let Some(v) = values.get_mut(i) {
                        *v = Cell::Null;
                    }
                }
                if !self.field.iter().any(same) {
                    self.field.push(p);
                }
            }
            Severity::Record | Severity::File => {
                if !self.record.iter().any(same) {
                    self.record.push(p);
                }
            }
            Severity::Warn => self.warnings.push(p.reason),
        }
    }
}

/// Whether `col` holds `field`'s value (or a value derived from it), so that nulling the
/// field nulls the column. Flags that only say whether a field was given or valid
/// (`present`, `valid_present`) keep saying so.
fn carries_value(col: &ColumnDef, field: &str) -> bool {
    col.field.as_deref() == Some(field)
        && !matches!(col.derive, Some(Derive::Present | Derive::ValidPresent))
}
