//! SIP over WebSocket (RFC 7118) against the real `esbc-sip` binary, with
//! tokio-tungstenite as the client: the upgrade (subprotocol `sip` accepted,
//! anything else refused with an HTTP status), one SIP message per WebSocket
//! message answered on the same socket, CRLF keep-alive and ping/pong, the
//! size and slowloris bounds, WSS with a self-signed certificate, and the
//! counters of the `stats` command.

use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

struct Engine {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// (transport, port) of each listener, from the ready line.
    ports: Vec<(String, u16)>,
}

impl Engine {
    fn start(listen: &str, extra: &str) -> Engine {
        let cfg = format!(r#"{{"listen":{listen},"control":{{"secret":"s"}},"logLevel":"error"{extra}}}"#);
        let mut child = Command::new(env!("CARGO_BIN_EXE_esbc-sip"))
            .args(["--config-json", &cfg])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn esbc-sip");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("ready line");
        let ready: serde_json::Value = serde_json::from_str(&line).expect("ready JSON");
        let ports = ready["sip"].as_array().unwrap().iter().map(|l| (l["transport"].as_str().unwrap().to_string(), l["port"].as_u64().unwrap() as u16)).collect();
        Engine { child, stdin, stdout, ports }
    }

    fn port(&self, transport: &str) -> u16 {
        self.ports.iter().find(|(t, _)| t == transport).unwrap().1
    }

    fn stats(&mut self) -> serde_json::Value {
        writeln!(self.stdin, "stats").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["stats"].clone()
    }

    fn count(&mut self, dir: &str, transport: &str, method: &str, status: &str) -> u64 {
        let s = self.stats();
        s["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == dir && m["transport"] == transport && m["method"] == method && m["status"] == status)
            .map(|m| m["count"].as_u64().unwrap())
            .sum()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options(via: &str, n: u32) -> String {
    format!(
        "OPTIONS sip:esbc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{via} h7kd93ja.invalid;branch=z9hG4bKopt{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:webrtc@127.0.0.1>;tag=f{n}\r\nTo: <sip:esbc@127.0.0.1>\r\nCall-ID: ws-opt-{n}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn request(url: &str, protocol: Option<&str>) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut r = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        r.headers_mut().insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    r
}

/// Next text message, skipping control frames, within 5 s.
async fn next_text<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("answer within 5 s") {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn ws_upgrade_answer_on_same_socket_keepalive_and_ping() {
    let mut eng = Engine::start(r#"[{"transport":"ws","address":"127.0.0.1","port":0}]"#, "");
    let port = eng.port("ws");
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(request(&format!("ws://127.0.0.1:{port}/"), Some("sip")), tcp).await.expect("upgrade");
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], "sip");

    // Two requests, two messages: each answered on this socket (no app is
    // connected, so the engine itself answers 503), Via kept with received.
    for n in 1..=2 {
        ws.send(Message::text(options("WS", n))).await.unwrap();
        let r = next_text(&mut ws).await;
        assert!(r.starts_with("SIP/2.0 503 "), "{r}");
        assert!(r.contains(&format!("Via: SIP/2.0/WS h7kd93ja.invalid;branch=z9hG4bKopt{n};received=127.0.0.1\r\n")), "{r}");
        assert!(r.contains(&format!("CSeq: {n} OPTIONS")), "{r}");
    }
    // A request in a binary message is SIP too.
    ws.send(Message::binary(options("WS", 3).into_bytes())).await.unwrap();
    assert!(next_text(&mut ws).await.contains("CSeq: 3 OPTIONS"));

    // RFC 5626 CRLF keep-alive inside a message, then a WebSocket ping.
    ws.send(Message::text("\r\n\r\n")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "\r\n");
    ws.send(Message::Ping(b"hb".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap();
    assert!(matches!(pong, Some(Ok(Message::Pong(ref p))) if p.as_ref() == b"hb"), "{pong:?}");

    assert_eq!(eng.count("in", "ws", "OPTIONS", ""), 3);
    assert_eq!(eng.count("out", "ws", "OPTIONS", "503"), 3);
    assert_eq!(eng.stats()["active"]["connections"], 1);

    // A close frame is echoed and the connection goes away.
    ws.close(None).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            if m.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "closed after the close handshake");
    for _ in 0..50 {
        if eng.stats()["active"]["connections"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("connection still counted after close");
}

#[tokio::test]
async fn ws_upgrade_refusals_get_http_status() {
    let mut eng = Engine::start(r#"[{"transport":"ws","address":"127.0.0.1","port":0}]"#, "");
    let port = eng.port("ws");
    let url = format!("ws://127.0.0.1:{port}/");
    for proto in [Some("chat"), None] {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        match tokio_tungstenite::client_async(request(&url, proto), tcp).await {
            Err(WsError::Http(r)) => {
                assert_eq!(r.status(), 400, "subprotocol {proto:?}");
                let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned();
                assert!(body.contains("Sec-WebSocket-Protocol must offer sip"), "{body}");
            }
            other => panic!("subprotocol {proto:?}: expected an HTTP refusal, got {other:?}"),
        }
    }
    // A plain HTTP request (no upgrade): 426 Upgrade Required.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got)).await.unwrap().unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{got}");
    assert!(got.contains("Upgrade: websocket\r\n"), "{got}");
    // SIP straight onto a WS port: not HTTP, refused, closed.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(options("TCP", 1).as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 4"), "{}", String::from_utf8_lossy(&got));
    assert_eq!(eng.stats()["rejections"]["ws_handshake_failed"], 4);
}

#[tokio::test]
async fn ws_oversized_message_and_silent_connection_are_closed() {
    let mut eng = Engine::start(
        r#"[{"transport":"ws","address":"127.0.0.1","port":0}]"#,
        r#","limits":{"maxMessageBytes":2048,"firstMessageSecs":1,"partialMessageSecs":1}"#,
    );
    let port = eng.port("ws");
    let url = format!("ws://127.0.0.1:{port}/");
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request(&url, Some("sip")), tcp).await.unwrap();
    ws.send(Message::text(options("WS", 1))).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("SIP/2.0 503"));
    let big = options("WS", 2).replace("Content-Length: 0", &format!("X-Pad: {}\r\nContent-Length: 0", "a".repeat(3000)));
    ws.send(Message::text(big)).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed within 5 s");
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "no answer to an oversized message: {end:?}");
    assert_eq!(eng.stats()["rejections"]["oversized"], 1);

    // Upgraded but silent: closed after firstMessageSecs.
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request(&url, Some("sip")), tcp).await.unwrap();
    let t0 = std::time::Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(6), ws.next()).await.expect("closed within 6 s");
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "{end:?}");
    assert!(t0.elapsed() >= Duration::from_millis(500), "not before the limit: {:?}", t0.elapsed());
    // Connected but no upgrade request at all: the same bound.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(6), tcp.read(&mut buf)).await.expect("closed within 6 s");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    let s = eng.stats();
    assert_eq!(s["rejections"]["slow_first"], 2, "{s}");
}

#[tokio::test]
async fn ws_per_source_connection_limit_and_partial_frame_timeout() {
    let mut eng = Engine::start(
        r#"[{"transport":"ws","address":"127.0.0.1","port":0}]"#,
        r#","limits":{"maxConnectionsPerSource":2,"partialMessageSecs":1,"firstMessageSecs":5}"#,
    );
    let port = eng.port("ws");
    let url = format!("ws://127.0.0.1:{port}/");
    let mut open = Vec::new();
    for n in 1..=2 {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(request(&url, Some("sip")), tcp).await.unwrap();
        ws.send(Message::text(options("WS", n))).await.unwrap();
        assert!(next_text(&mut ws).await.starts_with("SIP/2.0 503"));
        open.push(ws);
    }
    // A third connection from the same address is closed before any HTTP.
    let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = third.write_all(b"GET / HTTP/1.1\r\n").await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf)).await.expect("closed at once");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert_eq!(eng.stats()["rejections"]["conn_limit_source"], 1);

    // After a complete message, half a frame then silence: closed once
    // partialMessageSecs has passed (checked at least once a second).
    let mut ws = open.pop().unwrap();
    // FIN + text, masked, 100 bytes announced; 4 mask bytes and 10 of payload sent.
    let mut frame = vec![0x81u8, 0x80 | 100, 1, 2, 3, 4];
    frame.extend_from_slice(&[b'x' ^ 1; 10]);
    ws.get_mut().write_all(&frame).await.unwrap();
    let t0 = std::time::Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(6), ws.next()).await.expect("closed within 6 s");
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "{end:?}");
    assert!(t0.elapsed() >= Duration::from_millis(900), "not before partialMessageSecs: {:?}", t0.elapsed());
    assert_eq!(eng.stats()["rejections"]["slow_partial"], 1);
    // The other connection is untouched.
    let mut other = open.pop().unwrap();
    other.send(Message::text(options("WS", 9))).await.unwrap();
    assert!(next_text(&mut other).await.contains("CSeq: 9 OPTIONS"));
}

#[tokio::test]
async fn wss_with_self_signed_certificate() {
    let dir = std::env::temp_dir().join(format!("esbc-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = self_signed(&dir);
    let mut eng = Engine::start(
        r#"[{"transport":"wss","address":"127.0.0.1","port":0},{"transport":"ws","address":"127.0.0.1","port":0}]"#,
        &format!(r#","tls":{{"cert":"{}","key":"{}"}}"#, cert.display(), key.display()),
    );
    let port = eng.port("wss");
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut b = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).unwrap();
    b.set_verify(openssl::ssl::SslVerifyMode::NONE);
    let ssl = b.build().configure().unwrap().verify_hostname(false).into_ssl("localhost").unwrap();
    let mut tls = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
    std::pin::Pin::new(&mut tls).connect().await.expect("TLS handshake");
    let peer_cert = tls.ssl().peer_certificate().expect("server certificate");
    assert_eq!(peer_cert.to_der().unwrap(), openssl::x509::X509::from_pem(&std::fs::read(&cert).unwrap()).unwrap().to_der().unwrap());
    let (mut ws, resp) = tokio_tungstenite::client_async(request(&format!("wss://127.0.0.1:{port}/"), Some("sip")), tls).await.expect("upgrade over TLS");
    assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], "sip");
    ws.send(Message::text(options("WSS", 1))).await.unwrap();
    let r = next_text(&mut ws).await;
    assert!(r.starts_with("SIP/2.0 503") && r.contains("Via: SIP/2.0/WSS h7kd93ja.invalid"), "{r}");
    assert_eq!(eng.count("in", "wss", "OPTIONS", ""), 1);
    assert_eq!(eng.count("out", "wss", "OPTIONS", "503"), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wss_listener_needs_a_certificate() {
    let out = Command::new(env!("CARGO_BIN_EXE_esbc-sip"))
        .args(["--config-json", r#"{"listen":[{"transport":"wss"}],"control":{"secret":"s"}}"#])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wss listener without tls.cert/tls.key"));
}

/// A P-256 self-signed certificate and key in `dir` (PEM).
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use openssl::{asn1::Asn1Time, bn::BigNum, ec, hash::MessageDigest, nid::Nid, pkey::PKey, x509};
    let group = ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(ec::EcKey::generate(&group).unwrap()).unwrap();
    let mut name = x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "esbc-test").unwrap();
    let name = name.build();
    let mut b = x509::X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, b.build().to_pem().unwrap()).unwrap();
    std::fs::write(&k, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (c, k)
}
