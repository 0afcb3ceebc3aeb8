//! 20 ms PCMU-sized RTP packets (12-byte header + 160-byte payload) that carry
//! their own identity and send time, so the receiver can check every byte
//! and measure one-way latency through the relay.
//!
//! Payload: send time (ns, LE u64) | call (LE u32) | leg | 0 | seq (LE u16) |
//! 144 pattern bytes derived from call, leg and seq.
pub const RTP_LEN: usize = 172;
pub const HEADER: usize = 12;
const SSRC_BASE: u32 = 0x4000_0000;

/// The SSRC of what `leg` of `call` sends (the relay passes SSRCs through).
pub fn ssrc(call: u32, leg: u8) -> u32 {
    SSRC_BASE.wrapping_add(call * 2 + leg as u32)
}

/// (call, leg) of the sender of an SSRC made by `ssrc`.
pub fn from_ssrc(s: u32) -> (u32, u8) {
    let v = s.wrapping_sub(SSRC_BASE);
    (v / 2, (v % 2) as u8)
}

fn pattern(call: u32, leg: u8, seq: u16, j: usize) -> u8 {
    (seq as u8) ^ (j as u8).wrapping_mul(31) ^ (call as u8) ^ (leg << 7) ^ ((seq >> 8) as u8)
}

pub fn build(buf: &mut [u8], call: u32, leg: u8, seq: u16, sent_ns: u64) {
    buf[0] = 0x80;
    buf[1] = 0; // PCMU
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(seq as u32).wrapping_mul(160).to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc(call, leg).to_be_bytes());
    let p = &mut buf[HEADER..RTP_LEN];
    p[0..8].copy_from_slice(&sent_ns.to_le_bytes());
    p[8..12].copy_from_slice(&call.to_le_bytes());
    p[12] = leg;
    p[13] = 0;
    p[14..16].copy_from_slice(&seq.to_le_bytes());
    for (j, b) in p[16..].iter_mut().enumerate() {
        *b = pattern(call, leg, seq, j);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub call: u32,
    pub leg: u8,
    pub seq: u16,
    pub sent_ns: u64,
}

/// Checks every byte of a received (decrypted) packet; None if anything differs.
pub fn verify(buf: &[u8], len: usize) -> Option<Frame> {
    if len != RTP_LEN || buf[0] & 0xc0 != 0x80 || buf[1] & 0x7f != 0 {
        return None;
    }
    let p = &buf[HEADER..RTP_LEN];
    let call = u32::from_le_bytes(p[8..12].try_into().ok()?);
    let leg = p[12];
    let seq = u16::from_le_bytes([p[14], p[15]]);
    let hdr_seq = u16::from_be_bytes([buf[2], buf[3]]);
    let hdr_ssrc = u32::from_be_bytes(buf[8..12].try_into().ok()?);
    if leg > 1 || p[13] != 0 || hdr_seq != seq || hdr_ssrc != ssrc(call, leg) {
        return None;
    }
    if p[16..].iter().enumerate().any(|(j, b)| *b != pattern(call, leg, seq, j)) {
        return None;
    }
    Some(Frame { call, leg, seq, sent_ns: u64::from_le_bytes(p[0..8].try_into().ok()?) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let mut b = [0u8; RTP_LEN];
        build(&mut b, 1234, 1, 65535, 987654321);
        assert_eq!(verify(&b, RTP_LEN), Some(Frame { call: 1234, leg: 1, seq: 65535, sent_ns: 987654321 }));
        assert_eq!(from_ssrc(ssrc(1234, 1)), (1234, 1));
        for i in [1, 3, 9, 20, 25, 171] {
            let mut t = b;
            t[i] ^= 1;
            assert_eq!(verify(&t, RTP_LEN), None, "byte {i}");
        }
        assert_eq!(verify(&b, RTP_LEN - 1), None);
    }
}
