//! The lake root: where each zone's tables live, plus small documents (run records, locks),
//! on a local disk or an object store (Azure, S3).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use deltalake::logstore::ObjectStoreRef;
use object_store::ObjectStoreExt as _;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, PutMode, PutOptions, PutPayload};
use tokio::io::AsyncWriteExt as _;
use url::Url;

use crate::error::{Error, Result};

/// Access zones: one definition, in the schema crate, because tables declare their zone there.
/// Each is a top-level directory of the lake so storage permissions can be set per zone.
pub use sendlake_schema::Zone;

/// Where the lake's bytes live.
#[derive(Debug, Clone)]
enum Store {
    /// A local folder. Documents are written with an fsync before the rename, which
    /// object_store's local backend does not do.
    Local(PathBuf),
    /// Azure or S3, rooted at the lake's URL.
    Object(ObjectStoreRef),
}

/// An object in the lake's store, as [`Lake::list`] gives it.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// Path relative to the lake root, e.g. `_runs/20261127T013000Z-1a2b.json`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// The root of the Delta lake.
#[derive(Debug, Clone)]
pub struct Lake {
    /// Root URL without a trailing slash, e.g. `file:///srv/lake` or `az://lake/herts`.
    root_uri: String,
    store: Store,
    /// The same root through object_store, for listing and conditional writes everywhere.
    objects: ObjectStoreRef,
}

impl Lake {
    /// Opens (and for local paths creates) the lake root. Accepts a relative or absolute local
    /// path, a `file://` URL, or an Azure (`az://`, `abfss://` …) or S3 (`s3://`) URL, whose
    /// credentials come from the environment.
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
            Ok(url) if crate::store::REMOTE_SCHEMES.contains(&url.scheme()) => {
                let root = location.trim_end_matches('/').to_owned();
                let url = Url::parse(&format!("{root}/"))
                    .map_err(|e| invalid(format!("not a URL: {e}")))?;
                let objects = crate::store::store_at(&url).map_err(|e| invalid(e.to_string()))?;
                return Ok(Lake {
                    root_uri: root,
                    store: Store::Object(objects.clone()),
                    objects,
                });
            }
            // A one-letter "scheme" is a Windows drive letter, i.e. a path.
            Ok(url) if url.scheme().len() > 1 => {
                return Err(invalid(format!(
                    "the {:?} scheme is not supported: use a folder, file://, az://, abfss:// or s3://",
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
        let objects: ObjectStoreRef = Arc::new(
            LocalFileSystem::new_with_prefix(&path)
                .map_err(|e| invalid(e.to_string()))?
                .with_automatic_cleanup(false),
        );
        Ok(Lake {
            root_uri: url.as_str().trim_end_matches('/').to_owned(),
            store: Store::Local(path),
            objects,
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
    /// atomically, as [`Lake::write_json`] does. (An object store's PUT is atomic.)
    pub async fn write_bytes(&self, relative_path: &str, bytes: &[u8]) -> Result<()> {
        let root = match &self.store {
            Store::Local(root) => root,
            Store::Object(store) => {
                let path = object_path(relative_path)?;
                store
                    .put(&path, PutPayload::from(bytes.to_vec()))
                    .await
                    .map_err(|e| self.object_error("writing", relative_path, e))?;
                return Ok(());
            }
        };
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

    /// Writes `bytes` at `relative_path` only if nothing is there yet: `Ok(false)` when
    /// something is. Atomic on every store (a hard link locally, a conditional PUT on Azure
    /// and S3), so of two processes racing for the same path exactly one wins: the basis of
    /// the run lock.
    pub async fn create_new(&self, relative_path: &str, bytes: &[u8]) -> Result<bool> {
        let path = object_path(relative_path)?;
        if let Store::Local(root) = &self.store {
            // object_store's local backend needs the parent folder to exist.
            if let Some(parent) = root.join(checked_relative(relative_path)?).parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            }
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .objects
            .put_opts(&path, PutPayload::from(bytes.to_vec()), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.object_error("creating", relative_path, e)),
        }
    }

    /// The bytes at `relative_path`, or `None` if there is nothing there.
    pub async fn read_bytes(&self, relative_path: &str) -> Result<Option<Vec<u8>>> {
        let path = object_path(relative_path)?;
        match self.objects.get(&path).await {
            Ok(got) => match got.bytes().await {
                Ok(b) => Ok(Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.object_error("reading", relative_path, e)),
            },
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.object_error("reading", relative_path, e)),
        }
    }

    /// Reads a JSON document written by [`Lake::write_json`]; `None` if it does not exist.
    pub async fn read_json(&self, relative_path: &str) -> Result<Option<serde_json::Value>> {
        match self.read_bytes(relative_path).await? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Deletes `relative_path`; deleting what is not there is not an error.
    pub async fn delete(&self, relative_path: &str) -> Result<()> {
        let path = object_path(relative_path)?;
        match self.objects.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.object_error("deleting", relative_path, e)),
        }
    }

    /// The objects under the folder `prefix` (e.g. `_runs`), at any depth, sorted by path.
    /// Hidden files (a `.` name: temp files of a write in progress) are left out.
    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>> {
        use futures::TryStreamExt as _;
        let dir = object_path(prefix)?;
        if let Store::Local(root) = &self.store
            && !root.join(checked_relative(prefix)?).exists()
        {
            return Ok(Vec::new());
        }
        let metas: Vec<ObjectMeta> = match self.objects.list(Some(&dir)).try_collect().await {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(self.object_error("listing", prefix, e)),
        };
        let mut out: Vec<StoredObject> = metas
            .into_iter()
            .filter(|m| {
                m.location
                    .filename()
                    .is_some_and(|name| !name.starts_with('.'))
            })
            .map(|m| StoredObject {
                path: m.location.to_string(),
                size: m.size,
                modified: m.last_modified,
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn object_error(&self, what: &str, relative_path: &str, source: object_store::Error) -> Error {
        Error::ObjectStore {
            context: format!("{what} {}/{relative_path}", self.root_uri),
            source,
        }
    }
}

/// A lake-relative path as an object-store path, refusing anything that could leave the lake.
fn object_path(relative_path: &str) -> Result<ObjectPath> {
    let rel = checked_relative(relative_path)?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(ObjectPath::from_iter(parts))
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
