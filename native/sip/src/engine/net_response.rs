//! Responses arriving from the network for our client transactions.

use super::{client_key, contact_uri, from_tag, to_tag, Engine};
use crate::dialog::{via_value, Dialog};
use crate::ids;
use crate::sip::headers::parse_session_expires;
use crate::sip::params::parse_via;
use crate::sip::SipMessage;
use crate::txn::{Peer, RespAction};
use std::time::Instant;

impl Engine {
    pub(super) fn on_response(&mut self, now: Instant, msg: SipMessage, src: Peer) {
        let code = msg.code().unwrap_or(0);
        let branch = msg.values("Via").first().and_then(|v| parse_via(v).ok()).and_then(|v| v.branch().map(str::to_string));
        let method = msg.cseq().map(|c| c.1).unwrap_or_default();
        let key = client_key(&branch.unwrap_or_default(), &method);
        let Some(t) = self.client_txns.get_mut(&key) else {
            if method == "INVITE" && code / 100 == 2 {
                self.resend_ack(&msg);
            } else {
                self.stats.stray_responses += 1;
            }
            return;
        };
        let action = t.on_response(code, now, &self.timers);
        if action == RespAction::Absorb {
            if t.invite && code >= 300 {
                if let Some(ack) = t.ack.clone() {
                    let p = t.peer.clone();
                    self.send_sip(&p, ack);
                }
            } else if t.invite && code / 100 == 2 {
                self.resend_ack(&msg);
            }
            return;
        }
        let (invite, cancelled, client, txn_id) = (t.invite, t.cancelled, t.client, t.id.clone());
        let mut did = t.dialog_id.clone();
        let in_dialog = did.is_some();
        let req = t.request.clone();
        if invite && (101..200).contains(&code) {
            self.send_deferred_cancel(now, &key);
        }
        if invite && code > 100 && !in_dialog && to_tag(&msg).is_some() {
            did = self.uac_dialog(&req, &msg, &src, client, code / 100 == 2);
        }
        if invite && code >= 300 {
            let ack = build_non2xx_ack(&req, &msg);
            let bytes = ack.to_bytes();
            let peer = self.client_txns[&key].peer.clone();
            self.send_sip(&peer, bytes.clone());
            if let Some(t) = self.client_txns.get_mut(&key) {
                t.ack = Some(bytes);
            }
        }
        if let Some(id) = did.clone() {
            let mut remove = false;
            if let Some(d) = self.dialogs.get_mut(&id) {
                if invite && code >= 200 {
                    d.client_invite_pending = false;
                }
                if invite && code / 100 == 2 {
                    d.awaiting_app_ack = req.cseq().map(|c| c.0);
                    if let Some(c) = contact_uri(&msg) {
                        d.remote_target = c;
                    }
                }
                if invite && code >= 300 && !in_dialog {
                    remove = true;
                }
                if method == "BYE" && code >= 200 {
                    remove = true;
                }
                if in_dialog && (code == 481 || code == 408) {
                    remove = true; // RFC 5057: the dialog is gone
                }
                if (method == "INVITE" || method == "UPDATE") && code / 100 == 2 {
                    match msg.get("Session-Expires").and_then(parse_session_expires) {
                        Some((secs, r)) => d.start_session_timer(secs, self.session_min_secs, r.as_deref() != Some("uas"), now),
                        None => d.session = None,
                    }
                }
            }
            if remove {
                self.remove_dialog(&id);
            } else {
                self.schedule_dialog(&id);
            }
        }
        self.schedule_client(&key);
        let dialog_field = did.clone().unwrap_or_default();
        if let Some(c) = self.app_alive(client) {
            self.forward(c, "network", &msg, &src, &txn_id, &dialog_field, false);
        }
        if invite && !in_dialog && code >= 200 {
            if code / 100 == 2 {
                self.cdr("start", "network", Some("uac"), &msg);
            } else {
                self.cdr("stop", "network", Some(if code == 487 { "call-canceled" } else { "call-rejected" }), &msg);
            }
        }
        // CANCEL/200 race: the app gave up on this call but the callee
        // answered. Tell the app (it gets the 2xx) and clear the call.
        if invite && cancelled && code / 100 == 2 {
            if let Some(id) = did {
                if let Some(d) = self.dialogs.get_mut(&id) {
                    d.client = client;
                }
                self.engine_ack(&id);
                self.engine_bye(now, &id, "SIP;cause=487;text=\"CANCEL/200 race\"", "cancel/200-race");
            }
        }
    }

    /// A 2xx retransmission for which we already ACKed: ACK again.
    fn resend_ack(&mut self, msg: &SipMessage) {
        let call_id = msg.call_id().unwrap_or("").to_string();
        let (ft, tt) = (from_tag(msg).unwrap_or_default(), to_tag(msg).unwrap_or_default());
        let Some(did) = self.find_dialog(&call_id, &ft, &tt, false) else { return };
        let cseq = msg.cseq().map(|c| c.0);
        let Some(d) = self.dialogs.get(&did) else { return };
        if let Some((n, bytes)) = &d.last_ack {
            if Some(*n) == cseq {
                let (bytes, peer) = (bytes.clone(), self.dialog_peer(&did));
                if let Some(p) = peer {
                    self.send_sip(&p, bytes);
                }
            }
        }
    }

    /// The engine ACKs a 2xx itself (used when the app will not).
    pub(super) fn engine_ack(&mut self, did: &str) {
        let Some(peer) = self.dialog_peer(did) else { return };
        let Some(d) = self.dialogs.get_mut(did) else { return };
        let Some(cseq) = d.awaiting_app_ack.take() else { return };
        let branch = ids::branch();
        let mut m = d.request("ACK", cseq, &branch);
        m.set("Via", &via_value(&peer, &branch));
        let bytes = m.to_bytes();
        d.last_ack = Some((cseq, bytes.clone()));
        self.send_sip(&peer, bytes);
    }

    /// UAC side of a dialog (early on a 1xx with a tag, confirmed on 2xx).
    fn uac_dialog(&mut self, req: &SipMessage, resp: &SipMessage, src: &Peer, client: Option<u64>, confirmed: bool) -> Option<String> {
        let local_tag = from_tag(req)?;
        let remote_tag = to_tag(resp)?;
        let id = Dialog::make_id(req.call_id()?, &local_tag);
        if let Some(d) = self.dialogs.get_mut(&id) {
            // A different To tag on a 2xx is a fork; follow the answering one.
            if confirmed && !d.confirmed {
                d.remote_tag = remote_tag;
                d.remote_hdr = resp.get("To")?.to_string();
                d.route_set = resp.values("Record-Route").into_iter().rev().collect();
                d.confirmed = true;
            }
            return Some(id);
        }
        if self.dialogs.len() >= self.limits.max_dialogs {
            return None;
        }
        let mut peer = src.clone();
        if !src.proto.reliable() {
            peer.conn = None;
        }
        let d = Dialog {
            id: id.clone(),
            call_id: req.call_id()?.to_string(),
            local_tag,
            remote_tag,
            local_hdr: req.get("From")?.to_string(),
            remote_hdr: resp.get("To")?.to_string(),
            local_cseq: req.cseq()?.0,
            remote_cseq: None,
            remote_target: contact_uri(resp).or_else(|| req.uri().map(str::to_string))?,
            route_set: resp.values("Record-Route").into_iter().rev().collect(),
            local_contact: req.get("Contact").unwrap_or("").to_string(),
            peer,
            client,
            is_uas: false,
            confirmed,
            terminating: false,
            pending_2xx: None,
            pending_rel: None,
            next_rseq: 1,
            last_ack: None,
            awaiting_app_ack: None,
            server_invite_pending: false,
            client_invite_pending: false,
            session: None,
        };
        self.dialogs.insert(id.clone(), d);
        Some(id)
    }
}

/// ACK for a non-2xx final: same branch, To from the response (17.1.1.3).
fn build_non2xx_ack(req: &SipMessage, resp: &SipMessage) -> SipMessage {
    let mut a = SipMessage::request("ACK", req.uri().unwrap_or(""));
    if let Some(v) = req.values("Via").first() {
        a.push("Via", v);
    }
    for name in ["Route", "Max-Forwards", "From", "Call-ID"] {
        for h in req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)) {
            a.headers.push(h.clone());
        }
    }
    if let Some(to) = resp.get("To") {
        a.push("To", to);
    }
    let n = req.cseq().map(|c| c.0).unwrap_or(1);
    a.push("CSeq", &format!("{n} ACK"));
    a
}

