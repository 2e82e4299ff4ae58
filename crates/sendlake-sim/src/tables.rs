//! Weighted code tables, calibrated on the national and Hertfordshire figures in
//! `send-domain.md` §7.3–7.4. Weights need not sum to 100; [`pick`] normalises.

use rand::Rng;

/// Draws one value with probability proportional to its weight.
pub(crate) fn pick<T: Copy, const N: usize>(rng: &mut impl Rng, table: &[(T, f64); N]) -> T {
    const { assert!(N > 0, "empty weight table") };
    let total: f64 = table.iter().map(|e| e.1).sum();
    let mut x = rng.random::<f64>() * total;
    for &(value, weight) in table {
        if x < weight {
            return value;
        }
        x -= weight;
    }
    // Only reachable through floating-point rounding at the top end.
    table[N - 1].0
}

/// Sex of CYP with EHC plans: 70.6% male nationally (Jan 2025).
pub(crate) const SEX: [(&str, f64); 3] = [("M", 70.4), ("F", 29.2), ("U", 0.4)];

/// Ethnicity, main CBDS codes; national EHCP shares (≈70% White, 8% Asian, 6% Black).
pub(crate) const ETHNICITY: [(&str, f64); 20] = [
    ("WBRI", 64.9),
    ("WIRI", 0.3),
    ("WIRT", 0.3),
    ("WOTH", 4.2),
    ("WROM", 0.4),
    ("MWBC", 1.6),
    ("MWBA", 0.7),
    ("MWAS", 1.1),
    ("MOTH", 1.9),
    ("AIND", 1.4),
    ("APKN", 3.0),
    ("ABAN", 1.3),
    ("AOTH", 1.6),
    ("BCRB", 1.0),
    ("BAFR", 3.6),
    ("BOTH", 1.0),
    ("CHNE", 0.3),
    ("OOTH", 1.7),
    ("REFU", 1.2),
    ("NOBT", 2.5),
];

/// Extended CBDS sub-codes some LA systems send instead of the main code (2026 format only;
/// the normaliser maps them back: WENG/WSCO/WWEL→WBRI, AMPK→APKN, BSOM→BAFR, OARA→OOTH).
pub(crate) fn extended_ethnicity(main: &str, roll: usize) -> Option<&'static str> {
    match main {
        "WBRI" => Some(["WENG", "WSCO", "WWEL"][roll % 3]),
        "APKN" => Some("AMPK"),
        "BAFR" => Some("BSOM"),
        "OOTH" => Some("OARA"),
        _ => None,
    }
}

/// Primary need of all EHC plans, England, January 2025 (unknown 0.8% left out: SENneed is
/// mandatory in an active plan).
pub(crate) const NEEDS: [(&str, f64); 12] = [
    ("ASD", 31.5),
    ("SLCN", 21.3),
    ("SEMH", 20.7),
    ("MLD", 10.6),
    ("SLD", 3.9),
    ("PD", 3.9),
    ("SPLD", 2.4),
    ("HI", 1.4),
    ("PMLD", 1.3),
    ("OTH", 1.2),
    ("VI", 0.8),
    ("MSI", 0.3),
];

/// Share of plans with Down syndrome as primary need once DS is collected (2026+).
/// [inferred]: no published figure yet; DS is roughly 1% of EHCP pupils.
pub(crate) const DS_SHARE: f64 = 0.008;

/// UPNunknown reasons. Meanings are unconfirmed, so the mix is a guess that favours the
/// "not yet obtained / never at school in England" codes.
pub(crate) const UPN_UNKNOWN: [(&str, f64); 10] = [
    ("UN1", 8.0),
    ("UN2", 30.0),
    ("UN3", 15.0),
    ("UN4", 25.0),
    ("UN5", 6.0),
    ("UN6", 4.0),
    ("UN7", 3.0),
    ("UN8", 3.0),
    ("UN9", 3.0),
    ("UN10", 3.0),
];

/// RequestSource (2026): parent/young person, school, health, social care, other.
pub(crate) const REQUEST_SOURCE: [(u8, f64); 5] =
    [(1, 46.0), (2, 38.0), (3, 9.0), (4, 3.0), (5, 4.0)];

/// ReviewOutcome after an annual review: amend, cease, maintain.
pub(crate) const REVIEW_OUTCOME: [(&str, f64); 3] = [("A", 42.0), ("C", 2.0), ("M", 56.0)];

/// CeaseReason by age band on census day. 1 (maximum age) only near 25; higher education,
/// employment and disengagement only post-16.
pub(crate) fn cease_reasons(age: i32) -> [(u8, f64); 9] {
    match age {
        ..=15 => [
            (1, 0.0),
            (2, 42.0),
            (3, 0.0),
            (4, 0.0),
            (5, 32.0),
            (6, 0.0),
            (7, 9.0),
            (8, 2.0),
            (9, 15.0),
        ],
        16..=18 => [
            (1, 0.0),
            (2, 20.0),
            (3, 3.0),
            (4, 8.0),
            (5, 20.0),
            (6, 25.0),
            (7, 5.0),
            (8, 1.0),
            (9, 18.0),
        ],
        19..=23 => [
            (1, 3.0),
            (2, 10.0),
            (3, 10.0),
            (4, 15.0),
            (5, 10.0),
            (6, 28.0),
            (7, 4.0),
            (8, 1.0),
            (9, 19.0),
        ],
        _ => [
            (1, 60.0),
            (2, 5.0),
            (3, 5.0),
            (4, 8.0),
            (5, 4.0),
            (6, 8.0),
            (7, 2.0),
            (8, 1.0),
            (9, 7.0),
        ],
    }
}

/// Age on census day of CYP with a historical, still-live plan: 78% aged 5–15 nationally.
pub(crate) const LIVE_AGES: [(i32, f64); 24] = [
    (2, 0.8),
    (3, 1.8),
    (4, 3.2),
    (5, 5.0),
    (6, 6.2),
    (7, 6.8),
    (8, 7.3),
    (9, 7.8),
    (10, 8.0),
    (11, 8.0),
    (12, 8.0),
    (13, 7.8),
    (14, 7.6),
    (15, 7.2),
    (16, 5.2),
    (17, 4.2),
    (18, 3.2),
    (19, 2.2),
    (20, 1.3),
    (21, 0.9),
    (22, 0.6),
    (23, 0.45),
    (24, 0.3),
    (25, 0.15),
];

/// Age on census day of CYP with a new request: peaks at school entry and at secondary
/// transfer (26% of plans start at 4–5, 19% at 10–11).
pub(crate) const FLOW_AGES: [(i32, f64); 25] = [
    (1, 1.0),
    (2, 3.0),
    (3, 6.5),
    (4, 8.5),
    (5, 8.0),
    (6, 6.0),
    (7, 5.5),
    (8, 5.5),
    (9, 5.5),
    (10, 5.5),
    (11, 6.0),
    (12, 5.0),
    (13, 4.5),
    (14, 4.0),
    (15, 3.5),
    (16, 2.8),
    (17, 1.8),
    (18, 1.2),
    (19, 0.6),
    (20, 0.4),
    (21, 0.25),
    (22, 0.2),
    (23, 0.15),
    (24, 0.1),
    (25, 0.1),
];

/// Age on census day of CYP whose plan ceased in the year: skewed to leavers.
pub(crate) const CEASED_AGES: [(i32, f64); 24] = [
    (2, 0.5),
    (3, 1.0),
    (4, 1.5),
    (5, 2.0),
    (6, 2.5),
    (7, 2.5),
    (8, 2.5),
    (9, 2.5),
    (10, 2.5),
    (11, 3.0),
    (12, 3.0),
    (13, 3.0),
    (14, 3.0),
    (15, 3.5),
    (16, 6.0),
    (17, 7.0),
    (18, 8.0),
    (19, 8.0),
    (20, 6.0),
    (21, 5.0),
    (22, 4.0),
    (23, 3.5),
    (24, 3.0),
    (25, 3.0),
];

/// Age (whole years) at which a historical plan started: peaks at 4–5 and 10–11.
pub(crate) const START_AGES: [(i32, f64); 20] = [
    (0, 0.3),
    (1, 1.0),
    (2, 3.0),
    (3, 6.0),
    (4, 13.0),
    (5, 13.0),
    (6, 7.0),
    (7, 6.0),
    (8, 6.0),
    (9, 6.0),
    (10, 9.5),
    (11, 9.0),
    (12, 4.0),
    (13, 3.5),
    (14, 3.0),
    (15, 2.5),
    (16, 2.5),
    (17, 1.5),
    (18, 0.8),
    (19, 0.4),
];

/// Free text used with SENSetting OTH / NIEO when no URN/UKPRN is given.
pub(crate) const OTHER_SETTING_TEXT: [(&str, f64); 5] = [
    ("Hospital education service", 3.0),
    ("Home tuition arranged by the LA", 3.0),
    ("Awaiting specialist placement", 4.0),
    ("Out-of-county residential college", 1.0),
    ("Café-based training project", 1.0),
];

/// How often, among plans with the given primary need, the placement is a special school
/// (school-age CYP). ASD/SEMH split; SLD/PMLD almost always special.
pub(crate) fn special_school_share(need: &str) -> f64 {
    match need {
        "PMLD" => 0.94,
        "SLD" => 0.88,
        "MSI" => 0.60,
        "DS" => 0.55,
        "ASD" => 0.56,
        "SEMH" => 0.45,
        "PD" => 0.45,
        "MLD" => 0.42,
        "HI" | "VI" => 0.33,
        "OTH" => 0.30,
        "SLCN" => 0.22,
        "SPLD" => 0.12,
        _ => 0.45,
    }
}
