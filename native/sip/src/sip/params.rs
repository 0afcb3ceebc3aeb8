//! Lexical helpers shared by header parsers: list splitting that respects
//! quotes and angle brackets, generic parameters, name-addr, and Via.

/// Token characters (RFC 3261 25.1).
pub fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Split a header value on commas that are outside quoted strings and <...>.
pub fn split_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_q, mut in_angle, mut esc) = (false, false, false);
    for ch in s.chars() {
        if in_q {
            cur.push(ch);
            if esc {
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else if ch == '"' {
                in_q = false;
            }
            continue;
        }
        match ch {
            '"' => {
                in_q = true;
                cur.push(ch)
            }
            '<' => {
                in_angle = true;
                cur.push(ch)
            }
            '>' => {
                in_angle = false;
                cur.push(ch)
            }
            ',' if !in_angle => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(ch),
        }
    }
    out.push(cur.trim().to_string());
    out
}

pub type Params = Vec<(String, Option<String>)>;

pub fn param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_deref())
}

/// Parse `;a=b;c` (leading ';' expected for each). Names must be tokens;
/// values are tokens, quoted strings or bracketed IPv6 references.
pub fn parse_params(s: &str) -> Result<Params, &'static str> {
    let mut out = Vec::new();
    let s = s.trim();
    if s.is_empty() {
        return Ok(out);
    }
    let Some(rest) = s.strip_prefix(';') else { return Err("garbage after value") };
    for part in split_outside_quotes(rest, ';') {
        let part = part.trim();
        let (name, value) = match part.find('=') {
            Some(i) => (part[..i].trim(), Some(part[i + 1..].trim())),
            None => (part, None),
        };
        if !is_token(name) {
            return Err("bad parameter name");
        }
        if let Some(v) = value {
            let ok = is_token(v)
                || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"') && quoted_ok(v))
                || (v.starts_with('[') && v.ends_with(']') && v.len() > 2);
            if !ok {
                return Err("bad parameter value");
            }
        }
        out.push((name.to_string(), value.map(|v| v.to_string())));
    }
    Ok(out)
}

fn quoted_ok(v: &str) -> bool {
    let inner = &v.as_bytes()[1..v.len() - 1];
    let mut esc = false;
    for &c in inner {
        if esc {
            esc = false;
        } else if c == b'\\' {
            esc = true;
        } else if c == b'"' {
            return false;
        }
    }
    !esc
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_q, mut esc) = (0, false, false);
    for (i, ch) in s.char_indices() {
        if in_q {
            if esc {
                esc = false
            } else if ch == '\\' {
                esc = true
            } else if ch == '"' {
                in_q = false
            }
        } else if ch == '"' {
            in_q = true
        } else if ch == sep {
            out.push(&s[start..i]);
            start = i + ch.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: String,
    pub params: Params,
}

impl NameAddr {
    pub fn tag(&self) -> Option<&str> {
        param(&self.params, "tag").flatten()
    }
}

/// Parse a name-addr or addr-spec followed by header parameters.
pub fn parse_name_addr(s: &str) -> Result<NameAddr, &'static str> {
    let s = s.trim();
    let (display, rest) = if let Some(q) = s.strip_prefix('"') {
        let end = closing_quote(q).ok_or("unterminated quoted string")?;
        (Some(q[..end].to_string()), q[end + 1..].trim_start())
    } else if let Some(lt) = s.find('<') {
        let d = s[..lt].trim();
        if !d.split_whitespace().all(is_token) {
            return Err("bad display name");
        }
        (if d.is_empty() { None } else { Some(d.to_string()) }, &s[lt..])
    } else {
        (None, s)
    };
    if let Some(inner) = rest.strip_prefix('<') {
        let gt = inner.find('>').ok_or("missing >")?;
        let uri = &inner[..gt];
        if uri.is_empty() || uri.chars().any(|c| c.is_whitespace()) {
            return Err("bad uri in <>");
        }
        let params = parse_params(&inner[gt + 1..])?;
        return Ok(NameAddr { display, uri: uri.to_string(), params });
    }
    if display.is_some() {
        return Err("display name without <uri>");
    }
    // addr-spec: the URI ends at the first ';' and may not contain , ? or spaces.
    let end = rest.find(';').unwrap_or(rest.len());
    let uri = rest[..end].trim();
    if uri.is_empty() || uri.contains(['?', ',', ' ', '\t', '<', '>']) || !uri.contains(':') {
        return Err("bad addr-spec");
    }
    let params = parse_params(&rest[end..])?;
    Ok(NameAddr { display: None, uri: uri.to_string(), params })
}

fn closing_quote(s: &str) -> Option<usize> {
    let mut esc = false;
    for (i, c) in s.char_indices() {
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == '"' {
            return Some(i);
        }
    }
    None
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn branch(&self) -> Option<&str> {
        param(&self.params, "branch").flatten()
    }
}

/// Parse one Via value: `SIP / 2.0 / UDP host[:port] *(;param)`.
pub fn parse_via(s: &str) -> Result<Via, &'static str> {
    let mut parts = s.splitn(3, '/');
    let name = parts.next().unwrap_or("").trim();
    let ver = parts.next().ok_or("via: no version")?.trim();
    let rest = parts.next().ok_or("via: no transport")?.trim_start();
    if !name.eq_ignore_ascii_case("SIP") || ver != "2.0" {
        return Err("via: bad protocol");
    }
    let tend = rest.find(|c: char| c.is_whitespace()).ok_or("via: no sent-by")?;
    let transport = &rest[..tend];
    if !is_token(transport) {
        return Err("via: bad transport");
    }
    let rest = rest[tend..].trim_start();
    let pend = rest.find(';').unwrap_or(rest.len());
    let sent_by = rest[..pend].trim();
    let (host, port) = split_host_port(sent_by).ok_or("via: bad sent-by")?;
    let params = parse_params(&rest[pend..])?;
    Ok(Via { transport: transport.to_ascii_uppercase(), host, port, params })
}

/// Split `host[:port]`, with bracketed IPv6 references.
pub fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim();
    let (host, port) = if let Some(r) = s.strip_prefix('[') {
        let end = r.find(']')?;
        let after = &r[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.trim()),
            None if after.is_empty() => None,
            None => return None,
        };
        (format!("[{}]", &r[..end]), port)
    } else {
        match s.rfind(':') {
            Some(i) => (s[..i].trim().to_string(), Some(s[i + 1..].trim())),
            None => (s.to_string(), None),
        }
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace()) {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_respect_quotes_and_brackets() {
        let v = split_list("\"a, b\" <sip:x@y;p=1,2>;q=1, <sip:z>");
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], "<sip:z>");
    }

    #[test]
    fn name_addr_forms() {
        let n = parse_name_addr("\"Bob \\\"B\\\"\" <sip:bob@h>;tag=12").unwrap();
        assert_eq!(n.uri, "sip:bob@h");
        assert_eq!(n.tag(), Some("12"));
        let n = parse_name_addr("sip:a@b;tag=x").unwrap();
        assert_eq!(n.uri, "sip:a@b");
        assert!(parse_name_addr("\"open <sip:a@b>").is_err());
        assert!(parse_name_addr("< sip:a@b >").is_err());
        assert!(parse_name_addr("<sip:a@b>;;;").is_err());
    }

    #[test]
    fn via_parsing() {
        let v = parse_via("SIP / 2.0 / UDP 10.0.0.1:5070 ; branch=z9hG4bKx;rport").unwrap();
        assert_eq!(v.host, "10.0.0.1");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.branch(), Some("z9hG4bKx"));
        assert!(parse_via("SIP/2.0/UDP 192.0.2.15;;,").is_err());
        let v = parse_via("SIP/2.0/TCP [::1]:5060;branch=z9hG4bK1").unwrap();
        assert_eq!(v.host, "[::1]");
    }
}
