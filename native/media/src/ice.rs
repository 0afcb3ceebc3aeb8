//! ICE-lite agent (RFC 8445 2.5, 7.3) for one leg, sans-IO.
//!
//! The SBC has one host candidate per component and never sends checks: it
//! answers the full agent's connectivity checks (always in the controlled
//! role), learns the peer's address from the pair the controlling agent
//! nominates (USE-CANDIDATE), and keeps sending only while consent is fresh
//! (RFC 7675: a valid check on the selected pair within the last 30 s).
//! Media and DTLS are accepted only from addresses that passed a check.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::leg::Component;
use crate::stun::{self, Builder, Class, Message};

/// RFC 7675 3: consent expires 30 s after the last valid check.
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Peer addresses remembered per component as validated (ICE checks from
/// several candidates of the peer); the oldest is forgotten first.
const MAX_VALIDATED: usize = 8;

const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// An ICE username fragment and password (RFC 8839 5.4).
#[derive(Clone, PartialEq, Eq)]
pub struct IceCredentials {
    pub ufrag: String,
    pub pwd: String,
}

impl std::fmt::Debug for IceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IceCredentials({})", self.ufrag)
    }
}

impl IceCredentials {
    /// Random credentials: 8 ice-chars of ufrag (>= 24 bits of randomness
    /// required), 24 of password (>= 128 bits required).
    pub fn generate() -> IceCredentials {
        IceCredentials { ufrag: random_ice_chars(8), pwd: random_ice_chars(24) }
    }

    /// RFC 8839 5.4: ufrag 4-256 and pwd 22-256 ice-chars.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |s: &str| s.bytes().all(|c| ICE_CHARS.contains(&c));
        if !(4..=256).contains(&self.ufrag.len()) || !ok(&self.ufrag) {
            return Err(format!("ICE ufrag '{}' must be 4-256 ice-chars", self.ufrag));
        }
        if !(22..=256).contains(&self.pwd.len()) || !ok(&self.pwd) {
            return Err("ICE pwd must be 22-256 ice-chars".into());
        }
        Ok(())
    }
}

fn random_ice_chars(n: usize) -> String {
    let mut raw = vec![0u8; n];
    openssl::rand::rand_bytes(&mut raw).expect("OpenSSL RNG");
    raw.iter().map(|b| ICE_CHARS[(*b & 63) as usize] as char).collect()
}

/// ICE parameters of a leg: ours and the peer's (unknown until its SDP is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceParams {
    pub local: IceCredentials,
    pub remote: Option<IceCredentials>,
}

/// Why a STUN datagram got no success response. Each is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceReject {
    /// Not parseable as STUN, or a message a lite agent never expects
    /// (responses, other methods): dropped.
    Malformed,
    /// FINGERPRINT missing or wrong: dropped silently (RFC 8445 7.3).
    Fingerprint,
    /// No USERNAME/MESSAGE-INTEGRITY (400), unknown username or wrong
    /// password (401): answered with the error, no integrity on it.
    Auth,
    /// Binding indication (keepalive): nothing to do, not an error.
    Indication,
}

/// What the leg should do with a STUN datagram.
#[derive(Debug)]
pub struct IceReply {
    /// Datagram to send back to the source (success or error response).
    pub response: Option<Vec<u8>>,
    pub outcome: Result<IceCheck, IceReject>,
}

/// A check that passed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceCheck {
    /// The pair became (or stayed) the selected one.
    pub nominated: bool,
    /// The selected address changed with this check.
    pub new_selection: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IceCounters {
    pub checks: u64,
    pub auth_failures: u64,
    pub fingerprint_failures: u64,
    pub role_conflicts: u64,
    pub nominations: u64,
    pub restarts: u64,
    pub consent_expiries: u64,
}

#[derive(Debug, Clone, Copy)]
struct Selected {
    addr: SocketAddr,
    priority: u32,
    last_check: Instant,
    consent: bool,
}

#[derive(Debug)]
pub struct IceAgent {
    params: IceParams,
    selected: [Option<Selected>; 2],
    validated: [[Option<(SocketAddr, Instant)>; MAX_VALIDATED]; 2],
    pub counters: IceCounters,
}

impl IceAgent {
    pub fn new(params: IceParams) -> IceAgent {
        IceAgent {
            params,
            selected: [None, None],
            validated: [[None; MAX_VALIDATED]; 2],
            counters: IceCounters::default(),
        }
    }

    pub fn params(&self) -> &IceParams {
        &self.params
    }

    /// New parameters from an update. Different remote credentials (or new
    /// local ones) are an ICE restart (RFC 8445 9): checks must use the new
    /// credentials, and media keeps going to the selected pair until the
    /// controlling agent nominates again. Returns true on a restart.
    pub fn update(&mut self, params: IceParams) -> bool {
        if params == self.params {
            return false;
        }
        let restart = params.local != self.params.local
            || (self.params.remote.is_some() && params.remote != self.params.remote);
        self.params = params;
        if restart {
            self.counters.restarts += 1;
            // A new nomination may pick any pair, even a lower-priority one.
            for s in self.selected.iter_mut().flatten() {
                s.priority = 0;
            }
        }
        restart
    }

    /// Where to send on a component: the selected pair's address while
    /// consent is fresh. None before nomination or after consent expired.
    pub fn destination(&self, comp: Component) -> Option<SocketAddr> {
        self.selected[comp as usize].filter(|s| s.consent).map(|s| s.addr)
    }

    /// The selected address regardless of consent (for stats).
    pub fn selected(&self, comp: Component) -> Option<SocketAddr> {
        self.selected[comp as usize].map(|s| s.addr)
    }

    /// True when `src` passed a connectivity check on this component.
    pub fn is_validated(&self, comp: Component, src: SocketAddr) -> bool {
        self.validated[comp as usize].iter().flatten().any(|(a, _)| *a == src)
    }

    /// Withdraws consent on pairs without a valid check for 30 s. Returns
    /// true when consent was lost on some component just now.
    pub fn check_consent(&mut self, now: Instant) -> bool {
        let mut lost = false;
        for s in self.selected.iter_mut().flatten() {
            if s.consent && now.saturating_duration_since(s.last_check) >= CONSENT_TIMEOUT {
                s.consent = false;
                lost = true;
            }
        }
        if lost {
            self.counters.consent_expiries += 1;
        }
        lost
    }

    /// Handles a STUN datagram received from `src` on `comp`.
    pub fn handle(&mut self, comp: Component, src: SocketAddr, data: &[u8], now: Instant) -> IceReply {
        let reject = |r| IceReply { response: None, outcome: Err(r) };
        let Ok(msg) = Message::parse(data) else { return reject(IceReject::Malformed) };
        if msg.method != stun::BINDING {
            return reject(IceReject::Malformed);
        }
        match msg.class {
            Class::Request => {}
            Class::Indication => return reject(IceReject::Indication),
            // A lite agent sends no requests, so no response is expected.
            Class::Success | Class::Error => return reject(IceReject::Malformed),
        }
        // RFC 8445 7.3 / 5.1: ICE checks carry FINGERPRINT; without a valid
        // one the datagram is not taken as STUN and is dropped silently.
        if msg.verify_fingerprint() != Some(true) {
            self.counters.fingerprint_failures += 1;
            return reject(IceReject::Fingerprint);
        }
        if let Some(status) = self.authenticate(&msg) {
            self.counters.auth_failures += 1;
            let text = if status == 400 { "Bad Request" } else { "Unauthenticated" };
            // RFC 8489 9.1.3: error responses to failed authentication carry
            // no MESSAGE-INTEGRITY. Unauthenticated senders may be spoofed:
            // never answer with more bytes than were received (no amplification).
            let resp = Builder::new(stun::BINDING, Class::Error, &msg.transaction_id).error_code(status, text).finish(None);
            let response = (resp.len() <= data.len()).then_some(resp);
            return IceReply { response, outcome: Err(IceReject::Auth) };
        }
        let pwd = self.params.local.pwd.clone();
        let key = pwd.as_bytes();
        if let Some(at) = msg.unknown_required {
            let resp = Builder::new(stun::BINDING, Class::Error, &msg.transaction_id)
                .error_code(420, "Unknown Attribute")
                .attribute(stun::attr::UNKNOWN_ATTRIBUTES, &at.to_be_bytes())
                .finish(Some(key));
            return IceReply { response: Some(resp), outcome: Err(IceReject::Malformed) };
        }
        // Lite agents are always controlled (RFC 8445 6.1.1); a peer that
        // also claims controlled is told about the conflict (7.3.1.1).
        if msg.ice_controlled.is_some() {
            self.counters.role_conflicts += 1;
            let resp = Builder::new(stun::BINDING, Class::Error, &msg.transaction_id)
                .error_code(487, "Role Conflict")
                .finish(Some(key));
            return IceReply { response: Some(resp), outcome: Err(IceReject::Malformed) };
        }
        self.counters.checks += 1;
        self.validate(comp, src, now);
        let c = comp as usize;
        let priority = msg.priority.unwrap_or(0);
        let mut check = IceCheck { nominated: false, new_selection: false };
        match self.selected[c].as_mut() {
            Some(s) if s.addr == src => {
                // A check on the selected pair refreshes consent (RFC 7675 5.1).
                s.last_check = now;
                s.consent = true;
                check.nominated = true;
                if msg.use_candidate && s.priority < priority {
                    s.priority = priority;
                }
            }
            cur => {
                let replace = msg.use_candidate && cur.map_or(true, |s| !s.consent || priority >= s.priority);
                if replace {
                    self.selected[c] = Some(Selected { addr: src, priority, last_check: now, consent: true });
                    self.counters.nominations += 1;
                    check = IceCheck { nominated: true, new_selection: true };
                }
            }
        }
        let resp = Builder::new(stun::BINDING, Class::Success, &msg.transaction_id)
            .xor_mapped_address(src)
            .finish(Some(key));
        IceReply { response: Some(resp), outcome: Ok(check) }
    }

    /// None when the request authenticates; else the error status (RFC 8489 9.1.3).
    fn authenticate(&self, msg: &Message) -> Option<u16> {
        let Some(user) = msg.username else { return Some(400) };
        if !msg.has_integrity() {
            return Some(400);
        }
        // USERNAME is "<our ufrag>:<their ufrag>" (RFC 8445 7.2.2).
        let local = self.params.local.ufrag.as_bytes();
        let ok_local = user.len() > local.len() && user.starts_with(local) && user[local.len()] == b':';
        if !ok_local {
            return Some(401);
        }
        if let Some(remote) = &self.params.remote {
            if &user[local.len() + 1..] != remote.ufrag.as_bytes() {
                return Some(401);
            }
        }
        if !msg.verify_integrity(self.params.local.pwd.as_bytes()) {
            return Some(401);
        }
        None
    }

    fn validate(&mut self, comp: Component, src: SocketAddr, now: Instant) {
        let list = &mut self.validated[comp as usize];
        if let Some(e) = list.iter_mut().flatten().find(|(a, _)| *a == src) {
            e.1 = now;
            return;
        }
        let slot = list
            .iter()
            .position(|e| e.is_none())
            .or_else(|| (0..list.len()).min_by_key(|i| list[*i].map(|(_, t)| t)))
            .unwrap_or(0);
        list[slot] = Some((src, now));
    }
}

#[cfg(test)]
mod tests;
