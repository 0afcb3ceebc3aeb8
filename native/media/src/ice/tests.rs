//! ICE-lite agent state machine, and a pipeline leg with ICE + DTLS driven
//! by a real DTLS client endpoint (simulated time, in-memory datagrams).
use std::sync::Arc;

use super::*;
use crate::dtls::{DtlsConfig, DtlsContext, DtlsEndpoint, DtlsEvent, DtlsRole, DtlsState};
use crate::fingerprint::HashAlg;
use crate::identity::DtlsIdentity;
use crate::leg::{Direction, LegSecurity, LegSpec, LegUpdate, Side};
use crate::pipeline::{Io, MediaEvent, Pipeline};
use crate::stats::DropReason;
use crate::stun::attr;

fn creds(ufrag: &str, pwd: &str) -> IceCredentials {
    IceCredentials { ufrag: ufrag.into(), pwd: pwd.into() }
}
fn local() -> IceCredentials {
    creds("LoCl", "localpassword0123456789")
}
fn remote() -> IceCredentials {
    creds("RmTe", "remotepassword012345678")
}
fn agent() -> IceAgent {
    IceAgent::new(IceParams { local: local(), remote: Some(remote()) })
}
fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

/// A check as the controlling full agent sends it.
fn check(user: &str, key: Option<&[u8]>, use_candidate: bool, tid: u8) -> Vec<u8> {
    let mut b = Builder::new(stun::BINDING, Class::Request, &[tid; 12]).username(user).priority(1000).ice_controlling(7);
    if use_candidate {
        b = b.use_candidate();
    }
    b.finish(key)
}
fn good(use_candidate: bool, tid: u8) -> Vec<u8> {
    check("LoCl:RmTe", Some(b"localpassword0123456789"), use_candidate, tid)
}

#[test]
fn generated_credentials_are_valid_and_random() {
    let a = IceCredentials::generate();
    let b = IceCredentials::generate();
    a.validate().unwrap();
    assert!(a.ufrag.len() >= 4 && a.pwd.len() >= 22);
    assert_ne!(a, b);
    assert!(creds("abc", "localpassword0123456789").validate().is_err());
    assert!(creds("abcd", "short").validate().is_err());
    assert!(creds("ab:d", "localpassword0123456789").validate().is_err());
}

#[test]
fn valid_check_gets_authenticated_response_and_use_candidate_selects_the_pair() {
    let mut a = agent();
    let now = Instant::now();
    let r = a.handle(Component::Rtp, peer(), &good(false, 1), now);
    assert_eq!(r.outcome, Ok(IceCheck { nominated: false, new_selection: false }));
    let resp = r.response.unwrap();
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.class, Class::Success);
    assert_eq!(m.transaction_id, [1; 12]);
    assert_eq!(m.xor_mapped_address, Some(peer()));
    assert!(m.verify_integrity(b"localpassword0123456789"), "MESSAGE-INTEGRITY with the local password");
    assert_eq!(m.verify_fingerprint(), Some(true));
    assert!(a.is_validated(Component::Rtp, peer()));
    assert!(!a.is_validated(Component::Rtcp, peer()));
    assert_eq!(a.destination(Component::Rtp), None, "no media before nomination");

    let r = a.handle(Component::Rtp, peer(), &good(true, 2), now);
    assert_eq!(r.outcome, Ok(IceCheck { nominated: true, new_selection: true }));
    assert_eq!(a.destination(Component::Rtp), Some(peer()));
    assert_eq!(a.counters.checks, 2);
    assert_eq!(a.counters.nominations, 1);
    // A lower-priority nomination elsewhere does not steal the selected pair.
    let other: SocketAddr = "127.0.0.1:40002".parse().unwrap();
    let low = Builder::new(stun::BINDING, Class::Request, &[3; 12])
        .username("LoCl:RmTe")
        .priority(10)
        .use_candidate()
        .ice_controlling(7)
        .finish(Some(b"localpassword0123456789"));
    assert!(a.handle(Component::Rtp, other, &low, now).outcome.is_ok());
    assert_eq!(a.destination(Component::Rtp), Some(peer()));
}

fn assert_error(r: &IceReply, code: u16) {
    let m = Message::parse(r.response.as_ref().expect("error response")).unwrap();
    assert_eq!(m.class, Class::Error);
    assert_eq!(m.error_code.map(|e| e.0), Some(code));
    assert!(!m.has_integrity(), "auth failures are answered without integrity");
    assert_eq!(m.verify_fingerprint(), Some(true));
}

#[test]
fn wrong_password_unknown_user_and_missing_integrity_are_refused_and_counted() {
    let mut a = agent();
    let now = Instant::now();
    let r = a.handle(Component::Rtp, peer(), &check("LoCl:RmTe", Some(b"wrongpassword0123456789"), true, 1), now);
    assert_eq!(r.outcome.unwrap_err(), IceReject::Auth);
    assert_error(&r, 401);
    let r = a.handle(Component::Rtp, peer(), &check("Othr:RmTe", Some(b"localpassword0123456789"), true, 2), now);
    assert_error(&r, 401);
    let r = a.handle(Component::Rtp, peer(), &check("LoCl:Othr", Some(b"localpassword0123456789"), true, 3), now);
    assert_error(&r, 401);
    let r = a.handle(Component::Rtp, peer(), &check("LoCl:RmTe", None, true, 4), now);
    assert_eq!(r.outcome.unwrap_err(), IceReject::Auth);
    assert_error(&r, 400);
    // A tiny unauthenticated request gets no (larger) error response back.
    let tiny = Builder::new(stun::BINDING, Class::Request, &[5; 12]).finish(None);
    let r = a.handle(Component::Rtp, peer(), &tiny, now);
    assert_eq!(r.outcome.unwrap_err(), IceReject::Auth);
    assert!(r.response.is_none(), "no amplification toward a possibly spoofed source");
    assert_eq!(a.counters.auth_failures, 5);
    assert_eq!(a.counters.checks, 0);
    assert!(!a.is_validated(Component::Rtp, peer()));
    assert_eq!(a.destination(Component::Rtp), None);
}

#[test]
fn bad_or_missing_fingerprint_is_dropped_silently() {
    let mut a = agent();
    let now = Instant::now();
    let mut bad = good(true, 1);
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    let r = a.handle(Component::Rtp, peer(), &bad, now);
    assert_eq!(r.outcome.unwrap_err(), IceReject::Fingerprint);
    assert!(r.response.is_none());
    // Without FINGERPRINT at all: strip the last 8 bytes and fix the length.
    let mut none = good(true, 2);
    none.truncate(n - 8);
    let len = (none.len() - 20) as u16;
    none[2..4].copy_from_slice(&len.to_be_bytes());
    let r = a.handle(Component::Rtp, peer(), &none, now);
    assert_eq!(r.outcome.unwrap_err(), IceReject::Fingerprint);
    assert!(r.response.is_none());
    assert_eq!(a.counters.fingerprint_failures, 2);
    assert_eq!(a.destination(Component::Rtp), None);
    // Garbage and responses are not answered either.
    assert_eq!(a.handle(Component::Rtp, peer(), &[0, 1, 0, 0], now).outcome.unwrap_err(), IceReject::Malformed);
    let resp = Builder::new(stun::BINDING, Class::Success, &[9; 12]).finish(None);
    assert!(a.handle(Component::Rtp, peer(), &resp, now).response.is_none());
}

#[test]
fn role_conflict_and_unknown_attributes_get_error_responses() {
    let mut a = agent();
    let now = Instant::now();
    let controlled = Builder::new(stun::BINDING, Class::Request, &[1; 12])
        .username("LoCl:RmTe")
        .ice_controlled(5)
        .use_candidate()
        .finish(Some(b"localpassword0123456789"));
    let r = a.handle(Component::Rtp, peer(), &controlled, now);
    let m = Message::parse(r.response.as_ref().unwrap()).unwrap();
    assert_eq!(m.error_code.map(|e| e.0), Some(487));
    assert!(m.verify_integrity(b"localpassword0123456789"));
    assert_eq!(a.destination(Component::Rtp), None);
    let unknown = Builder::new(stun::BINDING, Class::Request, &[2; 12])
        .username("LoCl:RmTe")
        .attribute(0x0777, b"?")
        .finish(Some(b"localpassword0123456789"));
    let r = a.handle(Component::Rtp, peer(), &unknown, now);
    let m = Message::parse(r.response.as_ref().unwrap()).unwrap();
    assert_eq!(m.error_code.map(|e| e.0), Some(420));
    let _ = attr::UNKNOWN_ATTRIBUTES;
}

#[test]
fn consent_expires_after_30_s_without_a_valid_check() {
    let mut a = agent();
    let t0 = Instant::now();
    a.handle(Component::Rtp, peer(), &good(true, 1), t0);
    a.handle(Component::Rtp, peer(), &good(false, 2), t0 + Duration::from_secs(10));
    assert!(!a.check_consent(t0 + Duration::from_secs(39)));
    assert_eq!(a.destination(Component::Rtp), Some(peer()));
    // Failed checks do not refresh consent.
    a.handle(Component::Rtp, peer(), &check("LoCl:RmTe", Some(b"wrongpassword0123456789"), false, 3), t0 + Duration::from_secs(39));
    assert!(a.check_consent(t0 + Duration::from_secs(40)));
    assert_eq!(a.destination(Component::Rtp), None);
    assert_eq!(a.selected(Component::Rtp), Some(peer()));
    assert!(!a.check_consent(t0 + Duration::from_secs(41)), "reported once");
    assert_eq!(a.counters.consent_expiries, 1);
    // A new valid check on the pair is fresh consent.
    a.handle(Component::Rtp, peer(), &good(false, 4), t0 + Duration::from_secs(50));
    assert_eq!(a.destination(Component::Rtp), Some(peer()));
}

#[test]
fn ice_restart_switches_credentials_and_keeps_the_selected_pair() {
    let mut a = agent();
    let now = Instant::now();
    a.handle(Component::Rtp, peer(), &good(true, 1), now);
    assert!(!a.update(IceParams { local: local(), remote: Some(remote()) }), "same parameters: no restart");
    let new_local = creds("NeWl", "newlocalpassword0123456");
    assert!(a.update(IceParams { local: new_local, remote: Some(creds("NeWr", "newremotepassword012345")) }));
    assert_eq!(a.counters.restarts, 1);
    let r = a.handle(Component::Rtp, peer(), &good(false, 2), now);
    assert_error(&r, 401);
    assert_eq!(a.destination(Component::Rtp), Some(peer()), "media continues on the old pair during the restart");
    let other: SocketAddr = "127.0.0.1:40010".parse().unwrap();
    let r = a.handle(Component::Rtp, other, &check("NeWl:NeWr", Some(b"newlocalpassword0123456"), true, 3), now);
    assert_eq!(r.outcome, Ok(IceCheck { nominated: true, new_selection: true }));
    assert_eq!(a.destination(Component::Rtp), Some(other));
}

// ---- a pipeline leg with ICE and DTLS -------------------------------------

#[derive(Default)]
struct Capture {
    sent: Vec<(Side, Component, SocketAddr, Vec<u8>)>,
    events: Vec<MediaEvent>,
}

impl Io for Capture {
    fn send(&mut self, side: Side, comp: Component, dst: SocketAddr, data: &[u8]) -> bool {
        self.sent.push((side, comp, dst, data.to_vec()));
        true
    }
    fn event(&mut self, ev: MediaEvent) {
        self.events.push(ev);
    }
}

fn ctx() -> Arc<DtlsContext> {
    let cfg = DtlsConfig { initial_retransmit: Duration::from_millis(30), ..DtlsConfig::default() };
    DtlsContext::new(DtlsIdentity::generate_ecdsa(1).unwrap(), cfg).unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, (seq >> 8) as u8, seq as u8, 0, 0, 0, 0, 0, 0, 0, 9];
    p.extend_from_slice(&[0x55; 160]);
    p
}

fn feed(p: &mut Pipeline, side: Side, src: SocketAddr, data: &[u8], now: Instant, io: &mut Capture) {
    let mut buf = vec![0u8; 2048];
    buf[..data.len()].copy_from_slice(data);
    p.on_datagram(side, Component::Rtp, src, &mut buf, data.len(), now, io);
}

fn ice_dtls_spec(peer_fp: crate::fingerprint::Fingerprint) -> LegSpec {
    LegSpec {
        security: LegSecurity::DtlsSrtp { role: DtlsRole::Server, remote_fingerprints: vec![peer_fp], remote_tls_id: None },
        remote_rtp: Some("127.0.0.1:9".parse().unwrap()),
        remote_rtcp: None,
        rtcp_mux: true,
        direction: Direction::SendRecv,
        ice: Some(IceParams { local: local(), remote: Some(remote()) }),
    }
}

#[test]
fn ice_leg_sends_dtls_and_media_only_to_the_nominated_pair_and_restart_keeps_dtls() {
    let sbc = ctx();
    let browser = ctx();
    let now = Instant::now();
    let plain: SocketAddr = "127.0.0.1:41000".parse().unwrap();
    let a = ice_dtls_spec(browser.identity().fingerprint(HashAlg::Sha256).clone());
    let b = LegSpec { security: LegSecurity::Rtp, remote_rtp: Some(plain), remote_rtcp: None, rtcp_mux: false, direction: Direction::SendRecv, ice: None };
    let mut p = Pipeline::new(a, b, &sbc, Duration::ZERO, None, now).unwrap();
    let mut io = Capture::default();
    p.start(now, &mut io);
    let mut client = DtlsEndpoint::new(&browser, DtlsRole::Client, vec![sbc.identity().fingerprint(HashAlg::Sha256).clone()], now).unwrap();

    // DTLS before any check, and media from the B side: nothing goes to leg A.
    let mut early = DtlsEndpoint::new(&browser, DtlsRole::Client, vec![], now).unwrap();
    let hello = early.poll_datagram().unwrap();
    feed(&mut p, Side::A, peer(), &hello, now, &mut io);
    feed(&mut p, Side::B, plain, &rtp(1), now, &mut io);
    assert!(io.sent.iter().all(|s| s.0 != Side::A), "nothing sent toward A before ICE");
    assert_eq!(p.leg(Side::A).stats.drops[DropReason::WrongSource as usize], 1);
    assert_eq!(p.leg(Side::A).stats.drops[DropReason::NoDestination as usize], 1);

    // Check + nomination: response to the source, MediaLatched with it.
    feed(&mut p, Side::A, peer(), &good(true, 1), now, &mut io);
    let (side, _, dst, resp) = io.sent.pop().unwrap();
    assert_eq!((side, dst), (Side::A, peer()));
    assert_eq!(Message::parse(&resp).unwrap().class, Class::Success);
    assert!(io.events.contains(&MediaEvent::MediaLatched { side: Side::A, addr: peer() }));

    // DTLS handshake over the nominated pair.
    for _ in 0..20 {
        while let Some(d) = client.poll_datagram() {
            feed(&mut p, Side::A, peer(), &d, now, &mut io);
        }
        for (side, _, dst, d) in io.sent.drain(..) {
            assert_eq!((side, dst), (Side::A, peer()), "DTLS only to the nominated pair");
            client.handle_datagram(&d, now);
        }
    }
    let connected = std::iter::from_fn(|| client.poll_event()).any(|e| matches!(e, DtlsEvent::Connected { .. }));
    assert!(connected);
    assert!(io.events.iter().any(|e| matches!(e, MediaEvent::DtlsConnected { side: Side::A, .. })));
    assert_eq!(p.leg(Side::A).dtls_state(), Some(DtlsState::Connected));

    // Media B -> A goes to the nominated pair, SRTP-protected.
    feed(&mut p, Side::B, plain, &rtp(2), now, &mut io);
    let (side, _, dst, pkt) = io.sent.pop().unwrap();
    assert_eq!((side, dst), (Side::A, peer()));
    assert_eq!(pkt.len(), 172 + 10);

    // ICE restart (new credentials both ways), same fingerprint and role: no new handshake.
    let update = LegUpdate {
        security: Some(LegSecurity::DtlsSrtp {
            role: DtlsRole::Server,
            remote_fingerprints: vec![browser.identity().fingerprint(HashAlg::Sha256).clone()],
            remote_tls_id: None,
        }),
        ice: Some(IceParams { local: creds("NeWl", "newlocalpassword0123456"), remote: Some(creds("NeWr", "newremotepassword012345")) }),
        ..LegUpdate::default()
    };
    p.update(Side::A, update, &sbc, now, &mut io).unwrap();
    assert_eq!(p.leg(Side::A).stats.handshakes, 1);
    assert_eq!(p.leg(Side::A).dtls_state(), Some(DtlsState::Connected));
    feed(&mut p, Side::B, plain, &rtp(3), now, &mut io);
    assert_eq!(io.sent.pop().unwrap().2, peer(), "media keeps flowing during the restart");
    feed(&mut p, Side::A, peer(), &good(false, 2), now, &mut io);
    assert_eq!(p.leg(Side::A).stats.drops[DropReason::StunAuth as usize], 1, "old credentials refused");
    let fresh = check("NeWl:NeWr", Some(b"newlocalpassword0123456"), true, 3);
    feed(&mut p, Side::A, peer(), &fresh, now + Duration::from_secs(5), &mut io);
    assert_eq!(Message::parse(&io.sent.pop().unwrap().3).unwrap().class, Class::Success);

    // Bad fingerprint: dropped, counted, unanswered.
    let mut bad = fresh.clone();
    let n = bad.len();
    bad[n - 2] ^= 1;
    let before = io.sent.len();
    feed(&mut p, Side::A, peer(), &bad, now, &mut io);
    assert_eq!(io.sent.len(), before);
    assert_eq!(p.leg(Side::A).stats.drops[DropReason::StunFingerprint as usize], 1);

    // Consent: 30 s after the last valid check, sending stops.
    p.check_media_timeout(now, now + Duration::from_secs(34), &mut io);
    assert!(!io.events.contains(&MediaEvent::IceConsentExpired { side: Side::A }));
    p.check_media_timeout(now, now + Duration::from_secs(35), &mut io);
    assert!(io.events.contains(&MediaEvent::IceConsentExpired { side: Side::A }));
    let before = io.sent.len();
    feed(&mut p, Side::B, plain, &rtp(4), now, &mut io);
    assert_eq!(io.sent.len(), before, "no media after consent expired");
    assert_eq!(p.leg(Side::A).stats.drops[DropReason::NoConsent as usize], 1);
}

#[test]
fn stun_on_a_leg_without_ice_is_dropped_and_counted() {
    let sbc = ctx();
    let now = Instant::now();
    let spec = || LegSpec { security: LegSecurity::Rtp, remote_rtp: Some(peer()), remote_rtcp: None, rtcp_mux: false, direction: Direction::SendRecv, ice: None };
    let mut p = Pipeline::new(spec(), spec(), &sbc, Duration::ZERO, None, now).unwrap();
    let mut io = Capture::default();
    feed(&mut p, Side::A, peer(), &good(true, 1), now, &mut io);
    assert!(io.sent.is_empty());
    assert_eq!(p.leg(Side::A).stats.drops[DropReason::Stun as usize], 1);
}
