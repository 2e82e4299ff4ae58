//! Code lists (`schemas/code_lists/*.toml`).

use std::collections::HashMap;

use crate::{Result, SchemaError};

/// One code in a code list.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// The code as it appears in the data (case-sensitive).
    pub code: String,
    /// Human label.
    pub label: String,
    /// For an extended code, the main code it belongs to (ethnicity: `WENG` → `WBRI`).
    #[serde(default)]
    pub main_group: Option<String>,
}

/// A named list of valid codes.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeList {
    /// Name referenced by `code_list = "…"` in table files.
    pub name: String,
    /// What the codes mean.
    pub description: String,
    /// Where the list comes from, with its confirmation status.
    pub source: String,
    /// The codes, in file order.
    pub codes: Vec<Code>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl CodeList {
    pub(crate) fn indexed(mut self, path: &str) -> Result<Self> {
        for (i, code) in self.codes.iter().enumerate() {
            if self.index.insert(code.code.clone(), i).is_some() {
                return Err(SchemaError::new(
                    path,
                    Some(format!("codes[{i}].code")),
                    format!("duplicate code `{}`", code.code),
                ));
            }
        }
        for (i, code) in self.codes.iter().enumerate() {
            if let Some(group) = &code.main_group {
                let ok = self
                    .index
                    .get(group)
                    .is_some_and(|&j| self.codes[j].main_group.is_none());
                if !ok {
                    return Err(SchemaError::new(
                        path,
                        Some(format!("codes[{i}].main_group")),
                        format!("main group `{group}` is not a main code of this list"),
                    ));
                }
            }
        }
        Ok(self)
    }

    /// Looks a code up exactly.
    pub fn get(&self, code: &str) -> Option<&Code> {
        self.index.get(code).map(|&i| &self.codes[i])
    }

    /// Whether `code` is in the list.
    pub fn contains(&self, code: &str) -> bool {
        self.index.contains_key(code)
    }

    /// The main group of a code: itself for a main code, its `main_group` for an extended one,
    /// `None` if the code is not in the list.
    pub fn main_group<'a>(&'a self, code: &'a str) -> Option<&'a str> {
        self.get(code)
            .map(|c| c.main_group.as_deref().unwrap_or(c.code.as_str()))
    }
}
