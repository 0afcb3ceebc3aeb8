//! Certificate fingerprints as SDP carries them (RFC 8122 `a=fingerprint`).
//!
//! Parsing is liberal the way real SDP is: any case for the hash name, with or
//! without a space after the colon, upper or lower case hex.
use openssl::hash::MessageDigest;
use openssl::x509::X509Ref;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub const ALL: [HashAlg; 5] = [HashAlg::Sha1, HashAlg::Sha224, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    pub fn parse(name: &str) -> Option<HashAlg> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sha-1" | "sha1" => Some(HashAlg::Sha1),
            "sha-224" | "sha224" => Some(HashAlg::Sha224),
            "sha-256" | "sha256" => Some(HashAlg::Sha256),
            "sha-384" | "sha384" => Some(HashAlg::Sha384),
            "sha-512" | "sha512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// The hash name as RFC 8122 spells it (IANA "Hash Function Textual Names").
    pub fn sdp_name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha-1",
            HashAlg::Sha224 => "sha-224",
            HashAlg::Sha256 => "sha-256",
            HashAlg::Sha384 => "sha-384",
            HashAlg::Sha512 => "sha-512",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            HashAlg::Sha1 => MessageDigest::sha1(),
            HashAlg::Sha224 => MessageDigest::sha224(),
            HashAlg::Sha256 => MessageDigest::sha256(),
            HashAlg::Sha384 => MessageDigest::sha384(),
            HashAlg::Sha512 => MessageDigest::sha512(),
        }
    }

    fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub hash: HashAlg,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FingerprintError {
    UnknownHash(String),
    BadValue(String),
}

impl std::fmt::Display for FingerprintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FingerprintError::UnknownHash(h) => write!(f, "unsupported fingerprint hash '{h}'"),
            FingerprintError::BadValue(v) => write!(f, "malformed fingerprint value '{v}'"),
        }
    }
}

impl Fingerprint {
    /// From a hash name and a colon-separated hex value.
    pub fn parse(hash: &str, value: &str) -> Result<Fingerprint, FingerprintError> {
        let alg = HashAlg::parse(hash).ok_or_else(|| FingerprintError::UnknownHash(hash.to_string()))?;
        let bad = || FingerprintError::BadValue(value.to_string());
        let bytes = value
            .trim()
            .split(':')
            .map(|pair| if pair.len() == 2 { u8::from_str_radix(pair, 16).map_err(|_| bad()) } else { Err(bad()) })
            .collect::<Result<Vec<u8>, _>>()?;
        if bytes.len() != alg.len() {
            return Err(bad());
        }
        Ok(Fingerprint { hash: alg, bytes })
    }

    /// From the text after `a=fingerprint:`, e.g. ` SHA-1 49:27:...`.
    pub fn parse_attribute(text: &str) -> Result<Fingerprint, FingerprintError> {
        let mut parts = text.split_whitespace();
        let hash = parts.next().unwrap_or("");
        let value = parts.next().unwrap_or("");
        Fingerprint::parse(hash, value)
    }

    pub fn of_cert(cert: &X509Ref, hash: HashAlg) -> Fingerprint {
        let bytes = cert.digest(hash.digest()).map(|d| d.to_vec()).unwrap_or_default();
        Fingerprint { hash, bytes }
    }

    /// Upper-case colon-separated hex, the form SDP uses.
    pub fn value(&self) -> String {
        let mut s = String::with_capacity(self.bytes.len() * 3);
        for (i, b) in self.bytes.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            s.push_str(&format!("{b:02X}"));
        }
        s
    }

    /// True when `cert` hashes to this fingerprint.
    pub fn matches(&self, cert: &X509Ref) -> bool {
        let actual = Fingerprint::of_cert(cert, self.hash);
        !actual.bytes.is_empty() && openssl::memcmp::eq(&actual.bytes, &self.bytes)
    }
}

/// A certificate matches a set of SDP fingerprints when any one of them matches
/// (RFC 8122 5: several lines may be present, e.g. different hashes).
pub fn cert_matches_any(cert: &X509Ref, expected: &[Fingerprint]) -> bool {
    expected.iter().any(|fp| fp.matches(cert))
}
