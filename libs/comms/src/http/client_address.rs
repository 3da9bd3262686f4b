//! Who is on the other end: the address a request came from, for limits
//! that count per client.
//!
//! A service sees the gateway's address on every request from outside.
//! The gateway therefore names the client in [`CLIENT_ADDRESS_HEADER`],
//! and a service believes that header only when the request's verified
//! token is the gateway's own ([`EDGE`]): any other caller, or a header
//! without that token, gets its TCP peer address. A client cannot choose
//! its address by sending the header itself: the gateway overwrites it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;

use super::problem::Problem;
use crate::auth::Principal;

/// The header in which the gateway names the client it forwards for.
pub const CLIENT_ADDRESS_HEADER: &str = "x-client-address";

/// The service whose word on the client's address is believed: the only
/// one that faces clients.
pub const EDGE: &str = "gateway";

/// The client's address (see the module documentation for whose word is
/// taken).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The key a per-address limit counts under ([`network`]).
    pub fn network(&self) -> String {
        network(self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let from_edge = matches!(parts.extensions.get::<Principal>(), Some(Principal::Service(name)) if name == EDGE);
        if from_edge
            && let Some(named) = parts.headers.get(CLIENT_ADDRESS_HEADER).and_then(|v| v.to_str().ok())
            && let Ok(address) = named.trim().parse::<IpAddr>()
        {
            return Ok(Self(address));
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| Self(peer.ip()))
            .ok_or_else(|| Problem::internal("the server did not record the peer address"))
    }
}

/// The network a per-address limit counts under: an IPv4 address itself,
/// an IPv6 address's /64. One IPv6 subscriber is routinely given a whole
/// /64 (RFC 6177), so counting single IPv6 addresses would hand one client
/// 2^64 buckets. An IPv4 address mapped into IPv6 counts as the IPv4 one.
pub fn network(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::extract::{ConnectInfo, FromRequestParts};

    use super::{ClientAddress, network};
    use crate::auth::Principal;

    async fn address_for(caller: Option<&str>) -> ClientAddress {
        let mut request = http::Request::builder().header("x-client-address", "198.51.100.7").body(()).unwrap();
        let peer: SocketAddr = "127.0.0.9:5000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        if let Some(name) = caller {
            request.extensions_mut().insert(Principal::Service(name.to_owned()));
        }
        let (mut parts, ()) = request.into_parts();
        ClientAddress::from_request_parts(&mut parts, &()).await.unwrap()
    }

    #[tokio::test]
    async fn the_header_is_believed_from_the_gateway_and_from_no_one_else() {
        assert_eq!(address_for(Some("gateway")).await.0.to_string(), "198.51.100.7");
        assert_eq!(address_for(Some("order")).await.0.to_string(), "127.0.0.9", "another service");
        assert_eq!(address_for(None).await.0.to_string(), "127.0.0.9", "no verified token");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_ipv4_by_itself() {
        let key = |s: &str| network(s.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb:cccc:dddd:eeee"), key("2001:db8:1:2::9"), "one /64, one bucket");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }
}
