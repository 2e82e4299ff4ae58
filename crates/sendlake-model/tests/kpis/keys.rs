//! The keys the KPI tests look rows up by: an LA 919 calendar year or month, a district's
//! calendar year, a SEN2 plan; and the ONS codes of the two districts the test children live in.

pub const STEVENAGE: &str = "E07000243";
pub const ST_ALBANS: &str = "E07000240";

/// The key of a calendar-year, LA 919, SEN2 row.
pub fn la_year(period_start: &'static str) -> [(&'static str, &'static str); 5] {
    [
        ("period_type", "calendar_year"),
        ("period_start", period_start),
        ("geography_level", "la"),
        ("geography_code", "919"),
        ("source", "sen2"),
    ]
}

/// The key of a month, LA 919, SEN2 row.
pub fn la_month(period_start: &'static str) -> [(&'static str, &'static str); 5] {
    [
        ("period_type", "month"),
        ("period_start", period_start),
        ("geography_level", "la"),
        ("geography_code", "919"),
        ("source", "sen2"),
    ]
}

/// The key of a calendar-year, SEN2 row for a district.
pub fn district_year(
    period_start: &'static str,
    district: &'static str,
) -> [(&'static str, &'static str); 5] {
    [
        ("period_type", "calendar_year"),
        ("period_start", period_start),
        ("geography_level", "district"),
        ("geography_code", district),
        ("source", "sen2"),
    ]
}

pub fn sen2_plan(request: &'static str) -> [(&'static str, &'static str); 2] {
    [("source_system", "sen2"), ("request_ref", request)]
}
