use super::*;
use crate::srtp::{SrtpContext, SrtpDirection, SRTP_MAX_TRAILER};

fn ctx_with(identity: Arc<DtlsIdentity>, f: impl FnOnce(&mut DtlsConfig)) -> Arc<DtlsContext> {
    let mut cfg = DtlsConfig { initial_retransmit: Duration::from_millis(30), ..DtlsConfig::default() };
    f(&mut cfg);
    DtlsContext::new(identity, cfg).unwrap()
}

fn ecdsa() -> Arc<DtlsIdentity> {
    DtlsIdentity::generate_ecdsa(1).unwrap()
}

fn addr(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// Moves datagrams both ways through `filter` (which may drop, keep or
/// reorder them) until nothing moves; returns every datagram size seen.
fn pump(
    a: &mut DtlsEndpoint,
    b: &mut DtlsEndpoint,
    mut filter: impl FnMut(usize, Vec<Vec<u8>>) -> Vec<Vec<u8>>,
    now: Instant,
) -> Vec<usize> {
    let mut sizes = Vec::new();
    for _ in 0..50 {
        let from_a: Vec<Vec<u8>> = std::iter::from_fn(|| a.poll_datagram()).collect();
        let from_b: Vec<Vec<u8>> = std::iter::from_fn(|| b.poll_datagram()).collect();
        if from_a.is_empty() && from_b.is_empty() {
            break;
        }
        sizes.extend(from_a.iter().chain(from_b.iter()).map(|d| d.len()));
        for d in filter(0, from_a) {
            b.handle_datagram(&d, now);
        }
        for d in filter(1, from_b) {
            a.handle_datagram(&d, now);
        }
    }
    sizes
}

fn events(ep: &mut DtlsEndpoint) -> Vec<DtlsEvent> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

fn connected_keys(evs: &[DtlsEvent]) -> Option<SrtpKeys> {
    evs.iter().find_map(|e| match e {
        DtlsEvent::Connected { keys, .. } => Some(keys.clone()),
        _ => None,
    })
}

fn pair(
    client_id: &Arc<DtlsIdentity>,
    server_id: &Arc<DtlsIdentity>,
    hash: HashAlg,
    cfg: impl Fn(&mut DtlsConfig) + Copy,
) -> (DtlsEndpoint, DtlsEndpoint) {
    let now = Instant::now();
    let cc = ctx_with(client_id.clone(), cfg);
    let sc = ctx_with(server_id.clone(), cfg);
    let client = DtlsEndpoint::new(&cc, DtlsRole::Client, vec![server_id.fingerprint(hash).clone()], now).unwrap();
    let mut server = DtlsEndpoint::new(&sc, DtlsRole::Server, vec![client_id.fingerprint(hash).clone()], now).unwrap();
    server.set_peer_address(&addr(1000));
    (client, server)
}

#[test]
fn every_profile_and_hash_in_both_roles() {
    let (x, y) = (ecdsa(), ecdsa());
    for profile in SrtpProfile::ALL {
        for hash in HashAlg::ALL {
            for (client_id, server_id) in [(&x, &y), (&y, &x)] {
                let (mut c, mut s) = pair(client_id, server_id, hash, |cfg| cfg.profiles = vec![profile]);
                pump(&mut c, &mut s, |_, d| d, Instant::now());
                let (ce, se) = (events(&mut c), events(&mut s));
                let ck = connected_keys(&ce).unwrap_or_else(|| panic!("{profile} {hash:?} client: {ce:?}"));
                let sk = connected_keys(&se).unwrap_or_else(|| panic!("{profile} {hash:?} server: {se:?}"));
                assert_eq!(ck.profile, profile);
                assert_eq!(ck.local, sk.remote);
                assert_eq!(ck.remote, sk.local);
                assert_ne!(ck.local, ck.remote);
                assert_eq!(ck.local.len(), profile.key_salt_len());
                assert_eq!(c.state(), DtlsState::Connected);
                // The derived keys really interoperate as SRTP.
                let mut tx = SrtpContext::new(profile, &ck.local, SrtpDirection::Outbound, 4).unwrap();
                let mut rx = SrtpContext::new(profile, &sk.remote, SrtpDirection::Inbound, 4).unwrap();
                let mut buf = vec![0u8; 32 + SRTP_MAX_TRAILER];
                buf[0] = 0x80;
                buf[11] = 5;
                let n = tx.protect_rtp(&mut buf, 32).unwrap();
                assert_eq!(rx.unprotect_rtp(&mut buf, n).unwrap(), 32);
            }
        }
    }
}

#[test]
fn server_prefers_its_own_profile_order() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    pump(&mut c, &mut s, |_, d| d, Instant::now());
    assert_eq!(connected_keys(&events(&mut c)).unwrap().profile, DtlsConfig::default().profiles[0]);
}

#[test]
fn no_common_profile_fails() {
    let (x, y) = (ecdsa(), ecdsa());
    let now = Instant::now();
    let cc = ctx_with(x.clone(), |c| c.profiles = vec![SrtpProfile::AesCm128HmacSha1_32]);
    let sc = ctx_with(y.clone(), |c| c.profiles = vec![SrtpProfile::AeadAes256Gcm]);
    let mut c = DtlsEndpoint::new(&cc, DtlsRole::Client, vec![y.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
    let mut s = DtlsEndpoint::new(&sc, DtlsRole::Server, vec![x.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
    pump(&mut c, &mut s, |_, d| d, now);
    let (ce, se) = (events(&mut c), events(&mut s));
    assert!(connected_keys(&ce).is_none() && connected_keys(&se).is_none());
    assert!(se.contains(&DtlsEvent::Failed(DtlsFailure::NoCommonProfile)) || ce.contains(&DtlsEvent::Failed(DtlsFailure::NoCommonProfile)), "{ce:?} {se:?}");
}

#[test]
fn fingerprint_mismatch_is_rejected_before_keys_either_side() {
    let (x, y, z) = (ecdsa(), ecdsa(), ecdsa());
    // Client expects z but the server presents y.
    let now = Instant::now();
    let cc = ctx_with(x.clone(), |_| {});
    let sc = ctx_with(y.clone(), |_| {});
    let mut c = DtlsEndpoint::new(&cc, DtlsRole::Client, vec![z.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
    let mut s = DtlsEndpoint::new(&sc, DtlsRole::Server, vec![x.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
    pump(&mut c, &mut s, |_, d| d, now);
    let (ce, se) = (events(&mut c), events(&mut s));
    assert_eq!(ce, vec![DtlsEvent::Failed(DtlsFailure::FingerprintMismatch)]);
    assert!(connected_keys(&se).is_none(), "{se:?}");

    // Server expects z but the client presents x.
    let mut c = DtlsEndpoint::new(&cc, DtlsRole::Client, vec![y.fingerprint(HashAlg::Sha1).clone()], now).unwrap();
    let mut s = DtlsEndpoint::new(&sc, DtlsRole::Server, vec![z.fingerprint(HashAlg::Sha1).clone()], now).unwrap();
    pump(&mut c, &mut s, |_, d| d, now);
    let (ce, se) = (events(&mut c), events(&mut s));
    assert_eq!(se, vec![DtlsEvent::Failed(DtlsFailure::FingerprintMismatch)]);
    assert!(connected_keys(&ce).is_none(), "{ce:?}");
}

#[test]
fn fingerprint_learned_after_the_handshake_completes_it_or_rejects_it() {
    let (x, y) = (ecdsa(), ecdsa());
    let now = Instant::now();
    let cc = ctx_with(x.clone(), |_| {});
    let sc = ctx_with(y.clone(), |_| {});
    // The server got the ClientHello before the SDP answer told it the fingerprint.
    for (late, ok) in [(x.fingerprint(HashAlg::Sha256).clone(), true), (y.fingerprint(HashAlg::Sha256).clone(), false)] {
        let mut c = DtlsEndpoint::new(&cc, DtlsRole::Client, vec![y.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
        let mut s = DtlsEndpoint::new(&sc, DtlsRole::Server, vec![], now).unwrap();
        pump(&mut c, &mut s, |_, d| d, now);
        assert_eq!(s.state(), DtlsState::AwaitingFingerprint);
        assert!(events(&mut s).is_empty(), "no keys before the fingerprint is known");
        s.set_remote_fingerprints(vec![late]);
        let se = events(&mut s);
        assert_eq!(connected_keys(&se).is_some(), ok, "{se:?}");
        if !ok {
            assert_eq!(se, vec![DtlsEvent::Failed(DtlsFailure::FingerprintMismatch)]);
        }
    }
}

#[test]
fn rsa4096_flights_respect_the_mtu() {
    let (x, y) = (DtlsIdentity::generate_rsa(4096, 1).unwrap(), DtlsIdentity::generate_rsa(4096, 1).unwrap());
    for mtu in [1200u32, 576] {
        let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |cfg| cfg.mtu = mtu);
        let sizes = pump(&mut c, &mut s, |_, d| d, Instant::now());
        assert!(connected_keys(&events(&mut c)).is_some());
        assert!(sizes.iter().all(|&n| n <= mtu as usize), "mtu {mtu}: {sizes:?}");
        assert!(sizes.iter().sum::<usize>() > 4096 / 8 * 2, "certificates really travelled");
    }
}

#[test]
fn cookie_exchange_answers_a_client_hello_with_a_small_hello_verify_request() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    let hello = c.poll_datagram().unwrap();
    s.handle_datagram(&hello, Instant::now());
    let reply: Vec<Vec<u8>> = std::iter::from_fn(|| s.poll_datagram()).collect();
    assert_eq!(reply.len(), 1);
    assert_eq!(reply[0][13], 3, "handshake type hello_verify_request");
    assert!(reply[0].len() < hello.len(), "no amplification: {} vs {}", reply[0].len(), hello.len());
    // A cookie made for another address is refused: the handshake stalls.
    c.handle_datagram(&reply[0], Instant::now());
    let hello2 = c.poll_datagram().unwrap();
    s.set_peer_address(&addr(2000));
    s.handle_datagram(&hello2, Instant::now());
    let answer: Vec<Vec<u8>> = std::iter::from_fn(|| s.poll_datagram()).collect();
    // OpenSSL answers a bad cookie with a handshake_failure alert: no ServerHello flight.
    assert!(answer.iter().all(|d| d[0] == 21 || d[13] == 3), "{answer:?}");
    assert!(answer.iter().map(|d| d.len()).sum::<usize>() < hello2.len());
    assert_ne!(s.state(), DtlsState::Connected);
}

#[test]
fn survives_loss_and_reordering_with_retransmission() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    let mut dropped = 0;
    let mut round = 0;
    let start = Instant::now();
    while c.state() != DtlsState::Connected || s.state() != DtlsState::Connected {
        round += 1;
        pump(
            &mut c,
            &mut s,
            |_, mut d| {
                // Lose every other flight for a while, reverse the rest.
                if round < 6 && round % 2 == 1 {
                    dropped += d.len();
                    return vec![];
                }
                d.reverse();
                d
            },
            Instant::now(),
        );
        std::thread::sleep(Duration::from_millis(35));
        let now = Instant::now();
        c.handle_timeout(now);
        s.handle_timeout(now);
        assert!(start.elapsed() < Duration::from_secs(20), "handshake did not recover");
    }
    assert!(dropped > 0);
    assert!(connected_keys(&events(&mut c)).is_some());
    assert!(connected_keys(&events(&mut s)).is_some());
}

#[test]
fn lost_final_flight_is_recovered_by_retransmission() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    // Deliver everything except the server's last flight (ChangeCipherSpec + Finished) once.
    let mut lost_last = false;
    let mut pumped = 0;
    let start = Instant::now();
    while c.state() != DtlsState::Connected {
        pump(
            &mut c,
            &mut s,
            |dir, d| {
                pumped += 1;
                if dir == 1 && s_connected_flight(&d) && !lost_last {
                    lost_last = true;
                    return vec![];
                }
                d
            },
            Instant::now(),
        );
        std::thread::sleep(Duration::from_millis(35));
        c.handle_timeout(Instant::now());
        s.handle_timeout(Instant::now());
        assert!(start.elapsed() < Duration::from_secs(20));
    }
    assert!(lost_last && pumped > 0);
    assert_eq!(s.state(), DtlsState::Connected);
    assert_eq!(connected_keys(&events(&mut c)), connected_keys(&events(&mut s)).map(|k| SrtpKeys { local: k.remote, remote: k.local, ..k }));
}

/// A flight containing ChangeCipherSpec (content type 20) comes from a
/// finished server.
fn s_connected_flight(d: &[Vec<u8>]) -> bool {
    d.iter().any(|x| x.first() == Some(&20))
}

#[test]
fn handshake_deadline_uses_the_callers_clock() {
    let x = ecdsa();
    let now = Instant::now();
    let cc = ctx_with(x.clone(), |c| c.handshake_timeout = Duration::from_secs(30));
    let mut c = DtlsEndpoint::new(&cc, DtlsRole::Client, vec![x.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
    assert!(c.next_timeout(now).unwrap() <= now + Duration::from_secs(30));
    c.handle_timeout(now + Duration::from_secs(29));
    assert_eq!(c.state(), DtlsState::Handshaking);
    c.handle_timeout(now + Duration::from_secs(31));
    assert_eq!(events(&mut c), vec![DtlsEvent::Failed(DtlsFailure::Timeout)]);
}

#[test]
fn close_notify_is_reported_and_garbage_is_ignored() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    pump(&mut c, &mut s, |_, d| d, Instant::now());
    events(&mut c);
    events(&mut s);
    for junk in [&[22u8, 254, 253][..], &[23u8; 100][..], &[21u8, 254, 253, 0, 1, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40][..]] {
        s.handle_datagram(junk, Instant::now());
    }
    eprintln!("state after junk {:?}", s.state());
    assert_eq!(s.state(), DtlsState::Connected, "records from nowhere do not end the association");
    c.close();
    let sizes = pump(&mut c, &mut s, |_, d| d, Instant::now());
    assert_eq!(events(&mut s), vec![DtlsEvent::Closed], "{sizes:?}");
}

#[test]
fn short_encrypted_records_do_not_kill_the_association() {
    // OpenSSL 3 treats an epoch-1 record shorter than the AEAD overhead as
    // fatal; the endpoint must filter such records out before OpenSSL.
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    pump(&mut c, &mut s, |_, d| d, Instant::now());
    events(&mut s);
    for len in [0usize, 1, 2, 8, 16, 23, 24, 25, 40, 64, 300] {
        for ty in [21u8, 22, 23] {
            let mut junk = vec![ty, 254, 253, 0, 1, 0, 0, 0, 0, 0, 9];
            junk.extend_from_slice(&(len as u16).to_be_bytes());
            junk.extend(std::iter::repeat_n(7u8, len));
            s.handle_datagram(&junk, Instant::now());
        }
    }
    assert_eq!(s.state(), DtlsState::Connected);
    c.close();
    pump(&mut c, &mut s, |_, d| d, Instant::now());
    assert_eq!(events(&mut s), vec![DtlsEvent::Closed]);
}

mod hostile;
mod records;
