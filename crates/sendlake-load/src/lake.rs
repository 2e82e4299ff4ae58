//! The lake root: where each zone's tables live, plus small JSON documents (run records).

use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::AsyncWriteExt as _;
use url::Url;

use crate::error::{Error, Result};

/// Access zones: one definition, in the schema crate, because tables declare their zone there.
/// Each is a top-level directory of the lake so storage permissions can be set per zone.
pub use sendlake_schema::Zone;

/// Where the lake's bytes live. Only the local filesystem exists today; object stores
/// (abfss://, s3://) slot in here and in `write_json`/`read_json` later.
#[derive(Debug, Clone)]
enum Store {
    Local(PathBuf),
}

/// The root of the Delta lake.
#[derive(Debug, Clone)]
pub struct Lake {
    /// Root URL without a trailing slash, e.g. `file:///srv/lake`.
    root_uri: String,
    store: Store,
}

impl Lake {
    /// Opens (and for local paths creates) the lake root. Accepts a relative or absolute local
    /// path or a `file://` URL.
    pub fn open(location: &str) -> Result<Lake> {
        let invalid = |reason: String| Error::InvalidLocation {
            location: location.to_owned(),
            reason,
        };
        if location.trim().is_empty() {
            return Err(invalid("empty location".into()));
        }
        let path = match Url::parse(location) {
            Ok(url) if url.scheme() == "file" => url
                .to_file_path()
                .map_err(|()| invalid("not a local file URL".into()))?,
            // A one-letter "scheme" is a Windows drive letter, i.e. a path.
            Ok(url) if url.scheme().len() > 1 => {
                return Err(invalid(format!(
                    "the {:?} scheme is not supported yet (local paths and file:// only)",
                    url.scheme()
                )));
            }
            _ => PathBuf::from(location),
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::io(format!("creating lake root {}", path.display()), e))?;
        let path = std::fs::canonicalize(&path)
            .map_err(|e| Error::io(format!("resolving lake root {}", path.display()), e))?;
        let url = Url::from_directory_path(&path)
            .map_err(|()| invalid("cannot express the path as a URL".into()))?;
        Ok(Lake {
            root_uri: url.as_str().trim_end_matches('/').to_owned(),
            store: Store::Local(path),
        })
    }

    /// URI of a table: `<root>/<zone>/<name>`. `name` may have several segments
    /// (`quarantine/sen2_rejects`). Names come from the schema registry, not from input
    /// data; still, characters outside `[A-Za-z0-9_-]` are replaced by `_` and empty
    /// segments dropped, so no name can reach outside its zone (`..` would otherwise be
    /// collapsed by URL normalisation).
    pub fn table_uri(&self, zone: Zone, name: &str) -> String {
        let mut uri = format!("{}/{}", self.root_uri, zone.as_str());
        for seg in name.split('/').filter(|s| !s.is_empty()) {
            uri.push('/');
            uri.extend(seg.chars().map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            }));
        }
        uri
    }

    /// The root URI, e.g. `file:///srv/lake` (no trailing slash).
    pub fn root_uri(&self) -> &str {
        &self.root_uri
    }

    /// Whether the lake is on the local filesystem.
    pub fn is_local(&self) -> bool {
        matches!(self.store, Store::Local(_))
    }

    /// Writes `value` as pretty JSON at `relative_path` (e.g. `_runs/<run_id>.json`),
    /// atomically: readers see the old document or the new one, never a partial file.
    pub async fn write_json(&self, relative_path: &str, value: &serde_json::Value) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)?;
        self.write_bytes(relative_path, &bytes).await
    }

    /// Writes `bytes` at `relative_path` (e.g. the run report, `_runs/<run_id>.html`),
    /// atomically, as [`Lake::write_json`] does.
    pub async fn write_bytes(&self, relative_path: &str, bytes: &[u8]) -> Result<()> {
        let Store::Local(root) = &self.store;
        let target = root.join(checked_relative(relative_path)?);
        let parent = target.parent().unwrap_or(root);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;

        // The temp file sits next to the target so the rename stays on one filesystem (and
        // so is atomic); its name starts with '.' so listings of `_runs/` skip it.
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tmp = parent.join(format!(".{file_name}.tmp-{}-{nanos}", std::process::id()));

        let written = async {
            let mut file = tokio::fs::File::create_new(&tmp).await?;
            file.write_all(bytes).await?;
            // Flush to disk before the rename, or a crash could leave the new name pointing
            // at an empty file.
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&tmp, &target).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(Error::io(format!("writing {}", target.display()), e));
        }
        Ok(())
    }

    /// Reads a JSON document written by [`Lake::write_json`]; `None` if it does not exist.
    pub async fn read_json(&self, relative_path: &str) -> Result<Option<serde_json::Value>> {
        let Store::Local(root) = &self.store;
        let path = root.join(checked_relative(relative_path)?);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }
}

/// Only plain relative paths (no `..`, no root, no `.`) so a document stays inside the lake.
fn checked_relative(relative_path: &str) -> Result<&Path> {
    let invalid = |reason| Error::InvalidPath {
        path: relative_path.to_owned(),
        reason,
    };
    let path = Path::new(relative_path);
    if relative_path.is_empty() || relative_path.ends_with('/') {
        return Err(invalid("must name a file"));
    }
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(invalid(
            "must be relative to the lake root without '.' or '..' segments",
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_inside() {
        assert!(checked_relative("_runs/r1.json").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x.json",
            "_runs/../../x",
            "./x",
            "_runs/",
        ] {
            assert!(checked_relative(bad).is_err(), "{bad:?}");
        }
    }
}
