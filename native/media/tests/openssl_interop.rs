//! Interop with the `openssl` command line (s_client / s_server) on loopback:
//! the handshake completes in both roles, the keying material openssl exports
//! equals ours, and SRTP we send decrypts with keys taken from openssl's output.
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use esbc_media::dtls::{DtlsConfig, DtlsContext, DtlsEndpoint, DtlsEvent, DtlsRole, SrtpKeys};
use esbc_media::fingerprint::{Fingerprint, HashAlg};
use esbc_media::identity::DtlsIdentity;
use esbc_media::srtp::{SrtpContext, SrtpDirection, SrtpProfile, SRTP_MAX_TRAILER};
use openssl::x509::X509;

struct Peer {
    dir: std::path::PathBuf,
    cert: X509,
}

fn openssl_peer(name: &str) -> Peer {
    let dir = std::env::temp_dir().join(format!("esbc-openssl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=openssl-peer", "-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl CLI installed");
    assert!(ok.success());
    let cert = X509::from_pem(&std::fs::read(dir.join("cert.pem")).unwrap()).unwrap();
    Peer { dir, cert }
}

/// Reads the child's stdout on a thread; sends each line.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn keying_material(rx: &mpsc::Receiver<String>, deadline: Instant) -> Vec<u8> {
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(hex) = line.trim().strip_prefix("Keying material: ") {
                return (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            }
        }
    }
    panic!("openssl printed no keying material");
}

/// Drives our endpoint over a real UDP socket until it connects.
fn handshake(ep: &mut DtlsEndpoint, sock: &UdpSocket, mut peer: Option<SocketAddr>) -> SrtpKeys {
    sock.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 2048];
    loop {
        assert!(Instant::now() < deadline, "handshake with openssl timed out");
        if let Some(p) = peer {
            while let Some(d) = ep.poll_datagram() {
                sock.send_to(&d, p).unwrap();
            }
        }
        while let Some(ev) = ep.poll_event() {
            match ev {
                DtlsEvent::Connected { keys, .. } => return keys,
                other => panic!("unexpected {other:?}"),
            }
        }
        match sock.recv_from(&mut buf) {
            Ok((n, src)) => {
                if peer.is_none() {
                    ep.set_peer_address(&src);
                    peer = Some(src);
                }
                ep.handle_datagram(&buf[..n], Instant::now());
            }
            Err(_) => ep.handle_timeout(Instant::now()),
        }
    }
}

/// client_key | server_key | client_salt | server_salt (RFC 5764 4.2).
fn layout(client: &[u8], server: &[u8], p: SrtpProfile) -> Vec<u8> {
    let k = p.key_len();
    [&client[..k], &server[..k], &client[k..], &server[k..]].concat()
}

fn split(material: &[u8], p: SrtpProfile) -> (Vec<u8>, Vec<u8>) {
    let (k, s) = (p.key_len(), p.salt_len());
    let client = [&material[..k], &material[2 * k..2 * k + s]].concat();
    let server = [&material[k..2 * k], &material[2 * k + s..]].concat();
    (client, server)
}

/// SRTP protected with our key decrypts with the key taken from openssl.
fn srtp_decrypts(ours: &[u8], theirs: &[u8], p: SrtpProfile) {
    let mut tx = SrtpContext::new(p, ours, SrtpDirection::Outbound, 4).unwrap();
    let mut rx = SrtpContext::new(p, theirs, SrtpDirection::Inbound, 4).unwrap();
    let mut pkt = vec![0u8; 172 + SRTP_MAX_TRAILER];
    pkt[0] = 0x80;
    pkt[3] = 1;
    pkt[11] = 0x42;
    pkt[12..172].fill(0xd5);
    let n = tx.protect_rtp(&mut pkt, 172).unwrap();
    assert_ne!(&pkt[12..172], &[0xd5; 160][..]);
    assert_eq!(rx.unprotect_rtp(&mut pkt, n).unwrap(), 172);
    assert_eq!(&pkt[12..172], &[0xd5; 160][..]);
}

fn ctx(profile: SrtpProfile) -> (std::sync::Arc<DtlsContext>, std::sync::Arc<DtlsIdentity>) {
    let id = DtlsIdentity::generate_ecdsa(1).unwrap();
    let cfg = DtlsConfig { profiles: vec![profile], initial_retransmit: Duration::from_millis(300), ..DtlsConfig::default() };
    (DtlsContext::new(id.clone(), cfg).unwrap(), id)
}

const PROFILES: [SrtpProfile; 2] = [SrtpProfile::AesCm128HmacSha1_80, SrtpProfile::AeadAes128Gcm];

#[test]
fn engine_as_dtls_server_with_openssl_s_client() {
    for profile in PROFILES {
        let peer = openssl_peer(&format!("client-{profile}"));
        let (ctx, _) = ctx(profile);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let fp = Fingerprint::of_cert(&peer.cert, HashAlg::Sha256);
        let mut ep = DtlsEndpoint::new(&ctx, DtlsRole::Server, vec![fp], Instant::now()).unwrap();
        let mut child = Command::new("openssl")
            .args(["s_client", "-dtls1_2", "-connect", &format!("127.0.0.1:{port}")])
            .args(["-use_srtp", profile.openssl_name(), "-cert", "cert.pem", "-key", "key.pem"])
            .args(["-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", &(2 * profile.key_salt_len()).to_string()])
            .current_dir(&peer.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rx = lines(&mut child);
        let keys = handshake(&mut ep, &sock, None);
        let material = keying_material(&rx, Instant::now() + Duration::from_secs(10));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(keys.profile, profile);
        assert_eq!(material, layout(&keys.remote, &keys.local, profile), "{profile}: exported keys equal ours");
        let (_client, server) = split(&material, profile);
        srtp_decrypts(&keys.local, &server, profile);
        let _ = std::fs::remove_dir_all(&peer.dir);
    }
}

#[test]
fn engine_as_dtls_client_with_openssl_s_server() {
    for profile in PROFILES {
        let peer = openssl_peer(&format!("server-{profile}"));
        let (ctx, _) = ctx(profile);
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-dtls1_2", "-accept", &format!("127.0.0.1:{port}"), "-naccept", "1"])
            .args(["-use_srtp", profile.openssl_name(), "-cert", "cert.pem", "-key", "key.pem", "-verify", "1"])
            .args(["-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", &(2 * profile.key_salt_len()).to_string()])
            .current_dir(&peer.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rx = lines(&mut child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !rx.recv_timeout(Duration::from_secs(1)).map(|l| l.contains("ACCEPT")).unwrap_or(false) {
            assert!(Instant::now() < deadline, "s_server did not start");
        }
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fp = Fingerprint::of_cert(&peer.cert, HashAlg::Sha1);
        let mut ep = DtlsEndpoint::new(&ctx, DtlsRole::Client, vec![fp], Instant::now()).unwrap();
        let keys = handshake(&mut ep, &sock, Some(SocketAddr::from(([127, 0, 0, 1], port))));
        let material = keying_material(&rx, Instant::now() + Duration::from_secs(10));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(material, layout(&keys.local, &keys.remote, profile), "{profile}: exported keys equal ours");
        let (client, _server) = split(&material, profile);
        srtp_decrypts(&keys.local, &client, profile);
        let _ = std::fs::remove_dir_all(&peer.dir);
    }
}
