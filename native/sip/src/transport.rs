//! Socket tasks: UDP receive loops, TCP/TLS connections (accepted and
//! outbound) framed by Content-Length, and the TLS contexts. Every task
//! talks to the core through bounded channels. WebSocket connections
//! (ws.rs) share the accept path, limits and counters; only framing differs.

use crate::config::Proto;
use crate::runtime::Event;
use crate::sip::parse::{stream_frame, StreamFrame};
use crate::txn::Peer;
use openssl::ssl::{Ssl, SslAcceptor, SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_openssl::SslStream;

pub type Tx = mpsc::Sender<Event>;

/// Drops and closes decided in the socket tasks, read by the `stats` command.
#[derive(Default, Debug)]
pub struct Counters {
    pub conn_limit_source: AtomicU64,
    pub conn_limit_global: AtomicU64,
    pub slow_partial: AtomicU64,
    pub slow_first: AtomicU64,
    pub framing_error: AtomicU64,
    pub tls_handshake_failed: AtomicU64,
    pub oversized: AtomicU64,
    /// WebSocket upgrade requests refused (no `sip` subprotocol, not an
    /// upgrade, malformed) or not completed in time.
    pub ws_handshake_failed: AtomicU64,
    /// Messages toward a WebSocket peer whose connection is gone (dropped;
    /// a waiting request fails with 503).
    pub ws_peer_gone: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> [(&'static str, u64); 9] {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("conn_limit_source", g(&self.conn_limit_source)),
            ("conn_limit_global", g(&self.conn_limit_global)),
            ("slow_partial", g(&self.slow_partial)),
            ("slow_first", g(&self.slow_first)),
            ("framing_error", g(&self.framing_error)),
            ("tls_handshake_failed", g(&self.tls_handshake_failed)),
            ("oversized", g(&self.oversized)),
            ("ws_handshake_failed", g(&self.ws_handshake_failed)),
            ("ws_peer_gone", g(&self.ws_peer_gone)),
        ]
    }
}

/// Bounds of a stream connection's reader (slowloris protection).
#[derive(Clone, Debug)]
pub struct StreamLimits {
    pub max: usize,
    /// A started message must be complete within this.
    pub partial: Duration,
    /// Inbound connections: the first complete message must arrive within this.
    pub first: Duration,
    pub counters: Arc<Counters>,
}

pub async fn udp_loop(sock: Arc<UdpSocket>, local: SocketAddr, tx: Tx, max: usize, counters: Arc<Counters>) {
    let mut buf = vec![0u8; max.max(1500) + 1];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                if n > max {
                    counters.oversized.fetch_add(1, Ordering::Relaxed);
                    crate::jlog!(Warn, "oversized datagram dropped", "from": from.to_string(), "bytes": n);
                    continue;
                }
                let peer = Peer { proto: Proto::Udp, addr: from, conn: None, local };
                if tx.send(Event::Sip { data: buf[..n].to_vec(), peer }).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // ICMP port unreachable surfaces here on Linux; not fatal.
                crate::jlog!(Debug, "udp recv error", "error": e.to_string());
            }
        }
    }
}

pub fn tls_acceptor(cert: &str, key: &str) -> Result<SslAcceptor, String> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).map_err(|e| e.to_string())?;
    b.set_certificate_chain_file(cert).map_err(|e| format!("tls cert {cert}: {e}"))?;
    b.set_private_key_file(key, SslFiletype::PEM).map_err(|e| format!("tls key {key}: {e}"))?;
    b.check_private_key().map_err(|e| e.to_string())?;
    Ok(b.build())
}

pub fn tls_connector() -> Result<SslConnector, String> {
    let mut b = SslConnector::builder(SslMethod::tls()).map_err(|e| e.to_string())?;
    // Peers on an SBC's trunk side often use self-signed certificates; the
    // operator pins trust by configuration, not by a public CA here.
    b.set_verify(SslVerifyMode::NONE);
    Ok(b.build())
}

pub async fn tls_accept(acceptor: &SslAcceptor, tcp: TcpStream) -> Result<SslStream<TcpStream>, String> {
    let ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
    let mut s = SslStream::new(ssl, tcp).map_err(|e| e.to_string())?;
    Pin::new(&mut s).accept().await.map_err(|e| e.to_string())?;
    Ok(s)
}

pub async fn tls_connect(conn: &SslConnector, tcp: TcpStream) -> Result<SslStream<TcpStream>, String> {
    let ssl = conn.configure().map_err(|e| e.to_string())?.verify_hostname(false).into_ssl("sip").map_err(|e| e.to_string())?;
    let mut s = SslStream::new(ssl, tcp).map_err(|e| e.to_string())?;
    Pin::new(&mut s).connect().await.map_err(|e| e.to_string())?;
    Ok(s)
}

/// Run one stream connection: a writer fed by a bounded channel and a
/// reader that frames SIP messages by Content-Length. The reader closes a
/// connection whose started message is not complete within `partial`, and
/// an inbound one with no complete message within `first` (slowloris).
pub async fn run_stream<S>(stream: S, id: u64, peer: Peer, tx: Tx, mut out: mpsc::Receiver<Vec<u8>>, lim: StreamLimits, inbound: bool)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut r, mut w) = tokio::io::split(stream);
    // Dropping the core's sender ends the writer, which closes the socket.
    let writer = async move {
        while let Some(b) = out.recv().await {
            if w.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    };
    let reader = async {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 16384];
        let opened = tokio::time::Instant::now();
        let mut got_message = !inbound;
        // When the bytes now in `buf` started arriving.
        let mut partial_since: Option<tokio::time::Instant> = None;
        loop {
            let first_deadline = (!got_message).then(|| opened + lim.first);
            let partial_deadline = partial_since.map(|t| t + lim.partial);
            let deadline = match (first_deadline, partial_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let read = r.read(&mut chunk);
            let res = match deadline {
                Some(d) => match tokio::time::timeout_at(d, read).await {
                    Ok(r) => r,
                    Err(_) => {
                        let partial = partial_deadline.is_some_and(|p| p <= d);
                        let (counter, why) = if partial {
                            (&lim.counters.slow_partial, "incomplete message timeout")
                        } else {
                            (&lim.counters.slow_first, "no complete message in time")
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        crate::jlog!(Info, "closing slow connection", "conn": id, "remote": peer.addr.to_string(), "reason": why, "buffered": buf.len());
                        return;
                    }
                },
                None => read.await,
            };
            let n = match res {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            loop {
                match stream_frame(&buf, lim.max) {
                    Ok(StreamFrame::NeedMore) => break,
                    Ok(StreamFrame::KeepAlive { skip, ping }) => {
                        buf.drain(..skip.min(buf.len()));
                        if ping {
                            let _ = tx.send(Event::Pong { conn: id }).await;
                        }
                    }
                    Ok(StreamFrame::Message(len)) => {
                        let data: Vec<u8> = buf.drain(..len).collect();
                        got_message = true;
                        partial_since = None;
                        if tx.send(Event::Sip { data, peer: peer.clone() }).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // Framing is lost on a stream: the only safe move is to close.
                        lim.counters.framing_error.fetch_add(1, Ordering::Relaxed);
                        crate::jlog!(Warn, "stream framing error, closing", "conn": id, "error": format!("{e:?}"));
                        return;
                    }
                }
            }
            if buf.is_empty() {
                partial_since = None;
            } else if partial_since.is_none() {
                partial_since = Some(tokio::time::Instant::now());
            }
        }
    };
    tokio::select! { _ = reader => {}, _ = writer => {} }
    let _ = tx.send(Event::ConnDown { id }).await;
}
