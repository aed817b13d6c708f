//! The demo's "visiting from" switch: on your own machine the demo sees you at 127.0.0.1, which
//! is in no country, so the country scenario (invite visitors from India) could never be tried.
//! The demo's country page lets you borrow a sample public address instead (a cookie the page
//! sets); the server then looks that address up in its GeoIP database, exactly as it would look
//! up a real visitor's.
//!
//! Only under `beckon demo`, and only for a visitor whose own address is local (loopback, a
//! private network, link-local): a visitor with a public address is always placed by it, and
//! `beckon serve` never reads the cookie.

use axum::http::{HeaderMap, header};
use std::net::IpAddr;

/// The cookie the demo's country page sets to the sample address.
pub const COOKIE: &str = "beckon_demo_ip";

/// The address to look up for a visitor of the demo whose own address is `peer`: the one the
/// page borrowed, when `peer` is local and the borrowed one is public.
pub fn borrowed_address(peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
    if !is_local(peer) {
        return None;
    }
    let borrowed = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| value.trim().parse::<IpAddr>().ok())?;
    (!is_local(borrowed) && !borrowed.is_unspecified() && !borrowed.is_multicast()).then_some(borrowed)
}

/// In no country: loopback, private networks, link-local, IPv6 unique-local.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_local(IpAddr::V4(v4)),
            None => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, v.parse().unwrap());
        h
    }

    #[test]
    fn a_local_visitor_borrows_a_public_address() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let h = cookies("theme=dark; beckon_demo_ip=49.36.0.1");
        assert_eq!(borrowed_address(local, &h), Some("49.36.0.1".parse().unwrap()));
        for peer in ["192.168.1.20", "10.0.0.7", "::1", "fe80::1", "fd00::5", "::ffff:127.0.0.1"] {
            assert!(borrowed_address(peer.parse().unwrap(), &h).is_some(), "{peer}");
        }
    }

    #[test]
    fn nothing_else_is_borrowed() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        // A public visitor is placed by their own address, whatever their cookies say.
        assert_eq!(
            borrowed_address("203.0.113.9".parse().unwrap(), &cookies("beckon_demo_ip=49.36.0.1")),
            None
        );
        for bad in [
            "beckon_demo_ip=10.1.2.3",
            "beckon_demo_ip=nonsense",
            "beckon_demo_ip=",
            "other=49.36.0.1",
            "beckon_demo_ip=224.0.0.1",
        ] {
            assert_eq!(borrowed_address(local, &cookies(bad)), None, "{bad}");
        }
        assert_eq!(borrowed_address(local, &HeaderMap::new()), None);
    }
}
