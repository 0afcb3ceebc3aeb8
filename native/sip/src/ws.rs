//! SIP over WebSocket (RFC 7118). The opening handshake (RFC 6455 4.2) is
//! read here with `httparse` so that refusals get a real HTTP status (426
//! for a request that is no WebSocket upgrade, 400 without the `sip`
//! subprotocol), then `tokio-tungstenite` does the framing: each text or
//! binary message carries exactly one SIP message. Pings are answered by
//! tungstenite, close frames echoed; the same slowloris and size bounds as
//! TCP apply (`StreamLimits`).

use crate::runtime::Event;
use crate::transport::{StreamLimits, Tx};
use crate::txn::Peer;
use futures_util::{SinkExt, StreamExt};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Largest HTTP upgrade request accepted (browsers send under 1 KB).
pub const MAX_HANDSHAKE: usize = 8192;
/// How often a waiting reader re-checks its slowloris deadlines.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Why an upgrade request is refused: HTTP status, reason, extra headers, text.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
    pub headers: &'static str,
    pub text: &'static str,
}

const fn refuse(status: u16, reason: &'static str, headers: &'static str, text: &'static str) -> Refusal {
    Refusal { status, reason, headers, text }
}

/// Check a parsed upgrade request; Ok is the Sec-WebSocket-Accept value.
pub fn check_upgrade(req: &httparse::Request) -> Result<String, Refusal> {
    let header = |name: &str| req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).and_then(|h| std::str::from_utf8(h.value).ok());
    let has_token = |name: &str, token: &str| header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)));
    if req.method != Some("GET") {
        return Err(refuse(405, "Method Not Allowed", "Allow: GET\r\n", "SIP over WebSocket: GET with Upgrade: websocket"));
    }
    if !has_token("Upgrade", "websocket") || !has_token("Connection", "upgrade") {
        return Err(refuse(426, "Upgrade Required", "Upgrade: websocket\r\nConnection: Upgrade\r\n", "this port speaks SIP over WebSocket (RFC 7118) only"));
    }
    if header("Sec-WebSocket-Version").map(str::trim) != Some("13") {
        return Err(refuse(426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n", "unsupported Sec-WebSocket-Version (13 only)"));
    }
    // RFC 6455 4.1: the key is 16 random bytes, base64 (24 characters).
    let key = header("Sec-WebSocket-Key").map(str::trim).unwrap_or("");
    if key.len() != 24 || !key.ends_with("==") || !key.as_bytes()[..22].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
        return Err(refuse(400, "Bad Request", "", "missing or malformed Sec-WebSocket-Key"));
    }
    if !has_token("Sec-WebSocket-Protocol", "sip") {
        return Err(refuse(400, "Bad Request", "", "Sec-WebSocket-Protocol must offer sip (RFC 7118)"));
    }
    Ok(tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

#[derive(Debug)]
pub enum HandshakeError {
    /// No complete request before the deadline (slowloris).
    Timeout,
    /// The peer closed or the socket failed.
    Closed,
    /// Header over MAX_HANDSHAKE or not HTTP; a 400 was sent.
    Malformed(String),
    /// A well-formed request we refused with this status.
    Refused(u16, &'static str),
}

/// Read the upgrade request (by `deadline`), answer it, and return the bytes
/// that followed the request header (frames sent without waiting for 101).
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, deadline: Instant) -> Result<Vec<u8>, HandshakeError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) => return Err(HandshakeError::Timeout),
            Ok(Ok(0)) | Ok(Err(_)) => return Err(HandshakeError::Closed),
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = req.parse(&buf);
        let done = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HANDSHAKE => continue,
            Ok(httparse::Status::Partial) => {
                let why = "upgrade request header too large".to_string();
                send_refusal(s, &refuse(400, "Bad Request", "", "request header too large")).await;
                return Err(HandshakeError::Malformed(why));
            }
            Err(e) => {
                send_refusal(s, &refuse(400, "Bad Request", "", "malformed HTTP request")).await;
                return Err(HandshakeError::Malformed(e.to_string()));
            }
        };
        return match check_upgrade(&req) {
            Ok(accept) => {
                let resp = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
                );
                match tokio::time::timeout_at(deadline, s.write_all(resp.as_bytes())).await {
                    Ok(Ok(())) => Ok(buf.split_off(done)),
                    _ => Err(HandshakeError::Closed),
                }
            }
            Err(r) => {
                send_refusal(s, &r).await;
                Err(HandshakeError::Refused(r.status, r.text))
            }
        };
    }
}

async fn send_refusal<S: AsyncWrite + Unpin>(s: &mut S, r: &Refusal) {
    let body = format!("{}\r\n", r.text);
    let resp = format!(
        "HTTP/1.1 {} {}\r\n{}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        r.status,
        r.reason,
        r.headers,
        body.len()
    );
    // Best effort, bounded: the connection is closed right after.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await;
}

/// Wraps the socket to note when bytes of a not yet complete frame started
/// arriving (0: none pending), for the `partial` slowloris bound.
struct Tracked<S> {
    inner: S,
    base: Instant,
    pending_since_ms: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before && self.pending_since_ms.load(Ordering::Relaxed) == 0 {
            let ms = self.base.elapsed().as_millis() as u64 + 1;
            self.pending_since_ms.store(ms, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// True for a message that is only CR/LF: the RFC 5626 keep-alive some
/// WebSocket clients (SIP.js) send; "\r\n\r\n" gets "\r\n" back.
fn keep_alive(data: &[u8]) -> Option<bool> {
    (!data.is_empty() && data.iter().all(|&b| b == b'\r' || b == b'\n')).then(|| data.windows(4).any(|w| w == b"\r\n\r\n"))
}

/// Run one accepted WebSocket connection after a successful handshake:
/// messages in -> `Event::Sip`, the core's queue out -> one text message
/// each (binary when not UTF-8). `opened` is when the TCP connection was
/// accepted: the first SIP message is due `lim.first` after it.
#[allow(clippy::too_many_arguments)]
pub async fn run_ws<S>(stream: S, leftover: Vec<u8>, opened: Instant, id: u64, peer: Peer, tx: Tx, mut out: mpsc::Receiver<Vec<u8>>, lim: StreamLimits)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let pending = Arc::new(AtomicU64::new(0));
    let base = Instant::now();
    let tracked = Tracked { inner: stream, base, pending_since_ms: pending.clone() };
    let config = WebSocketConfig::default().max_message_size(Some(lim.max)).max_frame_size(Some(lim.max));
    let ws = WebSocketStream::from_partially_read(tracked, leftover, Role::Server, Some(config)).await;
    let (mut sink, mut source) = ws.split();
    let writer = async move {
        while let Some(b) = out.recv().await {
            let msg = match String::from_utf8(b) {
                Ok(s) => Message::text(s),
                Err(e) => Message::binary(e.into_bytes()),
            };
            if sink.send(msg).await.is_err() {
                return;
            }
        }
        // The core dropped the connection (idle, shutdown): close frame.
        let _ = sink.close().await;
    };
    let reader = async {
        let mut got_message = false;
        loop {
            let first_deadline = (!got_message).then(|| opened + lim.first);
            let since = pending.load(Ordering::Relaxed);
            let partial_deadline = (since > 0).then(|| base + std::time::Duration::from_millis(since - 1) + lim.partial);
            let deadline = match (first_deadline, partial_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // Wake at least once a second: bytes of a partial frame that
            // arrive while waiting start the `partial` clock.
            let wake = deadline.map_or(Instant::now() + RECHECK, |d| d.min(Instant::now() + RECHECK));
            let item = match tokio::time::timeout_at(wake, source.next()).await {
                Ok(i) => i,
                Err(_) if deadline.is_some_and(|d| d <= Instant::now()) => {
                    let partial = partial_deadline.is_some_and(|p| Some(p) == deadline);
                    let (counter, why) = if partial {
                        (&lim.counters.slow_partial, "incomplete websocket frame timeout")
                    } else {
                        (&lim.counters.slow_first, "no complete message in time")
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    crate::jlog!(Info, "closing slow connection", "conn": id, "remote": peer.addr.to_string(), "reason": why);
                    return;
                }
                Err(_) => continue,
            };
            let msg = match item {
                None => return,
                Some(Ok(m)) => m,
                Some(Err(e)) => return ws_error(&lim, id, &peer, e),
            };
            pending.store(0, Ordering::Relaxed);
            let data: Vec<u8> = match msg {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                // Pings are answered by tungstenite on the next read; a close
                // is echoed and the stream then ends.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                Message::Close(_) => continue,
            };
            if let Some(ping) = keep_alive(&data) {
                if ping && tx.send(Event::Pong { conn: id }).await.is_err() {
                    return;
                }
                continue;
            }
            got_message = true;
            if tx.send(Event::Sip { data, peer: peer.clone() }).await.is_err() {
                return;
            }
        }
    };
    tokio::select! { _ = reader => {}, _ = writer => {} }
    let _ = tx.send(Event::ConnDown { id }).await;
}

/// A read error: over-size and protocol violations are counted and logged.
fn ws_error(lim: &StreamLimits, id: u64, peer: &Peer, e: WsError) {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_) => {}
        WsError::Capacity(c) => {
            lim.counters.oversized.fetch_add(1, Ordering::Relaxed);
            crate::jlog!(Warn, "websocket message over maxMessageBytes, closing", "conn": id, "remote": peer.addr.to_string(), "error": c.to_string());
        }
        other => {
            lim.counters.framing_error.fetch_add(1, Ordering::Relaxed);
            crate::jlog!(Warn, "websocket protocol error, closing", "conn": id, "remote": peer.addr.to_string(), "error": other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Result<String, Refusal> {
        let mut h = [httparse::EMPTY_HEADER; 32];
        let mut r = httparse::Request::new(&mut h);
        assert!(r.parse(raw.as_bytes()).unwrap().is_complete());
        check_upgrade(&r)
    }

    const OK: &str = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, sip\r\n\r\n";

    #[test]
    fn accepts_sip_subprotocol_with_rfc6455_accept_key() {
        // The example key and accept value of RFC 6455 1.3.
        assert_eq!(check(OK).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn refusals() {
        assert_eq!(check(&OK.replace(", sip", "")).unwrap_err().status, 400);
        assert_eq!(check(&OK.replace("Sec-WebSocket-Protocol: chat, sip\r\n", "")).unwrap_err().status, 400);
        assert_eq!(check(&OK.replace("Upgrade: websocket\r\n", "")).unwrap_err().status, 426);
        assert_eq!(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err().status, 426);
        assert_eq!(check(&OK.replace("Version: 13", "Version: 8")).unwrap_err().status, 426);
        assert_eq!(check(&OK.replace("dGhlIHNhbXBsZSBub25jZQ==", "short")).unwrap_err().status, 400);
        assert_eq!(check(&OK.replace("GET", "POST")).unwrap_err().status, 405);
    }

    #[test]
    fn keep_alives() {
        assert_eq!(keep_alive(b"\r\n\r\n"), Some(true));
        assert_eq!(keep_alive(b"\r\n"), Some(false));
        assert_eq!(keep_alive(b"OPTIONS"), None);
        assert_eq!(keep_alive(b""), None);
    }
}
