//! Identifiers: LA codes, UPN and ULN check algorithms, and the injective schemes that make
//! every generated UPN and ULN unique across all files of a run.
//!
//! Uniqueness is by construction, not by a seen-set, so memory stays flat however many
//! persons are written.

/// Letters a UPN check character (and a temporary UPN's last character) may take, valued
/// 0..=22 in this order: I, O and S are left out.
pub(crate) const UPN_ALPHABET: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// LA-code ranges a UPN's characters 2–4 may take (census error 1530; send-domain.md §1.8).
const VALID_LA_RANGES: &[(u16, u16)] = &[
    (1, 5),
    (201, 213),
    (301, 320),
    (330, 336),
    (340, 344),
    (350, 359),
    (370, 373),
    (380, 384),
    (390, 394),
    (420, 420),
    (660, 681),
    (701, 708),
    (800, 803),
    (805, 808),
    (810, 813),
    (815, 816),
    (820, 823),
    (825, 826),
    (830, 831),
    (835, 837),
    (840, 841),
    (845, 846),
    (850, 852),
    (855, 857),
    (860, 861),
    (865, 896),
    (908, 909),
    (916, 916),
    (919, 919),
    (921, 921),
    (925, 926),
    (928, 929),
    (931, 931),
    (933, 933),
    (935, 938),
];

/// Ranges that are valid in a UPN but are not English LAs (001–005 are special codes,
/// 660–681 Welsh authorities, 701–708 other): [`la_codes`] hands them out last.
const NON_ENGLISH_RANGES: &[(u16, u16)] = &[(1, 5), (660, 681), (701, 708)];

/// How many distinct valid LA codes exist, so how many files one run can hold.
pub const MAX_LAS: usize = 189;

/// Whether `code` lies in the valid UPN LA-code ranges.
pub(crate) fn is_valid_la_code(code: u16) -> bool {
    in_ranges(VALID_LA_RANGES, code)
}

fn in_ranges(ranges: &[(u16, u16)], code: u16) -> bool {
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
}

fn all_valid_la_codes() -> impl Iterator<Item = u16> {
    VALID_LA_RANGES.iter().flat_map(|&(lo, hi)| lo..=hi)
}

fn is_english(code: &u16) -> bool {
    !in_ranges(NON_ENGLISH_RANGES, *code)
}

/// How many of the valid codes are English LAs (the valid ranges minus 001–005, 660–681
/// and 701–708).
pub(crate) const ENGLISH_LAS: usize = 154;

/// The `i`-th English LA code in ascending order, wrapping around; used to pick "some other
/// LA" (transfers, moves, moved-in UPNs, out-of-area schools).
pub(crate) fn nth_english_la_code(i: usize) -> u16 {
    all_valid_la_codes()
        .filter(is_english)
        .nth(i % ENGLISH_LAS)
        .unwrap_or(919)
}

/// A deterministic list of `n` distinct LA codes, all valid in a UPN.
///
/// `first` (if given) comes first; then English LA codes in ascending order, then the
/// remaining valid codes (Welsh and special ranges). Returns fewer than `n` codes when `n`
/// exceeds [`MAX_LAS`] (plus one if `first` is outside the valid ranges).
pub fn la_codes(n: usize, first: Option<u16>) -> Vec<u16> {
    let english = all_valid_la_codes().filter(is_english);
    let others = all_valid_la_codes().filter(|c| !is_english(c));
    first
        .into_iter()
        .chain(english.chain(others).filter(|&c| Some(c) != first))
        .take(n)
        .collect()
}

/// The UPN check letter for the 12 characters after it (positions 2–13).
///
/// Positions 2–12 must be digits; position 13 a digit or, for a temporary UPN, a letter of
/// the UPN alphabet. Each value is weighted by its position (2..=13), the sum taken mod 23
/// and mapped onto `ABCDEFGHJKLMNPQRTUVWXYZ`. Returns `None` for malformed input.
///
/// ```
/// assert_eq!(sendlake_sim::upn_check_letter("801200005001"), Some('B'));
/// assert_eq!(sendlake_sim::upn_check_letter("91912345678A"), Some('Q'));
/// assert_eq!(sendlake_sim::upn_check_letter("9191234567"), None);
/// ```
pub fn upn_check_letter(body12: &str) -> Option<char> {
    let bytes = body12.as_bytes();
    if bytes.len() != 12 {
        return None;
    }
    let mut sum = 0u32;
    for (i, &c) in bytes.iter().enumerate() {
        let value = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else if i == 11 {
            let upper = c.to_ascii_uppercase();
            UPN_ALPHABET.iter().position(|&a| a == upper)? as u32
        } else {
            return None;
        };
        sum += value * (i as u32 + 2);
    }
    Some(char::from(UPN_ALPHABET[(sum % 23) as usize]))
}

/// The ULN check digit for the first nine digits.
///
/// Digits are weighted 10..=2, `r = sum mod 11`; `r = 0` has no valid check digit, otherwise
/// it is `10 - r` (always 0..=9). Returns `None` for `r = 0`, a leading zero or malformed
/// input.
///
/// ```
/// assert_eq!(sendlake_sim::uln_check_digit("123456789"), Some(9));
/// assert_eq!(sendlake_sim::uln_check_digit("012345678"), None);
/// ```
pub fn uln_check_digit(first9: &str) -> Option<u8> {
    if first9.starts_with('0') {
        return None;
    }
    match weighted_sum_10_to_2(first9)? % 11 {
        0 => None,
        r => Some((10 - r) as u8),
    }
}

/// The NHS number check digit of nine digits: weights 10..=2, `11 - (sum mod 11)`, 11 → 0,
/// 10 → no valid number.
pub fn nhs_check_digit(first9: &str) -> Option<u8> {
    match 11 - weighted_sum_10_to_2(first9)? % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// The sum ULN and NHS check digits share: nine ASCII digits weighted 10 down to 2.
fn weighted_sum_10_to_2(first9: &str) -> Option<u32> {
    let bytes = first9.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .zip((2..=10u32).rev())
            .map(|(&c, w)| u32::from(c - b'0') * w)
            .sum(),
    )
}

/// Which UPN shape a person gets. The digit layout (LA, establishment, year, serial) keeps
/// the three shapes in disjoint spaces, so no two persons of a run can share a UPN:
///
/// * `Home`: file LA, establishment `2000 + k / 1000`, serial `k % 1000` (k = person index);
/// * `MovedIn`: another LA's code, establishment `8000 + 10 * la_index + k / 1000`
///   (k < 10 000), serial `k % 1000`; establishment numbers ≥ 8000 never occur for `Home`;
/// * `Temporary`: file LA, establishment as `Home`, two serial digits and a final letter
///   encoding `k % 1000` (shape `…\d{11}[A-Z]`, so never equal to a permanent UPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpnKind {
    Home,
    MovedIn { from_la: u16 },
    Temporary,
}

/// Persons with an index below this may get a moved-in UPN (see [`UpnKind`]).
pub(crate) const MOVED_IN_MAX_INDEX: usize = 10_000;

/// Builds a UPN. `issue_yy` is the two-digit issuing year; it does not take part in
/// uniqueness.
pub(crate) fn make_upn(
    kind: UpnKind,
    file_la: u16,
    la_index: usize,
    k: usize,
    issue_yy: u32,
) -> Option<String> {
    let serial = k % 1000;
    let body = match kind {
        UpnKind::Home => format!(
            "{file_la:03}{:04}{:02}{serial:03}",
            2000 + k / 1000,
            issue_yy % 100
        ),
        UpnKind::MovedIn { from_la } => {
            if k >= MOVED_IN_MAX_INDEX || la_index >= MAX_LAS {
                return None;
            }
            format!(
                "{from_la:03}{:04}{:02}{serial:03}",
                8000 + 10 * la_index + k / 1000,
                issue_yy % 100
            )
        }
        UpnKind::Temporary => format!(
            "{file_la:03}{:04}{:02}{:02}{}",
            2000 + k / 1000,
            issue_yy % 100,
            serial / 23,
            char::from(UPN_ALPHABET[serial % 23])
        ),
    };
    let check = upn_check_letter(&body)?;
    Some(format!("{check}{body}"))
}

/// Size of the ULN identity space: eight digits `10_000_000..=99_999_999`.
pub(crate) const ULN_SPACE: u64 = 90_000_000;

/// Builds a ULN from a run-wide person number `global < ULN_SPACE`.
///
/// `global` is scrambled by an affine bijection (7 919 is prime and shares no factor with
/// 90 000 000) so neighbours do not get neighbouring ULNs, then becomes digits 1–8; digit 9
/// is free and chosen so that a check digit exists. Two consecutive choices differ in the
/// weighted sum by 2 (or 18 when wrapping 9 → 0), never a multiple of 11, so one of them
/// always works.
pub(crate) fn make_uln(global: u64) -> Option<String> {
    if global >= ULN_SPACE {
        return None;
    }
    let scrambled = (global * 7_919 + 12_345) % ULN_SPACE;
    let head = 10_000_000 + scrambled;
    [scrambled % 10, (scrambled + 1) % 10]
        .into_iter()
        .find_map(|t| {
            let first9 = format!("{head}{t}");
            uln_check_digit(&first9).map(|c| format!("{first9}{c}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn upn_examples_from_reference() {
        assert_eq!(upn_check_letter("801200005001"), Some('B'));
        assert_eq!(upn_check_letter("919123456789"), Some('T'));
        assert_eq!(upn_check_letter("91912345678A"), Some('Q'));
        assert_eq!(upn_check_letter("91912345678a"), Some('Q'));
        // I is not in the alphabet, and letters are only allowed last.
        assert_eq!(upn_check_letter("91912345678I"), None);
        assert_eq!(upn_check_letter("9191234567A8"), None);
    }

    #[test]
    fn uln_examples_from_reference() {
        assert_eq!(uln_check_digit("123456789"), Some(9));
        assert_ne!(uln_check_digit("123456789"), Some(0));
        assert_eq!(uln_check_digit("12345678"), None);
        assert_eq!(uln_check_digit("12345678x"), None);
        // A first nine whose weighted sum is a multiple of 11 has no check digit.
        let zero_case = (100_000_000u32..100_000_200)
            .map(|n| n.to_string())
            .find(|s| {
                let sum: u32 = s
                    .bytes()
                    .zip((2..=10u32).rev())
                    .map(|(c, w)| u32::from(c - b'0') * w)
                    .sum();
                sum.is_multiple_of(11)
            })
            .unwrap();
        assert_eq!(uln_check_digit(&zero_case), None);
    }

    #[test]
    fn la_codes_start_with_first_and_are_distinct_and_valid() {
        let codes = la_codes(153, Some(919));
        assert_eq!(codes.len(), 153);
        assert_eq!(codes[0], 919);
        assert_eq!(codes[1], 201);
        let set: HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 153);
        assert!(codes.iter().all(|&c| is_valid_la_code(c)));
        // The first 154 are English: no Welsh code among the first 153.
        assert!(!codes.iter().any(|c| (660..=681).contains(c)));
        assert_eq!(la_codes(500, None).len(), MAX_LAS);
        assert_eq!(la_codes(3, None), vec![201, 202, 203]);
        assert_eq!(all_valid_la_codes().count(), MAX_LAS);
        assert_eq!(all_valid_la_codes().filter(is_english).count(), ENGLISH_LAS);
        assert_eq!(nth_english_la_code(0), 201);
        assert_eq!(nth_english_la_code(ENGLISH_LAS - 1), 938);
        assert_eq!(nth_english_la_code(ENGLISH_LAS), 201);
    }

    #[test]
    fn upn_schemes_are_valid_and_disjoint() {
        let mut seen = HashSet::new();
        for (la_index, la) in [(0usize, 919u16), (1, 201)] {
            for k in (0..12_000).step_by(7) {
                for kind in [
                    UpnKind::Home,
                    UpnKind::Temporary,
                    UpnKind::MovedIn { from_la: 201 },
                    UpnKind::MovedIn { from_la: 919 },
                ] {
                    let Some(upn) = make_upn(kind, la, la_index, k, 15) else {
                        assert!(k >= MOVED_IN_MAX_INDEX);
                        continue;
                    };
                    assert_eq!(upn.len(), 13);
                    assert_eq!(upn_check_letter(&upn[1..]), upn.chars().next());
                    assert!(seen.insert(upn.clone()), "duplicate {upn}");
                }
            }
        }
    }

    #[test]
    fn uln_scheme_is_valid_and_injective() {
        let mut seen = HashSet::new();
        for g in (0..ULN_SPACE).step_by(9_973).chain(1..5_000) {
            let uln = make_uln(g).unwrap();
            assert_eq!(uln.len(), 10);
            assert_ne!(uln.as_bytes()[0], b'0');
            let check = uln_check_digit(&uln[..9]).unwrap();
            assert_eq!(uln.as_bytes()[9] - b'0', check);
            assert!(seen.insert(uln));
        }
        assert_eq!(make_uln(ULN_SPACE), None);
    }
}
