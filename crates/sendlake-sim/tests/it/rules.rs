//! An independent checker of the semantic rules a generated file must satisfy (the ones the
//! pipeline's validator quarantines on, plus the generator's own invariants), run over
//! several LAs at once so uniqueness across files is covered. Negative controls show the
//! checker does catch broken files.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use sendlake_calendar::age_on;
use sendlake_sim::{Sen2Format, Sen2SimConfig};

use crate::support::{Node, Sen2File, generate, parse, parse_str};

/// Valid UPN LA codes (census error 1530), as the pipeline's validator knows them: read from
/// the schema's code list, not from the simulator, so a wrong range in the simulator's own
/// table (`src/ids.rs`) is caught here rather than copied into the check.
static LA_CODES: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/code_lists/la_code.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // Each entry is `code = "NNN"` on its own line; labels and the header use other keys.
    let codes: HashSet<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("code = \""))
        .map(|rest| rest.trim_end_matches('"').to_owned())
        .collect();
    assert!(!codes.is_empty(), "no codes read from {}", path.display());
    codes
});

fn la_ok(code: &str) -> bool {
    LA_CODES.contains(code)
}

const UPN_LETTERS: &str = "ABCDEFGHJKLMNPQRTUVWXYZ";

fn upn_ok(upn: &str) -> Result<(), String> {
    let chars: Vec<char> = upn.chars().collect();
    if chars.len() != 13 {
        return Err(format!("UPN {upn} is not 13 characters"));
    }
    let permanent = chars[1..].iter().all(char::is_ascii_digit);
    let temporary =
        chars[1..12].iter().all(char::is_ascii_digit) && UPN_LETTERS.contains(chars[12]);
    if !(chars[0].is_ascii_uppercase() && (permanent || temporary)) {
        return Err(format!("UPN {upn} has the wrong shape"));
    }
    let value = |c: char| {
        c.to_digit(10)
            .unwrap_or_else(|| UPN_LETTERS.find(c).unwrap() as u32)
    };
    let sum: u32 = (2..=13).map(|pos| value(chars[pos - 1]) * pos as u32).sum();
    let expected = UPN_LETTERS.chars().nth((sum % 23) as usize).unwrap();
    if chars[0] != expected {
        return Err(format!("UPN {upn} check letter should be {expected}"));
    }
    if !la_ok(&upn[1..4]) {
        return Err(format!("UPN {upn} LA part not valid"));
    }
    Ok(())
}

fn uln_ok(uln: &str) -> Result<(), String> {
    let d: Vec<u32> = uln.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 10 || uln.len() != 10 || d[0] == 0 {
        return Err(format!("ULN {uln} malformed"));
    }
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    let r = sum % 11;
    if r == 0 || 10 - r != d[9] {
        return Err(format!("ULN {uln} check digit wrong"));
    }
    Ok(())
}

fn postcode_ok(pc: &str) -> bool {
    let Some((out, inward)) = pc.split_once(' ') else {
        return false;
    };
    let letters = out.chars().take_while(char::is_ascii_uppercase).count();
    let digits = &out[letters..];
    (1..=2).contains(&letters)
        && (1..=2).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && inward.len() == 3
        && inward.as_bytes()[0].is_ascii_digit()
        && inward[1..]
            .chars()
            .all(|c| "ABDEFGHJLNPQRSTUWXYZ".contains(c))
}

const BOOL_ELEMENTS: &[&str] = &[
    "RYA",
    "RequestMediation",
    "RequestTribunal",
    "AssessmentMediation",
    "AssessmentTribunal",
    "OtherMediation",
    "OtherTribunal",
    "Week20",
    "PB",
    "OA",
    "SENunitIndicator",
    "ResourcedProvisionIndicator",
];

const DATE_ELEMENTS: &[&str] = &[
    "PersonBirthDate",
    "ReceivedDate",
    "RequestOutcomeDate",
    "AssessmentOutcomeDate",
    "StartDate",
    "CeaseDate",
    "EntryDate",
    "LeavingDate",
    "ReviewMeeting",
    "LastReview",
    "ReviewDraft",
    "PhaseTransferDueDate",
    "PhaseTransferFinalDate",
];

/// What the checker needs to know about the run.
pub struct Expect {
    pub format: Sen2Format,
    pub census_year: i32,
}

/// Identifiers seen so far, across files.
#[derive(Default)]
pub struct Seen {
    upns: HashSet<String>,
    ulns: HashSet<String>,
    fallback: HashSet<String>,
}

/// Every rule violation in `file`, as readable strings.
pub fn check_file(file: &Sen2File, expect: &Expect, seen: &mut Seen) -> Vec<String> {
    let mut problems = Vec::new();
    let census = file.census();
    if census.year() != expect.census_year
        || census.month() != 1
        || census.weekday() != chrono::Weekday::Thu
        || !(15..=21).contains(&census.day())
    {
        problems.push(format!("bad census date {census}"));
    }
    let lea = file.lea();
    for (i, person) in file.persons.iter().enumerate() {
        let mut p = Vec::new();
        check_person(person, lea, census, expect, seen, &mut p);
        problems.extend(
            p.into_iter()
                .map(|msg| format!("LA {lea} person {i}: {msg}")),
        );
    }
    problems
}

fn walk<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    out.push(node);
    for c in &node.children {
        walk(c, out);
    }
}

fn check_codes(person: &Node, expect: &Expect, census: NaiveDate, p: &mut Vec<String>) {
    let mut nodes = Vec::new();
    walk(person, &mut nodes);
    let v2026 = expect.format == Sen2Format::V2026;
    for n in nodes {
        let t = n.text.as_str();
        let name = n.name.as_str();
        if n.children.is_empty() && t.is_empty() {
            p.push(format!("empty element {name}"));
        }
        if DATE_ELEMENTS.contains(&name) {
            match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
                Ok(d) if d > census => p.push(format!("{name} {t} after census")),
                Ok(_) if t.len() != 10 => p.push(format!("{name} {t} not ISO")),
                Ok(_) => {}
                Err(_) => p.push(format!("{name} {t} not a date")),
            }
        }
        if BOOL_ELEMENTS.contains(&name) && !["0", "1", "true", "false"].contains(&t) {
            p.push(format!("{name} {t} not a boolean"));
        }
        let ok = match name {
            "Sex" => ["M", "F", "U"].contains(&t),
            "Ethnicity" => {
                let main = [
                    "WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND",
                    "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
                ];
                let extended = ["WENG", "WSCO", "WWEL", "AMPK", "BSOM", "OARA"];
                main.contains(&t) || (v2026 && extended.contains(&t))
            }
            "UPNunknown" => (1..=10).any(|i| t == format!("UN{i}")),
            "RequestOutcome" | "AssessmentOutcome" => ["Y", "N", "A", "W", "H"].contains(&t),
            "RequestSource" => v2026 && ["1", "2", "3", "4", "5"].contains(&t),
            "SENtype" => {
                [
                    "SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD",
                    "OTH",
                ]
                .contains(&t)
                    || (t == "DS" && v2026 && expect.census_year >= 2026)
            }
            "SENSetting" => {
                ["OLA", "OPA", "EHE", "EYP", "OTH", "NEET", "NIEC", "NIEO"].contains(&t)
            }
            "CeaseReason" => ("1"..="9").contains(&t) && t.len() == 1,
            "ReviewOutcome" => ["A", "C", "M"].contains(&t),
            "PlanRes" | "Res" => ["A", "B"].contains(&t),
            "PlanWBP" | "WBP" => ["A", "T", "S"].contains(&t),
            "DP" => ["E", "S", "H", "I"].contains(&t),
            "URN" => t.len() == 6 && t.chars().all(|c| c.is_ascii_digit()),
            "UKPRN" => t.len() == 8 && t.chars().all(|c| c.is_ascii_digit()),
            "TransferLA" | "Exported" => la_ok(t),
            "PlacementRank" | "SENtypeRank" => ["1", "2"].contains(&t),
            "ReviewDraft" | "PhaseTransferDueDate" | "PhaseTransferFinalDate" => v2026,
            _ => true,
        };
        if !ok {
            p.push(format!("{name} = {t:?} not allowed"));
        }
    }
}

fn check_setting(s: &Node, p: &mut Vec<String>) {
    let has_id = s.child("URN").is_some() || s.child("UKPRN").is_some();
    let code = s.text_of("SENSetting");
    if code.is_none() {
        p.push("setting without SENSetting (XSD needs it)".into());
    }
    if !has_id && code == Some("OTH") && s.child("SENSettingOther").is_none() {
        p.push("OTH setting without URN/UKPRN or text".into());
    }
}

fn ranks_ok(nodes: &[&Node], rank_name: &str) -> bool {
    let ranks: Vec<&str> = nodes.iter().filter_map(|n| n.text_of(rank_name)).collect();
    ranks == ["1"] || ranks == ["1", "2"]
}

fn check_person(
    person: &Node,
    lea: u16,
    census: NaiveDate,
    expect: &Expect,
    seen: &mut Seen,
    p: &mut Vec<String>,
) {
    check_codes(person, expect, census, p);
    let period_start = NaiveDate::from_ymd_opt(census.year() - 1, 1, 1).unwrap();
    let birth = person.date_of("PersonBirthDate").unwrap();
    let years = age_on(birth, census);
    if !(0..=25).contains(&years) {
        p.push(format!("age {years} out of range"));
    }
    if !person.text_of("PostCode").is_some_and(postcode_ok) {
        p.push(format!("bad postcode {:?}", person.text_of("PostCode")));
    }
    for name in ["Surname", "Forename"] {
        if person.text_of(name).is_none_or(str::is_empty) {
            p.push(format!("missing {name}"));
        }
    }

    // Identifiers.
    let upn = person.text_of("UPN");
    let uln = person.text_of("UniqueLearnerNumber");
    let unknown = person.text_of("UPNunknown");
    if let Some(upn) = upn {
        if let Err(e) = upn_ok(upn) {
            p.push(e);
        }
        if !seen.upns.insert(upn.to_owned()) {
            p.push(format!("duplicate UPN {upn}"));
        }
    }
    if let Some(uln) = uln {
        if let Err(e) = uln_ok(uln) {
            p.push(e);
        }
        if !seen.ulns.insert(uln.to_owned()) {
            p.push(format!("duplicate ULN {uln}"));
        }
        if years < 14 {
            p.push(format!("ULN for a child aged {years}"));
        }
    }
    match (upn.is_some() || uln.is_some(), unknown.is_some()) {
        (false, false) => p.push("no UPN, ULN or UPNunknown".into()),
        (true, true) => p.push("UPNunknown beside a UPN/ULN".into()),
        (false, true) => {
            let key = format!(
                "{}|{}|{birth}|{}",
                person.text_of("Forename").unwrap_or_default(),
                person.text_of("Surname").unwrap_or_default(),
                person.text_of("PostCode").unwrap_or_default()
            );
            if !seen.fallback.insert(key.clone()) {
                p.push(format!("duplicate fallback key {key}"));
            }
        }
        (true, false) => {}
    }

    // Requests.
    let requests: Vec<&Node> = person.all("Requests").collect();
    if requests.is_empty() {
        p.push("no Requests".into());
    }
    let mut open = 0;
    let mut active_plans = 0;
    let mut previous_closed: Option<NaiveDate> = None;
    for r in &requests {
        let outcome = r.text_of("RequestOutcome").unwrap_or("?");
        let received = r.date_of("ReceivedDate");
        let decided = r.date_of("RequestOutcomeDate");
        let assessment = r.child("Assessment");
        let active = r.child("ActivePlans");
        if expect.format == Sen2Format::V2026 && r.child("RequestSource").is_none() {
            p.push("2026 request without RequestSource".into());
        }
        if let (Some(rec), Some(dec)) = (received, decided)
            && dec < rec
        {
            p.push("RequestOutcomeDate before ReceivedDate".into());
        }
        if let Some(rec) = received {
            if rec < birth {
                p.push("request received before birth".into());
            }
            if let Some(prev) = previous_closed
                && rec < prev
            {
                p.push("second request received before the first closed".into());
            }
        }
        match outcome {
            "Y" | "H" if assessment.is_none() => {
                p.push(format!("outcome {outcome} without Assessment"))
            }
            "N" | "W" | "A" if assessment.is_some() => {
                p.push(format!("outcome {outcome} with Assessment"))
            }
            _ => {}
        }
        if outcome == "A" {
            open += 1;
            if decided.is_some() {
                p.push("pending request with RequestOutcomeDate".into());
            }
        }
        if active.is_some() && !["Y", "H"].contains(&outcome) {
            p.push("ActivePlans on a request without a plan".into());
        }
        if r.child("Exported")
            .is_some_and(|e| e.text == format!("{lea:03}"))
        {
            p.push("Exported to the submitting LA".into());
        }
        let mut closed = decided;
        let mut live_plan = false;
        if let Some(a) = assessment {
            let ao = a.text_of("AssessmentOutcome").unwrap_or("?");
            let ao_date = a.date_of("AssessmentOutcomeDate");
            let plan = a.child("NamedPlan");
            if outcome == "H" && ao != "H" {
                p.push("H request with non-H assessment".into());
            }
            if outcome == "Y" && ao == "H" {
                p.push("Y request with H assessment".into());
            }
            match ao {
                "Y" | "H" if plan.is_none() => p.push(format!("assessment {ao} without NamedPlan")),
                "N" | "W" | "A" if plan.is_some() => {
                    p.push(format!("assessment {ao} with NamedPlan"))
                }
                _ => {}
            }
            if ao == "A" {
                open += 1;
                if ao_date.is_some() {
                    p.push("pending assessment with a date".into());
                }
            }
            if let (Some(d), Some(rd)) = (ao_date, decided)
                && d < rd
            {
                p.push("AssessmentOutcomeDate before RequestOutcomeDate".into());
            }
            closed = ao_date.or(closed);
            if let Some(plan) = plan {
                let start = plan.date_of("StartDate").unwrap();
                if start < birth {
                    p.push("plan starts before birth".into());
                }
                if ao == "H" && start >= period_start {
                    p.push("historical plan starts inside the activity period".into());
                }
                if ao == "Y" {
                    if start < period_start {
                        p.push("new plan starts before the activity period".into());
                    }
                    if ao_date.is_none_or(|d| start < d) {
                        p.push("new plan StartDate before AssessmentOutcomeDate".into());
                    }
                }
                let cease = plan.date_of("CeaseDate");
                if cease.is_some() != plan.child("CeaseReason").is_some() {
                    p.push("CeaseDate/CeaseReason not paired".into());
                }
                if let Some(c) = cease {
                    if c < start {
                        p.push("CeaseDate before StartDate".into());
                    }
                    if c < period_start {
                        p.push("plan ceased before the activity period".into());
                    }
                    if active.is_some() {
                        p.push("ceased plan has ActivePlans".into());
                    }
                    if let Some(reason) = plan.text_of("CeaseReason")
                        && reason == "1"
                        && years < 19
                    {
                        p.push(format!("cease reason 1 at age {years}"));
                    }
                } else {
                    live_plan = true;
                }
                let details: Vec<&Node> = plan.all("PlanDetail").collect();
                if !ranks_ok(&details, "PlacementRank") {
                    p.push("PlanDetail ranks not 1 or 1,2".into());
                }
                for d in details {
                    check_setting(d, p);
                }
            }
        }
        if live_plan != active.is_some() {
            p.push(format!(
                "live plan {live_plan} but ActivePlans {}",
                active.is_some()
            ));
        }
        if let Some(ap) = active {
            active_plans += 1;
            if ap.child("TransferLA").is_some() && outcome != "H" {
                p.push("TransferLA on a non-historical plan".into());
            }
            if ap.text_of("TransferLA") == Some(format!("{lea:03}").as_str()) {
                p.push("TransferLA is the submitting LA".into());
            }
            let placements: Vec<&Node> = ap.all("PlacementDetail").collect();
            if !ranks_ok(&placements, "PlacementRank") {
                p.push("PlacementDetail ranks not 1 or 1,2".into());
            }
            for pl in placements {
                check_setting(pl, p);
                let entry = pl.date_of("EntryDate");
                match entry {
                    None => p.push("placement without EntryDate".into()),
                    Some(e) if e < birth => p.push("EntryDate before birth".into()),
                    Some(e) => {
                        if pl.date_of("LeavingDate").is_some_and(|l| l < e) {
                            p.push("LeavingDate before EntryDate".into());
                        }
                    }
                }
            }
            let needs: Vec<&Node> = ap.all("SENneed").collect();
            if !ranks_ok(&needs, "SENtypeRank") {
                p.push("SENneed ranks not 1 or 1,2".into());
            }
            if needs.len() == 2 && needs[0].text_of("SENtype") == needs[1].text_of("SENtype") {
                p.push("rank 2 need repeats rank 1".into());
            }
            let meeting = ap.date_of("ReviewMeeting");
            if ap.child("ReviewOutcome").is_some() && meeting.is_none() {
                p.push("ReviewOutcome without ReviewMeeting".into());
            }
            if let Some(last) = ap.date_of("LastReview")
                && meeting.is_none_or(|m| last < m)
            {
                p.push("LastReview before ReviewMeeting".into());
            }
            if let (Some(draft), Some(last)) = (ap.date_of("ReviewDraft"), ap.date_of("LastReview"))
                && draft < last
            {
                p.push("ReviewDraft before LastReview".into());
            }
            if ap.child("PhaseTransferFinalDate").is_some()
                != ap.child("PhaseTransferDueDate").is_some()
            {
                p.push("phase transfer dates not paired".into());
            }
        }
        if let Some(c) = closed {
            previous_closed = Some(previous_closed.map_or(c, |p: NaiveDate| p.max(c)));
        }
    }
    if open > 1 {
        p.push(format!("{open} open requests"));
    }
    if active_plans > 1 {
        p.push("more than one ActivePlans".into());
    }
}

fn check_run(cfg: &Sen2SimConfig) -> Vec<String> {
    let (_dir, summary) = generate(cfg);
    let expect = Expect {
        format: cfg.format,
        census_year: cfg.census_year,
    };
    let mut seen = Seen::default();
    let mut problems = Vec::new();
    let mut leas = HashMap::new();
    for f in &summary.files {
        let file = parse(&f.path);
        assert_eq!(file.lea(), f.la_code);
        assert!(leas.insert(f.la_code, ()).is_none(), "LA used twice");
        problems.extend(check_file(&file, &expect, &mut seen));
    }
    problems
}

fn assert_clean(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problems, first ones:\n{}",
        problems.len(),
        problems
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn generated_2026_files_follow_the_rules_across_las() {
    assert_clean(&check_run(&Sen2SimConfig {
        las: 6,
        persons_per_la: 1500,
        seed: 7,
        ..Sen2SimConfig::default()
    }));
}

#[test]
fn generated_2024_files_follow_the_rules_across_las() {
    assert_clean(&check_run(&Sen2SimConfig {
        las: 4,
        persons_per_la: 1200,
        seed: 11,
        census_year: 2024,
        format: Sen2Format::V2024,
        first_la: Some(201),
        defects: None,
    }));
}

#[test]
fn other_census_years_follow_the_rules() {
    for (year, format) in [
        (2025, Sen2Format::V2026),
        (2027, Sen2Format::V2026),
        (2026, Sen2Format::V2024),
    ] {
        assert_clean(&check_run(&Sen2SimConfig {
            las: 2,
            persons_per_la: 800,
            seed: 3,
            census_year: year,
            format,
            first_la: None,
            defects: None,
        }));
    }
}

/// Generates one small file as a string.
fn small_file(cfg: &Sen2SimConfig) -> String {
    let mut xml = Vec::new();
    sendlake_sim::write_sen2_return(cfg, 919, 0, &mut xml).unwrap();
    String::from_utf8(xml).unwrap()
}

fn problems_in(xml: &str, cfg: &Sen2SimConfig) -> Vec<String> {
    let expect = Expect {
        format: cfg.format,
        census_year: cfg.census_year,
    };
    check_file(&parse_str(xml), &expect, &mut Seen::default())
}

#[test]
fn checker_catches_broken_files() {
    let cfg = Sen2SimConfig {
        persons_per_la: 200,
        ..Sen2SimConfig::default()
    };
    let xml = small_file(&cfg);
    assert_clean(&problems_in(&xml, &cfg));

    // A UPN with its check letter changed.
    let at = xml.find("<UPN>").unwrap() + "<UPN>".len();
    let letter = &xml[at..=at];
    let other = if letter == "A" { "B" } else { "A" };
    let broken = format!("{}{other}{}", &xml[..at], &xml[at + 1..]);
    assert!(
        problems_in(&broken, &cfg)
            .iter()
            .any(|p| p.contains("check letter"))
    );

    // A request decided before it was received.
    let at = xml.find("<RequestOutcomeDate>").unwrap() + "<RequestOutcomeDate>".len();
    let broken = format!("{}1999-01-01{}", &xml[..at], &xml[at + 10..]);
    assert!(
        problems_in(&broken, &cfg)
            .iter()
            .any(|p| p.contains("RequestOutcomeDate before ReceivedDate"))
    );

    // A duplicated person (same UPN twice).
    let start = xml.find("<Person>").unwrap();
    let end = xml.find("</Person>").unwrap() + "</Person>".len();
    let doubled = format!("{}{}{}", &xml[..end], &xml[start..end], &xml[end..]);
    assert!(
        problems_in(&doubled, &cfg)
            .iter()
            .any(|p| p.contains("duplicate UPN"))
    );

    // A second rank-1 need.
    let broken = xml.replacen(
        "<SENtypeRank>2</SENtypeRank>",
        "<SENtypeRank>1</SENtypeRank>",
        1,
    );
    assert!(
        problems_in(&broken, &cfg)
            .iter()
            .any(|p| p.contains("SENneed ranks"))
    );

    // DS is not a 2024 code.
    let cfg24 = Sen2SimConfig {
        format: Sen2Format::V2024,
        ..cfg.clone()
    };
    let broken = small_file(&cfg24).replacen("<SENtype>ASD</SENtype>", "<SENtype>DS</SENtype>", 1);
    assert!(
        problems_in(&broken, &cfg24)
            .iter()
            .any(|p| p.contains("SENtype"))
    );
}

/// The national benchmark shape, checked file by file (ignored by default: ~1 GB of XML).
/// `cargo test --release -p sendlake-sim --test it -- --ignored national`
#[test]
#[ignore = "national-scale run; use --release"]
fn national_scale_run_follows_the_rules() {
    let cfg = Sen2SimConfig {
        las: 153,
        persons_per_la: 4_500,
        ..Sen2SimConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let expect = Expect {
        format: cfg.format,
        census_year: cfg.census_year,
    };
    let mut seen = Seen::default();
    let mut problems = Vec::new();
    for (la_index, la) in sendlake_sim::la_codes(cfg.las, cfg.first_la)
        .into_iter()
        .enumerate()
    {
        // One file at a time keeps the disk footprint small.
        let path = dir.path().join("one.xml");
        let file = std::fs::File::create(&path).unwrap();
        sendlake_sim::write_sen2_return(&cfg, la, la_index, file).unwrap();
        problems.extend(check_file(&parse(&path), &expect, &mut seen));
    }
    assert_clean(&problems);
}
