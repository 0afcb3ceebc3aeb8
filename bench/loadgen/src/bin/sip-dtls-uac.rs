//! SIP UAC with DTLS-SRTP, for calls per second with the handshake included.
//! Per call: INVITE offering UDP/TLS/RTP/SAVP (our ECDSA P-256 fingerprint,
//! setup:actpass), 200 -> ACK, then the DTLS handshake against the port and
//! fingerprint of the answer (client for setup:passive, server for
//! setup:active), the peer certificate checked against the answered
//! fingerprint and an SRTP profile negotiated, then BYE -> 200. No media.
//!
//!   sip-dtls-uac --target 127.0.0.1:5060 --rate 100 --calls 500 [--threads 32]
//! Prints one JSON line: ok, failed, failures by reason, handshake ms p50/p99.
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{HandshakeError, Ssl, SslContext, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::{X509NameBuilder, X509};

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter().position(|x| x == name).and_then(|i| a.get(i + 1)).cloned()
}

fn identity() -> (X509, PKey<Private>, String) {
    let key = PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "esbc-bench").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    let fp = fingerprint(&cert);
    (cert, key, fp)
}

fn fingerprint(cert: &X509) -> String {
    cert.digest(MessageDigest::sha256()).unwrap().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// A connected UDP socket as a byte stream for OpenSSL: one read = one datagram.
#[derive(Debug)]
struct Dgram(UdpSocket);

impl Read for Dgram {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
}

impl Write for Dgram {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Answer {
    contact: String,
    to: String,
    media: SocketAddr,
    fingerprint: String,
    setup: String,
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn parse_answer(msg: &str) -> Result<Answer, String> {
    let body = msg.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    let line = |p: &str| body.lines().find_map(|l| l.strip_prefix(p)).map(str::trim);
    let ip = line("c=IN IP4 ").ok_or("answer without c=")?;
    let port = line("m=audio ").and_then(|m| m.split(' ').next()).ok_or("answer without m=audio")?;
    let fp = line("a=fingerprint:sha-256 ").or_else(|| line("a=fingerprint:SHA-256 ")).ok_or("answer without sha-256 fingerprint")?;
    let contact = header(msg, "Contact").or_else(|| header(msg, "m")).unwrap_or("");
    let contact = contact.split_once('<').and_then(|(_, r)| r.split_once('>')).map_or(contact, |x| x.0);
    Ok(Answer {
        contact: contact.to_string(),
        to: header(msg, "To").or_else(|| header(msg, "t")).ok_or("200 without To")?.to_string(),
        media: format!("{ip}:{port}").parse().map_err(|_| "bad answer address")?,
        fingerprint: fp.to_uppercase(),
        setup: line("a=setup:").unwrap_or("").to_string(),
    })
}

fn status(msg: &str) -> Option<(u16, &str)> {
    let code = msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
    Some((code, header(msg, "CSeq").unwrap_or("")))
}

fn rnd() -> String {
    let mut b = [0u8; 8];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Sends `req` and waits for a final response to `method`, retransmitting
/// (RFC 3261 timer A/E style) until then; 1xx stop the retransmissions.
fn transact(sip: &UdpSocket, target: SocketAddr, req: &str, method: &str, deadline: Instant) -> Result<String, String> {
    let mut buf = vec![0u8; 8192];
    let mut interval = Duration::from_millis(500);
    let mut next = Instant::now();
    let mut provisional = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("{method} timeout"));
        }
        if !provisional && now >= next {
            sip.send_to(req.as_bytes(), target).map_err(|e| e.to_string())?;
            next = now + interval;
            interval = (interval * 2).min(Duration::from_secs(4));
        }
        sip.set_read_timeout(Some(next.min(deadline).saturating_duration_since(now).max(Duration::from_millis(5)))).ok();
        let Ok(n) = sip.recv(&mut buf) else { continue };
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        match status(&msg) {
            Some((code, cseq)) if cseq.ends_with(method) => {
                if code >= 200 {
                    return Ok(msg);
                }
                provisional = true;
            }
            _ => {}
        }
    }
}

fn handshake(ctx: &SslContext, sock: UdpSocket, peer: SocketAddr, active: bool, deadline: Instant) -> Result<SslStream<Dgram>, String> {
    sock.connect(peer).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_millis(50))).ok();
    let mut ssl = Ssl::new(ctx).map_err(|e| e.to_string())?;
    ssl.set_mtu(1200).map_err(|e| e.to_string())?;
    let mut r = if active { ssl.connect(Dgram(sock)) } else { ssl.accept(Dgram(sock)) };
    loop {
        match r {
            Ok(s) => return Ok(s),
            Err(HandshakeError::WouldBlock(mid)) => {
                if Instant::now() >= deadline {
                    return Err("DTLS timeout".into());
                }
                // Our BIO has no datagram timer: drive retransmissions ourselves.
                // SAFETY: a live SSL pointer; DTLS_CTRL_HANDLE_TIMEOUT takes no argument.
                unsafe { openssl_sys::SSL_ctrl(foreign_types::ForeignTypeRef::as_ptr(mid.ssl()), 74, 0, std::ptr::null_mut()) };
                r = mid.handshake();
            }
            Err(e) => return Err(format!("DTLS: {e}")),
        }
    }
}

fn call(i: usize, ctx: &SslContext, fp: &str, target: SocketAddr) -> Result<Duration, String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let sip = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let media = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let me = sip.local_addr().unwrap();
    let mport = media.local_addr().unwrap().port();
    let (tag, cid) = (rnd(), format!("{}-{i}@127.0.0.1", rnd()));
    let ruri = format!("sip:bob@{target}");
    let sdp = format!(
        "v=0\r\no=- {i} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {mport} UDP/TLS/RTP/SAVP 0\r\n\
         a=rtpmap:0 PCMU/8000\r\na=fingerprint:sha-256 {fp}\r\na=setup:actpass\r\na=rtcp-mux\r\na=sendrecv\r\n"
    );
    let common = |branch: &str, cseq: &str, to: &str| {
        format!(
            "Via: SIP/2.0/UDP {me};branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{me}>;tag={tag}\r\n\
             To: {to}\r\nCall-ID: {cid}\r\nCSeq: {cseq}\r\nContact: <sip:alice@{me}>\r\n"
        )
    };
    let invite_branch = rnd();
    let invite = format!(
        "INVITE {ruri} SIP/2.0\r\n{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        common(&invite_branch, "1 INVITE", &format!("<{ruri}>")),
        sdp.len()
    );
    let resp = transact(&sip, target, &invite, "INVITE", deadline)?;
    let (code, _) = status(&resp).unwrap_or((0, ""));
    if code != 200 {
        let to = header(&resp, "To").unwrap_or("").to_string();
        let ack = format!("ACK {ruri} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n", common(&invite_branch, "1 ACK", &to));
        let _ = sip.send_to(ack.as_bytes(), target);
        return Err(format!("INVITE {code} {}", header(&resp, "Reason").unwrap_or("")));
    }
    let a = parse_answer(&resp)?;
    let uri = if a.contact.is_empty() { ruri.clone() } else { a.contact.clone() };
    let ack = format!("ACK {uri} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n", common(&rnd(), "1 ACK", &a.to));
    sip.send_to(ack.as_bytes(), target).map_err(|e| e.to_string())?;
    // The SBC answers passive to our actpass by default: we are the client then.
    let t0 = Instant::now();
    let active = a.setup != "active";
    let result = handshake(ctx, media, a.media, active, deadline).and_then(|s| {
        let took = t0.elapsed();
        let peer = s.ssl().peer_certificate().ok_or("no peer certificate")?;
        if fingerprint(&peer) != a.fingerprint {
            return Err("peer certificate does not match the answered fingerprint".to_string());
        }
        s.ssl().selected_srtp_profile().ok_or("no SRTP profile negotiated")?;
        Ok(took)
    });
    let bye = format!("BYE {uri} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n", common(&rnd(), "2 BYE", &a.to));
    let bye_resp = transact(&sip, target, &bye, "BYE", deadline);
    let took = result?;
    match bye_resp.as_deref().map(status) {
        Ok(Some((200, _))) => Ok(took),
        Ok(s) => Err(format!("BYE {:?}", s.map(|x| x.0))),
        Err(e) => Err(e.clone()),
    }
}

fn main() {
    let target: SocketAddr = arg("--target").and_then(|v| v.parse().ok()).expect("--target host:port");
    let rate: f64 = arg("--rate").and_then(|v| v.parse().ok()).unwrap_or(50.0);
    let calls: usize = arg("--calls").and_then(|v| v.parse().ok()).unwrap_or(100);
    let threads: usize = arg("--threads").and_then(|v| v.parse().ok()).unwrap_or(32);
    let (cert, key, fp) = identity();
    let mut b = SslContext::builder(SslMethod::dtls()).unwrap();
    b.set_certificate(&cert).unwrap();
    b.set_private_key(&key).unwrap();
    b.set_tlsext_use_srtp("SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80").unwrap();
    // Any certificate: it is checked against the SDP fingerprint after the handshake.
    b.set_verify_callback(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT, |_, _| true);
    let ctx = Arc::new(b.build());
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(20);
    let results = Arc::new(Mutex::new((Vec::new(), BTreeMap::<String, u64>::new())));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (ctx, fp, next, results) = (ctx.clone(), fp.clone(), next.clone(), results.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= calls {
                    return;
                }
                // Call i starts at its slot in the schedule (never early).
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                if let Some(d) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
                let r = call(i, &ctx, &fp, target);
                let mut g = results.lock().unwrap();
                match r {
                    Ok(t) => g.0.push(t.as_secs_f64() * 1000.0),
                    Err(e) => *g.1.entry(e).or_default() += 1,
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (mut hs, failures) = std::mem::take(&mut *results.lock().unwrap());
    hs.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| hs.get(((hs.len() as f64 * p).ceil() as usize).saturating_sub(1)).map(|v| (v * 1000.0).round() / 1000.0);
    let failed: u64 = failures.values().sum();
    println!(
        "{}",
        serde_json::json!({
            "calls": calls, "ok": hs.len(), "failed": failed, "failures": failures,
            "achievedRate": calls as f64 / elapsed, "handshakeMsP50": q(0.5), "handshakeMsP99": q(0.99),
        })
    );
}
