//! Small-number suppression declared on a published table (`[suppression]` in its TOML).
//!
//! The declaration is structural (which columns are counts, which rates derive from which
//! counts, which counts add up to which); the threshold is policy and comes from the pipeline
//! file, so one schema serves partners with different rules. `sendlake-model` applies it.

/// How a published aggregate table is protected.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionDef {
    /// Count columns (`int64`) subject to primary suppression: a value from 1 up to the
    /// threshold is replaced by null with `c` in `<column>_status`.
    pub counts: Vec<String>,
    /// Rates computed from unrounded counts: suppressed with their numerator or denominator,
    /// or when the denominator is below the pipeline's minimum.
    #[serde(default)]
    pub rates: Vec<RateDef>,
    /// Statistics over a count's records (a mean, a median): suppressed with that count.
    #[serde(default)]
    pub derived: Vec<DerivedDef>,
    /// Column-wise totals: `total` = sum of `parts` in every row. A lone suppressed part
    /// would be recoverable by subtraction, so a second part is suppressed too.
    #[serde(default)]
    pub additive: Vec<AdditiveDef>,
    /// Row-wise totals: rows agreeing on `by` are siblings whose counts add up to a total
    /// shown elsewhere (districts within their LA, needs within a caseload). A lone
    /// suppressed sibling gets a second one suppressed.
    #[serde(default)]
    pub partitions: Vec<PartitionDef>,
    /// Rows exempt from suppression, e.g. figures the DfE has already published.
    #[serde(default)]
    pub exempt: Option<ExemptDef>,
    /// The row's headline rate, judged against its target: where it is suppressed, so is
    /// `rag_status` (a colour would give away which side of the target a hidden value lies).
    #[serde(default)]
    pub headline: Option<String>,
}

/// A rate column and the counts it is computed from.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateDef {
    /// The rate column (`float64`).
    pub column: String,
    /// Its numerator count column.
    pub numerator: String,
    /// Its denominator count column.
    pub denominator: String,
}

/// A statistic suppressed together with the count of records it summarises.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedDef {
    /// The statistic column.
    pub column: String,
    /// The count column of the records behind it.
    pub count: String,
}

/// `total` = sum of `parts`, row by row.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdditiveDef {
    /// The total count column.
    pub total: String,
    /// The part count columns.
    pub parts: Vec<String>,
}

/// Rows with equal values in `by` are siblings of one total.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionDef {
    /// Grouping columns.
    pub by: Vec<String>,
}

/// Rows whose `column` is one of `values` are left as they are.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemptDef {
    /// Column tested (utf8).
    pub column: String,
    /// Values that exempt a row.
    pub values: Vec<String>,
}

/// Suppression policy: from the pipeline file, not the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionPolicy {
    /// Counts from 1 up to this are suppressed (0 is shown). Default 4.
    #[serde(default = "default_max")]
    pub suppress_max: i64,
    /// Rates whose denominator is below this are suppressed. Default 10.
    #[serde(default = "default_min_denominator")]
    pub min_rate_denominator: i64,
    /// Round shown counts to the nearest multiple (e.g. 5); rates stay computed from
    /// unrounded values. Default: no rounding.
    #[serde(default)]
    pub round_to: Option<i64>,
}

fn default_max() -> i64 {
    4
}

fn default_min_denominator() -> i64 {
    10
}

impl Default for SuppressionPolicy {
    fn default() -> Self {
        Self {
            suppress_max: default_max(),
            min_rate_denominator: default_min_denominator(),
            round_to: None,
        }
    }
}

impl SuppressionDef {
    /// Every column that gets a `<column>_status` companion.
    pub fn protected_columns(&self) -> impl Iterator<Item = &str> {
        self.counts
            .iter()
            .map(String::as_str)
            .chain(self.rates.iter().map(|r| r.column.as_str()))
            .chain(self.derived.iter().map(|d| d.column.as_str()))
    }
}
