//! Credentials resolved from the environment, and the OAuth2 token cache.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};
use tokio::sync::Mutex;
use url::Url;

use crate::config::{ApiKeyLocation, Auth, ClientAuthMethod};
use crate::error::HttpError;
use crate::secret::Secret;
use crate::url_util::{is_allowed_scheme, redact_url};

/// [`Auth`] with every `*_env` reference replaced by its value.
pub(crate) enum ResolvedAuth {
    None,
    ApiKeyHeader {
        name: HeaderName,
        value: HeaderValue,
    },
    ApiKeyQuery {
        name: String,
        value: Secret,
    },
    Bearer {
        token: Secret,
    },
    OAuth2(OAuth2),
}

pub(crate) struct OAuth2 {
    pub(crate) token_url: Url,
    pub(crate) client_id: Secret,
    pub(crate) client_secret: Secret,
    pub(crate) scope: Option<String>,
    pub(crate) client_auth: ClientAuthMethod,
    /// One token for the whole client. A mutex (not a read-write lock) so that when the token
    /// expires only one request fetches a new one and the others wait for it.
    cache: Mutex<Option<CachedToken>>,
}

pub(crate) struct CachedToken {
    token: Secret,
    /// When to stop using the token; `None` when the server gave no `expires_in`, in which case
    /// we keep it until a 401 says otherwise.
    refresh_at: Option<Instant>,
}

/// Refresh this long before `expires_in` runs out, so a token does not expire in flight. Capped
/// at half the lifetime so very short-lived tokens are still used at all.
const TOKEN_SKEW: Duration = Duration::from_secs(30);

impl ResolvedAuth {
    pub(crate) fn resolve(
        source: &str,
        auth: &Auth,
        base_url: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, HttpError> {
        let secret = |var: &str, key: &str| -> Result<Secret, HttpError> {
            match env(var) {
                Some(v) if !v.is_empty() => Ok(Secret::new(v)),
                _ => Err(HttpError::MissingSecret {
                    source_name: source.to_owned(),
                    var: var.to_owned(),
                    key: key.to_owned(),
                }),
            }
        };
        let config_err = |message: String| HttpError::Config {
            source_name: source.to_owned(),
            message,
        };
        Ok(match auth {
            Auth::None {} => Self::None,
            Auth::ApiKey {
                location,
                name,
                value_env,
            } => {
                let value = secret(value_env, "auth.value_env")?;
                match location {
                    ApiKeyLocation::Query => Self::ApiKeyQuery {
                        name: name.clone(),
                        value,
                    },
                    ApiKeyLocation::Header => {
                        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                            config_err(format!("`auth.name` {name:?} is not a valid header name"))
                        })?;
                        // The message must not quote the value: it is the secret.
                        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                            config_err(format!(
                                "the value of `{value_env}` is not a valid header value"
                            ))
                        })?;
                        value.set_sensitive(true);
                        Self::ApiKeyHeader { name, value }
                    }
                }
            }
            Auth::Bearer { token_env } => Self::Bearer {
                token: secret(token_env, "auth.token_env")?,
            },
            Auth::Oauth2ClientCredentials {
                token_url,
                client_id_env,
                client_secret_env,
                scope,
                client_auth,
            } => {
                // A path (`/oauth/token`) is resolved against the base URL, so pointing a source
                // at another host (the simulator, a test tenant) moves its token endpoint too.
                let parsed = match Url::parse(token_url) {
                    Err(url::ParseError::RelativeUrlWithoutBase) => {
                        Url::parse(base_url).and_then(|b| b.join(token_url))
                    }
                    other => other,
                }
                .map_err(|e| HttpError::InvalidUrl {
                    source_name: source.to_owned(),
                    url: token_url.clone(),
                    message: e.to_string(),
                })?;
                if !is_allowed_scheme(&parsed) {
                    return Err(HttpError::InsecureUrl {
                        source_name: source.to_owned(),
                        url: redact_url(&parsed, None),
                    });
                }
                Self::OAuth2(OAuth2 {
                    token_url: parsed,
                    client_id: secret(client_id_env, "auth.client_id_env")?,
                    client_secret: secret(client_secret_env, "auth.client_secret_env")?,
                    scope: scope.clone(),
                    client_auth: *client_auth,
                    cache: Mutex::new(None),
                })
            }
        })
    }

    /// The name of the config's query-string key parameter, which redaction must hide.
    pub(crate) fn query_key_name(&self) -> Option<&str> {
        match self {
            Self::ApiKeyQuery { name, .. } => Some(name),
            _ => None,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ApiKeyHeader { .. } => "api_key(header)",
            Self::ApiKeyQuery { .. } => "api_key(query)",
            Self::Bearer { .. } => "bearer",
            Self::OAuth2(_) => "oauth2_client_credentials",
        }
    }
}

impl OAuth2 {
    /// The form body of a client-credentials token request.
    pub(crate) fn form_body(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if self.client_auth == ClientAuthMethod::Body {
            form.append_pair("client_id", self.client_id.expose());
            form.append_pair("client_secret", self.client_secret.expose());
        }
        if let Some(scope) = &self.scope {
            form.append_pair("scope", scope);
        }
        form.finish()
    }

    /// Locks the cache. Callers hold the guard while fetching, so a refresh happens once.
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, Option<CachedToken>> {
        self.cache.lock().await
    }

    /// Forgets `used` after a 401, unless another request has already replaced it.
    pub(crate) async fn invalidate(&self, used: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == used) {
            *cache = None;
        }
    }
}

impl CachedToken {
    pub(crate) fn new(token: Secret, expires_in: Option<u64>, now: Instant) -> Self {
        let refresh_at = expires_in.map(|secs| {
            let life = Duration::from_secs(secs);
            now + life.saturating_sub(TOKEN_SKEW.min(life / 2))
        });
        Self { token, refresh_at }
    }

    pub(crate) fn fresh(&self, now: Instant) -> Option<&Secret> {
        match self.refresh_at {
            Some(at) if now >= at => None,
            _ => Some(&self.token),
        }
    }
}
