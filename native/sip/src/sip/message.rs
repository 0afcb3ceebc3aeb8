//! SIP message model and serializer.
//!
//! Headers are kept as ordered (name, value) lines so that a message can be
//! forwarded or echoed without losing anything a peer or the app relies on;
//! names are canonicalized (compact forms expanded) when parsed or set.

use super::headers::canonical_name;
use super::params::split_list;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipMessage {
    pub start: StartLine,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

impl SipMessage {
    pub fn request(method: &str, uri: &str) -> Self {
        SipMessage {
            start: StartLine::Request { method: method.to_string(), uri: uri.to_string() },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn response(code: u16, reason: &str) -> Self {
        SipMessage {
            start: StartLine::Response { code, reason: reason.to_string() },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            _ => None,
        }
    }

    pub fn uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            _ => None,
        }
    }

    pub fn set_uri(&mut self, new_uri: &str) {
        if let StartLine::Request { uri, .. } = &mut self.start {
            *uri = new_uri.to_string();
        }
    }

    pub fn code(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// First value of a header (the whole line value, lists not split).
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = canonical_name(name);
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(&name)).map(|h| h.value.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn count(&self, name: &str) -> usize {
        let name = canonical_name(name);
        self.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(&name)).count()
    }

    /// All values of a list header (Via, Route, Contact...), split on
    /// top-level commas across every line carrying that header.
    pub fn values(&self, name: &str) -> Vec<String> {
        let name = canonical_name(name);
        let mut out = Vec::new();
        for h in self.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(&name)) {
            for v in split_list(&h.value) {
                if !v.is_empty() {
                    out.push(v);
                }
            }
        }
        out
    }

    pub fn remove(&mut self, name: &str) {
        let name = canonical_name(name);
        self.headers.retain(|h| !h.name.eq_ignore_ascii_case(&name));
    }

    pub fn push(&mut self, name: &str, value: &str) {
        self.headers.push(Header { name: canonical_name(name).into_owned(), value: value.to_string() });
    }

    /// Replace every occurrence of `name` with one line, at the position of the
    /// first occurrence (or at the end).
    pub fn set(&mut self, name: &str, value: &str) {
        let cname = canonical_name(name).into_owned();
        let pos = self.headers.iter().position(|h| h.name.eq_ignore_ascii_case(&cname));
        self.headers.retain(|h| !h.name.eq_ignore_ascii_case(&cname));
        let h = Header { name: cname, value: value.to_string() };
        match pos {
            Some(p) if p <= self.headers.len() => self.headers.insert(p, h),
            _ => self.headers.push(h),
        }
    }

    pub fn insert_front(&mut self, name: &str, value: &str) {
        self.headers.insert(0, Header { name: canonical_name(name).into_owned(), value: value.to_string() });
    }

    /// Serialize; Content-Length is always recomputed from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(512 + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                s.push_str(method);
                s.push(' ');
                s.push_str(uri);
                s.push_str(" SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                s.push_str("SIP/2.0 ");
                s.push_str(&code.to_string());
                s.push(' ');
                s.push_str(reason);
                s.push_str("\r\n");
            }
        }
        for h in &self.headers {
            if h.name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            s.push_str(&h.name);
            s.push_str(": ");
            s.push_str(&h.value);
            s.push_str("\r\n");
        }
        s.push_str("Content-Length: ");
        s.push_str(&self.body.len().to_string());
        s.push_str("\r\n\r\n");
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.to_bytes()).into_owned()
    }

    pub fn cseq(&self) -> Option<(u32, String)> {
        super::headers::parse_cseq(self.get("CSeq")?)
    }

    pub fn call_id(&self) -> Option<&str> {
        self.get("Call-ID")
    }
}
