//! The third-party mock return (liia-tools) loads, with exactly the quarantines it deserves.

use std::collections::BTreeMap;

use crate::support::*;

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn the_mock_loads_with_exactly_the_expected_quarantines() {
    let ws = Workspace::new();
    let mock = std::fs::read(fixture("sen2/SEN2-2024-mockup.xml")).unwrap();
    ws.write_input("sen2", "SEN2-2024-mockup.xml", &mock);
    let report = ws.run(&ws.pipeline(&["sen2"]));
    let m = &report.manifest;
    assert_eq!(report.exit_code(), 0, "{:#?}", m.reconciliation);
    assert!(m.reconciled, "{:#?}", m.reconciliation);

    let t = |name: &str| &m.tables[name].counts;
    // Persons: both load, keyed by the documented fallback because no identifier is valid.
    assert_eq!((t("person").read, t("person").loaded), (2, 2));
    assert_eq!((t("request").read, t("request").loaded), (3, 3));
    // The A stubs under the refused (N) and undecided (A) requests cannot exist yet: they load
    // as given, each counted as a warning (defects degrade the item, never the child).
    assert_eq!((t("assessment").read, t("assessment").loaded), (3, 3));
    assert!(t("assessment").quarantined.is_empty());
    assert_eq!((t("named_plan").read, t("named_plan").loaded), (1, 1));
    assert_eq!((t("plan_setting").read, t("plan_setting").loaded), (2, 2));
    // The plan ceased on 2023-12-31, before census day, yet an active plan is reported.
    assert_eq!((t("active_plan").read, t("active_plan").loaded), (1, 0));
    assert_eq!(
        t("active_plan").quarantined,
        counts(&[("ACTIVE_PLAN_AFTER_CEASE", 1)])
    );
    assert_eq!(
        t("placement").quarantined,
        counts(&[("PARENT_REJECTED", 2)])
    );
    assert_eq!(t("sen_need").quarantined, counts(&[("PARENT_REJECTED", 2)]));
    assert_eq!(
        m.field_rejects,
        counts(&[
            ("UPN_CHECK_LETTER", 1),
            ("UPN_LA_RANGE", 1),
            ("ULN_CHECK_DIGIT", 2)
        ])
    );
    assert_eq!(m.warnings, counts(&[("ASSESSMENT_UNEXPECTED", 2)]));
    assert_eq!(m.sources[0].submissions, vec!["201-2024".to_owned()]);

    let person = ws.read("restricted", "person");
    assert_eq!(
        strings(&person, "person_key_basis"),
        vec![Some("fallback".into()), Some("fallback".into())]
    );
    let mut districts = strings(&person, "postcode_district");
    districts.sort();
    assert_eq!(districts, vec![Some("AA1".into()), Some("AB1".into())]);

    // The quarantine holds every rejection with file, position, path, reason and raw value.
    let q = ws.read("secure", "quarantine/sen2_rejects");
    assert_eq!(rows(&q), 9);
    let reasons = strings(&q, "reason_code");
    let paths = strings(&q, "element_path");
    let raw = strings(&q, "raw_value");
    let i = reasons
        .iter()
        .position(|r| r.as_deref() == Some("UPN_CHECK_LETTER"))
        .unwrap();
    assert_eq!(paths[i].as_deref(), Some("Message/Persons/Person[1]/UPN"));
    assert_eq!(raw[i].as_deref(), Some("X123456789875"));
    let j = reasons
        .iter()
        .position(|r| r.as_deref() == Some("ACTIVE_PLAN_AFTER_CEASE"))
        .unwrap();
    assert_eq!(
        paths[j].as_deref(),
        Some("Message/Persons/Person[1]/Requests[1]/ActivePlans")
    );
    assert!(
        !reasons
            .iter()
            .any(|r| r.as_deref() == Some("ASSESSMENT_UNEXPECTED"))
    );
    assert!(
        strings(&q, "source_file")
            .iter()
            .all(|f| f.as_deref() == Some("SEN2-2024-mockup.xml"))
    );
}
