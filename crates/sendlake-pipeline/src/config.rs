//! Pipeline files (`pipelines/*.toml`): the raw serde form ([`PipelineFile`]) and the checked
//! form the runner accepts ([`PipelinePlan`]).
//!
//! Two stages, as in ripgrep's low/high args: parsing only checks shape (closed enums,
//! `deny_unknown_fields`), [`PipelineFile::check`] resolves paths and reports every semantic
//! problem at once, each naming the file and the key. The runner never re-checks.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ConfigErrors, ConfigProblem};

/// Default environment variable holding the pseudonymisation key.
pub const DEFAULT_KEY_ENV: &str = "SENDLAKE_PSEUDONYMISATION_KEY";

/// A pipeline file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Name and description.
    pub pipeline: PipelineMeta,
    /// Where the lake is.
    pub store: StoreConfig,
    /// Pseudonymisation settings (the key itself is never in the file).
    #[serde(default)]
    pub privacy: PrivacyConfig,
    /// Run tuning.
    #[serde(default)]
    pub run: RunConfig,
    /// The built-in partner simulator, started in-process for the run (demo and tests).
    #[serde(default)]
    pub simulator: Option<SimulatorConfig>,
    /// Sources, in the order they run.
    pub sources: Vec<SourceConfig>,
    /// The modelling layer, built after the sources (dimensions, facts, KPIs).
    #[serde(default)]
    pub models: Option<ModelsConfig>,
    /// How long old versions and quarantined raw values are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
}

/// `[retention]`: how long the lake keeps what it no longer shows (docs/operations.md,
/// "Retention"). Children's data must not be kept longer than agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days old table versions stay readable (time travel, restore): data files only older
    /// versions use, and their `_delta_log` entries, are deleted after this. 0 keeps only the
    /// current version.
    #[serde(default = "default_versions_days")]
    pub versions_days: u32,
    /// Days a quarantine row (a rejected raw value or record, `secure` zone) is kept after the
    /// run that rejected it; then it is deleted and its older versions purged. Agreed with the
    /// partnership's data protection officer.
    #[serde(default = "default_quarantine_days")]
    pub quarantine_days: u32,
    /// Whether `sendlake run` applies the policy after its commits (otherwise only
    /// `sendlake vacuum` does).
    #[serde(default = "default_true")]
    pub after_run: bool,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            versions_days: default_versions_days(),
            quarantine_days: default_quarantine_days(),
            after_run: true,
        }
    }
}

fn default_versions_days() -> u32 {
    30
}

// [unconfirmed] A placeholder until the partnership's DPO agrees the period (docs/privacy.md).
fn default_quarantine_days() -> u32 {
    180
}

fn default_true() -> bool {
    true
}

/// The longest retention a pipeline may set, in days (100 years): longer is a typo, and dates
/// that far back stop being representable.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// `[models]`: the SQL model project and the publishing policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// The models folder, relative to the pipeline file (`models` → `pipelines/models`).
    pub dir: PathBuf,
    /// Small-number suppression of published tables (threshold, minimum rate denominator,
    /// rounding). Defaults: counts 1–4 suppressed, rates need a denominator of 10, no rounding.
    #[serde(default)]
    pub publish: sendlake_schema::SuppressionPolicy,
}

/// `[simulator]`: run the partner simulator on a loopback port for the length of the run.
/// Sources whose `base_url` is `"simulator"` talk to it, and the environment variables named in
/// `env` read the simulator's synthetic credentials instead of the process environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// LAs (the same children as the synthetic SEN2 returns with the same settings).
    pub las: usize,
    /// Persons per LA.
    pub persons_per_la: usize,
    /// Random seed.
    pub seed: u64,
    /// Census year.
    pub census_year: i32,
    /// Environment variable name → which simulator credential it stands for.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, SimCredential>,
}

/// A credential of the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimCredential {
    /// The council API's OAuth2 client id.
    ClientId,
    /// The council API's OAuth2 client secret.
    ClientSecret,
    /// The NHS provider API's key.
    ApiKey,
}

/// `[pipeline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineMeta {
    /// Short name (appears in the manifest).
    pub name: String,
    /// What the pipeline is for.
    #[serde(default)]
    pub description: String,
}

/// URL schemes a store may use: local folders, Azure (Blob, ADLS Gen2, OneLake) and
/// S3-compatible object stores.
pub const STORE_SCHEMES: &[&str] = &["file", "az", "azure", "abfs", "abfss", "s3", "s3a"];

/// `[store]`. Credentials are never here: they come from the environment (or a managed
/// identity), see docs/operations.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Lake root: a folder (relative paths are relative to the pipeline file), a `file://`
    /// URL, `az://<container>/<path>` or `abfss://<container>@<account>.dfs.core.windows.net/<path>`
    /// (Azure), or `s3://<bucket>/<path>` (S3-compatible).
    pub url: String,
}

/// `[privacy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Name of the environment variable that holds the HMAC key (at least 32 bytes).
    #[serde(default = "default_key_env")]
    pub key_env: String,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            key_env: default_key_env(),
        }
    }
}

fn default_key_env() -> String {
    DEFAULT_KEY_ENV.to_owned()
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Rows per Arrow record batch while conforming (bounds memory per table).
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Folder for the run's local staging files (default: the system temp folder).
    #[serde(default)]
    pub staging_dir: Option<PathBuf>,
    /// A run lock whose heartbeat is older than this is stale and taken over by the next
    /// run (seconds; default 900). Live runs refresh it every minute at most.
    #[serde(default = "default_lock_stale_after_secs")]
    pub lock_stale_after_secs: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            batch_rows: default_batch_rows(),
            staging_dir: None,
            lock_stale_after_secs: default_lock_stale_after_secs(),
        }
    }
}

fn default_lock_stale_after_secs() -> u64 {
    900
}

fn default_batch_rows() -> usize {
    65_536
}

/// One source. A closed set: each `type` is a variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// A folder of person-level SEN2 XML returns.
    Sen2Xml(Sen2XmlSource),
    /// A partner described by a source file in `pipelines/sources/` (REST API, files, EES).
    SourceFile(SourceFileRef),
}

impl SourceConfig {
    /// The source's name; empty for a source file, whose name is inside the file.
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Sen2Xml(s) => &s.name,
            SourceConfig::SourceFile(_) => "",
        }
    }
}

/// `type = "source_file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFileRef {
    /// The source file (relative paths are relative to the pipeline file).
    pub file: PathBuf,
    /// Replaces the source file's `http.base_url`; `"simulator"` means the in-process
    /// simulator of `[simulator]`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Replaces a file source's `path` (relative to the pipeline file).
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// `type = "sen2_xml"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sen2XmlSource {
    /// Unique name; stored in every row's `source` column.
    pub name: String,
    /// Folder holding the returns (relative paths are relative to the pipeline file).
    pub path: PathBuf,
    /// File name pattern (`*` and `?`).
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// Demo only: generate synthetic returns into `path` when it holds none.
    #[serde(default)]
    pub synthetic: Option<SyntheticConfig>,
}

fn default_pattern() -> String {
    "*.xml".to_owned()
}

/// `[sources.synthetic]`: synthetic returns for demos and tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of LAs (one file each).
    pub las: usize,
    /// Persons per LA.
    pub persons_per_la: usize,
    /// Random seed.
    pub seed: u64,
    /// Census year.
    pub census_year: i32,
}

/// A checked pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct PipelinePlan {
    /// The pipeline file it came from.
    pub file: PathBuf,
    /// Name.
    pub name: String,
    /// Lake root (resolved).
    pub store_url: String,
    /// Key variable.
    pub key_env: String,
    /// Rows per batch.
    pub batch_rows: usize,
    /// When a run lock without a heartbeat becomes stale.
    pub lock_stale_after: std::time::Duration,
    /// Staging folder.
    pub staging_dir: Option<PathBuf>,
    /// Sources with resolved paths.
    pub sources: Vec<SourcePlan>,
    /// The in-process simulator, if configured.
    pub simulator: Option<SimulatorConfig>,
    /// The model project, loaded and checked, and its publishing policy.
    pub models: Option<ModelsPlan>,
    /// Retention policy.
    pub retention: RetentionConfig,
}

/// A checked `[models]` section.
#[derive(Debug, Clone)]
pub struct ModelsPlan {
    /// The project, read from its folder.
    pub project: sendlake_model::ModelProject,
    /// Suppression policy.
    pub policy: sendlake_schema::SuppressionPolicy,
}

/// A checked source.
#[derive(Debug, Clone)]
pub enum SourcePlan {
    /// SEN2 returns.
    Sen2Xml(Sen2Plan),
    /// A source file.
    Declared(Box<crate::sources::DeclaredSource>),
}

/// A checked SEN2 source.
#[derive(Debug, Clone)]
pub struct Sen2Plan {
    /// Name.
    pub name: String,
    /// Resolved folder.
    pub path: PathBuf,
    /// Pattern.
    pub pattern: String,
    /// Synthetic generation (demo builds only).
    pub synthetic: Option<SyntheticConfig>,
}

/// What a build without the `demo` feature says when asked for demo-only things.
pub const NO_DEMO: &str = "this sendlake was built without the demo (synthetic SEN2 returns, the partner simulator, the public development key); build one with `cargo build --release -p sendlake-cli --features demo` (the default for developers)";

impl SourcePlan {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            SourcePlan::Sen2Xml(s) => &s.name,
            SourcePlan::Declared(d) => d.def.name(),
        }
    }
}

impl PipelineFile {
    /// Reads and parses a pipeline file.
    ///
    /// # Errors
    /// A single problem naming the file, the key path and (for syntax errors) line and column.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let one = |key: String, message: String| {
            ConfigErrors(vec![ConfigProblem {
                file: path.to_owned(),
                key,
                message,
            }])
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| one(String::new(), format!("cannot read: {e}")))?;
        Self::parse(path, &text)
    }

    /// Parses pipeline text; `path` is used for messages.
    ///
    /// # Errors
    /// See [`PipelineFile::load`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigErrors> {
        let de = toml::Deserializer::parse(text).map_err(|e| {
            ConfigErrors(vec![ConfigProblem {
                file: path.to_owned(),
                key: String::new(),
                message: e.to_string().trim_end().to_owned(),
            }])
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            ConfigErrors(vec![ConfigProblem {
                file: path.to_owned(),
                key,
                message: e.into_inner().message().trim_end().to_owned(),
            }])
        })
    }

    /// Resolves and checks everything, reporting every problem found.
    ///
    /// # Errors
    /// All problems, each naming the file and key.
    pub fn check(&self, file: &Path) -> Result<PipelinePlan, ConfigErrors> {
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                file: file.to_owned(),
                key: key.to_owned(),
                message,
            })
        };
        if self.pipeline.name.trim().is_empty() {
            problem("pipeline.name", "must not be empty".into());
        }
        let store_url = resolve_store(&self.store.url, &base);
        if self.store.url.trim().is_empty() {
            problem("store.url", "must not be empty".into());
        } else if let Some(scheme) = self.store.url.split_once("://").map(|(s, _)| s)
            && !STORE_SCHEMES.contains(&scheme)
        {
            problem(
                "store.url",
                format!(
                    "scheme `{scheme}` is not supported: use a folder, file://, az:// or abfss:// (Azure Blob / ADLS Gen2, OneLake) or s3:// (S3-compatible)"
                ),
            );
        }
        let key_env = &self.privacy.key_env;
        if key_env.is_empty()
            || !key_env
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            problem(
                "privacy.key_env",
                "must be an environment variable name (A-Z, 0-9, _)".into(),
            );
        }
        if self.run.batch_rows == 0 || self.run.batch_rows > 1_048_576 {
            problem("run.batch_rows", "must be between 1 and 1048576".into());
        }
        if !(10..=86_400).contains(&self.run.lock_stale_after_secs) {
            problem(
                "run.lock_stale_after_secs",
                "must be between 10 and 86400 seconds".into(),
            );
        }
        if self.sources.is_empty() {
            problem("sources", "at least one source is needed".into());
        }
        for (key, days) in [
            ("retention.versions_days", self.retention.versions_days),
            ("retention.quarantine_days", self.retention.quarantine_days),
        ] {
            if days > MAX_RETENTION_DAYS {
                problem(
                    key,
                    format!("must be between 0 and {MAX_RETENTION_DAYS} (days)"),
                );
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut sources = Vec::new();
        let registry = sendlake_schema::SchemaRegistry::embedded();
        let mut file_problems = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            let key = |k: &str| format!("sources[{i}].{k}");
            if let SourceConfig::SourceFile(r) = source {
                let path = if r.file.is_absolute() {
                    r.file.clone()
                } else {
                    base.join(&r.file)
                };
                let registry = match &registry {
                    Ok(r) => r,
                    Err(e) => {
                        problem(&key("file"), format!("the embedded schema is broken: {e}"));
                        continue;
                    }
                };
                let def = match crate::sources::SourceDef::load(&path) {
                    Ok(d) => d,
                    Err(p) => {
                        file_problems.push(p);
                        continue;
                    }
                };
                let (def, simulator) =
                    match apply_overrides(def, r, &base, self.simulator.is_some()) {
                        Ok(d) => d,
                        Err((k, m)) => {
                            problem(&key(k), m);
                            continue;
                        }
                    };
                if !names.insert(def.name().to_owned()) {
                    problem(
                        &key("file"),
                        format!("duplicate source name `{}`", def.name()),
                    );
                }
                match def.check(&path, registry) {
                    Ok(def) => sources.push(SourcePlan::Declared(Box::new(
                        crate::sources::DeclaredSource {
                            file: path,
                            def,
                            simulator,
                        },
                    ))),
                    Err(ps) => file_problems.extend(ps),
                }
                continue;
            }
            let name = source.name();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                problem(&key("name"), "must be snake_case (a-z, 0-9, _)".into());
            }
            if !names.insert(name.to_owned()) {
                problem(&key("name"), format!("duplicate source name `{name}`"));
            }
            match source {
                SourceConfig::Sen2Xml(s) => {
                    let path = if s.path.is_absolute() {
                        s.path.clone()
                    } else {
                        base.join(&s.path)
                    };
                    if s.synthetic.is_none() && !path.is_dir() {
                        problem(
                            &key("path"),
                            format!("folder {} does not exist", path.display()),
                        );
                    }
                    if s.pattern.is_empty() || s.pattern.contains('/') {
                        problem(
                            &key("pattern"),
                            "must be a file name pattern such as `*.xml`".into(),
                        );
                    }
                    if let Some(syn) = &s.synthetic {
                        if syn.las == 0 || syn.las > 500 {
                            problem(&key("synthetic.las"), "must be between 1 and 500".into());
                        }
                        if syn.persons_per_la == 0 {
                            problem(
                                &key("synthetic.persons_per_la"),
                                "must be at least 1".into(),
                            );
                        }
                        if !(2020..=2100).contains(&syn.census_year) {
                            problem(
                                &key("synthetic.census_year"),
                                "must be between 2020 and 2100".into(),
                            );
                        }
                    }
                    if s.synthetic.is_some() && !cfg!(feature = "demo") {
                        problem(&key("synthetic"), NO_DEMO.into());
                    }
                    sources.push(SourcePlan::Sen2Xml(Sen2Plan {
                        name: s.name.clone(),
                        path,
                        pattern: s.pattern.clone(),
                        synthetic: s.synthetic.clone(),
                    }));
                }
                SourceConfig::SourceFile(_) => {}
            }
        }
        if let Some(sim) = &self.simulator {
            if !cfg!(feature = "demo") {
                problem("simulator", NO_DEMO.into());
            }
            if sim.las == 0 || sim.las > 500 {
                problem("simulator.las", "must be between 1 and 500".into());
            }
            if sim.persons_per_la == 0 {
                problem("simulator.persons_per_la", "must be at least 1".into());
            }
            for name in sim.env.keys() {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    problem(
                        &format!("simulator.env.{name}"),
                        "must be an environment variable name (A-Z, 0-9, _)".into(),
                    );
                }
            }
        }
        let mut models = None;
        if let Some(m) = &self.models {
            let p = m.publish.clone();
            for (key, message) in p.problems() {
                problem(&format!("models.publish.{key}"), message);
            }
            let dir = if m.dir.is_absolute() {
                m.dir.clone()
            } else {
                base.join(&m.dir)
            };
            match &registry {
                Ok(registry) => match sendlake_model::ModelProject::load(&dir, registry) {
                    Ok(project) => {
                        file_problems.extend(page_source_problems(&project));
                        models = Some(ModelsPlan { project, policy: p });
                    }
                    Err(errs) => {
                        for e in errs {
                            file_problems.push(ConfigProblem {
                                file: e.file.clone(),
                                key: e.key.clone().unwrap_or_default(),
                                message: e.message.clone(),
                            });
                        }
                    }
                },
                Err(e) => problem("models.dir", format!("the embedded schema is broken: {e}")),
            }
        }
        problems.extend(file_problems);
        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        Ok(PipelinePlan {
            file: file.to_owned(),
            name: self.pipeline.name.clone(),
            store_url,
            key_env: key_env.clone(),
            batch_rows: self.run.batch_rows,
            lock_stale_after: std::time::Duration::from_secs(self.run.lock_stale_after_secs),
            staging_dir: self.run.staging_dir.as_ref().map(|p| {
                if p.is_absolute() {
                    p.clone()
                } else {
                    base.join(p)
                }
            }),
            sources,
            simulator: self.simulator.clone(),
            models,
            retention: self.retention,
        })
    }
}

/// Applies a pipeline's overrides to a source file's definition.
fn apply_overrides(
    mut def: crate::sources::SourceDef,
    r: &SourceFileRef,
    base: &Path,
    has_simulator: bool,
) -> Result<(crate::sources::SourceDef, bool), (&'static str, String)> {
    use crate::sources::SourceDef;
    let simulator = r.base_url.as_deref() == Some(SIMULATOR_URL);
    if let Some(url) = &r.base_url {
        if simulator && !has_simulator {
            return Err((
                "base_url",
                "`simulator` needs a [simulator] section in the pipeline file".into(),
            ));
        }
        // The simulator's port is known only when the run starts it; until then the URL is a
        // loopback placeholder that passes the HTTP checks.
        let url = if simulator {
            "http://127.0.0.1:9".to_owned()
        } else {
            url.clone()
        };
        let url = &url;
        match &mut def {
            SourceDef::Rest(s) => s.http.base_url.clone_from(url),
            SourceDef::Ees(s) => s.http.base_url.clone_from(url),
            SourceDef::File(_) => {
                return Err(("base_url", "a file source has no base_url".into()));
            }
        }
    }
    if let Some(path) = &r.path {
        match &mut def {
            SourceDef::File(s) => {
                s.path = if path.is_absolute() {
                    path.clone()
                } else {
                    base.join(path)
                };
            }
            _ => return Err(("path", "only a file source has a path".into())),
        }
    }
    Ok((def, simulator))
}

/// The `base_url` that means "the in-process simulator".
pub const SIMULATOR_URL: &str = "simulator";

fn resolve_store(url: &str, base: &Path) -> String {
    let path = url.strip_prefix("file://").unwrap_or(url);
    if url.contains("://") && !url.starts_with("file://") {
        return url.to_owned();
    }
    let p = Path::new(path);
    if p.is_absolute() {
        p.display().to_string()
    } else {
        base.join(p).display().to_string()
    }
}

/// Loads and checks a pipeline file in one go.
///
/// # Errors
/// Every problem, naming the file and key.
pub fn load_plan(path: &Path) -> Result<PipelinePlan, ConfigErrors> {
    PipelineFile::load(path)?.check(path)
}

/// Problems with `report.toml`'s `[powerbi.page_sources]` that only the Power BI generator
/// can see: a table it has no starter page on (the model project checks the rest).
pub(crate) fn page_source_problems(project: &sendlake_model::ModelProject) -> Vec<ConfigProblem> {
    let pages = sendlake_powerbi::report_page_tables();
    project
        .report
        .powerbi
        .page_sources
        .keys()
        .filter(|t| !pages.contains(&t.as_str()))
        .map(|t| ConfigProblem {
            file: project.dir.join("report.toml"),
            key: format!("powerbi.page_sources.{t}"),
            message: format!(
                "the starter report has no page on `{t}`; pages: {}",
                pages.join(", ")
            ),
        })
        .collect()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PipelineFile, ConfigErrors> {
        PipelineFile::parse(Path::new("p.toml"), text)
    }

    #[test]
    fn unknown_keys_and_types_name_the_key() {
        let err = parse("[pipeline]\nname='x'\ncolour=1\n[store]\nurl='l'\n[[sources]]\ntype='sen2_xml'\nname='a'\npath='.'\n").unwrap_err();
        assert!(err.to_string().contains("p.toml"), "{err}");
        assert!(err.to_string().contains("colour"), "{err}");
        let err = parse(
            "[pipeline]\nname='x'\n[store]\nurl='l'\n[[sources]]\ntype='csv'\nname='a'\npath='.'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("sources[0]"), "{err}");
        assert!(err.to_string().contains("sen2_xml"), "{err}");
        let err = parse("[pipeline]\nname='x'\n[store]\nurl='l'\n[[sources]]\ntype='sen2_xml'\nname='a'\npath='.'\npatern='*'\n").unwrap_err();
        assert!(err.to_string().contains("patern"), "{err}");
        let err = parse("[pipeline\nname='x'").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn check_reports_every_problem() {
        let f = parse(
            "[pipeline]\nname=''\n[store]\nurl='gs://bucket'\n[privacy]\nkey_env='lower'\n[run]\nbatch_rows=0\n\
             [[sources]]\ntype='sen2_xml'\nname='Bad Name'\npath='/definitely/not/here'\n\
             [[sources]]\ntype='sen2_xml'\nname='Bad Name'\npath='.'\npattern=''\n",
        )
        .unwrap();
        let err = f.check(Path::new("pipelines/p.toml")).unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        for k in [
            "pipeline.name",
            "store.url",
            "privacy.key_env",
            "run.batch_rows",
            "sources[0].name",
            "sources[0].path",
            "sources[1].name",
            "sources[1].pattern",
        ] {
            assert!(keys.contains(&k), "missing {k} in {keys:?}");
        }
        assert!(
            err.to_string()
                .contains("pipelines/p.toml: key `store.url`"),
            "{err}"
        );
    }

    #[test]
    fn retention_defaults_and_checks_name_the_key() {
        let base = "[pipeline]\nname='x'\n[store]\nurl='l'\n[[sources]]\ntype='sen2_xml'\nname='a'\npath='.'\n";
        let plan = parse(base).unwrap().check(Path::new("p.toml")).unwrap();
        assert_eq!(plan.retention, RetentionConfig::default());
        assert_eq!(
            (plan.retention.versions_days, plan.retention.quarantine_days),
            (30, 180)
        );
        assert!(plan.retention.after_run);

        let set =
            format!("{base}[retention]\nversions_days=0\nquarantine_days=90\nafter_run=false\n");
        let plan = parse(&set).unwrap().check(Path::new("p.toml")).unwrap();
        assert_eq!(
            plan.retention,
            RetentionConfig {
                versions_days: 0,
                quarantine_days: 90,
                after_run: false
            }
        );

        let err = parse(&format!("{base}[retention]\nversion_days=7\n")).unwrap_err();
        assert!(err.to_string().contains("version_days"), "{err}");
        let err = parse(&format!("{base}[retention]\nquarantine_days=-1\n")).unwrap_err();
        assert_eq!(err.0[0].key, "retention.quarantine_days", "{err}");
        let err = parse(&format!(
            "{base}[retention]\nversions_days=40000\nquarantine_days=36501\n"
        ))
        .unwrap()
        .check(Path::new("p.toml"))
        .unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["retention.versions_days", "retention.quarantine_days"],
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("p.toml: key `retention.versions_days`: must be between 0 and 36500"),
            "{err}"
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_pipeline_file() {
        let f = parse("[pipeline]\nname='x'\n[store]\nurl='../lake'\n[[sources]]\ntype='sen2_xml'\nname='a'\npath='data'\n[sources.synthetic]\nlas=1\npersons_per_la=5\nseed=1\ncensus_year=2026\n").unwrap();
        let plan = f.check(Path::new("/x/pipelines/p.toml")).unwrap();
        assert_eq!(plan.store_url, "/x/pipelines/../lake");
        let SourcePlan::Sen2Xml(s) = &plan.sources[0] else {
            panic!("not a SEN2 source")
        };
        assert_eq!(s.path, Path::new("/x/pipelines/data"));
    }
}
