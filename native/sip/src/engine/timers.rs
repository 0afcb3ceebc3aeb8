//! Timer dispatch: transaction retransmissions and timeouts, 2xx/1xx
//! retransmission, ACK/PRACK timeouts and session timers.

use super::{response_to, Engine, TimerRef};
use crate::dialog::{via_value, DialogEvent};
use crate::ids;
use std::cmp::Reverse;
use std::time::Instant;

impl Engine {
    pub fn on_timer(&mut self, now: Instant) {
        while let Some(Reverse((at, _, _))) = self.heap.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, r))) = self.heap.pop() else { break };
            match r {
                TimerRef::Server(k) => self.server_timer(now, &k),
                TimerRef::Client(k) => self.client_timer(now, &k),
                TimerRef::Dialog(id) => self.dialog_timer(now, &id),
            }
        }
    }

    fn server_timer(&mut self, now: Instant, key: &str) {
        let Some(t) = self.server_txns.get_mut(key) else { return };
        let p = t.poll(now, &self.timers);
        let peer = t.peer.clone();
        if let Some(b) = p.resend {
            self.send_sip(&peer, b);
        }
        if p.terminated {
            if let Some(t) = self.server_txns.remove(key) {
                self.server_ids.remove(&t.id);
            }
        } else {
            self.schedule_server(key);
        }
    }

    fn client_timer(&mut self, now: Instant, key: &str) {
        let Some(t) = self.client_txns.get_mut(key) else { return };
        let p = t.poll(now, &self.timers);
        let peer = t.peer.clone();
        let (req, client, id, did) = (t.request.clone(), t.client, t.id.clone(), t.dialog_id.clone());
        if let Some(b) = p.resend {
            self.send_sip(&peer, b);
        }
        if p.timed_out {
            // Timer B/F: the app gets a 408 as if the peer had sent it.
            self.client_failed(&peer, &req, client, &id, did, 408, "Request Timeout", None);
        }
        if p.terminated {
            if let Some(t) = self.client_txns.remove(key) {
                self.client_ids.remove(&t.id);
            }
        } else {
            self.schedule_client(key);
        }
    }

    /// A client transaction ended without a response from the peer (timeout,
    /// or the transport could not reach it): the app gets a local final
    /// response, and a dialog that cannot continue is forgotten.
    #[allow(clippy::too_many_arguments)]
    fn client_failed(
        &mut self,
        peer: &crate::txn::Peer,
        req: &crate::sip::SipMessage,
        client: Option<u64>,
        id: &str,
        did: Option<String>,
        code: u16,
        phrase: &str,
        reason: Option<&str>,
    ) {
        let mut r = response_to(req, code, phrase);
        if let Some(to) = r.get("To").map(|s| s.to_string()) {
            if super::tag_of_value(&to).is_none() {
                r.set("To", &format!("{to};tag={}", ids::tag()));
            }
        }
        if let Some(reason) = reason {
            r.push("Reason", reason);
        }
        if let Some(c) = self.app_alive(client) {
            self.forward(c, "network", &r, peer, id, did.as_deref().unwrap_or(""), false);
        }
        if let Some(d) = did {
            let method = req.method().unwrap_or("");
            if method == "BYE" || method == "INVITE" && !self.dialogs.get(&d).is_some_and(|d| d.confirmed) {
                self.remove_dialog(&d);
            } else if let Some(dl) = self.dialogs.get_mut(&d) {
                dl.client_invite_pending = false;
            }
        }
    }

    /// A TCP/TLS connection to `remote` could not be made: requests waiting
    /// for it fail now with 503 instead of 408 at Timer B/F.
    pub fn on_transport_failure(&mut self, _now: Instant, proto: crate::config::Proto, remote: std::net::SocketAddr) {
        let keys: Vec<String> = self
            .client_txns
            .iter()
            .filter(|(_, t)| t.peer.proto == proto && t.peer.addr == remote && t.state == crate::txn::ClientState::Calling)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let Some(t) = self.client_txns.remove(&key) else { continue };
            self.client_ids.remove(&t.id);
            let text = format!("SIP;cause=503;text=\"{} connection to {} failed\"", proto.name(), remote);
            self.client_failed(&t.peer, &t.request, t.client, &t.id, t.dialog_id.clone(), 503, "Service Unavailable", Some(&text));
        }
    }

    fn dialog_timer(&mut self, now: Instant, id: &str) {
        let Some(d) = self.dialogs.get_mut(id) else { return };
        let events = d.poll(now, &self.timers);
        let peer = d.peer.clone();
        for e in events {
            match e {
                DialogEvent::Resend(b) => self.send_sip(&peer, b),
                DialogEvent::AckTimeout => {
                    self.engine_bye(now, id, "SIP;cause=408;text=\"ACK timeout\"", "ack-timeout");
                    return;
                }
                DialogEvent::PrackTimeout => {
                    // RFC 3262 3: no PRACK -> reject the INVITE with 5xx.
                    let key = self.server_txns.iter().find(|(_, t)| t.dialog_id.as_deref() == Some(id) && t.can_respond()).map(|(k, _)| k.clone());
                    if let Some(k) = key {
                        self.respond_locally(now, &k, 504, "Server Time-out");
                    }
                }
                DialogEvent::SessionExpired => {
                    self.engine_bye(now, id, "SIP;cause=408;text=\"Session timer expired\"", "session-expired");
                    return;
                }
                DialogEvent::SessionRefresh => self.session_refresh(now, id),
            }
        }
        self.schedule_dialog(id);
    }

    /// UPDATE carrying Session-Expires (RFC 4028 refresh without SDP).
    fn session_refresh(&mut self, now: Instant, id: &str) {
        let Some(peer) = self.dialog_peer(id) else { return };
        let Some(d) = self.dialogs.get_mut(id) else { return };
        let Some(s) = &d.session else { return };
        let secs = s.interval.as_secs();
        let cseq = d.next_cseq();
        let branch = ids::branch();
        let mut m = d.request("UPDATE", cseq, &branch);
        m.set("Via", &via_value(&peer, &branch));
        // RFC 4028 7.4: `refresher` names a role in *this* transaction; we
        // send the refresh (its UAC) and stay the refresher, whatever our
        // role in the INVITE that created the dialog.
        m.push("Session-Expires", &format!("{secs};refresher=uac"));
        m.push("Supported", "timer");
        if !d.local_contact.is_empty() {
            let c = d.local_contact.clone();
            m.push("Contact", &c);
        }
        self.send_new_request(now, None, m, peer, branch, Some(id.to_string()));
    }

    /// A BYE the engine decides on (ACK timeout, session expiry, CANCEL/200
    /// race): sent to the peer and reported to the app as `unsolicited`.
    /// `cdr_reason` is the cdr:stop termination reason (drachtio's words).
    pub(super) fn engine_bye(&mut self, now: Instant, id: &str, reason: &str, cdr_reason: &str) {
        let Some(peer) = self.dialog_peer(id) else { return };
        let Some(d) = self.dialogs.get_mut(id) else { return };
        let cseq = d.next_cseq();
        let branch = ids::branch();
        let mut m = d.request("BYE", cseq, &branch);
        m.set("Via", &via_value(&peer, &branch));
        m.push("Reason", reason);
        let client = d.client;
        self.send_new_request(now, None, m.clone(), peer.clone(), branch, None);
        if let Some(c) = self.app_alive(client) {
            self.forward(c, "application", &m, &peer, "unsolicited", id, false);
        }
        self.cdr("stop", "application", Some(cdr_reason), &m);
        self.remove_dialog(id);
    }
}
