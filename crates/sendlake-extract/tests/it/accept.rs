//! Real-world input the reader must accept, one test per quirk.

use sendlake_extract::{Position, Sen2Item};

use crate::{
    Lines, assert_positions, assert_positions_in, headers, items, only_person, person_doc, persons,
    run, run_trickle, skipped,
};

fn pos(line: u32, column: u32) -> Position {
    Position { line, column }
}

#[test]
fn utf8_bom_is_skipped_and_not_counted_as_a_column() {
    let xml = "\u{feff}<Message><Persons><Person><Sex>M</Sex></Person></Persons></Message>";
    let p = only_person(xml);
    assert_eq!(p.pos, pos(1, 19));
    assert_eq!(p.field("Sex").unwrap().pos, pos(1, 27));
}

#[test]
fn crlf_line_endings_keep_lines_and_columns_right() {
    let xml = "<Message>\r\n <Persons>\r\n  <Person>\r\n   <Sex>M</Sex>\r\n   <UPN>A1</UPN>\r\n  \
               </Person>\r\n </Persons>\r\n</Message>\r\n";
    let p = only_person(xml);
    assert_eq!(p.pos, pos(3, 3));
    assert_eq!(p.field("Sex").unwrap().pos, pos(4, 4));
    assert_eq!(p.field("UPN").unwrap().pos, pos(5, 4));
    assert_eq!(p.value("Sex"), Some("M"), "no CR left in values");
    assert_positions(xml, &p);
}

#[test]
fn with_or_without_xml_declaration() {
    let body = "<Message><Persons><Person><Sex>F</Sex></Person></Persons></Message>";
    let plain = items(body);
    for decl in [
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<?xml version='1.0' encoding='utf-8' standalone='yes'?>\r\n",
        "\n  <?xml version=\"1.0\"?>", // leading whitespace: not strictly XML, common in exports
    ] {
        let with = items(&format!("{decl}{body}"));
        assert_eq!(
            persons(&with)[0].element.value("Sex"),
            Some("F"),
            "{decl:?}"
        );
        assert_eq!(with.len(), plain.len());
    }
}

#[test]
fn comments_processing_instructions_and_doctype_anywhere() {
    let xml = "<?xml version=\"1.0\"?>\n<!-- exported by X -->\n<?app hint?>\n<!DOCTYPE Message>\n\
               <Message><!-- c --><?pi x?>\n<Header><!--h--><Source><LEA>9<!-- mid -->19</LEA></Source></Header>\
               <Persons><?pi?><Person><!-- p --><Sex><!-- before -->M<?pi?></Sex></Person></Persons>\
               </Message>\n<!-- trailer -->\n<?done?>\n";
    let all = items(xml);
    assert!(skipped(&all).is_empty());
    assert_eq!(
        headers(&all)[0].child("Source").unwrap().value("LEA"),
        Some("919")
    );
    assert_eq!(persons(&all)[0].element.value("Sex"), Some("M"));
}

#[test]
fn cdata_text_is_taken_literally() {
    let p = only_person(&person_doc(
        "<SENSettingOther><![CDATA[ a < b & c ]]></SENSettingOther>\
         <Surname>O<![CDATA[']]>Brien</Surname><PostCode><![CDATA[]]></PostCode>",
    ));
    assert_eq!(p.value("SENSettingOther"), Some("a < b & c"));
    assert_eq!(p.value("Surname"), Some("O'Brien"));
    assert_eq!(p.field("PostCode").unwrap().value, None);
}

#[test]
fn entity_and_character_references_are_decoded() {
    let p = only_person(&person_doc(
        "<Surname>O&apos;Brien &amp; Sons</Surname><Forename>&#90;o&#xEB;</Forename>\
         <SENSettingOther>&lt;b&gt; &quot;x&quot;</SENSettingOther><PostCode>&#x1F600;</PostCode>",
    ));
    assert_eq!(p.value("Surname"), Some("O'Brien & Sons"));
    assert_eq!(p.value("Forename"), Some("Zoë"));
    assert_eq!(p.value("SENSettingOther"), Some("<b> \"x\""));
    assert_eq!(p.value("PostCode"), Some("😀"));
}

#[test]
fn padded_values_are_trimmed_inner_spaces_kept() {
    let p = only_person(&person_doc(
        "<Sex> M </Sex><Ethnicity>\r\n\t\tWBRI\r\n\t</Ethnicity>\
         <SENSettingOther>  two  spaces  </SENSettingOther><Surname>\u{a0}Nbsp</Surname>\
         <PostCode>AB1\r\n2CD</PostCode>",
    ));
    assert_eq!(p.value("Sex"), Some("M"));
    assert_eq!(p.value("Ethnicity"), Some("WBRI"));
    assert_eq!(p.value("SENSettingOther"), Some("two  spaces"));
    assert_eq!(
        p.value("Surname"),
        Some("\u{a0}Nbsp"),
        "only XML whitespace is padding"
    );
    assert_eq!(
        p.value("PostCode"),
        Some("AB1\n2CD"),
        "line ends inside values become LF"
    );
}

#[test]
fn empty_self_closing_and_blank_elements_are_none() {
    let p = only_person(&person_doc(
        "<UPNunknown/><UPN /><Exported></Exported><PostCode>  \r\n </PostCode><Sex>M</Sex>",
    ));
    for name in ["UPNunknown", "UPN", "Exported", "PostCode"] {
        let f = p
            .field(name)
            .unwrap_or_else(|| panic!("{name} must be present"));
        assert_eq!(f.value, None, "{name}");
    }
    assert_eq!(p.fields.len(), 5);
    assert_eq!(p.field("UPN").unwrap().pos, pos(1, 40));
}

#[test]
fn non_ascii_text_and_names_are_preserved_and_columns_count_characters() {
    let xml = "<Message><Persons><Person>\n<Surname>Łukasz-Zoë Ölçer 😀</Surname><Sex>F</Sex>\n\
               <Prénom>é</Prénom><Ünïcødé><Ø>ö</Ø></Ünïcødé></Person></Persons></Message>";
    let p = only_person(xml);
    assert_eq!(p.value("Surname"), Some("Łukasz-Zoë Ölçer 😀"));
    // `<Surname>` is 9 characters, the value 18, `</Surname>` 10: `<Sex>` starts at 38.
    assert_eq!(p.field("Sex").unwrap().pos, pos(2, 38));
    assert_eq!(p.value("Prénom"), Some("é"));
    let odd = p.child("Ünïcødé").unwrap();
    assert_eq!(odd.path, "Message/Persons/Person[1]/Ünïcødé");
    assert_eq!(odd.value("Ø"), Some("ö"));
    assert_eq!(odd.pos, pos(3, 19));
    assert_positions(xml, &p);
}

#[test]
fn attributes_are_tolerated_and_ignored() {
    let xml = "<Message xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" version='1'>\
               <Persons count=\"1\"><Person id=\"7\"><Sex code=\"x\" >M</Sex><UPN xsi:nil=\"true\"/>\
               </Person></Persons></Message>";
    let p = only_person(xml);
    assert_eq!(p.value("Sex"), Some("M"));
    assert_eq!(p.field("UPN").unwrap().value, None);
}

#[test]
fn namespace_prefixes_and_default_namespace_match_local_names() {
    let prefixed = "<s:Message xmlns:s=\"urn:dfe:sen2\"><s:Header><s:Source><s:LEA>919</s:LEA>\
                    </s:Source></s:Header><s:Persons><s:Person><s:Sex>M</s:Sex></s:Person>\
                    </s:Persons></s:Message>";
    let all = items(prefixed);
    assert_eq!(headers(&all)[0].path, "Message/Header");
    let p = &persons(&all)[0].element;
    assert_eq!(
        (p.name.as_str(), p.path.as_str()),
        ("Person", "Message/Persons/Person[1]")
    );
    assert_eq!(p.field("Sex").unwrap().name, "Sex");
    assert_eq!(p.value("Sex"), Some("M"));
    assert_positions(prefixed, p);

    let default_ns = "<Message xmlns=\"urn:dfe:sen2\"><Persons><Person><Sex>F</Sex></Person>\
                      </Persons></Message>";
    assert_eq!(only_person(default_ns).value("Sex"), Some("F"));
}

#[test]
fn paths_index_repeating_elements_and_later_duplicates() {
    let p = only_person(&person_doc(
        "<Requests><Assessment><X>1</X></Assessment><Assessment><X>2</X></Assessment></Requests>\
         <Requests><ActivePlans><SENneed><SENtype>ASD</SENtype></SENneed></ActivePlans></Requests>\
         <Extra><A/></Extra>",
    ));
    let reqs: Vec<_> = p.children_named("Requests").collect();
    assert_eq!(reqs[0].path, "Message/Persons/Person[1]/Requests[1]");
    let assessments: Vec<_> = reqs[0].children_named("Assessment").collect();
    assert_eq!(
        assessments[0].path,
        "Message/Persons/Person[1]/Requests[1]/Assessment"
    );
    assert_eq!(
        assessments[1].path,
        "Message/Persons/Person[1]/Requests[1]/Assessment[2]"
    );
    assert_eq!(
        reqs[1]
            .child("ActivePlans")
            .unwrap()
            .child("SENneed")
            .unwrap()
            .path,
        "Message/Persons/Person[1]/Requests[2]/ActivePlans/SENneed[1]"
    );
    assert_eq!(
        p.child("Extra").unwrap().path,
        "Message/Persons/Person[1]/Extra"
    );
}

#[test]
fn a_leaf_and_a_container_with_the_same_name_count_as_siblings() {
    let p = only_person(&person_doc("<Note>text</Note><Note><A>1</A></Note>"));
    assert_eq!(p.value("Note"), Some("text"));
    assert_eq!(
        p.child("Note").unwrap().path,
        "Message/Persons/Person[1]/Note[2]"
    );
}

#[test]
fn duplicated_leaves_are_all_kept_for_the_validator() {
    let p = only_person(&person_doc("<Sex>M</Sex><UPN>A</UPN><Sex>F</Sex>"));
    assert_eq!(p.value("Sex"), Some("M"), "value() is the first");
    let all: Vec<_> = p.fields_named("Sex").map(|f| f.value.as_deref()).collect();
    assert_eq!(all, [Some("M"), Some("F")]);
}

#[test]
fn person_indexes_count_across_persons_elements() {
    let xml = "<Message><Persons><Person/><Person><Sex>M</Sex></Person></Persons>\
               <Persons><Person><Sex>F</Sex></Person></Persons></Message>";
    let all = items(xml);
    let ps = persons(&all);
    assert_eq!(ps.iter().map(|p| p.index).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(
        ps[0].element.fields.is_empty(),
        "<Person/> is an empty person, not an error"
    );
    assert_eq!(ps[2].element.path, "Message/Persons[2]/Person[1]");
}

#[test]
fn empty_root_and_empty_persons_are_valid_and_empty() {
    assert!(items("<Message/>").is_empty());
    assert!(items("<Message></Message>").is_empty());
    assert!(items("<Message><Header/><Persons/></Message>").len() == 1);
}

/// Where each skip note points: its path and position, without the reason.
fn skipped_at<'a>(notes: &[(&'a str, Position, &str)]) -> Vec<(&'a str, Position)> {
    notes.iter().map(|(path, pos, _)| (*path, *pos)).collect()
}

#[test]
fn unexpected_elements_outside_persons_are_skipped_and_reported() {
    let xml = "<Message>\n<Header><Source><LEA>919</LEA></Source></Header>\n\
               <Footer><Count>2</Count><Deep><Deeper/></Deep></Footer>\n\
               <Person><Sex>M</Sex></Person>\n\
               <Persons><Comment>x</Comment><Person><Sex>F</Sex></Person></Persons>\n<Trailer/>\n\
               </Message>";
    let all = items(xml);
    assert_eq!(all.len(), 6);
    assert!(matches!(all[0], Sen2Item::Header(_)));
    let notes = skipped(&all);
    assert_eq!(
        skipped_at(&notes),
        [
            ("Message/Footer", pos(3, 1)),
            ("Message/Person[1]", pos(4, 1)),
            ("Message/Persons/Comment", pos(5, 10)),
            ("Message/Trailer", pos(6, 1)),
        ]
    );
    assert!(notes[0].2.contains("<Footer>") && notes[0].2.contains("skipped"));
    assert!(notes[1].2.contains("<Persons>"));
    let ps = persons(&all);
    assert_eq!(ps.len(), 1, "a Person outside Persons is not a person");
    assert_eq!((ps[0].index, ps[0].element.value("Sex")), (1, Some("F")));
}

#[test]
fn stray_text_is_reported_after_its_item_and_never_quoted() {
    let xml = "<Message>secret1<Persons><Person>secret2<Sex>M</Sex>secret3\
               <Requests>secret4<RYA>0</RYA></Requests></Person></Persons></Message>";
    let all = items(xml);
    // Message's stray text is reported when the next tag is read, before the person.
    assert!(matches!(&all[0], Sen2Item::Skipped { path, .. } if path == "Message"));
    assert!(matches!(all[1], Sen2Item::Person(_)));
    let notes = skipped(&all);
    assert_eq!(
        skipped_at(&notes),
        [
            ("Message", pos(1, 10)),
            ("Message/Persons/Person[1]", pos(1, 34)),
            ("Message/Persons/Person[1]", pos(1, 53)),
            ("Message/Persons/Person[1]/Requests[1]", pos(1, 70)),
        ]
    );
    for (_, _, reason) in &notes {
        assert!(
            !reason.contains("secret"),
            "values are personal data: {reason}"
        );
    }
    let p = &persons(&all)[0].element;
    assert_eq!(p.value("Sex"), Some("M"));
    assert_eq!(p.child("Requests").unwrap().value("RYA"), Some("0"));

    let leafy = items("<Message><Persons><Person>only text</Person></Persons></Message>");
    assert!(matches!(&leafy[0], Sen2Item::Person(p) if p.element.fields.is_empty()));
    assert_eq!(skipped(&leafy).len(), 1);
}

#[test]
fn trailing_whitespace_and_no_final_newline_are_fine() {
    for tail in ["", "\n", "\r\n", "        ", "\n\n\t \r\n"] {
        let xml = format!("<Message><Persons><Person/></Persons></Message>{tail}");
        assert_eq!(items(&xml).len(), 1);
    }
}

#[test]
fn one_byte_reads_give_identical_results() {
    let xml = "\u{feff}<?xml version=\"1.0\"?>\r\n<Message><Persons><Person>\r\n\
               <Surname>Łukasz 😀 &amp; <![CDATA[x]]></Surname></Person></Persons></Message>";
    let (slice_items, slice_err) = run(xml.as_bytes());
    let (trickle_items, trickle_err) = run_trickle(xml.as_bytes());
    assert!(slice_err.is_none() && trickle_err.is_none());
    assert_eq!(slice_items, trickle_items);
    assert_eq!(
        persons(&slice_items)[0].element.value("Surname"),
        Some("Łukasz 😀 & x")
    );
}

#[test]
fn progress_is_reported_in_bytes() {
    let xml = "<Message><Persons><Person/><Person/></Persons></Message>  ";
    let mut reader = sendlake_extract::Sen2Reader::new(xml.as_bytes());
    assert_eq!(reader.bytes_read(), 0);
    reader.next().unwrap().unwrap();
    let after_first = reader.bytes_read();
    assert!(after_first > 0 && after_first < xml.len() as u64);
    assert!(reader.by_ref().all(|r| r.is_ok()));
    assert_eq!(reader.bytes_read(), xml.len() as u64);
}

#[test]
fn positions_stay_right_across_read_buffer_boundaries() {
    // ~600 KB: every 64 KiB read boundary falls somewhere inside a tag, a value or a
    // multi-byte character, and each person's elements must still point at their tags.
    let mut xml = String::from("<Message>\r\n<Persons>\r\n");
    for i in 0..4000 {
        let pad = " ".repeat(i % 7);
        xml.push_str(&format!(
            "{pad}<Person>\r\n\t<Surname>Zoë-{i}</Surname>{pad}<Forename>Łukasz 😀</Forename>\r\n\
             \t<Requests><RYA>{i}</RYA>\r\n\t\t<Assessment/></Requests>\r\n</Person>\r\n"
        ));
    }
    xml.push_str("</Persons>\r\n</Message>");
    assert!(xml.len() > 500_000);
    let all = items(&xml);
    let ps = persons(&all);
    assert_eq!(ps.len(), 4000);
    let lines = Lines::new(&xml);
    for p in &ps {
        assert_positions_in(&lines, &p.element);
    }
    let last = &ps[3999].element;
    assert_eq!(last.value("Surname"), Some("Zoë-3999"));
    assert_eq!(
        last.pos.line,
        3 + 3999 * 5,
        "5 lines per person after 2 lines"
    );
}
