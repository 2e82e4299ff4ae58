//! Property tests: mutate generated returns (drop, duplicate, reorder and corrupt lines, cut the
//! file anywhere) and assert no panic and full accounting.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use sendlake_extract::{Sen2Item, Sen2Reader};
use sendlake_schema::SchemaRegistry;
use sendlake_transform::{PseudonymisationKey, Sen2Conformer, SubmissionContext, read_header};

fn generated() -> &'static str {
    static XML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    XML.get_or_init(|| {
        let cfg = sendlake_sim::Sen2SimConfig {
            las: 1,
            persons_per_la: 12,
            seed: 1,
            ..Default::default()
        };
        let mut out = Vec::new();
        sendlake_sim::write_sen2_return(&cfg, 919, 0, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Corrupt(usize, u8),
    Cut(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Corrupt(a, b)),
        any::<usize>().prop_map(Mutation::Cut),
    ]
}

fn apply(xml: &str, muts: &[Mutation]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = xml
        .split_inclusive('\n')
        .map(|l| l.as_bytes().to_vec())
        .collect();
    let mut cut = None;
    for m in muts {
        let n = lines.len().max(1);
        match *m {
            Mutation::Drop(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Mutation::Duplicate(i) if !lines.is_empty() => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Mutation::Swap(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Mutation::Corrupt(i, byte) if !lines.is_empty() => {
                let l = &mut lines[i % n];
                if !l.is_empty() {
                    let k = (i / n) % l.len();
                    l[k] = byte;
                }
            }
            Mutation::Cut(at) => cut = Some(at),
            _ => {}
        }
    }
    let mut bytes: Vec<u8> = lines.concat();
    if let Some(at) = cut {
        bytes.truncate(at % (bytes.len() + 1));
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn mutated_returns_never_panic_and_are_fully_accounted(muts in prop::collection::vec(mutation(), 1..6)) {
        let bytes = apply(generated(), &muts);
        let registry = Arc::new(SchemaRegistry::embedded().unwrap());
        let conformer = Sen2Conformer::new(registry.clone(), Arc::new(PseudonymisationKey::demo()), 50).unwrap();
        let mut file = None;
        let mut persons = 0u64;
        let mut failed = false;
        let seen = HashSet::new();
        for item in Sen2Reader::new(&bytes[..]) {
            match item {
                Err(e) => {
                    // File-level: must say where.
                    prop_assert!(e.pos.is_some(), "{e}");
                    failed = true;
                    break;
                }
                Ok(Sen2Item::Header(h)) => {
                    if file.is_none()
                        && let Ok(header) = read_header(&h, registry.code_list("la_code").unwrap())
                    {
                        file = Some(conformer.start_file(SubmissionContext {
                            source: "p".into(), header, source_file: "p.xml".into(), run_id: "r".into(), loaded_at: chrono::Utc::now(),
                        }).unwrap());
                    }
                }
                Ok(Sen2Item::Person(p)) => {
                    persons += 1;
                    if let Some(f) = file.as_mut() {
                        f.person(&p, &seen).unwrap();
                    }
                }
                Ok(Sen2Item::Skipped { .. }) => {}
            }
        }
        if !failed && let Some(f) = file {
            let outcome = f.finish().unwrap();
            prop_assert!(outcome.stats.reconciles(), "{:#?}", outcome.stats);
            let read = outcome.stats.tables.get("person").map_or(0, |t| t.read);
            prop_assert_eq!(read, persons, "every Person element is counted");
        }
    }
}

#[test]
fn cutting_the_file_anywhere_never_succeeds_silently() {
    let xml = generated().as_bytes();
    // Every cut that loses the closing root tag must be reported as an error.
    let end =
        xml.len() - xml.iter().rev().position(|&b| b == b'>').unwrap_or(0) - "</Message>".len();
    for at in (0..end).step_by(97) {
        let result: Result<Vec<_>, _> = Sen2Reader::new(&xml[..at]).collect();
        assert!(result.is_err(), "cut at {at} of {} was accepted", xml.len());
    }
}
