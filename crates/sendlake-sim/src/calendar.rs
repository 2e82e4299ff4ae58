//! Dates: census day, the activity period and school years. The calendar arithmetic itself
//! (census day, academic years, ages) is `sendlake_calendar`'s; this module adds what the
//! generator needs on top of it.

use chrono::{NaiveDate, TimeDelta};
use rand::Rng;
use sendlake_calendar::{academic_year_start, census_day};

/// Census (survey) day of `year` ([`census_day`]), or `NaiveDate::default()` (1970-01-01) for
/// years chrono cannot represent. Callers pass validated years (see `config::CENSUS_YEARS`), so
/// the fallback is unreachable.
pub(crate) fn census_date(year: i32) -> NaiveDate {
    census_day(year).unwrap_or_default()
}

/// `year-month-day`, or 1970-01-01 if invalid. Callers pass validated years (see
/// `config::CENSUS_YEARS`) and real month/day pairs, so the fallback is unreachable.
pub(crate) fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// `d` moved by `days`; saturates (returns `d`) rather than panic at chrono's limits.
pub(crate) fn shift(d: NaiveDate, days: i64) -> NaiveDate {
    d.checked_add_signed(TimeDelta::days(days)).unwrap_or(d)
}

/// A uniformly drawn date in `lo..=hi`; `lo` when the range is empty.
pub(crate) fn date_between(rng: &mut impl Rng, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
    let span = days_between(lo, hi);
    if span <= 0 {
        lo
    } else {
        shift(lo, rng.random_range(0..=span))
    }
}

/// Whole days from `a` to `b`.
pub(crate) fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

/// The calendar year a child born on `birth` starts Reception (aged 4 on 31 August): the
/// September five years after the start of the academic year of their birth.
pub(crate) fn reception_year(birth: NaiveDate) -> i32 {
    academic_year_start(birth) + 5
}

/// The time frame of one return.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Period {
    /// Census day; no generated date is later.
    pub census: NaiveDate,
    /// 1 January of the year before census.
    pub start: NaiveDate,
    /// 31 December of the year before census.
    pub end: NaiveDate,
    /// Calendar year in which the current academic year began (September).
    pub academic_year: i32,
}

impl Period {
    pub(crate) fn new(census_year: i32) -> Self {
        Self {
            census: census_date(census_year),
            start: ymd(census_year - 1, 1, 1),
            end: ymd(census_year - 1, 12, 31),
            academic_year: census_year - 1,
        }
    }

    /// School year group on census day: 0 = Reception, 7 = Year 7, 12 = Year 12; negative
    /// before school, above 13 past school age.
    pub(crate) fn year_group(&self, birth: NaiveDate) -> i32 {
        self.academic_year - reception_year(birth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn census_day_and_year_groups() {
        let p = Period::new(2026);
        assert_eq!(p.census, ymd(2026, 1, 15));
        // Born 1 Sep 2014: youngest in the year that started Reception in Sept 2019 → Year 6.
        assert_eq!(p.year_group(ymd(2014, 9, 1)), 6);
        // Born 31 Aug 2015: also Reception in Sept 2019 → Year 6.
        assert_eq!(p.year_group(ymd(2015, 8, 31)), 6);
        assert_eq!(p.year_group(ymd(2021, 3, 1)), 0);
    }
}
