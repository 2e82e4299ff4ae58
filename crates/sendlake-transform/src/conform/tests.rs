//! Defects degrade the item, never the child: for each cross-field rule, one mutation of a
//! valid one-person return (synthetic), and what loads, what is null, what the quarantine holds
//! and what is counted.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, Date32Array, RecordBatch, StringArray};
use sendlake_extract::{Sen2Item, Sen2Reader};
use sendlake_schema::SchemaRegistry;

use super::*;
use crate::PseudonymisationKey;
use crate::stats::FileStats;

const VALID: &str = include_str!("../../../../tests/fixtures/sen2/valid_person.xml");

struct Run {
    /// Every SEN2 table the conformer fills.
    tables: Vec<String>,
    stats: FileStats,
    batches: BTreeMap<String, Vec<RecordBatch>>,
}

/// One quarantine entry, as stored.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    level: String,
    table: Option<String>,
    reason: String,
    field: Option<String>,
    raw: Option<String>,
}

impl Run {
    fn loaded(&self, table: &str) -> u64 {
        self.stats.tables.get(table).map_or(0, |t| t.loaded)
    }

    /// The values of a text column of a table, in row order.
    fn strings(&self, table: &str, column: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        for b in self.batches.get(table).into_iter().flatten() {
            let a = b.column_by_name(column).unwrap();
            let a = a.as_any().downcast_ref::<StringArray>().unwrap();
            out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_owned())));
        }
        out
    }

    /// Whether each row of a date column is null.
    fn date_nulls(&self, table: &str, column: &str) -> Vec<bool> {
        let mut out = Vec::new();
        for b in self.batches.get(table).into_iter().flatten() {
            let a = b.column_by_name(column).unwrap();
            let a = a.as_any().downcast_ref::<Date32Array>().unwrap();
            out.extend((0..a.len()).map(|i| a.is_null(i)));
        }
        out
    }

    fn quarantine(&self) -> Vec<Entry> {
        let q = |c| self.strings(QUARANTINE_TABLE, c);
        let (level, table, reason, field, raw) = (
            q("level"),
            q("table_name"),
            q("reason_code"),
            q("field"),
            q("raw_value"),
        );
        (0..level.len())
            .map(|i| Entry {
                level: level[i].clone().unwrap(),
                table: table[i].clone(),
                reason: reason[i].clone().unwrap(),
                field: field[i].clone(),
                raw: raw[i].clone(),
            })
            .collect()
    }

    /// One value was nulled: the quarantine holds it, with its reason, and it is counted once.
    fn assert_nulled(&self, table: &str, reason: &str, field: &str, raw: Option<&str>) {
        assert_eq!(self.quarantine(), [field_entry(table, reason, field, raw)]);
        assert_eq!(self.stats.field_rejects, counts(&[(reason, 1)]));
        assert!(self.stats.warnings.is_empty(), "{:?}", self.stats.warnings);
    }

    /// Only a warning, counted once; nothing nulled or quarantined.
    fn assert_warned(&self, reason: &str) {
        assert_eq!(self.stats.warnings, counts(&[(reason, 1)]));
        assert!(self.stats.field_rejects.is_empty(), "{:?}", self.stats);
        assert!(self.quarantine().is_empty());
    }

    /// Everything from the person down to the named plan's settings loaded.
    fn assert_plan_loaded(&self) {
        // Not active_plan and what hangs off it.
        for t in [
            "person",
            "request",
            "assessment",
            "named_plan",
            "plan_setting",
        ] {
            assert_eq!(self.loaded(t), 1, "{t}");
        }
    }

    /// Every SEN2 table loads all it read: nothing of the child was lost.
    fn assert_all_loaded(&self) {
        for t in &self.tables {
            let s = &self.stats.tables[t];
            assert_eq!(s.read, s.loaded, "{t}: {s:?}");
            assert!(s.read > 0, "{t} not read");
        }
    }
}

fn embedded() -> SchemaRegistry {
    SchemaRegistry::embedded().unwrap()
}

/// The workspace schema with textual edits to some files: `(file, column, from, to)` replaces
/// the first `from` after the column's `name = "..."` line.
fn patched(edits: &[(&str, &str, &str, &str)]) -> SchemaRegistry {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "toml") {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let mut text = std::fs::read_to_string(&path).unwrap();
                for (file, column, from, to) in edits {
                    if rel == *file {
                        let at = text.find(&format!("name = \"{column}\"\n")).unwrap();
                        let off = at + text[at..].find(from).unwrap();
                        text.replace_range(off..off + from.len(), to);
                    }
                }
                files.push((rel, text));
            }
        }
    }
    SchemaRegistry::from_files(files).unwrap()
}

fn run_with(registry: SchemaRegistry, xml: &str) -> Run {
    let registry = Arc::new(registry);
    let conformer =
        Sen2Conformer::new(registry.clone(), Arc::new(PseudonymisationKey::demo()), 100).unwrap();
    let mut file = None;
    let seen = HashSet::new();
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
                            loaded_at: DateTime::UNIX_EPOCH,
                        })
                        .unwrap(),
                );
            }
            Sen2Item::Person(p) => file.as_mut().unwrap().person(&p, &seen).unwrap(),
            Sen2Item::Skipped { .. } => {}
        }
    }
    let outcome = file.unwrap().finish().unwrap();
    assert!(outcome.stats.reconciles(), "{:#?}", outcome.stats);
    let mut batches: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for (t, b) in outcome.batches {
        batches.entry(t).or_default().push(b);
    }
    Run {
        tables: conformer.table_names(),
        stats: outcome.stats,
        batches,
    }
}

fn run(xml: &str) -> Run {
    run_with(embedded(), xml)
}

fn mutate(find: &str, replace: &str) -> String {
    assert!(VALID.contains(find), "fixture does not contain {find}");
    VALID.replacen(find, replace, 1)
}

/// The fixture without one element (the first of its name).
fn without(element: &str) -> String {
    let s = VALID.find(&format!("<{element}>")).unwrap();
    let close = format!("</{element}>");
    let e = VALID.find(&close).unwrap() + close.len();
    format!("{}{}", &VALID[..s], &VALID[e..])
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn field_entry(table: &str, reason: &str, field: &str, raw: Option<&str>) -> Entry {
    Entry {
        level: "field".into(),
        table: Some(table.into()),
        reason: reason.into(),
        field: Some(field.into()),
        raw: raw.map(str::to_owned),
    }
}

#[test]
fn the_fixture_loads_cleanly() {
    let r = run(VALID);
    r.assert_all_loaded();
    assert!(r.stats.field_rejects.is_empty());
    assert!(r.stats.warnings.is_empty());
    assert!(r.quarantine().is_empty());
}

#[test]
fn request_date_order_nulls_the_outcome_date_and_keeps_the_request_tree() {
    let r = run(&mutate(
        "<RequestOutcomeDate>2025-03-10<",
        "<RequestOutcomeDate>2025-01-10<",
    ));
    r.assert_all_loaded();
    assert_eq!(r.date_nulls("request", "request_outcome_date"), [true]);
    assert_eq!(r.date_nulls("request", "received_date"), [false]);
    r.assert_nulled(
        "request",
        "REQUEST_DATE_ORDER",
        "RequestOutcomeDate",
        Some("2025-01-10"),
    );
}

#[test]
fn a_nulled_date_is_not_compared_again_below() {
    // The request's decision date is wrong, and the assessment's is before it: once the
    // request's date is nulled, the assessment has nothing to be out of order with.
    let xml = mutate(
        "<RequestOutcomeDate>2025-03-10<",
        "<RequestOutcomeDate>2025-01-10<",
    )
    .replacen(
        "<AssessmentOutcomeDate>2025-05-12<",
        "<AssessmentOutcomeDate>2025-01-05<",
        1,
    )
    .replacen("<StartDate>2025-06-16<", "<StartDate>2025-01-20<", 1);
    let r = run(&xml);
    r.assert_all_loaded();
    assert_eq!(r.stats.field_rejects, counts(&[("REQUEST_DATE_ORDER", 1)]));
    assert_eq!(
        r.date_nulls("assessment", "assessment_outcome_date"),
        [false]
    );
}

#[test]
fn assessment_date_order_nulls_the_assessment_date() {
    let r = run(&mutate(
        "<AssessmentOutcomeDate>2025-05-12<",
        "<AssessmentOutcomeDate>2025-03-01<",
    ));
    r.assert_all_loaded();
    assert_eq!(
        r.date_nulls("assessment", "assessment_outcome_date"),
        [true]
    );
    assert_eq!(
        r.quarantine(),
        [field_entry(
            "assessment",
            "ASSESSMENT_DATE_ORDER",
            "AssessmentOutcomeDate",
            Some("2025-03-01")
        )]
    );
    // The plan's start is not compared with the nulled date as well.
    assert_eq!(
        r.stats.field_rejects,
        counts(&[("ASSESSMENT_DATE_ORDER", 1)])
    );
}

#[test]
fn plan_date_order_nulls_the_decision_date_and_keeps_the_plan_start() {
    let r = run(&mutate("<StartDate>2025-06-16<", "<StartDate>2025-05-01<"));
    r.assert_all_loaded();
    assert_eq!(
        r.date_nulls("assessment", "assessment_outcome_date"),
        [true]
    );
    assert_eq!(r.date_nulls("named_plan", "start_date"), [false]);
    r.assert_nulled(
        "assessment",
        "PLAN_DATE_ORDER",
        "AssessmentOutcomeDate",
        Some("2025-05-12"),
    );

    // A historical plan may start before its (historical) decision.
    let r = run(
        &mutate("<StartDate>2025-06-16<", "<StartDate>2025-05-01<").replacen(
            "<AssessmentOutcome>Y<",
            "<AssessmentOutcome>H<",
            1,
        ),
    );
    assert!(r.stats.field_rejects.is_empty(), "{:?}", r.stats);
}

/// A plan that ceased before census day has no ActivePlans.
fn ceased(cease: &str) -> String {
    without("ActivePlans").replacen("<PB>0</PB>", &format!("<PB>0</PB>{cease}"), 1)
}

#[test]
fn cease_date_order_warns_and_keeps_both_dates() {
    let r = run(&ceased(
        "<CeaseDate>2025-06-01</CeaseDate><CeaseReason>2</CeaseReason>",
    ));
    r.assert_plan_loaded();
    assert_eq!(r.date_nulls("named_plan", "cease_date"), [false]);
    assert_eq!(r.date_nulls("named_plan", "start_date"), [false]);
    r.assert_warned("CEASE_DATE_ORDER");
}

#[test]
fn cease_reason_without_date_nulls_the_reason() {
    // No CeaseDate: the plan is active, so ActivePlans stays.
    let r = run(&mutate(
        "<PB>0</PB>",
        "<PB>0</PB><CeaseReason>2</CeaseReason>",
    ));
    r.assert_all_loaded();
    assert_eq!(r.strings("named_plan", "cease_reason"), [None]);
    r.assert_nulled(
        "named_plan",
        "CEASE_REASON_PAIRING",
        "CeaseReason",
        Some("2"),
    );
}

#[test]
fn cease_date_without_reason_warns_and_the_plan_stays_ceased() {
    let r = run(&ceased("<CeaseDate>2025-12-20</CeaseDate>"));
    r.assert_plan_loaded();
    assert_eq!(r.date_nulls("named_plan", "cease_date"), [false]);
    assert_eq!(r.strings("named_plan", "cease_reason"), [None]);
    r.assert_warned("CEASE_REASON_PAIRING");
}

#[test]
fn placement_date_order_warns_and_keeps_the_placement() {
    let r = run(&mutate(
        "<EntryDate>2025-09-03</EntryDate>",
        "<EntryDate>2025-09-03</EntryDate><LeavingDate>2025-09-01</LeavingDate>",
    ));
    r.assert_all_loaded();
    assert_eq!(r.date_nulls("placement", "leaving_date"), [false]);
    r.assert_warned("PLACEMENT_DATE_ORDER");
}

#[test]
fn an_assessment_under_a_request_not_to_assess_loads_with_a_warning() {
    let r = run(&mutate("<RequestOutcome>Y<", "<RequestOutcome>N<"));
    r.assert_all_loaded();
    assert_eq!(r.strings("request", "request_outcome"), [Some("N".into())]);
    r.assert_warned("ASSESSMENT_UNEXPECTED");
}

#[test]
fn a_plan_under_an_assessment_not_to_issue_loads_with_a_warning() {
    let r = run(&mutate("<AssessmentOutcome>Y<", "<AssessmentOutcome>N<"));
    r.assert_all_loaded();
    r.assert_warned("PLAN_UNEXPECTED");
}

#[test]
fn needs_without_a_primary_load_with_one_warning_per_plan() {
    // Only the secondary need is left.
    let r = run(&mutate(
        "<SENneed>\n            <SENtype>ASD</SENtype>\n            <SENtypeRank>1</SENtypeRank>\n          </SENneed>",
        "",
    ));
    r.assert_all_loaded();
    assert_eq!(r.loaded("sen_need"), 1);
    assert_eq!(r.strings("sen_need", "sen_type"), [Some("SLCN".into())]);
    assert_eq!(r.stats.warnings, counts(&[("NEED_PRIMARY", 1)]));

    // Two secondary needs: the repeated rank is rejected, the plan counted once.
    let r = run(&mutate("<SENtypeRank>1<", "<SENtypeRank>2<"));
    assert_eq!(r.loaded("sen_need"), 1);
    assert_eq!(
        r.stats.tables["sen_need"].quarantined,
        counts(&[("DUPLICATE_RANK", 1)])
    );
    assert_eq!(r.stats.warnings, counts(&[("NEED_PRIMARY", 1)]));
}

#[test]
fn a_setting_with_no_identifier_loads_with_a_warning() {
    let i = VALID.find("<PlacementDetail>").unwrap();
    let (a, b) = VALID.split_at(i);
    let xml = format!(
        "{a}{}",
        b.replacen("<URN>117000</URN>", "<URN>11700</URN>", 1)
            .replacen("<SENSetting>OTH</SENSetting>", "", 1)
    );
    let r = run(&xml);
    r.assert_all_loaded();
    // The malformed URN is nulled under its own rule; the missing setting only counted.
    assert_eq!(r.strings("placement", "urn"), [None]);
    assert_eq!(r.stats.warnings, counts(&[("SETTING_MISSING", 1)]));
    assert_eq!(r.stats.field_rejects, counts(&[("INVALID_FORMAT", 1)]));
    assert_eq!(
        r.quarantine(),
        [field_entry(
            "placement",
            "INVALID_FORMAT",
            "URN",
            Some("11700")
        )]
    );
}

#[test]
fn a_repeated_element_is_nulled_with_both_values_kept() {
    let r = run(&mutate("<RYA>0</RYA>", "<RYA>0</RYA><RYA>1</RYA>"));
    r.assert_all_loaded();
    r.assert_nulled("request", "DUPLICATE_ELEMENT", "RYA", Some(r#"["0","1"]"#));

    // A repeated identifier: which child this is cannot be told.
    let r = run(&mutate(
        "<UPN>T919123456789</UPN>",
        "<UPN>T919123456789</UPN><UPN>A919123456789</UPN>",
    ));
    assert_eq!(
        r.stats.tables["person"].quarantined,
        counts(&[("DUPLICATE_ELEMENT", 1)])
    );
    assert_eq!(r.loaded("request"), 0);

    // Sex may not be null in the person table: the person is rejected.
    let r = run(&mutate("<Sex>F</Sex>", "<Sex>F</Sex><Sex>M</Sex>"));
    assert_eq!(
        r.stats.tables["person"].quarantined,
        counts(&[("DUPLICATE_ELEMENT", 1)])
    );
}

#[test]
fn a_missing_mandatory_value_in_a_non_nullable_column_still_rejects() {
    // A rank is part of the record's key.
    let r = run(&mutate("<PlacementRank>1</PlacementRank>", ""));
    assert_eq!(
        r.stats.tables["plan_setting"].quarantined,
        counts(&[("MISSING_REQUIRED_FIELD", 1)])
    );
    // The same rule on a column the schema declares NOT NULL rejects the record: the schema,
    // not the code, says which values a record cannot load without.
    let r = run_with(
        patched(&[(
            "tables/request.toml",
            "request_outcome",
            "nullable = true",
            "nullable = false",
        )]),
        &without("RequestOutcome"),
    );
    assert_eq!(
        r.stats.tables["request"].quarantined,
        counts(&[("MISSING_REQUIRED_FIELD", 1)])
    );
    assert_eq!(r.loaded("assessment"), 0);
}

#[test]
fn a_missing_outcome_loads_the_request_tree_with_a_null_outcome() {
    let r = run(&without("RequestOutcome"));
    r.assert_all_loaded();
    assert_eq!(r.strings("request", "request_outcome"), [None]);
    r.assert_nulled("request", "MISSING_REQUIRED_FIELD", "RequestOutcome", None);
    // With the outcome unknown, neither ASSESSMENT_UNEXPECTED nor ASSESSMENT_MISSING fires.
    assert!(r.stats.warnings.is_empty());
}

#[test]
fn age_out_of_range_nulls_the_birth_date_and_the_child_loads() {
    let xml = mutate(
        "<PersonBirthDate>2015-03-20<",
        "<PersonBirthDate>1995-03-20<",
    );
    let r = run(&xml);
    r.assert_all_loaded();
    assert_eq!(r.date_nulls("person", "birth_month"), [true]);
    r.assert_nulled(
        "person",
        "AGE_OUT_OF_RANGE",
        "PersonBirthDate",
        Some("1995-03-20"),
    );

    // Where the schema requires the birth month, the person is rejected instead.
    let required = |column| {
        (
            "tables/person.toml",
            column,
            "nullable = true",
            "nullable = false",
        )
    };
    let r = run_with(
        patched(&[required("birth_month"), required("age_at_census")]),
        &xml,
    );
    assert_eq!(
        r.stats.tables["person"].quarantined,
        counts(&[("AGE_OUT_OF_RANGE", 1)])
    );
}

#[test]
fn an_active_plan_after_its_plan_ceased_is_still_rejected_alone() {
    let r = run(&mutate(
        "<PB>0</PB>",
        "<PB>0</PB><CeaseDate>2025-12-20</CeaseDate><CeaseReason>2</CeaseReason>",
    ));
    r.assert_plan_loaded();
    assert_eq!(
        r.stats.tables["active_plan"].quarantined,
        counts(&[("ACTIVE_PLAN_AFTER_CEASE", 1)])
    );
    assert_eq!(
        r.stats.tables["sen_need"].quarantined,
        counts(&[("PARENT_REJECTED", 2)])
    );
}

#[test]
fn a_secondary_need_repeating_the_primary_is_rejected_alone() {
    let r = run(&mutate("<SENtype>SLCN<", "<SENtype>ASD<"));
    assert_eq!(r.loaded("sen_need"), 1);
    assert_eq!(r.loaded("active_plan"), 1);
    assert_eq!(
        r.stats.tables["sen_need"].quarantined,
        counts(&[("NEED_DUPLICATE_TYPE", 1)])
    );
}

#[test]
fn the_rule_file_says_what_the_code_does() {
    let registry = embedded();
    let severity = |id: &str| registry.rule(id).unwrap().severity;
    for id in [
        "MISSING_REQUIRED_FIELD",
        "DUPLICATE_ELEMENT",
        "AGE_OUT_OF_RANGE",
        "REQUEST_DATE_ORDER",
        "ASSESSMENT_DATE_ORDER",
        "PLAN_DATE_ORDER",
        "CEASE_REASON_PAIRING",
    ] {
        assert_eq!(severity(id), Severity::Field, "{id}");
    }
    for id in [
        "CEASE_DATE_ORDER",
        "PLACEMENT_DATE_ORDER",
        "ASSESSMENT_UNEXPECTED",
        "PLAN_UNEXPECTED",
        "NEED_PRIMARY",
        "SETTING_MISSING",
    ] {
        assert_eq!(severity(id), Severity::Warn, "{id}");
    }
    for id in [
        "NO_IDENTIFIER",
        "DUPLICATE_PERSON",
        "ACTIVE_PLAN_AFTER_CEASE",
        "NEED_DUPLICATE_TYPE",
        "CARDINALITY",
        "DUPLICATE_RANK",
        "PARENT_REJECTED",
    ] {
        assert_eq!(severity(id), Severity::Record, "{id}");
    }
}

#[test]
fn the_third_party_mock_keeps_its_assessment_stubs() {
    let xml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/sen2/SEN2-2024-mockup.xml"),
    )
    .unwrap();
    let r = run(&xml);
    // The A stubs under the refused (N) and undecided (A) requests load, each counted.
    assert_eq!(r.loaded("assessment"), 3);
    assert_eq!(r.stats.warnings, counts(&[("ASSESSMENT_UNEXPECTED", 2)]));
    // The active plan of a plan that ceased before census day still goes, alone.
    assert_eq!(
        r.stats.tables["active_plan"].quarantined,
        counts(&[("ACTIVE_PLAN_AFTER_CEASE", 1)])
    );
    assert_eq!(r.quarantine().len(), 9);
}

#[test]
fn every_defect_the_simulator_injects_is_counted_and_nothing_is_lost() {
    use sendlake_sim::{DefectConfig, Sen2Format, Sen2SimConfig, write_sen2_return};
    for format in [Sen2Format::V2026, Sen2Format::V2024] {
        let cfg = Sen2SimConfig {
            las: 1,
            persons_per_la: 600,
            seed: 5,
            format,
            defects: Some(DefectConfig::uniform(0.05)),
            ..Sen2SimConfig::default()
        };
        let mut xml = Vec::new();
        let counts = write_sen2_return(&cfg, 919, 0, &mut xml).unwrap();
        let r = run(std::str::from_utf8(&xml).unwrap());
        assert!(counts.defects.total() > 50, "{:?}", counts.defects);
        // Each injected defect is in the counts under its reason code, nulled or warned...
        assert_eq!(r.stats.field_rejects, counts.defects.nulled, "{format}");
        assert_eq!(r.stats.warnings, counts.defects.warned, "{format}");
        // ...each nulled value is in the quarantine with its reason...
        let quarantined = r.quarantine();
        assert!(quarantined.iter().all(|e| e.level == "field"));
        assert_eq!(
            quarantined.len() as u64,
            r.stats.field_rejects.values().sum::<u64>()
        );
        // ...and no record was lost.
        r.assert_all_loaded();
        assert_eq!(r.loaded("person"), counts.persons);
        assert_eq!(r.loaded("active_plan"), counts.active_plans);
        assert_eq!(r.loaded("placement"), counts.placements);
        assert_eq!(r.loaded("sen_need"), counts.sen_needs);
    }
}
