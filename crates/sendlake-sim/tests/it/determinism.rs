//! Same config ⇒ byte-identical output; another seed ⇒ different output; each file depends
//! only on (seed, LA index), not on how many LAs the run has.

use std::fs;
use std::path::Path;

use sendlake_sim::Sen2SimConfig;

use crate::support::generate;

/// `las` returns of `persons_per_la` children, with the default seed and the rest as default.
fn sen2(las: usize, persons_per_la: usize) -> Sen2SimConfig {
    sendlake_test::sim::sen2(las, persons_per_la, Sen2SimConfig::default().seed)
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn same_config_gives_identical_bytes() {
    let cfg = sen2(3, 400);
    let (a, _) = generate(&cfg);
    let (b, _) = generate(&cfg);
    let (fa, fb) = (read_all(a.path()), read_all(b.path()));
    assert_eq!(fa.len(), 4, "3 XML files and summary.json");
    assert_eq!(fa, fb);
}

#[test]
fn different_seed_gives_different_files() {
    let cfg = sen2(2, 100);
    let (a, _) = generate(&cfg);
    let (b, _) = generate(&Sen2SimConfig { seed: 43, ..cfg });
    for ((name_a, bytes_a), (name_b, bytes_b)) in
        read_all(a.path()).iter().zip(read_all(b.path()).iter())
    {
        assert_eq!(name_a, name_b);
        if name_a.ends_with(".xml") {
            assert_ne!(bytes_a, bytes_b, "{name_a}");
        }
    }
}

#[test]
fn a_file_does_not_depend_on_the_number_of_las() {
    let small = sen2(2, 150);
    let (a, sa) = generate(&small);
    let (b, sb) = generate(&Sen2SimConfig { las: 4, ..small });
    for i in 0..2 {
        assert_eq!(
            fs::read(sa.files[i].path.clone()).unwrap(),
            fs::read(sb.files[i].path.clone()).unwrap()
        );
    }
    drop((a, b));
}

#[test]
fn streaming_and_file_outputs_agree() {
    let cfg = sen2(2, 120);
    let (_dir, summary) = generate(&cfg);
    let mut streamed = Vec::new();
    let counts =
        sendlake_sim::write_sen2_return(&cfg, summary.files[1].la_code, 1, &mut streamed).unwrap();
    assert_eq!(counts, summary.files[1].counts);
    assert_eq!(streamed, fs::read(&summary.files[1].path).unwrap());
}
