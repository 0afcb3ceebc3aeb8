use super::*;

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(seq as u32 * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn pair(profile: SrtpProfile) -> (SrtpContext, SrtpContext) {
    let key: Vec<u8> = (0..profile.key_salt_len() as u8).collect();
    (
        SrtpContext::new(profile, &key, SrtpDirection::Outbound, 4).unwrap(),
        SrtpContext::new(profile, &key, SrtpDirection::Inbound, 4).unwrap(),
    )
}

/// Protects `plain` and returns the wire bytes.
fn protect(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; plain.len() + SRTP_MAX_TRAILER];
    buf[..plain.len()].copy_from_slice(plain);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(rx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = wire.to_vec();
    let n = rx.unprotect_rtp(&mut buf, wire.len())?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn every_profile_round_trips_rtp_and_rtcp() {
    for profile in SrtpProfile::ALL {
        let (mut tx, mut rx) = pair(profile);
        let plain = rtp(1, 0x1234, &[0xd5; 160]);
        let wire = protect(&mut tx, &plain);
        assert_ne!(&wire[12..172], &plain[12..], "{profile}: payload must be encrypted");
        assert_eq!(unprotect(&mut rx, &wire).unwrap(), plain, "{profile}");

        let rr = [0x80u8, 201, 0, 1, 0, 0, 0x12, 0x34];
        let mut buf = vec![0u8; 8 + SRTP_MAX_TRAILER];
        buf[..8].copy_from_slice(&rr);
        let n = tx.protect_rtcp(&mut buf, 8).unwrap();
        assert!(n > 8);
        let m = rx.unprotect_rtcp(&mut buf, n).unwrap();
        assert_eq!(&buf[..m], &rr, "{profile} rtcp");
    }
}

#[test]
fn bad_tag_is_rejected_and_does_not_advance_replay_window_or_roc() {
    let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
    let first = protect(&mut tx, &rtp(65534, 7, &[1; 20]));
    unprotect(&mut rx, &first).unwrap();
    let p65535 = protect(&mut tx, &rtp(65535, 7, &[2; 20]));
    let p0 = protect(&mut tx, &rtp(0, 7, &[3; 20])); // ROC 1 after the wrap
    let mut forged = p0.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0xff;
    assert_eq!(unprotect(&mut rx, &forged), Err(SrtpError::AuthFail));
    // The forged packet must not have consumed seq 0 / ROC 1 nor moved the window.
    unprotect(&mut rx, &p65535).unwrap();
    assert_eq!(unprotect(&mut rx, &p0).unwrap()[12..], [3; 20]);
    for seq in 1..100u16 {
        let w = protect(&mut tx, &rtp(seq, 7, &[seq as u8; 20]));
        assert_eq!(unprotect(&mut rx, &w).unwrap()[12..], [seq as u8; 20]);
    }
}

#[test]
fn replays_are_rejected() {
    let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm);
    let w = protect(&mut tx, &rtp(10, 9, &[4; 40]));
    unprotect(&mut rx, &w).unwrap();
    assert_eq!(unprotect(&mut rx, &w), Err(SrtpError::Replay));
}

#[test]
fn ssrc_cap_bounds_streams() {
    let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
    for ssrc in 0..4 {
        let w = protect(&mut tx, &rtp(1, ssrc, &[0; 10]));
        unprotect(&mut rx, &w).unwrap();
    }
    let mut buf = rtp(1, 99, &[0; 10]);
    buf.resize(buf.len() + SRTP_MAX_TRAILER, 0);
    assert_eq!(tx.protect_rtp(&mut buf, 22), Err(SrtpError::SsrcLimit));
    assert_eq!(rx.ssrc_count(), 4);
}

#[test]
fn garbage_and_truncated_input_is_an_error_not_a_crash() {
    let (_, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
    for len in 0..40 {
        let mut buf = vec![0x80u8; len];
        assert!(rx.unprotect_rtp(&mut buf, len).is_err());
        assert!(rx.unprotect_rtcp(&mut buf, len).is_err());
    }
    assert_eq!(rx.ssrc_count(), 0);
}

#[test]
fn wrong_key_length_is_refused() {
    assert!(SrtpContext::new(SrtpProfile::AeadAes256Gcm, &[0; 30], SrtpDirection::Inbound, 4).is_err());
}

/// A stream protected with `tx` from `from` to `to` (exclusive), in order.
fn stream(tx: &mut SrtpContext, ssrc: u32, seqs: impl Iterator<Item = u16>) -> Vec<Vec<u8>> {
    seqs.map(|s| protect(tx, &rtp(s, ssrc, &[s as u8; 40]))).collect()
}

#[test]
fn a_wrong_key_is_rejected_without_creating_streams() {
    let (_, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
    let other: Vec<u8> = (100..130).collect();
    // An SSRC flood under a wrong key: every packet fails, none takes a slot.
    for ssrc in 0..50 {
        // One forging context per SSRC (a context learns at most MAX_SSRCS).
        let mut forger = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &other, SrtpDirection::Outbound, 1).unwrap();
        let w = protect(&mut forger, &rtp(1, ssrc, &[9; 40]));
        assert_eq!(unprotect(&mut rx, &w), Err(SrtpError::AuthFail));
    }
    assert_eq!(rx.ssrc_count(), 0);
    // The real sender still gets all its slots.
    let (mut tx, _) = pair(SrtpProfile::AesCm128HmacSha1_80);
    for ssrc in 0..4 {
        unprotect(&mut rx, &protect(&mut tx, &rtp(1, ssrc, &[1; 40]))).unwrap();
    }
}

#[test]
fn packets_older_than_the_replay_window_are_refused_newer_gaps_are_not() {
    let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm);
    let all = stream(&mut tx, 7, 0..3000);
    // Only every other packet arrives at first.
    for w in all.iter().step_by(2) {
        unprotect(&mut rx, w).unwrap();
    }
    // Missing packets inside the 1024-packet window are still accepted once...
    assert_eq!(unprotect(&mut rx, &all[2999 - 100]).unwrap()[12..], [(2899u16) as u8; 40]);
    assert_eq!(unprotect(&mut rx, &all[2999 - 100]), Err(SrtpError::Replay));
    // ...those behind it are refused, as are very old ones.
    for old in [2999 - 1100, 1001, 1] {
        assert_eq!(unprotect(&mut rx, &all[old]), Err(SrtpError::Replay), "seq {old}");
    }
    // The stream goes on.
    for w in stream(&mut tx, 7, 3000..3100) {
        unprotect(&mut rx, &w).unwrap();
    }
}

#[test]
fn huge_sequence_jumps_are_dropped_and_the_stream_goes_on() {
    for profile in [SrtpProfile::AesCm128HmacSha1_80, SrtpProfile::AeadAes128Gcm] {
        let (mut tx, mut rx) = pair(profile);
        for w in stream(&mut tx, 3, 40_000..40_010) {
            unprotect(&mut rx, &w).unwrap();
        }
        // Genuine packets (right key) from far away: forward by more than
        // 2^15 and back by more than 2^15 from seq 40010. RFC 3711 3.3.1 puts
        // them in another rollover period, so authentication (or the replay
        // check) fails; nothing moves the window or the ROC.
        let (mut far_tx, _) = pair(profile);
        let ahead = protect(&mut far_tx, &rtp(40_010u16.wrapping_add(40_000), 3, &[1; 40]));
        let (mut far_tx, _) = pair(profile);
        let behind = protect(&mut far_tx, &rtp(40_010 - 35_000, 3, &[2; 40]));
        // And forged ones (wrong key) in both directions.
        let other: Vec<u8> = (50..50 + profile.key_salt_len() as u8).collect();
        let mut forger = SrtpContext::new(profile, &other, SrtpDirection::Outbound, 4).unwrap();
        let forged = [protect(&mut forger, &rtp(40_010 + 20_000, 3, &[3; 40])), protect(&mut forger, &rtp(100, 3, &[4; 40]))];
        for w in [&ahead, &behind, &forged[0], &forged[1]] {
            let r = unprotect(&mut rx, w);
            assert!(matches!(r, Err(SrtpError::AuthFail | SrtpError::Replay)), "{profile}: {r:?}");
        }
        // In-order packets right after are accepted, across the ROC wrap too.
        for w in stream(&mut tx, 3, (40_010..=65_535).chain(0..100)) {
            assert!(unprotect(&mut rx, &w).is_ok(), "{profile}");
        }
    }
}

#[test]
fn prefetch_knows_where_each_session_keeps_its_per_packet_state() {
    // At creation: the session, the RTP cipher (AES-CM state; GCM state's
    // leading lines and the end of its key), the RTP auth (HMAC state; for
    // GCM libsrtp's null auth), the key limit. The first packet adds its
    // stream, the stream's keys and its replay bitmap. Proves the link wrap
    // of libsrtp's allocator and the plug-in reports took effect.
    for (profile, cipher) in [(SrtpProfile::AesCm128HmacSha1_80, 1), (SrtpProfile::AeadAes128Gcm, 2)] {
        let (mut tx, mut rx) = pair(profile);
        // On libsrtp's own crypto only its null auth (GCM) is recognised.
        let builtin_null_auth = usize::from(profile == SrtpProfile::AeadAes128Gcm);
        let at_create = if builtin_crypto_requested() { 2 + builtin_null_auth } else { 3 + cipher };
        assert_eq!(tx.prefetch_regions(), at_create, "{profile} before the first packet");
        let wire = protect(&mut tx, &rtp(1, 0x1234, &[0xd5; 160]));
        unprotect(&mut rx, &wire).unwrap();
        assert_eq!(tx.prefetch_regions(), at_create + 3, "{profile} outbound");
        assert_eq!(rx.prefetch_regions(), at_create + 3, "{profile} inbound");
        // A second SSRC adds nothing: the first stream's state is what is prefetched.
        let wire = protect(&mut tx, &rtp(1, 0x5678, &[0xd5; 160]));
        unprotect(&mut rx, &wire).unwrap();
        assert_eq!(rx.prefetch_regions(), at_create + 3, "{profile} second SSRC");
        rx.prefetch();
    }
}
