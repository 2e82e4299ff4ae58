//! URL helpers: joining, the plain-http rule, query edits and redaction.

use std::net::IpAddr;

use url::{Host, Url};

/// Query parameter names whose values are treated as secret even when the config does not say
/// so: servers echo tokens into next links, and a leaked key in a log is hard to take back.
const ALWAYS_SECRET_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "client_secret",
    "key",
    "password",
    "sig",
    "signature",
    "token",
];

/// The URL with secret query values and any userinfo password replaced by `[redacted]`.
/// `extra` holds the configured API-key parameter name, if any.
pub fn redact_url(url: &Url, extra: Option<&str>) -> String {
    let mut out = url.clone();
    if out.password().is_some() {
        // Only fails for URLs that cannot have credentials, which cannot have a password.
        let _ = out.set_password(Some("[redacted]"));
    }
    if out.query().is_some() {
        let secret = |k: &str| {
            ALWAYS_SECRET_PARAMS
                .iter()
                .any(|s| k.eq_ignore_ascii_case(s))
                || extra.is_some_and(|e| k.eq_ignore_ascii_case(e))
        };
        let pairs: Vec<(String, String)> = out
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "[redacted]".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        out.query_pairs_mut().clear().extend_pairs(pairs);
    }
    out.to_string()
}

/// `true` when plain http is acceptable: loopback only, where there is no network to sniff.
pub fn is_allowed_scheme(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// `base_url` + `path` by string concatenation with exactly one `/` between them.
/// `Url::join` is avoided on purpose: it would drop the last segment of a base such as
/// `https://host/api/v1`.
pub fn join(base: &str, path: &str) -> Result<Url, url::ParseError> {
    if path.is_empty() {
        return Url::parse(base);
    }
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    Url::parse(&format!("{base}/{path}"))
}

/// Sets `name=value`, replacing any existing values of `name` and keeping other parameters.
pub fn set_query_param(url: &mut Url, name: &str, value: &str) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
}

/// Same scheme, host and port: the only places we will send credentials to.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// The `rel="next"` target of RFC 8288 `Link` header values, if any.
pub fn link_next<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    for value in values {
        // Link values are comma-separated `<uri>; param=value` entries. URIs may contain commas,
        // so split on `<` starts rather than on commas.
        for entry in value.split('<').skip(1) {
            let Some((target, params)) = entry.split_once('>') else {
                continue;
            };
            let is_next = params.split(';').skip(1).any(|p| {
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(target.trim().to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_known_and_configured_params() {
        let u = Url::parse("https://u:pw@h/x?a=1&api_key=s1&X-Key=s2&token=s3").unwrap();
        let r = redact_url(&u, Some("x-key"));
        assert!(!r.contains("s1") && !r.contains("s2") && !r.contains("s3") && !r.contains("pw"));
        assert!(r.contains("a=1"));
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:1/",
            "http://[::1]/",
            "http://localhost/",
            "https://x/",
        ] {
            assert!(is_allowed_scheme(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://example.org/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
        ] {
            assert!(!is_allowed_scheme(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn join_keeps_base_path() {
        let u = join("https://h/api/v1/", "/items").unwrap();
        assert_eq!(u.as_str(), "https://h/api/v1/items");
    }

    #[test]
    fn parses_link_header() {
        let v = r#"<https://h/x?page=1>; rel="prev", <https://h/x?page=3&a=1,2>; rel="next""#;
        assert_eq!(
            link_next([v].into_iter()).as_deref(),
            Some("https://h/x?page=3&a=1,2")
        );
        assert_eq!(
            link_next([r#"<https://h/x>; rel="last""#].into_iter()),
            None
        );
        assert_eq!(
            link_next(["<a>; rel=next"].into_iter()).as_deref(),
            Some("a")
        );
    }
}
