//! The DfE's open data conventions, shared by every reader of its statistics (the EES API
//! connector in `sendlake-ees`, the [`EesCsvFormat`](super::EesCsvFormat) file reader): the
//! GSS symbols that stand in for a number (send-domain.md §4.4, §8.1;
//! `dfe-analytical-services/analysts-guide: statistics-production/ud.qmd`, "Data symbols") and
//! the canonical key of a row's filter options.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Number;

/// A symbol standing in for a number, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symbol {
    /// `z`: not applicable (no boys at an all-girls school; a need first collected later).
    NotApplicable,
    /// `x`: unavailable for another reason (not collected, not supplied). Older files used
    /// `:`.
    Unavailable,
    /// `c`: confidential, suppressed to protect individuals.
    Confidential,
    /// `low`: rounds to zero but is not zero. Older files used `~`.
    Low,
    /// `u`: low reliability (e.g. missing returns), shown but not to be relied on.
    LowReliability,
}

impl Symbol {
    /// Every symbol, in the order the open data standards list them.
    pub const ALL: [Symbol; 5] = [
        Symbol::NotApplicable,
        Symbol::Unavailable,
        Symbol::Confidential,
        Symbol::Low,
        Symbol::LowReliability,
    ];

    /// The current code, as written in the record's `status` (legacy `:` and `~` are
    /// written as `x` and `low`, so one status means one thing across years).
    pub fn code(self) -> &'static str {
        match self {
            Symbol::NotApplicable => "z",
            Symbol::Unavailable => "x",
            Symbol::Confidential => "c",
            Symbol::Low => "low",
            Symbol::LowReliability => "u",
        }
    }

    /// What the symbol means, for reports and messages.
    pub fn label(self) -> &'static str {
        match self {
            Symbol::NotApplicable => "not applicable",
            Symbol::Unavailable => "not available",
            Symbol::Confidential => "confidential (suppressed)",
            Symbol::Low => "rounds to zero but is not zero",
            Symbol::LowReliability => "low reliability",
        }
    }

    /// The symbol a cell holds, if it is one: a current code in any case (`c`, `LOW`) or a
    /// legacy one (`:`, `~`), surrounding spaces ignored.
    pub fn parse(text: &str) -> Option<Symbol> {
        let t = text.trim();
        let found = match t {
            ":" => Symbol::Unavailable,
            "~" => Symbol::Low,
            _ => *Symbol::ALL
                .iter()
                .find(|s| t.eq_ignore_ascii_case(s.code()))?,
        };
        Some(found)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A parsed indicator value.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    /// A number. Whole numbers stay exact; others are the nearest `f64`.
    Number(Number),
    /// A symbol in place of the number.
    Symbol(Symbol),
}

impl CellValue {
    /// Parses a value as the API sends it. `None` for anything that is neither a finite
    /// number nor a known symbol: empty text, thousands separators, `NaN`, free text.
    pub fn parse(text: &str) -> Option<CellValue> {
        if let Some(s) = Symbol::parse(text) {
            return Some(CellValue::Symbol(s));
        }
        number(text.trim()).map(CellValue::Number)
    }
}

/// A finite decimal number. Only digits, sign, point and exponent are allowed, so words that
/// Rust's float parser accepts (`inf`, `NaN`) are not numbers here.
fn number(t: &str) -> Option<Number> {
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        || !t.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = t.parse::<u64>() {
        return Some(Number::from(u));
    }
    t.parse::<f64>().ok().and_then(Number::from_f64)
}

/// The canonical key of a row's filter options: `column=label` pairs sorted by column,
/// joined by `;`. `\`, `;` and `=` inside a column or label are escaped with `\`, so two
/// different option sets never share a key. No filters gives `""`.
///
/// ```
/// use std::collections::BTreeMap;
/// let f = BTreeMap::from([
///     ("sex".to_owned(), "Total".to_owned()),
///     ("age_group".to_owned(), "Age 5 to 10".to_owned()),
/// ]);
/// assert_eq!(sendlake_extract::records::filter_key(&f), "age_group=Age 5 to 10;sex=Total");
/// ```
pub fn filter_key(filters: &BTreeMap<String, String>) -> String {
    fn escape(s: &str, out: &mut String) {
        for c in s.chars() {
            if matches!(c, '\\' | ';' | '=') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    let mut out = String::new();
    for (i, (column, label)) in filters.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        escape(column, &mut out);
        out.push('=');
        escape(label, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_keys_are_sorted_escaped_and_unambiguous() {
        let key = |pairs: &[(&str, &str)]| {
            filter_key(
                &pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        assert_eq!(key(&[]), "");
        assert_eq!(key(&[("b", "2"), ("a", "1")]), "a=1;b=2");
        // Without escaping these two would both be `a=x;b=y`.
        let one = key(&[("a", "x;b=y")]);
        let two = key(&[("a", "x"), ("b", "y")]);
        assert_ne!(one, two);
        assert_eq!(one, r"a=x\;b\=y");
        assert_eq!(key(&[("a", r"back\slash")]), r"a=back\\slash");
    }

    #[test]
    fn every_symbol_parses_to_itself_with_a_label() {
        for s in Symbol::ALL {
            assert_eq!(Symbol::parse(s.code()), Some(s));
            assert_eq!(Symbol::parse(&s.code().to_uppercase()), Some(s));
            assert_eq!(
                CellValue::parse(&format!(" {} ", s.code())),
                Some(CellValue::Symbol(s))
            );
            assert!(!s.label().is_empty());
        }
        assert_eq!(Symbol::parse(":"), Some(Symbol::Unavailable));
        assert_eq!(Symbol::parse("~"), Some(Symbol::Low));
        assert_eq!(Symbol::parse("lo"), None);
        assert_eq!(Symbol::parse("[c]"), None);
    }

    #[test]
    fn numbers_parse_exactly_and_junk_does_not() {
        assert_eq!(
            CellValue::parse("638745"),
            Some(CellValue::Number(Number::from(638_745)))
        );
        assert_eq!(
            CellValue::parse("-3"),
            Some(CellValue::Number(Number::from(-3)))
        );
        let Some(CellValue::Number(n)) = CellValue::parse("50.342") else {
            panic!("not a number")
        };
        assert_eq!(n.as_f64(), Some(50.342));
        assert_eq!(
            CellValue::parse("18446744073709551615"),
            Some(CellValue::Number(Number::from(u64::MAX)))
        );
        for junk in [
            "", " ", "1,234", "NaN", "inf", "1e999", "12%", "n/a", "e", "-", ".",
        ] {
            assert_eq!(CellValue::parse(junk), None, "{junk:?}");
        }
    }
}
