//! SIP message counters (by direction, transport, method, status) and
//! rejection counters, read in one batch by the `stats` stdin command.
//! Label values are bounded: methods outside the known set count as "other".

use crate::config::Proto;
use std::collections::BTreeMap;

const METHODS: &[&str] = &[
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO", "REFER", "NOTIFY", "SUBSCRIBE",
    "MESSAGE", "PUBLISH",
];

/// A method name as a bounded label value.
pub fn method_label(m: &str) -> &'static str {
    METHODS.iter().find(|k| k.eq_ignore_ascii_case(m)).copied().unwrap_or("other")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    In,
    Out,
}

/// (direction, transport, method, status; 0 for requests)
type Key = (Dir, &'static str, &'static str, u16);

#[derive(Default, Debug, Clone)]
pub struct MessageCounters {
    counts: BTreeMap<Key, u64>,
}

impl MessageCounters {
    pub fn request(&mut self, dir: Dir, proto: Proto, method: &str) {
        *self.counts.entry((dir, proto.name(), method_label(method), 0)).or_insert(0) += 1;
    }

    pub fn response(&mut self, dir: Dir, proto: Proto, cseq_method: &str, code: u16) {
        let code = if (100..700).contains(&code) { code } else { 0 };
        *self.counts.entry((dir, proto.name(), method_label(cseq_method), code)).or_insert(0) += 1;
    }

    /// An outgoing message as serialized by the engine: first line and CSeq.
    pub fn outgoing(&mut self, proto: Proto, data: &[u8]) {
        let head = &data[..data.len().min(4096)];
        let first_end = head.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(head.len());
        let first = std::str::from_utf8(&head[..first_end]).unwrap_or("");
        if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
            let code = rest.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            self.response(Dir::Out, proto, cseq_method(head).unwrap_or(""), code);
        } else {
            self.request(Dir::Out, proto, first.split(' ').next().unwrap_or(""));
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .counts
            .iter()
            .map(|((dir, proto, method, status), n)| {
                serde_json::json!({
                    "direction": if *dir == Dir::In { "in" } else { "out" },
                    "transport": proto,
                    "method": method,
                    "status": if *status == 0 { String::new() } else { status.to_string() },
                    "count": n,
                })
            })
            .collect();
        serde_json::Value::Array(rows)
    }

    pub fn get(&self, dir: Dir, proto: Proto, method: &str, status: u16) -> u64 {
        self.counts.get(&(dir, proto.name(), method_label(method), status)).copied().unwrap_or(0)
    }
}

/// The method of the CSeq header in a serialized message (our own output
/// uses the canonical name "CSeq").
fn cseq_method(head: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(head).ok()?;
    // Compared as bytes: a header line may hold UTF-8 where a str slice at 5
    // would cut a character (found by the fuzzer: "To: \u{10c}ip:...").
    let line = text.split("\r\n").find(|l| l.len() > 5 && l.as_bytes()[..5].eq_ignore_ascii_case(b"CSeq:"))?;
    line[5..].split_whitespace().nth(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outgoing_by_first_line_and_cseq() {
        let mut c = MessageCounters::default();
        c.outgoing(Proto::Udp, b"SIP/2.0 503 Service Unavailable\r\nVia: x\r\nCSeq: 1 INVITE\r\n\r\n");
        c.outgoing(Proto::Tcp, b"BYE sip:a@b SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n");
        c.outgoing(Proto::Udp, b"FOO sip:a@b SIP/2.0\r\n\r\n");
        c.request(Dir::In, Proto::Udp, "invite");
        assert_eq!(c.get(Dir::Out, Proto::Udp, "INVITE", 503), 1);
        assert_eq!(c.get(Dir::Out, Proto::Tcp, "BYE", 0), 1);
        assert_eq!(c.get(Dir::Out, Proto::Udp, "other", 0), 1);
        assert_eq!(c.get(Dir::In, Proto::Udp, "INVITE", 0), 1);
        assert_eq!(c.to_json().as_array().unwrap().len(), 4);
    }

    #[test]
    fn non_ascii_header_lines_do_not_panic() {
        let mut c = MessageCounters::default();
        c.outgoing(Proto::Udp, "SIP/2.0 400 Bad Request\r\nTo: \u{10c}ip:bob@c>\r\nCSeq: 1 INVITE\r\n\r\n".as_bytes());
        assert_eq!(c.get(Dir::Out, Proto::Udp, "INVITE", 400), 1);
    }
}
