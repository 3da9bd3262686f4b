//! A DNS server double that answers as CoreDNS answers for Kubernetes
//! headless Services, over real DNS: a stock resolver asks it and accepts
//! its answers. A test changes its records while clients watch them.
//!
//! Faithful where it matters for clients:
//! - DNS over UDP on 127.0.0.1 (an ephemeral port), decoded and encoded as
//!   RFC 1035 has it: the answer echoes the id, the question and RD, and
//!   carries an OPT record when the query did (RFC 6891);
//! - SRV records (RFC 2782) with each target's A/AAAA records in the
//!   additional section, as CoreDNS answers for a headless Service's named
//!   port, and the targets' own A/AAAA records;
//! - answers are authoritative (AA) with a small TTL (1 s unless changed);
//! - an unknown name is NXDOMAIN; a known name without records of the type
//!   asked is NODATA (NOERROR, no answer); both carry the zone's SOA in the
//!   authority section for names under `cluster.local` (RFC 2308);
//! - an answer too long for the client's datagrams is truncated (TC).
//!
//! Unfaithful on demand, as a failing nameserver is: it answers SERVFAIL
//! to everything, or nothing at all (the client times out), until told
//! otherwise ([`DnsDouble::answer`]). It can also leave the additional
//! section out, so that a client must look the targets up itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// The zone the double is authoritative for, as CoreDNS for a cluster.
const ZONE: &str = "cluster.local.";

/// The largest answer a client that sent no OPT record takes over UDP.
const PLAIN_UDP_LIMIT: usize = 512;

/// What the double's advertised EDNS datagram size is (the size DNS Flag
/// Day 2020 settled on).
const EDNS_PAYLOAD: u16 = 1232;

/// How the double answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answering {
    /// From its records.
    Normally,
    /// SERVFAIL to every query, as a nameserver that cannot reach its data.
    ServFail,
    /// Not at all: every query is read and dropped.
    Silence,
}

#[derive(Default)]
struct Records {
    srv: HashMap<Name, Vec<SRV>>,
    addresses: HashMap<Name, Vec<IpAddr>>,
}

struct Shared {
    records: Mutex<Records>,
    answering: Mutex<Answering>,
    glue: AtomicBool,
    ttl: AtomicU32,
    /// Every question received, as `name TYPE` (the name lowercased).
    asked: Mutex<Vec<String>>,
}

pub struct DnsDouble {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for DnsDouble {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `name` as a fully qualified, lowercased DNS name: the records' key.
fn key(name: &str) -> Name {
    let mut name = Name::from_str(name).expect("a DNS name");
    name.set_fqdn(true);
    name.to_lowercase()
}

impl DnsDouble {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind the DNS double");
        let addr = socket.local_addr().expect("a bound socket has an address");
        let shared = Arc::new(Shared {
            records: Mutex::default(),
            answering: Mutex::new(Answering::Normally),
            glue: AtomicBool::new(true),
            ttl: AtomicU32::new(1),
            asked: Mutex::default(),
        });
        let server = tokio::spawn(serve(socket, shared.clone()));
        Self { addr, shared, server }
    }

    /// The nameserver's `ip:port`, for a resolver (`DNS_SERVER`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the SRV records of `name` with one per target: its DNS
    /// name, and the address whose port the record carries and whose IP its
    /// A or AAAA record holds. No targets: the name stays, without records
    /// (NODATA), as for a headless Service with no ready pod.
    pub fn set_srv(&self, name: &str, targets: &[(&str, SocketAddr)]) {
        let mut records = self.shared.records.lock().expect("double lock");
        // CoreDNS's weights: an equal share of 100 each.
        let weight = u16::try_from(100 / targets.len().max(1)).unwrap_or(u16::MAX);
        let mut srv = Vec::new();
        for (target, address) in targets {
            let target = key(target);
            records.addresses.insert(target.clone(), vec![address.ip()]);
            srv.push(SRV::new(0, weight, address.port(), target));
        }
        records.srv.insert(key(name), srv);
    }

    /// Replaces the A and AAAA records of `name`.
    pub fn set_addresses(&self, name: &str, addresses: &[IpAddr]) {
        self.shared.records.lock().expect("double lock").addresses.insert(key(name), addresses.to_vec());
    }

    /// Forgets `name`: it is NXDOMAIN from now on.
    pub fn remove(&self, name: &str) {
        let mut records = self.shared.records.lock().expect("double lock");
        let name = key(name);
        records.srv.remove(&name);
        records.addresses.remove(&name);
    }

    /// Whether SRV answers carry their targets' addresses in the additional
    /// section (yes unless changed, as CoreDNS).
    pub fn glue(&self, on: bool) {
        self.shared.glue.store(on, Ordering::SeqCst);
    }

    /// The TTL of every record and of negative answers (1 s unless changed).
    pub fn set_ttl(&self, ttl: Duration) {
        self.shared.ttl.store(u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX), Ordering::SeqCst);
    }

    pub fn answer(&self, answering: Answering) {
        *self.shared.answering.lock().expect("double lock") = answering;
    }

    /// Every question received so far, as `name TYPE` with the name
    /// lowercased and fully qualified: `_http._tcp.user-headless.cluster.local. SRV`.
    pub fn asked(&self) -> Vec<String> {
        self.shared.asked.lock().expect("double lock").clone()
    }
}

async fn serve(socket: UdpSocket, shared: Arc<Shared>) {
    // The largest datagram there is: no query is cut short.
    let mut datagram = vec![0u8; usize::from(u16::MAX)];
    loop {
        let Ok((length, peer)) = socket.recv_from(&mut datagram).await else { continue };
        if let Some(answer) = shared.respond(&datagram[..length]) {
            let _ = socket.send_to(&answer, peer).await;
        }
    }
}

impl Shared {
    /// The encoded answer to one datagram; `None` for no answer at all.
    fn respond(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        // What does not decode as a query gets no answer.
        let query = Message::from_vec(datagram).ok()?;
        if query.metadata.message_type != MessageType::Query {
            return None;
        }
        let question = query.queries.first().cloned();
        if let Some(question) = &question {
            let asked = format!("{} {}", question.name().to_lowercase(), question.query_type());
            self.asked.lock().expect("double lock").push(asked);
        }
        let mut response = Message::response(query.metadata.id, query.metadata.op_code);
        // The id, opcode, RD and CD of the query, as RFC 6895 has them copied.
        response.metadata = Metadata::response_from_request(&query.metadata);
        response.add_queries(query.queries.clone());
        if query.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_PAYLOAD);
            response.set_edns(edns);
        }
        let answering = *self.answering.lock().expect("double lock");
        match (answering, question) {
            (Answering::Silence, _) => return None,
            (Answering::ServFail, _) => response.metadata.response_code = ResponseCode::ServFail,
            (Answering::Normally, Some(question)) if query.metadata.op_code == OpCode::Query => {
                response.metadata.authoritative = true;
                self.fill(&question, &mut response);
            }
            (Answering::Normally, Some(_)) => response.metadata.response_code = ResponseCode::NotImp,
            (Answering::Normally, None) => response.metadata.response_code = ResponseCode::FormErr,
        }
        let limit = query.edns.as_ref().map_or(PLAIN_UDP_LIMIT, |edns| usize::from(edns.max_payload()));
        let encoded = response.to_vec().ok()?;
        if encoded.len() > limit.max(PLAIN_UDP_LIMIT) {
            // The header and question only, flagged, so the client asks
            // again over TCP.
            return response.truncate().to_vec().ok();
        }
        Some(encoded)
    }

    /// The answer, additional and authority sections for `question`.
    fn fill(&self, question: &Query, response: &mut Message) {
        let records = self.records.lock().expect("double lock");
        let ttl = self.ttl.load(Ordering::SeqCst);
        // The owner name as asked: resolvers may check its case.
        let owner = question.name().clone();
        let name = owner.to_lowercase();
        let (srv, addresses) = (records.srv.get(&name), records.addresses.get(&name));
        if srv.is_none() && addresses.is_none() {
            response.metadata.response_code = ResponseCode::NXDomain;
            response.add_authorities(soa(&name, ttl));
            return;
        }
        match question.query_type() {
            RecordType::SRV => {
                for record in srv.into_iter().flatten() {
                    response.add_answer(Record::from_rdata(owner.clone(), ttl, RData::SRV(record.clone())));
                    if self.glue.load(Ordering::SeqCst) {
                        let target = records.addresses.get(&record.target).into_iter().flatten();
                        response.add_additionals(target.map(|ip| address(record.target.clone(), ttl, *ip)));
                    }
                }
            }
            RecordType::A => {
                let v4 = addresses.into_iter().flatten().filter(|ip| ip.is_ipv4());
                response.add_answers(v4.map(|ip| address(owner.clone(), ttl, *ip)));
            }
            RecordType::AAAA => {
                let v6 = addresses.into_iter().flatten().filter(|ip| ip.is_ipv6());
                response.add_answers(v6.map(|ip| address(owner.clone(), ttl, *ip)));
            }
            _ => {}
        }
        if response.answers.is_empty() {
            response.add_authorities(soa(&name, ttl));
        }
    }
}

fn address(name: Name, ttl: u32, ip: IpAddr) -> Record {
    let data = match ip {
        IpAddr::V4(ip) => RData::A(A(ip)),
        IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
    };
    Record::from_rdata(name, ttl, data)
}

/// The zone's SOA, for a negative answer about `name` within it (CoreDNS's
/// fields; the minimum, the negative TTL, is the records' TTL).
fn soa(name: &Name, ttl: u32) -> Option<Record> {
    let zone = key(ZONE);
    if !zone.zone_of(name) {
        return None;
    }
    let data = SOA::new(key("ns.dns.cluster.local."), key("hostmaster.cluster.local."), 1, 7200, 1800, 86400, ttl);
    Some(Record::from_rdata(zone, ttl, RData::SOA(data)))
}
