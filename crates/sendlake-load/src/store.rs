//! Object stores: which URL schemes reach which store, through delta-rs's registries, so the
//! lake's own documents (run manifests, locks) and its Delta tables use one client and one
//! set of credentials.
//!
//! * Azure (`az://`, `azure://`, `abfs://`, `abfss://`, `adl://`): delta-rs's Azure handlers.
//! * S3-compatible (`s3://`, `s3a://`): object_store's S3 client, registered here.
//!
//! Credentials come from the environment (or a managed / workload identity), never from a
//! pipeline file: object_store reads `AZURE_*` and `AWS_*` variables itself.

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Arc, Once};

use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig, default_logstore,
    logstore_factories, object_store_factories,
};
use deltalake::{DeltaResult, DeltaTableError, Path};
use object_store::ObjectStoreScheme;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use url::Url;

/// Schemes served by an object store rather than the local filesystem.
pub const REMOTE_SCHEMES: &[&str] = &["az", "azure", "abfs", "abfss", "adl", "s3", "s3a"];

/// Registers the Azure and S3 handlers with delta-rs, once per process. Every function that
/// opens a table or the lake calls it, so no caller has to remember.
pub fn register_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        deltalake::azure::register_handlers(None);
        let s3 = Arc::new(S3Factory);
        for scheme in ["s3", "s3a"] {
            if let Ok(url) = Url::parse(&format!("{scheme}://")) {
                object_store_factories().insert(url.clone(), s3.clone());
                logstore_factories().insert(url, s3.clone());
            }
        }
    });
}

/// S3 and S3-compatible stores (MinIO, Ceph, R2) through object_store's client. Its default
/// conditional put (`If-None-Match: *`) makes each Delta commit file's creation atomic.
#[derive(Debug, Default)]
struct S3Factory;

impl ObjectStoreFactory for S3Factory {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        // `from_env` reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT,
        // AWS_ALLOW_HTTP, web identity tokens and the like.
        let mut builder = AmazonS3Builder::from_env()
            .with_url(url.to_string())
            .with_retry(config.retry.clone());
        let raw: &HashMap<String, String> = &config.raw;
        for (key, value) in raw {
            if let Ok(key) = AmazonS3ConfigKey::from_str(&key.to_ascii_lowercase()) {
                builder = builder.with_config(key, value.clone());
            }
        }
        let store = builder.build()?;
        let (_, path) =
            ObjectStoreScheme::parse(url).map_err(|e| DeltaTableError::GenericError {
                source: Box::new(e),
            })?;
        Ok((Arc::new(store), Path::parse(path)?))
    }
}

impl LogStoreFactory for S3Factory {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// The object store rooted at `url` (its path is the store's root).
pub(crate) fn store_at(url: &Url) -> DeltaResult<ObjectStoreRef> {
    register_handlers();
    deltalake::logstore::store_for(url, std::iter::empty::<(String, String)>())
}
