//! Every validation rule, one mutation of a valid one-person return at a time, checked at the
//! conform step (no Delta needed): the expected reason appears, and the counts reconcile.

use std::collections::HashSet;
use std::sync::Arc;

use sendlake_extract::{Sen2Item, Sen2Reader};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::{
    FileStats, PseudonymisationKey, Sen2Conformer, SubmissionContext, read_header,
};

use crate::support::{SEN2_TABLES, fixture};

pub fn conform(xml: &str) -> FileStats {
    conform_with_seen(xml, &HashSet::new()).0
}

pub fn conform_with_seen(xml: &str, seen: &HashSet<String>) -> (FileStats, HashSet<String>) {
    let registry = Arc::new(SchemaRegistry::embedded().unwrap());
    let conformer =
        Sen2Conformer::new(registry.clone(), Arc::new(PseudonymisationKey::demo()), 100).unwrap();
    let mut file = None;
    for item in Sen2Reader::new(xml.as_bytes()) {
        match item.unwrap() {
            Sen2Item::Header(h) => {
                let header = read_header(&h, registry.code_list("la_code").unwrap()).unwrap();
                file = Some(
                    conformer
                        .start_file(SubmissionContext {
                            source: "t".into(),
                            header,
                            source_file: "t.xml".into(),
                            run_id: "r".into(),
                            loaded_at: chrono::Utc::now(),
                        })
                        .unwrap(),
                );
            }
            Sen2Item::Person(p) => file.as_mut().unwrap().person(&p, seen).unwrap(),
            Sen2Item::Skipped { .. } => {}
        }
    }
    let outcome = file.unwrap().finish().unwrap();
    assert!(outcome.stats.reconciles(), "{:#?}", outcome.stats);
    (outcome.stats, outcome.person_keys)
}

fn valid() -> String {
    std::fs::read_to_string(fixture("sen2/valid_person.xml")).unwrap()
}

fn mutate(find: &str, replace: &str) -> String {
    let v = valid();
    assert!(v.contains(find), "fixture does not contain {find}");
    v.replacen(find, replace, 1)
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Record of `table` quarantined for the reason.
    Record(&'static str),
    /// A value nulled and quarantined; every record loaded.
    Field,
    /// A warning only.
    Warn,
}

#[test]
fn the_valid_fixture_loads_cleanly() {
    let s = conform(&valid());
    for (t, c) in &s.tables {
        assert_eq!(c.read, c.loaded, "{t}: {c:?}");
        assert_eq!(c.read, if t == "sen_need" { 2 } else { 1 }, "{t}");
    }
    assert!(s.field_rejects.is_empty(), "{:?}", s.field_rejects);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn every_rule_fires_on_its_mutation() {
    use Expect::*;
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "MISSING_REQUIRED_FIELD",
            mutate("<Sex>F</Sex>", ""),
            Record("person"),
        ),
        (
            "DUPLICATE_ELEMENT",
            mutate("<Sex>F</Sex>", "<Sex>F</Sex><Sex>M</Sex>"),
            Record("person"),
        ),
        (
            "CODE_NOT_IN_LIST",
            mutate("<Sex>F</Sex>", "<Sex>Q</Sex>"),
            Record("person"),
        ),
        (
            "CODE_NOT_IN_LIST",
            mutate(
                "<ReviewOutcome>M</ReviewOutcome>",
                "<ReviewOutcome>Z</ReviewOutcome>",
            ),
            Field,
        ),
        (
            "INVALID_DATE",
            mutate(
                "<RequestOutcomeDate>2025-03-10<",
                "<RequestOutcomeDate>2025-02-30<",
            ),
            Field,
        ),
        (
            "INVALID_DATE",
            mutate("<StartDate>2025-06-16<", "<StartDate>16/06/2025<"),
            Record("named_plan"),
        ),
        (
            "INVALID_BOOLEAN",
            mutate("<RYA>0</RYA>", "<RYA>maybe</RYA>"),
            Field,
        ),
        (
            "INVALID_FORMAT",
            mutate("<URN>117000</URN>", "<URN>11700</URN>"),
            Field,
        ),
        (
            "INVALID_NUMBER",
            mutate("<PlacementRank>1<", "<PlacementRank>x<"),
            Record("plan_setting"),
        ),
        (
            "DATE_AFTER_CENSUS",
            mutate("<ReviewMeeting>2025-12-01<", "<ReviewMeeting>2026-02-01<"),
            Field,
        ),
        (
            "UPN_FORMAT",
            mutate("<UPN>T919123456789<", "<UPN>T91912345678<"),
            Field,
        ),
        (
            "UPN_CHECK_LETTER",
            mutate("<UPN>T919123456789<", "<UPN>A919123456789<"),
            Field,
        ),
        (
            "UPN_LA_RANGE",
            mutate("<UPN>T919123456789<", "<UPN>X123456789832<"),
            Field,
        ),
        (
            "ULN_FORMAT",
            mutate(
                "<UniqueLearnerNumber>1234567899<",
                "<UniqueLearnerNumber>0234567899<",
            ),
            Field,
        ),
        (
            "ULN_CHECK_DIGIT",
            mutate(
                "<UniqueLearnerNumber>1234567899<",
                "<UniqueLearnerNumber>1234567890<",
            ),
            Field,
        ),
        (
            "POSTCODE_FORMAT",
            mutate("<PostCode>SG1 2AB<", "<PostCode>NOT A POSTCODE<"),
            Field,
        ),
        (
            "NO_IDENTIFIER",
            valid()
                .replacen("<UPN>T919123456789</UPN>", "", 1)
                .replacen(
                    "<UniqueLearnerNumber>1234567899</UniqueLearnerNumber>",
                    "",
                    1,
                )
                .replacen("<PostCode>SG1 2AB</PostCode>", "", 1),
            Record("person"),
        ),
        (
            "AGE_OUT_OF_RANGE",
            mutate(
                "<PersonBirthDate>2015-03-20<",
                "<PersonBirthDate>1995-03-20<",
            ),
            Field,
        ),
        (
            "REQUEST_DATE_ORDER",
            mutate(
                "<RequestOutcomeDate>2025-03-10<",
                "<RequestOutcomeDate>2025-01-10<",
            ),
            Field,
        ),
        (
            "ASSESSMENT_DATE_ORDER",
            mutate(
                "<AssessmentOutcomeDate>2025-05-12<",
                "<AssessmentOutcomeDate>2025-03-01<",
            ),
            Field,
        ),
        (
            "PLAN_DATE_ORDER",
            mutate("<StartDate>2025-06-16<", "<StartDate>2025-05-01<"),
            Field,
        ),
        (
            "CEASE_DATE_ORDER",
            mutate(
                "<PB>0</PB>",
                "<PB>0</PB><CeaseDate>2025-06-01</CeaseDate><CeaseReason>2</CeaseReason>",
            ),
            Warn,
        ),
        (
            "CEASE_REASON_PAIRING",
            mutate("<PB>0</PB>", "<PB>0</PB><CeaseReason>2</CeaseReason>"),
            Field,
        ),
        (
            "PLACEMENT_DATE_ORDER",
            mutate(
                "<EntryDate>2025-09-03</EntryDate>",
                "<EntryDate>2025-09-03</EntryDate><LeavingDate>2025-09-01</LeavingDate>",
            ),
            Warn,
        ),
        (
            "ASSESSMENT_UNEXPECTED",
            mutate("<RequestOutcome>Y<", "<RequestOutcome>N<"),
            Warn,
        ),
        (
            "PLAN_UNEXPECTED",
            mutate("<AssessmentOutcome>Y<", "<AssessmentOutcome>N<"),
            Warn,
        ),
        (
            "ACTIVE_PLAN_AFTER_CEASE",
            mutate(
                "<PB>0</PB>",
                "<PB>0</PB><CeaseDate>2025-12-20</CeaseDate><CeaseReason>2</CeaseReason>",
            ),
            Record("active_plan"),
        ),
        (
            // Only a secondary need, no primary. (Two rank-1 needs are DUPLICATE_RANK.)
            "NEED_PRIMARY",
            mutate(
                "<SENneed>\n            <SENtype>ASD</SENtype>\n            <SENtypeRank>1</SENtypeRank>\n          </SENneed>",
                "",
            ),
            Warn,
        ),
        (
            "NEED_DUPLICATE_TYPE",
            mutate("<SENtype>SLCN<", "<SENtype>ASD<"),
            Record("sen_need"),
        ),
        (
            "SETTING_MISSING",
            {
                let v = valid();
                // Only the placement's URN and SENSetting (the second occurrences).
                let i = v.find("<PlacementDetail>").unwrap();
                let (a, b) = v.split_at(i);
                format!(
                    "{a}{}",
                    b.replacen("<URN>117000</URN>", "", 1).replacen(
                        "<SENSetting>OTH</SENSetting>",
                        "",
                        1
                    )
                )
            },
            Warn,
        ),
        (
            "REVIEW_OUTCOME_WITHOUT_MEETING",
            mutate("<ReviewMeeting>2025-12-01</ReviewMeeting>", ""),
            Field,
        ),
        (
            "REVIEW_DECISION_BEFORE_MEETING",
            mutate("<LastReview>2025-12-10<", "<LastReview>2025-11-10<"),
            Warn,
        ),
        (
            "PLAN_MISSING",
            {
                let v = valid();
                let (s, e) = (
                    v.find("<NamedPlan>").unwrap(),
                    v.find("</NamedPlan>").unwrap() + "</NamedPlan>".len(),
                );
                format!("{}{}", &v[..s], &v[e..])
            },
            Warn,
        ),
        (
            "ASSESSMENT_MISSING",
            {
                let v = valid();
                let (s, e) = (
                    v.find("<Assessment>").unwrap(),
                    v.find("</Assessment>").unwrap() + "</Assessment>".len(),
                );
                format!("{}{}", &v[..s], &v[e..])
            },
            Warn,
        ),
        (
            "UNKNOWN_ELEMENT",
            mutate(
                "<Sex>F</Sex>",
                "<Sex>F</Sex><FavouriteColour>blue</FavouriteColour>",
            ),
            Warn,
        ),
        (
            "CARDINALITY",
            {
                let v = valid();
                let (s, e) = (
                    v.find("<PlacementDetail>").unwrap(),
                    v.find("</PlacementDetail>").unwrap() + "</PlacementDetail>".len(),
                );
                let second = v[s..e].replace("<PlacementRank>1<", "<PlacementRank>2<");
                let third = second.replace("117000", "117001");
                format!("{}{second}{third}{}", &v[..e], &v[e..])
            },
            Record("placement"),
        ),
        (
            "DUPLICATE_RANK",
            {
                let v = valid();
                let (s, e) = (
                    v.find("<PlanDetail>").unwrap(),
                    v.find("</PlanDetail>").unwrap() + "</PlanDetail>".len(),
                );
                format!("{}{}{}", &v[..e], &v[s..e], &v[e..])
            },
            Record("plan_setting"),
        ),
    ];
    let registry = SchemaRegistry::embedded().unwrap();
    let mut tested: HashSet<&str> = HashSet::new();
    for (reason, xml, expect) in &cases {
        tested.insert(reason);
        let s = conform(xml);
        match expect {
            Record(table) => {
                let q = &s.tables[*table].quarantined;
                assert_eq!(q.get(*reason), Some(&1), "{reason}: {table}: {:#?}", s);
            }
            Field => {
                assert_eq!(s.field_rejects.get(*reason), Some(&1), "{reason}: {:#?}", s);
                for (t, c) in &s.tables {
                    assert_eq!(c.read, c.loaded, "{reason}: {t} should load: {c:?}");
                }
            }
            Warn => {
                assert!(
                    s.warnings.get(*reason).is_some_and(|n| *n >= 1),
                    "{reason}: {:#?}",
                    s
                );
            }
        }
    }
    // Record-level rules cascade to the records below them (a missing Sex: the person table
    // declares it non-nullable, so the person is rejected).
    let s = conform(&mutate("<Sex>F</Sex>", ""));
    // Every table below person.
    for &t in &SEN2_TABLES[1..] {
        assert_eq!(s.tables[t].loaded, 0, "{t}");
        assert!(
            s.tables[t].quarantined.contains_key("PARENT_REJECTED"),
            "{t}"
        );
    }
    // Every record- and field-level rule in rules.toml has a case here (file-level rules are
    // covered in bad_input.rs; DUPLICATE_PERSON below; PARENT_REJECTED just above).
    for rule in registry
        .rules()
        .iter()
        .filter(|r| r.applies_to == sendlake_schema::RuleScope::Sen2)
    {
        let covered = tested.contains(rule.id.as_str())
            || rule.id.starts_with("FILE_")
            || matches!(
                rule.id.as_str(),
                "HEADER_INVALID" | "DUPLICATE_PERSON" | "PARENT_REJECTED"
            );
        assert!(covered, "rule {} has no test case", rule.id);
    }
}

#[test]
fn duplicate_persons_within_and_across_files() {
    let v = valid();
    let (s, e) = (
        v.find("<Person>").unwrap(),
        v.find("</Person>").unwrap() + "</Person>".len(),
    );
    let twice = format!("{}{}{}", &v[..e], &v[s..e], &v[e..]);
    let stats = conform(&twice);
    assert_eq!(stats.tables["person"].loaded, 1);
    assert_eq!(
        stats.tables["person"].quarantined.get("DUPLICATE_PERSON"),
        Some(&1)
    );
    assert_eq!(
        stats.tables["request"].quarantined.get("PARENT_REJECTED"),
        Some(&1)
    );

    // Across files: the keys of an earlier file of the same submission are passed in.
    let (_, keys) = conform_with_seen(&v, &HashSet::new());
    let (stats, _) = conform_with_seen(&v, &keys);
    assert_eq!(
        stats.tables["person"].quarantined.get("DUPLICATE_PERSON"),
        Some(&1)
    );
}

#[test]
fn extended_ethnicity_codes_map_to_the_main_group() {
    let s = conform(&mutate("<Ethnicity>WBRI<", "<Ethnicity>WSCO<"));
    assert_eq!(s.tables["person"].loaded, 1);
    assert!(s.field_rejects.is_empty());
}
