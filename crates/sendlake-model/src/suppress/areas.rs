//! Which area lies in which, for rollups whose parts are areas of several levels (`nested`):
//! districts in their SEND locality, localities in their quadrant, as `geography.toml` places
//! them. Suppression needs it because a locality's row is the sum of its districts' rows (and,
//! where a locality is one district, the same row): hiding a cell in one and not the other
//! would give it away.

use std::collections::HashMap;

use crate::project::Geography;

/// (level, area code, level above) → the code of the area above it lies in.
#[derive(Debug, Default, Clone)]
pub struct AreaTree {
    parents: HashMap<(String, String, String), String>,
}

impl AreaTree {
    /// The nesting `geography` declares: each district in its locality and its locality's
    /// quadrant, each locality in its quadrant.
    pub fn new(geography: &Geography) -> Self {
        let mut parents = HashMap::new();
        let mut up = |level: &str, code: &str, above: &str, parent: &str| {
            parents.insert(
                (level.to_owned(), code.to_owned(), above.to_owned()),
                parent.to_owned(),
            );
        };
        for l in &geography.localities {
            up("locality", &l.code, "quadrant", &l.quadrant);
        }
        for d in &geography.districts {
            up("district", &d.code, "locality", &d.locality);
            if let Some(l) = geography.localities.iter().find(|l| l.code == d.locality) {
                up("district", &d.code, "quadrant", &l.quadrant);
            }
        }
        Self { parents }
    }

    /// The area at level `above` that the area `code` of `level` lies in.
    pub(super) fn parent(&self, level: &str, code: &str, above: &str) -> Option<&str> {
        self.parents
            .get(&(level.to_owned(), code.to_owned(), above.to_owned()))
            .map(String::as_str)
    }
}
