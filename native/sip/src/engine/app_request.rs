//! Requests written by the application: new, in-dialog, ACK and CANCEL.

use super::{client_key, Engine};
use crate::config::Proto;
use crate::dialog::{contact_for, host_port, new_call_id, via_value};
use crate::ids;
use crate::sip::SipMessage;
use crate::txn::{ClientTxn, Peer};
use std::time::Instant;

/// Headers srf may put on a request that the engine owns.
const OWNED: &[&str] = &["Via", "Route", "Record-Route", "Content-Length", "Max-Forwards"];
const DIALOG_OWNED: &[&str] = &["From", "To", "Call-ID", "CSeq"];

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn app_request(
        &mut self,
        now: Instant,
        client: u64,
        msg_id: &str,
        txn_id: &str,
        dialog_id: &str,
        proxy: Option<&str>,
        app: SipMessage,
    ) {
        let method = app.method().unwrap_or("").to_string();
        if method == "CANCEL" && !txn_id.is_empty() {
            return self.app_cancel(now, client, msg_id, txn_id, app);
        }
        if !dialog_id.is_empty() {
            if method == "ACK" {
                return self.app_ack(client, msg_id, dialog_id, app);
            }
            return self.app_in_dialog(now, client, msg_id, dialog_id, app);
        }
        if method == "ACK" {
            // srf also ACKs non-2xx finals; the transaction layer did that already.
            return self.reply(client, msg_id, "NOK|ACK for non-2xx is sent by the transaction layer");
        }
        if !self.txn_budget_left() {
            return self.reply(client, msg_id, "NOK|too many transactions");
        }
        let uri = app.uri().unwrap_or("").to_string();
        let Some(mut peer) = self.resolve(proxy.unwrap_or(&uri), Proto::Udp) else {
            return self.reply(client, msg_id, "NOK|cannot resolve destination (IP literal required, or no listener for that transport)");
        };
        // The app picks the interface (e.g. the SBC's listener in the target
        // realm) by naming it in the Contact it supplies.
        if let Some(local) = app.get("Contact").and_then(|c| self.listener_named_in(c, peer.proto)) {
            peer.local = local;
        }
        let local = host_port(&peer.local);
        let mut m = SipMessage::request(&method, &uri);
        let branch = ids::branch();
        m.push("Via", &via_value(&peer, &branch));
        m.push("Max-Forwards", app.get("Max-Forwards").unwrap_or("70"));
        for h in &app.headers {
            if !OWNED.iter().any(|n| h.name.eq_ignore_ascii_case(n)) {
                let v = h.value.replace("@localhost", &format!("@{local}"));
                m.push(&h.name, &v);
            }
        }
        let from = m.get("From").map(str::to_string).unwrap_or_else(|| format!("<sip:{local}>"));
        let from = if super::tag_of_value(&from).is_none() { format!("{from};tag={}", ids::tag()) } else { from };
        m.set("From", &from);
        if !m.has("To") {
            m.set("To", &format!("<{uri}>"));
        }
        if !m.has("Call-ID") {
            m.set("Call-ID", &new_call_id(&peer));
        }
        if !m.has("CSeq") {
            m.set("CSeq", &format!("{} {method}", (ids::rand_u64() % 10_000) + 1));
        }
        if ["INVITE", "SUBSCRIBE", "REFER"].contains(&method.as_str()) && !m.has("Contact") {
            m.push("Contact", &contact_for(&peer, None));
        }
        if let Some(secs) = self.session_secs.filter(|_| method == "INVITE" && !m.has("Session-Expires")) {
            m.push("Session-Expires", &secs.to_string());
            m.push("Supported", "timer");
        }
        m.body = app.body;
        if !m.body.is_empty() && !m.has("Content-Type") && m.body.starts_with(b"v=0") {
            m.push("Content-Type", "application/sdp");
        }
        let id = self.send_new_request(now, Some(client), m.clone(), peer.clone(), branch, None);
        self.echo_request(client, msg_id, &m, &peer, &id);
        if method == "INVITE" {
            self.cdr("attempt", "application", None, &m);
        }
    }

    /// Our listener whose address is the host:port of the URI in `contact`.
    fn listener_named_in(&self, contact: &str, proto: Proto) -> Option<std::net::SocketAddr> {
        let inner = contact.split_once('<').map_or(contact, |(_, r)| r.split('>').next().unwrap_or(r));
        let u = crate::sip::uri::parse_sip_uri(inner.trim())?;
        let host = u.host.trim_start_matches('[').trim_end_matches(']');
        let ip: std::net::IpAddr = host.parse().ok()?;
        let addr = std::net::SocketAddr::new(ip, u.port?);
        self.listener_addrs(proto).find(|a| *a == addr)
    }

    /// Start a client transaction and put the request on the wire.
    pub(super) fn send_new_request(&mut self, now: Instant, client: Option<u64>, m: SipMessage, peer: Peer, branch: String, dialog: Option<String>) -> String {
        let bytes = m.to_bytes();
        let id = ids::uuid();
        let key = client_key(&branch, m.method().unwrap_or(""));
        let mut t = ClientTxn::new(id.clone(), branch, m, bytes.clone(), peer.clone(), now, &self.timers);
        t.client = client;
        t.dialog_id = dialog;
        self.client_ids.insert(id.clone(), key.clone());
        self.client_txns.insert(key.clone(), t);
        self.send_sip(&peer, bytes);
        self.schedule_client(&key);
        id
    }

    fn echo_request(&mut self, client: u64, msg_id: &str, m: &SipMessage, peer: &Peer, txn_id: &str) {
        let raw = m.to_string_lossy();
        let echo = format!(
            "OK|application|{}|{}|{}|{}|{}|{}|Msg sent:|\r\n{}",
            raw.len(),
            peer.proto.name(),
            peer.addr.ip(),
            peer.addr.port(),
            ids::wall_time(),
            txn_id,
            raw
        );
        self.reply(client, msg_id, &echo);
    }

    /// Where an in-dialog request goes: the first route or the remote target,
    /// keeping the dialog's transport when the URI does not name one.
    pub(super) fn dialog_peer(&self, did: &str) -> Option<Peer> {
        let d = self.dialogs.get(did)?;
        // WebSocket (RFC 7118): the peer is reachable only over the
        // connection the dialog came on; its Contact (`x@y.invalid;
        // transport=ws`) is not an address (like an RFC 5626 flow).
        if d.peer.proto.is_ws() {
            return Some(d.peer.clone());
        }
        let mut p = self.resolve(&d.next_hop_uri(), d.peer.proto).unwrap_or_else(|| d.peer.clone());
        // The dialog lives on the listener it was created on: in-dialog
        // requests (ACK, BYE, re-INVITE) leave from it too, whatever listener
        // resolve() would pick (realm separation: each realm its own socket).
        if p.proto == d.peer.proto && p.local.is_ipv4() == d.peer.local.is_ipv4() {
            p.local = d.peer.local;
        }
        if p.addr == d.peer.addr && p.proto == d.peer.proto {
            p.conn = d.peer.conn;
        }
        Some(p)
    }

    fn app_in_dialog(&mut self, now: Instant, client: u64, msg_id: &str, did: &str, app: SipMessage) {
        let method = app.method().unwrap_or("").to_string();
        let Some(peer) = self.dialog_peer(did) else {
            return self.reply(client, msg_id, "NOK|unable to find dialog for dialog id provided");
        };
        let d = self.dialogs.get_mut(did).expect("dialog_peer found it");
        if method == "INVITE" && (d.client_invite_pending || d.server_invite_pending) {
            return self.reply(client, msg_id, "NOK|a re-INVITE is already in progress");
        }
        let cseq = d.next_cseq();
        let branch = ids::branch();
        let mut m = d.request(&method, cseq, &branch);
        // Our Via must name the transport actually used.
        m.set("Via", &via_value(&peer, &branch));
        for h in &app.headers {
            let owned = OWNED.iter().chain(DIALOG_OWNED).any(|n| h.name.eq_ignore_ascii_case(n));
            if !owned {
                m.push(&h.name, &h.value);
            }
        }
        if (method == "INVITE" || method == "UPDATE") && !m.has("Contact") {
            let c = if d.local_contact.is_empty() { contact_for(&peer, None) } else { d.local_contact.clone() };
            m.push("Contact", &c);
        }
        m.body = app.body;
        if !m.body.is_empty() && !m.has("Content-Type") && m.body.starts_with(b"v=0") {
            m.push("Content-Type", "application/sdp");
        }
        if method == "INVITE" {
            d.client_invite_pending = true;
        }
        if method == "BYE" {
            d.terminating = true;
            d.pending_2xx = None;
            d.pending_rel = None;
            d.session = None;
        }
        d.client = Some(client);
        let id = self.send_new_request(now, Some(client), m.clone(), peer.clone(), branch, Some(did.to_string()));
        self.echo_request(client, msg_id, &m, &peer, &id);
        if method == "BYE" {
            self.cdr("stop", "application", Some("normal-release"), &m);
        }
    }

    /// The app's ACK for a 2xx we passed up: built from the dialog.
    fn app_ack(&mut self, client: u64, msg_id: &str, did: &str, app: SipMessage) {
        let Some(peer) = self.dialog_peer(did) else {
            return self.reply(client, msg_id, "NOK|unable to find dialog for dialog id provided");
        };
        let d = self.dialogs.get_mut(did).expect("found");
        let Some(cseq) = d.awaiting_app_ack.take() else {
            return self.reply(client, msg_id, "NOK|no 2xx awaiting ACK in this dialog");
        };
        let branch = ids::branch();
        let mut m = d.request("ACK", cseq, &branch);
        m.set("Via", &via_value(&peer, &branch));
        for h in &app.headers {
            let owned = OWNED.iter().chain(DIALOG_OWNED).any(|n| h.name.eq_ignore_ascii_case(n));
            if !owned && !h.name.eq_ignore_ascii_case("Contact") {
                m.push(&h.name, &h.value);
            }
        }
        m.body = app.body;
        if !m.body.is_empty() && !m.has("Content-Type") && m.body.starts_with(b"v=0") {
            m.push("Content-Type", "application/sdp");
        }
        let bytes = m.to_bytes();
        d.last_ack = Some((cseq, bytes.clone()));
        self.send_sip(&peer, bytes);
        self.echo_request(client, msg_id, &m, &peer, &ids::uuid());
    }

    /// CANCEL of our pending INVITE (17.1.3 / 9.1).
    fn app_cancel(&mut self, now: Instant, client: u64, msg_id: &str, txn_id: &str, app: SipMessage) {
        let Some(key) = self.client_ids.get(txn_id).cloned() else {
            return self.reply(client, msg_id, "NOK|transaction not found");
        };
        let Some(t) = self.client_txns.get_mut(&key) else {
            return self.reply(client, msg_id, "NOK|transaction not found");
        };
        if !t.invite || !matches!(t.state, crate::txn::ClientState::Calling | crate::txn::ClientState::Proceeding) {
            return self.reply(client, msg_id, "NOK|INVITE already completed");
        }
        t.cancelled = true;
        let cancel = build_cancel(&t.request, &app);
        let (peer, branch) = (t.peer.clone(), t.branch.clone());
        if t.state == crate::txn::ClientState::Calling {
            // No provisional yet: wait for one (9.1); Timer B still runs.
            t.cancel_pending = true;
            self.echo_request(client, msg_id, &cancel, &peer, txn_id);
            return;
        }
        let id = self.send_new_request(now, None, cancel.clone(), peer.clone(), branch, None);
        self.echo_request(client, msg_id, &cancel, &peer, &id);
    }

    /// Send the CANCEL deferred until the first provisional arrived.
    pub(super) fn send_deferred_cancel(&mut self, now: Instant, key: &str) {
        let Some(t) = self.client_txns.get_mut(key) else { return };
        if !t.cancel_pending {
            return;
        }
        t.cancel_pending = false;
        let cancel = build_cancel(&t.request, &SipMessage::request("CANCEL", ""));
        let (peer, branch) = (t.peer.clone(), t.branch.clone());
        self.send_new_request(now, None, cancel, peer, branch, None);
    }
}

fn build_cancel(invite: &SipMessage, app: &SipMessage) -> SipMessage {
    let mut c = SipMessage::request("CANCEL", invite.uri().unwrap_or(""));
    for name in ["Via", "Route", "Max-Forwards", "From", "To", "Call-ID"] {
        for h in invite.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)) {
            c.headers.push(h.clone());
        }
    }
    let n = invite.cseq().map(|c| c.0).unwrap_or(1);
    c.push("CSeq", &format!("{n} CANCEL"));
    for name in ["Reason"] {
        if let Some(v) = app.get(name) {
            c.push(name, v);
        }
    }
    c
}
