//! One call leg: its security (plain RTP, DTLS-SRTP or SDES-SRTP), remote
//! addresses with symmetric latching (or, on ICE legs, the ICE-lite agent's
//! nominated pair instead), direction, SRTP contexts and counters.
//! Sans-IO: the pipeline hands it datagrams and asks it what to send.
use std::net::SocketAddr;
use std::time::Instant;

use crate::dtls::{DtlsContext, DtlsEndpoint, DtlsEvent, DtlsFailure, DtlsRole, DtlsState, SrtpKeys};
use crate::fingerprint::Fingerprint;
use crate::ice::{IceAgent, IceParams, IceReject};
use crate::music::{MusicSource, MusicState};
use crate::packet::{self, PacketKind};
use crate::srtp::{SrtpContext, SrtpDirection, SrtpError, SrtpProfile};
use crate::stats::{DropReason, LegStats};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The port a datagram used: RTP, or the separate RTCP port (no rtcp-mux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Rtp,
    Rtcp,
}

/// Media direction as the remote party's SDP states it (RFC 3264 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The remote party may send us RTP.
    pub fn remote_sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    /// The remote party wants RTP from us.
    pub fn remote_receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// An SDES master key (RFC 4568 inline key || salt).
#[derive(Clone, PartialEq, Eq)]
pub struct SdesKey {
    pub profile: SrtpProfile,
    pub key_salt: Vec<u8>,
}

impl std::fmt::Debug for SdesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SdesKey({})", self.profile)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegSecurity {
    Rtp,
    /// `remote_tls_id`: the peer's a=tls-id (RFC 8842), when it sends one.
    DtlsSrtp { role: DtlsRole, remote_fingerprints: Vec<Fingerprint>, remote_tls_id: Option<String> },
    /// `remote` may be unknown until the answer arrives.
    SdesSrtp { local: SdesKey, remote: Option<SdesKey> },
}

#[derive(Debug, Clone)]
pub struct LegSpec {
    pub security: LegSecurity,
    pub remote_rtp: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    pub direction: Direction,
    /// ICE-lite on this leg: media goes only to the nominated pair.
    pub ice: Option<IceParams>,
}

/// A change from a re-offer or an answer. `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct LegUpdate {
    pub remote_rtp: Option<Option<SocketAddr>>,
    pub remote_rtcp: Option<Option<SocketAddr>>,
    pub rtcp_mux: Option<bool>,
    pub direction: Option<Direction>,
    pub security: Option<LegSecurity>,
    /// Music on hold toward this leg: Some(Some(pt)) plays (0 PCMU, 8 PCMA), Some(None) stops.
    pub music: Option<Option<u8>>,
    /// New ICE parameters (new credentials = ICE restart); starts ICE on a leg without it.
    pub ice: Option<IceParams>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    DtlsConnected { profile: SrtpProfile, peer_fingerprint: Fingerprint, handshake: std::time::Duration },
    DtlsFailed(DtlsFailure),
    DtlsClosed,
    MediaLatched(SocketAddr),
}

/// A STUN datagram's result on an ICE leg.
pub struct StunReply {
    /// Response to send back to the source, on the component it came in on.
    pub response: Option<Vec<u8>>,
    /// The controlling agent nominated a new pair: media and DTLS go there now.
    pub selected: Option<SocketAddr>,
}

// Field order is memory order (repr(C)): what every relayed packet reads or
// writes comes first, so a packet touches a few adjacent cache lines of a
// pipeline that is cold after the kernel's work between packets (measured:
// the scattered fields of the inline 1.9 KB leg were the engine's largest
// user-space cost with 1,000 calls). Large, rarely used parts are boxed.
#[repr(C)]
pub struct Leg {
    // Where media comes from and goes (one cache line).
    latched_rtp: Option<SocketAddr>,
    remote_rtp: Option<SocketAddr>,
    // Timers and flags.
    pub last_rx: Option<Instant>,
    /// When relayed RTP last went out to this leg (music yields to real media).
    pub last_rtp_out: Option<Instant>,
    ice: Option<Box<IceAgent>>,
    direction: Direction,
    rtcp_mux: bool,
    pub timeout_reported: bool,
    // The SRTP handles (each with its first SSRCs), then the counters
    // (per-packet ones first, drop reasons after).
    srtp_in: Option<SrtpContext>,
    srtp_out: Option<SrtpContext>,
    pub stats: LegStats,
    // Cold: set-up, DTLS, RTCP on its own port, music.
    dtls: Option<Box<DtlsEndpoint>>,
    dtls_peer: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    security: LegSecurity,
    profile: Option<SrtpProfile>,
    pub music: Option<Box<MusicState>>,
    /// First DTLS datagram in or out of the handshake in progress (for its duration).
    handshake_started: Option<Instant>,
}

impl Leg {
    pub fn new(spec: LegSpec, dtls_ctx: &DtlsContext, now: Instant) -> Result<Leg, String> {
        let mut leg = Leg {
            security: LegSecurity::Rtp,
            remote_rtp: spec.remote_rtp,
            remote_rtcp: spec.remote_rtcp,
            rtcp_mux: spec.rtcp_mux,
            direction: spec.direction,
            latched_rtp: None,
            latched_rtcp: None,
            dtls: None,
            dtls_peer: None,
            srtp_in: None,
            srtp_out: None,
            profile: None,
            stats: LegStats::default(),
            last_rx: None,
            timeout_reported: false,
            last_rtp_out: None,
            music: None,
            ice: spec.ice.map(|p| Box::new(IceAgent::new(p))),
            handshake_started: None,
        };
        leg.apply_security(spec.security, dtls_ctx, now)?;
        Ok(leg)
    }

    /// Starts loading the lines of this leg a packet reads in its role
    /// (`Inbound`: the receiving leg, `Outbound`: the sending one): the
    /// addresses, timers and flags; that direction's SRTP handle with its
    /// state addresses and first SSRC (not the other direction's, not the
    /// rest of the SSRC list); the per-packet counters. Pointer arithmetic
    /// only: nothing of the (cold) leg is read here.
    #[inline]
    pub fn prefetch_for(&self, dir: SrtpDirection) {
        use std::mem::{offset_of, size_of};
        const PER_PACKET_COUNTERS: usize = 4 * size_of::<u64>();
        // An option's payload sits after its tag, if it has one.
        const CTX_HOT: usize = size_of::<Option<SrtpContext>>() - size_of::<SrtpContext>() + SrtpContext::HOT_BYTES;
        let head = offset_of!(Leg, srtp_in);
        let stats = offset_of!(Leg, stats);
        let base = (self as *const Leg).cast::<u8>();
        match dir {
            // The head and the inbound context are adjacent.
            SrtpDirection::Inbound => prefetch_lines(base, 0, head + CTX_HOT),
            SrtpDirection::Outbound => {
                prefetch_lines(base, 0, head);
                let out = offset_of!(Leg, srtp_out);
                prefetch_lines(base, out, out + CTX_HOT);
            }
        }
        prefetch_lines(base, stats, stats + PER_PACKET_COUNTERS);
    }

    /// Prefetches the state of one SRTP context (reads the handle: the first
    /// lines should already be on their way from `prefetch_for`).
    #[inline]
    pub fn prefetch_srtp(&self, dir: SrtpDirection) {
        let ctx = match dir {
            SrtpDirection::Inbound => &self.srtp_in,
            SrtpDirection::Outbound => &self.srtp_out,
        };
        if let Some(c) = ctx {
            c.prefetch();
        }
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }
    pub fn rtcp_mux(&self) -> bool {
        self.rtcp_mux
    }
    pub fn security(&self) -> &LegSecurity {
        &self.security
    }
    pub fn profile(&self) -> Option<SrtpProfile> {
        self.profile
    }
    pub fn latched(&self) -> Option<SocketAddr> {
        match &self.ice {
            Some(ice) => ice.selected(Component::Rtp),
            None => self.latched_rtp,
        }
    }
    pub fn ice(&self) -> Option<&IceAgent> {
        self.ice.as_deref()
    }
    pub fn dtls_state(&self) -> Option<DtlsState> {
        self.dtls.as_ref().map(|d| d.state())
    }
    pub fn dtls(&mut self) -> Option<&mut DtlsEndpoint> {
        self.dtls.as_deref_mut()
    }
    pub fn dtls_ref_timeout(&self, now: Instant) -> Option<Instant> {
        self.dtls.as_ref().and_then(|d| d.next_timeout(now))
    }
    /// Where DTLS goes: on ICE legs only the nominated pair with consent.
    pub fn dtls_peer(&self) -> Option<SocketAddr> {
        match &self.ice {
            Some(ice) => ice.destination(Component::Rtp),
            None => self.dtls_peer.or(self.latched_rtp).or(self.remote_rtp),
        }
    }

    pub fn update(
        &mut self,
        u: LegUpdate,
        dtls_ctx: &DtlsContext,
        music: Option<&std::sync::Arc<MusicSource>>,
        now: Instant,
    ) -> Result<(), String> {
        if let Some(pt) = u.music {
            match (pt, music, self.music.as_mut()) {
                (_, _, Some(m)) => m.set(pt, now),
                (Some(_), Some(src), None) => {
                    let mut m = MusicState::new(src.clone());
                    m.set(pt, now);
                    self.music = Some(Box::new(m));
                }
                (Some(_), None, None) => return Err("no music-on-hold source is configured".into()),
                (None, _, None) => {}
            }
        }
        let mut new_peer = false;
        if let Some(addr) = u.remote_rtp {
            if addr != self.remote_rtp {
                // A new address in SDP: learn the source again (re-latch).
                self.latched_rtp = None;
                self.latched_rtcp = None;
                new_peer = true;
            }
            self.remote_rtp = addr;
        }
        if let Some(addr) = u.remote_rtcp {
            self.remote_rtcp = addr;
        }
        if let Some(mux) = u.rtcp_mux {
            self.rtcp_mux = mux;
        }
        if let Some(d) = u.direction {
            self.direction = d;
        }
        if let Some(p) = u.ice {
            match self.ice.as_mut() {
                Some(agent) => {
                    agent.update(p);
                }
                None => self.ice = Some(Box::new(IceAgent::new(p))),
            }
        }
        if let Some(sec) = u.security {
            let handshakes = self.stats.handshakes;
            self.apply_security(sec, dtls_ctx, now)?;
            if new_peer && self.stats.handshakes != handshakes {
                // A new association with a new peer (e.g. after a transfer):
                // the old keys belong to the old peer. Keeping them would let
                // its packets still in flight authenticate and re-latch the
                // leg away from the new peer.
                self.srtp_in = None;
                self.srtp_out = None;
            }
        }
        Ok(())
    }

    /// Installs new security parameters following RFC 5763 5 / RFC 8842: the
    /// same DTLS role and fingerprints keep the association; new
    /// fingerprints for an association still waiting for them complete it;
    /// anything else starts a new handshake. Old SRTP keys stay in use until
    /// the new ones exist, so media is not cut during a re-key.
    fn apply_security(&mut self, sec: LegSecurity, ctx: &DtlsContext, now: Instant) -> Result<(), String> {
        match (&self.security, &sec) {
            (
                LegSecurity::DtlsSrtp { role: old_role, remote_fingerprints: old_fps, remote_tls_id: old_id },
                LegSecurity::DtlsSrtp { role, remote_fingerprints, remote_tls_id },
            ) if self.dtls.is_some() && old_role == role => {
                // RFC 8842 5: a peer asks for a new association by changing its
                // tls-id, even with the same certificate.
                let new_tls_id = matches!((old_id, remote_tls_id), (Some(a), Some(b)) if a != b);
                let same = same_set(old_fps, remote_fingerprints);
                if new_tls_id {
                    self.start_dtls(ctx, *role, remote_fingerprints.clone(), now)?;
                } else if !same && (old_fps.is_empty() || remote_fingerprints.is_empty()) {
                    if let Some(d) = self.dtls.as_mut() {
                        if !remote_fingerprints.is_empty() {
                            d.set_remote_fingerprints(remote_fingerprints.clone());
                        }
                    }
                } else if !same {
                    self.start_dtls(ctx, *role, remote_fingerprints.clone(), now)?;
                }
            }
            (_, LegSecurity::DtlsSrtp { role, remote_fingerprints, .. }) => {
                self.start_dtls(ctx, *role, remote_fingerprints.clone(), now)?;
            }
            (_, LegSecurity::SdesSrtp { local, remote }) => {
                self.dtls = None;
                if self.security != sec {
                    self.srtp_out = Some(
                        SrtpContext::new(local.profile, &local.key_salt, SrtpDirection::Outbound, crate::srtp::MAX_SSRCS)
                            .map_err(|e| format!("SDES local key: {e:?}"))?,
                    );
                    self.srtp_in = match remote {
                        Some(r) => Some(
                            SrtpContext::new(r.profile, &r.key_salt, SrtpDirection::Inbound, crate::srtp::MAX_SSRCS)
                                .map_err(|e| format!("SDES remote key: {e:?}"))?,
                        ),
                        None => None,
                    };
                    self.profile = Some(local.profile);
                }
            }
            (_, LegSecurity::Rtp) => {
                self.dtls = None;
                self.srtp_in = None;
                self.srtp_out = None;
                self.profile = None;
            }
        }
        self.security = sec;
        Ok(())
    }

    fn start_dtls(&mut self, ctx: &DtlsContext, role: DtlsRole, fps: Vec<Fingerprint>, now: Instant) -> Result<(), String> {
        let ep = DtlsEndpoint::new(ctx, role, fps, now).map_err(|e| format!("DTLS setup: {e}"))?;
        self.dtls = Some(Box::new(ep));
        self.dtls_peer = None;
        self.stats.handshakes += 1;
        Ok(())
    }

    /// Our a=tls-id while the leg is DTLS-SRTP (its association's).
    pub fn local_tls_id(&self) -> Option<&str> {
        self.dtls.as_deref().map(DtlsEndpoint::tls_id)
    }

    /// Feeds a DTLS datagram; returns false when this leg does not take it.
    pub fn on_dtls(&mut self, src: SocketAddr, data: &[u8], now: Instant) -> bool {
        let Some(dtls) = self.dtls.as_mut() else {
            self.stats.drop(DropReason::UnexpectedDtls);
            return false;
        };
        if let Some(ice) = &self.ice {
            // ICE: DTLS only from an address that passed a connectivity
            // check; replies go to the nominated pair (dtls_peer()).
            if !ice.is_validated(Component::Rtp, src) {
                self.stats.drop(DropReason::WrongSource);
                return false;
            }
            if self.dtls_peer.is_none() {
                dtls.set_peer_address(&src);
                self.dtls_peer = Some(src);
            }
            self.stats.dtls_in += 1;
            dtls.handle_datagram(data, now);
            return true;
        }
        // One peer per association: a handshake from elsewhere is ignored,
        // which also keeps spoofed ClientHellos from reflecting our flights.
        match self.dtls_peer {
            Some(peer) if peer != src => {
                self.stats.drop(DropReason::WrongSource);
                return false;
            }
            Some(_) => {}
            None => {
                // Only a datagram that can open an association (a plaintext
                // handshake record: ClientHello, HelloVerifyRequest,
                // ServerHello) picks the peer. A stray alert or encrypted
                // record (e.g. a late close_notify aimed at the previous user
                // of this port) must not lock the real peer out.
                if !crate::dtls::opens_association(data) {
                    self.stats.drop(DropReason::UnexpectedDtls);
                    return false;
                }
                if let Some(latched) = self.latched_rtp {
                    if latched != src {
                        self.stats.drop(DropReason::WrongSource);
                        return false;
                    }
                }
                dtls.set_peer_address(&src);
                self.dtls_peer = Some(src);
            }
        }
        self.stats.dtls_in += 1;
        dtls.handle_datagram(data, now);
        self.note_handshake_activity(now);
        true
    }

    /// A STUN datagram: answered by the ICE agent, or dropped and counted on
    /// legs without ICE (some clients send binding requests regardless).
    pub fn on_stun(&mut self, comp: Component, src: SocketAddr, data: &[u8], now: Instant) -> StunReply {
        let Some(ice) = self.ice.as_mut() else {
            self.stats.drop(DropReason::Stun);
            return StunReply { response: None, selected: None };
        };
        let reply = ice.handle(comp, src, data, now);
        let selected = match reply.outcome {
            Ok(check) if check.new_selection && comp == Component::Rtp => Some(src),
            Ok(_) => None,
            Err(IceReject::Fingerprint) => {
                self.stats.drop(DropReason::StunFingerprint);
                None
            }
            Err(IceReject::Auth) => {
                self.stats.drop(DropReason::StunAuth);
                None
            }
            Err(IceReject::Malformed | IceReject::Indication) => {
                self.stats.drop(DropReason::Stun);
                None
            }
        };
        StunReply { response: reply.response, selected }
    }

    /// Withdraws consent on ICE pairs silent for 30 s (RFC 7675); true when lost now.
    pub fn check_consent(&mut self, now: Instant) -> bool {
        self.ice.as_mut().is_some_and(|i| i.check_consent(now))
    }

    /// Marks the start of a handshake at its first datagram in or out (a
    /// connected association's later records do not start a new one).
    pub fn note_handshake_activity(&mut self, now: Instant) {
        if self.handshake_started.is_none() && !matches!(self.dtls_state(), Some(DtlsState::Connected) | None) {
            self.handshake_started = Some(now);
        }
    }

    /// Applies the DTLS events of this leg: installs keys on Connected.
    pub fn poll_dtls_event(&mut self, now: Instant) -> Option<LegEvent> {
        let ev = self.dtls.as_mut()?.poll_event()?;
        let handshake = self.handshake_started.take().map_or(std::time::Duration::ZERO, |t| now.saturating_duration_since(t));
        Some(match ev {
            DtlsEvent::Connected { keys, peer_fingerprint } => match self.install_keys(&keys) {
                Ok(()) => LegEvent::DtlsConnected { profile: keys.profile, peer_fingerprint, handshake },
                Err(e) => LegEvent::DtlsFailed(DtlsFailure::Protocol(e)),
            },
            DtlsEvent::Failed(f) => {
                // No keys survive a failed (re)handshake: no media at all.
                self.srtp_in = None;
                self.srtp_out = None;
                LegEvent::DtlsFailed(f)
            }
            DtlsEvent::Closed => LegEvent::DtlsClosed,
        })
    }

    fn install_keys(&mut self, keys: &SrtpKeys) -> Result<(), String> {
        let out = SrtpContext::new(keys.profile, &keys.local, SrtpDirection::Outbound, crate::srtp::MAX_SSRCS)
            .map_err(|e| format!("SRTP outbound context: {e:?}"))?;
        let inb = SrtpContext::new(keys.profile, &keys.remote, SrtpDirection::Inbound, crate::srtp::MAX_SSRCS)
            .map_err(|e| format!("SRTP inbound context: {e:?}"))?;
        self.srtp_out = Some(out);
        self.srtp_in = Some(inb);
        self.profile = Some(keys.profile);
        Ok(())
    }

    /// Checks, decrypts and latches an RTP/RTCP datagram received on this leg.
    /// Returns the plain length, or why it was dropped.
    pub fn receive(
        &mut self,
        kind: PacketKind,
        comp: Component,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Result<(usize, Option<LegEvent>), DropReason> {
        let latched = match comp {
            Component::Rtp => self.latched_rtp,
            Component::Rtcp => self.latched_rtcp,
        };
        let ice = self.ice.is_some();
        if let Some(agent) = &self.ice {
            // ICE replaces latching: only checked addresses may send media.
            if !agent.is_validated(comp, src) {
                return Err(DropReason::WrongSource);
            }
        } else if latched.is_some_and(|l| l != src) {
            return Err(DropReason::WrongSource);
        }
        // `security` is only read without an SRTP context (it is in the cold part).
        let plain = match kind {
            PacketKind::Rtp => match self.srtp_in.as_mut() {
                Some(ctx) => ctx.unprotect_rtp(buf, len).map_err(srtp_drop)?,
                None if is_secure(&self.security) => return Err(DropReason::NoKeys),
                None => len,
            },
            PacketKind::Rtcp => match self.srtp_in.as_mut() {
                Some(ctx) => ctx.unprotect_rtcp(buf, len).map_err(srtp_drop)?,
                None if is_secure(&self.security) => return Err(DropReason::NoKeys),
                None => len,
            },
            _ => return Err(DropReason::Malformed),
        };
        let valid = match kind {
            PacketKind::Rtp => packet::valid_rtp(&buf[..plain]),
            _ => packet::valid_rtcp(&buf[..plain]),
        };
        if !valid {
            return Err(DropReason::Malformed);
        }
        // Latch on the first packet that passed authentication (or, on a
        // plain leg, the first well-formed one).
        let mut event = None;
        if latched.is_none() && !ice {
            match comp {
                Component::Rtp => {
                    self.latched_rtp = Some(src);
                    event = Some(LegEvent::MediaLatched(src));
                }
                Component::Rtcp => self.latched_rtcp = Some(src),
            }
        }
        Ok((plain, event))
    }

    /// Encrypts a plain RTP/RTCP packet for this leg and says where it goes.
    pub fn prepare_send(
        &mut self,
        kind: PacketKind,
        buf: &mut [u8],
        len: usize,
    ) -> Result<(usize, Component, SocketAddr), DropReason> {
        let rtcp_on_own_port = kind == PacketKind::Rtcp && !self.rtcp_mux;
        let (comp, dst) = if let Some(ice) = &self.ice {
            let comp = if rtcp_on_own_port { Component::Rtcp } else { Component::Rtp };
            match ice.destination(comp) {
                Some(dst) => (comp, Some(dst)),
                // Nominated once, consent gone (RFC 7675): stop sending.
                None if ice.selected(comp).is_some() => return Err(DropReason::NoConsent),
                None => return Err(DropReason::NoDestination),
            }
        } else if rtcp_on_own_port {
            let dst = self
                .latched_rtcp
                .or(self.remote_rtcp)
                .or_else(|| self.remote_rtp.map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))));
            (Component::Rtcp, dst)
        } else {
            // Without SDP address or media latch yet, the DTLS peer is where
            // media goes (rtcp-mux: same 5-tuple).
            (Component::Rtp, self.latched_rtp.or(self.remote_rtp).or(self.dtls_peer))
        };
        let dst = dst.ok_or(DropReason::NoDestination)?;
        let n = match self.srtp_out.as_mut() {
            Some(ctx) if kind == PacketKind::Rtp => ctx.protect_rtp(buf, len).map_err(srtp_drop)?,
            Some(ctx) => ctx.protect_rtcp(buf, len).map_err(srtp_drop)?,
            None if is_secure(&self.security) => return Err(DropReason::NoKeys),
            None => len,
        };
        Ok((n, comp, dst))
    }
}

fn is_secure(security: &LegSecurity) -> bool {
    !matches!(security, LegSecurity::Rtp)
}

fn srtp_drop(e: SrtpError) -> DropReason {
    match e {
        SrtpError::AuthFail => DropReason::AuthFail,
        SrtpError::Replay => DropReason::Replay,
        SrtpError::SsrcLimit => DropReason::SsrcLimit,
        SrtpError::Malformed | SrtpError::Other(_) => DropReason::Malformed,
    }
}

fn same_set(a: &[Fingerprint], b: &[Fingerprint]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// Prefetches the lines holding bytes `from..to` after `base`.
#[inline]
fn prefetch_lines(base: *const u8, from: usize, to: usize) {
    let first = (base as usize + from) & !63;
    let mut line = first;
    while line < base as usize + to {
        crate::sys::prefetch(line as *const u8);
        line += 64;
    }
}
