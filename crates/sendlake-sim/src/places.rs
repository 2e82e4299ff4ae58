//! Settings a plan can name and a CYP can attend, and when they started there.
//!
//! Each LA has a fixed, formula-derived pool of schools and providers (66 URNs, 7 UKPRNs)
//! so the same URN recurs across persons and runs, and joins to a GIAS-like dimension
//! later are meaningful. URN = 100000 + 100·LA + slot (Hertfordshire: 1919xx); UKPRN =
//! 10000000 + 100·LA + slot. Different LAs never share a number.

use chrono::NaiveDate;
use rand::Rng;

use crate::calendar::{Period, date_between, reception_year, shift, ymd};
use crate::ids::{ENGLISH_LAS, nth_english_la_code};
use crate::model::Setting;
use crate::tables::{OTHER_SETTING_TEXT, pick, special_school_share};

// The pool layout: URN slots by kind, then UKPRN slots by kind. `files.rs` writes the GIAS
// extract from the same ranges, so every URN placed here is in the register.
pub(crate) const PRIMARY: std::ops::Range<u32> = 0..40;
pub(crate) const SECONDARY: std::ops::Range<u32> = 40..52;
pub(crate) const SPECIAL: std::ops::Range<u32> = 52..62;
pub(crate) const ALT_PROVISION: std::ops::Range<u32> = 62..64;
pub(crate) const NURSERY: std::ops::Range<u32> = 64..66;
pub(crate) const COLLEGE: std::ops::Range<u32> = 0..4;
pub(crate) const SPECIALIST_POST16: std::ops::Range<u32> = 4..6;
const TRAINING: std::ops::Range<u32> = 6..7;

/// URN of pool slot `slot` in LA `la`.
pub(crate) fn urn(la: u16, slot: u32) -> u32 {
    100_000 + 100 * u32::from(la) + slot
}

/// UKPRN of pool slot `slot` in LA `la`.
pub(crate) fn ukprn(la: u16, slot: u32) -> u32 {
    10_000_000 + 100 * u32::from(la) + slot
}

/// Whether a mainstream slot hosts a SEN unit / resourced provision (fixed per school, so
/// the flags agree across the CYP placed there).
fn has_unit(slot: u32) -> bool {
    (PRIMARY.contains(&slot) && slot % 8 == 3) || (SECONDARY.contains(&slot) && slot % 4 == 1)
}

fn has_resourced_provision(slot: u32) -> bool {
    (PRIMARY.contains(&slot) && slot % 8 == 6) || (SECONDARY.contains(&slot) && slot % 4 == 2)
}

/// What sort of place a setting is; decides its plausible entry date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Primary,
    Secondary,
    Special,
    AltProvision,
    Nursery,
    EarlyYears,
    PostSixteen,
    CodeOnly,
}

fn slot_in(rng: &mut impl Rng, range: std::ops::Range<u32>) -> u32 {
    rng.random_range(range)
}

fn code_only(rng: &mut impl Rng, code: &'static str) -> Setting {
    let other = matches!(code, "OTH" | "NIEO").then(|| pick(rng, &OTHER_SETTING_TEXT));
    Setting {
        urn: None,
        ukprn: None,
        code,
        other,
        unit: false,
        resourced: false,
        res: None,
        wbp: None,
    }
}

/// A school/provider row. SENSetting is `OTH` because the third-party XSD insists on a
/// code even when a URN or UKPRN identifies the place.
fn identified(urn: Option<u32>, ukprn: Option<u32>) -> Setting {
    Setting {
        urn,
        ukprn,
        code: "OTH",
        other: None,
        unit: false,
        resourced: false,
        res: None,
        wbp: None,
    }
}

fn residential(rng: &mut impl Rng, setting: &mut Setting) {
    if rng.random_bool(0.06) {
        setting.res = Some(if rng.random_bool(0.6) { "A" } else { "B" });
    }
}

fn mainstream(rng: &mut impl Rng, la: u16, range: std::ops::Range<u32>) -> Setting {
    let slot = slot_in(rng, range);
    let mut s = identified(Some(urn(la, slot)), None);
    s.unit = has_unit(slot) && rng.random_bool(0.6);
    s.resourced = !s.unit && has_resourced_provision(slot) && rng.random_bool(0.6);
    s
}

fn special(rng: &mut impl Rng, la: u16) -> Setting {
    // About one special-school place in seven is out of area (often independent).
    let school_la = if rng.random_bool(0.15) {
        other_la(rng, la)
    } else {
        la
    };
    let mut s = identified(Some(urn(school_la, slot_in(rng, SPECIAL))), None);
    residential(rng, &mut s);
    s
}

fn post16(rng: &mut impl Rng, la: u16, range: std::ops::Range<u32>) -> Setting {
    let mut s = identified(None, Some(ukprn(la, slot_in(rng, range.clone()))));
    if range == SPECIALIST_POST16 {
        residential(rng, &mut s);
    }
    if range == TRAINING {
        s.wbp = Some(pick(rng, &[("A", 0.3), ("T", 0.1), ("S", 0.6)]));
    }
    s
}

/// An English LA code other than `la`.
pub(crate) fn other_la(rng: &mut impl Rng, la: u16) -> u16 {
    let i = rng.random_range(0..ENGLISH_LAS);
    let code = nth_english_la_code(i);
    if code == la {
        nth_english_la_code(i + 1)
    } else {
        code
    }
}

/// Picks where a CYP in school year `yg` with primary need `need` is placed (or named).
/// Shares follow the national split (≈40% mainstream, ≈35% special, the rest FE,
/// specialist post-16, early years and "educated elsewhere").
pub(crate) fn choose_setting(rng: &mut impl Rng, la: u16, yg: i32, need: &str) -> (Kind, Setting) {
    let u = rng.random::<f64>();
    let p_special = special_school_share(need);
    match yg {
        ..=-1 => {
            if u < 0.55 {
                (Kind::EarlyYears, code_only(rng, "EYP"))
            } else if u < 0.85 {
                let range = if rng.random_bool(0.5) {
                    NURSERY
                } else {
                    PRIMARY
                };
                (
                    Kind::Nursery,
                    identified(Some(urn(la, slot_in(rng, range))), None),
                )
            } else {
                (Kind::Special, special(rng, la))
            }
        }
        0..=11 => {
            if u < 0.025 {
                (Kind::CodeOnly, code_only(rng, "EHE"))
            } else if u < 0.05 {
                (Kind::CodeOnly, code_only(rng, "OLA"))
            } else if u < 0.06 {
                (Kind::CodeOnly, code_only(rng, "OPA"))
            } else if u < 0.068 {
                (Kind::CodeOnly, code_only(rng, "NIEO"))
            } else if u < 0.07 {
                (Kind::CodeOnly, code_only(rng, "NIEC"))
            } else if u < 0.09 && yg >= 3 {
                let s = identified(Some(urn(la, slot_in(rng, ALT_PROVISION))), None);
                (Kind::AltProvision, s)
            } else if rng.random_bool(p_special) {
                (Kind::Special, special(rng, la))
            } else if yg <= 6 {
                (Kind::Primary, mainstream(rng, la, PRIMARY))
            } else {
                (Kind::Secondary, mainstream(rng, la, SECONDARY))
            }
        }
        12..=14 => {
            if u < 0.09 {
                (Kind::CodeOnly, code_only(rng, "NEET"))
            } else if u < 0.39 {
                (Kind::PostSixteen, post16(rng, la, COLLEGE))
            } else if u < 0.44 {
                (Kind::PostSixteen, post16(rng, la, SPECIALIST_POST16))
            } else if u < 0.47 {
                (Kind::PostSixteen, post16(rng, la, TRAINING))
            } else if u < 0.48 {
                (Kind::CodeOnly, code_only(rng, "OTH"))
            } else if rng.random_bool(p_special) {
                (Kind::Special, special(rng, la))
            } else {
                (Kind::Secondary, mainstream(rng, la, SECONDARY))
            }
        }
        _ => {
            if u < 0.17 {
                (Kind::CodeOnly, code_only(rng, "NEET"))
            } else if u < 0.60 {
                (Kind::PostSixteen, post16(rng, la, COLLEGE))
            } else if u < 0.84 {
                (Kind::PostSixteen, post16(rng, la, SPECIALIST_POST16))
            } else if u < 0.92 {
                (Kind::PostSixteen, post16(rng, la, TRAINING))
            } else if u < 0.95 {
                (Kind::CodeOnly, code_only(rng, "OPA"))
            } else if u < 0.98 {
                (Kind::CodeOnly, code_only(rng, "OTH"))
            } else {
                (Kind::CodeOnly, code_only(rng, "NIEO"))
            }
        }
    }
}

/// A second, different setting for a dual-registered CYP.
pub(crate) fn dual_setting(rng: &mut impl Rng, la: u16, first: Kind, yg: i32) -> (Kind, Setting) {
    match first {
        Kind::Primary | Kind::Secondary if rng.random_bool(0.6) => (
            Kind::AltProvision,
            identified(Some(urn(la, slot_in(rng, ALT_PROVISION))), None),
        ),
        Kind::Primary | Kind::Secondary => (Kind::Special, special(rng, la)),
        Kind::Special if (0..=11).contains(&yg) => {
            let range = if yg <= 6 { PRIMARY } else { SECONDARY };
            let kind = if yg <= 6 {
                Kind::Primary
            } else {
                Kind::Secondary
            };
            (kind, mainstream(rng, la, range))
        }
        _ => (Kind::CodeOnly, code_only(rng, "OLA")),
    }
}

/// When the CYP started at a setting of this kind: early September of the year they
/// entered the phase (sometimes later, for moves), never before birth or after census.
pub(crate) fn entry_date(
    rng: &mut impl Rng,
    kind: Kind,
    birth: NaiveDate,
    period: &Period,
) -> NaiveDate {
    let ay = period.academic_year;
    let reception = reception_year(birth);
    let yg = period.year_group(birth);
    let census = period.census;
    let september = |rng: &mut _, year: i32| ymd(year.min(ay), 9, Rng::random_range(rng, 1..=7));
    let date = match kind {
        Kind::Primary => {
            let moved = if rng.random_bool(0.2) {
                rng.random_range(0..=yg.max(0))
            } else {
                0
            };
            september(rng, reception + moved)
        }
        Kind::Secondary => {
            let moved = if rng.random_bool(0.15) {
                rng.random_range(0..=(yg - 7).max(0))
            } else {
                0
            };
            september(rng, reception + 7 + moved)
        }
        Kind::PostSixteen => {
            let back = rng.random_range(0..=(yg - 12).clamp(0, 2));
            september(rng, ay - back)
        }
        Kind::Special => {
            if rng.random_bool(0.2) {
                let lo = september(rng, reception);
                date_between(rng, lo, census)
            } else {
                let year = reception + rng.random_range(0..=yg.max(0));
                september(rng, year)
            }
        }
        Kind::AltProvision => date_between(rng, shift(census, -400), census),
        Kind::Nursery | Kind::EarlyYears => date_between(rng, shift(birth, 400), census),
        Kind::CodeOnly => {
            let lo = shift(birth, 4 * 365).max(shift(census, -3 * 365));
            date_between(rng, lo, census)
        }
    };
    date.clamp(shift(birth, 1), census)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pools_do_not_overlap_between_las() {
        assert_eq!(urn(919, 0), 191_900);
        assert_eq!(ukprn(919, 6), 10_091_906);
        assert!(urn(201, 65) < urn(202, 0));
        assert!(urn(938, 65) <= 999_999);
    }

    #[test]
    fn entry_dates_stay_between_birth_and_census() {
        let period = Period::new(2026);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for age in 0..=25 {
            let birth = ymd(2025 - age, 6, 30);
            for kind in [
                Kind::Primary,
                Kind::Secondary,
                Kind::Special,
                Kind::AltProvision,
                Kind::Nursery,
                Kind::EarlyYears,
                Kind::PostSixteen,
                Kind::CodeOnly,
            ] {
                let d = entry_date(&mut rng, kind, birth, &period);
                assert!(d > birth && d <= period.census, "{kind:?} {birth} {d}");
            }
        }
    }
}
