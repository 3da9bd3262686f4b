//! Whose address a request is: the TCP peer's, unless the peer is a proxy
//! the operator trusts (`GATEWAY_TRUSTED_PROXIES`, none by default), in
//! which case `X-Forwarded-For` names the client.
//!
//! Every hop appends the address it received the request from, so the
//! header is read from the right: the last entry was written by the
//! trusted peer, and each entry written by a trusted proxy may be followed
//! leftwards. The first address that is not a trusted proxy is the client;
//! anything left of it was written by the client and may be made up. From
//! an untrusted peer the header is not read at all, so no client picks its
//! own rate-limit bucket by sending one.

use std::net::IpAddr;

use http::HeaderMap;

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

impl Block {
    fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| format!("{text} is not an address or address block"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= bits).ok_or(format!("{text}: bad prefix"))?,
            None => bits,
        };
        Ok(Self { network, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        let keep = |bits: u32| if self.prefix == 0 { 0 } else { u128::MAX << (bits - u32::from(self.prefix)) };
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = keep(32) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = keep(128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// A comma-separated list of addresses and blocks; empty trusts none.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Block::parse).collect::<Result<_, _>>().map(Self)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(address))
    }

    /// The client a request from `peer` with `headers` is for.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in forwarded.into_iter().rev() {
            if !self.trusts(client) {
                break;
            }
            match entry.parse::<IpAddr>() {
                Ok(address) => client = address,
                // Garbage from a hop we trust: stop at the last good one.
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_match_by_prefix_and_bad_entries_are_refused() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7, 2001:db8::/32").unwrap();
        assert!(trusted.trusts(ip("10.200.1.1")));
        assert!(trusted.trusts(ip("::ffff:10.1.2.3")), "an IPv4 address mapped into IPv6");
        assert!(trusted.trusts(ip("192.0.2.7")));
        assert!(!trusted.trusts(ip("192.0.2.8")));
        assert!(trusted.trusts(ip("2001:db8:ffff::1")));
        assert!(!trusted.trusts(ip("2001:db9::1")));
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }

    #[test]
    fn the_header_names_the_client_only_through_trusted_hops() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("203.0.113.9"), &headers("198.51.100.1")), ip("203.0.113.9"), "nothing trusted");

        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let from_proxy = |forwarded| trusted.client(ip("10.0.0.5"), &headers(forwarded));
        assert_eq!(from_proxy("198.51.100.1"), ip("198.51.100.1"));
        // The client prepended a made-up address; the proxy appended its real one.
        assert_eq!(from_proxy("1.2.3.4, 198.51.100.1"), ip("198.51.100.1"));
        // Two trusted hops: the client is left of both.
        assert_eq!(from_proxy("198.51.100.1, 10.0.0.9"), ip("198.51.100.1"));
        assert_eq!(from_proxy("nonsense, 10.0.0.9"), ip("10.0.0.9"), "stops at the last good hop");
        assert_eq!(trusted.client(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"), "no header: the peer");
        assert_eq!(trusted.client(ip("203.0.113.9"), &headers("198.51.100.1")), ip("203.0.113.9"), "untrusted peer");
    }
}
