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
    /// Rows that add up to another row of the same table: months to their calendar year,
    /// districts to their LA. Unlike a partition, the total is a row here, so it is protected
    /// with its parts: a hidden total next to shown parts is their sum.
    #[serde(default)]
    pub rollups: Vec<RollupDef>,
    /// Counts repeated across the rows of a group.
    #[serde(default)]
    pub repeated: Vec<RepeatedDef>,
    /// Counts another published table also publishes (an area's caseload in
    /// `kpi_caseload_need`, `kpi_placements` and `kpi_caseload_age`): that table is suppressed
    /// first, and a cell hidden there is hidden here, one shown there is never chosen here.
    #[serde(default)]
    pub shared: Vec<SharedDef>,
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

/// `total` = sum of `parts`, row by row, plus an unpublished `remainder` where one is declared.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdditiveDef {
    /// The total count column.
    pub total: String,
    /// The part count columns.
    pub parts: Vec<String>,
    /// What the total holds beyond its parts, when that is not published (e.g. "exception
    /// cases" for all plans against plans without an exception, "plans with no request date"
    /// for the timeliness bands). A reader gets it by subtraction, so it is protected as a
    /// count: where it is small, a published cell of the relation is hidden.
    #[serde(default)]
    pub remainder: Option<String>,
}

/// Rows with equal values in `by` are siblings of one total.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionDef {
    /// Grouping columns.
    pub by: Vec<String>,
    /// The count columns that add up over the group; default every count. An area's
    /// caseload beside each of its needs does not add up over the needs.
    #[serde(default)]
    pub counts: Option<Vec<String>>,
    /// The count column, repeated in every row of the group, that the siblings add up to
    /// (an area's caseload); without it the total is taken to be shown elsewhere.
    #[serde(default)]
    pub total: Option<String>,
}

/// A count repeated in every row of a group (an area's caseload beside each of its needs):
/// hidden in one row, it is hidden in all, or the others show it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatedDef {
    /// The count column.
    pub column: String,
    /// Grouping columns: rows agreeing on them hold the same value.
    pub by: Vec<String>,
}

/// A count this table shares with another published table, row for row by `by`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedDef {
    /// The count column, under the same name in both tables.
    pub column: String,
    /// The other table, suppressed before this one.
    pub table: String,
    /// Columns, in both tables, that say which rows hold the same figure.
    pub by: Vec<String>,
}

/// Rows selected by `parts` add up to the row selected by `total` that agrees with them on
/// `by` (and on the calendar year of `year_of`). Parts are grouped by `by`, the year and their
/// own value of `parts.column`, so districts and localities are separate groups under one LA.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollupDef {
    /// Which rows are parts (`period_type` `month`; `geography_level` `district`).
    pub parts: RowSelector,
    /// Which row is their total (`period_type` `calendar_year`; `geography_level` `la`).
    pub total: RowSelector,
    /// Columns the parts and their total agree on.
    pub by: Vec<String>,
    /// A Date32 column whose calendar year the parts and their total also agree on (months
    /// of 2025 add up to 2025).
    #[serde(default)]
    pub year_of: Option<String>,
    /// Only parts whose `year_of` date falls in this month (1–12) add up to the total: a
    /// stock's calendar-year row is the snapshot of its December row, not the sum of its months.
    #[serde(default)]
    pub month: Option<u32>,
    /// What the total holds beyond its parts, when that is not published (children whose
    /// postcode maps to no district). Protected as a count, as for an additive relation.
    #[serde(default)]
    pub remainder: Option<String>,
    /// The count columns that add up; default every count.
    #[serde(default)]
    pub counts: Option<Vec<String>>,
    /// Count each part once per distinct value of these columns: an area's caseload is
    /// repeated beside each of its needs, and adds up to the LA's once per area.
    #[serde(default)]
    pub distinct_by: Option<Vec<String>>,
    /// A text column naming each row's area (`geography_code`), when the parts are areas of
    /// several levels that lie in each other (`parts.values` smallest first: districts in
    /// localities, localities in quadrants, as the pipeline's geography places them). Besides
    /// adding up to the total, each level's rows then add up exactly, with no remainder, to the
    /// row of the area one level up they lie in; a district that is the whole of its locality
    /// shows the locality's very figures.
    #[serde(default)]
    pub nested: Option<String>,
}

/// Rows whose text `column` holds one of `values`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowSelector {
    /// Column tested (utf8).
    pub column: String,
    /// Values that select a row.
    pub values: Vec<String>,
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

/// Suppression policy: from the pipeline file (`[models.publish]`), not the schema. The
/// thresholds apply to every row of every published table, except rows a rule selects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
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
    /// Rows with a convention of their own, first match wins: a source whose publisher rounds
    /// (NHS: 1–7 hidden, the rest to the nearest 5), or figures the statutory publisher
    /// itself publishes unsuppressed (the DfE's LA-level annual SEN2 figures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PolicyRule>,
}

/// `[[models.publish.rules]]`: a policy for the rows `when` selects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// Column → values: the rule selects a row when each named column (text, or a flag
    /// matched as `true`/`false`) holds one of its values. A table without one of the
    /// columns has no row the rule selects.
    pub when: std::collections::BTreeMap<String, Vec<String>>,
    /// Why these rows differ from the default, for the reader of the pipeline file and the
    /// data dictionary: every exception to the default carries its reason.
    pub reason: String,
    /// Publish the rows as they are (no suppression, no rounding), as the statutory
    /// publisher does: hiding them would protect no one and make the tables disagree.
    #[serde(default)]
    pub unsuppressed: bool,
    /// Threshold for these rows, else the default's.
    #[serde(default)]
    pub suppress_max: Option<i64>,
    /// Minimum rate denominator for these rows, else the default's.
    #[serde(default)]
    pub min_rate_denominator: Option<i64>,
    /// Rounding for these rows, else the default's.
    #[serde(default)]
    pub round_to: Option<i64>,
}

/// The thresholds that apply to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Counts from 1 up to this are suppressed.
    pub suppress_max: i64,
    /// Rates whose denominator is below this are suppressed.
    pub min_rate_denominator: i64,
    /// Shown counts rounded to this multiple.
    pub round_to: Option<i64>,
}

/// How one row is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowPolicy {
    /// As it is: exempt by the table (figures already published) or by a rule.
    AsIs,
    /// Suppressed with these thresholds.
    Protect(Thresholds),
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
            rules: Vec::new(),
        }
    }
}

impl SuppressionPolicy {
    /// The default thresholds, for rows no rule selects.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            suppress_max: self.suppress_max,
            min_rate_denominator: self.min_rate_denominator,
            round_to: self.round_to,
        }
    }

    /// The policy of a row, given a lookup of its text value in a column (`None` when the
    /// table has no such column or the cell is null).
    pub fn for_row<'a>(&self, value: impl Fn(&str) -> Option<&'a str>) -> RowPolicy {
        let rule = self.rules.iter().find(|rule| {
            rule.when.iter().all(|(column, values)| {
                value(column).is_some_and(|v| values.iter().any(|x| x == v))
            })
        });
        let base = self.thresholds();
        match rule {
            None => RowPolicy::Protect(base),
            Some(rule) if rule.unsuppressed => RowPolicy::AsIs,
            Some(rule) => RowPolicy::Protect(Thresholds {
                suppress_max: rule.suppress_max.unwrap_or(base.suppress_max),
                min_rate_denominator: rule
                    .min_rate_denominator
                    .unwrap_or(base.min_rate_denominator),
                round_to: rule.round_to.or(base.round_to),
            }),
        }
    }

    /// What is wrong with the policy, as (key, message) pairs under `models.publish`.
    pub fn problems(&self) -> Vec<(String, String)> {
        fn numbers(
            problems: &mut Vec<(String, String)>,
            key: &str,
            max: Option<i64>,
            min_den: Option<i64>,
            round: Option<i64>,
        ) {
            let negative = "must not be negative".to_owned();
            if max.is_some_and(|v| v < 0) {
                problems.push((format!("{key}suppress_max"), negative.clone()));
            }
            if min_den.is_some_and(|v| v < 0) {
                problems.push((format!("{key}min_rate_denominator"), negative));
            }
            if round.is_some_and(|v| v < 1) {
                problems.push((format!("{key}round_to"), "must be at least 1".to_owned()));
            }
        }
        let mut problems = Vec::new();
        numbers(
            &mut problems,
            "",
            Some(self.suppress_max),
            Some(self.min_rate_denominator),
            self.round_to,
        );
        for (i, rule) in self.rules.iter().enumerate() {
            let key = format!("rules[{i}].");
            numbers(
                &mut problems,
                &key,
                rule.suppress_max,
                rule.min_rate_denominator,
                rule.round_to,
            );
            let thresholds = rule.suppress_max.is_some()
                || rule.min_rate_denominator.is_some()
                || rule.round_to.is_some();
            if rule.unsuppressed == thresholds {
                problems.push((
                    format!("{key}unsuppressed"),
                    "a rule either publishes its rows unsuppressed or sets thresholds (suppress_max, min_rate_denominator, round_to), not both or neither".to_owned(),
                ));
            }
            if rule.when.is_empty() || rule.when.values().any(Vec::is_empty) {
                problems.push((
                    format!("{key}when"),
                    "must name at least one column, each with at least one value (the defaults are set above the rules)".to_owned(),
                ));
            }
            if rule.reason.trim().is_empty() {
                problems.push((format!("{key}reason"), "must say why".to_owned()));
            }
        }
        problems
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SuppressionPolicy {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_row_takes_the_first_rule_that_selects_it_else_the_defaults() {
        let policy = parse(
            r#"
            suppress_max = 4
            [[rules]]
            when = { source = ["nhs_community"] }
            reason = "NHS convention"
            suppress_max = 7
            round_to = 5
            [[rules]]
            when = { source = ["sen2", "nhs_community"], geography_level = ["la"] }
            reason = "published by the DfE"
            unsuppressed = true
            "#,
        );
        assert!(policy.problems().is_empty(), "{:?}", policy.problems());
        let row = |source: &'static str, level: Option<&'static str>| {
            policy.for_row(move |c| match c {
                "source" => Some(source),
                "geography_level" => level,
                _ => None,
            })
        };
        let nhs = RowPolicy::Protect(Thresholds {
            suppress_max: 7,
            min_rate_denominator: 10,
            round_to: Some(5),
        });
        assert_eq!(row("nhs_community", Some("la")), nhs, "first match wins");
        assert_eq!(row("sen2", Some("la")), RowPolicy::AsIs);
        assert_eq!(
            row("sen2", None),
            RowPolicy::Protect(policy.thresholds()),
            "a column the table lacks selects nothing"
        );
    }

    #[test]
    fn malformed_rules_are_named() {
        let policy = parse(
            r#"
            round_to = 0
            [[rules]]
            when = {}
            reason = " "
            [[rules]]
            when = { source = ["x"] }
            reason = "both"
            unsuppressed = true
            suppress_max = -1
            "#,
        );
        let keys: Vec<String> = policy.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "round_to",
                "rules[0].unsuppressed",
                "rules[0].when",
                "rules[0].reason",
                "rules[1].suppress_max",
                "rules[1].unsuppressed",
            ]
        );
        let unknown = toml::from_str::<SuppressionPolicy>(
            "[[rules]]\nwhen = { source = [\"x\"] }\nreason = \"r\"\nunsupressed = true",
        );
        assert!(unknown.is_err(), "a misspelt key is refused");
    }
}
