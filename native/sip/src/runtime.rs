//! tokio glue: binds sockets, runs the engine on one task, executes its
//! outputs, and owns connection tables. All queues are bounded.

use crate::config::{Config, Proto};
use crate::drachtio::FrameDecoder;
use crate::engine::{Engine, Listener, Output};
use crate::transport::{self, Tx};
use crate::txn::Peer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

const EVENT_QUEUE: usize = 16384;
const CONN_QUEUE: usize = 1024;
const CLIENT_QUEUE: usize = 8192;
const PENDING_PER_DEST: usize = 64;
const MAX_CONTROL_FRAME: usize = 1 << 20;

pub enum Event {
    Sip { data: Vec<u8>, peer: Peer },
    Pong { conn: u64 },
    /// `admit`: set for accepted (inbound) connections; the core answers
    /// whether the connection limits let it in.
    ConnUp { id: u64, proto: Proto, remote: SocketAddr, local: SocketAddr, tx: mpsc::Sender<Vec<u8>>, admit: Option<oneshot::Sender<bool>> },
    ConnFailed { proto: Proto, remote: SocketAddr },
    ConnDown { id: u64 },
    ClientUp { id: u64, tx: mpsc::Sender<Vec<u8>> },
    ClientFrame { id: u64, payload: String },
    ClientDown { id: u64 },
    /// `stats` on stdin: print one JSON line of counters on stdout.
    Stats,
    Shutdown,
}

struct Conn {
    proto: Proto,
    remote: SocketAddr,
    tx: mpsc::Sender<Vec<u8>>,
    last: Instant,
    /// Accepted from a peer (counted per source), not opened by us.
    inbound: bool,
}

pub struct Bound {
    pub listeners: Vec<Listener>,
    pub control: SocketAddr,
}

/// Bind everything, print nothing; returns the runtime future pieces.
pub async fn run(cfg: Config) -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<Event>(EVENT_QUEUE);
    spawn_stdin_commands(tx.clone());
    let max = cfg.limits.max_message_bytes;
    let counters = Arc::new(transport::Counters::default());
    let slow = transport::StreamLimits {
        max,
        partial: Duration::from_secs(cfg.limits.partial_message_secs.max(1)),
        first: Duration::from_secs(cfg.limits.first_message_secs.max(1)),
        counters: counters.clone(),
    };
    let mut listeners = Vec::new();
    let mut udp: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let acceptor = match &cfg.tls {
        Some(t) => Some(Arc::new(transport::tls_acceptor(&t.cert, &t.key)?)),
        None => None,
    };
    let connector = Arc::new(transport::tls_connector()?);
    let next_id = Arc::new(std::sync::atomic::AtomicU64::new(1));
    for l in &cfg.listen {
        let addr: SocketAddr = format!("{}:{}", bracket(&l.address), l.port).parse().map_err(|e| format!("listen address {}: {e}", l.address))?;
        match l.transport {
            Proto::Udp => {
                let s = Arc::new(UdpSocket::bind(addr).await.map_err(|e| format!("bind udp {addr}: {e}"))?);
                let local = s.local_addr().map_err(|e| e.to_string())?;
                tokio::spawn(transport::udp_loop(s.clone(), local, tx.clone(), max, counters.clone()));
                udp.insert(local, s);
                listeners.push(Listener { proto: Proto::Udp, addr: local });
            }
            Proto::Tcp | Proto::Tls | Proto::Ws | Proto::Wss => {
                let ls = TcpListener::bind(addr).await.map_err(|e| format!("bind {} {addr}: {e}", l.transport.name()))?;
                let local = ls.local_addr().map_err(|e| e.to_string())?;
                let acc = if l.transport.secure() { acceptor.clone() } else { None };
                tokio::spawn(accept_loop(ls, l.transport, local, acc, tx.clone(), next_id.clone(), slow.clone()));
                listeners.push(Listener { proto: l.transport, addr: local });
            }
        }
    }
    let control_addr: SocketAddr =
        format!("{}:{}", bracket(&cfg.control.address), cfg.control.port).parse().map_err(|e| format!("control address: {e}"))?;
    let cl = TcpListener::bind(control_addr).await.map_err(|e| format!("bind control {control_addr}: {e}"))?;
    let control = cl.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(control_loop(cl, tx.clone(), next_id.clone()));

    let engine = Engine::new(&cfg, listeners.clone());
    let ready = serde_json::json!({
        "ready": true,
        "controlAddress": control.ip().to_string(),
        "controlPort": control.port(),
        "sip": listeners.iter().map(|l| serde_json::json!({"transport": l.proto.name(), "address": l.addr.ip().to_string(), "port": l.addr.port()})).collect::<Vec<_>>(),
    });
    println!("{ready}");
    crate::jlog!(Info, "engine ready", "control": control.to_string(), "hostports": engine.hostports());

    let sig_tx = tx.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else { return };
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        let _ = sig_tx.send(Event::Shutdown).await;
    });

    let mut core = Core {
        engine,
        udp,
        conns: HashMap::new(),
        by_addr: HashMap::new(),
        pending: HashMap::new(),
        clients: HashMap::new(),
        tx,
        next_id,
        connector,
        slow,
        idle: Duration::from_secs(cfg.limits.idle_connection_secs.max(1)),
        max_conns: cfg.limits.max_connections,
        max_conns_per_source: cfg.limits.max_connections_per_source,
        trusted: cfg.limits.trusted_sources.iter().filter_map(|s| crate::limits::Cidr::parse(s)).collect(),
        per_source: Default::default(),
        counters,
    };
    core.run(rx).await;
    Ok(())
}

fn bracket(a: &str) -> String {
    if a.contains(':') && !a.starts_with('[') {
        format!("[{a}]")
    } else {
        a.to_string()
    }
}

async fn accept_loop(
    ls: TcpListener,
    proto: Proto,
    local: SocketAddr,
    acc: Option<Arc<openssl::ssl::SslAcceptor>>,
    tx: Tx,
    ids: Arc<std::sync::atomic::AtomicU64>,
    limits: transport::StreamLimits,
) {
    loop {
        let Ok((tcp, remote)) = ls.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        let (tx, acc, id) = (tx.clone(), acc.clone(), ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let limits = limits.clone();
        tokio::spawn(async move {
            let (otx, orx) = mpsc::channel(CONN_QUEUE);
            let peer = Peer { proto, addr: remote, conn: Some(id), local };
            let (atx, arx) = oneshot::channel();
            if tx.send(Event::ConnUp { id, proto, remote, local, tx: otx, admit: Some(atx) }).await.is_err() {
                return;
            }
            // Refused by the connection limits: close before any TLS work.
            if arx.await != Ok(true) {
                return;
            }
            let opened = tokio::time::Instant::now();
            match acc {
                Some(a) => match tokio::time::timeout(Duration::from_secs(10), transport::tls_accept(&a, tcp)).await {
                    Ok(Ok(s)) => serve(s, opened, id, peer, tx, orx, limits).await,
                    other => {
                        limits.counters.tls_handshake_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        crate::jlog!(Warn, "tls handshake failed", "remote": remote.to_string(), "error": format!("{other:?}"));
                        let _ = tx.send(Event::ConnDown { id }).await;
                    }
                },
                None => serve(tcp, opened, id, peer, tx, orx, limits).await,
            }
        });
    }
}

/// An admitted inbound connection (TLS already done): SIP framed by
/// Content-Length, or the WebSocket upgrade then one SIP message per
/// WebSocket message.
async fn serve<S>(mut s: S, opened: tokio::time::Instant, id: u64, peer: Peer, tx: Tx, orx: mpsc::Receiver<Vec<u8>>, limits: transport::StreamLimits)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if !peer.proto.is_ws() {
        return transport::run_stream(s, id, peer, tx, orx, limits, true).await;
    }
    // The upgrade request counts as the start of the first message.
    match crate::ws::handshake(&mut s, opened + limits.first.min(limits.partial)).await {
        Ok(rest) => crate::ws::run_ws(s, rest, opened, id, peer, tx, orx, limits).await,
        Err(e) => {
            use std::sync::atomic::Ordering::Relaxed;
            limits.counters.ws_handshake_failed.fetch_add(1, Relaxed);
            if matches!(e, crate::ws::HandshakeError::Timeout) {
                limits.counters.slow_first.fetch_add(1, Relaxed);
            }
            crate::jlog!(Info, "websocket upgrade refused", "conn": id, "remote": peer.addr.to_string(), "error": format!("{e:?}"));
            let _ = tx.send(Event::ConnDown { id }).await;
        }
    }
}

/// Run-time commands from the parent on stdin, one per line:
/// `log-level <error|warn|info|debug|trace>` and `stats` (answered by one
/// `{"stats":{...}}` line on stdout). Unknown lines are ignored; at EOF
/// (stdin closed or /dev/null) the thread ends and nothing else changes.
fn spawn_stdin_commands(tx: Tx) {
    let _ = std::thread::Builder::new().name("esbc-sip-stdin".into()).spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let line = line.trim();
            if let Some(level) = line.strip_prefix("log-level ") {
                let level = level.trim();
                crate::logging::set_level(level);
                crate::jlog!(Info, "log level changed", "level": level);
            } else if line == "stats" && tx.blocking_send(Event::Stats).is_err() {
                break;
            }
        }
    });
}

async fn control_loop(ls: TcpListener, tx: Tx, ids: Arc<std::sync::atomic::AtomicU64>) {
    loop {
        let Ok((mut sock, remote)) = ls.accept().await else { continue };
        let _ = sock.set_nodelay(true);
        let id = ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tx = tx.clone();
        crate::jlog!(Info, "application connected", "client": id, "remote": remote.to_string());
        let (otx, mut orx) = mpsc::channel::<Vec<u8>>(CLIENT_QUEUE);
        // Registered before the reader starts, so the core sees it first.
        if tx.send(Event::ClientUp { id, tx: otx }).await.is_err() {
            return;
        }
        tokio::spawn(async move {
            let (mut r, mut w) = sock.split();
            let reader = async {
                let mut dec = FrameDecoder::new(MAX_CONTROL_FRAME);
                let mut chunk = vec![0u8; 65536];
                loop {
                    let n = match r.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    dec.push(&chunk[..n]);
                    loop {
                        match dec.next_frame() {
                            Ok(Some(payload)) => {
                                if tx.send(Event::ClientFrame { id, payload }).await.is_err() {
                                    return;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                crate::jlog!(Warn, "bad control frame, closing", "client": id, "error": format!("{e:?}"));
                                return;
                            }
                        }
                    }
                }
            };
            let writer = async {
                use tokio::io::AsyncWriteExt;
                while let Some(b) = orx.recv().await {
                    if w.write_all(&b).await.is_err() {
                        return;
                    }
                }
            };
            tokio::select! { _ = reader => {}, _ = writer => {} }
            let _ = tx.send(Event::ClientDown { id }).await;
        });
    }
}

struct Core {
    engine: Engine,
    udp: HashMap<SocketAddr, Arc<UdpSocket>>,
    conns: HashMap<u64, Conn>,
    by_addr: HashMap<(Proto, SocketAddr), u64>,
    pending: HashMap<(Proto, SocketAddr), Vec<Vec<u8>>>,
    clients: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    tx: Tx,
    next_id: Arc<std::sync::atomic::AtomicU64>,
    connector: Arc<openssl::ssl::SslConnector>,
    slow: transport::StreamLimits,
    idle: Duration,
    max_conns: usize,
    max_conns_per_source: usize,
    trusted: Vec<crate::limits::Cidr>,
    per_source: crate::limits::ConnCounter,
    counters: Arc<transport::Counters>,
}

impl Core {
    async fn run(&mut self, mut rx: mpsc::Receiver<Event>) {
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            let deadline = self.engine.next_timeout();
            tokio::select! {
                ev = rx.recv() => {
                    let Some(ev) = ev else { return };
                    if matches!(ev, Event::Shutdown) {
                        self.shutdown(&mut rx).await;
                        return;
                    }
                    self.handle(ev);
                    // Drain what is already queued before looking at timers.
                    for _ in 0..256 {
                        match rx.try_recv() {
                            Ok(Event::Shutdown) => { self.shutdown(&mut rx).await; return; }
                            Ok(ev) => self.handle(ev),
                            Err(_) => break,
                        }
                    }
                }
                _ = sleep_until(deadline) => {}
                _ = sweep.tick() => self.sweep_idle(),
            }
            self.engine.on_timer(Instant::now());
            self.execute();
        }
    }

    fn handle(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Sip { data, peer } => {
                if let Some(c) = peer.conn.and_then(|id| self.conns.get_mut(&id)) {
                    c.last = now;
                }
                self.engine.on_sip(now, &data, peer);
            }
            Event::Pong { conn } => {
                if let Some(c) = self.conns.get(&conn) {
                    let _ = c.tx.try_send(b"\r\n".to_vec());
                }
            }
            Event::ConnUp { id, proto, remote, local: _, tx, admit } => {
                let inbound = admit.is_some();
                if let Some(reason) = self.refuse_conn(now, inbound, remote) {
                    if let Some(suppressed) = self.engine.log_gate_pub(now, reason) {
                        crate::jlog!(Warn, "connection refused", "limit": reason, "remote": remote.to_string(), "suppressed": suppressed);
                    }
                    if let Some(a) = admit {
                        let _ = a.send(false);
                    }
                    return; // dropping tx closes it
                }
                if let Some(a) = admit {
                    if a.send(true).is_err() {
                        return;
                    }
                    self.per_source.add(remote.ip());
                }
                if let Some(q) = self.pending.remove(&(proto, remote)) {
                    for m in q {
                        let _ = tx.try_send(m);
                    }
                }
                self.by_addr.entry((proto, remote)).or_insert(id);
                self.conns.insert(id, Conn { proto, remote, tx, last: now, inbound });
            }
            Event::ConnFailed { proto, remote } => {
                if let Some(q) = self.pending.remove(&(proto, remote)) {
                    crate::jlog!(Warn, "connect failed, messages dropped", "remote": remote.to_string(), "count": q.len());
                }
                self.engine.on_transport_failure(now, proto, remote);
            }
            Event::ConnDown { id } => self.drop_conn(id),
            Event::ClientUp { id, tx } => {
                if self.engine.on_client_connected(id) {
                    self.clients.insert(id, tx);
                }
            }
            Event::ClientFrame { id, payload } => {
                crate::jlog!(Debug, "control in", "client": id, "frame": payload.as_str());
                self.engine.on_client_frame(now, id, &payload);
            }
            Event::ClientDown { id } => {
                crate::jlog!(Info, "application disconnected", "client": id);
                self.clients.remove(&id);
                self.engine.on_client_closed(now, id);
            }
            Event::Stats => self.print_stats(),
            Event::Shutdown => {}
        }
    }

    /// Which connection limit (if any) refuses a new connection.
    fn refuse_conn(&mut self, _now: Instant, inbound: bool, remote: SocketAddr) -> Option<&'static str> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.conns.len() >= self.max_conns {
            self.counters.conn_limit_global.fetch_add(1, Relaxed);
            return Some("global-connections");
        }
        if inbound
            && self.per_source.count(remote.ip()) >= self.max_conns_per_source
            && !self.trusted.iter().any(|c| c.contains(remote.ip()))
        {
            self.counters.conn_limit_source.fetch_add(1, Relaxed);
            return Some("per-source-connections");
        }
        None
    }

    fn print_stats(&self) {
        use std::io::Write;
        let mut v = self.engine.stats_json();
        if let Some(r) = v.get_mut("rejections").and_then(|r| r.as_object_mut()) {
            for (k, n) in self.counters.snapshot() {
                r.insert(k.to_string(), n.into());
            }
        }
        if let Some(a) = v.get_mut("active").and_then(|a| a.as_object_mut()) {
            a.insert("connections".into(), self.conns.len().into());
            a.insert("connections_inbound".into(), self.conns.values().filter(|c| c.inbound).count().into());
        }
        let line = serde_json::json!({ "stats": v });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn drop_conn(&mut self, id: u64) {
        if let Some(c) = self.conns.remove(&id) {
            if c.inbound {
                self.per_source.remove(c.remote.ip());
            }
            self.by_addr.retain(|_, v| *v != id);
        }
    }

    fn sweep_idle(&mut self) {
        let now = Instant::now();
        let idle: Vec<u64> = self.conns.iter().filter(|(_, c)| now.duration_since(c.last) > self.idle).map(|(id, _)| *id).collect();
        for id in idle {
            crate::jlog!(Info, "closing idle connection", "conn": id);
            self.drop_conn(id);
        }
    }

    fn execute(&mut self) {
        for o in self.engine.drain() {
            match o {
                Output::Sip { peer, data } => self.send_sip(peer, data),
                Output::Control { client, data } => {
                    let full = match self.clients.get(&client) {
                        Some(tx) => tx.try_send(data).is_err(),
                        None => false,
                    };
                    if full {
                        // A client that cannot keep up is cut off rather than
                        // letting its queue grow without bound.
                        crate::jlog!(Warn, "application too slow, disconnecting", "client": client);
                        self.clients.remove(&client);
                        self.engine.on_client_closed(Instant::now(), client);
                    }
                }
                Output::CloseClient(id) => {
                    self.clients.remove(&id);
                }
                Output::Alias { conn, addr } => {
                    if let Some(c) = self.conns.get(&conn) {
                        self.by_addr.entry((c.proto, addr)).or_insert(conn);
                    }
                }
            }
        }
    }

    fn send_sip(&mut self, peer: Peer, data: Vec<u8>) {
        if crate::logging::enabled(crate::logging::Level::Debug) {
            crate::jlog!(Debug, "sip out", "to": peer.addr.to_string(), "proto": peer.proto.name(), "msg": String::from_utf8_lossy(&data));
        }
        match peer.proto {
            Proto::Udp => {
                if let Some(s) = self.udp.get(&peer.local) {
                    if let Err(e) = s.try_send_to(&data, peer.addr) {
                        crate::jlog!(Debug, "udp send failed", "to": peer.addr.to_string(), "error": e.to_string());
                    }
                }
            }
            Proto::Tcp | Proto::Tls | Proto::Ws | Proto::Wss => {
                let id = peer.conn.filter(|id| self.conns.contains_key(id)).or_else(|| self.by_addr.get(&(peer.proto, peer.addr)).copied());
                if let Some(c) = id.and_then(|id| self.conns.get_mut(&id)) {
                    c.last = Instant::now();
                    if c.tx.try_send(data).is_err() {
                        crate::jlog!(Warn, "connection send queue full, dropping message", "remote": c.remote.to_string());
                    }
                    return;
                }
                if peer.proto.is_ws() {
                    // A WebSocket peer is reached only over its own
                    // connection; once closed, waiting requests fail now.
                    self.counters.ws_peer_gone.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Some(suppressed) = self.engine.log_gate_pub(Instant::now(), "ws-peer-gone") {
                        crate::jlog!(Info, "no websocket connection to peer, message dropped", "remote": peer.addr.to_string(), "proto": peer.proto.name(), "suppressed": suppressed);
                    }
                    let _ = self.tx.try_send(Event::ConnFailed { proto: peer.proto, remote: peer.addr });
                    return;
                }
                self.connect(peer, data);
            }
        }
    }

    fn connect(&mut self, peer: Peer, data: Vec<u8>) {
        let key = (peer.proto, peer.addr);
        if let Some(q) = self.pending.get_mut(&key) {
            if q.len() < PENDING_PER_DEST {
                q.push(data);
            }
            return;
        }
        if self.pending.len() >= self.max_conns {
            return;
        }
        self.pending.insert(key, vec![data]);
        let (tx, connector, limits) = (self.tx.clone(), self.connector.clone(), self.slow.clone());
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            let remote = peer.addr;
            let tcp = match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(remote)).await {
                Ok(Ok(t)) => t,
                _ => {
                    let _ = tx.send(Event::ConnFailed { proto: peer.proto, remote }).await;
                    return;
                }
            };
            let _ = tcp.set_nodelay(true);
            let (otx, orx) = mpsc::channel(CONN_QUEUE);
            let p = Peer { conn: Some(id), ..peer.clone() };
            if peer.proto == Proto::Tls {
                match transport::tls_connect(&connector, tcp).await {
                    Ok(s) => {
                        let _ = tx.send(Event::ConnUp { id, proto: peer.proto, remote, local: peer.local, tx: otx, admit: None }).await;
                        transport::run_stream(s, id, p, tx, orx, limits, false).await;
                    }
                    Err(e) => {
                        crate::jlog!(Warn, "tls connect failed", "remote": remote.to_string(), "error": e);
                        let _ = tx.send(Event::ConnFailed { proto: peer.proto, remote }).await;
                    }
                }
            } else {
                let _ = tx.send(Event::ConnUp { id, proto: peer.proto, remote, local: peer.local, tx: otx, admit: None }).await;
                transport::run_stream(tcp, id, p, tx, orx, limits, false).await;
            }
        });
    }

    /// Answer what is pending, flush, and let the sockets close.
    async fn shutdown(&mut self, rx: &mut mpsc::Receiver<Event>) {
        crate::jlog!(Info, "shutting down");
        self.engine.shutdown(Instant::now());
        self.execute();
        // Give writers a moment to flush; events are no longer processed.
        let _ = tokio::time::timeout(Duration::from_millis(200), async { while rx.recv().await.is_some() {} }).await;
        self.clients.clear();
        self.conns.clear();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending::<()>().await,
    }
}
