//! Authenticated visitors: verifying the JSON Web Token a host site issues for a signed-in visitor
//! (the SDK's `setAuthTokenProvider`).
//!
//! The classic JWT mistakes are ruled out by construction:
//! - The algorithm comes from the **key**, never from the token: an RSA key verifies RS256 only,
//!   a P-256 key ES256 only. `none`, HS256 (e.g. "signed" with the public key as an HMAC secret)
//!   and anything else are refused before any signature check.
//! - A token naming an unknown `kid` is refused (after one bounded-rate JWKS refresh, for key
//!   rotation); a token without `kid` is accepted only when the widget has exactly one key.
//! - `iss`, `sub`, `iat` and `exp` are required; `iss` must be one the widget accepts, `aud` must
//!   match when the widget sets one; `exp`/`nbf`/`iat` are checked against Beckon's (injected)
//!   clock with the widget's leeway.
//!
//! Every refusal has its own error code (docs/protocol.md), so a site owner can tell what is wrong.
//!
//! The optional `lwicontexts` claim is a *string* holding a JSON object of context variables; they
//! win over page-supplied context of the same name, since the host site's server vouches for them.

use base64::Engine;
use beckon_domain::model::WidgetAuth;
use beckon_domain::{Context, Timestamp};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// What a verified token says about the visitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub sub: String,
    pub issuer: String,
    pub expires_at: Timestamp,
    /// Context variables from the `lwicontexts` claim.
    pub context: Context,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this widget does not accept authenticated visitors")]
    NotConfigured,
    #[error("the token is not a JWT (three base64url parts: header, claims, signature)")]
    Malformed,
    #[error("the token's algorithm {0:?} is not allowed; sign with RS256 (RSA key) or ES256 (P-256 key)")]
    AlgorithmNotAllowed(String),
    #[error("no configured key has the token's kid {0:?}")]
    UnknownKid(String),
    #[error("the token has no kid and the widget has several keys; put the key's kid in the header")]
    KidRequired,
    #[error("the token's signature does not verify with the key for its kid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("the token's issuer {0:?} is not one this widget accepts")]
    BadIssuer(String),
    #[error("the token's audience does not include {0:?}")]
    BadAudience(String),
    #[error("the token lacks the required claim {0:?}")]
    MissingClaim(&'static str),
    #[error("the lwicontexts claim must be a string holding a JSON object of context values: {0}")]
    BadContexts(String),
    #[error("the widget's keys could not be loaded: {0}")]
    KeysUnavailable(String),
}

impl AuthError {
    /// The protocol error code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::NotConfigured => "auth_not_configured",
            AuthError::Malformed => "token_malformed",
            AuthError::AlgorithmNotAllowed(_) => "token_algorithm_not_allowed",
            AuthError::UnknownKid(_) | AuthError::KidRequired => "token_unknown_kid",
            AuthError::BadSignature => "token_bad_signature",
            AuthError::Expired => "token_expired",
            AuthError::NotYetValid => "token_not_yet_valid",
            AuthError::BadIssuer(_) => "token_bad_issuer",
            AuthError::BadAudience(_) => "token_bad_audience",
            AuthError::MissingClaim(_) => "token_missing_claim",
            AuthError::BadContexts(_) => "token_bad_contexts",
            AuthError::KeysUnavailable(_) => "auth_keys_unavailable",
        }
    }
}

/// A verification key and the one algorithm it verifies.
#[derive(Clone)]
struct Key {
    alg: Algorithm,
    key: DecodingKey,
}

/// Longest token accepted, in bytes.
const MAX_TOKEN: usize = 16 * 1024;

/// Verifies visitor tokens; holds the JWKS cache shared by every widget.
pub struct VisitorAuth {
    http: reqwest::Client,
    /// Least time between two fetches of the same JWKS URL.
    min_refresh_ms: i64,
    jwks: Mutex<HashMap<String, JwksEntry>>,
    /// One fetch at a time (so a burst of unknown kids triggers one request, not many).
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Clone, Default)]
struct JwksEntry {
    keys: HashMap<String, Key>,
    fetched_at: Option<Timestamp>,
}

impl VisitorAuth {
    pub fn new(min_refresh: Duration) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client builds"),
            min_refresh_ms: min_refresh.as_millis() as i64,
            jwks: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    pub async fn verify(
        &self,
        cfg: Option<&WidgetAuth>,
        token: &str,
        now: Timestamp,
    ) -> Result<Identity, AuthError> {
        let cfg = cfg.ok_or(AuthError::NotConfigured)?;
        let (alg, kid) = header(token)?;
        let key = self.key_for(cfg, kid.as_deref(), now).await?;
        if key.alg != alg {
            return Err(AuthError::AlgorithmNotAllowed(format!("{alg:?} (the key is for {:?})", key.alg)));
        }
        let mut validation = Validation::new(key.alg);
        // Time and claims are checked below, with Beckon's clock and specific error codes.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
            Ok(data) => data.claims,
            Err(e) => {
                return Err(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                    jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                        AuthError::AlgorithmNotAllowed(format!("{alg:?}"))
                    }
                    _ => AuthError::Malformed,
                });
            }
        };
        check_claims(cfg, &claims, now)
    }

    /// The key a token must verify with: the widget's PEM keys first, then its JWKS.
    async fn key_for(&self, cfg: &WidgetAuth, kid: Option<&str>, now: Timestamp) -> Result<Key, AuthError> {
        let mut pem_keys = Vec::with_capacity(cfg.keys.len());
        for k in &cfg.keys {
            pem_keys.push((
                k.kid.as_str(),
                parse_pem(&k.pem).map_err(|e| AuthError::KeysUnavailable(format!("key {:?}: {e}", k.kid)))?,
            ));
        }
        let Some(kid) = kid else {
            // Without a kid the choice must be unambiguous.
            let jwks = match &cfg.jwks_url {
                Some(url) => self.jwks_keys(url, None, now).await?,
                None => HashMap::new(),
            };
            return match (pem_keys.len() + jwks.len(), pem_keys.into_iter().next(), jwks.into_values().next())
            {
                (1, Some((_, k)), _) | (1, None, Some(k)) => Ok(k),
                _ => Err(AuthError::KidRequired),
            };
        };
        if let Some((_, k)) = pem_keys.into_iter().find(|(id, _)| *id == kid) {
            return Ok(k);
        }
        if let Some(url) = &cfg.jwks_url
            && let Some(k) = self.jwks_keys(url, Some(kid), now).await?.remove(kid)
        {
            return Ok(k);
        }
        Err(AuthError::UnknownKid(kid.to_owned()))
    }

    /// The JWKS keys of `url`, fetched if never fetched, or refetched when `wanted` is missing and
    /// the last fetch is older than the minimum refresh interval.
    async fn jwks_keys(
        &self,
        url: &str,
        wanted: Option<&str>,
        now: Timestamp,
    ) -> Result<HashMap<String, Key>, AuthError> {
        let needs_fetch = |e: &JwksEntry| match e.fetched_at {
            None => true,
            Some(at) => {
                wanted.is_some_and(|k| !e.keys.contains_key(k)) && now.since(at) >= self.min_refresh_ms
            }
        };
        let cached = self.jwks.lock().get(url).cloned().unwrap_or_default();
        if !needs_fetch(&cached) {
            return Ok(cached.keys);
        }
        let _one = self.fetching.lock().await;
        // Another task may have fetched while we waited.
        let cached = self.jwks.lock().get(url).cloned().unwrap_or_default();
        if !needs_fetch(&cached) {
            return Ok(cached.keys);
        }
        let fetched = self.fetch_jwks(url).await;
        let mut cache = self.jwks.lock();
        let entry = cache.entry(url.to_owned()).or_default();
        // A failed fetch counts too, so an unreachable JWKS is not hammered.
        entry.fetched_at = Some(now);
        match fetched {
            Ok(keys) => {
                entry.keys = keys;
                Ok(entry.keys.clone())
            }
            Err(e) if entry.keys.is_empty() => Err(e),
            Err(e) => {
                tracing::warn!(url, error = %e, "JWKS refresh failed; keeping the keys we had");
                Ok(entry.keys.clone())
            }
        }
    }

    async fn fetch_jwks(&self, url: &str) -> Result<HashMap<String, Key>, AuthError> {
        let unavailable = |e: String| AuthError::KeysUnavailable(format!("{url}: {e}"));
        let res = self.http.get(url).send().await.map_err(|e| unavailable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(unavailable(format!("HTTP {}", res.status())));
        }
        let set: JwkSet = res.json().await.map_err(|e| unavailable(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                // Other key types are not accepted for visitor tokens.
                _ => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, Key { alg, key });
            }
        }
        tracing::info!(url, keys = keys.len(), "JWKS fetched");
        Ok(keys)
    }
}

/// Checks a widget's authentication setting before it is stored, so mistakes surface when the
/// admin makes them rather than when visitors fail to sign in.
pub fn check_config(cfg: &WidgetAuth) -> Result<(), String> {
    if cfg.issuers.iter().all(|i| i.trim().is_empty()) {
        return Err("issuers: give at least one accepted issuer (the iss your tokens carry)".into());
    }
    if cfg.keys.is_empty() && cfg.jwks_url.is_none() {
        return Err("give public keys (keys) or a JWKS URL (jwks_url)".into());
    }
    for (i, k) in cfg.keys.iter().enumerate() {
        if k.kid.trim().is_empty() {
            return Err(format!("keys[{i}].kid: must not be empty"));
        }
        parse_pem(&k.pem).map_err(|e| format!("keys[{i}].pem: {e}"))?;
    }
    if let Some(url) = &cfg.jwks_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err("jwks_url: must be an http(s) URL".into());
    }
    Ok(())
}

/// Reads the header without trusting it: the algorithm must be one Beckon accepts at all.
fn header(token: &str) -> Result<(Algorithm, Option<String>), AuthError> {
    if token.len() > MAX_TOKEN {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(AuthError::Malformed);
    };
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).map_err(|_| AuthError::Malformed)?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(AuthError::Malformed)?;
    let alg = match alg {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        other => return Err(AuthError::AlgorithmNotAllowed(other.to_owned())),
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(AuthError::Malformed),
    };
    Ok((alg, kid))
}

fn parse_pem(pem: &str) -> Result<Key, String> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok(Key { alg: Algorithm::RS256, key });
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) {
        return Ok(Key { alg: Algorithm::ES256, key });
    }
    Err("not an RSA or P-256 public key in PEM format".into())
}

fn check_claims(cfg: &WidgetAuth, claims: &Value, now: Timestamp) -> Result<Identity, AuthError> {
    let text = |name: &'static str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let seconds = |name: &'static str| claims.get(name).and_then(Value::as_i64);
    let issuer = text("iss").ok_or(AuthError::MissingClaim("iss"))?;
    let sub = text("sub").ok_or(AuthError::MissingClaim("sub"))?;
    let iat = seconds("iat").ok_or(AuthError::MissingClaim("iat"))?;
    let exp = seconds("exp").ok_or(AuthError::MissingClaim("exp"))?;
    if !cfg.issuers.iter().any(|i| i == issuer) {
        return Err(AuthError::BadIssuer(issuer.to_owned()));
    }
    if let Some(aud) = &cfg.audience {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => a == aud,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(aud)),
            _ => false,
        };
        if !ok {
            return Err(AuthError::BadAudience(aud.clone()));
        }
    }
    let leeway_ms = i64::from(cfg.leeway_secs) * 1_000;
    let now_ms = now.millis();
    if exp.saturating_mul(1_000).saturating_add(leeway_ms) <= now_ms {
        return Err(AuthError::Expired);
    }
    let nbf = seconds("nbf").unwrap_or(i64::MIN / 1_000);
    if nbf.saturating_mul(1_000) > now_ms + leeway_ms || iat.saturating_mul(1_000) > now_ms + leeway_ms {
        return Err(AuthError::NotYetValid);
    }
    let context = match claims.get("lwicontexts") {
        None | Some(Value::Null) => Context::new(),
        Some(Value::String(s)) => {
            let v: Value = serde_json::from_str(s).map_err(|e| AuthError::BadContexts(e.to_string()))?;
            Context::parse(&v).map_err(|e| AuthError::BadContexts(e.to_string()))?
        }
        Some(_) => return Err(AuthError::BadContexts("it is not a string".into())),
    };
    Ok(Identity {
        sub: sub.to_owned(),
        issuer: issuer.to_owned(),
        expires_at: Timestamp(exp.saturating_mul(1_000)),
        context,
    })
}
