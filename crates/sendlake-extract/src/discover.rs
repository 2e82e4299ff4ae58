//! Finding the input files of a run.
//!
//! Kept tiny on purpose (no glob crate): one folder, one pattern, sorted output. Sorting by
//! file name makes the order of a run, and so its output and its logs, independent of the
//! file system's directory order.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Lists the regular files directly in `dir` (not in subfolders) whose name matches `pattern`,
/// sorted by file name.
///
/// The pattern is a simple glob: `*` matches any run of characters (also none), `?` exactly
/// one character, anything else itself. Matching ignores ASCII case, because returns are
/// produced on Windows systems where `SEN2.XML` and `sen2.xml` are the same file name. As in
/// a shell, a name starting with `.` is only matched by a pattern that starts with `.`: this
/// keeps editor lock files and macOS `._name.xml` metadata files (binary, not XML) out of a
/// run. Symbolic links to regular files are followed; broken links and names that are not
/// valid UTF-8 are skipped.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// for name in ["b.xml", "a.XML", "notes.txt", "._a.xml"] {
///     std::fs::write(dir.path().join(name), "")?;
/// }
/// let found = sendlake_extract::discover_files(dir.path(), "*.xml")?;
/// let names: Vec<_> = found.iter().map(|p| p.file_name().unwrap().to_owned()).collect();
/// assert_eq!(names, ["a.XML", "b.xml"]);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// Any I/O error from reading the folder or a file's metadata, except "not found" for a
/// broken symbolic link.
pub fn discover_files(dir: &Path, pattern: &str) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') && !pattern.starts_with('.') {
            continue;
        }
        if !glob_matches(pattern, name) {
            continue;
        }
        let path = entry.path();
        // `fs::metadata` follows symbolic links, unlike `DirEntry::file_type`.
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_file() {
            found.push(path);
        }
    }
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(found)
}

/// `*`/`?` glob match, ASCII case-insensitive.
///
/// Greedy with one backtrack point (the last `*`), which is linear-time in practice and
/// cannot blow up on patterns like `*a*a*a*b`.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // After a `*`: the pattern index just past it and the name index it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c.eq_ignore_ascii_case(&n[ni]) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((after_star, absorbed)) => {
                    pi = after_star;
                    ni = absorbed + 1;
                    star = Some((after_star, absorbed + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_basics() {
        assert!(glob_matches("*.xml", "a.xml"));
        assert!(glob_matches("*.xml", ".xml"));
        assert!(glob_matches("*.xml", "A.XML"));
        assert!(!glob_matches("*.xml", "a.xml.bak"));
        assert!(!glob_matches("*.xml", "a.xm"));
        assert!(glob_matches("SEN2_???.xml", "SEN2_919.xml"));
        assert!(!glob_matches("SEN2_???.xml", "SEN2_91.xml"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("", ""));
        assert!(!glob_matches("", "a"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(glob_matches("a*b*c", "abc"));
        assert!(!glob_matches("a*b*c", "acb"));
        assert!(glob_matches("**.xml", "x.xml"));
        assert!(
            glob_matches("?ö*", "zöe"),
            "? and literals work on characters, not bytes"
        );
        assert!(!glob_matches("*a*a*a*a*b", &"a".repeat(200)));
    }

    #[test]
    fn lists_sorted_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["c.xml", "a.xml", "B.XML", "x.csv", ".hidden.xml", "._b.xml"] {
            fs::write(dir.path().join(name), "<Message/>").unwrap();
        }
        fs::create_dir(dir.path().join("sub.xml")).unwrap();
        fs::write(dir.path().join("sub.xml").join("deep.xml"), "").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("a.xml"), dir.path().join("link.xml"))
                .unwrap();
            std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("broken.xml"))
                .unwrap();
        }
        let found = discover_files(dir.path(), "*.xml").unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let mut expected = vec!["B.XML", "a.xml", "c.xml"];
        if cfg!(unix) {
            expected.push("link.xml");
        }
        assert_eq!(
            names, expected,
            "sorted by name (byte order), dirs/dotfiles/broken skipped"
        );
        assert!(found.iter().all(|p| p.starts_with(dir.path())));

        let hidden = discover_files(dir.path(), ".*.xml").unwrap();
        assert_eq!(
            hidden.len(),
            2,
            "a pattern starting with '.' matches dotfiles"
        );
        assert!(discover_files(&dir.path().join("missing"), "*").is_err());
    }
}
