//! The third-party mock return (`tests/fixtures/sen2/SEN2-2024-mockup.xml`): CRLF, tabs,
//! no declaration, trailing spaces, no final newline.

use std::path::Path;

use sendlake_extract::{Position, RawField, Sen2Item, Sen2Reader};

use crate::{
    MOCK_PATH, assert_positions, count_nodes, headers, mock_bytes, persons, run, run_trickle,
};

fn pos(line: u32, column: u32) -> Position {
    Position { line, column }
}

#[test]
fn fixture_is_the_byte_exact_upstream_file() {
    let bytes = mock_bytes();
    assert_eq!(bytes.len(), 4892, "CRLF form of the upstream file");
    assert!(bytes.windows(2).filter(|w| w == b"\r\n").count() > 150);
    assert!(
        bytes.ends_with(b"</Message>        "),
        "eight trailing spaces, no newline"
    );
}

#[test]
fn one_header_two_persons_nothing_else() {
    let (items, err) = run(&mock_bytes());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(items.len(), 3);
    assert!(matches!(items[0], Sen2Item::Header(_)));
    let ps = persons(&items);
    assert_eq!(ps.iter().map(|p| p.index).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn header_structure() {
    let (items, _) = run(&mock_bytes());
    let h = headers(&items)[0];
    assert_eq!(
        (h.name.as_str(), h.path.as_str(), h.pos),
        ("Header", "Message/Header", pos(2, 2))
    );
    assert!(h.fields.is_empty());
    let names: Vec<_> = h.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["CollectionDetails", "Source"]);
    let cd = h.child("CollectionDetails").unwrap();
    assert_eq!(cd.path, "Message/Header/CollectionDetails");
    assert_eq!(cd.value("Collection"), Some("SEN2"));
    assert_eq!(cd.value("Year"), Some("2024"));
    assert_eq!(cd.value("ReferenceDate"), Some("2024-01-18"));
    let src = h.child("Source").unwrap();
    let fields: Vec<_> = src
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_deref()))
        .collect();
    assert_eq!(
        fields,
        [
            ("SourceLevel", Some("L")),
            ("LEA", Some("201")),
            ("SoftwareCode", Some("Local Authority")),
            ("Release", Some("ver 3.1.21")),
            ("SerialNo", Some("001")),
            ("DateTime", Some("2022-05-23T11:14:05")),
            ("DMO", Some("Y")),
            ("DCO", Some("Y")),
        ]
    );
    assert_eq!(src.field("LEA").unwrap().pos, pos(10, 4));
}

#[test]
fn person_one_structure() {
    let (items, _) = run(&mock_bytes());
    let p = &persons(&items)[0].element;
    assert_eq!(
        (p.path.as_str(), p.pos),
        ("Message/Persons/Person[1]", pos(20, 3))
    );
    let names: Vec<_> = p.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Surname",
            "Forename",
            "PersonBirthDate",
            "Sex",
            "Ethnicity",
            "PostCode",
            "UPN",
            "UniqueLearnerNumber",
            "UPNunknown"
        ]
    );
    assert_eq!(
        p.field("Sex"),
        Some(&RawField {
            name: "Sex".into(),
            value: Some("M".into()),
            pos: pos(24, 4)
        })
    );
    assert_eq!(p.value("UPN"), Some("X123456789875"));
    // `<UPNunknown></UPNunknown>`: present but blank.
    assert_eq!(
        p.field("UPNunknown").map(|f| f.value.as_deref()),
        Some(None)
    );
    assert_eq!(p.field("UPNunknown").unwrap().pos, pos(29, 4));

    assert_eq!(p.children.len(), 1);
    let req = p.child("Requests").unwrap();
    assert_eq!(
        (req.path.as_str(), req.pos),
        ("Message/Persons/Person[1]/Requests[1]", pos(30, 4))
    );
    assert_eq!(req.value("RequestOutcome"), Some("Y"));
    assert_eq!(req.field("Exported").unwrap().value, None);
    assert_eq!(req.fields.len(), 7);

    let assessment = req.child("Assessment").unwrap();
    assert_eq!(
        assessment.path,
        "Message/Persons/Person[1]/Requests[1]/Assessment"
    );
    assert_eq!(assessment.fields.len(), 7);
    let plan = assessment.child("NamedPlan").unwrap();
    assert_eq!(plan.value("StartDate"), Some("2023-12-26"));
    assert_eq!(plan.value("CeaseReason"), Some("4"));
    let details: Vec<_> = plan.children_named("PlanDetail").collect();
    assert_eq!(details.len(), 2);
    assert_eq!(details[0].value("SENSettingOther"), Some("Free text here"));
    assert_eq!(
        details[1].path,
        "Message/Persons/Person[1]/Requests[1]/Assessment/NamedPlan/PlanDetail[2]"
    );
    assert_eq!(details[1].field("SENSetting").unwrap().value, None);
    assert_eq!(details[1].value("PlacementRank"), Some("2"));

    let active = req.child("ActivePlans").unwrap();
    assert_eq!(active.field("TransferLA").unwrap().value, None);
    let placements: Vec<_> = active.children_named("PlacementDetail").collect();
    assert_eq!(placements.len(), 2);
    assert_eq!(
        placements[1].path,
        "Message/Persons/Person[1]/Requests[1]/ActivePlans/PlacementDetail[2]"
    );
    assert_eq!(placements[1].value("PlacementRank"), Some("2"));
    assert_eq!(placements[1].value("WBP"), Some("S"));
    let needs: Vec<_> = active.children_named("SENneed").collect();
    assert_eq!(needs.len(), 2);
    assert_eq!(
        needs
            .iter()
            .map(|n| (n.value("SENtype"), n.value("SENtypeRank")))
            .collect::<Vec<_>>(),
        [(Some("SEMH"), Some("1")), (Some("SPLD"), Some("2"))]
    );
    assert_eq!(
        needs[0].path,
        "Message/Persons/Person[1]/Requests[1]/ActivePlans/SENneed[1]"
    );
    assert_eq!(active.value("LastReview"), Some("2024-01-08"));
    assert_eq!(
        active.field_path("LastReview"),
        format!("{}/LastReview", active.path)
    );
}

#[test]
fn person_two_structure() {
    let (items, _) = run(&mock_bytes());
    let p = &persons(&items)[1].element;
    assert_eq!(p.path, "Message/Persons/Person[2]");
    assert_eq!(p.value("Surname"), Some("RequestRefused"));
    let reqs: Vec<_> = p.children_named("Requests").collect();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].path, "Message/Persons/Person[2]/Requests[2]");
    assert_eq!(reqs[0].value("RequestOutcome"), Some("N"));
    assert_eq!(reqs[1].value("RequestOutcome"), Some("A"));
    assert_eq!(reqs[1].field("RequestOutcomeDate").unwrap().value, None);
    for r in &reqs {
        let a = r.child("Assessment").unwrap();
        assert_eq!(a.fields.len(), 1);
        assert_eq!(a.value("AssessmentOutcome"), Some("A"));
        assert!(a.children.is_empty());
        assert!(r.child("ActivePlans").is_none());
    }
}

#[test]
fn every_element_is_accounted_for_and_every_position_points_at_its_tag() {
    let bytes = mock_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let (items, _) = run(&bytes);
    // The mock has no self-closing tags, so end tags count elements.
    let in_file = text.matches("</").count();
    let mut in_items = 2; // Message and Persons are not items.
    for item in &items {
        match item {
            Sen2Item::Header(h) => in_items += count_nodes(h),
            Sen2Item::Person(p) => in_items += count_nodes(&p.element),
            Sen2Item::Skipped { .. } => panic!("nothing is skipped in the mock"),
        }
    }
    assert_eq!(in_items, in_file);
    for item in &items {
        match item {
            Sen2Item::Header(h) => assert_positions(&text, h),
            Sen2Item::Person(p) => assert_positions(&text, &p.element),
            Sen2Item::Skipped { .. } => {}
        }
    }
}

#[test]
fn file_slice_and_trickle_sources_agree() {
    let bytes = mock_bytes();
    let (from_slice, _) = run(&bytes);
    let mut reader = Sen2Reader::open(Path::new(MOCK_PATH)).unwrap();
    let from_file: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(from_file, from_slice);
    assert_eq!(
        reader.bytes_read(),
        bytes.len() as u64,
        "progress reaches the file size"
    );
    let (trickled, err) = run_trickle(&bytes);
    assert!(err.is_none());
    assert_eq!(trickled, from_slice, "chunk boundaries must not matter");
}

#[test]
fn lf_and_bom_variants_give_the_same_tree_shape() {
    let bytes = mock_bytes();
    let (crlf, _) = run(&bytes);
    let lf: Vec<u8> = String::from_utf8(bytes.clone())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&bytes);
    for variant in [lf, bom] {
        let (items, err) = run(&variant);
        assert!(err.is_none());
        // Same values and same positions: CR is the last character of a line, a BOM is none.
        assert_eq!(items, crlf);
    }
}
