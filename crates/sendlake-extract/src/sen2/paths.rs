//! Container paths (`Message/Persons/Person[3]/Requests[2]`) and the sibling counts behind
//! their indexes. See the crate docs ("Paths") for the rule.

/// Elements that SEN2 repeats by design. Their path segment always carries an index, also for
/// the first one (`Requests[1]`), so that paths of the same logical thing look the same in
/// every file. This is presentation only; the reader does not check any of it.
const REPEATING: &[&str] = &[
    "Person",
    "Requests",
    "PlanDetail",
    "PlacementDetail",
    "SENneed",
];

/// How many children of each name an outer frame has had, for path indexes.
#[derive(Debug, Default)]
pub(super) struct SiblingCounts(Vec<(String, u32)>);

impl SiblingCounts {
    /// Enough for any real file; a hostile one with more distinct names only gets less
    /// precise indexes, not unbounded memory.
    const MAX_NAMES: usize = 64;

    /// Counts one more child called `name` and returns its 1-based index.
    pub(super) fn bump(&mut self, name: &str) -> u32 {
        if let Some((_, n)) = self.0.iter_mut().find(|(k, _)| k == name) {
            *n = n.saturating_add(1);
            return *n;
        }
        if self.0.len() < Self::MAX_NAMES {
            self.0.push((name.to_owned(), 1));
        }
        1
    }
}

/// Appends `/name` or `/name[n]` to `path` (see [`REPEATING`] and the crate docs).
pub(super) fn push_segment(path: &mut String, name: &str, n: u32) {
    if !path.is_empty() {
        path.push('/');
    }
    path.push_str(name);
    if n > 1 || REPEATING.contains(&name) {
        // By hand rather than `write!`: the formatting machinery cost more than the rest of
        // building a path, and this runs for every container of every person.
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        path.push('[');
        path.extend(digits[i..].iter().map(|&d| char::from(d)));
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        let mut p = String::new();
        push_segment(&mut p, "Message", 1);
        push_segment(&mut p, "Persons", 1);
        push_segment(&mut p, "Person", 3);
        push_segment(&mut p, "Assessment", 1);
        push_segment(&mut p, "Assessment", 2);
        assert_eq!(p, "Message/Persons/Person[3]/Assessment/Assessment[2]");
        let mut p = String::new();
        push_segment(&mut p, "X", 1_234_567_890);
        push_segment(&mut p, "Y", 10);
        push_segment(&mut p, "Z", u32::MAX);
        assert_eq!(p, "X[1234567890]/Y[10]/Z[4294967295]");
    }

    #[test]
    fn sibling_counts_are_bounded() {
        let mut c = SiblingCounts::default();
        assert_eq!(c.bump("a"), 1);
        assert_eq!(c.bump("a"), 2);
        for i in 0..1000 {
            c.bump(&format!("n{i}"));
        }
        assert_eq!(c.0.len(), SiblingCounts::MAX_NAMES);
        assert_eq!(c.bump("a"), 3);
    }
}
