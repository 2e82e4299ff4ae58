//! No real secret under `deploy/` or in the pipeline files: the detector finds key-shaped
//! strings, none is there, and the examples' secret values are short REPLACE placeholders.

use super::{files_under, read, rel, root, secret_like, yaml_documents};

/// Strings that look like real credentials: long runs of base64 (mixed case and digits) or hex,
/// and the markers of Azure connection strings, SAS tokens and private keys.
fn secret_looking(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = text.to_ascii_lowercase();
    for marker in [
        "accountkey=",
        "sharedaccesssignature=",
        "&sig=",
        "?sig=",
        "-----begin",
    ] {
        if lower.contains(marker) {
            found.push(marker.to_owned());
        }
    }
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    for token in text.split(|c: char| !base64(c)) {
        let token = token.trim_matches('/');
        if token.len() < 32 {
            continue;
        }
        let hex = token.chars().all(|c| c.is_ascii_hexdigit());
        let mixed = token.chars().any(|c| c.is_ascii_digit())
            && token.chars().any(|c| c.is_ascii_uppercase())
            && token.chars().any(|c| c.is_ascii_lowercase());
        if hex || mixed {
            found.push(token.to_owned());
        }
    }
    found
}

#[test]
fn the_secret_detector_finds_keys() {
    // Built here, not written out, so no key-shaped string sits in the repository.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let base64: String = (0..88)
        .map(|i| alphabet[(i * 37 + 11) % 64] as char)
        .collect();
    let hex: String = (0..64)
        .map(|i| b"0123456789abcdef"[(i * 7) % 16] as char)
        .collect();
    assert!(!secret_looking(&format!("key: \"{base64}\"")).is_empty());
    assert!(!secret_looking(&format!("SENDLAKE_NHS_API_KEY={hex}")).is_empty());
    assert!(!secret_looking("DefaultEndpointsProtocol=https;AccountKey=x").is_empty());
    assert!(
        secret_looking("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg")
            .is_empty()
    );
}

#[test]
fn nothing_under_deploy_looks_like_a_real_secret() {
    let mut files = files_under(&root().join("deploy"));
    files.push(root().join(".dockerignore"));
    files.extend(
        files_under(&root().join("pipelines"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml")),
    );
    for file in &files {
        let found = secret_looking(&read(file));
        assert!(
            found.is_empty(),
            "{}: looks like a secret: {found:?}",
            rel(file)
        );
    }

    // The examples' secret values are placeholders, too short to be taken for a key: applied by
    // mistake, the run stops (exit code 2) before it writes anything.
    let placeholder = |at: &str, name: &str, value: &str| {
        if secret_like(name) {
            assert!(
                value.contains("REPLACE") && value.len() < 32,
                "{at}: {name} must be a short REPLACE placeholder, not `{value}`"
            );
        }
    };
    for (file, d) in yaml_documents()
        .iter()
        .filter(|(_, d)| d["kind"] == "Secret")
    {
        for (k, v) in d["stringData"].as_mapping().into_iter().flatten() {
            placeholder(
                &rel(file),
                k.as_str().unwrap_or_default(),
                v.as_str().unwrap_or_default(),
            );
        }
        assert!(
            d["data"].is_null(),
            "{}: use stringData placeholders, not data",
            rel(file)
        );
    }
    let env = "deploy/systemd/sendlake.env.example";
    for line in read(&root().join(env)).lines() {
        if let Some((k, v)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            placeholder(env, k.trim(), v.trim());
        }
    }
}
