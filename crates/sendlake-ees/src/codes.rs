//! The API's closed code lists (OpenAPI `GeographicLevelCode`, `TimePeriodCode`) and their
//! flat-CSV spellings (DfE open data standards: `geographic_level` "Local authority",
//! `time_identifier` "Academic year", `time_period` `202425`), so records read like the
//! DfE's own CSV downloads whichever way the data was fetched.

/// Every field a record always has. Filter columns add `filter_<column>` fields on top, which
/// must not clash with these (checked when metadata is resolved).
pub const FIXED_FIELDS: [&str; 21] = [
    "data_set_id",
    "data_set_title",
    "data_set_version",
    "time_period",
    "time_identifier",
    "time_period_code",
    "geographic_level",
    "geographic_level_code",
    "location_code",
    "location_name",
    "country_code",
    "region_code",
    "la_code",
    "new_la_code",
    "filter_key",
    "filters",
    "indicator",
    "indicator_label",
    "unit",
    "value",
    "status",
];

/// Every geographic level code the API defines, with its label.
const LEVELS: [(&str, &str); 19] = [
    ("EDA", "English devolved area"),
    ("INST", "Institution"),
    ("LA", "Local authority"),
    ("LAD", "Local authority district"),
    ("LEP", "Local enterprise partnership"),
    ("LSIP", "Local skills improvement plan area"),
    ("MAT", "MAT"),
    ("MCA", "Mayoral combined authority"),
    ("NAT", "National"),
    ("OA", "Opportunity area"),
    ("PA", "Planning area"),
    ("PCON", "Parliamentary constituency"),
    ("PFA", "Police force area"),
    ("PROV", "Provider"),
    ("REG", "Regional"),
    ("RSC", "RSC region"),
    ("SCH", "School"),
    ("SPON", "Sponsor"),
    ("WARD", "Ward"),
];

/// The codes alone, for messages.
pub(crate) const LEVEL_CODES: [&str; 19] = {
    let mut out = [""; 19];
    let mut i = 0;
    while i < LEVELS.len() {
        out[i] = LEVELS[i].0;
        i += 1;
    }
    out
};

/// The flat-CSV label of a geographic level code, if the API defines the code.
pub(crate) fn level_label(code: &str) -> Option<&'static str> {
    LEVELS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The flat-CSV `time_identifier` of a time period code, if the API defines the code.
pub(crate) fn time_identifier(code: &str) -> Option<String> {
    let fixed = match code {
        "AY" => Some("Academic year"),
        "CY" => Some("Calendar year"),
        "FY" => Some("Financial year"),
        "TY" => Some("Tax year"),
        "RY" => Some("Reporting year"),
        "T1" => Some("Autumn term"),
        "T2" => Some("Spring term"),
        "T3" => Some("Summer term"),
        "T1T2" => Some("Autumn and spring term"),
        "P1" => Some("Part 1 (April to September)"),
        "P2" => Some("Part 2 (October to March)"),
        _ => None,
    };
    if let Some(label) = fixed {
        return Some(label.to_owned());
    }
    let quarter = |prefix: &str, label: &str| {
        code.strip_prefix(prefix)
            .filter(|q| matches!(*q, "Q1" | "Q2" | "Q3" | "Q4"))
            .map(|q| format!("{label} {q}"))
    };
    let numbered = |prefix: &str, max: usize| {
        code.strip_prefix(prefix)
            .filter(|n| !n.starts_with('0'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=max).contains(n))
    };
    quarter("AY", "Academic year")
        .or_else(|| quarter("CY", "Calendar year"))
        .or_else(|| quarter("FY", "Financial year"))
        .or_else(|| quarter("TY", "Tax year"))
        .or_else(|| numbered("M", 12).map(|m| MONTHS[m - 1].to_owned()))
        .or_else(|| numbered("W", 52).map(|w| format!("Week {w}")))
}

/// The API's period (`2024`, `2024/2025`) in the flat-CSV `time_period` form (`2024`,
/// `202425`). Anything else is passed through unchanged: it is still the period, just not
/// one the open data standards describe.
pub(crate) fn csv_time_period(period: &str) -> String {
    match period.split_once('/') {
        Some((start, end))
            if start.len() == 4
                && end.len() == 4
                && start.bytes().chain(end.bytes()).all(|b| b.is_ascii_digit()) =>
        {
            format!("{start}{}", &end[2..])
        }
        _ => period.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_identifiers_cover_the_api_codes() {
        assert_eq!(time_identifier("AY").as_deref(), Some("Academic year"));
        assert_eq!(time_identifier("AYQ3").as_deref(), Some("Academic year Q3"));
        assert_eq!(
            time_identifier("T1T2").as_deref(),
            Some("Autumn and spring term")
        );
        assert_eq!(time_identifier("M12").as_deref(), Some("December"));
        assert_eq!(time_identifier("W52").as_deref(), Some("Week 52"));
        for bad in ["W53", "M0", "M01", "AYQ5", "Q1", "", "ay"] {
            assert_eq!(time_identifier(bad), None, "{bad}");
        }
    }

    #[test]
    fn levels_and_periods_in_csv_form() {
        assert_eq!(level_label("LA"), Some("Local authority"));
        assert_eq!(level_label("la"), None);
        assert!(LEVEL_CODES.contains(&"WARD") && !LEVEL_CODES.contains(&""));
        assert_eq!(csv_time_period("2024/2025"), "202425");
        assert_eq!(csv_time_period("2024"), "2024");
        assert_eq!(csv_time_period("2024/25"), "2024/25");
    }
}
