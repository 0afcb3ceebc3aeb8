//! Wire parser: bytes -> SipMessage (syntax), then `validate` (the semantic
//! checks RFC 4475 expects). Liberal in whitespace, folding, compact names
//! and LF-only line ends; strict in the request line, scalars and
//! single-valued headers. Never panics on any input.

use super::headers::{canonical_name, parse_bounded};
use super::message::{Header, SipMessage, StartLine};
use super::params::{is_token, parse_name_addr, parse_via};
use super::uri::{parse_sip_uri, scheme_of};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Stream transports: the message is not complete yet.
    Incomplete,
    /// Over the configured maximum size.
    TooLarge,
    /// Cannot be parsed at all: drop and count.
    Malformed(&'static str),
}

/// Result of looking for one message at the front of a stream buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamFrame {
    NeedMore,
    /// Leading CRLFs (RFC 5626 keep-alive); the count of bytes to skip and
    /// whether it was a double-CRLF ping that wants a single-CRLF pong.
    KeepAlive { skip: usize, ping: bool },
    /// One full message of this many bytes (headers + Content-Length body).
    Message(usize),
}

fn find_header_end(buf: &[u8]) -> Option<(usize, usize)> {
    // (end of header block, start of body)
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Framing for TCP/TLS: the Content-Length header is mandatory.
pub fn stream_frame(buf: &[u8], max: usize) -> Result<StreamFrame, ParseError> {
    let lead = buf.iter().take_while(|&&c| c == b'\r' || c == b'\n').count();
    if lead > 0 {
        let ping = buf.starts_with(b"\r\n\r\n");
        return Ok(StreamFrame::KeepAlive { skip: if ping { 4 } else { lead.min(2) }, ping });
    }
    let Some((hend, bstart)) = find_header_end(buf) else {
        return if buf.len() > max { Err(ParseError::TooLarge) } else { Ok(StreamFrame::NeedMore) };
    };
    let head = std::str::from_utf8(&buf[..hend]).map_err(|_| ParseError::Malformed("non-utf8 header"))?;
    let mut cl = None;
    for line in head.split('\n').skip(1) {
        if let Some((n, v)) = line.split_once(':') {
            if canonical_name(n.trim()) == "Content-Length" {
                let n = parse_bounded(v, max as u64).ok_or(ParseError::Malformed("bad Content-Length"))?;
                // Two lengths on a stream: no way to know where the next message starts.
                if cl.is_some_and(|c| c != n) {
                    return Err(ParseError::Malformed("conflicting Content-Length"));
                }
                cl = Some(n);
            }
        }
    }
    let cl = cl.ok_or(ParseError::Malformed("stream message without Content-Length"))? as usize;
    let total = bstart + cl;
    if total > max {
        return Err(ParseError::TooLarge);
    }
    Ok(if buf.len() >= total { StreamFrame::Message(total) } else { StreamFrame::NeedMore })
}

/// Parse one message from a datagram or an exactly framed stream buffer.
/// Bytes after the Content-Length body are ignored (RFC 4475 dblreq).
pub fn parse_message(buf: &[u8], max: usize) -> Result<SipMessage, ParseError> {
    if buf.len() > max {
        return Err(ParseError::TooLarge);
    }
    let (hend, bstart) = find_header_end(buf).ok_or(ParseError::Malformed("no end of headers"))?;
    let head = std::str::from_utf8(&buf[..hend]).map_err(|_| ParseError::Malformed("non-utf8 header"))?;
    let mut lines = unfold(head).into_iter();
    let first = lines.next().ok_or(ParseError::Malformed("empty"))?;
    let start = parse_start_line(&first)?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(ParseError::Malformed("header without colon"))?;
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(ParseError::Malformed("bad header name"));
        }
        headers.push(Header { name: canonical_name(name).into_owned(), value: value.trim().to_string() });
    }
    let mut msg = SipMessage { start, headers, body: Vec::new() };
    let avail = &buf[bstart.min(buf.len())..];
    let cls: Vec<&str> = msg.headers.iter().filter(|h| h.name == "Content-Length").map(|h| h.value.as_str()).collect();
    match cls.as_slice() {
        [] => msg.body = avail.to_vec(),
        [v] => {
            let n = parse_bounded(v, max as u64).ok_or(ParseError::Malformed("bad Content-Length"))? as usize;
            if n > avail.len() {
                return Err(ParseError::Malformed("Content-Length larger than message"));
            }
            msg.body = avail[..n].to_vec();
        }
        _ => return Err(ParseError::Malformed("multiple Content-Length")),
    }
    Ok(msg)
}

/// Split into logical lines, joining continuation lines (leading SP/HT).
fn unfold(head: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in head.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if (line.starts_with(' ') || line.starts_with('\t')) && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            out.push(line.to_string());
        }
    }
    out
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/") {
        // SIP/2.0 SP 3DIGIT SP reason (reason may be empty, SP optional then).
        let (ver, rest) = rest.split_once(' ').ok_or(ParseError::Malformed("bad status line"))?;
        if ver != "2.0" {
            return Err(ParseError::Malformed("bad version"));
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Malformed("bad status code"));
        }
        let code: u16 = code.parse().map_err(|_| ParseError::Malformed("bad status code"))?;
        if !(100..=699).contains(&code) {
            return Err(ParseError::Malformed("status code out of range"));
        }
        return Ok(StartLine::Response { code, reason: reason.to_string() });
    }
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, uri, version] = parts.as_slice() else {
        return Err(ParseError::Malformed("bad request line"));
    };
    if !is_token(method) || scheme_of(uri).is_none() || uri.contains(['\t', '<', '>']) {
        return Err(ParseError::Malformed("bad request line"));
    }
    if !version.starts_with("SIP/") {
        return Err(ParseError::Malformed("bad request line"));
    }
    Ok(StartLine::Request { method: method.to_string(), uri: uri.to_string() })
}

/// Longest Call-ID accepted (bytes).
pub const MAX_CALL_ID: usize = 1024;

/// Semantic validation of a parsed message. Err carries the status to
/// answer a request with (400, or 505 for an unknown version).
pub fn validate(msg: &SipMessage, request_version: Option<&str>) -> Result<(), (u16, &'static str)> {
    let bad = |r| Err((400, r));
    if let Some(v) = request_version {
        if v != "SIP/2.0" {
            return Err((505, "Version Not Supported"));
        }
    }
    let vias = msg.values("Via");
    if vias.is_empty() {
        return bad("missing Via");
    }
    for v in &vias {
        parse_via(v).map_err(|e| (400, e))?;
    }
    for name in ["From", "To"] {
        let vals = msg.values(name);
        if vals.len() != 1 {
            return bad("From/To must have exactly one value");
        }
        parse_name_addr(&vals[0]).map_err(|e| (400, e))?;
    }
    if msg.count("Call-ID") != 1 || msg.get("Call-ID").is_none_or(|c| c.is_empty() || c.contains(char::is_whitespace)) {
        return bad("bad Call-ID");
    }
    // No RFC limit; a bound keeps absurd ids out of every table and log line.
    if msg.get("Call-ID").is_some_and(|c| c.len() > MAX_CALL_ID) {
        return bad("Call-ID too long");
    }
    if msg.count("CSeq") != 1 {
        return bad("bad CSeq");
    }
    let (_, cseq_method) = msg.cseq().ok_or((400, "bad CSeq"))?;
    if let Some(m) = msg.method() {
        if m != cseq_method {
            return bad("CSeq method does not match");
        }
        let uri = msg.uri().unwrap_or("");
        let scheme = scheme_of(uri).unwrap_or("");
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            match parse_sip_uri(uri) {
                Some(u) if !u.has_headers => {}
                _ => return bad("bad Request-URI"),
            }
        }
    }
    match msg.count("Max-Forwards") {
        0 => {}
        1 => {
            parse_bounded(msg.get("Max-Forwards").unwrap_or(""), 255).ok_or((400, "bad Max-Forwards"))?;
        }
        _ => return bad("multiple Max-Forwards"),
    }
    if msg.count("Content-Type") > 1 {
        return bad("multiple Content-Type");
    }
    if let Some(e) = msg.get("Expires") {
        parse_bounded(e, u32::MAX as u64).ok_or((400, "bad Expires"))?;
    }
    if let Some(r) = msg.get("Retry-After") {
        let n = r.split([';', '(']).next().unwrap_or("");
        parse_bounded(n, u32::MAX as u64).ok_or((400, "bad Retry-After"))?;
    }
    for w in msg.values("Warning") {
        let code = w.split_whitespace().next().unwrap_or("");
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return bad("bad Warning");
        }
    }
    if let Some(d) = msg.get("Date") {
        if !d.trim_end().ends_with("GMT") {
            return bad("bad Date");
        }
    }
    for c in msg.values("Contact") {
        if c == "*" {
            continue;
        }
        let na = parse_name_addr(&c).map_err(|e| (400, e))?;
        if let Some(Some(exp)) = super::params::param(&na.params, "expires") {
            parse_bounded(exp, u32::MAX as u64).ok_or((400, "bad Contact expires"))?;
        }
    }
    for name in ["Route", "Record-Route"] {
        for r in msg.values(name) {
            parse_name_addr(&r).map_err(|e| (400, e))?;
        }
    }
    Ok(())
}

/// The SIP-Version of a request line (validated separately so that an
/// unknown version gets 505 rather than a silent drop).
pub fn request_version(buf: &[u8]) -> Option<&str> {
    let end = buf.iter().position(|&c| c == b'\r' || c == b'\n')?;
    let line = std::str::from_utf8(&buf[..end]).ok()?;
    if line.starts_with("SIP/") {
        return None;
    }
    line.rsplit(' ').next()
}

/// The headers of a request whose start line or body framing is broken, so
/// that a 400/505 can still be addressed. None for responses, non-UTF-8
/// headers, or a first line that does not begin with a method token.
fn salvage_request(buf: &[u8], max: usize) -> Option<SipMessage> {
    if buf.len() > max {
        return None;
    }
    let hend = find_header_end(buf).map(|(h, _)| h).unwrap_or(buf.len());
    let head = std::str::from_utf8(&buf[..hend]).ok()?;
    let mut lines = unfold(head).into_iter();
    let first = lines.next()?;
    let method = first.split(' ').next().filter(|m| !m.is_empty() && is_token(m) && !first.starts_with("SIP/"))?;
    let mut msg = SipMessage::request(method, "");
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim_end_matches([' ', '\t']);
            if is_token(name) {
                msg.headers.push(Header { name: canonical_name(name).into_owned(), value: value.trim().to_string() });
            }
        }
    }
    Some(msg)
}

/// Parse and validate in one go; Err(Ok(..)) is "answerable" with a status.
pub fn parse_and_validate(buf: &[u8], max: usize) -> Result<SipMessage, (Option<SipMessage>, u16, &'static str)> {
    let msg = match parse_message(buf, max) {
        Ok(m) => m,
        Err(ParseError::Malformed(r)) => {
            // Answerable when the headers a response needs can be read (RFC 4475
            // expects 400 / 505 for a bad request line or Content-Length).
            let salvaged = salvage_request(buf, max);
            let code = match request_version(buf) {
                Some(v) if v.starts_with("SIP/") && v != "SIP/2.0" => 505,
                _ => 400,
            };
            return Err((salvaged, code, if code == 505 { "Version Not Supported" } else { r }));
        }
        Err(ParseError::TooLarge) => return Err((None, 513, "message too large")),
        Err(ParseError::Incomplete) => return Err((None, 400, "incomplete")),
    };
    match validate(&msg, request_version(buf)) {
        Ok(()) => Ok(msg),
        Err((code, r)) => Err((Some(msg), code, r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INV: &str = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: sip:bob@c\r\ni: abc\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nl: 4\r\n\r\nbodyEXTRA";

    #[test]
    fn parses_compact_and_body() {
        let m = parse_and_validate(INV.as_bytes(), 65535).unwrap();
        assert_eq!(m.call_id(), Some("abc"));
        assert_eq!(m.body, b"body");
        assert_eq!(m.method(), Some("INVITE"));
    }

    #[test]
    fn stream_framing() {
        let b = INV.as_bytes();
        let n = b.len() - 5;
        assert_eq!(stream_frame(b, 65535), Ok(StreamFrame::Message(n)));
        assert_eq!(stream_frame(&b[..n - 1], 65535), Ok(StreamFrame::NeedMore));
        assert_eq!(stream_frame(b"\r\n\r\nINVITE", 65535), Ok(StreamFrame::KeepAlive { skip: 4, ping: true }));
        assert_eq!(stream_frame(&b[..40], 20), Err(ParseError::TooLarge));
    }

    #[test]
    fn rejects_garbage_without_panic() {
        for s in ["", "\r\n\r\n", "INVITE\r\n\r\n", "SIP/2.0 99999 x\r\n\r\n", "\u{0}\u{1}:\r\n\r\n"] {
            assert!(parse_and_validate(s.as_bytes(), 65535).is_err(), "{s:?}");
        }
    }
}
