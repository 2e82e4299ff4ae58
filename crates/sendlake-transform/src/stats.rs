//! Counts that the run manifest reconciles: every record read is loaded or quarantined.

use std::collections::BTreeMap;

/// Adds one to `counts[key]`. Most keys are already there, so the key is copied only when it
/// is new (`entry` would copy it every time).
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// Counts for one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableStats {
    /// Records read (elements of the table's kind found in the input).
    pub read: u64,
    /// Records loaded.
    pub loaded: u64,
    /// Records quarantined, by reason.
    pub quarantined: BTreeMap<String, u64>,
}

impl TableStats {
    /// Total quarantined.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Whether read = loaded + quarantined.
    pub fn reconciles(&self) -> bool {
        self.read == self.loaded + self.quarantined_total()
    }

    pub(crate) fn quarantine(&mut self, reason: &str) {
        bump(&mut self.quarantined, reason);
    }

    /// Adds another table's counts.
    pub fn merge(&mut self, other: &TableStats) {
        self.read += other.read;
        self.loaded += other.loaded;
        for (k, v) in &other.quarantined {
            *self.quarantined.entry(k.clone()).or_default() += v;
        }
    }
}

/// Counts for one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStats {
    /// Per table.
    pub tables: BTreeMap<String, TableStats>,
    /// Values nulled and quarantined (records still loaded), by reason.
    pub field_rejects: BTreeMap<String, u64>,
    /// Warnings, by rule.
    pub warnings: BTreeMap<String, u64>,
}

impl FileStats {
    pub(crate) fn table(&mut self, name: &str) -> &mut TableStats {
        self.tables.entry(name.to_owned()).or_default()
    }

    pub(crate) fn warn(&mut self, rule: &str) {
        bump(&mut self.warnings, rule);
    }

    pub(crate) fn field_reject(&mut self, rule: &str) {
        bump(&mut self.field_rejects, rule);
    }

    /// Whether every table reconciles.
    pub fn reconciles(&self) -> bool {
        self.tables.values().all(TableStats::reconciles)
    }

    /// Adds another file's counts.
    pub fn merge(&mut self, other: &FileStats) {
        for (t, s) in &other.tables {
            self.table(t).merge(s);
        }
        for (k, v) in &other.field_rejects {
            *self.field_rejects.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.warnings {
            *self.warnings.entry(k.clone()).or_default() += v;
        }
    }
}
