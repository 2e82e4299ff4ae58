//! Tests of the record mapper end to end: a mapping compiled against the embedded schema, and
//! records mapped through it (values, rejects, ids, person keys, drift).

use chrono::NaiveDate;
use sendlake_extract::records::{Origin, SourceRecord};
use serde_json::json;

use super::*;

fn registry() -> SchemaRegistry {
    SchemaRegistry::embedded().unwrap()
}

fn ctx(typed_json: bool) -> StreamContext {
    StreamContext {
        source: "src".into(),
        stream: "st".into(),
        run_id: "run".into(),
        loaded_at: DateTime::UNIX_EPOCH,
        typed_json,
    }
}

fn mapper(toml_text: &str, typed: bool) -> Result<RecordMapper, String> {
    let cfg: MappingConfig = toml::from_str(toml_text).unwrap();
    RecordMapper::new(
        &registry(),
        Arc::new(PseudonymisationKey::demo()),
        &cfg,
        ctx(typed),
    )
}

fn rec(v: Json) -> SourceRecord {
    SourceRecord {
        value: v,
        origin: Origin {
            location: "f".into(),
            position: "item 1".into(),
        },
    }
}

const FEEDBACK: &str = r#"
table = "family_feedback"
id = "/id"
# Test records leave fields out; under `evolve` that is reported, not rejected.
drift = "evolve"
[[columns]]
name = "submitted_date"
from = "/date"
format = "%d/%m/%Y"
[[columns]]
name = "respondent_group"
from = "/group"
map = { "Parent/carer" = "parent_carer" }
default = "professional"
[[columns]]
name = "locality"
from = "/locality"
[[columns]]
name = "rating_kept_informed"
from = "/a"
nulls = ["n/a"]
[[columns]]
name = "rating_needs_understood"
from = "/b"
[[columns]]
name = "rating_listened_to"
from = "/c"
[[columns]]
name = "rating_support_quick"
from = "/d"
[[columns]]
name = "rating_overall"
value = 4
"#;

fn feedback(v: Json) -> Mapped {
    mapper(FEEDBACK, false)
        .unwrap()
        .map(&rec(v), &LinkMap::default())
        .unwrap()
}

#[test]
fn coerces_maps_defaults_and_nulls() {
    let m = feedback(
        json!({"id": "R1", "date": "04/01/2026", "group": "parent/CARER",
        "locality": "North", "a": "n/a", "b": "3", "c": 5, "d": ""}),
    );
    assert!(m.rejects.is_empty(), "{:?}", m.rejects);
    let row = m.row.unwrap();
    let days = (NaiveDate::from_ymd_opt(2026, 1, 4).unwrap()
        - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
    .num_days() as i32;
    assert_eq!(row[0], Value::Date32(days));
    assert_eq!(
        row[1],
        Value::Utf8("parent_carer".into()),
        "map ignores case"
    );
    assert_eq!(row[3], Value::Null, "`n/a` is declared a null");
    assert_eq!(row[4], Value::Int32(3));
    assert_eq!(row[5], Value::Int32(5));
    assert_eq!(row[6], Value::Null);
    assert_eq!(row[7], Value::Int32(4), "constant");
    // Not in the map and not a code: the default.
    let m = feedback(json!({"id": "R2", "date": "05/01/2026", "group": "Teacher"}));
    assert_eq!(m.row.unwrap()[1], Value::Utf8("professional".into()));
}

#[test]
fn bad_values_reject_the_field_or_the_record() {
    // A nullable column: nulled and reported, the record loads.
    let m =
        feedback(json!({"id": "R1", "date": "04/01/2026", "group": "Parent/carer", "b": "three"}));
    assert_eq!(m.rejects.len(), 1);
    assert_eq!(m.rejects[0].reason, "VALUE_TYPE");
    assert!(!m.rejects[0].whole_record);
    assert_eq!(m.rejects[0].raw_value.as_deref(), Some("three"));
    assert!(
        !m.rejects[0].message.contains("three"),
        "messages never carry the value"
    );
    assert!(m.row.is_some());
    // A required column: the record is rejected.
    let m = feedback(json!({"id": "R1", "date": "2026-01-04", "group": "Parent/carer"}));
    assert!(m.row.is_none());
    assert_eq!(m.rejects.len(), 1);
    assert!(m.rejects[0].whole_record);
    assert_eq!(m.rejects[0].reason, "VALUE_TYPE");
    // No id.
    let m = feedback(json!({"date": "04/01/2026", "group": "Parent/carer"}));
    assert_eq!(m.rejects[0].reason, "RECORD_ID_MISSING");
    let m = feedback(json!([1, 2]));
    assert_eq!(m.rejects[0].reason, "RECORD_NOT_OBJECT");
}

#[test]
fn record_ids_are_pseudonymised_and_composite_ids_join_their_parts() {
    let m = feedback(json!({"id": "R1", "date": "04/01/2026", "group": "Parent/carer"}));
    let id = m.record_id.unwrap();
    assert_eq!(id.len(), 64);
    assert_ne!(id, "R1");
    assert_eq!(m.raw_id.as_deref(), Some("R1"));
    let text = FEEDBACK.replace(
        "id = \"/id\"",
        "id = [\"/id\", \"/locality\"]\npseudonymise_id = false",
    );
    let m = mapper(&text, false).unwrap();
    let v = json!({"id": 7, "locality": "East"});
    assert_eq!(m.raw_id(&v).as_deref(), Some("7|East"));
    assert_eq!(m.raw_id(&json!({"id": 7})).as_deref(), Some("7|"));
    assert_eq!(m.raw_id(&json!({"x": 1})), None);
    assert_eq!(m.stored_id("7|East"), "7|East");
}

#[test]
fn mapping_errors_name_the_key() {
    let missing = FEEDBACK.replace(
        "[[columns]]\nname = \"locality\"\nfrom = \"/locality\"\n",
        "",
    );
    let e = mapper(&missing, false).unwrap_err();
    assert!(e.contains("`locality` is not mapped"), "{e}");
    let twice = format!("{FEEDBACK}\n[[columns]]\nname = \"locality\"\nfrom = \"/x\"\n");
    assert!(mapper(&twice, false).unwrap_err().contains("mapped twice"));
    let lineage = format!("{FEEDBACK}\n[[columns]]\nname = \"run_id\"\nfrom = \"/x\"\n");
    assert!(
        mapper(&lineage, false)
            .unwrap_err()
            .contains("lineage column")
    );
    let bad = FEEDBACK.replace("from = \"/locality\"", "from = \"locality\"");
    assert!(
        mapper(&bad, false)
            .unwrap_err()
            .contains("not a JSON pointer")
    );
    let fmt = FEEDBACK.replace(
        "from = \"/locality\"",
        "from = \"/locality\"\nformat = \"%Y\"",
    );
    assert!(
        mapper(&fmt, false)
            .unwrap_err()
            .starts_with("columns[2].format")
    );
    let sen2 = FEEDBACK.replace("family_feedback", "person");
    assert!(mapper(&sen2, false).unwrap_err().contains("record_lineage"));
}

const REFERRAL: &str = r#"
table = "health_referral"
id = "/id"
drift = "quarantine"
ignore = ["/name"]
[person]
upn = "/upn"
nhs_number = "/nhs"
[[columns]]
name = "person_key"
derive = "person_key"
[[columns]]
name = "person_key_basis"
derive = "person_key_basis"
[[columns]]
name = "nhs_number_key"
derive = "nhs_number_key"
[[columns]]
name = "service_line"
from = "/line"
[[columns]]
name = "provider_code"
value = "RY4"
[[columns]]
name = "service_code"
value = "RY4-X"
[[columns]]
name = "referral_date"
from = "/referred"
[[columns]]
name = "first_contact_date"
from = "/contact"
[[columns]]
name = "discharge_date"
from = "/discharge"
"#;

fn referral(v: Json, links: &LinkMap, policy: &str) -> Result<Mapped, DriftStop> {
    let text = REFERRAL.replace("drift = \"quarantine\"", &format!("drift = \"{policy}\""));
    mapper(&text, true).unwrap().map(&rec(v), links)
}

fn base() -> Json {
    json!({"id": "F1", "upn": null, "nhs": "943 476 5919", "line": "physiotherapy",
           "referred": "2025-03-01", "contact": null, "discharge": null, "name": "never loaded"})
}

#[test]
fn person_keys_follow_the_sen2_precedence_and_links() {
    let key = PseudonymisationKey::demo();
    let m = referral(base(), &LinkMap::default(), "quarantine").unwrap();
    let row = m.row.unwrap();
    let nhs_key = key.pseudonym("nhs_number", "9434765919");
    assert_eq!(row[0], Value::Shared(Arc::from(nhs_key.as_str())));
    assert_eq!(row[1], Value::Utf8("nhs_number".into()));
    assert_eq!(row[2], Value::Utf8(nhs_key.clone()));
    // A link from another partner gives the UPN-based key.
    let mut links = LinkMap::default();
    links.insert(&nhs_key, "upn-key", "upn");
    let row = referral(base(), &links, "quarantine").unwrap().row.unwrap();
    assert_eq!(row[0], Value::Shared(Arc::from("upn-key")));
    assert_eq!(row[1], Value::Utf8("upn".into()));
    // The record's own UPN wins over a link, with the SEN2 conformer's key.
    let mut v = base();
    // A permanent UPN (a synthetic one, valid check letter) from the simulator's return.
    let upn = "H919200014004";
    assert!(crate::identifiers::check_upn(upn, |_| true).is_ok());
    v["upn"] = json!(upn);
    let row = referral(v, &links, "quarantine").unwrap().row.unwrap();
    assert_eq!(
        row[0],
        Value::Shared(Arc::from(key.pseudonym("upn", upn).as_str()))
    );
    assert_eq!(row[1], Value::Utf8("upn".into()));
    // A bad NHS number and nothing else: no key, record rejected; the bad value reported.
    let mut v = base();
    v["nhs"] = json!("9434765918");
    let m = referral(v, &LinkMap::default(), "quarantine").unwrap();
    assert!(m.row.is_none());
    assert_eq!(m.rejects.last().unwrap().reason, "RECORD_NO_IDENTIFIER");
}

#[test]
fn drift_is_found_and_handled_by_policy() {
    let links = LinkMap::default();
    let mut added = base();
    added["colour"] = json!("red");
    let m = referral(added.clone(), &links, "quarantine").unwrap();
    assert!(m.row.is_none());
    assert_eq!(m.rejects[0].reason, "DRIFT_NEW_FIELD");
    assert_eq!(m.rejects[0].field, "/colour");
    let m = referral(added.clone(), &links, "evolve").unwrap();
    assert!(m.row.is_some());
    assert_eq!(m.drift.len(), 1);
    let e = referral(added, &links, "freeze").unwrap_err();
    assert_eq!(e.drift.kind, DriftKind::NewField);

    let mut removed = base();
    removed.as_object_mut().unwrap().remove("contact");
    assert_eq!(
        referral(removed, &links, "quarantine").unwrap().rejects[0].reason,
        "DRIFT_REMOVED_FIELD"
    );
    let mut retyped = base();
    retyped["referred"] = json!(20250301);
    assert_eq!(
        referral(retyped, &links, "quarantine").unwrap().rejects[0].reason,
        "DRIFT_TYPE_CHANGE"
    );
    // Ignored and null fields are not drift.
    assert!(referral(base(), &links, "freeze").unwrap().drift.is_empty());
}

#[test]
fn every_record_rule_is_declared() {
    check_rules(&registry()).unwrap();
}
