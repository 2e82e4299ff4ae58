//! Dates: census day, the activity period, ages and school years.

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use rand::Rng;

/// Census (survey) day: the 3rd Thursday of January of `year`.
///
/// Returns `NaiveDate::default()` (1970-01-01) only for years chrono cannot represent.
///
/// ```
/// use chrono::NaiveDate;
/// assert_eq!(sendlake_sim::census_date(2026), NaiveDate::from_ymd_opt(2026, 1, 15).unwrap());
/// ```
pub fn census_date(year: i32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, 1, Weekday::Thu, 3).unwrap_or_default()
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

/// Age in completed years on `on`.
pub(crate) fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// The calendar year a child born on `birth` starts Reception (aged 4 on 31 August).
pub(crate) fn reception_year(birth: NaiveDate) -> i32 {
    if birth.month() >= 9 {
        birth.year() + 5
    } else {
        birth.year() + 4
    }
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
    fn census_days_match_dfe_calendar() {
        assert_eq!(census_date(2024), ymd(2024, 1, 18));
        assert_eq!(census_date(2025), ymd(2025, 1, 16));
        assert_eq!(census_date(2026), ymd(2026, 1, 15));
        assert_eq!(census_date(2027), ymd(2027, 1, 21));
    }

    #[test]
    fn ages_and_year_groups() {
        let census = ymd(2026, 1, 15);
        assert_eq!(age_on(ymd(2010, 1, 15), census), 16);
        assert_eq!(age_on(ymd(2010, 1, 16), census), 15);
        let p = Period::new(2026);
        // Born 1 Sep 2014: youngest in the year that started Reception in Sept 2019 → Year 6.
        assert_eq!(p.year_group(ymd(2014, 9, 1)), 6);
        // Born 31 Aug 2015: also Reception in Sept 2019 → Year 6.
        assert_eq!(p.year_group(ymd(2015, 8, 31)), 6);
        assert_eq!(p.year_group(ymd(2021, 3, 1)), 0);
    }
}
