//! Where a visitor is, from their IP address, with a MaxMind-format (`.mmdb`) database on disk.
//!
//! Reads both common layouts: MaxMind's GeoLite2/GeoIP2 (`country.iso_code`, `city.names.en`) and
//! ip-location-db's country databases (`country_code`), such as the free CC0 package
//! `@ip-location-db/geo-whois-asn-country-mmdb` (see docs/operations.md). Without a database the
//! country is unknown and conditions that need it do not hold. Only the resolved country (and
//! city) is stored; the address itself is not, unless the admin turns on IP retention.
//!
//! The client address is the socket's peer, unless that peer is a configured trusted proxy: then
//! it is the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy, so a visitor
//! cannot choose their country by sending the header themselves.

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

pub struct GeoIp {
    reader: Option<maxminddb::Reader<Vec<u8>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub city: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    country_code: Option<String>,
    country: Option<Country>,
    city: Option<City>,
}

#[derive(Deserialize)]
struct Country {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct City {
    names: Option<std::collections::BTreeMap<String, String>>,
}

impl GeoIp {
    /// No database: every lookup answers "unknown".
    pub fn disabled() -> Self {
        Self { reader: None }
    }

    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| anyhow::anyhow!("opening the GeoIP database {}: {e}", path.display()))?;
        tracing::info!(path = %path.display(), "GeoIP database loaded");
        Ok(Self { reader: Some(reader) })
    }

    pub fn is_enabled(&self) -> bool {
        self.reader.is_some()
    }

    pub fn lookup(&self, ip: IpAddr) -> Location {
        let Some(reader) = &self.reader else { return Location::default() };
        let record: Option<Record> = match reader.lookup(ip).and_then(|r| r.decode()) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "GeoIP lookup failed");
                None
            }
        };
        let Some(r) = record else { return Location::default() };
        let country = r.country_code.or_else(|| r.country.and_then(|c| c.iso_code));
        let country = country.filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()));
        let city = r.city.and_then(|c| c.names).and_then(|mut n| n.remove("en"));
        Location { country: country.map(|c| c.to_ascii_uppercase()), city }
    }
}

/// The visitor's address: the peer, or what trusted proxies say the peer was.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Walk from the nearest hop outwards; the first address that is not one of our proxies is
    // the client as seen by our outermost proxy.
    forwarded.into_iter().rev().find(|ip| !trusted(ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_configured_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()];
        let visitor: IpAddr = "203.0.113.7".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        // Straight from the internet: the header is the visitor's own claim, ignored.
        assert_eq!(client_ip(visitor, &xff("8.8.8.8"), &proxies), visitor);
        // Through our proxies: the rightmost untrusted hop.
        assert_eq!(client_ip(local, &xff("203.0.113.7"), &proxies), visitor);
        assert_eq!(client_ip(local, &xff("1.2.3.4, 203.0.113.7, 10.1.2.3"), &proxies), visitor);
        // A proxy without the header: the proxy itself.
        assert_eq!(client_ip(local, &HeaderMap::new(), &proxies), local);
        assert_eq!(client_ip(local, &xff("garbage"), &proxies), local);
        assert_eq!(client_ip(local, &xff("203.0.113.7"), &[]), local);
    }

    #[test]
    fn without_a_database_nothing_is_known() {
        assert_eq!(GeoIp::disabled().lookup("8.8.8.8".parse().unwrap()), Location::default());
    }
}
