//! Header names (compact forms, canonical case) and scalar header values.

use std::borrow::Cow;

const COMPACT: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

const KNOWN: &[&str] = &[
    "Accept", "Allow", "Authorization", "Call-ID", "Contact", "Content-Length", "Content-Type",
    "CSeq", "Date", "Event", "Expires", "From", "Max-Forwards", "Min-SE", "Min-Expires",
    "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Require", "Retry-After", "Route", "RSeq",
    "Server", "Session-Expires", "Subject", "Subscription-State", "Supported", "To",
    "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
];

/// Expand compact forms and normalize the case of well-known names; unknown
/// names are kept as sent (comparisons are case-insensitive anyway).
pub fn canonical_name(name: &str) -> Cow<'_, str> {
    if name.len() == 1 {
        for (c, full) in COMPACT {
            if name.eq_ignore_ascii_case(c) {
                return Cow::Borrowed(full);
            }
        }
    }
    for k in KNOWN {
        if name.eq_ignore_ascii_case(k) {
            return Cow::Borrowed(k);
        }
    }
    Cow::Borrowed(name)
}

/// Parse a decimal number of at most `max`, allowing leading zeros.
pub fn parse_bounded(s: &str, max: u64) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = s.trim_start_matches('0');
    if t.len() > 20 {
        return None;
    }
    let v: u64 = if t.is_empty() { 0 } else { t.parse().ok()? };
    (v <= max).then_some(v)
}

/// CSeq: sequence number below 2**31 and a method token.
pub fn parse_cseq(v: &str) -> Option<(u32, String)> {
    let mut it = v.split_whitespace();
    let num = parse_bounded(it.next()?, (1 << 31) - 1)? as u32;
    let method = it.next()?;
    if it.next().is_some() || !super::params::is_token(method) {
        return None;
    }
    Some((num, method.to_string()))
}

/// Session-Expires / Min-SE: delta-seconds then optional params (refresher).
pub fn parse_session_expires(v: &str) -> Option<(u64, Option<String>)> {
    let (num, rest) = match v.find(';') {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, ""),
    };
    let secs = parse_bounded(num, u32::MAX as u64)?;
    let params = super::params::parse_params(rest).ok()?;
    let refresher = super::params::param(&params, "refresher").flatten().map(|s| s.to_ascii_lowercase());
    Some((secs, refresher))
}

/// Does a comma-separated option-tag header (Require/Supported) list `tag`?
pub fn has_option_tag(value: Option<&str>, tag: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(tag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case() {
        assert_eq!(canonical_name("i"), "Call-ID");
        assert_eq!(canonical_name("cseq"), "CSeq");
        assert_eq!(canonical_name("X-Foo"), "X-Foo");
    }

    #[test]
    fn scalars() {
        assert_eq!(parse_cseq("0009 INVITE"), Some((9, "INVITE".into())));
        assert_eq!(parse_cseq("36893488147419103232 INVITE"), None);
        assert_eq!(parse_bounded("0068", 255), Some(68));
        assert_eq!(parse_bounded("300", 255), None);
        assert_eq!(parse_session_expires("1800;refresher=uac"), Some((1800, Some("uac".into()))));
    }
}
