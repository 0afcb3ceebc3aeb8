//! Flood protection, sans-IO (like Kamailio pike + ratelimit): per-source
//! token buckets for out-of-dialog requests, a global cap on new INVITE
//! transactions, trusted source networks, and per-source connection counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Refills at `rate` tokens/s up to `burst`. May be overdrawn down to
/// `-burst` by priority traffic (trusted sources under the global cap).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(now: Instant, burst: f64) -> Self {
        Bucket { tokens: burst, at: now }
    }
    fn refill(&mut self, now: Instant, rate: f64, burst: f64) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(burst);
        self.at = now;
    }
    fn take(&mut self, now: Instant, rate: f64, burst: f64) -> bool {
        self.refill(now, rate, burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What to do with a new out-of-dialog request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// 503 with Retry-After and a Reason naming the limit.
    Reject(Limit),
    /// Far beyond the limit: answering would amplify the flood.
    Drop(Limit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    PerSource,
    GlobalInvite,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::PerSource => "per-source",
            Limit::GlobalInvite => "global-invite",
        }
    }
    pub fn reason_text(self) -> &'static str {
        match self {
            Limit::PerSource => "request rate limit exceeded (per source)",
            Limit::GlobalInvite => "INVITE rate limit exceeded (global)",
        }
    }
}

/// An IPv4/IPv6 network; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, b) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = a.trim().parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match b {
            Some(b) => b.trim().parse::<u8>().ok().filter(|&n| n <= max)?,
            None => max,
        };
        Some(Cidr { net, bits })
    }
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn mask_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (full, rest) = ((bits / 8) as usize, bits % 8);
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) & (0xffu8 << (8 - rest)) == 0
}

#[derive(Clone, Debug)]
pub struct RateConfig {
    pub per_source_rate: f64,
    pub per_source_burst: f64,
    /// Requests/s from one source above which the excess is dropped silently.
    pub per_source_drop_rate: f64,
    pub invite_rate: f64,
    pub trusted: Vec<Cidr>,
}

struct Source {
    admit: Bucket,
    answer: Bucket,
    seen: Instant,
}

/// Sources tracked at most; beyond it idle entries are pruned, and if the
/// table is still full new sources share one overflow bucket (bounded memory
/// under a spoofed-source flood).
const MAX_SOURCES: usize = 100_000;

pub struct RateLimiter {
    cfg: RateConfig,
    sources: HashMap<IpAddr, Source>,
    overflow: Option<Source>,
    invites: Bucket,
    last_prune: Instant,
}

impl RateLimiter {
    pub fn new(cfg: RateConfig, now: Instant) -> Self {
        let burst = cfg.invite_rate.max(1.0);
        RateLimiter { cfg, sources: HashMap::new(), overflow: None, invites: Bucket::new(now, burst), last_prune: now }
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.cfg.trusted.iter().any(|c| c.contains(ip))
    }

    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    /// A new out-of-dialog request from `ip` (`invite`: a new INVITE transaction).
    pub fn check(&mut self, now: Instant, ip: IpAddr, invite: bool) -> Verdict {
        let trusted = self.is_trusted(ip);
        if !trusted {
            match self.per_source(now, ip) {
                Verdict::Allow => {}
                v => return v,
            }
        }
        if invite && self.cfg.invite_rate > 0.0 {
            let (rate, burst) = (self.cfg.invite_rate, self.cfg.invite_rate.max(1.0));
            self.invites.refill(now, rate, burst);
            // Trusted peers (trunks) have priority: they may overdraw the
            // bucket by one second's worth, so an untrusted flood that
            // empties it cannot starve them, while their own excess still
            // hits the cap.
            let floor = if trusted { 1.0 - burst } else { 1.0 };
            if self.invites.tokens < floor {
                return Verdict::Reject(Limit::GlobalInvite);
            }
            self.invites.tokens -= 1.0;
        }
        Verdict::Allow
    }

    fn per_source(&mut self, now: Instant, ip: IpAddr) -> Verdict {
        let c = &self.cfg;
        if c.per_source_rate <= 0.0 {
            return Verdict::Allow;
        }
        let (rate, burst) = (c.per_source_rate, c.per_source_burst.max(1.0));
        let drop_rate = c.per_source_drop_rate.max(rate);
        if now.saturating_duration_since(self.last_prune).as_secs() >= 10 || self.sources.len() >= MAX_SOURCES {
            self.prune(now);
        }
        let fresh = || Source { admit: Bucket::new(now, burst), answer: Bucket::new(now, drop_rate), seen: now };
        let s = if self.sources.len() < MAX_SOURCES || self.sources.contains_key(&ip) {
            self.sources.entry(ip).or_insert_with(fresh)
        } else {
            self.overflow.get_or_insert_with(fresh)
        };
        s.seen = now;
        // Every request spends an "answer" token: past drop_rate/s we stop
        // answering at all (a 503 per flood packet would amplify the flood).
        if !s.answer.take(now, drop_rate, drop_rate) {
            return Verdict::Drop(Limit::PerSource);
        }
        if !s.admit.take(now, rate, burst) {
            return Verdict::Reject(Limit::PerSource);
        }
        Verdict::Allow
    }

    /// Forget sources whose buckets are full again (idle long enough).
    fn prune(&mut self, now: Instant) {
        self.last_prune = now;
        let c = &self.cfg;
        let full_after = (c.per_source_burst.max(1.0) / c.per_source_rate.max(0.001)).max(1.0);
        self.sources.retain(|_, s| now.saturating_duration_since(s.seen).as_secs_f64() < full_after + 1.0);
    }
}

/// Per-source count of inbound stream connections (trusted sources exempt).
#[derive(Default)]
pub struct ConnCounter {
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnCounter {
    pub fn count(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).copied().unwrap_or(0)
    }
    pub fn add(&mut self, ip: IpAddr) {
        *self.per_ip.entry(ip).or_insert(0) += 1;
    }
    pub fn remove(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(trusted: &[&str]) -> RateConfig {
        RateConfig {
            per_source_rate: 10.0,
            per_source_burst: 20.0,
            per_source_drop_rate: 40.0,
            invite_rate: 100.0,
            trusted: trusted.iter().map(|s| Cidr::parse(s).unwrap()).collect(),
        }
    }

    #[test]
    fn per_source_burst_then_reject_then_drop() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(cfg(&[]), t0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let v: Vec<Verdict> = (0..50).map(|_| r.check(t0, ip, false)).collect();
        assert_eq!(v.iter().filter(|v| **v == Verdict::Allow).count(), 20);
        assert_eq!(v.iter().filter(|v| matches!(v, Verdict::Reject(Limit::PerSource))).count(), 20);
        assert_eq!(v.iter().filter(|v| matches!(v, Verdict::Drop(_))).count(), 10);
        // Another source is unaffected; the first refills at 10/s.
        assert_eq!(r.check(t0, "192.0.2.2".parse().unwrap(), false), Verdict::Allow);
        assert_eq!(r.check(t0 + Duration::from_millis(1100), ip, false), Verdict::Allow);
    }

    #[test]
    fn global_invite_cap_gives_trusted_sources_priority() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(cfg(&["10.0.0.0/8"]), t0);
        let mut allowed = 0;
        for i in 0..200u32 {
            let ip = IpAddr::from([192, 0, 2, (i % 200) as u8]);
            if r.check(t0, ip, true) == Verdict::Allow {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 100, "burst of one second at 100/s");
        let trunk: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(r.check(t0, trunk, true), Verdict::Allow, "trusted overdraws");
        assert_eq!(r.check(t0, "192.0.2.250".parse().unwrap(), true), Verdict::Reject(Limit::GlobalInvite));
        // Non-INVITE requests do not use the INVITE budget.
        assert_eq!(r.check(t0, "192.0.2.251".parse().unwrap(), false), Verdict::Allow);
        let allowed_trusted = (0..300).filter(|_| r.check(t0, trunk, true) == Verdict::Allow).count();
        assert_eq!(allowed_trusted, 99, "trusted excess still capped at one second's overdraft");
    }

    #[test]
    fn cidr_matching() {
        let c = Cidr::parse("127.0.0.0/8").unwrap();
        assert!(c.contains("127.9.8.7".parse().unwrap()));
        assert!(c.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!c.contains("128.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/33").unwrap().contains("2001:db8:7fff::1".parse().unwrap()));
        assert!(!Cidr::parse("2001:db8::/33").unwrap().contains("2001:db8:8000::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1/33").is_none());
        assert!(Cidr::parse("nope").is_none());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
    }
}
