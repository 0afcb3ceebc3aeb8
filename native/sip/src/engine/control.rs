//! Control connections from drachtio-srf applications.

use super::{App, Engine};
use crate::drachtio::split_frame;
use crate::sip::message::{Header, SipMessage, StartLine};
use std::time::Instant;

pub const SERVER_VERSION: &str = "v0.9.4-esbc";

impl Engine {
    pub fn on_client_connected(&mut self, client: u64) -> bool {
        if self.apps.len() >= self.limits.max_clients {
            return false;
        }
        self.apps.insert(client, App::default());
        true
    }

    pub fn on_client_closed(&mut self, now: Instant, client: u64) {
        self.apps.remove(&client);
        // INVITEs this app never answered get a 480 rather than hanging.
        let orphans: Vec<String> = self
            .server_txns
            .iter()
            .filter(|(_, t)| t.client == Some(client) && t.can_respond() && t.invite)
            .map(|(k, _)| k.clone())
            .collect();
        for k in orphans {
            self.respond_locally(now, &k, 480, "Temporarily Unavailable");
        }
    }

    pub fn on_client_frame(&mut self, now: Instant, client: u64, payload: &str) {
        let f = split_frame(payload);
        let msg_id = f.fields.first().copied().unwrap_or("");
        let kind = f.fields.get(1).copied().unwrap_or("");
        let Some(app) = self.apps.get_mut(&client) else { return };
        if !app.authed && kind != "authenticate" {
            self.reply(client, msg_id, "NO|not authenticated");
            self.out.push(super::Output::CloseClient(client));
            return;
        }
        match kind {
            "authenticate" => {
                if f.fields.get(2).copied() == Some(self.secret.as_str()) {
                    app.authed = true;
                    let hp = self.hostports();
                    self.reply(client, msg_id, &format!("OK|{hp}|{SERVER_VERSION}|{hp}"));
                } else {
                    self.reply(client, msg_id, "NO|incorrect secret");
                    self.out.push(super::Output::CloseClient(client));
                }
            }
            "route" => {
                let verb = f.fields.get(2).unwrap_or(&"").to_ascii_lowercase();
                app.routes.insert(verb);
                self.reply(client, msg_id, "OK");
            }
            "remove_route" => {
                let verb = f.fields.get(2).unwrap_or(&"").to_ascii_lowercase();
                app.routes.remove(&verb);
                self.reply(client, msg_id, "OK");
            }
            "ping" => self.reply(client, msg_id, "OK|pong"),
            "sip" => {
                let txn_id = f.fields.get(2).copied().unwrap_or("");
                let dialog_id = f.fields.get(3).copied().unwrap_or("");
                let proxy = f.fields.get(4).copied().filter(|p| !p.is_empty());
                let Some(msg) = f.sip.and_then(parse_app_message) else {
                    self.reply(client, msg_id, "NOK|unable to parse SIP message");
                    return;
                };
                let (txn_id, dialog_id, proxy) = (txn_id.to_string(), dialog_id.to_string(), proxy.map(str::to_string));
                if msg.is_request() {
                    self.app_request(now, client, msg_id, &txn_id, &dialog_id, proxy.as_deref(), msg);
                } else {
                    self.app_response(now, client, msg_id, &txn_id, msg);
                }
            }
            "proxy" => self.reply(client, msg_id, "NOK|proxy is not supported by this engine"),
            _ => self.reply(client, msg_id, "NOK|unknown request"),
        }
    }
}

/// Parse a message written by srf. Liberal: its Content-Length counts UTF-16
/// units, so the body is simply everything after the blank line.
pub fn parse_app_message(text: &str) -> Option<SipMessage> {
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (&text[..i], &text[i + 4..]),
        None => (text.trim_end(), ""),
    };
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let start = if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        StartLine::Response { code: code.trim().parse().ok().filter(|c| (100..=699).contains(c))?, reason: reason.to_string() }
    } else {
        let mut p = first.split(' ');
        let method = p.next()?.to_string();
        let uri = p.next()?.to_string();
        if method.is_empty() || uri.is_empty() {
            return None;
        }
        StartLine::Request { method, uri }
    };
    let mut headers: Vec<Header> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = headers.last_mut() {
                last.value.push(' ');
                last.value.push_str(line.trim());
            }
            continue;
        }
        let (n, v) = line.split_once(':')?;
        let n = n.trim();
        if n.is_empty() {
            return None;
        }
        headers.push(Header { name: crate::sip::headers::canonical_name(n).into_owned(), value: v.trim().to_string() });
    }
    Some(SipMessage { start, headers, body: body.as_bytes().to_vec() })
}
