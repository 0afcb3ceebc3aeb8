//! The engine: transactions, dialogs and the drachtio control protocol in
//! one sans-IO state machine. The runtime feeds it datagrams/stream
//! messages, control frames and the time, and carries out its `Output`s.

mod app_request;
mod app_response;
mod control;
mod flood;
mod net_request;
mod net_response;
mod timers;
#[cfg(test)]
mod tests;

use crate::config::{Config, Limits, Proto, Timers};
use crate::dialog::{host_port, Dialog};
use crate::drachtio::encode;
use crate::ids;
use crate::sip::params::{parse_via, split_list};
use crate::sip::{parse, SipMessage};
use crate::txn::{ClientTxn, Peer, ServerTxn};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Put a SIP message on the wire.
    Sip { peer: Peer, data: Vec<u8> },
    /// Send a framed control message to an application connection.
    Control { client: u64, data: Vec<u8> },
    /// Close an application connection (bad secret, protocol error).
    CloseClient(u64),
    /// RFC 5923-style reuse: requests to `addr` may use stream `conn`.
    Alias { conn: u64, addr: SocketAddr },
}

#[derive(Debug, Clone, Copy)]
pub struct Listener {
    pub proto: Proto,
    pub addr: SocketAddr,
}

#[derive(Default)]
struct App {
    authed: bool,
    routes: HashSet<String>,
}

#[derive(Default, Debug, Clone, Copy)]
pub struct Stats {
    pub malformed_dropped: u64,
    pub bad_request_sent: u64,
    pub overload_rejected: u64,
    pub stray_responses: u64,
    /// 503 for the per-source request rate.
    pub rate_limited: u64,
    /// Dropped silently: a source far over its rate.
    pub rate_dropped: u64,
    /// 503 for the global INVITE rate.
    pub invite_cap_rejected: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerRef {
    Server(String),
    Client(String),
    Dialog(String),
}

pub struct Engine {
    secret: String,
    timers: Timers,
    limits: Limits,
    session_secs: Option<u64>,
    session_min_secs: u64,
    listeners: Vec<Listener>,
    apps: BTreeMap<u64, App>,
    rr: HashMap<String, usize>,
    server_txns: HashMap<String, ServerTxn>,
    server_ids: HashMap<String, String>,
    client_txns: HashMap<String, ClientTxn>,
    client_ids: HashMap<String, String>,
    dialogs: HashMap<String, Dialog>,
    heap: BinaryHeap<Reverse<(Instant, u64, TimerRef)>>,
    seq: u64,
    out: Vec<Output>,
    pub stats: Stats,
    /// SIP messages received and sent, by transport, method and status.
    pub messages: crate::metrics::MessageCounters,
    rate: crate::limits::RateLimiter,
    /// Rate-limited logging: per message kind, last line and lines held back.
    log_gate: HashMap<&'static str, (Instant, u64)>,
}

impl Engine {
    pub fn new(cfg: &Config, listeners: Vec<Listener>) -> Self {
        Engine {
            secret: cfg.control.secret.clone(),
            timers: cfg.timers,
            limits: cfg.limits.clone(),
            session_secs: cfg.session_timer_secs,
            session_min_secs: cfg.session_timer_min_secs.max(1),
            listeners,
            apps: BTreeMap::new(),
            rr: HashMap::new(),
            server_txns: HashMap::new(),
            server_ids: HashMap::new(),
            client_txns: HashMap::new(),
            client_ids: HashMap::new(),
            dialogs: HashMap::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            out: Vec::new(),
            stats: Stats::default(),
            messages: Default::default(),
            rate: flood::rate_limiter(&cfg.limits),
            log_gate: HashMap::new(),
        }
    }

    /// Everything the engine wants done since the last call.
    pub fn drain(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        (self.server_txns.len(), self.client_txns.len(), self.dialogs.len())
    }

    /// A SIP message arrived from the network (one datagram or one framed
    /// stream message).
    pub fn on_sip(&mut self, now: Instant, data: &[u8], src: Peer) {
        if data.iter().all(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return; // keep-alive
        }
        match parse::parse_and_validate(data, self.limits.max_message_bytes) {
            Ok(mut msg) => {
                self.count_in(&msg, src.proto);
                if msg.is_request() {
                    stamp_via(&mut msg, &src);
                    if src.proto.reliable() {
                        if let (Some(conn), Some(addr)) = (src.conn, top_via_addr(&msg)) {
                            self.out.push(Output::Alias { conn, addr });
                        }
                    }
                    self.on_request(now, msg, src);
                } else {
                    self.on_response(now, msg, src);
                }
            }
            Err((Some(msg), code, reason)) if msg.is_request() && msg.method() != Some("ACK") => {
                // Answerable: we have a Via to send a response to.
                // A 505 echoes a Via of the other version as it came (RFC 4475 3.1.2.16).
                if msg.get("Via").is_some_and(|v| code == 505 || parse_via(&split_list(v)[0]).is_ok()) {
                    self.stats.bad_request_sent += 1;
                    let mut r = response_to(&msg, code, reason);
                    r.push("Warning", &format!("399 esbc \"{}\"", reason.replace('"', "'")));
                    self.send_sip(&src, r.to_bytes());
                } else {
                    self.stats.malformed_dropped += 1;
                }
            }
            Err(_) => self.stats.malformed_dropped += 1,
        }
    }

    fn send_sip(&mut self, peer: &Peer, data: Vec<u8>) {
        self.messages.outgoing(peer.proto, &data);
        self.out.push(Output::Sip { peer: peer.clone(), data });
    }

    fn send_app(&mut self, client: u64, payload: &str) {
        self.out.push(Output::Control { client, data: encode(payload) });
    }

    fn reply(&mut self, client: u64, msg_id: &str, rest: &str) {
        let p = format!("{}|response|{}|{}", ids::uuid(), msg_id, rest);
        self.send_app(client, &p);
    }

    /// Forward a SIP message to an application with the drachtio leader.
    fn forward(&mut self, client: u64, source: &str, msg: &SipMessage, peer: &Peer, txn_id: &str, dialog_id: &str, local: bool) {
        let raw = msg.to_string_lossy();
        let mut leader = format!(
            "{}|sip|{}|{}|{}|{}|{}|{}|{}|{}|",
            ids::uuid(),
            source,
            raw.len(),
            peer.proto.name(),
            peer.addr.ip(),
            peer.addr.port(),
            ids::wall_time(),
            txn_id,
            dialog_id
        );
        if local {
            leader.push_str(&format!("{}|{}|", peer.local.ip(), peer.local.port()));
        }
        leader.push_str("\r\n");
        leader.push_str(&raw);
        self.send_app(client, &leader);
    }

    /// Round-robin over the authenticated apps that routed `verb`.
    fn pick_app(&mut self, verb: &str) -> Option<u64> {
        let candidates: Vec<u64> =
            self.apps.iter().filter(|(_, a)| a.authed && a.routes.contains(verb)).map(|(id, _)| *id).collect();
        if candidates.is_empty() {
            return None;
        }
        let n = self.rr.entry(verb.to_string()).or_insert(0);
        let pick = candidates[*n % candidates.len()];
        *n = n.wrapping_add(1);
        Some(pick)
    }

    fn app_alive(&self, client: Option<u64>) -> Option<u64> {
        client.filter(|c| self.apps.get(c).is_some_and(|a| a.authed))
    }

    /// CDR event to every app that routed it.
    fn cdr(&mut self, event: &str, source: &str, extra: Option<&str>, msg: &SipMessage) {
        let verb = format!("cdr:{event}");
        let targets: Vec<u64> = self.apps.iter().filter(|(_, a)| a.authed && a.routes.contains(&verb)).map(|(i, _)| *i).collect();
        if targets.is_empty() {
            return;
        }
        let mut p = format!("{}|{}|{}|{}", ids::uuid(), verb, source, ids::wall_time());
        if let Some(x) = extra {
            p.push('|');
            p.push_str(x);
        }
        p.push_str("\r\n");
        p.push_str(&msg.to_string_lossy());
        for t in targets {
            self.send_app(t, &p);
        }
    }

    fn txn_budget_left(&self) -> bool {
        self.server_txns.len() + self.client_txns.len() < self.limits.max_transactions
    }

    /// Pick our listening address for a transport and address family.
    fn local_for(&self, proto: Proto, remote: &SocketAddr) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.proto == proto && l.addr.is_ipv4() == remote.is_ipv4()).map(|l| l.addr)
    }

    /// Our listening addresses for a transport.
    fn listener_addrs(&self, proto: Proto) -> impl Iterator<Item = SocketAddr> + '_ {
        self.listeners.iter().filter(move |l| l.proto == proto).map(|l| l.addr)
    }

    pub fn hostports(&self) -> String {
        self.listeners.iter().map(|l| format!("{}/{}", l.proto.name(), host_port(&l.addr))).collect::<Vec<_>>().join(",")
    }

    /// Resolve a SIP URI to a next hop (IP literals and localhost only: no DNS).
    fn resolve(&self, uri: &str, default_proto: Proto) -> Option<Peer> {
        let u = crate::sip::uri::parse_sip_uri(uri)?;
        let proto = match u.transport() {
            Some(t) => Proto::parse(&t)?,
            None if u.is_sips() => Proto::Tls,
            None => default_proto,
        };
        let host = u.maddr().unwrap_or(&u.host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: std::net::IpAddr = if host.eq_ignore_ascii_case("localhost") { [127, 0, 0, 1].into() } else { host.parse().ok()? };
        let port = u.port.unwrap_or(match proto {
            Proto::Tls => 5061,
            Proto::Ws => 80,
            Proto::Wss => 443,
            _ => 5060,
        });
        let addr = SocketAddr::new(ip, port);
        let local = self.local_for(proto, &addr)?;
        Some(Peer { proto, addr, conn: None, local })
    }

    fn schedule(&mut self, at: Option<Instant>, r: TimerRef) {
        if let Some(at) = at {
            self.seq += 1;
            self.heap.push(Reverse((at, self.seq, r)));
        }
    }

    fn schedule_server(&mut self, key: &str) {
        let at = self.server_txns.get(key).and_then(|t| t.next_deadline());
        self.schedule(at, TimerRef::Server(key.to_string()));
    }

    fn schedule_client(&mut self, key: &str) {
        let at = self.client_txns.get(key).and_then(|t| t.next_deadline());
        self.schedule(at, TimerRef::Client(key.to_string()));
    }

    fn schedule_dialog(&mut self, id: &str) {
        let at = self.dialogs.get(id).and_then(|d| d.next_deadline());
        self.schedule(at, TimerRef::Dialog(id.to_string()));
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Find the dialog an in-dialog message belongs to from its tags.
    fn find_dialog(&self, call_id: &str, from_tag: &str, to_tag: &str, incoming: bool) -> Option<String> {
        // Incoming request: From is the remote party. UAS dialogs are keyed by
        // the remote tag, UAC dialogs by ours.
        let (remote, local) = if incoming { (from_tag, to_tag) } else { (to_tag, from_tag) };
        for (id_tag, want_remote) in [(remote, true), (local, false)] {
            let id = Dialog::make_id(call_id, id_tag);
            if let Some(d) = self.dialogs.get(&id) {
                let ok = if want_remote { d.is_uas && d.local_tag == local } else { !d.is_uas && d.remote_tag == remote };
                if ok || (!d.confirmed && d.remote_tag.is_empty()) {
                    return Some(id);
                }
            }
        }
        None
    }

    fn remove_dialog(&mut self, id: &str) {
        self.dialogs.remove(id);
    }
}

/// Build a response from a request: Via/From/To/Call-ID/CSeq copied.
pub fn response_to(req: &SipMessage, code: u16, reason: &str) -> SipMessage {
    let mut r = SipMessage::response(code, reason);
    for h in &req.headers {
        if ["Via", "From", "To", "Call-ID", "CSeq"].iter().any(|n| h.name.eq_ignore_ascii_case(n)) {
            r.headers.push(h.clone());
        }
    }
    r
}

/// Add received/rport to the top Via (RFC 3261 18.2.1, RFC 3581).
fn stamp_via(msg: &mut SipMessage, src: &Peer) {
    let Some(idx) = msg.headers.iter().position(|h| h.name == "Via") else { return };
    let vals = split_list(&msg.headers[idx].value);
    let Some(top) = vals.first() else { return };
    let Ok(via) = parse_via(top) else { return };
    let mut new_top = top.clone();
    let wants_rport = via.params.iter().any(|(n, v)| n.eq_ignore_ascii_case("rport") && v.is_none());
    if wants_rport {
        new_top = replace_param(&new_top, "rport", &src.addr.port().to_string());
    }
    if wants_rport || via.host.trim_start_matches('[').trim_end_matches(']') != src.addr.ip().to_string() {
        if !via.params.iter().any(|(n, _)| n.eq_ignore_ascii_case("received")) {
            new_top.push_str(&format!(";received={}", src.addr.ip()));
        }
    }
    let mut rest = vals;
    rest[0] = new_top;
    msg.headers[idx].value = rest.join(", ");
}

fn replace_param(v: &str, name: &str, value: &str) -> String {
    let parts: Vec<String> = v
        .split(';')
        .map(|p| if p.trim().eq_ignore_ascii_case(name) { format!("{name}={value}") } else { p.to_string() })
        .collect();
    parts.join(";")
}

fn top_via_addr(msg: &SipMessage) -> Option<SocketAddr> {
    let v = parse_via(msg.values("Via").first()?).ok()?;
    let ip: std::net::IpAddr = v.host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    Some(SocketAddr::new(ip, v.port.unwrap_or(5060)))
}

/// Transaction key of a request for server-side matching (17.2.3).
fn server_key(msg: &SipMessage) -> Option<String> {
    let vias = msg.values("Via");
    let via = parse_via(vias.first()?).ok()?;
    let method = match msg.method()? {
        "ACK" => "INVITE",
        m => m,
    };
    match via.branch() {
        Some(b) if b.starts_with("z9hG4bK") && b.len() > 7 => Some(format!("{b}|{}:{:?}|{method}", via.host, via.port)),
        _ => {
            let from_tag = from_tag(msg).unwrap_or_default();
            let (n, _) = msg.cseq()?;
            Some(format!("2543|{}|{}|{}|{}|{}", msg.call_id()?, from_tag, n, vias[0], method))
        }
    }
}

/// Client transaction key of a response: branch + CSeq method.
fn client_key(branch: &str, method: &str) -> String {
    format!("{branch}|{}", if method == "ACK" { "INVITE" } else { method })
}

fn tag_of(msg: &SipMessage, name: &str) -> Option<String> {
    crate::sip::params::parse_name_addr(msg.get(name)?).ok()?.tag().map(|s| s.to_string())
}

fn from_tag(msg: &SipMessage) -> Option<String> {
    tag_of(msg, "From")
}

fn to_tag(msg: &SipMessage) -> Option<String> {
    tag_of(msg, "To")
}

fn contact_uri(msg: &SipMessage) -> Option<String> {
    let c = msg.values("Contact");
    crate::sip::params::parse_name_addr(c.first()?).ok().map(|n| n.uri)
}

fn tag_of_value(v: &str) -> Option<String> {
    crate::sip::params::parse_name_addr(v).ok()?.tag().map(str::to_string)
}

impl Engine {
    /// Clean shutdown: pending requests get 503, dialogs are forgotten.
    pub fn shutdown(&mut self, now: Instant) {
        let keys: Vec<String> = self.server_txns.iter().filter(|(_, t)| t.can_respond()).map(|(k, _)| k.clone()).collect();
        for k in keys {
            self.respond_locally(now, &k, 503, "Service Unavailable");
        }
    }
}
