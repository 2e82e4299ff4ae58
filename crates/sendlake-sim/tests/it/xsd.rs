//! Generated files are valid against their XSD, checked with `xmllint`: 2024 files against
//! the third-party liia-tools XSD, 2026 files against our 2026 XSD. Negative controls prove
//! xmllint is really validating.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sendlake_sim::{DefectConfig, DefectKind, Sen2Format, Sen2SimConfig};

use crate::support::{generate, workspace_root, xml_files};

fn xsd_2024() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/SEN2_schema_2024.xsd")
}

fn xsd_2026() -> PathBuf {
    workspace_root().join("schemas/sen2/SEN2_schema_2026_sendlake.xsd")
}

/// `false` if the user asked to skip; panics if xmllint is missing otherwise.
fn xmllint_available() -> bool {
    if std::env::var("SENDLAKE_SKIP_XMLLINT").is_ok_and(|v| v == "1") {
        eprintln!("SENDLAKE_SKIP_XMLLINT=1: XSD validation skipped");
        return false;
    }
    let found = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "xmllint not found: install it with `apt-get install libxml2-utils` \
         (or set SENDLAKE_SKIP_XMLLINT=1 to skip XSD tests)"
    );
    true
}

/// Runs xmllint; `Err(stderr)` if any file is invalid.
fn validate(xsd: &Path, files: &[PathBuf]) -> Result<(), String> {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr)
    }
}

fn cfg(format: Sen2Format, census_year: i32) -> Sen2SimConfig {
    Sen2SimConfig {
        las: 4,
        persons_per_la: 250,
        seed: 2024,
        census_year,
        format,
        first_la: Some(919),
        defects: None,
    }
}

#[test]
fn v2024_files_validate_against_the_third_party_xsd() {
    if !xmllint_available() {
        return;
    }
    for year in [2024, 2026] {
        let (_dir, summary) = generate(&cfg(Sen2Format::V2024, year));
        if let Err(e) = validate(&xsd_2024(), &xml_files(&summary)) {
            panic!("{year}: {e}");
        }
    }
}

#[test]
fn v2026_files_validate_against_the_sendlake_2026_xsd() {
    if !xmllint_available() {
        return;
    }
    let (_dir, summary) = generate(&cfg(Sen2Format::V2026, 2026));
    let files = xml_files(&summary);
    // The run must exercise the 2026-only items, or this test proves little.
    let all: String = files
        .iter()
        .map(|f| fs::read_to_string(f).unwrap())
        .collect();
    for item in [
        "<RequestSource>",
        "<ReviewDraft>",
        "<PhaseTransferDueDate>",
        "<PhaseTransferFinalDate>",
        "<SENtype>DS</SENtype>",
    ] {
        assert!(all.contains(item), "no {item} in the sample");
    }
    if let Err(e) = validate(&xsd_2026(), &files) {
        panic!("{e}");
    }
}

#[test]
fn files_with_defects_validate_unless_the_defect_breaks_the_xsd() {
    if !xmllint_available() {
        return;
    }
    for (format, xsd) in [
        (Sen2Format::V2024, xsd_2024()),
        (Sen2Format::V2026, xsd_2026()),
    ] {
        let with = |defects| Sen2SimConfig {
            defects: Some(defects),
            ..cfg(format, 2026)
        };
        let (_d, summary) = generate(&with(DefectConfig::xsd_valid(0.1)));
        assert!(summary.totals().defects.total() > 0);
        if let Err(e) = validate(&xsd, &xml_files(&summary)) {
            panic!("{format}: {e}");
        }
        for kind in DefectKind::ALL.into_iter().filter(|k| !k.xsd_valid()) {
            let (_d, summary) = generate(&with(DefectConfig::only(kind, 0.1)));
            assert!(
                validate(&xsd, &xml_files(&summary)).is_err(),
                "{format}: {kind:?} should break the XSD"
            );
        }
    }
}

#[test]
fn xmllint_rejects_what_it_should() {
    if !xmllint_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 2026 items are unknown to the 2024 XSD.
    let (_d, summary) = generate(&Sen2SimConfig {
        las: 1,
        persons_per_la: 30,
        ..Sen2SimConfig::default()
    });
    let err = validate(&xsd_2024(), &xml_files(&summary)).unwrap_err();
    assert!(err.contains("RequestSource"), "{err}");

    // A PlanDetail without its mandatory SENSetting.
    let (_d, summary) = generate(&Sen2SimConfig {
        las: 1,
        persons_per_la: 30,
        format: Sen2Format::V2024,
        ..Sen2SimConfig::default()
    });
    let xml = fs::read_to_string(&summary.files[0].path).unwrap();
    let broken = xml.replacen("<SENSetting>OTH</SENSetting>", "", 1);
    assert_ne!(broken, xml);
    let path = dir.path().join("broken.xml");
    fs::write(&path, broken).unwrap();
    assert!(validate(&xsd_2024(), &[path]).is_err());
}

#[test]
fn the_2026_xsd_keeps_attribution_and_flags_its_assumptions() {
    let xsd = fs::read_to_string(xsd_2026()).unwrap();
    for needle in [
        "SocialFinanceDigitalLabs/liia-tools",
        "MIT License, Copyright (c) 2022 Social Finance Digital Labs",
        "Permission is hereby granted",
        "[unconfirmed]",
        "name=\"RequestSource\"",
        "name=\"ReviewDraft\"",
        "name=\"PhaseTransferDueDate\"",
        "name=\"PhaseTransferFinalDate\"",
    ] {
        assert!(xsd.contains(needle), "missing {needle}");
    }
    // Positions: RequestSource right after ReceivedDate; the three dates right after
    // LastReview, in that order (each element directly follows the previous one).
    let follows = |first: &str, then: &str| {
        let i = xsd.find(&format!("name=\"{first}\"")).unwrap();
        let j = xsd.find(&format!("name=\"{then}\"")).unwrap();
        i < j && xsd[i..j].matches("<xs:element").count() == 1
    };
    assert!(follows("ReceivedDate", "RequestSource"));
    assert!(follows("LastReview", "ReviewDraft"));
    assert!(follows("ReviewDraft", "PhaseTransferDueDate"));
    assert!(follows("PhaseTransferDueDate", "PhaseTransferFinalDate"));
}
