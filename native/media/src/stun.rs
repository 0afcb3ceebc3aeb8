//! STUN (RFC 8489, formerly 5389) messages as ICE connectivity checks use
//! them: Binding requests and responses with XOR-MAPPED-ADDRESS, USERNAME,
//! MESSAGE-INTEGRITY (HMAC-SHA1, short-term credentials), FINGERPRINT,
//! PRIORITY, USE-CANDIDATE, ICE-CONTROLLING/ICE-CONTROLLED and ERROR-CODE.
//! Parsing borrows from the datagram; integrity and fingerprint are checked
//! over the exact bytes received.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

pub const MAGIC_COOKIE: u32 = 0x2112_A442;
pub const HEADER_LEN: usize = 20;
pub const BINDING: u16 = 0x0001;
const FINGERPRINT_XOR: u32 = 0x5354_554e;

pub mod attr {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const SOFTWARE: u16 = 0x8022;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0x000,
            Class::Indication => 0x010,
            Class::Success => 0x100,
            Class::Error => 0x110,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunError {
    /// Shorter than a header, length not matching the datagram, bad attribute framing.
    Malformed,
    /// First two bits not zero or no magic cookie (not RFC 5389+ STUN).
    NotStun,
}

/// Where the MESSAGE-INTEGRITY attribute sits and what it says.
#[derive(Debug, Clone, Copy)]
struct Integrity {
    /// Offset of the attribute header.
    offset: usize,
    mac: [u8; 20],
}

#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub method: u16,
    pub class: Class,
    pub transaction_id: [u8; 12],
    pub username: Option<&'a [u8]>,
    pub priority: Option<u32>,
    pub use_candidate: bool,
    pub ice_controlling: Option<u64>,
    pub ice_controlled: Option<u64>,
    pub xor_mapped_address: Option<SocketAddr>,
    pub error_code: Option<(u16, &'a str)>,
    /// A comprehension-required attribute we do not know (answered with 420).
    pub unknown_required: Option<u16>,
    integrity: Option<Integrity>,
    /// Offset of the FINGERPRINT header and its value.
    fingerprint: Option<(usize, u32)>,
    raw: &'a [u8],
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl<'a> Message<'a> {
    /// Parses one STUN message. Attributes after MESSAGE-INTEGRITY other than
    /// FINGERPRINT are ignored, and nothing may follow FINGERPRINT (RFC 8489 14.5, 14.7).
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, StunError> {
        if buf.len() < HEADER_LEN {
            return Err(StunError::Malformed);
        }
        let ty = be16(buf);
        if ty & 0xC000 != 0 || be32(&buf[4..]) != MAGIC_COOKIE {
            return Err(StunError::NotStun);
        }
        let len = be16(&buf[2..]) as usize;
        if len % 4 != 0 || HEADER_LEN + len != buf.len() {
            return Err(StunError::Malformed);
        }
        let class = match ty & 0x0110 {
            0x000 => Class::Request,
            0x010 => Class::Indication,
            0x100 => Class::Success,
            _ => Class::Error,
        };
        let method = (ty & 0x000F) | ((ty & 0x00E0) >> 1) | ((ty & 0x3E00) >> 2);
        let mut tid = [0u8; 12];
        tid.copy_from_slice(&buf[8..20]);
        let mut m = Message {
            method,
            class,
            transaction_id: tid,
            username: None,
            priority: None,
            use_candidate: false,
            ice_controlling: None,
            ice_controlled: None,
            xor_mapped_address: None,
            error_code: None,
            unknown_required: None,
            integrity: None,
            fingerprint: None,
            raw: buf,
        };
        let mut off = HEADER_LEN;
        while off < buf.len() {
            if buf.len() - off < 4 {
                return Err(StunError::Malformed);
            }
            let at = be16(&buf[off..]);
            let alen = be16(&buf[off + 2..]) as usize;
            let vstart = off + 4;
            let padded = (alen + 3) & !3;
            if buf.len() - vstart < padded {
                return Err(StunError::Malformed);
            }
            let v = &buf[vstart..vstart + alen];
            if m.fingerprint.is_some() {
                return Err(StunError::Malformed);
            }
            if at == attr::FINGERPRINT {
                if alen != 4 {
                    return Err(StunError::Malformed);
                }
                m.fingerprint = Some((off, be32(v)));
            } else if m.integrity.is_none() {
                m.attribute(at, v, off)?;
            }
            off = vstart + padded;
        }
        Ok(m)
    }

    fn attribute(&mut self, at: u16, v: &'a [u8], off: usize) -> Result<(), StunError> {
        match at {
            attr::USERNAME => self.username = Some(v),
            attr::PRIORITY if v.len() == 4 => self.priority = Some(be32(v)),
            attr::USE_CANDIDATE => self.use_candidate = true,
            attr::ICE_CONTROLLING if v.len() == 8 => self.ice_controlling = Some(u64::from_be_bytes(v.try_into().unwrap())),
            attr::ICE_CONTROLLED if v.len() == 8 => self.ice_controlled = Some(u64::from_be_bytes(v.try_into().unwrap())),
            attr::XOR_MAPPED_ADDRESS => self.xor_mapped_address = Some(xor_address(v, &self.transaction_id)?),
            attr::ERROR_CODE if v.len() >= 4 => {
                let code = (v[2] & 0x7) as u16 * 100 + v[3] as u16;
                self.error_code = Some((code, std::str::from_utf8(&v[4..]).unwrap_or("")));
            }
            attr::MESSAGE_INTEGRITY => {
                if v.len() != 20 {
                    return Err(StunError::Malformed);
                }
                let mut mac = [0u8; 20];
                mac.copy_from_slice(v);
                self.integrity = Some(Integrity { offset: off, mac });
            }
            attr::PRIORITY | attr::ICE_CONTROLLING | attr::ICE_CONTROLLED | attr::ERROR_CODE => {
                return Err(StunError::Malformed)
            }
            a if a < 0x8000 && !matches!(a, attr::MAPPED_ADDRESS | attr::UNKNOWN_ATTRIBUTES) => {
                self.unknown_required.get_or_insert(a);
            }
            _ => {}
        }
        Ok(())
    }

    pub fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// Checks MESSAGE-INTEGRITY with a short-term key (the password). False
    /// when absent or wrong. The constant-time compare keeps the MAC secret.
    pub fn verify_integrity(&self, key: &[u8]) -> bool {
        let Some(i) = self.integrity else { return false };
        match hmac_sha1_adjusted(key, self.raw, i.offset) {
            Ok(mac) => openssl::memcmp::eq(&mac, &i.mac),
            Err(_) => false,
        }
    }

    /// Some(true/false) when a FINGERPRINT is present, None otherwise.
    pub fn verify_fingerprint(&self) -> Option<bool> {
        let (off, value) = self.fingerprint?;
        Some(fingerprint_adjusted(self.raw, off) == value)
    }
}

/// HMAC-SHA1 over the message up to `mi_offset` with the header length
/// covering the MESSAGE-INTEGRITY attribute (RFC 8489 14.5).
fn hmac_sha1_adjusted(key: &[u8], msg: &[u8], mi_offset: usize) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let pkey = PKey::hmac(key)?;
    let mut s = Signer::new(MessageDigest::sha1(), &pkey)?;
    let len = (mi_offset + 24 - HEADER_LEN) as u16;
    s.update(&msg[..2])?;
    s.update(&len.to_be_bytes())?;
    s.update(&msg[4..mi_offset])?;
    s.sign_to_vec()
}

/// CRC-32 of the message up to the FINGERPRINT attribute, length field
/// covering it, XOR 0x5354554e (RFC 8489 14.7).
fn fingerprint_adjusted(msg: &[u8], fp_offset: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&msg[..2]);
    h.update(&((fp_offset + 8 - HEADER_LEN) as u16).to_be_bytes());
    h.update(&msg[4..fp_offset]);
    h.finalize() ^ FINGERPRINT_XOR
}

fn xor_address(v: &[u8], tid: &[u8; 12]) -> Result<SocketAddr, StunError> {
    if v.len() < 4 {
        return Err(StunError::Malformed);
    }
    let port = be16(&v[2..]) ^ (MAGIC_COOKIE >> 16) as u16;
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    mask[4..].copy_from_slice(tid);
    match (v[1], v.len()) {
        (0x01, 8) => {
            let mut a = [0u8; 4];
            for i in 0..4 {
                a[i] = v[4 + i] ^ mask[i];
            }
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port))
        }
        (0x02, 20) => {
            let mut a = [0u8; 16];
            for i in 0..16 {
                a[i] = v[4 + i] ^ mask[i];
            }
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        _ => Err(StunError::Malformed),
    }
}

/// Serializes one message; attributes are appended in call order, then
/// `finish` adds MESSAGE-INTEGRITY (when a key is given) and FINGERPRINT.
pub struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    pub fn new(method: u16, class: Class, transaction_id: &[u8; 12]) -> Builder {
        let m = method & 0x0FFF;
        let ty = (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | class.bits();
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&ty.to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(transaction_id);
        Builder { buf }
    }

    fn set_len(&mut self) {
        let len = (self.buf.len() - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
    }

    pub fn attribute(mut self, at: u16, value: &[u8]) -> Builder {
        self.buf.extend_from_slice(&at.to_be_bytes());
        self.buf.extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
        self
    }

    pub fn xor_mapped_address(self, addr: SocketAddr) -> Builder {
        let tid: [u8; 12] = self.buf[8..20].try_into().unwrap();
        let mut mask = [0u8; 16];
        mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        mask[4..].copy_from_slice(&tid);
        let mut v = vec![0u8];
        let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
        match addr.ip() {
            IpAddr::V4(ip) => {
                v.push(0x01);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend(ip.octets().iter().zip(mask.iter()).map(|(a, m)| a ^ m));
            }
            IpAddr::V6(ip) => {
                v.push(0x02);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend(ip.octets().iter().zip(mask.iter()).map(|(a, m)| a ^ m));
            }
        }
        self.attribute(attr::XOR_MAPPED_ADDRESS, &v)
    }

    pub fn username(self, name: &str) -> Builder {
        self.attribute(attr::USERNAME, name.as_bytes())
    }

    pub fn priority(self, p: u32) -> Builder {
        self.attribute(attr::PRIORITY, &p.to_be_bytes())
    }

    pub fn use_candidate(self) -> Builder {
        self.attribute(attr::USE_CANDIDATE, &[])
    }

    pub fn ice_controlling(self, tie: u64) -> Builder {
        self.attribute(attr::ICE_CONTROLLING, &tie.to_be_bytes())
    }

    pub fn ice_controlled(self, tie: u64) -> Builder {
        self.attribute(attr::ICE_CONTROLLED, &tie.to_be_bytes())
    }

    pub fn error_code(self, code: u16, reason: &str) -> Builder {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(reason.as_bytes());
        self.attribute(attr::ERROR_CODE, &v)
    }

    /// Appends MESSAGE-INTEGRITY (if `key`) and FINGERPRINT and returns the bytes.
    pub fn finish(mut self, key: Option<&[u8]>) -> Vec<u8> {
        if let Some(key) = key {
            let off = self.buf.len();
            // Never fails for HMAC-SHA1 with an in-memory key; an empty MAC
            // would only make the peer drop the response.
            let mac = hmac_sha1_adjusted(key, &self.buf, off).unwrap_or_else(|_| vec![0; 20]);
            self = self.attribute(attr::MESSAGE_INTEGRITY, &mac);
        }
        let off = self.buf.len();
        self.buf.extend_from_slice(&attr::FINGERPRINT.to_be_bytes());
        self.buf.extend_from_slice(&4u16.to_be_bytes());
        self.buf.extend_from_slice(&[0; 4]);
        self.set_len();
        let crc = fingerprint_adjusted(&self.buf, off);
        self.buf[off + 4..off + 8].copy_from_slice(&crc.to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests;
