//! A call's media pipeline: two legs and the relay between them.
//! Sans-IO: datagrams come in through `on_datagram`, leave through `Io`.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dtls::{DtlsContext, DtlsFailure};
use crate::fingerprint::Fingerprint;
use crate::leg::{Component, Leg, LegEvent, LegSpec, LegUpdate, Side};
use crate::music::MusicSource;
use std::sync::Arc;
use crate::packet::{self, PacketKind};
use crate::srtp::{SrtpDirection, SrtpProfile};
use crate::stats::DropReason;

/// Something the control plane should hear about (batched by the worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// `handshake`: from the first DTLS datagram in or out to the verified peer.
    DtlsConnected { side: Side, profile: SrtpProfile, peer_fingerprint: Fingerprint, handshake: std::time::Duration },
    DtlsFailed { side: Side, reason: DtlsFailure },
    DtlsClosed { side: Side },
    /// First media on a plain leg, or (ICE legs) the nominated pair's address.
    MediaLatched { side: Side, addr: SocketAddr },
    MediaTimeout { side: Side },
    /// ICE consent expired (no valid check for 30 s): sending has stopped.
    IceConsentExpired { side: Side },
    /// The worker caught a panic in this pipeline and stopped it (worker.rs).
    PipelineFailed { reason: String },
}

/// Where the pipeline's output goes: the worker's send batch and event queue.
pub trait Io {
    fn send(&mut self, side: Side, comp: Component, dst: SocketAddr, data: &[u8]) -> bool;
    fn event(&mut self, ev: MediaEvent);
}

pub struct Pipeline {
    legs: [Leg; 2],
    media_timeout: Duration,
    music: Option<Arc<MusicSource>>,
}

/// Real media relayed to a leg within this window silences generated music
/// (a holder that streams its own music is relayed, not overridden).
const MUSIC_YIELD: Duration = Duration::from_millis(100);

impl Pipeline {
    pub fn new(
        a: LegSpec,
        b: LegSpec,
        ctx: &DtlsContext,
        media_timeout: Duration,
        music: Option<Arc<MusicSource>>,
        now: Instant,
    ) -> Result<Pipeline, String> {
        Ok(Pipeline { legs: [Leg::new(a, ctx, now)?, Leg::new(b, ctx, now)?], media_timeout, music })
    }

    /// When generated music is next due on any leg.
    pub fn music_due(&self) -> Option<Instant> {
        self.legs.iter().filter_map(|l| l.music.as_ref().and_then(|m| m.next_due())).min()
    }

    /// Sends due music packets (protected like any media toward that leg).
    pub fn on_music(&mut self, now: Instant, io: &mut dyn Io) {
        let mut buf = [0u8; 12 + crate::music::FRAME + crate::srtp::SRTP_MAX_TRAILER];
        for side in [Side::A, Side::B] {
            let leg = &mut self.legs[side.index()];
            let yielding = leg.last_rtp_out.is_some_and(|t| now.duration_since(t) < MUSIC_YIELD);
            let Some(music) = leg.music.as_mut() else { continue };
            if yielding {
                // Real media is flowing to this party: skip this frame.
                if music.next_due().is_some_and(|d| d <= now) {
                    music.defer(now + crate::music::PTIME);
                }
                continue;
            }
            let Some(len) = music.next_packet(now, &mut buf) else { continue };
            match leg.prepare_send(PacketKind::Rtp, &mut buf, len) {
                Ok((n, comp, dst)) => {
                    if io.send(side, comp, dst, &buf[..n]) {
                        leg.stats.packets_out += 1;
                        leg.stats.bytes_out += n as u64;
                    }
                }
                Err(reason) => leg.stats.drop(reason),
            }
        }
    }

    /// First step of loading what a datagram arriving on `side` reads: the
    /// receiving leg's fields for its role and the sending leg's for its own.
    /// The worker calls it events ahead, so these cache misses overlap the
    /// work on the datagrams before.
    #[inline]
    pub fn prefetch_legs(&self, side: Side) {
        self.legs[side.index()].prefetch_for(SrtpDirection::Inbound);
        self.legs[side.other().index()].prefetch_for(SrtpDirection::Outbound);
    }

    /// Second step, for a datagram arriving on `side` (reads the SRTP
    /// handles `prefetch_legs` asked for): the receiving leg's SRTP-in and
    /// the other leg's SRTP-out state, before the receive system call.
    #[inline]
    pub fn prefetch_srtp(&self, side: Side) {
        self.legs[side.index()].prefetch_srtp(SrtpDirection::Inbound);
        self.legs[side.other().index()].prefetch_srtp(SrtpDirection::Outbound);
    }

    pub fn leg(&self, side: Side) -> &Leg {
        &self.legs[side.index()]
    }

    pub fn leg_mut(&mut self, side: Side) -> &mut Leg {
        &mut self.legs[side.index()]
    }

    /// Sends what a newly created client-role DTLS endpoint has queued.
    pub fn start(&mut self, now: Instant, io: &mut dyn Io) {
        for side in [Side::A, Side::B] {
            self.flush_dtls(side, now, io);
        }
    }

    pub fn update(&mut self, side: Side, u: LegUpdate, ctx: &DtlsContext, now: Instant, io: &mut dyn Io) -> Result<(), String> {
        let r = self.legs[side.index()].update(u, ctx, self.music.as_ref(), now);
        self.flush_dtls(side, now, io);
        r
    }

    /// One received datagram. `buf` holds it in its first `len` bytes and has
    /// spare room after it for an SRTP trailer.
    pub fn on_datagram(
        &mut self,
        side: Side,
        comp: Component,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
        io: &mut dyn Io,
    ) {
        let kind = packet::classify(&buf[..len]);
        let leg = &mut self.legs[side.index()];
        leg.stats.packets_in += 1;
        leg.stats.bytes_in += len as u64;
        match kind {
            PacketKind::Stun => {
                let reply = leg.on_stun(comp, src, &buf[..len], now);
                if let Some(resp) = reply.response {
                    if !io.send(side, comp, src, &resp) {
                        leg.stats.drop(DropReason::SendError);
                    }
                }
                if let Some(addr) = reply.selected {
                    io.event(MediaEvent::MediaLatched { side, addr });
                    // DTLS flights waiting for a destination go out now.
                    self.flush_dtls(side, now, io);
                }
            }
            PacketKind::Unknown => leg.stats.drop(DropReason::Malformed),
            PacketKind::Dtls => {
                if leg.on_dtls(src, &buf[..len], now) {
                    self.flush_dtls(side, now, io);
                }
            }
            PacketKind::Rtp | PacketKind::Rtcp => self.relay(side, comp, kind, src, buf, len, now, io),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn relay(
        &mut self,
        side: Side,
        comp: Component,
        kind: PacketKind,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
        io: &mut dyn Io,
    ) {
        let (from, to) = split(&mut self.legs, side);
        let plain = match from.receive(kind, comp, src, buf, len) {
            Ok((n, ev)) => {
                from.last_rx = Some(now);
                from.timeout_reported = false;
                if let Some(LegEvent::MediaLatched(addr)) = ev {
                    io.event(MediaEvent::MediaLatched { side, addr });
                }
                n
            }
            Err(reason) => return from.stats.drop(reason),
        };
        if kind == PacketKind::Rtp {
            // RTCP keeps flowing on hold (RFC 3264 5.1); RTP obeys direction.
            if !from.direction().remote_sends() || !to.direction().remote_receives() {
                return from.stats.drop(DropReason::Direction);
            }
        } else {
            from.stats.rtcp_in += 1;
        }
        match to.prepare_send(kind, buf, plain) {
            Ok((n, out_comp, dst)) => {
                if io.send(side.other(), out_comp, dst, &buf[..n]) {
                    if kind == PacketKind::Rtp {
                        to.last_rtp_out = Some(now);
                    }
                    to.stats.packets_out += 1;
                    to.stats.bytes_out += n as u64;
                    if kind == PacketKind::Rtcp {
                        to.stats.rtcp_out += 1;
                    }
                } else {
                    to.stats.drop(DropReason::SendError);
                }
            }
            Err(reason) => to.stats.drop(reason),
        }
    }

    /// Sends queued DTLS datagrams of a leg and reports its DTLS events.
    fn flush_dtls(&mut self, side: Side, now: Instant, io: &mut dyn Io) {
        let leg = &mut self.legs[side.index()];
        let Some(dst) = leg.dtls_peer() else { return };
        while let Some(d) = leg.dtls().and_then(|d| d.poll_datagram()) {
            leg.note_handshake_activity(now);
            if io.send(side, Component::Rtp, dst, &d) {
                leg.stats.dtls_out += 1;
            } else {
                leg.stats.drop(DropReason::SendError);
            }
        }
        while let Some(ev) = leg.poll_dtls_event(now) {
            io.event(match ev {
                LegEvent::DtlsConnected { profile, peer_fingerprint, handshake } => {
                    MediaEvent::DtlsConnected { side, profile, peer_fingerprint, handshake }
                }
                LegEvent::DtlsFailed(reason) => MediaEvent::DtlsFailed { side, reason },
                LegEvent::DtlsClosed => MediaEvent::DtlsClosed { side },
                LegEvent::MediaLatched(addr) => MediaEvent::MediaLatched { side, addr },
            });
        }
    }

    /// Earliest time `on_timeout` has work to do.
    pub fn next_timeout(&self, now: Instant) -> Option<Instant> {
        self.legs.iter().filter_map(|l| l.dtls_ref_timeout(now)).min()
    }

    /// DTLS retransmissions and deadlines, and the media timeout.
    pub fn on_timeout(&mut self, now: Instant, io: &mut dyn Io) {
        for side in [Side::A, Side::B] {
            let leg = &mut self.legs[side.index()];
            if let Some(d) = leg.dtls() {
                d.handle_timeout(now);
            }
            self.flush_dtls(side, now, io);
        }
    }

    /// Reports legs that should be receiving media but have been silent for
    /// the media timeout (once per silence). A leg on hold is not expected to send.
    /// Also withdraws ICE consent on legs without a valid check for 30 s.
    pub fn check_media_timeout(&mut self, started: Instant, now: Instant, io: &mut dyn Io) {
        for side in [Side::A, Side::B] {
            if self.legs[side.index()].check_consent(now) {
                io.event(MediaEvent::IceConsentExpired { side });
            }
        }
        if self.media_timeout.is_zero() {
            return;
        }
        for side in [Side::A, Side::B] {
            let leg = &mut self.legs[side.index()];
            let since = leg.last_rx.unwrap_or(started);
            if leg.direction().remote_sends() && !leg.timeout_reported && now.duration_since(since) >= self.media_timeout {
                leg.timeout_reported = true;
                io.event(MediaEvent::MediaTimeout { side });
            }
        }
    }

    /// Sends close_notify on live DTLS associations.
    pub fn close(&mut self, now: Instant, io: &mut dyn Io) {
        for side in [Side::A, Side::B] {
            if let Some(d) = self.legs[side.index()].dtls() {
                d.close();
            }
            self.flush_dtls(side, now, io);
        }
    }
}

fn split(legs: &mut [Leg; 2], side: Side) -> (&mut Leg, &mut Leg) {
    let (a, b) = legs.split_at_mut(1);
    match side {
        Side::A => (&mut a[0], &mut b[0]),
        Side::B => (&mut b[0], &mut a[0]),
    }
}
