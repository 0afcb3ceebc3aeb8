//! Requests arriving from the network: new, retransmitted, in-dialog, ACK
//! and CANCEL.

use super::{contact_uri, from_tag, response_to, server_key, to_tag, Engine};
use crate::dialog::Dialog;
use crate::ids;
use crate::sip::headers::parse_bounded;
use crate::sip::SipMessage;
use crate::txn::{Peer, ServerState, ServerTxn};
use std::time::Instant;

impl Engine {
    pub(super) fn on_request(&mut self, now: Instant, msg: SipMessage, src: Peer) {
        let Some(key) = server_key(&msg) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        let method = msg.method().unwrap_or("").to_string();
        if method == "ACK" {
            if let Some(t) = self.server_txns.get_mut(&key) {
                if t.state == ServerState::Completed || t.state == ServerState::Confirmed {
                    t.on_ack(now, &self.timers);
                    self.schedule_server(&key);
                    return;
                }
            }
            self.on_dialog_ack(now, msg, src);
            return;
        }
        if let Some(t) = self.server_txns.get(&key) {
            if let Some(b) = t.on_retransmission() {
                let peer = t.peer.clone();
                self.send_sip(&peer, b);
            }
            return;
        }
        if self.flood_check(now, &msg, &src, &method, &key) {
            return;
        }
        if !self.txn_budget_left() {
            self.stats.overload_rejected += 1;
            let mut r = response_to(&msg, 503, "Service Unavailable");
            r.push("Retry-After", &self.limits.retry_after_secs.to_string());
            r.push("Reason", "SIP;cause=503;text=\"transaction limit reached\"");
            self.send_sip(&src, r.to_bytes());
            return;
        }
        let id = ids::uuid();
        let txn = ServerTxn::new(id.clone(), key.clone(), msg, src);
        self.server_ids.insert(id, key.clone());
        self.server_txns.insert(key.clone(), txn);
        if method == "INVITE" {
            self.respond_locally(now, &key, 100, "Trying");
        }
        if method == "CANCEL" {
            return self.on_cancel(now, &key);
        }
        let req = &self.server_txns[&key].request;
        if req.get("Max-Forwards").and_then(|v| parse_bounded(v, 255)) == Some(0) && method != "OPTIONS" {
            return self.respond_locally(now, &key, 483, "Too Many Hops");
        }
        if to_tag(req).is_some() {
            return self.on_in_dialog_request(now, &key);
        }
        if method == "INVITE" && self.dialogs.len() >= self.limits.max_dialogs {
            self.stats.overload_rejected += 1;
            return self.respond_locally(now, &key, 503, "Service Unavailable");
        }
        let Some(client) = self.pick_app(&method.to_ascii_lowercase()) else {
            // RFC 3261 21.5.2: a method we do not recognise is 501, not overload.
            if crate::metrics::method_label(&method) == "other" {
                return self.respond_locally(now, &key, 501, "Not Implemented");
            }
            return self.respond_locally(now, &key, 503, "Service Unavailable");
        };
        let t = self.server_txns.get_mut(&key).expect("inserted above");
        t.client = Some(client);
        let (req, peer, id) = (t.request.clone(), t.peer.clone(), t.id.clone());
        self.forward(client, "network", &req, &peer, &id, "", true);
        if method == "INVITE" {
            self.cdr("attempt", "network", None, &req);
        }
    }

    /// Answer a server transaction from the engine itself (100, 481, 487, 503...).
    pub(super) fn respond_locally(&mut self, now: Instant, key: &str, code: u16, reason: &str) {
        let Some(t) = self.server_txns.get_mut(key) else { return };
        if !t.can_respond() {
            return;
        }
        let mut r = response_to(&t.request, code, reason);
        if code > 100 && to_tag(&r).is_none() {
            if let Some(to) = r.get("To").map(|s| format!("{s};tag={}", t.to_tag)) {
                r.set("To", &to);
            }
        }
        if code == 503 {
            r.push("Retry-After", &self.limits.retry_after_secs.to_string());
        }
        // RFC 3326: every failure the engine originates says why.
        if code >= 300 && !r.has("Reason") {
            let text = match code {
                491 => "a re-INVITE is already in progress in this dialog",
                481 => "no such dialog or transaction",
                500 if reason == "CSeq Out of Order" => "CSeq lower than the dialog's last one",
                _ => reason,
            };
            r.push("Reason", &format!("SIP;cause={code};text=\"{text}\""));
        }
        let bytes = r.to_bytes();
        let peer = t.peer.clone();
        t.on_response_sent(code, bytes.clone(), now, &self.timers);
        self.send_sip(&peer, bytes);
        self.schedule_server(key);
        let t = &self.server_txns[key];
        let (invite, did, req) = (t.invite, t.dialog_id.clone(), t.request.clone());
        if invite && code >= 300 {
            if to_tag(&req).is_none() {
                self.cdr("stop", "application", Some(if code == 487 { "call-canceled" } else { "call-rejected" }), &req);
            }
            if let Some(did) = did {
                if let Some(d) = self.dialogs.get_mut(&did) {
                    d.server_invite_pending = false;
                }
            }
        }
    }

    fn on_in_dialog_request(&mut self, now: Instant, key: &str) {
        let t = &self.server_txns[key];
        let req = t.request.clone();
        let method = req.method().unwrap_or("").to_string();
        let call_id = req.call_id().unwrap_or("").to_string();
        let (ft, tt) = (from_tag(&req).unwrap_or_default(), to_tag(&req).unwrap_or_default());
        let Some(did) = self.find_dialog(&call_id, &ft, &tt, true) else {
            return self.respond_locally(now, key, 481, "Call/Transaction Does Not Exist");
        };
        let cseq = req.cseq().map(|c| c.0).unwrap_or(0);
        let d = self.dialogs.get_mut(&did).expect("found above");
        if d.remote_cseq.is_some_and(|r| cseq < r) {
            return self.respond_locally(now, key, 500, "CSeq Out of Order");
        }
        if method == "INVITE" && (d.server_invite_pending || d.client_invite_pending) {
            return self.respond_locally(now, key, 491, "Request Pending");
        }
        d.remote_cseq = Some(cseq);
        if method == "INVITE" {
            d.server_invite_pending = true;
        }
        if method == "INVITE" || method == "UPDATE" {
            if let Some(c) = contact_uri(&req) {
                d.remote_target = c;
            }
        }
        if method == "PRACK" {
            let rseq = req.get("RAck").and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse::<u32>().ok());
            if d.pending_rel.as_ref().is_some_and(|p| p.rseq == rseq) {
                d.pending_rel = None;
            }
        }
        if method == "BYE" {
            d.terminating = true;
            d.pending_2xx = None;
            d.session = None;
        }
        let owner = d.client;
        let client = match self.app_alive(owner) {
            Some(c) => c,
            None => match self.pick_app(&method.to_ascii_lowercase()).or_else(|| self.pick_app("invite")) {
                Some(c) => c,
                None => return self.respond_locally(now, key, 503, "Service Unavailable"),
            },
        };
        if let Some(d) = self.dialogs.get_mut(&did) {
            d.client = Some(client);
        }
        let t = self.server_txns.get_mut(key).expect("exists");
        t.client = Some(client);
        t.dialog_id = Some(did.clone());
        let (peer, id) = (t.peer.clone(), t.id.clone());
        self.forward(client, "network", &req, &peer, &id, &did, false);
        if method == "BYE" {
            self.cdr("stop", "network", Some("normal-release"), &req);
        }
    }

    /// ACK for a 2xx (its own transaction): stops our 2xx retransmissions.
    fn on_dialog_ack(&mut self, _now: Instant, msg: SipMessage, src: Peer) {
        let call_id = msg.call_id().unwrap_or("").to_string();
        let (ft, tt) = (from_tag(&msg).unwrap_or_default(), to_tag(&msg).unwrap_or_default());
        let Some(did) = self.find_dialog(&call_id, &ft, &tt, true) else { return };
        let cseq = msg.cseq().map(|c| c.0).unwrap_or(0);
        let d = self.dialogs.get_mut(&did).expect("found");
        match &d.pending_2xx {
            Some(p) if p.cseq == cseq => d.pending_2xx = None,
            _ => return, // retransmitted or stray ACK
        }
        d.confirmed = true;
        let owner = d.client;
        let Some(client) = self.app_alive(owner) else { return };
        self.forward(client, "network", &msg, &src, &ids::uuid(), &did, false);
    }

    fn on_cancel(&mut self, now: Instant, cancel_key: &str) {
        let inv_key = match cancel_key.rsplit_once('|') {
            Some((k, _)) => format!("{k}|INVITE"),
            None => return,
        };
        let Some(inv) = self.server_txns.get(&inv_key) else {
            return self.respond_locally(now, cancel_key, 481, "Call/Transaction Does Not Exist");
        };
        let pending = inv.can_respond();
        let (client, inv_id) = (inv.client, inv.id.clone());
        self.respond_locally(now, cancel_key, 200, "OK");
        if !pending {
            return;
        }
        self.respond_locally(now, &inv_key, 487, "Request Terminated");
        if let Some(did) = self.server_txns.get(&inv_key).and_then(|t| t.dialog_id.clone()) {
            if self.dialogs.get(&did).is_some_and(|d| !d.confirmed) {
                self.remove_dialog(&did);
            }
        }
        if let Some(c) = self.app_alive(client) {
            let t = &self.server_txns[cancel_key];
            let (req, peer) = (t.request.clone(), t.peer.clone());
            self.forward(c, "network", &req, &peer, &inv_id, "", false);
        }
    }

    /// Create the UAS side of a dialog from the request and our response.
    pub(super) fn uas_dialog(&mut self, key: &str, resp: &SipMessage, confirmed: bool) -> Option<String> {
        let t = self.server_txns.get(key)?;
        let req = &t.request;
        let remote_tag = from_tag(req).unwrap_or_default();
        let id = Dialog::make_id(req.call_id()?, &remote_tag);
        if let Some(d) = self.dialogs.get_mut(&id) {
            d.confirmed |= confirmed;
            return Some(id);
        }
        let local_tag = to_tag(resp)?;
        let d = Dialog {
            id: id.clone(),
            call_id: req.call_id()?.to_string(),
            local_tag,
            remote_tag,
            local_hdr: resp.get("To")?.to_string(),
            remote_hdr: req.get("From")?.to_string(),
            local_cseq: (ids::rand_u64() % 10_000) as u32 + 1,
            remote_cseq: req.cseq().map(|c| c.0),
            remote_target: contact_uri(req)?,
            route_set: req.values("Record-Route"),
            local_contact: resp.get("Contact").unwrap_or("").to_string(),
            peer: t.peer.clone(),
            client: t.client,
            is_uas: true,
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
