//! Source files (`pipelines/sources/*.toml`): partners described as data. A REST API, a folder
//! of CSV or Excel files, or the DfE statistics API, each with one or more streams and the
//! declarative mapping of each stream into a SEND schema table.
//!
//! A data engineer adding a partner writes one of these (see `docs/adding-a-source.md`); no
//! Rust changes. The file is parsed strictly (`deny_unknown_fields`, closed `kind`), and
//! [`SourceDef::check`] reports every problem with the file and key, including mapping
//! problems found by compiling each stream's mapping against the schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sendlake_extract::records::FileFormatConfig;
use sendlake_http::HttpSourceConfig;
use sendlake_schema::SchemaRegistry;
use sendlake_transform::PseudonymisationKey;
use sendlake_transform::mapping::{MappingConfig, RecordMapper, StreamContext};
use serde::Deserialize;

use crate::error::ConfigProblem;

/// A source file as written. `kind` picks the variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceDef {
    /// A partner REST API.
    Rest(RestSourceDef),
    /// A folder of CSV or Excel files.
    File(FileSourceDef),
    /// The DfE Explore Education Statistics API.
    Ees(EesSourceDef),
}

/// `kind = "rest"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestSourceDef {
    /// Unique snake_case name; stored in every row's `source` column.
    pub name: String,
    /// What the source is and who owns it.
    #[serde(default)]
    pub description: String,
    /// How to talk to the API (auth, paging, retries, limits): `sendlake-http`.
    pub http: HttpSourceConfig,
    /// Endpoints to read.
    pub streams: Vec<RestStream>,
}

/// One endpoint of a REST source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestStream {
    /// snake_case name, unique in the source.
    pub name: String,
    /// Path relative to the base URL.
    pub path: String,
    /// Fixed query parameters (e.g. a page size the API needs).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Read only records changed since the last run.
    #[serde(default)]
    pub incremental: Option<Incremental>,
    /// How the API marks deleted records.
    #[serde(default)]
    pub deletes: Option<Deletes>,
    /// How records map onto the table.
    pub mapping: MappingConfig,
}

/// `[streams.incremental]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// JSON pointer to the record's last-changed value (RFC 3339 time, or any text that sorts).
    pub cursor_field: String,
    /// Query parameter the cursor is sent in (`updated_since`).
    pub param: String,
    /// Cursor for the very first run; none means the first run reads everything.
    #[serde(default)]
    pub initial: Option<String>,
    /// Re-read this far behind the cursor, for partner systems that commit out of order.
    #[serde(default = "default_lookback")]
    pub lookback_secs: u64,
}

fn default_lookback() -> u64 {
    3600
}

/// `[streams.deletes]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deletes {
    /// JSON pointer to a boolean that is `true` on a tombstone.
    pub flag: String,
}

/// `kind = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceDef {
    /// Unique snake_case name.
    pub name: String,
    /// What the files are and who sends them.
    #[serde(default)]
    pub description: String,
    /// Folder holding the files (relative paths are relative to this source file).
    pub path: PathBuf,
    /// File sets.
    pub streams: Vec<FileStream>,
}

/// One set of files of a file source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStream {
    /// snake_case name, unique in the source.
    pub name: String,
    /// File name pattern (`*` and `?`).
    pub pattern: String,
    /// Format and its options.
    pub format: FileFormatConfig,
    /// What a run replaces.
    #[serde(default)]
    pub replace: FileReplace,
    /// How rows map onto the table.
    pub mapping: MappingConfig,
}

/// What the files of a run replace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileReplace {
    /// The files are a full snapshot (a register such as GIAS): they replace every row of the
    /// stream, and if one cannot be read nothing is replaced.
    #[default]
    All,
    /// Each file is its own period (monthly extracts, survey waves): a file replaces only the
    /// rows that came from a file of the same name.
    File,
}

/// `kind = "ees"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EesSourceDef {
    /// Unique snake_case name.
    pub name: String,
    /// What is read.
    #[serde(default)]
    pub description: String,
    /// How to talk to the API.
    pub http: HttpSourceConfig,
    /// Data sets, versions, indicators and locations.
    pub ees: sendlake_ees::EesConfig,
    /// Exactly one stream: the observations.
    pub streams: Vec<EesStream>,
}

/// The stream of an EES source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EesStream {
    /// snake_case name.
    pub name: String,
    /// How observations map onto the table.
    pub mapping: MappingConfig,
}

/// A checked source, ready to run.
#[derive(Debug, Clone)]
pub struct DeclaredSource {
    /// The source file.
    pub file: PathBuf,
    /// The definition, with paths resolved and overrides applied.
    pub def: SourceDef,
    /// The run's in-process simulator supplies the base URL.
    pub simulator: bool,
}

impl SourceDef {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            SourceDef::Rest(s) => &s.name,
            SourceDef::File(s) => &s.name,
            SourceDef::Ees(s) => &s.name,
        }
    }

    /// `rest`, `file` or `ees`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceDef::Rest(_) => "rest",
            SourceDef::File(_) => "file",
            SourceDef::Ees(_) => "ees",
        }
    }

    /// Each stream's name and mapping.
    pub fn streams(&self) -> Vec<(&str, &MappingConfig)> {
        match self {
            SourceDef::Rest(s) => s
                .streams
                .iter()
                .map(|t| (t.name.as_str(), &t.mapping))
                .collect(),
            SourceDef::File(s) => s
                .streams
                .iter()
                .map(|t| (t.name.as_str(), &t.mapping))
                .collect(),
            SourceDef::Ees(s) => s
                .streams
                .iter()
                .map(|t| (t.name.as_str(), &t.mapping))
                .collect(),
        }
    }

    /// Reads and parses a source file; errors name the file and key path.
    ///
    /// # Errors
    /// One problem: unreadable file, syntax error, unknown key or wrong type.
    pub fn load(path: &Path) -> Result<Self, ConfigProblem> {
        let problem = |key: String, message: String| ConfigProblem {
            file: path.to_owned(),
            key,
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| problem(String::new(), format!("cannot read: {e}")))?;
        let de = toml::Deserializer::parse(&text)
            .map_err(|e| problem(String::new(), e.to_string().trim_end().to_owned()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            problem(key, e.into_inner().message().trim_end().to_owned())
        })
    }

    /// Resolves paths against `file`'s folder and checks everything serde cannot: names, HTTP
    /// settings, and every stream's mapping compiled against `registry`.
    ///
    /// # Errors
    /// Every problem found, each naming `file` and the key.
    pub fn check(
        mut self,
        file: &Path,
        registry: &SchemaRegistry,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut problem = |key: String, message: String| {
            problems.push(ConfigProblem {
                file: file.to_owned(),
                key,
                message,
            });
        };
        if !is_snake(self.name()) {
            problem("name".into(), "must be snake_case (a-z, 0-9, _)".into());
        }
        let http = match &self {
            SourceDef::Rest(s) => Some(&s.http),
            SourceDef::Ees(s) => Some(&s.http),
            SourceDef::File(_) => None,
        };
        if let Some(Err(e)) = http.map(HttpSourceConfig::validate) {
            problem("http".into(), e);
        }
        let streams = self.streams();
        if streams.is_empty() {
            problem("streams".into(), "at least one stream is needed".into());
        }
        if matches!(self, SourceDef::Ees(_)) && streams.len() > 1 {
            problem(
                "streams".into(),
                "an EES source has exactly one stream".into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        let key = Arc::new(PseudonymisationKey::demo());
        for (i, (name, mapping)) in streams.iter().enumerate() {
            if !is_snake(name) {
                problem(format!("streams[{i}].name"), "must be snake_case".into());
            }
            if !names.insert(*name) {
                problem(
                    format!("streams[{i}].name"),
                    format!("duplicate stream `{name}`"),
                );
            }
            let ctx = StreamContext {
                source: self.name().to_owned(),
                stream: (*name).to_owned(),
                run_id: String::new(),
                loaded_at: chrono::DateTime::UNIX_EPOCH,
                typed_json: true,
            };
            if let Err(e) = RecordMapper::new(registry, key.clone(), mapping, ctx) {
                problem(format!("streams[{i}].mapping.{e}"), String::new());
            }
        }
        if let SourceDef::Rest(s) = &self {
            for (i, st) in s.streams.iter().enumerate() {
                for (k, p) in [
                    (
                        "incremental.cursor_field",
                        st.incremental.as_ref().map(|x| &x.cursor_field),
                    ),
                    ("deletes.flag", st.deletes.as_ref().map(|x| &x.flag)),
                ] {
                    if let Some(p) = p
                        && !p.starts_with('/')
                    {
                        problem(
                            format!("streams[{i}].{k}"),
                            format!("`{p}` is not a JSON pointer (it must start with `/`)"),
                        );
                    }
                }
                if st.incremental.as_ref().is_some_and(|x| x.param.is_empty()) {
                    problem(
                        format!("streams[{i}].incremental.param"),
                        "must not be empty".into(),
                    );
                }
            }
        }
        if let SourceDef::File(s) = &mut self {
            if s.path.is_relative() {
                s.path = file.parent().unwrap_or(Path::new("")).join(&s.path);
            }
            if !s.path.is_dir() {
                problem(
                    "path".into(),
                    format!("folder {} does not exist", s.path.display()),
                );
            }
            for (i, st) in s.streams.iter().enumerate() {
                if st.pattern.is_empty() || st.pattern.contains('/') {
                    problem(
                        format!("streams[{i}].pattern"),
                        "must be a file name pattern such as `*.csv`".into(),
                    );
                }
            }
        }
        // Mapping errors come back as `key: message`; split them so the key path is whole.
        for p in &mut problems {
            if p.message.is_empty()
                && let Some((k, m)) = p.key.split_once(": ")
            {
                let (k, m) = (k.to_owned(), m.to_owned());
                p.key = k;
                p.message = m;
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
