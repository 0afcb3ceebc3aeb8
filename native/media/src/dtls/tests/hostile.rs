//! Hostile handshake input against our endpoint in both roles: fragmented
//! and reordered flights, overlapping and zero-length fragments, records for
//! future epochs, renegotiation attempts and a client certificate without its
//! CertificateVerify. Records are rewritten by hand (records.rs).
use super::records::*;
use super::*;

/// How a test rewrites one direction's flights.
struct Rewriter {
    rn: Renumber,
    /// Handshake messages are cut into this many fragments.
    pieces: usize,
    /// Records per datagram after cutting.
    per_datagram: usize,
    seed: u64,
    /// Extra fragments to add for a message (zero-length, overlapping...).
    extra: fn(&Fragment) -> Vec<Fragment>,
    /// Drops a handshake message of this type (forged flights).
    drop_type: Option<u8>,
    /// Junk records for future epochs sent with every flight.
    junk_epochs: usize,
    /// An empty handshake record ahead of every flight.
    empty_record: bool,

    /// Fragments that were delivered out of order (before a lower offset of the same message).
    reordered: usize,
}

impl Rewriter {
    fn new(pieces: usize, per_datagram: usize, seed: u64) -> Rewriter {
        Rewriter { rn: Renumber::default(), pieces, per_datagram, seed, extra: |_| vec![], drop_type: None, junk_epochs: 0, empty_record: false, reordered: 0 }
    }

    fn apply(&mut self, flight: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        if flight.is_empty() {
            return flight;
        }
        let records = flight_records(&flight);
        let mut cut: Vec<Fragment> = Vec::new();
        // Plaintext records after the handshake messages (CCS) are numbered
        // after the fragments, keeping record numbers in delivery order.
        let mut tail: Vec<Record> = Vec::new();
        for r in records {
            match (r.epoch, r.ty) {
                (0, HANDSHAKE) => {
                    for f in parse_fragments(&r.body).expect("handshake fragments") {
                        if Some(f.msg_type) == self.drop_type {
                            continue;
                        }
                        cut.extend((self.extra)(&f));
                        let n = f.data.len();
                        let step = n.div_ceil(self.pieces.max(1)).max(1);
                        let mut from = 0;
                        while from < n {
                            cut.push(f.slice(from, (from + step).min(n)));
                            from += step;
                        }
                        if n == 0 {
                            cut.push(f);
                        }
                    }
                }
                (0, _) => tail.push(r),
                _ => tail.push(r),
            }
        }
        shuffle(&mut cut, self.seed);
        self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        self.reordered += cut
            .iter()
            .enumerate()
            .filter(|(i, f)| cut[i + 1..].iter().any(|g| g.msg_seq == f.msg_seq && g.offset < f.offset))
            .count();
        let mut out_records: Vec<Record> = Vec::new();
        if self.empty_record {
            out_records.push(self.rn.record(HANDSHAKE, vec![]));
        }
        out_records.extend(cut.iter().map(|f| self.rn.fragment(f)));
        for r in tail {
            out_records.push(if r.epoch == 0 { self.rn.record(r.ty, r.body) } else { r });
        }
        let mut out: Vec<Vec<u8>> = out_records.chunks(self.per_datagram.max(1)).map(datagram).collect();
        for i in 0..self.junk_epochs {
            out.insert(i % (out.len() + 1), future_epoch_junk(i));
        }
        out
    }
}

/// A record for epoch 1..=65535 that no key decrypts, long enough to pass
/// the endpoint's record filter.
fn future_epoch_junk(i: usize) -> Vec<u8> {
    let epochs = [1u16, 2, 3, 7, 0x7fff, 0xffff];
    let ty = [APPLICATION_DATA, HANDSHAKE, ALERT, CHANGE_CIPHER_SPEC][i % 4];
    Record::new(ty, epochs[i % epochs.len()], 1000 + i as u64, vec![(i % 251) as u8; 24 + i % 80]).encode()
}

/// Runs a handshake with each direction's flights rewritten, with
/// retransmission timers, until both connect or `limit` passes.
fn handshake_through(
    c: &mut DtlsEndpoint,
    s: &mut DtlsEndpoint,
    to_server: &mut Rewriter,
    to_client: &mut Rewriter,
    limit: Duration,
) -> (Vec<DtlsEvent>, Vec<DtlsEvent>) {
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    let start = Instant::now();
    loop {
        pump(c, s, |dir, d| if dir == 0 { to_server.apply(d) } else { to_client.apply(d) }, Instant::now());
        ce.extend(events(c));
        se.extend(events(s));
        let settled = |st: DtlsState| !matches!(st, DtlsState::Handshaking | DtlsState::AwaitingFingerprint);
        if (settled(c.state()) && settled(s.state())) || start.elapsed() > limit {
            return (ce, se);
        }
        std::thread::sleep(Duration::from_millis(35));
        c.handle_timeout(Instant::now());
        s.handle_timeout(Instant::now());
    }
}

fn assert_keys_agree(ce: &[DtlsEvent], se: &[DtlsEvent], what: &str) {
    let ck = connected_keys(ce).unwrap_or_else(|| panic!("{what}: client did not connect: {ce:?}"));
    let sk = connected_keys(se).unwrap_or_else(|| panic!("{what}: server did not connect: {se:?}"));
    assert_eq!((ck.local.clone(), ck.remote.clone()), (sk.remote, sk.local), "{what}: keys agree");
}

#[test]
fn fragmented_out_of_order_flights_complete_in_both_roles() {
    let (x, y) = (ecdsa(), ecdsa());
    // (fragments per message, records per datagram, shuffle seed)
    for (pieces, per_dgram, seed) in [(2, 1, 1), (5, 1, 7), (9, 3, 42), (40, 8, 99), (3, 50, 5), (64, 1, 3)] {
        let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
        // Client -> server: the ClientHellos and the client's second flight;
        // server -> client: HelloVerifyRequest and the server's flights.
        let mut to_s = Rewriter::new(pieces, per_dgram, seed);
        let mut to_c = Rewriter::new(pieces, per_dgram, seed ^ 0xabc);
        let (ce, se) = handshake_through(&mut c, &mut s, &mut to_s, &mut to_c, Duration::from_secs(10));
        let what = format!("{pieces} pieces, {per_dgram}/datagram, seed {seed}");
        assert_keys_agree(&ce, &se, &what);
        assert!(to_s.reordered > 0 && to_c.reordered > 0, "{what}: fragments really arrived out of order");
        assert_eq!((c.malformed, s.malformed), (0, 0));
    }
}

#[test]
fn a_client_hello_cut_in_fragments_gets_one_small_hello_verify_request() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    let hello = c.poll_datagram().unwrap();
    let frag = &flight_fragments(std::slice::from_ref(&hello))[0];
    assert_eq!(frag.msg_type, CLIENT_HELLO);
    let mut rn = Renumber::default();
    let mut pieces: Vec<Fragment> = (0..frag.data.len()).step_by(16).map(|o| frag.slice(o, (o + 16).min(frag.data.len()))).collect();
    pieces.reverse();
    for p in &pieces {
        s.handle_datagram(&rn.fragment(p).encode(), Instant::now());
    }
    let reply: Vec<Vec<u8>> = std::iter::from_fn(|| s.poll_datagram()).collect();
    assert_eq!(reply.len(), 1, "one HelloVerifyRequest once the message is whole");
    assert_eq!(flight_fragments(&reply)[0].msg_type, HELLO_VERIFY_REQUEST);
    let sent: usize = pieces.iter().map(|p| p.data.len() + 25).sum();
    assert!(reply[0].len() < sent, "no amplification: {} back for {sent}", reply[0].len());
}

/// Fragments [0, 20) and [10, end) of one message, the later one with other
/// bytes in the overlap; `conflict_first` sends it before the honest one.
fn overlap(f: &Fragment, conflict_first: bool) -> Vec<Fragment> {
    let mut conflicting = f.slice(10, f.data.len());
    conflicting.data[..10].iter_mut().for_each(|b| *b ^= 0x5a);
    let honest = f.slice(0, 20);
    if conflict_first {
        vec![conflicting, honest]
    } else {
        vec![honest, conflicting]
    }
}

#[test]
fn overlapping_fragments_with_conflicting_content_never_yield_mismatched_keys() {
    let (x, y) = (ecdsa(), ecdsa());
    // Server role: the second ClientHello (bytes 10..20 are client_random).
    // Client role: the server's Certificate (bytes 10..20 are inside the
    // certificate). OpenSSL keeps the bytes that arrive last.
    for (victim_is_server, target) in [(true, (CLIENT_HELLO, 1)), (false, (CERTIFICATE, 2))] {
        let dir = if victim_is_server { 0 } else { 1 };
        // Conflicting bytes last: the victim's transcript (or the peer's
        // certificate) is not what the peer sent. The server fails the
        // client's CertificateVerify; the client fails the certificate (its
        // fingerprint or its parse). No keys come out on either side.
        let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |c| c.handshake_timeout = Duration::from_secs(3));
        let mut rw = [OverlapOnly::default(), OverlapOnly::default()];
        rw[dir].target = Some(target);
        let (ce, se) = handshake_overlap(&mut c, &mut s, &mut rw);
        assert!(connected_keys(&ce).is_none() && connected_keys(&se).is_none(), "no keys from conflicting bytes: {ce:?} {se:?}");
        let victim = if victim_is_server { &se } else { &ce };
        assert!(matches!(victim.as_slice(), [DtlsEvent::Failed(_)]), "victim (server {victim_is_server}) rejects: {victim:?}");

        // The same fragments with the conflicting one first: the honest bytes
        // come last and the handshake completes with agreeing keys.
        let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
        let mut rw = [OverlapOnly::default(), OverlapOnly::default()];
        rw[dir].target = Some(target);
        rw[dir].conflict_first = true;
        let (ce, se) = handshake_overlap(&mut c, &mut s, &mut rw);
        assert_keys_agree(&ce, &se, "honest bytes last");
    }
}

/// Sends the target message (type, message_seq) as two overlapping,
/// conflicting fragments; everything else as it is (renumbered).
#[derive(Default)]
struct OverlapOnly {
    rn: Renumber,
    target: Option<(u8, u16)>,
    conflict_first: bool,
}

impl OverlapOnly {
    fn apply(&mut self, flight: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = Vec::new();
        for rec in flight_records(&flight) {
            if rec.epoch == 0 && rec.ty == HANDSHAKE {
                for f in parse_fragments(&rec.body).unwrap() {
                    let frags = if self.target == Some((f.msg_type, f.msg_seq)) { overlap(&f, self.conflict_first) } else { vec![f] };
                    out.extend(frags.iter().map(|f| self.rn.fragment(f).encode()));
                }
            } else {
                rest.push(rec);
            }
        }
        out.extend(rest.into_iter().map(|r| if r.epoch == 0 { self.rn.record(r.ty, r.body).encode() } else { r.encode() }));
        out
    }
}

fn handshake_overlap(c: &mut DtlsEndpoint, s: &mut DtlsEndpoint, rw: &mut [OverlapOnly; 2]) -> (Vec<DtlsEvent>, Vec<DtlsEvent>) {
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        pump(c, s, |dir, d| rw[dir].apply(d), Instant::now());
        ce.extend(events(c));
        se.extend(events(s));
        let settled = |st: DtlsState| !matches!(st, DtlsState::Handshaking | DtlsState::AwaitingFingerprint);
        if settled(c.state()) && settled(s.state()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(35));
        c.handle_timeout(Instant::now());
        s.handle_timeout(Instant::now());
    }
    (ce, se)
}

#[test]
fn zero_length_fragments_and_records_are_harmless() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    let mut to_s = Rewriter::new(3, 2, 11);
    let mut to_c = Rewriter::new(3, 2, 12);
    // Empty fragments at the start, middle and end of messages that are not
    // awaited while they are in flight (6-8 ahead, or message 0 once it is
    // done), and an empty handshake record ahead of every flight.
    let zero = |f: &Fragment| -> Vec<Fragment> {
        let n = f.data.len() as u32;
        let mut seqs: Vec<u16> = (6..=8).map(|ahead| f.msg_seq + ahead).collect();
        if f.msg_seq >= 2 {
            seqs.push(0);
        }
        seqs.iter()
            .flat_map(|&msg_seq| [0, n / 2, n].map(|o| Fragment { msg_seq, offset: f.offset + o, data: vec![], ..f.clone() }))
            .collect()
    };
    to_s.extra = zero;
    to_c.extra = zero;
    to_s.empty_record = true;
    to_c.empty_record = true;
    let (ce, se) = handshake_through(&mut c, &mut s, &mut to_s, &mut to_c, Duration::from_secs(10));
    assert_keys_agree(&ce, &se, "with zero-length fragments");
}

#[test]
fn a_zero_length_fragment_of_the_awaited_message_ends_that_handshake_cleanly() {
    // OpenSSL reads a zero-length fragment of the message it waits for as
    // the whole (empty) message: decode_error, a failed handshake, no keys.
    // Only the DTLS peer's address reaches the endpoint (the leg pins it),
    // which can end a handshake with a plaintext alert just as well.
    let (x, y) = (ecdsa(), ecdsa());
    for server_side in [true, false] {
        let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |c| c.handshake_timeout = Duration::from_secs(3));
        let mut to_s = Rewriter::new(1, 1, 13);
        let mut to_c = Rewriter::new(1, 1, 14);
        let zero = |f: &Fragment| vec![Fragment { data: vec![], ..f.clone() }];
        if server_side {
            to_s.extra = zero;
        } else {
            to_c.extra = zero;
        }
        let (ce, se) = handshake_through(&mut c, &mut s, &mut to_s, &mut to_c, Duration::from_secs(5));
        let victim = if server_side { &se } else { &ce };
        assert!(connected_keys(&ce).is_none() && connected_keys(&se).is_none(), "{ce:?} {se:?}");
        assert!(
            matches!(victim.as_slice(), [DtlsEvent::Failed(DtlsFailure::Protocol(t))] if t.contains("length") || t.contains("decode")),
            "server side {server_side}: {victim:?}"
        );
    }
}

#[test]
fn records_for_future_epochs_are_dropped_during_and_after_the_handshake() {
    let (x, y) = (ecdsa(), ecdsa());
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
    let mut to_s = Rewriter::new(1, 1, 21);
    let mut to_c = Rewriter::new(1, 1, 22);
    // 300 junk records per flight: more than OpenSSL buffers for the next epoch.
    to_s.junk_epochs = 300;
    to_c.junk_epochs = 300;
    let (ce, se) = handshake_through(&mut c, &mut s, &mut to_s, &mut to_c, Duration::from_secs(10));
    assert_keys_agree(&ce, &se, "with future-epoch junk");
    assert!(s.malformed > 0 && c.malformed > 0, "junk beyond the early-record cap was dropped before OpenSSL");
    for i in 0..2000 {
        s.handle_datagram(&future_epoch_junk(i), Instant::now());
        c.handle_datagram(&future_epoch_junk(i), Instant::now());
    }
    assert_eq!((c.state(), s.state()), (DtlsState::Connected, DtlsState::Connected));
    assert!(events(&mut c).is_empty() && events(&mut s).is_empty());
    c.close();
    pump(&mut c, &mut s, |_, d| d, Instant::now());
    assert_eq!(events(&mut s), vec![DtlsEvent::Closed], "the association still works");
}

extern "C" {
    fn SSL_renegotiate(s: *mut openssl_sys::SSL) -> libc::c_int;
    fn SSL_clear_options(s: *mut openssl_sys::SSL, op: u64) -> u64;
}

/// Starts a renegotiation on `ep`'s SSL (a ClientHello from a client, a
/// HelloRequest from a server) and returns the datagrams it wants to send.
fn renegotiate(ep: &mut DtlsEndpoint) -> Vec<Vec<u8>> {
    // The attacker's endpoint is ours too: lift our own refusal first.
    // SAFETY: a live SSL owned by the endpoint.
    let rc = unsafe {
        SSL_clear_options(ep.stream.ssl().as_ptr(), openssl_sys::SSL_OP_NO_RENEGOTIATION);
        SSL_renegotiate(ep.stream.ssl().as_ptr())
    };
    assert_eq!(rc, 1, "OpenSSL starts a renegotiation");
    let _ = ep.stream.do_handshake();
    std::iter::from_fn(|| ep.poll_datagram()).collect()
}

#[test]
fn renegotiation_after_the_handshake_is_refused_and_keys_stay() {
    let (x, y) = (ecdsa(), ecdsa());
    // The peer asks in each role: a new ClientHello to our server, a
    // HelloRequest to our client. Both arrive encrypted in epoch 1.
    for attacker_is_client in [true, false] {
        let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |_| {});
        pump(&mut c, &mut s, |_, d| d, Instant::now());
        let (ck, sk) = (connected_keys(&events(&mut c)).unwrap(), connected_keys(&events(&mut s)).unwrap());
        let (attacker, victim) = if attacker_is_client { (&mut c, &mut s) } else { (&mut s, &mut c) };
        let victim_keys = if attacker_is_client { sk.clone() } else { ck.clone() };
        let ask = renegotiate(attacker);
        assert!(!ask.is_empty());
        assert!(flight_records(&ask).iter().all(|r| r.epoch == 1), "the request is encrypted");
        for d in &ask {
            victim.handle_datagram(d, Instant::now());
        }
        let answer: Vec<Vec<u8>> = std::iter::from_fn(|| victim.poll_datagram()).collect();
        // The victim answers at most with an alert; it starts no handshake.
        assert!(flight_records(&answer).iter().all(|r| r.ty == ALERT), "no handshake flight in reply: {answer:?}");
        assert_eq!(victim.state(), DtlsState::Connected);
        assert!(events(victim).is_empty(), "no new keys, no failure");
        assert_eq!(victim.export_keys().as_ref(), Some(&victim_keys), "the exported SRTP keys are unchanged");
        // A second try gets the same answer.
        for d in &ask {
            victim.handle_datagram(d, Instant::now());
        }
        assert_eq!(victim.state(), DtlsState::Connected);
    }
}

#[test]
fn client_certificate_without_certificate_verify_is_rejected() {
    let (x, y) = (ecdsa(), ecdsa());
    // The client's second flight without its CertificateVerify: someone who
    // has the certificate (whose fingerprint the SDP carries) but not the key.
    let (mut c, mut s) = pair(&x, &y, HashAlg::Sha256, |c| c.handshake_timeout = Duration::from_secs(2));
    let mut to_s = Rewriter::new(1, 10, 31);
    to_s.drop_type = Some(CERTIFICATE_VERIFY);
    let mut to_c = Rewriter::new(1, 10, 32);
    let (ce, se) = handshake_through(&mut c, &mut s, &mut to_s, &mut to_c, Duration::from_secs(5));
    assert!(connected_keys(&se).is_none() && connected_keys(&ce).is_none(), "{ce:?} {se:?}");
    // OpenSSL waits for the missing message (the CCS and Finished that came
    // instead are not it): the handshake deadline ends it, without keys.
    assert_eq!(se, vec![DtlsEvent::Failed(DtlsFailure::Timeout)], "server");
    assert_eq!(s.state(), DtlsState::Failed);
    assert_ne!(c.state(), DtlsState::Connected);
}
