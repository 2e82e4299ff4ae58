//! The SEND calendar, written once: SEN2 census day, academic and financial years, and ages.
//!
//! Every crate that needs one of these dates asks this one, so the pipeline that conforms a
//! return, the models that count it and the simulator that writes it cannot disagree about
//! which day is census day or which year a date belongs to. The [`Clock`] a run reads "now"
//! from lives here too, so a test can run a night on a chosen day.
//!
//! # The domain facts
//!
//! From `../shared/reference/send-domain.md`:
//!
//! - **Census day** (the SEN2 survey reference date) is the third Thursday of January:
//!   2024-01-18, 2025-01-16, 2026-01-15, 2027-01-21 (§0 and §1.1, **[confirmed]**). A return
//!   whose header carries a `ReferenceDate` uses that instead; the caller decides. Caseload
//!   items are a snapshot on census day; activity items (requests, assessments, plans issued,
//!   ceased) cover the previous calendar year.
//! - **Academic year**: EES publishes academic-year data with `time_identifier`
//!   "Academic year" and a `time_period` such as `202425` (§4.4, **[confirmed]**); the DfE bands
//!   caseload ages by age at 31 August (§3.5), and plans end at the end of the academic year a
//!   young person turns 25 (§1.6). That the academic year runs from 1 September to 31 August is
//!   the English school year as this workspace has always assumed it; the reference does not
//!   state the boundary itself, so treat it as **[unconfirmed there]**.
//! - **Financial year**: 1 April to 31 March, the UK public-sector year. The reference only
//!   mentions it in passing (changes "from 1 April"); the boundary is likewise **[unconfirmed
//!   there]**.
//!
//! Years are named by the calendar year they start in: the academic year 2023/24 is `2023`,
//! the financial year 2024-25 is `2024`.
//!
//! ```
//! use chrono::NaiveDate;
//! use sendlake_calendar::{academic_year_label, academic_year_start, census_day};
//!
//! let census = census_day(2026).unwrap();
//! assert_eq!(census, NaiveDate::from_ymd_opt(2026, 1, 15).unwrap());
//! // The January census falls in the academic year that began the September before.
//! assert_eq!(academic_year_label(academic_year_start(census)), "2025/26");
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod clock;

pub use clock::{Clock, SystemClock};

use chrono::{Datelike, NaiveDate, Weekday};

/// SEN2 census day of `year`: the third Thursday of January.
///
/// `None` only for years chrono cannot represent.
///
/// ```
/// use chrono::NaiveDate;
/// assert_eq!(
///     sendlake_calendar::census_day(2024),
///     NaiveDate::from_ymd_opt(2024, 1, 18)
/// );
/// ```
pub fn census_day(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 1, Weekday::Thu, 3)
}

/// The academic year (1 September to 31 August) `d` falls in, by the calendar year it starts in.
pub fn academic_year_start(d: NaiveDate) -> i32 {
    if d.month() >= 9 {
        d.year()
    } else {
        d.year() - 1
    }
}

/// The financial year (1 April to 31 March) `d` falls in, by the calendar year it starts in.
pub fn financial_year_start(d: NaiveDate) -> i32 {
    if d.month() >= 4 {
        d.year()
    } else {
        d.year() - 1
    }
}

/// The label of the academic year starting in `start`, as EES and the reports show it:
/// `2023/24`.
///
/// ```
/// assert_eq!(sendlake_calendar::academic_year_label(2023), "2023/24");
/// assert_eq!(sendlake_calendar::academic_year_label(1999), "1999/00");
/// ```
pub fn academic_year_label(start: i32) -> String {
    format!("{start}/{:02}", (start + 1) % 100)
}

/// Age in completed years on `on` of someone born on `birth`: the years since `birth`, less one
/// if `on` falls before the birthday in its year. Negative when `on` is before `birth`.
///
/// Someone born on 29 February turns a year older on 1 March in a year with no 29 February.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// The last day of the month `d` falls in; `d` itself in the last month chrono can represent.
pub fn month_end(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|n| n.pred_opt())
        .unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn census_days_match_the_dfe_calendar() {
        // send-domain.md §1.1.
        assert_eq!(census_day(2024), Some(ymd(2024, 1, 18)));
        assert_eq!(census_day(2025), Some(ymd(2025, 1, 16)));
        assert_eq!(census_day(2026), Some(ymd(2026, 1, 15)));
        assert_eq!(census_day(2027), Some(ymd(2027, 1, 21)));
        // January starting on a Thursday: the 15th; on a Friday: the 21st.
        assert_eq!(census_day(2015), Some(ymd(2015, 1, 15)));
        assert_eq!(census_day(2016), Some(ymd(2016, 1, 21)));
        assert_eq!(census_day(i32::MAX), None);
    }

    #[test]
    fn academic_years_turn_on_1_september_and_financial_years_on_1_april() {
        // (date, academic year start, financial year start)
        let cases = [
            (ymd(2025, 1, 1), 2024, 2024),
            (ymd(2025, 1, 16), 2024, 2024),
            (ymd(2025, 3, 31), 2024, 2024),
            (ymd(2025, 4, 1), 2024, 2025),
            (ymd(2025, 8, 31), 2024, 2025),
            (ymd(2025, 9, 1), 2025, 2025),
            (ymd(2025, 12, 31), 2025, 2025),
        ];
        for (d, academic, financial) in cases {
            assert_eq!(academic_year_start(d), academic, "academic year of {d}");
            assert_eq!(financial_year_start(d), financial, "financial year of {d}");
        }
    }

    #[test]
    fn academic_year_labels_keep_two_digits_of_the_end_year() {
        assert_eq!(academic_year_label(2024), "2024/25");
        assert_eq!(academic_year_label(2009), "2009/10");
        assert_eq!(academic_year_label(2099), "2099/00");
    }

    #[test]
    fn ages_count_completed_years() {
        let census = ymd(2026, 1, 15);
        assert_eq!(age_on(ymd(2010, 1, 15), census), 16);
        assert_eq!(age_on(ymd(2010, 1, 16), census), 15);
        assert_eq!(age_on(census, census), 0);
        assert_eq!(age_on(ymd(2026, 1, 16), census), -1);
        // A leap-day birthday counts from 1 March in other years.
        assert_eq!(age_on(ymd(2012, 2, 29), ymd(2025, 2, 28)), 12);
        assert_eq!(age_on(ymd(2012, 2, 29), ymd(2025, 3, 1)), 13);
        assert_eq!(age_on(ymd(2012, 2, 29), ymd(2024, 2, 29)), 12);
    }

    #[test]
    fn month_ends() {
        assert_eq!(month_end(ymd(2024, 2, 10)), ymd(2024, 2, 29));
        assert_eq!(month_end(ymd(2025, 2, 1)), ymd(2025, 2, 28));
        assert_eq!(month_end(ymd(2025, 12, 31)), ymd(2025, 12, 31));
        assert_eq!(month_end(ymd(2026, 4, 1)), ymd(2026, 4, 30));
        assert_eq!(month_end(NaiveDate::MAX), NaiveDate::MAX);
    }
}
