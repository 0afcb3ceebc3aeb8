//! Responses written by the application to requests we handed it.

use super::{response_to, to_tag, Engine};
use crate::dialog::{contact_for, Retrans};
use crate::ids;
use crate::sip::headers::{has_option_tag, parse_session_expires};
use crate::sip::SipMessage;
use std::time::Instant;

/// Headers the engine owns on a response (copied from the request).
const OWNED: &[&str] = &["Via", "From", "To", "Call-ID", "CSeq", "Content-Length"];

impl Engine {
    pub(super) fn app_response(&mut self, now: Instant, client: u64, msg_id: &str, txn_id: &str, app: SipMessage) {
        let Some(key) = self.server_ids.get(txn_id).cloned() else {
            return self.reply(client, msg_id, "NOK|transaction not found");
        };
        let Some(t) = self.server_txns.get(&key) else {
            return self.reply(client, msg_id, "NOK|transaction not found");
        };
        if !t.can_respond() {
            return self.reply(client, msg_id, "NOK|transaction already completed");
        }
        let code = app.code().unwrap_or(500);
        let reason = match &app.start {
            crate::sip::StartLine::Response { reason, .. } if !reason.is_empty() => reason.clone(),
            _ => "Unknown".to_string(),
        };
        let req = t.request.clone();
        let method = req.method().unwrap_or("").to_string();
        let mut resp = response_to(&req, code, &reason);
        // To tag: the app's if it chose one, else the transaction's.
        let app_tag = app.get("To").and_then(|v| crate::sip::params::parse_name_addr(v).ok()).and_then(|n| n.tag().map(str::to_string));
        if code > 100 && to_tag(&resp).is_none() {
            let tag = app_tag.unwrap_or_else(|| t.to_tag.clone());
            if let Some(to) = resp.get("To").map(|s| format!("{s};tag={tag}")) {
                resp.set("To", &to);
            }
        }
        for h in &app.headers {
            if !OWNED.iter().any(|n| h.name.eq_ignore_ascii_case(n)) {
                resp.headers.push(h.clone());
            }
        }
        resp.body = app.body;
        if !resp.body.is_empty() && !resp.has("Content-Type") && resp.body.starts_with(b"v=0") {
            resp.push("Content-Type", "application/sdp");
        }
        let reliable_1xx = method == "INVITE"
            && (101..200).contains(&code)
            && has_option_tag(resp.get("Require"), "100rel")
            && ["Supported", "Require"].iter().any(|h| req.values(h).iter().any(|v| has_option_tag(Some(v), "100rel")));
        if method == "INVITE" && (code / 100 == 2 || reliable_1xx) && !resp.has("Contact") {
            resp.push("Contact", &contact_for(&t.peer, None));
        }
        let peer = t.peer.clone();
        let in_dialog = t.dialog_id.clone();
        // RFC 3261 12.1.1: a response that establishes a dialog carries the
        // request's Record-Route values, in order, so the caller's in-dialog
        // requests keep going through the proxies in front of us.
        if method == "INVITE" && in_dialog.is_none() && (101..300).contains(&code) && !resp.has("Record-Route") {
            for v in req.values("Record-Route") {
                resp.push("Record-Route", &v);
            }
        }
        // Dialog bookkeeping before serializing (RSeq needs the dialog).
        let mut did = in_dialog.clone();
        if in_dialog.is_none() && method == "INVITE" && (code / 100 == 2 || reliable_1xx) {
            did = self.uas_dialog(&key, &resp, code / 100 == 2);
            if did.is_none() {
                return self.reply(client, msg_id, "NOK|cannot form a dialog (missing Contact?)");
            }
            if let Some(t) = self.server_txns.get_mut(&key) {
                t.dialog_id = did.clone();
            }
        }
        let mut rseq = None;
        if reliable_1xx {
            if let Some(d) = did.as_ref().and_then(|id| self.dialogs.get_mut(id)) {
                let n = d.next_rseq;
                d.next_rseq += 1;
                rseq = Some(n);
                resp.set("RSeq", &n.to_string());
            }
        }
        let bytes = resp.to_bytes();
        let cseq = req.cseq().map(|c| c.0).unwrap_or(0);
        if let Some(t) = self.server_txns.get_mut(&key) {
            t.on_response_sent(code, bytes.clone(), now, &self.timers);
        }
        self.send_sip(&peer, bytes.clone());
        self.schedule_server(&key);

        if let Some(id) = did.clone() {
            let mut remove = false;
            if let Some(d) = self.dialogs.get_mut(&id) {
                if rseq.is_some() {
                    d.pending_rel = Some(Retrans::new(bytes.clone(), cseq, rseq, peer.proto, now, &self.timers));
                }
                if method == "INVITE" && code / 100 == 2 {
                    d.confirmed = true;
                    d.server_invite_pending = false;
                    d.pending_rel = None;
                    d.pending_2xx = Some(Retrans::new(bytes.clone(), cseq, None, peer.proto, now, &self.timers));
                    if let Some(c) = resp.get("Contact") {
                        d.local_contact = c.to_string();
                    }
                } else if method == "INVITE" && code >= 300 {
                    d.server_invite_pending = false;
                    d.pending_rel = None;
                    remove = !d.confirmed;
                }
                if method == "BYE" && code >= 200 {
                    remove = true;
                }
                if (method == "INVITE" || method == "UPDATE") && code / 100 == 2 {
                    let se = resp.get("Session-Expires").and_then(parse_session_expires);
                    if let Some((secs, refresher)) = se {
                        d.start_session_timer(secs, self.session_min_secs, refresher.as_deref() == Some("uas"), now);
                    } else {
                        d.session = None;
                    }
                }
            }
            if remove {
                self.remove_dialog(&id);
            } else {
                self.schedule_dialog(&id);
            }
        }
        let dialog_field = if method == "INVITE" && code > 100 && to_tag(&resp).is_some() { did.clone().unwrap_or_default() } else { in_dialog.clone().unwrap_or_default() };
        let raw = resp.to_string_lossy();
        let echo = format!(
            "OK|application|{}|{}|{}|{}|{}|{}|{}||Msg sent:|\r\n{}",
            raw.len(),
            peer.proto.name(),
            peer.addr.ip(),
            peer.addr.port(),
            ids::wall_time(),
            txn_id,
            dialog_field,
            raw
        );
        self.reply(client, msg_id, &echo);
        // The initial INVITE (no To tag): it may already have an early dialog
        // from a reliable provisional, so `in_dialog` cannot tell.
        if method == "INVITE" && to_tag(&req).is_none() {
            if code / 100 == 2 {
                self.cdr("start", "application", Some("uas"), &resp);
            } else if code >= 300 {
                self.cdr("stop", "application", Some("call-rejected"), &resp);
            }
        }
    }
}
