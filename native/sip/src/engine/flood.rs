//! Flood protection at the request entry: new out-of-dialog requests go
//! through the rate limiter; requests of existing dialogs and CANCELs of
//! existing transactions never do (ACKs and retransmissions are matched
//! before this is reached). Over the limit: a stateless 503 with
//! Retry-After and a Reason, or a silent drop far beyond it; each counted
//! and logged at most once a second per kind.

use super::{from_tag, response_to, to_tag, Engine};
use crate::config::Limits;
use crate::limits::{Cidr, Limit, RateConfig, RateLimiter, Verdict};
use crate::sip::SipMessage;
use crate::txn::Peer;
use std::time::Instant;

pub(super) fn rate_limiter(l: &Limits) -> RateLimiter {
    RateLimiter::new(
        RateConfig {
            per_source_rate: l.per_source_rate,
            per_source_burst: l.per_source_burst,
            per_source_drop_rate: l.per_source_drop_rate,
            invite_rate: l.invite_rate,
            trusted: l.trusted_sources.iter().filter_map(|s| Cidr::parse(s)).collect(),
        },
        Instant::now(),
    )
}

impl Engine {
    /// True when the request was answered or dropped here.
    pub(super) fn flood_check(&mut self, now: Instant, msg: &SipMessage, src: &Peer, method: &str, key: &str) -> bool {
        if self.exempt_from_limits(msg, method, key) {
            return false;
        }
        let verdict = self.rate.check(now, src.addr.ip(), method == "INVITE");
        let (limit, answer) = match verdict {
            Verdict::Allow => return false,
            Verdict::Reject(l) => (l, true),
            Verdict::Drop(l) => (l, false),
        };
        match (limit, answer) {
            (_, false) => self.stats.rate_dropped += 1,
            (Limit::PerSource, true) => self.stats.rate_limited += 1,
            (Limit::GlobalInvite, true) => self.stats.invite_cap_rejected += 1,
        }
        let what = if answer { "request rejected: rate limit" } else { "request dropped: rate limit" };
        if let Some(suppressed) = self.log_gate(now, if answer { "rate-reject" } else { "rate-drop" }) {
            crate::jlog!(Warn, what, "limit": limit.name(), "method": method, "source": src.addr.to_string(),
                "transport": src.proto.name(), "suppressed": suppressed);
        }
        if answer {
            let mut r = response_to(msg, 503, "Service Unavailable");
            if to_tag(&r).is_none() {
                if let Some(to) = r.get("To").map(|s| format!("{s};tag={}", crate::ids::tag())) {
                    r.set("To", &to);
                }
            }
            r.push("Retry-After", &self.limits.retry_after_secs.to_string());
            r.push("Reason", &format!("SIP;cause=503;text=\"{}\"", limit.reason_text()));
            self.send_sip(src, r.to_bytes());
        }
        true
    }

    /// In-dialog requests of a dialog we have, and CANCELs of a pending
    /// INVITE, belong to admitted traffic.
    fn exempt_from_limits(&self, msg: &SipMessage, method: &str, key: &str) -> bool {
        if method == "CANCEL" {
            return key.rsplit_once('|').is_some_and(|(k, _)| self.server_txns.contains_key(&format!("{k}|INVITE")));
        }
        match to_tag(msg) {
            Some(tt) => {
                let ft = from_tag(msg).unwrap_or_default();
                self.find_dialog(msg.call_id().unwrap_or(""), &ft, &tt, true).is_some()
            }
            None => false,
        }
    }

    /// Log gate: Some(lines held back since the last one) at most once a second per kind.
    pub(super) fn log_gate(&mut self, now: Instant, kind: &'static str) -> Option<u64> {
        match self.log_gate.get_mut(kind) {
            Some((last, held)) if now.saturating_duration_since(*last).as_secs() < 1 => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let n = *held;
                (*last, *held) = (now, 0);
                Some(n)
            }
            None => {
                self.log_gate.insert(kind, (now, 0));
                Some(0)
            }
        }
    }

    /// The same log gate for the runtime's own events (connection limits).
    pub fn log_gate_pub(&mut self, now: Instant, kind: &'static str) -> Option<u64> {
        self.log_gate(now, kind)
    }

    /// Counts a parsed incoming message.
    pub(super) fn count_in(&mut self, msg: &SipMessage, proto: crate::config::Proto) {
        use crate::metrics::Dir;
        match (msg.method(), msg.code()) {
            (Some(m), _) => self.messages.request(Dir::In, proto, m),
            (None, Some(code)) => {
                let m = msg.cseq().map(|c| c.1).unwrap_or_default();
                self.messages.response(Dir::In, proto, &m, code)
            }
            _ => {}
        }
    }

    /// Everything the `stats` command reports from the engine.
    pub fn stats_json(&self) -> serde_json::Value {
        let s = &self.stats;
        serde_json::json!({
            "messages": self.messages.to_json(),
            "rejections": {
                "rate_limited": s.rate_limited,
                "rate_dropped": s.rate_dropped,
                "invite_rate": s.invite_cap_rejected,
                "malformed_400": s.bad_request_sent,
                "malformed_dropped": s.malformed_dropped,
                "overload": s.overload_rejected,
                "stray_response": s.stray_responses,
            },
            "active": {
                "server_transactions": self.server_txns.len(),
                "client_transactions": self.client_txns.len(),
                "dialogs": self.dialogs.len(),
                "apps": self.apps.values().filter(|a| a.authed).count(),
                "rate_sources": self.rate.tracked_sources(),
            },
        })
    }
}
