//! The family feedback survey as Excel saves it: ratings only, by respondent group and
//! locality, with no free text that could identify a family.

use chrono::TimeDelta;
use rand::Rng;

use super::geography::HERTS_QUADRANTS;
use super::{csv_line, dmy, row_rng};
use crate::calendar::ymd;
use crate::tables::pick;

/// The feedback survey's column headers (ratings 1 = strongly disagree .. 5 = strongly
/// agree).
pub const FEEDBACK_HEADERS: [&str; 9] = [
    "Response ID",
    "Submitted",
    "Respondent group",
    "Locality",
    "I was kept informed",
    "My child's needs are understood",
    "I felt listened to",
    "Support was put in place quickly",
    "Overall experience",
];

/// Rows in the feedback file.
pub const FEEDBACK_RESPONSES: usize = 400;

/// A family feedback survey export as Excel saves "CSV UTF-8": a byte-order mark, CRLF,
/// `dd/mm/yyyy` dates. 400 responses from January to August 2026 by parents and carers,
/// young people and professionals; "My child's needs are understood" is blank for young
/// people, and about one answer in twenty is skipped. No free text: comments could identify
/// a family.
pub fn family_feedback_csv() -> Vec<u8> {
    const GROUPS: [(&str, f64); 3] = [
        ("Parent/carer", 70.0),
        ("Young person", 15.0),
        ("Professional", 15.0),
    ];
    let first_day = ymd(2026, 1, 2);
    let mut out = String::from("\u{feff}");
    csv_line(&mut out, &FEEDBACK_HEADERS, "\r\n");
    for i in 0..FEEDBACK_RESPONSES {
        let mut rng = row_rng(b"feedback", i as u64, 0);
        // Responses arrive steadily through the year, roughly in id order.
        let day = (i as i64 * 238) / FEEDBACK_RESPONSES as i64 + rng.random_range(0..3);
        let date = first_day + TimeDelta::days(day);
        let group = pick(&mut rng, &GROUPS);
        let locality = if rng.random_bool(0.04) {
            ""
        } else {
            HERTS_QUADRANTS[rng.random_range(0..HERTS_QUADRANTS.len())]
        };
        // Parents rate lowest, professionals highest; all improve slowly over the year.
        let mood = match group {
            "Parent/carer" => 2.6,
            "Young person" => 3.1,
            _ => 3.4,
        } + 0.6 * (day as f64 / 238.0);
        let mut fields = vec![
            format!("FB26-{:04}", i + 1),
            dmy(date, '/'),
            group.to_owned(),
            locality.to_owned(),
        ];
        for q in 0..5 {
            let skip = (q == 1 && group == "Young person") || rng.random_bool(0.05);
            let rating = (mood + rng.random_range(-1.8..1.8)).round().clamp(1.0, 5.0) as u8;
            fields.push(if skip {
                String::new()
            } else {
                rating.to_string()
            });
        }
        csv_line(&mut out, &fields, "\r\n");
    }
    out.into_bytes()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_is_utf8_with_bom_and_has_blanks() {
        let bytes = family_feedback_csv();
        assert!(bytes.starts_with(b"\xEF\xBB\xBFResponse ID,"));
        let text = String::from_utf8(bytes).unwrap();
        let rows: Vec<&str> = text
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(rows.len(), FEEDBACK_RESPONSES);
        assert!(rows.iter().any(|r| r.contains(",,")));
        for r in rows {
            let f: Vec<&str> = r.split(',').collect();
            assert_eq!(f.len(), FEEDBACK_HEADERS.len());
            assert!(
                f[4..]
                    .iter()
                    .all(|v| v.is_empty() || ["1", "2", "3", "4", "5"].contains(v))
            );
        }
    }
}
