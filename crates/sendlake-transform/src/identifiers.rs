//! Check algorithms for the identifiers children's data carries (reference §1.8), and postcode
//! degradation. Pure functions: no allocation beyond the returned values, no panics on any input.

/// The 23 letters used for UPN check letters and temporary-UPN final letters (I, O, S excluded),
/// valued 0..22 in this order.
const UPN_ALPHABET: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// What kind of UPN passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpnKind {
    /// `A999999999999`: the permanent number.
    Permanent,
    /// `A99999999999A`: an interim number until the permanent one is found.
    Temporary,
}

/// Why a UPN failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpnError {
    /// Not 13 characters of the permanent or temporary form (census 1540/1550).
    Format,
    /// The check letter does not match (census 1510).
    CheckLetter,
    /// Characters 2–4 are not a recognised LA code (census 1530).
    LaRange,
}

/// Why a ULN failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UlnError {
    /// Not 10 digits with a non-zero first digit.
    Format,
    /// Wrong check digit.
    CheckDigit,
}

fn upn_letter_value(c: u8) -> Option<u32> {
    UPN_ALPHABET.iter().position(|&l| l == c).map(|p| p as u32)
}

/// Computes the check letter for the 12 characters after it (positions 2–13).
pub fn upn_check_letter(body: &[u8]) -> Option<u8> {
    if body.len() != 12 {
        return None;
    }
    let mut sum = 0u32;
    for (i, &c) in body.iter().enumerate() {
        let value = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            upn_letter_value(c)?
        };
        sum += value * (i as u32 + 2);
    }
    Some(UPN_ALPHABET[(sum % 23) as usize])
}

/// Validates a UPN (already trimmed; letters must be upper case, as the data standard says).
/// `la_code_valid` decides whether characters 2–4 are a recognised LA code; the list is data
/// (`schemas/code_lists/la_code.toml`) because the reference could only confirm a copy of it.
pub fn check_upn(upn: &str, la_code_valid: impl Fn(&str) -> bool) -> Result<UpnKind, UpnError> {
    let b = upn.as_bytes();
    if b.len() != 13 || !b[0].is_ascii_uppercase() || !b[1..12].iter().all(u8::is_ascii_digit) {
        return Err(UpnError::Format);
    }
    let kind = if b[12].is_ascii_digit() {
        UpnKind::Permanent
    } else if upn_letter_value(b[12]).is_some() {
        UpnKind::Temporary
    } else {
        return Err(UpnError::Format);
    };
    if upn_check_letter(&b[1..]) != Some(b[0]) {
        return Err(UpnError::CheckLetter);
    }
    if !la_code_valid(&upn[1..4]) {
        return Err(UpnError::LaRange);
    }
    Ok(kind)
}

/// Validates a ULN: 10 digits, first non-zero, weights 10..2, `r = sum mod 11`, `r ≠ 0`,
/// check digit `10 − r`.
pub fn check_uln(uln: &str) -> Result<(), UlnError> {
    let b = uln.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) || b[0] == b'0' {
        return Err(UlnError::Format);
    }
    let sum: u32 = b[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(&d, w)| u32::from(d - b'0') * w)
        .sum();
    let r = sum % 11;
    if r == 0 || 10 - r != u32::from(b[9] - b'0') {
        return Err(UlnError::CheckDigit);
    }
    Ok(())
}

/// Validates an NHS number (spaces allowed): 10 digits, weights 10..2, check `11 − (sum mod 11)`,
/// 11 → 0, 10 invalid. Returns the 10 digits without spaces.
pub fn check_nhs_number(nhs: &str) -> Option<String> {
    let digits: String = nhs.chars().filter(|c| !c.is_whitespace()).collect();
    let b = digits.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(&d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return None,
        c => c,
    };
    (check == u32::from(b[9] - b'0')).then_some(digits)
}

/// The outward code (postcode district) of a UK postcode, upper-cased, or `None` if the
/// postcode is not well formed. Spaces are ignored, so `sg12ab` and `SG1 2AB` both give `SG1`.
pub fn postcode_district(postcode: &str) -> Option<String> {
    if postcode.is_ascii() {
        // Every record has a postcode: compact it on the stack. The whitespace set is what
        // `char::is_whitespace` means for ASCII (it includes vertical tab).
        let mut buf = [0u8; 7];
        let mut n = 0;
        for &c in postcode.as_bytes() {
            if matches!(c, b'\t'..=b'\r' | b' ') {
                continue;
            }
            let slot = buf.get_mut(n)?;
            *slot = c.to_ascii_uppercase();
            n += 1;
        }
        return district(&buf[..n]);
    }
    let compact: String = postcode
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = compact.as_bytes();
    if !b.is_ascii() {
        return None;
    }
    district(b)
}

/// The outward code of a compacted, upper-cased ASCII postcode.
fn district(b: &[u8]) -> Option<String> {
    if !(5..=7).contains(&b.len()) {
        return None;
    }
    let (o, i) = b.split_at(b.len() - 3);
    if !(i[0].is_ascii_digit() && i[1].is_ascii_alphabetic() && i[2].is_ascii_alphabetic()) {
        return None;
    }
    // Outward forms: A9, A99, AA9, AA99, A9A, AA9A.
    let alpha = |k: usize| o.get(k).is_some_and(u8::is_ascii_alphabetic);
    let digit = |k: usize| o.get(k).is_some_and(u8::is_ascii_digit);
    let ok = match o.len() {
        2 => alpha(0) && digit(1),
        3 => alpha(0) && ((digit(1) && (digit(2) || alpha(2))) || (alpha(1) && digit(2))),
        4 => alpha(0) && alpha(1) && digit(2) && (digit(3) || alpha(3)),
        _ => false,
    };
    ok.then(|| o.iter().map(|&c| char::from(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_la(_: &str) -> bool {
        true
    }

    #[test]
    fn upn_worked_examples_from_the_reference() {
        assert_eq!(check_upn("B801200005001", any_la), Ok(UpnKind::Permanent));
        assert_eq!(check_upn("T919123456789", any_la), Ok(UpnKind::Permanent));
        assert_eq!(check_upn("Q91912345678A", any_la), Ok(UpnKind::Temporary));
        // The third-party mock's bad UPNs.
        assert_eq!(
            check_upn("X123456789875", any_la),
            Err(UpnError::CheckLetter)
        );
        assert_eq!(check_upn("X123456789832", any_la), Ok(UpnKind::Permanent));
        assert_eq!(
            check_upn("X123456789832", |la| la == "919"),
            Err(UpnError::LaRange)
        );
    }

    #[test]
    fn upn_format_errors() {
        for bad in [
            "",
            "T91912345678",
            "T9191234567890",
            "t919123456789",
            "T91912345678I",
            "1919123456789",
            "T91912345678é",
        ] {
            assert_eq!(check_upn(bad, any_la), Err(UpnError::Format), "{bad}");
        }
    }

    #[test]
    fn uln_check_digit() {
        assert_eq!(check_uln("1234567899"), Ok(()));
        assert_eq!(check_uln("1234567890"), Err(UlnError::CheckDigit));
        assert_eq!(check_uln("1234567089"), Err(UlnError::CheckDigit));
        assert_eq!(check_uln("9999999999"), Err(UlnError::CheckDigit));
        assert_eq!(check_uln("0234567899"), Err(UlnError::Format));
        assert_eq!(check_uln("123456789"), Err(UlnError::Format));
        assert_eq!(check_uln("12345678a9"), Err(UlnError::Format));
    }

    #[test]
    fn nhs_number_check() {
        assert_eq!(
            check_nhs_number("943 476 5870").as_deref(),
            Some("9434765870")
        );
        assert_eq!(
            check_nhs_number("9434765919").as_deref(),
            Some("9434765919")
        );
        assert_eq!(check_nhs_number("9434765871"), None);
        assert_eq!(check_nhs_number("943476587"), None);
    }

    #[test]
    fn postcode_districts() {
        assert_eq!(postcode_district("SG1 2AB").as_deref(), Some("SG1"));
        assert_eq!(postcode_district("sg12ab").as_deref(), Some("SG1"));
        assert_eq!(postcode_district("AL10 9XY").as_deref(), Some("AL10"));
        assert_eq!(postcode_district("W1A 1AA").as_deref(), Some("W1A"));
        assert_eq!(postcode_district("EC1A 1BB").as_deref(), Some("EC1A"));
        assert_eq!(postcode_district("M1 1AE").as_deref(), Some("M1"));
        assert_eq!(postcode_district("AA11AA").as_deref(), Some("AA1"));
        assert_eq!(
            postcode_district(" s\u{b}g1\t2ab\r\n").as_deref(),
            Some("SG1")
        );
        assert_eq!(postcode_district("sg1\u{2003}2ab").as_deref(), Some("SG1"));
        assert_eq!(postcode_district("SG1\u{a0}2AB").as_deref(), Some("SG1"));
        for bad in [
            "",
            "SG1",
            "12345",
            "SG1 AAB",
            "SG1 2A1",
            "SGG1 2AB",
            "S€1 2AB",
            "SG1 2ABX",
        ] {
            assert_eq!(postcode_district(bad), None, "{bad}");
        }
    }
}
