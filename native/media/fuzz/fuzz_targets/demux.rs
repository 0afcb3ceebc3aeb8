#![no_main]
//! Any datagram: the RFC 7983 demultiplexer, the RTP/RTCP header checks,
//! libsrtp's SRTP/SRTCP unprotect (both profile families) and the DTLS
//! endpoint's record filter plus OpenSSL behind it must not panic or crash.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use esbc_media::dtls::{DtlsConfig, DtlsContext, DtlsEndpoint, DtlsRole};
use esbc_media::identity::DtlsIdentity;
use esbc_media::packet::{self, PacketKind};
use esbc_media::srtp::{SrtpContext, SrtpDirection, SrtpProfile, SRTP_MAX_TRAILER};
use libfuzzer_sys::fuzz_target;

fn ctx() -> &'static Arc<DtlsContext> {
    static CTX: OnceLock<Arc<DtlsContext>> = OnceLock::new();
    CTX.get_or_init(|| DtlsContext::new(DtlsIdentity::generate_ecdsa(1).unwrap(), DtlsConfig::default()).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let kind = packet::classify(data);
    if packet::valid_rtp(data) {
        let _ = (packet::rtp_seq(data), packet::rtp_timestamp(data), packet::rtp_ssrc(data));
    }
    let _ = packet::valid_rtcp(data);

    let mut buf = data.to_vec();
    buf.resize(data.len() + SRTP_MAX_TRAILER, 0);
    for profile in [SrtpProfile::AesCm128HmacSha1_80, SrtpProfile::AeadAes128Gcm] {
        let key: Vec<u8> = (0..profile.key_salt_len() as u8).collect();
        let mut rx = SrtpContext::new(profile, &key, SrtpDirection::Inbound, 4).unwrap();
        let mut b = buf.clone();
        match kind {
            PacketKind::Rtcp => {
                let _ = rx.unprotect_rtcp(&mut b, data.len());
            }
            _ => {
                let _ = rx.unprotect_rtp(&mut b, data.len());
            }
        }
        // Plain packets through an outbound context (the relay's protect path).
        let mut tx = SrtpContext::new(profile, &key, SrtpDirection::Outbound, 4).unwrap();
        let mut b = buf.clone();
        let _ = tx.protect_rtp(&mut b, data.len());
    }

    let now = Instant::now();
    for role in [DtlsRole::Server, DtlsRole::Client] {
        let mut ep = DtlsEndpoint::new(ctx(), role, vec![], now).unwrap();
        ep.set_peer_address(&"127.0.0.1:5000".parse().unwrap());
        ep.handle_datagram(data, now);
        // The same bytes again (retransmission/replay) and split in two.
        ep.handle_datagram(data, now);
        let mid = data.len() / 2;
        ep.handle_datagram(&data[..mid], now);
        ep.handle_datagram(&data[mid..], now);
        while ep.poll_datagram().is_some() {}
        while ep.poll_event().is_some() {}
        ep.handle_timeout(now);
    }
});
