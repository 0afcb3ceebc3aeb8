//! drachtio control protocol framing: `<len>#<payload>`, payload
//! `<msgId>|<type>|<fields...>[\r\n<SIP message>]`.

/// Incremental decoder for one control connection, with a size bound.
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    BadLength,
    TooLarge,
    NotUtf8,
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        FrameDecoder { buf: Vec::new(), max }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Next complete frame payload, if any.
    pub fn next_frame(&mut self) -> Result<Option<String>, DecodeError> {
        let Some(hash) = self.buf.iter().take(12).position(|&c| c == b'#') else {
            return if self.buf.len() >= 12 { Err(DecodeError::BadLength) } else { Ok(None) };
        };
        let len: usize = std::str::from_utf8(&self.buf[..hash])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .ok_or(DecodeError::BadLength)?;
        if len > self.max {
            return Err(DecodeError::TooLarge);
        }
        let total = hash + 1 + len;
        if self.buf.len() < total {
            return Ok(None);
        }
        let payload = String::from_utf8(self.buf[hash + 1..total].to_vec()).map_err(|_| DecodeError::NotUtf8)?;
        self.buf.drain(..total);
        Ok(Some(payload))
    }
}

pub fn encode(payload: &str) -> Vec<u8> {
    let mut out = format!("{}#", payload.len()).into_bytes();
    out.extend_from_slice(payload.as_bytes());
    out
}

/// A decoded control frame: the leader fields and the SIP text after CRLF.
pub struct Frame<'a> {
    pub fields: Vec<&'a str>,
    pub sip: Option<&'a str>,
}

pub fn split_frame(payload: &str) -> Frame<'_> {
    let (leader, sip) = match payload.find("\r\n") {
        Some(i) => (&payload[..i], Some(&payload[i + 2..])),
        None => (payload, None),
    };
    Frame { fields: leader.split('|').collect(), sip }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_split_and_joined_frames() {
        let mut d = FrameDecoder::new(1000);
        let a = encode("id1|ping");
        let b = encode("id2|route|invite");
        let mut all = a.clone();
        all.extend_from_slice(&b);
        d.push(&all[..5]);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&all[5..]);
        assert_eq!(d.next_frame().unwrap().as_deref(), Some("id1|ping"));
        assert_eq!(d.next_frame().unwrap().as_deref(), Some("id2|route|invite"));
        assert_eq!(d.next_frame(), Ok(None));
    }

    #[test]
    fn utf8_length_counts_bytes() {
        let e = encode("x|é");
        assert!(e.starts_with(b"4#"));
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut d = FrameDecoder::new(10);
        d.push(b"abc#xyz");
        assert_eq!(d.next_frame(), Err(DecodeError::BadLength));
        let mut d = FrameDecoder::new(10);
        d.push(b"99#xyz");
        assert_eq!(d.next_frame(), Err(DecodeError::TooLarge));
    }
}
