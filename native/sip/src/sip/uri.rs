//! SIP/SIPS URI parsing: only what routing needs (host, port, transport,
//! lr); other schemes are accepted syntactically and kept opaque.

use super::params::{param, Params};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    pub scheme: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    pub has_headers: bool,
}

impl SipUri {
    pub fn is_sips(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("sips")
    }

    pub fn transport(&self) -> Option<String> {
        param(&self.params, "transport").flatten().map(|s| s.to_ascii_lowercase())
    }

    pub fn lr(&self) -> bool {
        param(&self.params, "lr").is_some()
    }

    pub fn maddr(&self) -> Option<&str> {
        param(&self.params, "maddr").flatten()
    }
}

/// `scheme ":"` with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
pub fn scheme_of(uri: &str) -> Option<&str> {
    let i = uri.find(':')?;
    let s = &uri[..i];
    let mut b = s.bytes();
    let first = b.next()?;
    if !first.is_ascii_alphabetic() || !b.all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c)) {
        return None;
    }
    Some(s)
}

pub fn parse_sip_uri(uri: &str) -> Option<SipUri> {
    let scheme = scheme_of(uri)?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    let rest = &uri[scheme.len() + 1..];
    if rest.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (rest, has_headers) = match rest.find('?') {
        // '?' may legally appear in the user part (before '@').
        Some(q) if !rest[q..].contains('@') => (&rest[..q], true),
        _ => (rest, false),
    };
    let (user, hostpart) = match rest.rfind('@') {
        Some(at) => (Some(rest[..at].to_string()), &rest[at + 1..]),
        None => (None, rest),
    };
    let (hostport, params) = match hostpart.find(';') {
        Some(i) => (&hostpart[..i], &hostpart[i..]),
        None => (hostpart, ""),
    };
    let (host, port) = super::params::split_host_port(hostport)?;
    if !valid_host(&host) {
        return None;
    }
    let params = parse_uri_params(params)?;
    Some(SipUri { scheme: scheme.to_ascii_lowercase(), user, host, port, params, has_headers })
}

fn valid_host(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !h.is_empty() && h.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

/// URI parameters use a wider character set than header params (escapes,
/// `[]/:&+$`), so they get their own liberal check.
fn parse_uri_params(s: &str) -> Option<Params> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for p in s.strip_prefix(';')?.split(';') {
        let (n, v) = match p.find('=') {
            Some(i) => (&p[..i], Some(p[i + 1..].to_string())),
            None => (p, None),
        };
        if n.is_empty() {
            return None;
        }
        out.push((n.to_string(), v));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sip_uris() {
        let u = parse_sip_uri("sip:alice@127.0.0.1:5070;transport=TCP;lr").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert!(u.lr());
        let u = parse_sip_uri("sips:[::1]:5061").unwrap();
        assert!(u.is_sips());
        assert_eq!(u.host, "[::1]");
        assert!(parse_sip_uri("sip:user@example.com?Route=%3Csip:x%3E").unwrap().has_headers);
        assert!(parse_sip_uri("sip:a b@c").is_none());
        assert!(scheme_of("1sip:x").is_none());
    }
}
