//! Hostile DTLS input must not grow memory: the heap in use (glibc
//! mallinfo2, which counts OpenSSL's and Rust's allocations alike) is taken
//! after a warm-up and again after thousands of hostile records or dozens of
//! hostile handshakes. One test function, so nothing else allocates meanwhile.
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use esbc_media::dtls::{DtlsConfig, DtlsContext, DtlsEndpoint, DtlsEvent, DtlsRole, DtlsState};
use esbc_media::fingerprint::HashAlg;
use esbc_media::identity::DtlsIdentity;
use foreign_types::ForeignTypeRef;
use openssl::ssl::{Ssl, SslContext, SslMethod, SslOptions, SslStream, SslVerifyMode};

#[path = "../src/dtls/tests/records.rs"]
mod records;
use records::*;

fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads allocator statistics.
    let m = unsafe { libc::mallinfo2() };
    m.uordblks + m.hblkhd
}

/// Heap growth during `warm` calls of `f` (buffers filling up to their
/// bound, caches) and then across `n` more calls (must stay flat).
fn growth(warm: usize, n: usize, mut f: impl FnMut(usize)) -> (isize, isize) {
    let start = heap_in_use();
    for i in 0..warm {
        f(i);
    }
    let before = heap_in_use();
    for i in warm..warm + n {
        f(i);
    }
    (before as isize - start as isize, heap_in_use() as isize - before as isize)
}

fn ctx(id: &Arc<DtlsIdentity>) -> Arc<DtlsContext> {
    DtlsContext::new(id.clone(), DtlsConfig { handshake_timeout: Duration::from_secs(2), ..DtlsConfig::default() }).unwrap()
}

fn drain(ep: &mut DtlsEndpoint) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| ep.poll_datagram()).collect()
}

fn connected(ep: &mut DtlsEndpoint) -> bool {
    std::iter::from_fn(|| ep.poll_event()).any(|e| matches!(e, DtlsEvent::Connected { .. }))
}

/// Moves flights both ways, each direction through `edit`, until quiet.
fn pump(c: &mut DtlsEndpoint, s: &mut DtlsEndpoint, mut edit: impl FnMut(usize, Vec<Vec<u8>>) -> Vec<Vec<u8>>) {
    for _ in 0..20 {
        let (a, b) = (drain(c), drain(s));
        if a.is_empty() && b.is_empty() {
            return;
        }
        for d in edit(0, a) {
            s.handle_datagram(&d, Instant::now());
        }
        for d in edit(1, b) {
            c.handle_datagram(&d, Instant::now());
        }
    }
}

struct Pair {
    c: DtlsEndpoint,
    s: DtlsEndpoint,
}

fn new_pair(x: &Arc<DtlsIdentity>, y: &Arc<DtlsIdentity>, cx: &DtlsContext, cy: &DtlsContext) -> Pair {
    let now = Instant::now();
    let c = DtlsEndpoint::new(cx, DtlsRole::Client, vec![y.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
    let mut s = DtlsEndpoint::new(cy, DtlsRole::Server, vec![x.fingerprint(HashAlg::Sha256).clone()], now).unwrap();
    s.set_peer_address(&"127.0.0.1:4000".parse().unwrap());
    Pair { c, s }
}

/// Datagram transport for a plain OpenSSL peer.
#[derive(Default)]
struct Mem {
    incoming: VecDeque<Vec<u8>>,
    outgoing: Vec<Vec<u8>>,
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let d = self.incoming.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
        buf[..d.len()].copy_from_slice(&d);
        Ok(d.len())
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A plain OpenSSL DTLS client that renegotiates when asked (ours refuses
/// to), connected to a fresh server endpoint of ours.
fn openssl_client_connected(id: &Arc<DtlsIdentity>, server_ctx: &DtlsContext) -> (SslStream<Mem>, DtlsEndpoint) {
    let mut b = SslContext::builder(SslMethod::dtls()).unwrap();
    b.set_certificate(&id.cert).unwrap();
    b.set_private_key(&id.key).unwrap();
    b.set_tlsext_use_srtp("SRTP_AES128_CM_SHA1_80").unwrap();
    b.set_verify(SslVerifyMode::NONE);
    b.set_options(SslOptions::NO_QUERY_MTU);
    let mut ssl = Ssl::new(&b.build()).unwrap();
    ssl.set_mtu(1200).unwrap();
    ssl.set_connect_state();
    let mut client = SslStream::new(ssl, Mem::default()).unwrap();
    let mut server =
        DtlsEndpoint::new(server_ctx, DtlsRole::Server, vec![id.fingerprint(HashAlg::Sha256).clone()], Instant::now()).unwrap();
    server.set_peer_address(&"127.0.0.1:4001".parse().unwrap());
    for _ in 0..10 {
        let _ = client.do_handshake();
        for d in std::mem::take(&mut client.get_mut().outgoing) {
            server.handle_datagram(&d, Instant::now());
        }
        client.get_mut().incoming.extend(drain(&mut server));
    }
    assert_eq!(server.state(), DtlsState::Connected, "plain OpenSSL client connects");
    assert!(connected(&mut server));
    (client, server)
}

extern "C" {
    fn SSL_renegotiate(s: *mut openssl_sys::SSL) -> libc::c_int;
}

#[test]
fn hostile_dtls_input_does_not_grow_memory() {
    let (x, y) = (DtlsIdentity::generate_ecdsa(1).unwrap(), DtlsIdentity::generate_ecdsa(1).unwrap());
    let (cx, cy) = (ctx(&x), ctx(&y));
    let mut report = Vec::new();

    // 1. One live association takes 10,000 rounds of junk: records for
    //    future epochs, empty records, plaintext handshake fragments (large
    //    messages, a ClientHello, an empty HelloRequest).
    let mut p = new_pair(&x, &y, &cx, &cy);
    pump(&mut p.c, &mut p.s, |_, d| d);
    assert!(connected(&mut p.c) && connected(&mut p.s));
    let mut rn = Renumber::default();
    // Fragments of 16 KB messages 1-40 ahead: OpenSSL keeps a reassembly
    // buffer for each of up to 10 messages ahead, never more.
    let future = |rn: &mut Renumber, i: usize| -> Vec<Vec<u8>> {
        let big = Fragment { msg_type: 11, msg_len: 16_000, msg_seq: 1 + (i % 40) as u16, offset: (i as u32 * 997) % 15_000, data: vec![7; 600] };
        vec![
            Record::new([21, 22, 23][i % 3], 1 + (i % 7) as u16 * 9000, 10_000 + i as u64, vec![1; 24 + i % 200]).encode(),
            rn.record(HANDSHAKE, vec![]).encode(),
            rn.fragment(&big).encode(),
        ]
    };
    let junk = |rn: &mut Renumber, i: usize| -> Vec<Vec<u8>> {
        let mut v = future(rn, i);
        v.push(rn.fragment(&Fragment { msg_type: 11, msg_len: 0, msg_seq: 1 + (i % 40) as u16, offset: 0, data: vec![] }).encode());
        v.push(rn.fragment(&Fragment { msg_type: CLIENT_HELLO, msg_len: 200, msg_seq: 0, offset: 0, data: vec![3; 100] }).encode());
        v.push(rn.fragment(&Fragment { msg_type: 0, msg_len: 0, msg_seq: (i % 3) as u16, offset: 0, data: vec![] }).encode());
        v
    };
    let (_, g) = growth(1000, 10_000, |i| {
        for d in junk(&mut rn, i) {
            p.s.handle_datagram(&d, Instant::now());
            p.c.handle_datagram(&d, Instant::now());
        }
        drain(&mut p.s);
        drain(&mut p.c);
    });
    report.push(format!("connected, 10,000 junk rounds: {g} bytes"));
    assert_eq!((p.c.state(), p.s.state()), (DtlsState::Connected, DtlsState::Connected));
    assert!(g < 256 * 1024, "heap grew {g} bytes");

    // 2. A server still waiting for the ClientHello gets the junk that does
    //    not end its handshake (future messages and epochs, empty records).
    let mut s = DtlsEndpoint::new(&cy, DtlsRole::Server, vec![], Instant::now()).unwrap();
    s.set_peer_address(&"127.0.0.1:4002".parse().unwrap());
    let mut rn = Renumber::default();
    let (bound, g) = growth(1000, 10_000, |i| {
        for d in future(&mut rn, i) {
            s.handle_datagram(&d, Instant::now());
        }
        drain(&mut s);
    });
    report.push(format!("handshaking server, 10,000 junk rounds: {g} bytes after {bound} bytes of reassembly buffers"));
    assert_eq!(s.state(), DtlsState::Handshaking, "the junk did not end the handshake");
    assert!(bound < 512 * 1024, "reassembly buffers bounded: {bound}");
    assert!(g < 256 * 1024, "heap grew {g} bytes");
    drop(s);

    // 3. Whole hostile handshakes, created and dropped: fragmented and
    //    reordered, overlapping conflicting fragments, a certificate without
    //    CertificateVerify. Memory returns to where it was.
    let (_, g) = growth(50, 1000, |i| {
        let mut p = new_pair(&x, &y, &cx, &cy);
        let mut rn = [Renumber::default(), Renumber::default()];
        pump(&mut p.c, &mut p.s, |dir, flight| hostile_flight(&mut rn[dir], flight, i % 3, i as u64));
        let _ = (connected(&mut p.c), connected(&mut p.s));
    });
    report.push(format!("1,000 hostile handshakes: {g} bytes"));
    assert!(g < 256 * 1024, "heap grew {g} bytes");

    // 4. Renegotiation attempts from a plain OpenSSL client: refused every
    //    time, the association stays up.
    let (_, g) = growth(20, 300, |_| {
        let (mut client, mut server) = openssl_client_connected(&x, &cy);
        // SAFETY: a live SSL owned by `client`.
        assert_eq!(unsafe { SSL_renegotiate(client.ssl().as_ptr()) }, 1);
        let _ = client.do_handshake();
        let hello = std::mem::take(&mut client.get_mut().outgoing);
        assert!(!hello.is_empty());
        for d in &hello {
            server.handle_datagram(d, Instant::now());
        }
        assert!(drain(&mut server).iter().flat_map(|d| parse_records(d).unwrap()).all(|r| r.ty == ALERT));
        assert_eq!(server.state(), DtlsState::Connected);
    });
    report.push(format!("300 refused renegotiations: {g} bytes"));
    assert!(g < 256 * 1024, "heap grew {g} bytes");
    eprintln!("heap growth: {}", report.join("; "));
}

/// One of three hostile rewrites of a flight's plaintext handshake records.
fn hostile_flight(rn: &mut Renumber, flight: Vec<Vec<u8>>, kind: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut frags: Vec<Fragment> = Vec::new();
    let mut tail = Vec::new();
    for r in flight_records(&flight) {
        if r.epoch == 0 && r.ty == HANDSHAKE {
            for f in parse_fragments(&r.body).unwrap() {
                let n = f.data.len();
                match kind {
                    // Eight pieces each.
                    0 if n > 0 => {
                        let step = n.div_ceil(8);
                        frags.extend((0..n).step_by(step).map(|o| f.slice(o, (o + step).min(n))));
                    }
                    // Overlapping halves, the later one with other bytes.
                    1 if n > 4 => {
                        let mut late = f.slice(n / 4, n);
                        late.data.iter_mut().for_each(|b| *b = b.wrapping_add(1));
                        frags.push(f.slice(0, n / 2));
                        frags.push(late);
                    }
                    // No CertificateVerify.
                    2 if f.msg_type == CERTIFICATE_VERIFY => {}
                    _ => frags.push(f),
                }
            }
        } else {
            tail.push(r);
        }
    }
    shuffle(&mut frags, seed | 1);
    let mut out: Vec<Vec<u8>> = frags.iter().map(|f| rn.fragment(f).encode()).collect();
    out.extend(tail.into_iter().map(|r| if r.epoch == 0 { rn.record(r.ty, r.body).encode() } else { r.encode() }));
    out
}
