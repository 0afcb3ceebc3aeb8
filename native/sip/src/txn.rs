//! RFC 3261 section 17 transaction state machines (plus the RFC 6026
//! Accepted state), sans-IO: they are told what happened and the current
//! time, and say what to (re)send; the engine schedules `next_deadline`.

use crate::config::{Proto, Timers};
use crate::sip::SipMessage;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where a message goes (or came from): transport, remote address, the
/// stream connection if any, and our listening address on that transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub proto: Proto,
    pub addr: SocketAddr,
    pub conn: Option<u64>,
    pub local: SocketAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

pub struct ServerTxn {
    pub id: String,
    pub key: String,
    pub invite: bool,
    pub state: ServerState,
    pub request: SipMessage,
    pub peer: Peer,
    pub to_tag: String,
    pub client: Option<u64>,
    pub last_response: Option<Vec<u8>>,
    pub final_code: Option<u16>,
    pub dialog_id: Option<String>,
    /// Timer G (INVITE non-2xx retransmission), next fire and interval.
    retrans: Option<(Instant, Duration)>,
    /// Timers H, I, J, L: when the transaction ends.
    end: Option<Instant>,
    /// H fired (no ACK for a non-2xx): reported once.
    pub timed_out: bool,
}

#[derive(Default)]
pub struct Poll {
    pub resend: Option<Vec<u8>>,
    pub timed_out: bool,
    pub terminated: bool,
}

impl ServerTxn {
    pub fn new(id: String, key: String, request: SipMessage, peer: Peer) -> Self {
        let invite = request.method() == Some("INVITE");
        ServerTxn {
            id,
            key,
            invite,
            state: ServerState::Proceeding,
            request,
            peer,
            to_tag: crate::ids::tag(),
            client: None,
            last_response: None,
            final_code: None,
            dialog_id: None,
            retrans: None,
            end: None,
            timed_out: false,
        }
    }

    /// A retransmitted request arrived: what (if anything) to send again.
    pub fn on_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            ServerState::Proceeding | ServerState::Completed | ServerState::Accepted => self.last_response.clone(),
            _ => None,
        }
    }

    pub fn can_respond(&self) -> bool {
        self.state == ServerState::Proceeding
    }

    /// The TU sent a response through this transaction.
    pub fn on_response_sent(&mut self, code: u16, bytes: Vec<u8>, now: Instant, t: &Timers) {
        self.last_response = Some(bytes);
        if code < 200 {
            return;
        }
        self.final_code = Some(code);
        let reliable = self.peer.proto.reliable();
        if self.invite && code < 300 {
            // RFC 6026: absorb INVITE retransmissions for 64*T1; the dialog
            // layer owns 2xx retransmission.
            self.state = ServerState::Accepted;
            self.end = Some(now + t.t1() * 64);
        } else if self.invite {
            self.state = ServerState::Completed;
            if !reliable {
                self.retrans = Some((now + t.t1(), t.t1()));
            }
            self.end = Some(now + t.t1() * 64);
        } else {
            self.state = ServerState::Completed;
            self.end = Some(if reliable { now } else { now + t.t1() * 64 });
        }
    }

    /// ACK for a non-2xx final (same transaction).
    pub fn on_ack(&mut self, now: Instant, t: &Timers) {
        if self.state == ServerState::Completed && self.invite {
            self.state = ServerState::Confirmed;
            self.retrans = None;
            self.end = Some(if self.peer.proto.reliable() { now } else { now + t.t4() });
        }
    }

    pub fn poll(&mut self, now: Instant, t: &Timers) -> Poll {
        let mut p = Poll::default();
        if let Some((at, iv)) = self.retrans {
            if now >= at && self.state == ServerState::Completed {
                p.resend = self.last_response.clone();
                let next = (iv * 2).min(t.t2());
                self.retrans = Some((now + next, next));
            }
        }
        if self.end.is_some_and(|e| now >= e) {
            if self.state == ServerState::Completed && self.invite {
                p.timed_out = true;
                self.timed_out = true;
            }
            self.state = ServerState::Terminated;
            p.terminated = true;
            p.resend = None;
        }
        p
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [self.retrans.map(|r| r.0), self.end].into_iter().flatten().min()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

pub struct ClientTxn {
    pub id: String,
    pub branch: String,
    pub invite: bool,
    pub method: String,
    pub request: SipMessage,
    pub bytes: Vec<u8>,
    pub peer: Peer,
    pub state: ClientState,
    pub client: Option<u64>,
    pub dialog_id: Option<String>,
    /// ACK we sent for a non-2xx final (resent on retransmitted finals).
    pub ack: Option<Vec<u8>>,
    /// The app asked to CANCEL before any provisional arrived.
    pub cancel_pending: bool,
    pub cancelled: bool,
    /// Timers A / E.
    retrans: Option<(Instant, Duration)>,
    /// Timers B / F.
    timeout: Option<Instant>,
    /// Timers D / K / M.
    end: Option<Instant>,
}

/// What the TU should do with a response that matched this transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum RespAction {
    /// New information: hand it to the application.
    Forward,
    /// A retransmission: drop it (or resend `ack` if set).
    Absorb,
}

impl ClientTxn {
    pub fn new(id: String, branch: String, request: SipMessage, bytes: Vec<u8>, peer: Peer, now: Instant, t: &Timers) -> Self {
        let method = request.method().unwrap_or("").to_string();
        let invite = method == "INVITE";
        let retrans = (!peer.proto.reliable()).then(|| (now + t.t1(), t.t1()));
        ClientTxn {
            id,
            branch,
            invite,
            method,
            request,
            bytes,
            peer,
            state: ClientState::Calling,
            client: None,
            dialog_id: None,
            ack: None,
            cancel_pending: false,
            cancelled: false,
            retrans,
            timeout: Some(now + t.t1() * 64),
            end: None,
        }
    }

    pub fn on_response(&mut self, code: u16, now: Instant, t: &Timers) -> RespAction {
        let reliable = self.peer.proto.reliable();
        match (self.state, code) {
            (ClientState::Calling | ClientState::Proceeding, 100..=199) => {
                self.state = ClientState::Proceeding;
                if self.invite {
                    self.retrans = None;
                } else if let Some((at, _)) = self.retrans {
                    // Timer E keeps firing, at T2 in Proceeding.
                    self.retrans = Some((at, t.t2()));
                }
                RespAction::Forward
            }
            (ClientState::Calling | ClientState::Proceeding, _) => {
                self.retrans = None;
                self.timeout = None;
                if self.invite && code < 300 {
                    self.state = ClientState::Accepted;
                    self.end = Some(now + t.t1() * 64);
                } else if self.invite {
                    self.state = ClientState::Completed;
                    self.end = Some(if reliable { now } else { now + Duration::from_secs(32).max(t.t1() * 64) });
                } else {
                    self.state = ClientState::Completed;
                    self.end = Some(if reliable { now } else { now + t.t4() });
                }
                RespAction::Forward
            }
            // Accepted: further 2xx (forks or retransmissions) go to the TU
            // which re-sends its ACK; the app has seen the first one.
            _ => RespAction::Absorb,
        }
    }

    pub fn poll(&mut self, now: Instant, t: &Timers) -> Poll {
        let mut p = Poll::default();
        if let Some((at, iv)) = self.retrans {
            if now >= at && matches!(self.state, ClientState::Calling | ClientState::Proceeding) {
                p.resend = Some(self.bytes.clone());
                let next = if self.invite { iv * 2 } else { (iv * 2).min(t.t2()) };
                let next = if self.state == ClientState::Proceeding && !self.invite { t.t2() } else { next };
                self.retrans = Some((now + next, next));
            }
        }
        if self.timeout.is_some_and(|d| now >= d) {
            p.timed_out = true;
            p.resend = None;
            self.state = ClientState::Terminated;
            p.terminated = true;
        }
        if self.end.is_some_and(|e| now >= e) {
            self.state = ClientState::Terminated;
            p.terminated = true;
        }
        p
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [self.retrans.map(|r| r.0), self.timeout, self.end].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(proto: Proto) -> Peer {
        let a: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        Peer { proto, addr: a, conn: None, local: a }
    }

    #[test]
    fn invite_client_retransmits_with_doubling_then_times_out() {
        let t = Timers::default();
        let now = Instant::now();
        let req = SipMessage::request("INVITE", "sip:x@127.0.0.1");
        let mut c = ClientTxn::new("id".into(), "b".into(), req, b"INV".to_vec(), peer(Proto::Udp), now, &t);
        let mut sends = vec![];
        let mut at = now;
        loop {
            let Some(d) = c.next_deadline() else { break };
            at = d;
            let p = c.poll(at, &t);
            if p.resend.is_some() {
                sends.push(at - now);
            }
            if p.timed_out {
                break;
            }
        }
        // Timer A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s.
        assert_eq!(sends.len(), 6);
        assert_eq!(sends[1], Duration::from_millis(1500));
        assert_eq!(at - now, Duration::from_secs(32));
    }

    #[test]
    fn non_invite_client_caps_at_t2_and_absorbs_retransmitted_finals() {
        let t = Timers::default();
        let now = Instant::now();
        let req = SipMessage::request("OPTIONS", "sip:x@127.0.0.1");
        let mut c = ClientTxn::new("id".into(), "b".into(), req, b"OPT".to_vec(), peer(Proto::Udp), now, &t);
        let mut last_iv = Duration::ZERO;
        let mut prev = now;
        for _ in 0..8 {
            let d = c.next_deadline().unwrap();
            let p = c.poll(d, &t);
            if p.timed_out {
                break;
            }
            last_iv = d - prev;
            prev = d;
        }
        assert_eq!(last_iv, t.t2());
        assert_eq!(c.on_response(200, prev, &t), RespAction::Forward);
        assert_eq!(c.on_response(200, prev, &t), RespAction::Absorb);
    }

    #[test]
    fn invite_server_retransmits_non_2xx_until_ack() {
        let t = Timers::default();
        let now = Instant::now();
        let req = SipMessage::request("INVITE", "sip:x@127.0.0.1");
        let mut s = ServerTxn::new("id".into(), "k".into(), req, peer(Proto::Udp));
        s.on_response_sent(486, b"486".to_vec(), now, &t);
        let d = s.next_deadline().unwrap();
        assert_eq!(d - now, t.t1());
        assert_eq!(s.poll(d, &t).resend.as_deref(), Some(&b"486"[..]));
        s.on_ack(d, &t);
        assert_eq!(s.state, ServerState::Confirmed);
        let d2 = s.next_deadline().unwrap();
        assert_eq!(d2 - d, t.t4());
        assert!(s.poll(d2, &t).terminated);
    }

    #[test]
    fn invite_server_timer_h_without_ack() {
        let t = Timers::default();
        let now = Instant::now();
        let req = SipMessage::request("INVITE", "sip:x@127.0.0.1");
        let mut s = ServerTxn::new("id".into(), "k".into(), req, peer(Proto::Tcp));
        s.on_response_sent(500, b"500".to_vec(), now, &t);
        let p = s.poll(now + t.t1() * 64, &t);
        assert!(p.timed_out && p.terminated);
    }
}
