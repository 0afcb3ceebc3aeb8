//! Dialog state (RFC 3261 section 12) plus what rides on a dialog: UAS 2xx
//! retransmission until ACK, reliable provisionals (RFC 3262) and session
//! timers (RFC 4028). Sans-IO like the transactions.

use crate::config::{Proto, Timers};
use crate::ids;
use crate::sip::params::parse_name_addr;
use crate::sip::SipMessage;
use crate::txn::Peer;
use std::time::{Duration, Instant};

pub struct Retrans {
    pub bytes: Vec<u8>,
    pub cseq: u32,
    pub rseq: Option<u32>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
    unreliable: bool,
}

impl Retrans {
    pub fn new(bytes: Vec<u8>, cseq: u32, rseq: Option<u32>, proto: Proto, now: Instant, t: &Timers) -> Self {
        Retrans {
            bytes,
            cseq,
            rseq,
            next: now + t.t1(),
            interval: t.t1(),
            give_up: now + t.t1() * 64,
            unreliable: !proto.reliable(),
        }
    }
}

pub struct SessionTimer {
    pub interval: Duration,
    /// We refresh (re-INVITE) at half the interval; otherwise we only watch
    /// for expiry and send BYE.
    pub we_refresh: bool,
    pub refresh_at: Option<Instant>,
    pub expires_at: Instant,
}

pub struct Dialog {
    pub id: String,
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Full From/To values for requests we send (tags included).
    pub local_hdr: String,
    pub remote_hdr: String,
    pub local_cseq: u32,
    pub remote_cseq: Option<u32>,
    pub remote_target: String,
    pub route_set: Vec<String>,
    pub local_contact: String,
    pub peer: Peer,
    pub client: Option<u64>,
    pub is_uas: bool,
    pub confirmed: bool,
    pub terminating: bool,
    /// UAS: our 2xx to an INVITE, resent until ACK (Timer-G-like).
    pub pending_2xx: Option<Retrans>,
    /// UAS: reliable provisionals awaiting PRACK.
    pub pending_rel: Option<Retrans>,
    pub next_rseq: u32,
    /// UAC: the ACK we sent for the 2xx with this CSeq (resent on retransmits).
    pub last_ack: Option<(u32, Vec<u8>)>,
    /// UAC: a 2xx to our INVITE with this CSeq awaits the app's ACK.
    pub awaiting_app_ack: Option<u32>,
    pub server_invite_pending: bool,
    pub client_invite_pending: bool,
    pub session: Option<SessionTimer>,
}

pub enum DialogEvent {
    Resend(Vec<u8>),
    /// No ACK for our 2xx within 64*T1.
    AckTimeout,
    /// No PRACK for a reliable provisional within 64*T1.
    PrackTimeout,
    SessionRefresh,
    SessionExpired,
}

impl Dialog {
    /// The dialog id srf uses: `<Call-ID>;from-tag=<From tag of the creating request>`.
    pub fn make_id(call_id: &str, from_tag: &str) -> String {
        format!("{call_id};from-tag={from_tag}")
    }

    pub fn next_cseq(&mut self) -> u32 {
        self.local_cseq = self.local_cseq.wrapping_add(1).max(1);
        self.local_cseq
    }

    /// Build an in-dialog request skeleton (headers the dialog owns).
    pub fn request(&self, method: &str, cseq: u32, branch: &str) -> SipMessage {
        let mut m = SipMessage::request(method, &self.remote_target);
        m.push("Via", &via_value(&self.peer, branch));
        m.push("Max-Forwards", "70");
        for r in &self.route_set {
            m.push("Route", r);
        }
        m.push("From", &self.local_hdr);
        m.push("To", &self.remote_hdr);
        m.push("Call-ID", &self.call_id);
        m.push("CSeq", &format!("{cseq} {method}"));
        m
    }

    /// Next hop for in-dialog requests: first loose route, else the target.
    pub fn next_hop_uri(&self) -> String {
        if let Some(first) = self.route_set.first() {
            if let Ok(na) = parse_name_addr(first) {
                return na.uri;
            }
        }
        self.remote_target.clone()
    }

    pub fn poll(&mut self, now: Instant, t: &Timers) -> Vec<DialogEvent> {
        let mut ev = Vec::new();
        for (slot, timeout_ev) in [(&mut self.pending_2xx, 0), (&mut self.pending_rel, 1)] {
            let mut clear = false;
            if let Some(r) = slot {
                if now >= r.give_up {
                    ev.push(if timeout_ev == 0 { DialogEvent::AckTimeout } else { DialogEvent::PrackTimeout });
                    clear = true;
                } else if now >= r.next {
                    if r.unreliable {
                        ev.push(DialogEvent::Resend(r.bytes.clone()));
                    }
                    r.interval = (r.interval * 2).min(t.t2());
                    r.next = now + r.interval;
                }
            }
            if clear {
                *slot = None;
            }
        }
        if let Some(s) = &mut self.session {
            if now >= s.expires_at {
                ev.push(DialogEvent::SessionExpired);
                self.session = None;
            } else if s.refresh_at.is_some_and(|r| now >= r) {
                s.refresh_at = None;
                ev.push(DialogEvent::SessionRefresh);
            }
        }
        ev
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let r = |x: &Option<Retrans>| x.as_ref().map(|r| r.next.min(r.give_up));
        let s = self.session.as_ref().map(|s| s.refresh_at.unwrap_or(s.expires_at).min(s.expires_at));
        [r(&self.pending_2xx), r(&self.pending_rel), s].into_iter().flatten().min()
    }

    /// (Re)start the session timer after a successful (re-)INVITE/UPDATE.
    pub fn start_session_timer(&mut self, secs: u64, min_secs: u64, we_refresh: bool, now: Instant) {
        let interval = Duration::from_secs(secs.max(min_secs));
        self.session = Some(SessionTimer {
            interval,
            we_refresh,
            refresh_at: we_refresh.then(|| now + interval / 2),
            // RFC 4028 10: BYE at interval minus min(32 s, interval/3).
            expires_at: now + interval - (interval / 3).min(Duration::from_secs(32)),
        });
    }
}

pub fn via_value(peer: &Peer, branch: &str) -> String {
    format!("SIP/2.0/{} {};branch={};rport", peer.proto.via_name(), host_port(&peer.local), branch)
}

pub fn host_port(a: &std::net::SocketAddr) -> String {
    match a {
        std::net::SocketAddr::V4(v) => format!("{}:{}", v.ip(), v.port()),
        std::net::SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

pub fn contact_for(peer: &Peer, user: Option<&str>) -> String {
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    let tp = match peer.proto {
        Proto::Udp => "",
        Proto::Tcp => ";transport=tcp",
        Proto::Tls => ";transport=tls",
        Proto::Ws => ";transport=ws",
        Proto::Wss => ";transport=wss",
    };
    format!("<sip:{user}{}{tp}>", host_port(&peer.local))
}

pub fn new_call_id(peer: &Peer) -> String {
    format!("{}@{}", ids::hex(24), peer.local.ip())
}
