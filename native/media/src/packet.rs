//! Demultiplexing (RFC 7983, RFC 5761) and the few RTP/RTCP header fields the
//! relay needs. No allocation: everything reads from the datagram in place.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Stun,
    Dtls,
    Rtp,
    Rtcp,
    Unknown,
}

/// RFC 7983 first-byte ranges; with rtcp-mux, RTCP is told from RTP by the
/// second byte (payload types 192-223 are RTCP, RFC 5761 4).
pub fn classify(buf: &[u8]) -> PacketKind {
    let Some(&first) = buf.first() else { return PacketKind::Unknown };
    match first {
        0..=3 => PacketKind::Stun,
        20..=63 => PacketKind::Dtls,
        128..=191 => match buf.get(1) {
            Some(192..=223) => PacketKind::Rtcp,
            Some(_) => PacketKind::Rtp,
            None => PacketKind::Unknown,
        },
        _ => PacketKind::Unknown,
    }
}

/// True when `buf` is a structurally valid RTP packet (RFC 3550 5.1): version
/// 2, and CSRC list, extension and padding all inside the datagram.
pub fn valid_rtp(buf: &[u8]) -> bool {
    if buf.len() < 12 || buf[0] >> 6 != 2 {
        return false;
    }
    let mut end = 12 + 4 * (buf[0] & 0x0f) as usize;
    if buf[0] & 0x10 != 0 {
        if buf.len() < end + 4 {
            return false;
        }
        end += 4 + 4 * u16::from_be_bytes([buf[end + 2], buf[end + 3]]) as usize;
    }
    if buf.len() < end {
        return false;
    }
    if buf[0] & 0x20 != 0 {
        let pad = buf[buf.len() - 1] as usize;
        return pad > 0 && end + pad <= buf.len();
    }
    true
}

/// Valid RTCP compound packet head: version 2 and at least a header and SSRC.
pub fn valid_rtcp(buf: &[u8]) -> bool {
    buf.len() >= 8 && buf[0] >> 6 == 2
}

pub fn rtp_seq(buf: &[u8]) -> u16 {
    u16::from_be_bytes([buf[2], buf[3]])
}

pub fn rtp_timestamp(buf: &[u8]) -> u32 {
    u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]])
}

pub fn rtp_ssrc(buf: &[u8]) -> u32 {
    u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7983_ranges() {
        assert_eq!(classify(&[0, 1]), PacketKind::Stun);
        assert_eq!(classify(&[22, 254, 253]), PacketKind::Dtls);
        assert_eq!(classify(&[0x80, 0]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 101]), PacketKind::Rtp);
        assert_eq!(classify(&[0x81, 200]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 223]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 224]), PacketKind::Rtp);
        assert_eq!(classify(&[64]), PacketKind::Unknown);
        assert_eq!(classify(&[200, 0]), PacketKind::Unknown);
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
    }

    #[test]
    fn rtp_validation() {
        let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
        assert!(valid_rtp(&p));
        p[0] = 0x81; // one CSRC missing
        assert!(!valid_rtp(&p));
        p[0] = 0x90; // extension header missing
        assert!(!valid_rtp(&p));
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]);
        assert!(valid_rtp(&p));
        p[0] = 0xb0; // padding of 9 bytes would reach into the header
        assert!(!valid_rtp(&p));
        assert!(!valid_rtp(&[0x40; 12]));
    }
}
