//! Socket tasks: UDP receive loops, TCP/TLS connections (accepted and
//! outbound) framed by Content-Length, and the TLS contexts. Every task
//! talks to the core through bounded channels. WebSocket would be one more
//! stream kind here (framing differs, the rest is shared).

use crate::config::Proto;
use crate::runtime::Event;
use crate::sip::parse::{stream_frame, StreamFrame};
use crate::txn::Peer;
use openssl::ssl::{Ssl, SslAcceptor, SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_openssl::SslStream;

pub type Tx = mpsc::Sender<Event>;

pub async fn udp_loop(sock: Arc<UdpSocket>, local: SocketAddr, tx: Tx, max: usize) {
    let mut buf = vec![0u8; max.max(1500) + 1];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                if n > max {
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
/// reader that frames SIP messages by Content-Length.
pub async fn run_stream<S>(stream: S, id: u64, peer: Peer, tx: Tx, mut out: mpsc::Receiver<Vec<u8>>, max: usize)
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
        loop {
            let n = match r.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            loop {
                match stream_frame(&buf, max) {
                    Ok(StreamFrame::NeedMore) => break,
                    Ok(StreamFrame::KeepAlive { skip, ping }) => {
                        buf.drain(..skip.min(buf.len()));
                        if ping {
                            let _ = tx.send(Event::Pong { conn: id }).await;
                        }
                    }
                    Ok(StreamFrame::Message(len)) => {
                        let data: Vec<u8> = buf.drain(..len).collect();
                        if tx.send(Event::Sip { data, peer: peer.clone() }).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // Framing is lost on a stream: the only safe move is to close.
                        crate::jlog!(Warn, "stream framing error, closing", "conn": id, "error": format!("{e:?}"));
                        return;
                    }
                }
            }
        }
    };
    tokio::select! { _ = reader => {}, _ = writer => {} }
    let _ = tx.send(Event::ConnDown { id }).await;
}
