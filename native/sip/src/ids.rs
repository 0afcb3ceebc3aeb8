//! Identifiers (tags, branches, Call-IDs, transaction ids) and wall-clock
//! formatting for the drachtio "time" field.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut buf = [0u8; 8];
    // /dev/urandom when available; time and pid otherwise.
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut buf);
    }
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    u64::from_le_bytes(buf) ^ t ^ ((std::process::id() as u64) << 32) | 1
}

/// xorshift64*: ids only need to be unique and unguessable-ish, not secret.
pub fn rand_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

pub fn hex(n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        s.push_str(&format!("{:016x}", rand_u64()));
    }
    s.truncate(n);
    s
}

pub fn uuid() -> String {
    let h = hex(32);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

pub fn branch() -> String {
    format!("z9hG4bK{}", hex(20))
}

pub fn tag() -> String {
    hex(12)
}

/// `HH:MM:SS.uuuuuu` UTC, as drachtio-server formats message times.
pub fn wall_time() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() % 86400;
    format!("{:02}:{:02}:{:02}.{:06}", secs / 3600, (secs / 60) % 60, secs % 60, d.subsec_micros())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_and_shaped() {
        let a = super::uuid();
        assert_eq!(a.len(), 36);
        assert_ne!(a, super::uuid());
        assert!(super::branch().starts_with("z9hG4bK"));
        assert_eq!(super::wall_time().len(), 15);
    }
}
