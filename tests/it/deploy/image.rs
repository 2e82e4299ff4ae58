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
