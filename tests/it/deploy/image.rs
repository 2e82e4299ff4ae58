//! The container image (`deploy/Dockerfile`, `.dockerignore`): built locked and in release in
//! a build stage, run unprivileged from a runtime stage, from an allowlisted build context.

use super::{dockerfile, json_array, read, root};

#[test]
fn the_image_is_built_locked_in_stages_and_runs_unprivileged() {
    let d = dockerfile();
    assert!(d.0.len() >= 2, "a build stage and a runtime stage");
    let builds: Vec<&String> = d.0[..d.0.len() - 1]
        .iter()
        .flatten()
        .filter(|(i, a)| i == "RUN" && a.contains("cargo build"))
        .map(|(_, a)| a)
        .collect();
    assert!(
        !builds.is_empty(),
        "no cargo build before the runtime stage"
    );
    for b in builds {
        assert!(b.contains("--locked") && b.contains("--release"), "{b}");
        // The production build: no demo, so no simulator or synthetic data in the image.
        assert!(b.contains("--no-default-features"), "{b}");
    }
    let user = d.last_stage("USER");
    assert_eq!(user.len(), 1, "one USER in the runtime stage");
    let uid = user[0].split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "USER {}", user[0]);
    assert!(
        d.last_stage("ENV")
            .contains(&"MIMALLOC_PURGE_DELAY=-1".to_owned()),
        "ENV MIMALLOC_PURGE_DELAY=-1 in the runtime stage"
    );
    let entrypoint = json_array(&d.last_stage("ENTRYPOINT")[0]);
    assert!(
        entrypoint.last().is_some_and(|e| e.ends_with("/sendlake")),
        "{entrypoint:?}"
    );
    // The build context is an allowlist: nothing but what the build and the image need.
    let ignore = read(&root().join(".dockerignore"));
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        patterns.first(),
        Some(&"*"),
        ".dockerignore must start by excluding everything"
    );
    for needed in ["!Cargo.lock", "!crates", "!schemas", "!pipelines"] {
        assert!(patterns.contains(&needed), ".dockerignore: {needed}");
    }
}

/// The build the image makes (`-p sendlake-cli --no-default-features`) links no simulator: the
/// demo's synthetic returns and partner APIs stay out of production. Asked of cargo itself, so
/// a dependency added anywhere under the CLI that pulls the simulator back in fails here.
#[test]
fn the_production_build_has_no_simulator() {
    let tree = |features: &[&str]| {
        let out = std::process::Command::new(env!("CARGO"))
            .current_dir(root())
            .args([
                "tree",
                "--offline",
                "--locked",
                "-p",
                "sendlake-cli",
                "-e",
                "normal",
                "--prefix",
                "none",
                "--format",
                "{p}",
            ])
            .args(features)
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "cargo tree: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let has_sim = |t: &str| t.lines().any(|l| l.starts_with("sendlake-sim "));
    let production = tree(&["--no-default-features"]);
    assert!(
        production
            .lines()
            .any(|l| l.starts_with("sendlake-pipeline ")),
        "{production}"
    );
    assert!(
        !has_sim(&production),
        "the production build links sendlake-sim"
    );
    // The developers' build (the README's first command) has the demo.
    assert!(has_sim(&tree(&[])), "the default build lost the demo");
}
