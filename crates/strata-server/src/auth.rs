//! Bearer tokens with a scope: `read` for every GET and rule previews,
//! `admin` also for `POST /v1/runs`.
//!
//! A token comes in an `Authorization: Bearer …` header, or for the
//! dashboard in the HttpOnly `strata_token` cookie that `POST /login` sets. Health,
//! readiness, the OpenAPI document and the dashboard's static files are open.
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use strata_core::project::{Project, Scope};

use super::App;
use super::api::ApiError;

/// Environment variables holding comma-separated tokens, besides `[[serve.token]]`.
pub const READ_TOKENS_ENV: &str = "STRATA_READ_TOKENS";
/// See [`READ_TOKENS_ENV`].
pub const ADMIN_TOKENS_ENV: &str = "STRATA_ADMIN_TOKENS";

/// The tokens the server accepts.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    tokens: Vec<(String, Scope, String)>,
}

impl Auth {
    /// Tokens of the project's `[[serve.token]]` entries (read from their
    /// environment variables) and of `STRATA_READ_TOKENS` / `STRATA_ADMIN_TOKENS`.
    pub fn from_project(project: &Project) -> anyhow::Result<Auth> {
        let mut tokens = Vec::new();
        let mut missing = Vec::new();
        for setting in &project.serve.tokens {
            match std::env::var(&setting.env) {
                Ok(value) if !value.trim().is_empty() => tokens.push((
                    value.trim().to_string(),
                    setting.scope,
                    setting.name.clone(),
                )),
                _ => missing.push(format!(
                    "token `{}` ({}): environment variable {} is not set",
                    setting.name,
                    setting.scope.name(),
                    setting.env
                )),
            }
        }
        if !missing.is_empty() {
            anyhow::bail!(
                "{}\nhelp: export the variables before `strata serve`, or remove the [[serve.token]] entries",
                missing.join("\n")
            );
        }
        for (env, scope) in [
            (READ_TOKENS_ENV, Scope::Read),
            (ADMIN_TOKENS_ENV, Scope::Admin),
        ] {
            if let Ok(list) = std::env::var(env) {
                for (idx, token) in list.split(',').map(str::trim).enumerate() {
                    if !token.is_empty() {
                        tokens.push((token.to_string(), scope, format!("{env}[{}]", idx + 1)));
                    }
                }
            }
        }
        Ok(Auth { tokens })
    }

    /// Whether no token is configured (loopback only, everyone is admin).
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// "2 tokens (1 read, 1 admin)".
    pub fn describe(&self) -> String {
        let admin = self.tokens.iter().filter(|t| t.1 == Scope::Admin).count();
        format!(
            "{} token(s) accepted ({} read, {admin} admin); send Authorization: Bearer <token>",
            self.tokens.len(),
            self.tokens.len() - admin
        )
    }

    /// Whether a token is one of the configured ones.
    pub fn accepts(&self, presented: &str) -> bool {
        self.scope_of(presented).is_some()
    }

    /// The scope of a presented token, comparing in constant time.
    fn scope_of(&self, presented: &str) -> Option<Scope> {
        let mut found = None;
        for (token, scope, _) in &self.tokens {
            if constant_time_eq(token.as_bytes(), presented.as_bytes()) {
                found = found.max(Some(*scope));
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for idx in 0..a.len().max(b.len()) {
        let x = a.get(idx).copied().unwrap_or(0);
        let y = b.get(idx).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// The token of a request: the bearer header, else the dashboard cookie.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(|token| token.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix("strata_token=")
                .map(str::to_string)
        })
}

/// A cookie value: every byte but letters, digits and `-._~` percent-encoded.
pub fn cookie_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` (and `+` as a space, as forms send it); a `%` not
/// followed by two hex digits stays as it is.
fn percent_decode(text: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        let byte = bytes[idx];
        if byte == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(idx + 1).copied().and_then(hex),
                bytes.get(idx + 2).copied().and_then(hex),
            )
        {
            out.push((high * 16 + low) as u8);
            idx += 3;
            continue;
        }
        out.push(if byte == b'+' { b' ' } else { byte });
        idx += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// Paths anyone may read.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/v1/openapi.json" | "/login" | "/favicon.ico"
    ) || path.starts_with("/assets/")
}

/// The scope a route needs.
fn needed(method: &Method, path: &str) -> Scope {
    if method == Method::POST && path == "/v1/runs" {
        Scope::Admin
    } else {
        Scope::Read
    }
}

/// Middleware: 401 without a valid token, 403 with too small a scope.
pub async fn require(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if app.auth.is_open() || is_public(&path) {
        return next.run(request).await;
    }
    let wants_html = !path.starts_with("/v1/");
    let scope = presented(request.headers()).and_then(|token| app.auth.scope_of(&token));
    let need = needed(request.method(), &path);
    match scope {
        None => {
            if wants_html {
                return super::dashboard::login_page(&path).into_response();
            }
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a bearer token is required",
            )
            .help("send Authorization: Bearer <token>; tokens come from [[serve.token]] in strata.toml or STRATA_READ_TOKENS / STRATA_ADMIN_TOKENS")
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"strata\""),
            );
            response
        }
        Some(scope) if scope < need => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this route needs the {} scope; the token has {}",
                need.name(),
                scope.name()
            ),
        )
        .help("use a token from a [[serve.token]] entry with scope = \"admin\"")
        .into_response(),
        Some(_) => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_cookies_round_trip() {
        assert_eq!(cookie_encode("a;b c"), "a%3Bb%20c");
        assert_eq!(percent_decode(&cookie_encode("tök=;,")), "tök=;,");
        assert_eq!(
            form_fields(b"token=s3%26cret+x&next=%2Fsegments%2Fa&bad=%zz%"),
            vec![
                ("token".to_string(), "s3&cret x".to_string()),
                ("next".to_string(), "/segments/a".to_string()),
                ("bad".to_string(), "%zz%".to_string()),
            ]
        );
    }

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn admin_wins_over_read_for_the_same_token() {
        let auth = Auth {
            tokens: vec![
                ("t".into(), Scope::Read, "a".into()),
                ("t".into(), Scope::Admin, "b".into()),
                ("r".into(), Scope::Read, "c".into()),
            ],
        };
        assert_eq!(auth.scope_of("t"), Some(Scope::Admin));
        assert_eq!(auth.scope_of("r"), Some(Scope::Read));
        assert_eq!(auth.scope_of("nope"), None);
    }

    #[test]
    fn reads_header_then_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; strata_token=abc".parse().expect("header"),
        );
        assert_eq!(presented(&headers).as_deref(), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Bearer xyz".parse().expect("header"));
        assert_eq!(presented(&headers).as_deref(), Some("xyz"));
    }
}
