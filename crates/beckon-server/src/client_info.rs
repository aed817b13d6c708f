//! What a browser says about itself when it opens a visitor socket: its origin (checked against
//! the widget's allow-list), and the user agent and language shown to agents and usable by
//! trigger conditions. Parsed once per connection, never stored raw.

use axum::http::{HeaderMap, header};
use beckon_domain::model::VisitMeta;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub origin: Option<String>,
    pub meta: VisitMeta,
}

impl ClientInfo {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
        let origin = text(header::ORIGIN).map(str::to_owned);
        let mut meta = text(header::USER_AGENT).map(parse_user_agent).unwrap_or_default();
        meta.language = text(header::ACCEPT_LANGUAGE).and_then(first_language);
        Self { origin, meta }
    }
}

fn parse_user_agent(ua: &str) -> VisitMeta {
    let Some(r) = woothee::parser::Parser::new().parse(ua) else { return VisitMeta::default() };
    let known = |s: &str| (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_owned());
    let device = match r.category {
        "pc" => "desktop",
        "smartphone" | "mobilephone" => {
            if ua.contains("iPad") || ua.contains("Tablet") {
                "tablet"
            } else {
                "mobile"
            }
        }
        _ => "other",
    };
    VisitMeta {
        browser: known(r.name).map(|n| match known(r.version) {
            Some(v) => format!("{n} {}", v.split('.').next().unwrap_or(&v)),
            None => n,
        }),
        os: known(r.os),
        device: Some(device.to_owned()),
        language: None,
        country: None,
        city: None,
        ip: None,
    }
}

/// `fr-FR,fr;q=0.9,en;q=0.8` → `fr-FR` (a tag of letters, digits and dashes only).
fn first_language(header: &str) -> Option<String> {
    let tag = header.split(',').next()?.split(';').next()?.trim();
    let ok = !tag.is_empty()
        && tag != "*"
        && tag.len() <= 35
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_browser_os_device_and_language() {
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36".parse().unwrap());
        h.insert(header::ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9,en;q=0.8".parse().unwrap());
        h.insert(header::ORIGIN, "https://shop.example".parse().unwrap());
        let c = ClientInfo::from_headers(&h);
        assert_eq!(c.origin.as_deref(), Some("https://shop.example"));
        assert_eq!(c.meta.browser.as_deref(), Some("Chrome 126"));
        assert_eq!(c.meta.os.as_deref(), Some("Linux"));
        assert_eq!(c.meta.device.as_deref(), Some("desktop"));
        assert_eq!(c.meta.language.as_deref(), Some("fr-FR"));

        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1".parse().unwrap());
        h.insert(header::ACCEPT_LANGUAGE, "<script>".parse().unwrap());
        let c = ClientInfo::from_headers(&h);
        assert_eq!(c.meta.device.as_deref(), Some("mobile"));
        assert_eq!(c.meta.language, None, "junk is dropped, not stored");
        assert_eq!(ClientInfo::from_headers(&HeaderMap::new()).meta, VisitMeta::default());
    }
}
