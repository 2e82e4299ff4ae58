//! The areas below the LA (districts, SEND localities, quadrants) as the oracle places a child
//! in them: the outward code of the postcode the return gives, looked up in the geography the
//! pipeline is configured with (`pipelines/models/geography.toml`, read here with `toml`, not
//! with sendlake's loader). An area's figures are then the oracle's figures over the children
//! placed in it.

use std::collections::BTreeMap;
use std::path::Path;

use super::returns::Return;
use super::view::Scope;

/// (LA, postcode district) → (district, locality, quadrant).
pub(crate) struct Areas {
    by_outward: BTreeMap<(String, String), [String; 3]>,
}

impl Areas {
    pub(crate) fn configured() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/models/geography.toml");
        let doc: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let list = |key: &str| doc[key].as_array().unwrap().clone();
        let text = |v: &toml::Value, key: &str| v[key].as_str().unwrap().to_owned();
        let quadrants: BTreeMap<String, String> = list("localities")
            .iter()
            .map(|l| (text(l, "code"), text(l, "quadrant")))
            .collect();
        let mut by_outward = BTreeMap::new();
        for d in list("districts") {
            let locality = text(&d, "locality");
            let areas = [
                text(&d, "code"),
                locality.clone(),
                quadrants[&locality].clone(),
            ];
            for outward in d["postcode_districts"].as_array().unwrap() {
                let key = (text(&d, "la_code"), outward.as_str().unwrap().to_owned());
                by_outward.insert(key, areas.clone());
            }
        }
        Self { by_outward }
    }

    /// The child's district, locality and quadrant, where its postcode maps.
    fn of(&self, la: &str, postcode: Option<&str>) -> Option<&[String; 3]> {
        let compact: String = postcode?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        // The outward code is all but the last three characters (the inward code).
        let outward = compact.get(..compact.len().checked_sub(3)?)?;
        self.by_outward.get(&(la.to_owned(), outward.to_owned()))
    }

    /// Every area at least one request of `returns` is placed in.
    pub(crate) fn scopes(&self, returns: &[Return]) -> Vec<Scope> {
        let mut out: Vec<Scope> = Vec::new();
        for ret in returns {
            for r in &ret.requests {
                let Some(areas) = self.of(&ret.la, r.postcode.as_deref()) else {
                    continue;
                };
                for (level, code) in ["district", "locality", "quadrant"].into_iter().zip(areas) {
                    let scope = Scope::Area(level, code.clone());
                    if !out.contains(&scope) {
                        out.push(scope);
                    }
                }
            }
        }
        out
    }

    /// `returns` with only the requests of children placed in `scope`.
    pub(crate) fn within(&self, returns: &[Return], scope: &Scope) -> Vec<Return> {
        returns
            .iter()
            .map(|ret| {
                let mut ret = ret.clone();
                let la = ret.la.clone();
                ret.requests.retain(|r| match scope {
                    Scope::La => true,
                    Scope::Area(level, code) => {
                        let i = ["district", "locality", "quadrant"]
                            .iter()
                            .position(|l| l == level)
                            .unwrap();
                        self.of(&la, r.postcode.as_deref())
                            .is_some_and(|areas| &areas[i] == code)
                    }
                });
                ret
            })
            .collect()
    }
}
