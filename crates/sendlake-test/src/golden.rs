//! The one golden-file check: a file committed to the repository that a test's output must
//! equal, such as the published contract, the data dictionary or the Power BI snapshots.
//!
//! It is `expect-test`'s file check, so a difference is shown as a diff, and running the
//! tests with `UPDATE_EXPECT=1` rewrites every stale file for review in `git diff`. One
//! mechanism and one variable for all of them, rather than one per test.

use std::path::Path;

/// Asserts that the file at `path` holds exactly `actual`; with `UPDATE_EXPECT=1`, writes it.
pub fn assert_golden(path: impl AsRef<Path>, actual: &str) {
    let path = path.as_ref();
    // An absolute path: `expect_file!` joins it to the calling file's folder, which leaves an
    // absolute one as it is.
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap().join(path)
    };
    expect_test::expect_file![path].assert_eq(actual);
}
