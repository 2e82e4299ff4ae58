//! Bad files are quarantined whole with line and column; the other files still load. Real-world
//! variation (BOM, CRLF, padding, boolean spellings, empty elements, non-ASCII) is accepted.

use crate::support::*;

fn valid() -> String {
    std::fs::read_to_string(fixture("sen2/valid_person.xml")).unwrap()
}

#[test]
fn each_bad_file_kind_is_quarantined_whole_and_the_rest_loads() {
    let v = valid();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not_xml.xml",
            b"UPN,Surname\nT919123456789,Smith\n".to_vec(),
            "FILE_NOT_XML",
        ),
        ("empty.xml", Vec::new(), "FILE_NOT_XML"),
        (
            "truncated.xml",
            v.as_bytes()[..v.len() * 2 / 3].to_vec(),
            "FILE_TRUNCATED",
        ),
        (
            "malformed.xml",
            v.replacen("</Forename>", "</Surname>", 1).into_bytes(),
            "FILE_MALFORMED",
        ),
        (
            "wrong_root.xml",
            v.replace("Message>", "Return>").into_bytes(),
            "FILE_WRONG_ROOT",
        ),
        (
            "bad_utf8.xml",
            {
                let mut b = v.clone().into_bytes();
                let i = v.find("Zoë").unwrap() + 2;
                b[i] = 0xff;
                b
            },
            "FILE_ENCODING",
        ),
        (
            "no_lea.xml",
            v.replacen("<LEA>919</LEA>", "<LEA>9x9</LEA>", 1)
                .into_bytes(),
            "HEADER_INVALID",
        ),
    ];
    for (name, content, reason) in &cases {
        let ws = Workspace::new();
        // A good file beside the bad one (a different LA, so its submission differs).
        ws.write_input(
            "sen2",
            "a_good.xml",
            v.replacen("<LEA>919</LEA>", "<LEA>201</LEA>", 1),
        );
        ws.write_input("sen2", name, content);
        let report = ws.run(&ws.pipeline(&["sen2"]));
        let m = &report.manifest;
        assert_eq!(
            report.exit_code(),
            1,
            "{name}: a quarantined file is a partial failure"
        );
        let f = m.sources[0].files.iter().find(|f| f.file == *name).unwrap();
        let err = f
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{name} was not quarantined"));
        assert_eq!(err.reason, *reason, "{name}: {}", err.message);
        // Every kind names where, even an empty file (line 1, column 1).
        assert!(
            err.line.is_some() && err.column.is_some(),
            "{name}: no position in {err:?}"
        );
        assert!(err.message.contains("line "), "{name}: {}", err.message);
        // The good file loaded; nothing of the bad one did.
        assert_eq!(m.tables["person"].counts.loaded, 1, "{name}");
        assert_eq!(rows(&ws.read("restricted", "person")), 1, "{name}");
        let q = ws.read("secure", "quarantine/sen2_rejects");
        let levels = strings(&q, "level");
        let files = strings(&q, "source_file");
        assert!(
            levels
                .iter()
                .zip(&files)
                .any(|(l, f)| l.as_deref() == Some("file") && f.as_deref() == Some(*name)),
            "{name}"
        );
        assert!(m.reconciled, "{name}: {:#?}", m.reconciliation);
    }
}

#[test]
fn real_world_variation_is_accepted() {
    let v = valid()
        .replace('\n', "\r\n")
        .replacen("<Sex>F</Sex>", "<Sex>  F \t</Sex>", 1)
        .replacen("<RYA>0</RYA>", "<RYA>FALSE</RYA>", 1)
        .replacen("<RequestMediation>0<", "<RequestMediation>false<", 1)
        .replacen("<RequestTribunal>0<", "<RequestTribunal>TRUE<", 1)
        .replacen("<Week20>0<", "<Week20>true<", 1)
        .replacen("<PB>0</PB>", "<PB/><OA></OA>", 1)
        .replacen("<Surname>Testperson<", "<Surname>Ñúñez-Łowe 😀<", 1);
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(v.as_bytes());
    let ws = Workspace::new();
    ws.write_input("sen2", "variant.xml", bytes);
    let report = ws.run(&ws.pipeline(&["sen2"]));
    let m = &report.manifest;
    assert_eq!(report.exit_code(), 0, "{:#?}", m.sources[0].files[0].error);
    for (t, s) in &m.tables {
        if t != "quarantine/sen2_rejects" {
            assert_eq!(s.counts.read, s.counts.loaded, "{t}: {:?}", s.counts);
        }
    }
    assert!(m.field_rejects.is_empty(), "{:?}", m.field_rejects);
    assert_eq!(
        strings(&ws.read("restricted", "person"), "sex"),
        vec![Some("F".to_owned())]
    );
}
