//! Data-quality checks, declared as data in `checks.toml` beside the models.
//!
//! Each [`CheckDef`] names a table and exactly one kind of check. Checks on a model's output
//! run against the candidate rows before they are committed; checks on an input table (a
//! restricted table loaded by the sources) run before any model reads it. A failing check of
//! severity `fail` blocks the table (its previous version stays current) and everything built
//! from it, and makes the run partial (exit code 1); `warn` is reported only.
//!
//! Every check is a query that counts offending rows, so the data-quality table says not only
//! that a check failed but how many rows did.

use chrono::{DateTime, Utc};
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use deltalake::datafusion::prelude::SessionContext;
use sendlake_schema::SchemaRegistry;

/// How bad a failing check is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported; the table is still published.
    Warn,
    /// The table (and what is built from it) is not published this run.
    #[default]
    Fail,
}

/// `accepted_values = { column = "…", values = […] }`
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedValues {
    /// The column.
    pub column: String,
    /// Allowed values (nulls are allowed; use `not_null` for those).
    pub values: Vec<String>,
}

/// `relationship = { column = "…", to_table = "…", to_column = "…" }`
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relationship {
    /// The referencing column.
    pub column: String,
    /// The referenced table.
    pub to_table: String,
    /// The referenced column.
    pub to_column: String,
}

/// `freshness = { column = "loaded_at", max_age_hours = 36 }`
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    /// A timestamp column (`timestamp_us_utc`), normally `loaded_at`.
    pub column: String,
    /// Newest row older than this (relative to the run's start) fails.
    pub max_age_hours: u32,
}

/// `row_count_change = { max_pct = 50 }`
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCountChange {
    /// Largest allowed change against the table's current version, in percent.
    pub max_pct: f64,
}

/// One declared check.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    /// Name shown in reports (default: derived from the table and kind).
    #[serde(default)]
    pub name: Option<String>,
    /// The table checked.
    pub table: String,
    /// `warn` or `fail` (default).
    #[serde(default)]
    pub severity: Severity,
    /// These columns have no nulls.
    #[serde(default)]
    pub not_null: Option<Vec<String>>,
    /// These columns together identify a row.
    #[serde(default)]
    pub unique: Option<Vec<String>>,
    /// The column's values are among these.
    #[serde(default)]
    pub accepted_values: Option<AcceptedValues>,
    /// Every non-null value is found in another table.
    #[serde(default)]
    pub relationship: Option<Relationship>,
    /// The table was loaded recently.
    #[serde(default)]
    pub freshness: Option<Freshness>,
    /// The row count did not jump since the current version.
    #[serde(default)]
    pub row_count_change: Option<RowCountChange>,
    /// A SQL condition every row meets (a row where it is false or null fails).
    #[serde(default)]
    pub expression: Option<String>,
}

/// The kinds, for reports.
pub(crate) const KINDS: [&str; 7] = [
    "not_null",
    "unique",
    "accepted_values",
    "relationship",
    "freshness",
    "row_count_change",
    "expression",
];

impl CheckDef {
    /// Built-in check: the declared primary key is unique.
    pub(crate) fn primary_key(table: &str, columns: &[String]) -> Self {
        Self {
            name: Some(format!(
                "{table}: primary key ({}) is unique",
                columns.join(", ")
            )),
            table: table.to_owned(),
            severity: Severity::Fail,
            not_null: None,
            unique: Some(columns.to_vec()),
            accepted_values: None,
            relationship: None,
            freshness: None,
            row_count_change: None,
            expression: None,
        }
    }

    /// Built-in check: a code column holds codes of its code list.
    pub(crate) fn code_list(table: &str, column: &str, list: &str, codes: Vec<String>) -> Self {
        Self {
            name: Some(format!("{table}.{column}: codes of the {list} code list")),
            table: table.to_owned(),
            severity: Severity::Warn,
            not_null: None,
            unique: None,
            accepted_values: Some(AcceptedValues {
                column: column.to_owned(),
                values: codes,
            }),
            relationship: None,
            freshness: None,
            row_count_change: None,
            expression: None,
        }
    }

    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        let set = [
            self.not_null.is_some(),
            self.unique.is_some(),
            self.accepted_values.is_some(),
            self.relationship.is_some(),
            self.freshness.is_some(),
            self.row_count_change.is_some(),
            self.expression.is_some(),
        ];
        set.iter().position(|s| *s).map_or("none", |i| KINDS[i])
    }

    /// The name shown in reports.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}: {}", self.table, self.describe()))
    }

    fn describe(&self) -> String {
        if let Some(c) = &self.not_null {
            format!("not null ({})", c.join(", "))
        } else if let Some(c) = &self.unique {
            format!("unique ({})", c.join(", "))
        } else if let Some(a) = &self.accepted_values {
            format!("{} in accepted values", a.column)
        } else if let Some(r) = &self.relationship {
            format!("{} found in {}.{}", r.column, r.to_table, r.to_column)
        } else if let Some(f) = &self.freshness {
            format!("{} within {} hours", f.column, f.max_age_hours)
        } else if let Some(r) = &self.row_count_change {
            format!("row count changes by at most {}%", r.max_pct)
        } else if let Some(e) = &self.expression {
            format!("every row: {e}")
        } else {
            "no check".into()
        }
    }

    /// Checks the declaration against the schema: exactly one kind, known tables and columns.
    pub fn validate(&self, registry: &SchemaRegistry) -> Result<(), String> {
        let kinds = [
            self.not_null.is_some(),
            self.unique.is_some(),
            self.accepted_values.is_some(),
            self.relationship.is_some(),
            self.freshness.is_some(),
            self.row_count_change.is_some(),
            self.expression.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if kinds != 1 {
            return Err(format!(
                "a check has exactly one of {} (found {kinds})",
                KINDS.join(", ")
            ));
        }
        let table = registry
            .table(&self.table)
            .ok_or_else(|| format!("unknown table `{}`", self.table))?;
        if table.zone == sendlake_schema::Zone::Secure {
            return Err(format!(
                "`{}` is in the secure zone; checks read restricted and published tables",
                self.table
            ));
        }
        let has = |t: &sendlake_schema::TableDef, c: &str| t.columns.iter().any(|x| x.name == c);
        let mut cols: Vec<&str> = Vec::new();
        if let Some(c) = &self.not_null {
            cols.extend(c.iter().map(String::as_str));
        }
        if let Some(c) = &self.unique {
            cols.extend(c.iter().map(String::as_str));
        }
        if let Some(a) = &self.accepted_values {
            cols.push(&a.column);
        }
        if let Some(f) = &self.freshness {
            cols.push(&f.column);
        }
        if let Some(r) = &self.relationship {
            cols.push(&r.column);
            let to = registry
                .table(&r.to_table)
                .ok_or_else(|| format!("relationship.to_table: unknown table `{}`", r.to_table))?;
            if !has(to, &r.to_column) {
                return Err(format!(
                    "relationship.to_column: table `{}` has no column `{}`",
                    r.to_table, r.to_column
                ));
            }
        }
        for c in cols {
            if !has(table, c) {
                return Err(format!("table `{}` has no column `{c}`", self.table));
            }
        }
        Ok(())
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// No offending rows.
    Pass,
    /// Offending rows, severity `warn`.
    Warn,
    /// Offending rows, severity `fail`.
    Fail,
    /// The check could not run (its own error is in `detail`); treated as a failure.
    Error,
    /// Not run: the table was not built this run.
    Skipped,
}

impl CheckStatus {
    /// As written in the data-quality table.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Error => "error",
            CheckStatus::Skipped => "skipped",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// Display name.
    pub name: String,
    /// Table checked.
    pub table: String,
    /// Kind.
    pub check_type: String,
    /// Declared severity.
    pub severity: Severity,
    /// Outcome.
    pub status: CheckStatus,
    /// Offending rows (or the absolute change, for row counts).
    pub failing_rows: Option<i64>,
    /// Plain-words detail.
    pub detail: String,
}

impl CheckResult {
    /// Whether this result blocks its table.
    pub fn blocks(&self) -> bool {
        matches!(self.status, CheckStatus::Fail | CheckStatus::Error)
    }
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// What the checked table looks like this run.
pub(crate) struct Subject<'a> {
    /// Name the rows are registered under in the session.
    pub sql_name: &'a str,
    /// Rows in the candidate (or input) table.
    pub rows: u64,
    /// Rows in the current committed version, if any.
    pub previous_rows: Option<u64>,
    /// When the run started.
    pub now: DateTime<Utc>,
    /// Columns already known to hold no repeated key (from the fingerprints taken while the
    /// rows were written): a `unique` check on exactly these passes without a query.
    pub distinct_key: Option<&'a [String]>,
}

/// Runs one check against `subject`. Never fails: a check that cannot run is an `Error`.
pub(crate) async fn evaluate(
    ctx: &SessionContext,
    check: &CheckDef,
    subject: &Subject<'_>,
) -> CheckResult {
    let mut result = CheckResult {
        name: check.display_name(),
        table: check.table.clone(),
        check_type: check.kind().to_owned(),
        severity: check.severity,
        status: CheckStatus::Pass,
        failing_rows: None,
        detail: String::new(),
    };
    let outcome = run(ctx, check, subject).await;
    match outcome {
        Ok((bad, detail)) => {
            result.failing_rows = Some(bad);
            result.detail = detail;
            if bad > 0 {
                result.status = match check.severity {
                    Severity::Warn => CheckStatus::Warn,
                    Severity::Fail => CheckStatus::Fail,
                };
            }
        }
        Err(e) => {
            result.status = CheckStatus::Error;
            result.detail = format!("the check could not run: {e}");
        }
    }
    result
}

async fn count(ctx: &SessionContext, sql: &str) -> Result<i64, String> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let mut total = 0;
    for b in &batches {
        if b.num_columns() == 0 {
            continue;
        }
        let col = deltalake::arrow::compute::cast(
            b.column(0),
            &deltalake::arrow::datatypes::DataType::Int64,
        )
        .map_err(|e| e.to_string())?;
        let col = col.as_primitive::<Int64Type>();
        total += (0..col.len())
            .filter(|i| col.is_valid(*i))
            .map(|i| col.value(i))
            .sum::<i64>();
    }
    Ok(total)
}

async fn run(
    ctx: &SessionContext,
    check: &CheckDef,
    s: &Subject<'_>,
) -> Result<(i64, String), String> {
    let t = s.sql_name;
    if let Some(cols) = &check.not_null {
        let cond = cols
            .iter()
            .map(|c| format!("{} IS NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" OR ");
        let bad = count(ctx, &format!("SELECT count(*) FROM {t} WHERE {cond}")).await?;
        return Ok((
            bad,
            format!(
                "{bad} of {} rows have a null in {}",
                s.rows,
                cols.join(", ")
            ),
        ));
    }
    if let Some(cols) = &check.unique {
        if s.distinct_key == Some(cols.as_slice()) {
            return Ok((0, format!("0 duplicated keys of ({})", cols.join(", "))));
        }
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let bad = count(
            ctx,
            &format!("SELECT count(*) FROM (SELECT {list} FROM {t} GROUP BY {list} HAVING count(*) > 1) d"),
        )
        .await?;
        return Ok((
            bad,
            format!("{bad} duplicated keys of ({})", cols.join(", ")),
        ));
    }
    if let Some(a) = &check.accepted_values {
        let values = a
            .values
            .iter()
            .map(|v| literal(v))
            .collect::<Vec<_>>()
            .join(", ");
        let col = ident(&a.column);
        let bad = if a.values.is_empty() {
            count(
                ctx,
                &format!("SELECT count(*) FROM {t} WHERE {col} IS NOT NULL"),
            )
            .await?
        } else {
            count(ctx, &format!("SELECT count(*) FROM {t} WHERE {col} IS NOT NULL AND CAST({col} AS VARCHAR) NOT IN ({values})")).await?
        };
        return Ok((
            bad,
            format!(
                "{bad} rows with a value of {} outside the accepted values",
                a.column
            ),
        ));
    }
    if let Some(r) = &check.relationship {
        let (col, to, to_col) = (ident(&r.column), ident(&r.to_table), ident(&r.to_column));
        let bad = count(
            ctx,
            &format!("SELECT count(*) FROM {t} WHERE {col} IS NOT NULL AND {col} NOT IN (SELECT {to_col} FROM {to} WHERE {to_col} IS NOT NULL)"),
        )
        .await?;
        return Ok((
            bad,
            format!(
                "{bad} rows whose {} is not in {}.{}",
                r.column, r.to_table, r.to_column
            ),
        ));
    }
    if let Some(f) = &check.freshness {
        let batches = ctx
            .sql(&format!(
                "SELECT CAST(max({}) AS TIMESTAMP) FROM {t}",
                ident(&f.column)
            ))
            .await
            .map_err(|e| e.to_string())?
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        let newest = batches.iter().find_map(|b| {
            let c = deltalake::arrow::compute::cast(
                b.column(0),
                &deltalake::arrow::datatypes::DataType::Timestamp(
                    deltalake::arrow::datatypes::TimeUnit::Microsecond,
                    None,
                ),
            )
            .ok()?;
            let c = c.as_primitive::<TimestampMicrosecondType>();
            (!c.is_empty() && c.is_valid(0)).then(|| c.value(0))
        });
        let Some(newest) = newest.and_then(DateTime::from_timestamp_micros) else {
            return Ok((1, format!("{} has no rows: never loaded", check.table)));
        };
        let age_hours = (s.now - newest).num_minutes() as f64 / 60.0;
        let bad = i64::from(age_hours > f64::from(f.max_age_hours));
        return Ok((
            bad,
            format!(
                "newest {} is {age_hours:.1} hours old (limit {})",
                f.column, f.max_age_hours
            ),
        ));
    }
    if let Some(r) = &check.row_count_change {
        let Some(prev) = s.previous_rows.filter(|p| *p > 0) else {
            return Ok((
                0,
                format!("{} rows; no previous version to compare", s.rows),
            ));
        };
        let change = (s.rows as f64 - prev as f64) / prev as f64 * 100.0;
        let bad = i64::from(change.abs() > r.max_pct);
        return Ok((
            bad,
            format!(
                "{} rows against {prev} in the current version ({change:+.1}%, limit ±{}%)",
                s.rows, r.max_pct
            ),
        ));
    }
    if let Some(e) = &check.expression {
        let bad = count(
            ctx,
            &format!("SELECT count(*) FROM {t} WHERE ({e}) IS NOT TRUE"),
        )
        .await?;
        return Ok((bad, format!("{bad} of {} rows break: {e}", s.rows)));
    }
    Err("no check kind given".into())
}
