//! The one reconciliation: every unit of every source is checked the same way, from the one
//! counts shape ([`Tally`]), and the run's status follows from what failed.
//!
//! - rows: `read = loaded + quarantined + deleted + superseded`, and the commit wrote `loaded`
//!   rows;
//! - quarantine: the commit wrote one row per record, field and file reject.

use crate::commit::Ledger;
use crate::manifest::{Check, RunStatus};
use crate::source::Tally;

/// The checks of every unit committed (or not) in the run.
pub(crate) fn checks(ledger: &[Ledger]) -> Vec<Check> {
    let mut out = Vec::new();
    for line in ledger {
        let label = &line.expect.label;
        match line.expect.tally {
            Tally::Rows {
                read,
                loaded,
                quarantined,
                deleted,
                superseded,
            } => {
                out.push(Check {
                    name: format!("{label}: read = loaded + quarantined + deleted + superseded"),
                    ok: read == loaded + quarantined + deleted + superseded,
                    detail: format!("{read} = {loaded} + {quarantined} + {deleted} + {superseded}"),
                });
                if let Some(written) = line.rows_written {
                    out.push(Check {
                        name: format!("{label}: rows committed = loaded"),
                        ok: written == loaded,
                        detail: format!("{written} committed, {loaded} loaded"),
                    });
                }
            }
            Tally::Rejects {
                records,
                fields,
                files,
            } => {
                if let Some(written) = line.rows_written {
                    let expected = records + fields + files;
                    out.push(Check {
                        name: format!("{label}: quarantine rows = record + field + file rejects"),
                        ok: written == expected,
                        detail: format!(
                            "{written} written, {expected} expected ({records} + {fields} + {files})"
                        ),
                    });
                }
            }
        }
    }
    out
}

/// What the run achieved, for its status.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Outcome {
    /// Table commits made (sources and models).
    pub commits: usize,
    /// A source delivered data and stayed current.
    pub delivered: bool,
    /// Something failed: a stale source, a file quarantined whole, a model.
    pub failed: bool,
    /// Every check held.
    pub reconciled: bool,
}

/// Failed when nothing was committed and something failed; partial when something failed or
/// a count did not reconcile; succeeded otherwise.
pub(crate) fn status(o: Outcome) -> RunStatus {
    if o.commits == 0 && o.failed && !o.delivered {
        RunStatus::Failed
    } else if o.failed || !o.reconciled {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Expect;

    fn line(tally: Tally, rows_written: Option<u64>) -> Ledger {
        Ledger {
            expect: Expect {
                label: "s/t".into(),
                tally,
            },
            rows_written,
        }
    }

    #[test]
    fn every_count_must_be_accounted_for() {
        let rows = |read| Tally::Rows {
            read,
            loaded: 7,
            quarantined: 2,
            deleted: 1,
            superseded: 1,
        };
        let good = checks(&[line(rows(11), Some(7))]);
        assert_eq!(good.len(), 2);
        assert!(good.iter().all(|c| c.ok), "{good:?}");
        let lost = checks(&[line(rows(12), Some(6))]);
        assert!(lost.iter().all(|c| !c.ok), "{lost:?}");
        let rejects = Tally::Rejects {
            records: 2,
            fields: 3,
            files: 1,
        };
        assert!(checks(&[line(rejects, Some(6))])[0].ok);
        assert!(!checks(&[line(rejects, Some(5))])[0].ok);
        // Not committed: nothing to compare the rows with, the counts still checked.
        assert_eq!(checks(&[line(rows(11), None)]).len(), 1);
        assert!(checks(&[line(rejects, None)]).is_empty());
    }

    #[test]
    fn the_status_follows_what_failed() {
        let o = |commits, delivered, failed, reconciled| Outcome {
            commits,
            delivered,
            failed,
            reconciled,
        };
        assert_eq!(status(o(3, true, false, true)), RunStatus::Succeeded);
        assert_eq!(status(o(3, true, false, false)), RunStatus::Partial);
        assert_eq!(status(o(3, true, true, true)), RunStatus::Partial);
        assert_eq!(status(o(0, false, true, true)), RunStatus::Failed);
        assert_eq!(status(o(0, true, true, true)), RunStatus::Partial);
        assert_eq!(status(o(0, false, false, true)), RunStatus::Succeeded);
    }
}
