#![no_main]
//! A whole call pipeline, sans-IO: arbitrary datagrams on both legs' RTP and
//! RTCP ports from a few sources, with timers and an update in between, for
//! each security combination (plain, SDES-SRTP, DTLS-SRTP in both roles).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use esbc_media::dtls::{DtlsConfig, DtlsContext, DtlsRole};
use esbc_media::identity::DtlsIdentity;
use esbc_media::leg::{Component, Direction, LegSecurity, LegSpec, LegUpdate, SdesKey, Side};
use esbc_media::pipeline::{Io, MediaEvent, Pipeline};
use esbc_media::srtp::{SrtpProfile, SRTP_MAX_TRAILER};
use libfuzzer_sys::fuzz_target;

fn ctx() -> &'static Arc<DtlsContext> {
    static CTX: OnceLock<Arc<DtlsContext>> = OnceLock::new();
    CTX.get_or_init(|| DtlsContext::new(DtlsIdentity::generate_ecdsa(1).unwrap(), DtlsConfig::default()).unwrap())
}

/// Counts what the pipeline sends; nothing leaves the process.
#[derive(Default)]
struct Sink {
    sent: usize,
    events: Vec<MediaEvent>,
}

impl Io for Sink {
    fn send(&mut self, _side: Side, _comp: Component, _dst: SocketAddr, data: &[u8]) -> bool {
        assert!(data.len() <= 65_535);
        self.sent += 1;
        true
    }
    fn event(&mut self, ev: MediaEvent) {
        self.events.push(ev);
    }
}

fn sdes(seed: u8, profile: SrtpProfile) -> SdesKey {
    SdesKey { profile, key_salt: (0..profile.key_salt_len() as u8).map(|i| i ^ seed).collect() }
}

fn security(code: u8) -> LegSecurity {
    match code % 4 {
        0 => LegSecurity::Rtp,
        1 => LegSecurity::SdesSrtp { local: sdes(1, SrtpProfile::AesCm128HmacSha1_80), remote: Some(sdes(2, SrtpProfile::AesCm128HmacSha1_80)) },
        2 => LegSecurity::DtlsSrtp { role: DtlsRole::Server, remote_fingerprints: vec![], remote_tls_id: None },
        _ => LegSecurity::DtlsSrtp { role: DtlsRole::Client, remote_fingerprints: vec![], remote_tls_id: None },
    }
}

fn spec(code: u8) -> LegSpec {
    LegSpec {
        security: security(code),
        remote_rtp: (code & 4 != 0).then(|| "127.0.0.1:7000".parse().unwrap()),
        remote_rtcp: None,
        rtcp_mux: code & 8 != 0,
        direction: [Direction::SendRecv, Direction::SendOnly, Direction::RecvOnly, Direction::Inactive][(code >> 4) as usize % 4],
        ice: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else { return };
    let start = Instant::now();
    let Ok(mut p) = Pipeline::new(spec(*a), spec(*b), ctx(), Duration::from_secs(5), None, start) else { return };
    let mut io = Sink::default();
    p.start(start, &mut io);
    let sources: [SocketAddr; 3] = ["127.0.0.1:7000".parse().unwrap(), "127.0.0.1:7001".parse().unwrap(), "10.0.0.9:7000".parse().unwrap()];
    // Each record: flags byte, length byte, then that many bytes.
    let mut rest = rest;
    let mut clock = start;
    let mut buf = vec![0u8; 2048 + SRTP_MAX_TRAILER];
    while let [flags, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let (d, next) = tail.split_at(n);
        rest = next;
        let side = if flags & 1 == 0 { Side::A } else { Side::B };
        let comp = if flags & 2 == 0 { Component::Rtp } else { Component::Rtcp };
        let src = sources[(flags >> 2) as usize % 3];
        buf[..n].copy_from_slice(d);
        p.on_datagram(side, comp, src, &mut buf, n, clock, &mut io);
        if flags & 0x20 != 0 {
            clock += Duration::from_millis(700);
            p.on_timeout(clock, &mut io);
            p.check_media_timeout(start, clock, &mut io);
        }
        if flags & 0x40 != 0 {
            // A re-INVITE: new address and direction, maybe new security.
            let u = LegUpdate {
                remote_rtp: Some(Some(sources[(flags >> 2) as usize % 3])),
                direction: Some(if flags & 0x80 != 0 { Direction::SendOnly } else { Direction::SendRecv }),
                security: (flags & 0x80 != 0).then(|| security(d.first().copied().unwrap_or(0))),
                ..LegUpdate::default()
            };
            let _ = p.update(side, u, ctx(), clock, &mut io);
        }
    }
    p.close(clock, &mut io);
});
