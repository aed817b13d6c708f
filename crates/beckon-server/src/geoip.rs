//! Where a visitor is, from their IP address, with a MaxMind-format (`.mmdb`) database on disk.
//!
//! Reads both common layouts: MaxMind's GeoLite2/GeoIP2 (`country.iso_code`, `city.names.en`) and
//! ip-location-db's country databases (`country_code`), such as the free CC0 package
//! `@ip-location-db/geo-whois-asn-country-mmdb` (see docs/operations.md). Without a database the
//! country is unknown and conditions that need it do not hold. Only the resolved country (and
//! city) is stored; the address itself is not, unless the admin turns on IP retention.
//!
//! `beckon demo` without a configured database uses one compiled into the binary (`built_in`,
//! feature `demo-geoip`), so the demo's country scenario works out of the box.
//!
//! The client address is the socket's peer, unless that peer is a configured trusted proxy: then
//! it is the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy, so a visitor
//! cannot choose their country by sending the header themselves.

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// The package version of the built-in database (`data/README.md`).
pub const BUILT_IN_VERSION: &str = "2.3.2026061719";

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

    /// The country database compiled into the binary for `beckon demo` (ip-location-db's
    /// geo-whois-asn-country: IPv4 and IPv6, countries only; data/README.md), when it was built
    /// with the `demo-geoip` feature (the default).
    #[cfg(feature = "demo-geoip")]
    pub fn built_in() -> Option<Self> {
        use std::io::Read;
        static GZIPPED: &[u8] = include_bytes!("../data/geo-whois-asn-country.mmdb.gz");
        let mut bytes = Vec::with_capacity(8 << 20);
        let read = flate2::read::GzDecoder::new(GZIPPED).read_to_end(&mut bytes);
        match read.map_err(anyhow::Error::from).and_then(|_| Ok(maxminddb::Reader::from_source(bytes)?)) {
            Ok(reader) => {
                tracing::info!(
                    "GeoIP: the demo's built-in country database (ip-location-db geo-whois-asn-country {BUILT_IN_VERSION}; data CC BY 4.0 by NRO)"
                );
                Some(Self { reader: Some(reader) })
            }
            Err(e) => {
                tracing::error!(error = %e, "the built-in GeoIP database could not be read");
                None
            }
        }
    }

    #[cfg(not(feature = "demo-geoip"))]
    pub fn built_in() -> Option<Self> {
        None
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

    /// The demo's built-in database places the demo's sample addresses (web/demo/visit-from.js).
    #[cfg(feature = "demo-geoip")]
    #[test]
    fn the_built_in_database_places_the_demos_sample_addresses() {
        let geo = GeoIp::built_in().expect("the built-in database loads");
        for (ip, country) in
            [("49.36.0.1", "IN"), ("82.64.0.1", "FR"), ("8.8.8.8", "US"), ("2001:4860:4860::8888", "US")]
        {
            assert_eq!(geo.lookup(ip.parse().unwrap()).country.as_deref(), Some(country), "{ip}");
        }
        assert_eq!(geo.lookup("127.0.0.1".parse().unwrap()).country, None);
    }
}
