//! The session list: what the traffic generator plays, whoever set it up.
//!
//! ```json
//! { "calls": [ { "legs": [
//!   { "local": "127.0.0.2:40000", "remote": "127.0.0.1:50000" },
//!   { "local": "127.0.0.2:40001", "remote": "127.0.0.1:50004",
//!     "srtp": { "profile": "AES_CM_128_HMAC_SHA1_80", "tx": "<hex>", "rx": "<hex>" } } ] } ] }
//! ```
//! `local` is where the generator's endpoint for that leg sends from and
//! receives on (several legs may share one local socket); `remote` is the
//! relay's port for that leg. What is sent on leg 0 must come back on leg 1
//! and the other way round. `tx` is the master key||salt we protect with,
//! `rx` the one the relay protects with toward us.
use std::net::SocketAddr;

use esbc_media::srtp::SrtpProfile;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct SessionList {
    pub calls: Vec<CallSpec>,
}

#[derive(Debug, Deserialize)]
pub struct CallSpec {
    pub legs: [LegSpec; 2],
}

#[derive(Debug, Deserialize)]
pub struct LegSpec {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    #[serde(default)]
    pub srtp: Option<SrtpSpec>,
}

#[derive(Debug, Deserialize)]
pub struct SrtpSpec {
    pub profile: String,
    pub tx: String,
    pub rx: String,
}

impl SrtpSpec {
    pub fn profile(&self) -> Result<SrtpProfile, String> {
        SrtpProfile::from_name(&self.profile).ok_or_else(|| format!("unknown SRTP profile {}", self.profile))
    }
}

pub fn parse(text: &str) -> Result<SessionList, String> {
    let list: SessionList = serde_json::from_str(text).map_err(|e| format!("session list: {e}"))?;
    for (i, c) in list.calls.iter().enumerate() {
        for l in &c.legs {
            if let Some(s) = &l.srtp {
                let p = s.profile()?;
                for k in [&s.tx, &s.rx] {
                    if hex(k).map(|v| v.len()) != Some(p.key_salt_len()) {
                        return Err(format!("call {i}: {} key must be {} bytes of hex", p.sdes_name(), p.key_salt_len()));
                    }
                }
            }
        }
    }
    Ok(list)
}

pub fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}
