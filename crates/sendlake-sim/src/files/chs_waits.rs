//! The NHS community health services waiting-list SitRep: provider-level waits by service
//! line, for the same providers and service lines as the partner simulator's NHS API.

use chrono::NaiveDate;
use rand::Rng;

use super::geography::demo_las;
use super::{csv_line, row_rng};
use crate::calendar::ymd;
use crate::{Sen2SimConfig, SimError};

/// The SitRep's column headers (send-domain.md §5.3 bands).
pub const CHS_HEADERS: [&str; 14] = [
    "Period",
    "Provider Code",
    "Provider Name",
    "ICB Code",
    "ICB Name",
    "Service Line (CYP)",
    "0-1 weeks",
    "1-2 weeks",
    "2-4 weeks",
    "4-12 weeks",
    "12-18 weeks",
    "18-52 weeks",
    "52+ weeks",
    "Total waiting",
];

/// The physical line of the SitRep's header: two title lines and a blank line come first.
pub const CHS_HEADER_ROW: usize = 4;

/// The partner simulator's service lines (serve/data.rs `SERVICE_LINES`), with the typical
/// wait in weeks, so SitRep rows join the NHS API's referrals by service line.
const SERVICE_LINES: [(&str, f64); 5] = [
    ("community paediatrics", 33.0),
    ("speech and language therapy", 22.0),
    ("occupational therapy", 18.0),
    ("physiotherapy", 12.0),
    ("neurodevelopmental assessment", 40.0),
];

/// Share of a provider's children waiting per service line (send-domain.md §5.3: 55%
/// community paediatrics, 21% speech and language therapy nationally).
const LINE_SHARE: [f64; 5] = [0.42, 0.21, 0.09, 0.06, 0.22];

/// Band edges in weeks.
const BAND_EDGES: [f64; 8] = [0.0, 1.0, 2.0, 4.0, 12.0, 18.0, 52.0, f64::INFINITY];

/// The children's community provider of LA `la`, as the partner simulator names it
/// (serve/data.rs `provider_code`): Hertfordshire Community NHS Trust `RY4`, elsewhere a
/// made-up `X` code. Also its name, ICB and children waiting across the five lines.
fn provider(la: u16, la_name: &str) -> (String, String, &'static str, &'static str, f64) {
    match la {
        919 => (
            "RY4".into(),
            "Hertfordshire Community NHS Trust".into(),
            "QM7",
            "NHS Hertfordshire and West Essex Integrated Care Board",
            5_600.0,
        ),
        201 => (
            "X201".into(),
            format!("{la_name} Children's Community Services (synthetic)"),
            "QMF",
            "NHS North East London Integrated Care Board",
            150.0,
        ),
        _ => (
            format!("X{la:03}"),
            format!("{la_name} Children's Community Services (synthetic)"),
            "QMJ",
            "NHS North Central London Integrated Care Board",
            1_100.0,
        ),
    }
}

/// The last day of month `m` months after October 2025.
fn month_end(m: u32) -> NaiveDate {
    sendlake_calendar::month_end(ymd(2025 + ((9 + m) / 12) as i32, (9 + m) % 12 + 1, 1))
}

/// A community health services waiting-list SitRep for children and young people, October
/// 2025 to September 2026, one row per month, provider and service line; UTF-8, CRLF.
///
/// Above the header ([`CHS_HEADER_ROW`]) are two title lines and a blank line, padded with
/// commas as Excel exports them. Counts 1–4 are suppressed as `*` (the small City of London
/// provider has many); one provider's physiotherapy return for February 2026 is missing
/// (all counts blank). Waits follow an exponential tail around each line's typical wait,
/// shortening slowly over the year.
///
/// # Errors
/// [`SimError::Config`] if `cfg` names a non-English LA.
pub fn chs_waits_csv(cfg: &Sen2SimConfig) -> Result<Vec<u8>, SimError> {
    let las = demo_las(cfg)?;
    let pad = ",".repeat(CHS_HEADERS.len() - 1);
    let mut out = String::new();
    out.push_str(
        "Community Health Services Waiting Lists: Children and Young People (synthetic demo data)",
    );
    out.push_str(&pad);
    out.push_str("\r\n");
    csv_line(
        &mut out,
        &[
            "Provider-level waiting list by service line and weeks waited, October 2025 to September 2026. Counts of 1 to 4 are shown as *.",
        ],
        "",
    );
    out.push_str(&pad);
    out.push_str("\r\n");
    out.push_str(&pad);
    out.push_str("\r\n");
    csv_line(&mut out, &CHS_HEADERS, "\r\n");
    for m in 0..12u32 {
        let period = month_end(m);
        for (li, &(la, la_name, _)) in las.iter().enumerate() {
            let (code, name, icb, icb_name, size) = provider(la, la_name);
            for (si, &(line, mean_weeks)) in SERVICE_LINES.iter().enumerate() {
                let mut rng = row_rng(b"chs-sitr", u64::from(m), (li * 10 + si) as u64);
                let mut fields = vec![
                    period.to_string(),
                    code.clone(),
                    name.clone(),
                    icb.to_owned(),
                    icb_name.to_owned(),
                    line.to_owned(),
                ];
                // A provider that missed one month's return for one line.
                if li == 1 && si == 3 && m == 4 {
                    fields.extend(std::iter::repeat_n(String::new(), 8));
                    csv_line(&mut out, &fields, "\r\n");
                    continue;
                }
                let trend = 1.0 - 0.012 * f64::from(m);
                let total = size * LINE_SHARE[si] * trend * (1.0 + rng.random_range(-0.04..0.04));
                let mean = mean_weeks * (1.0 - 0.01 * f64::from(m));
                let mut sum = 0u64;
                for w in BAND_EDGES.windows(2) {
                    let share = (-w[0] / mean).exp() - (-w[1] / mean).exp();
                    let n = (total * share).round().max(0.0) as u64;
                    sum += n;
                    fields.push(if (1..=4).contains(&n) {
                        "*".to_owned()
                    } else {
                        n.to_string()
                    });
                }
                fields.push(sum.to_string());
                csv_line(&mut out, &fields, "\r\n");
            }
        }
    }
    Ok(out.into_bytes())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::demo_files_config;

    #[test]
    fn chs_waits_have_title_lines_suppression_and_consistent_totals() {
        let text = String::from_utf8(chs_waits_csv(&demo_files_config()).unwrap()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[CHS_HEADER_ROW - 1], CHS_HEADERS.join(","));
        let rows = &lines[CHS_HEADER_ROW..];
        assert_eq!(rows.len(), 12 * 3 * 5);
        assert!(rows.iter().any(|r| r.contains(",*,")));
        assert!(rows.iter().any(|r| r.ends_with(",,,,,,,,")));
        assert!(rows.iter().any(|r| r.starts_with("2026-09-30,RY4,")));
        for r in rows {
            let f: Vec<&str> = r.split(',').collect();
            let total: u64 = f[13].parse().unwrap_or(0);
            let shown: u64 = f[6..13].iter().filter_map(|v| v.parse::<u64>().ok()).sum();
            let hidden = f[6..13].iter().filter(|v| **v == "*").count() as u64;
            assert!(shown <= total && total <= shown + 4 * hidden, "{r}");
        }
    }
}
