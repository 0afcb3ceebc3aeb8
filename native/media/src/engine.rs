//! The engine: port pool, DTLS identity (rotated on a schedule), worker
//! threads, and the bounded event channel. Control-path only: nothing here
//! runs per packet.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::dtls::{DtlsConfig, DtlsContext};
use crate::fingerprint::{Fingerprint, HashAlg};
use crate::identity::DtlsIdentity;
use crate::leg::{LegSpec, LegUpdate, Side};
use crate::music::MusicSource;
use crate::pipeline::Pipeline;
use crate::ports::PortAllocator;
use crate::worker::{Command, EngineEvent, IoBackend, IoChoice, PipelineStats, WorkerCounters, WorkerHandle};

#[derive(Debug, Clone)]
pub enum CertSource {
    /// ECDSA P-256, generated at start and on every rotation.
    Generate,
    Pem { cert: Vec<u8>, key: Vec<u8> },
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub bind_ip: IpAddr,
    pub port_min: u16,
    pub port_max: u16,
    pub workers: usize,
    pub dtls: DtlsConfig,
    pub cert: CertSource,
    /// Regenerate the certificate this often (generated certificates only).
    pub cert_rotation: Option<Duration>,
    /// Silence on a sending leg for this long raises MediaTimeout (0 = off).
    pub media_timeout: Duration,
    pub event_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            port_min: 30000,
            port_max: 39999,
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            dtls: DtlsConfig::default(),
            cert: CertSource::Generate,
            cert_rotation: Some(Duration::from_secs(24 * 3600)),
            media_timeout: Duration::from_secs(60),
            event_capacity: 65536,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// No free port pair: the call should be refused with 503.
    PortsExhausted,
    NoSuchPipeline(u64),
    InvalidSpec(String),
    Internal(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::PortsExhausted => f.write_str("media ports exhausted"),
            EngineError::NoSuchPipeline(id) => write!(f, "no pipeline {id}"),
            EngineError::InvalidSpec(s) => write!(f, "invalid leg: {s}"),
            EngineError::Internal(s) => write!(f, "internal: {s}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LocalLeg {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
    pub fingerprint: Fingerprint,
    /// Our ICE credentials on an ICE leg (for a=ice-ufrag/a=ice-pwd).
    pub ice: Option<crate::ice::IceCredentials>,
    /// Our a=tls-id on a DTLS-SRTP leg (changes with each new association).
    pub tls_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreatedPipeline {
    pub id: u64,
    pub legs: [LocalLeg; 2],
}

struct Entry {
    worker: usize,
    ports: [u16; 2],
    ctx: Arc<DtlsContext>,
}

/// The answer to a request made without waiting (`update_async`,
/// `close_async`), delivered on the engine's completion channel with the
/// caller's token.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per call, not per packet
pub enum Completion {
    /// The leg's a=tls-id after the update (None: not DTLS), or why it was refused.
    Updated { token: u64, result: Result<Option<String>, EngineError> },
    /// The pipeline's final counters (None: it no longer existed); its ports are free again.
    Closed { token: u64, stats: Option<PipelineStats> },
}

/// Live pipelines and the ports they hold: shared with the workers' close
/// replies, which free the ports once the sockets are closed.
struct Registry {
    ports: Mutex<PortAllocator>,
    pipelines: Mutex<HashMap<u64, Entry>>,
}

impl Registry {
    fn forget(&self, id: u64) {
        // One lock at a time (the entry is taken out first): counters() takes
        // both, and this runs on worker threads too.
        let entry = self.pipelines.lock().unwrap().remove(&id);
        if let Some(e) = entry {
            let mut ports = self.ports.lock().unwrap();
            ports.release(e.ports[0]);
            ports.release(e.ports[1]);
        }
    }
}

pub struct Engine {
    config: EngineConfig,
    registry: Arc<Registry>,
    workers: Mutex<Vec<WorkerHandle>>,
    worker_count: usize,
    /// The I/O the workers run on (all the same: one choice, one kernel).
    io_backend: IoBackend,
    io_fallback: Option<String>,
    dtls: RwLock<Arc<DtlsContext>>,
    next_id: AtomicU64,
    next_worker: AtomicUsize,
    events_rx: Receiver<EngineEvent>,
    /// Unbounded: a completion is never dropped (its caller is waiting on it).
    completions: (Sender<Completion>, Receiver<Completion>),
    worker_counters: Arc<WorkerCounters>,
    rotations: AtomicU64,
    music: RwLock<Option<Arc<MusicSource>>>,
    stop_rotation: Mutex<Option<Sender<()>>>,
}

const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

impl Engine {
    pub fn start(config: EngineConfig) -> Result<Arc<Engine>, EngineError> {
        let identity = make_identity(&config.cert)?;
        let ctx = DtlsContext::new(identity, config.dtls.clone()).map_err(|e| EngineError::Internal(e.to_string()))?;
        let ports = PortAllocator::new(config.bind_ip, config.port_min, config.port_max).map_err(EngineError::InvalidSpec)?;
        let (events_tx, events_rx) = crossbeam_channel::bounded(config.event_capacity.max(16));
        let worker_counters = Arc::new(WorkerCounters::default());
        let n = config.workers.max(1);
        let choice = IoChoice::from_env().map_err(EngineError::InvalidSpec)?;
        let workers = (0..n)
            .map(|i| WorkerHandle::spawn(i, choice, events_tx.clone(), worker_counters.clone()))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| EngineError::Internal(format!("media worker ({choice:?} I/O): {e}")))?;
        let io_backend = workers[0].backend;
        let io_fallback = workers[0].fallback_reason.clone();
        let engine = Arc::new(Engine {
            config: config.clone(),
            registry: Arc::new(Registry { ports: Mutex::new(ports), pipelines: Mutex::new(HashMap::new()) }),
            workers: Mutex::new(workers),
            worker_count: n,
            io_backend,
            io_fallback,
            dtls: RwLock::new(ctx),
            next_id: AtomicU64::new(1),
            next_worker: AtomicUsize::new(0),
            events_rx,
            completions: crossbeam_channel::unbounded(),
            worker_counters,
            rotations: AtomicU64::new(0),
            music: RwLock::new(None),
            stop_rotation: Mutex::new(None),
        });
        if let (Some(every), CertSource::Generate) = (config.cert_rotation, &config.cert) {
            let (tx, rx) = crossbeam_channel::bounded::<()>(1);
            *engine.stop_rotation.lock().unwrap() = Some(tx);
            let weak = Arc::downgrade(&engine);
            std::thread::Builder::new()
                .name("esbc-cert-rotation".into())
                .spawn(move || {
                    while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                        match weak.upgrade() {
                            Some(e) => {
                                let _ = e.rotate_certificate();
                            }
                            None => return,
                        }
                    }
                })
                .map_err(|e| EngineError::Internal(e.to_string()))?;
        }
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The identity new calls get.
    pub fn current_fingerprint(&self, hash: HashAlg) -> Fingerprint {
        self.dtls.read().unwrap().identity().fingerprint(hash).clone()
    }

    /// The audio new calls can play as music on hold (8 kHz PCMU and PCMA).
    pub fn set_music(&self, pcmu: Vec<u8>, pcma: Vec<u8>) -> Result<(), EngineError> {
        if pcmu.len() < crate::music::FRAME || pcma.len() < crate::music::FRAME {
            return Err(EngineError::InvalidSpec("music must be at least 20 ms of audio".into()));
        }
        *self.music.write().unwrap() = Some(Arc::new(MusicSource { pcmu, pcma }));
        Ok(())
    }

    /// New calls get a new certificate; live calls keep theirs.
    pub fn rotate_certificate(&self) -> Result<(), EngineError> {
        let identity = make_identity(&self.config.cert)?;
        let ctx = DtlsContext::new(identity, self.config.dtls.clone()).map_err(|e| EngineError::Internal(e.to_string()))?;
        *self.dtls.write().unwrap() = ctx;
        self.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub fn create_pipeline(&self, a: LegSpec, b: LegSpec, hashes: [HashAlg; 2]) -> Result<CreatedPipeline, EngineError> {
        let ctx = self.dtls.read().unwrap().clone();
        let now = Instant::now();
        let ice = [a.ice.as_ref().map(|p| p.local.clone()), b.ice.as_ref().map(|p| p.local.clone())];
        let [ice_a, ice_b] = ice;
        let music = self.music.read().unwrap().clone();
        let pipeline = Pipeline::new(a, b, &ctx, self.config.media_timeout, music, now).map_err(EngineError::InvalidSpec)?;
        let tls_id = |side| pipeline.leg(side).local_tls_id().map(str::to_string);
        let [tls_a, tls_b] = [tls_id(Side::A), tls_id(Side::B)];
        let ((pa, sa), (pb, sb)) = {
            let mut ports = self.registry.ports.lock().unwrap();
            let first = ports.allocate().ok_or(EngineError::PortsExhausted)?;
            match ports.allocate() {
                Some(second) => (first, second),
                None => {
                    ports.release(first.0);
                    return Err(EngineError::PortsExhausted);
                }
            }
        };
        let ip = self.config.bind_ip;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let worker = self.next_worker.fetch_add(1, Ordering::Relaxed) % self.worker_count;
        let legs = [
            LocalLeg {
                rtp: SocketAddr::new(ip, pa),
                rtcp: SocketAddr::new(ip, pa + 1),
                fingerprint: ctx.identity().fingerprint(hashes[0]).clone(),
                ice: ice_a,
                tls_id: tls_a,
            },
            LocalLeg {
                rtp: SocketAddr::new(ip, pb),
                rtcp: SocketAddr::new(ip, pb + 1),
                fingerprint: ctx.identity().fingerprint(hashes[1]).clone(),
                ice: ice_b,
                tls_id: tls_b,
            },
        ];
        self.registry.pipelines.lock().unwrap().insert(id, Entry { worker, ports: [pa, pb], ctx: ctx.clone() });
        let sent = self.workers.lock().unwrap()[worker].send(Command::Add {
            id,
            pipeline: Box::new(pipeline),
            sockets: [sa, sb],
            ctx,
        });
        if !sent {
            self.forget(id);
            return Err(EngineError::Internal("worker stopped".into()));
        }
        Ok(CreatedPipeline { id, legs })
    }

    /// Our fingerprint for a live pipeline (stable for the whole call).
    pub fn pipeline_fingerprint(&self, id: u64, hash: HashAlg) -> Result<Fingerprint, EngineError> {
        let map = self.registry.pipelines.lock().unwrap();
        let e = map.get(&id).ok_or(EngineError::NoSuchPipeline(id))?;
        Ok(e.ctx.identity().fingerprint(hash).clone())
    }

    pub fn stats(&self, id: u64) -> Result<PipelineStats, EngineError> {
        let worker = self.worker_of(id)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.workers.lock().unwrap()[worker].send(Command::Stats { id, reply: tx });
        rx.recv_timeout(REPLY_TIMEOUT).ok().flatten().ok_or(EngineError::NoSuchPipeline(id))
    }

    /// Applies an update without waiting: the worker's answer (the leg's
    /// a=tls-id afterwards, None: not DTLS) arrives as `Completion::Updated`
    /// with `token`. Commands to one pipeline are applied in the order they
    /// were made.
    pub fn update_async(&self, id: u64, side: Side, update: LegUpdate, token: u64) -> Result<(), EngineError> {
        let worker = self.worker_of(id)?;
        let done = self.completions.0.clone();
        let reply = Box::new(move |r: Result<Option<String>, String>| {
            let _ = done.send(Completion::Updated { token, result: r.map_err(EngineError::InvalidSpec) });
        });
        if !self.workers.lock().unwrap()[worker].send(Command::Update { id, side, update, reply }) {
            return Err(EngineError::Internal("worker stopped".into()));
        }
        Ok(())
    }

    /// Closes the pipeline (close_notify on DTLS legs) without waiting: the
    /// worker closes the sockets, then frees the ports and sends
    /// `Completion::Closed` with `token` and the final counters. The control
    /// plane never blocks on a worker that is busy relaying.
    pub fn close_async(&self, id: u64, token: u64) -> Result<(), EngineError> {
        let worker = self.worker_of(id)?;
        let done = self.completions.0.clone();
        let registry = self.registry.clone();
        let reply = Box::new(move |stats: Option<PipelineStats>| {
            registry.forget(id);
            let _ = done.send(Completion::Closed { token, stats });
        });
        if !self.workers.lock().unwrap()[worker].send(Command::Close { id, reply }) {
            self.forget(id);
            return Err(EngineError::Internal("worker stopped".into()));
        }
        Ok(())
    }

    /// Answers to `update_async` and `close_async`.
    pub fn completions(&self) -> &Receiver<Completion> {
        &self.completions.1
    }

    fn forget(&self, id: u64) {
        self.registry.forget(id);
    }

    fn worker_of(&self, id: u64) -> Result<usize, EngineError> {
        self.registry.pipelines.lock().unwrap().get(&id).map(|e| e.worker).ok_or(EngineError::NoSuchPipeline(id))
    }

    pub fn events(&self) -> &Receiver<EngineEvent> {
        &self.events_rx
    }

    pub fn counters(&self) -> EngineCounters {
        let pipelines = self.registry.pipelines.lock().unwrap().len() as u64;
        let (in_use, total) = {
            let ports = self.registry.ports.lock().unwrap();
            (ports.in_use() as u64, ports.capacity() as u64)
        };
        EngineCounters {
            pipelines,
            port_pairs_in_use: in_use,
            port_pairs_total: total,
            dropped_events: self.worker_counters.dropped_events.load(Ordering::Relaxed),
            send_errors: self.worker_counters.send_errors.load(Ordering::Relaxed),
            receive_starved: self.worker_counters.receive_starved.load(Ordering::Relaxed),
            cert_rotations: self.rotations.load(Ordering::Relaxed),
            workers: self.worker_count as u64,
            io_backend: self.io_backend.name(),
            io_fallback: self.io_fallback.clone(),
        }
    }

    /// Stops every worker (closing all pipelines) and joins the threads.
    pub fn shutdown(&self) {
        if let Some(tx) = self.stop_rotation.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let mut workers = self.workers.lock().unwrap();
        for w in workers.iter() {
            w.send(Command::Shutdown);
        }
        for w in workers.iter_mut() {
            w.join();
        }
        let ids: Vec<u64> = self.registry.pipelines.lock().unwrap().keys().copied().collect();
        for id in ids {
            self.forget(id);
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct EngineCounters {
    pub pipelines: u64,
    pub port_pairs_in_use: u64,
    pub port_pairs_total: u64,
    pub dropped_events: u64,
    /// Datagrams the kernel refused after the workers queued them.
    pub send_errors: u64,
    /// io_uring receives ended because the receive buffers ran out (overload).
    pub receive_starved: u64,
    pub cert_rotations: u64,
    pub workers: u64,
    /// "io_uring" or "epoll".
    pub io_backend: &'static str,
    /// Why io_uring is not in use when it was not refused by choice.
    pub io_fallback: Option<String>,
}

fn make_identity(src: &CertSource) -> Result<Arc<DtlsIdentity>, EngineError> {
    match src {
        CertSource::Generate => DtlsIdentity::generate_ecdsa(30),
        CertSource::Pem { cert, key } => DtlsIdentity::from_pem(cert, key),
    }
    .map_err(|e| EngineError::InvalidSpec(format!("DTLS certificate: {e}")))
}
