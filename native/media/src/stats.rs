//! Per-leg counters. Plain integers owned by the worker thread: no atomics or
//! locks on the packet path; snapshots are copied out on request.

/// Why a packet was not relayed. Each is a counter in `LegStats::drops`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum DropReason {
    /// Not STUN/DTLS/RTP/RTCP by RFC 7983, or an invalid RTP/RTCP header.
    Malformed = 0,
    /// STUN (no ICE on this leg).
    Stun,
    /// DTLS on a leg that does not do DTLS.
    UnexpectedDtls,
    /// From an address other than the latched one (RTP bleed).
    WrongSource,
    /// SRTP/SRTCP authentication failed.
    AuthFail,
    /// SRTP replay (duplicate or too old).
    Replay,
    /// Too many SSRCs on this leg.
    SsrcLimit,
    /// SRTP keys not yet available (handshake pending or failed).
    NoKeys,
    /// Blocked by the negotiated direction (hold).
    Direction,
    /// The other leg has no address to send to yet.
    NoDestination,
    /// Larger than the engine accepts.
    Oversized,
    /// The operating system refused the send.
    SendError,
    /// ICE check without USERNAME/MESSAGE-INTEGRITY, or with a wrong one (400/401 sent).
    StunAuth,
    /// ICE check with a missing or wrong FINGERPRINT (dropped silently).
    StunFingerprint,
    /// ICE consent expired (RFC 7675): nothing is sent to the peer.
    NoConsent,
}

pub const DROP_REASONS: [DropReason; 15] = [
    DropReason::Malformed,
    DropReason::Stun,
    DropReason::UnexpectedDtls,
    DropReason::WrongSource,
    DropReason::AuthFail,
    DropReason::Replay,
    DropReason::SsrcLimit,
    DropReason::NoKeys,
    DropReason::Direction,
    DropReason::NoDestination,
    DropReason::Oversized,
    DropReason::SendError,
    DropReason::StunAuth,
    DropReason::StunFingerprint,
    DropReason::NoConsent,
];

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::Stun => "stun",
            DropReason::UnexpectedDtls => "unexpected_dtls",
            DropReason::WrongSource => "wrong_source",
            DropReason::AuthFail => "auth_fail",
            DropReason::Replay => "replay",
            DropReason::SsrcLimit => "ssrc_limit",
            DropReason::NoKeys => "no_keys",
            DropReason::Direction => "direction",
            DropReason::NoDestination => "no_destination",
            DropReason::Oversized => "oversized",
            DropReason::SendError => "send_error",
            DropReason::StunAuth => "stun_auth",
            DropReason::StunFingerprint => "stun_fingerprint",
            DropReason::NoConsent => "no_consent",
        }
    }
}

#[derive(Debug, Clone, Default)]
/// repr(C): the per-packet counters first, in one cache line.
#[repr(C)]
pub struct LegStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub rtcp_in: u64,
    pub rtcp_out: u64,
    pub dtls_in: u64,
    pub dtls_out: u64,
    pub drops: [u64; DROP_REASONS.len()],
    /// Handshakes started on this leg (1 for a whole call unless re-keyed).
    pub handshakes: u32,
}

impl LegStats {
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    pub fn drops_total(&self) -> u64 {
        self.drops.iter().sum()
    }
}
