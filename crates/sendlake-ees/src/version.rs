//! Data set versions. EES versions follow semver (`1.0`, `1.1`, `2.0.1`); a new major may
//! drop or rename filters, options and indicators, so sources pin a major and read its
//! latest minor/patch. Pure decisions here; the requests are in `source.rs`.

use std::cmp::Ordering;
use std::fmt;

/// `major.minor[.patch]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    /// `1.0`, `2.1.3`, also with a leading `v`. Wildcards and other text are not versions.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        let t = text.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let mut parts = t.split('.');
        let mut next = || -> Option<Option<u32>> {
            match parts.next() {
                None => Some(None),
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().ok().map(Some)
                }
                Some(_) => None,
            }
        };
        let major = next()??;
        let minor = next()?.unwrap_or(0);
        let patch = next()?.unwrap_or(0);
        if next()?.is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What the data set summary's latest version says about a pinned major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Latest {
    /// The latest version is in the pinned major: read it.
    Use,
    /// A newer major is out; the pinned one may still be served, so look in the version
    /// list.
    NewerMajor,
}

/// Compares the summary's latest version with the pin.
///
/// # Errors
/// A message when the latest version does not parse or is of an older major (so the pinned
/// one was never published).
pub(crate) fn check_latest(pinned: u32, latest: &str) -> Result<Latest, String> {
    let v = Version::parse(latest)
        .ok_or_else(|| format!("the latest version {latest:?} is not a version number"))?;
    match v.major.cmp(&pinned) {
        Ordering::Equal => Ok(Latest::Use),
        Ordering::Greater => Ok(Latest::NewerMajor),
        Ordering::Less => Err(format!(
            "pinned major version {pinned} does not exist: the latest published version is \
             {latest}; set `major_version = {}` after checking the data set's changes",
            v.major
        )),
    }
}

/// Status of one listed version (OpenAPI `DataSetVersionStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub version: String,
    pub status: String,
}

/// The newest usable version of the pinned major in the version list: `Published` or
/// `Deprecated` (still served, "will not be usable in the future"), never `Withdrawn`.
///
/// # Errors
/// A message listing the versions on offer when the pinned major has none.
pub(crate) fn pick(pinned: u32, versions: &[Listed]) -> Result<&Listed, String> {
    versions
        .iter()
        .filter(|l| l.status != "Withdrawn")
        .filter_map(|l| Version::parse(&l.version).map(|v| (v, l)))
        .filter(|(v, _)| v.major == pinned)
        .max_by_key(|(v, _)| *v)
        .map(|(_, l)| l)
        .ok_or_else(|| {
            let offered: Vec<String> = versions
                .iter()
                .map(|l| format!("{} ({})", l.version, l.status))
                .collect();
            format!(
                "pinned major version {pinned} is no longer available; the data set has: {}",
                if offered.is_empty() {
                    "no versions".to_owned()
                } else {
                    offered.join(", ")
                }
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(v: &str, s: &str) -> Listed {
        Listed {
            version: v.into(),
            status: s.into(),
        }
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(
            Version::parse("v2.1.3"),
            Some(Version {
                major: 2,
                minor: 1,
                patch: 3
            })
        );
        assert!(Version::parse("1.10").unwrap() > Version::parse("1.9").unwrap());
        assert_eq!(Version::parse("1"), Version::parse("1.0.0"));
        for bad in ["", "1.*", "*", "1..0", "1.0.0.0", "one", "1.-1"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn latest_against_the_pin() {
        assert_eq!(check_latest(1, "1.2"), Ok(Latest::Use));
        assert_eq!(check_latest(1, "2.0"), Ok(Latest::NewerMajor));
        let e = check_latest(3, "2.0").unwrap_err();
        assert!(
            e.contains("pinned major version 3") && e.contains("2.0"),
            "{e}"
        );
        assert!(check_latest(1, "latest").is_err());
    }

    #[test]
    fn picks_the_newest_usable_version_of_the_pinned_major() {
        let list = [
            listed("2.0", "Published"),
            listed("1.2", "Withdrawn"),
            listed("1.1.1", "Deprecated"),
            listed("1.1", "Published"),
            listed("1.0", "Published"),
        ];
        assert_eq!(pick(1, &list).unwrap().version, "1.1.1");
        assert_eq!(pick(2, &list).unwrap().version, "2.0");
        let e = pick(3, &list).unwrap_err();
        assert!(
            e.contains("pinned major version 3") && e.contains("1.2 (Withdrawn)"),
            "{e}"
        );
        assert!(pick(1, &[]).unwrap_err().contains("no versions"));
    }
}
