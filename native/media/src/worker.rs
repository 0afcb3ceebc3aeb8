//! A worker thread: owns the sockets and pipelines of its calls, waits for
//! datagrams (io_uring, or epoll + recvmmsg: `backend`), relays, sends, and
//! runs timers.
//! A call lives on one worker for its whole life, so nothing here is shared
//! and no lock is taken per packet.
//!
//! Every call into a pipeline runs under `catch_unwind`: a bug that panics
//! on one call's packet fails that pipeline only (its sockets stop receiving, an
//! event tells the control plane, which releases the call), never the worker
//! and the other calls on it.
use std::net::{SocketAddr, UdpSocket};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::dtls::DtlsContext;
use crate::leg::{Component, LegUpdate, Side};
use crate::pipeline::{Io, MediaEvent, Pipeline};
use crate::stats::{DropReason, LegStats};
use crate::sys::{self, EventFd, RecvBatch};
use crate::uring::{Cqe, Kind};

mod backend;
use backend::Backend;
pub use backend::{IoBackend, IoChoice};

/// The sockets of one leg: RTP, and RTCP on the next port.
pub struct LegSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

/// A leg's RTP socket connected to the latched peer (see `connected`).
struct Twin {
    socket: UdpSocket,
    peer: SocketAddr,
}

/// How a command answers: called once on the worker thread (a channel send
/// for a caller that waits, a completion queued for one that does not).
/// Dropped uncalled when the worker stops first.
pub type Reply<T> = Box<dyn FnOnce(T) + Send>;

pub enum Command {
    Add { id: u64, pipeline: Box<Pipeline>, sockets: [LegSockets; 2], ctx: Arc<DtlsContext> },
    /// Replies with the leg's a=tls-id after the update (None: not DTLS).
    Update { id: u64, side: Side, update: LegUpdate, reply: Reply<Result<Option<String>, String>> },
    /// Replies with the final counters (None: no such pipeline) once its sockets are closed.
    Close { id: u64, reply: Reply<Option<PipelineStats>> },
    Stats { id: u64, reply: Sender<Option<PipelineStats>> },
    Shutdown,
}

#[derive(Debug, Clone)]
pub struct LegSnapshot {
    pub stats: LegStats,
    pub dtls_state: Option<crate::dtls::DtlsState>,
    pub profile: Option<crate::srtp::SrtpProfile>,
    pub latched: Option<SocketAddr>,
    pub direction: crate::leg::Direction,
    /// Music-on-hold packets generated toward this leg, and their SSRC.
    pub music_packets: u64,
    pub music_ssrc: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct PipelineStats {
    pub legs: [LegSnapshot; 2],
}

/// An event for the control plane, tagged with its pipeline.
#[derive(Debug, Clone)]
pub struct EngineEvent {
    pub pipeline: u64,
    pub event: MediaEvent,
}

const WAKE_TOKEN: u64 = crate::uring::WAKE;
const RECV_BATCH: usize = 32;
const TICK: Duration = Duration::from_millis(50);
const MEDIA_CHECK: Duration = Duration::from_secs(1);

/// Pipelines failed by a panic since the process started.
static PIPELINE_PANICS: AtomicU64 = AtomicU64::new(0);

pub fn pipeline_panics() -> u64 {
    PIPELINE_PANICS.load(Ordering::Relaxed)
}

/// Small (the pipeline is boxed) so the slot table stays dense: a packet's
/// token lookup reads one or two cache lines, then the pipeline's hot fields.
struct Slot {
    id: u64,
    generation: u32,
    /// A panic stopped this pipeline: it gets no more packets or timers and
    /// waits for Close (which frees its sockets).
    failed: bool,
    pipeline: Box<Pipeline>,
    sockets: [LegSockets; 2],
    fds: [[RawFd; 2]; 2],
    /// Per side: the connected twin of the RTP socket, once latched.
    twins: [Option<Twin>; 2],
    /// Per side: making a twin failed; the leg stays on its original socket.
    twin_failed: [bool; 2],
    ctx: Arc<DtlsContext>,
    created: Instant,
}

/// What every worker adds to, read by `MediaEngine::counters`.
#[derive(Default)]
pub struct WorkerCounters {
    /// Engine events lost to a full queue.
    pub dropped_events: AtomicU64,
    /// Datagrams the kernel refused after they were queued (sendto or a
    /// send completion failed: no route, a pending ICMP error, a full
    /// socket buffer). Those that could not be queued at all are per-leg
    /// `send_error` drops instead.
    pub send_errors: AtomicU64,
    /// io_uring receives the kernel ended because every provided buffer was
    /// in use (the worker fell behind its sockets; each is re-armed at once,
    /// its datagrams wait in the socket queue meanwhile).
    pub receive_starved: AtomicU64,
}

pub struct WorkerHandle {
    pub tx: Sender<Command>,
    wake: Arc<EventFd>,
    thread: Option<JoinHandle<()>>,
    /// The I/O this worker runs on.
    pub backend: IoBackend,
    /// Why io_uring was not used (`IoChoice::Auto` fell back to epoll).
    pub fallback_reason: Option<String>,
}

impl WorkerHandle {
    pub fn spawn(
        index: usize,
        choice: IoChoice,
        events: Sender<EngineEvent>,
        counters: Arc<WorkerCounters>,
    ) -> std::io::Result<WorkerHandle> {
        let (tx, rx) = crossbeam_channel::bounded(4096);
        let wake = Arc::new(EventFd::new()?);
        let w = wake.clone();
        // The backend is made on the worker's own thread (an io_uring's single
        // issuer is the thread that creates it), which reports back.
        let (opened_tx, opened) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new().name(format!("esbc-media-{index}")).spawn(move || {
            let opened = Backend::open(choice).and_then(|(mut backend, why)| {
                match &mut backend {
                    Backend::Epoll { epoll, .. } => epoll.add(w.fd(), WAKE_TOKEN)?,
                    Backend::Uring(u) => u.watch_wake(w.fd()),
                }
                Ok((backend, why))
            });
            match opened {
                Ok((backend, why)) => {
                    let _ = opened_tx.send(Ok((backend.kind(), why)));
                    Worker::new(backend, rx, w, events, counters).run();
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                }
            }
        })?;
        let (backend, fallback_reason) = opened.recv().map_err(|_| std::io::Error::other("media worker thread ended at start"))??;
        Ok(WorkerHandle { tx, wake, thread: Some(thread), backend, fallback_reason })
    }

    pub fn send(&self, cmd: Command) -> bool {
        let ok = self.tx.send(cmd).is_ok();
        self.wake.wake();
        ok
    }

    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    commands: Receiver<Command>,
    wake: Arc<EventFd>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    generations: Vec<u32>,
    index: std::collections::HashMap<u64, usize>,
    /// Slots with music on hold playing, and when the next frame is due.
    music_slots: std::collections::HashSet<usize>,
    next_music: Option<Instant>,
    recv: RecvBatch,
    out: Output,
    events: Sender<EngineEvent>,
    counters: Arc<WorkerCounters>,
    send_errors: SendErrorLog,
    /// Connected twins in use (ESBC_CONNECTED_SOCKETS=off turns them off).
    use_twins: bool,
    /// io_uring: twins made this turn, whose receive is not armed yet.
    twins_to_arm: Vec<(usize, u32, Side)>,
}

/// The pipeline's view of the worker: where it sends, and an event list.
struct Output {
    backend: Backend,
    events: Vec<EngineEvent>,
    fds: [[RawFd; 2]; 2],
    /// Per side: the RTP twin's descriptor and peer.
    twins: [Option<(RawFd, SocketAddr)>; 2],
    pipeline: u64,
}

impl Io for Output {
    fn send(&mut self, side: Side, comp: Component, dst: SocketAddr, data: &[u8]) -> bool {
        if comp == Component::Rtp {
            if let Some((fd, peer)) = self.twins[side.index()] {
                if peer == dst {
                    return self.backend.send(fd, None, data);
                }
            }
        }
        let fd = self.fds[side.index()][comp as usize];
        self.backend.send(fd, Some(&dst), data)
    }
    fn event(&mut self, event: MediaEvent) {
        self.events.push(EngineEvent { pipeline: self.pipeline, event });
    }
}

impl Slot {
    /// Every socket of the call, twins included.
    fn all_fds(&self) -> Vec<RawFd> {
        self.fds.iter().flatten().copied().chain(self.twins.iter().flatten().map(|t| t.socket.as_raw_fd())).collect()
    }
}

/// One received datagram into its pipeline (an oversized one is counted and dropped).
#[allow(clippy::too_many_arguments)]
#[inline]
fn deliver(slot: &mut Slot, out: &mut Output, side: Side, comp: Component, src: SocketAddr, buf: &mut [u8], len: usize, truncated: bool, now: Instant) {
    if truncated {
        let leg = slot.pipeline.leg_mut(side);
        leg.stats.packets_in += 1;
        leg.stats.drop(DropReason::Oversized);
        return;
    }
    #[cfg(test)]
    tests::maybe_panic(&buf[..len]);
    slot.pipeline.on_datagram(side, comp, src, buf, len, now, out);
}

/// Runs `f` on a live (not failed) slot with the output pointed at it.
/// Err carries the message of a panic inside.
fn run_guarded<R>(slot: Option<&mut Slot>, out: &mut Output, f: impl FnOnce(&mut Slot, &mut Output) -> R) -> Result<Option<R>, String> {
    let Some(slot) = slot.filter(|s| !s.failed) else { return Ok(None) };
    out.fds = slot.fds;
    out.twins = [0, 1].map(|i| slot.twins[i].as_ref().map(|t| (t.socket.as_raw_fd(), t.peer)));
    out.pipeline = slot.id;
    catch_unwind(AssertUnwindSafe(|| f(slot, out))).map(Some).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into())
    })
}

/// How often at most a worker logs refused sends (they come in floods).
const SEND_ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

/// The worker's account of the backend's refused sends.
#[derive(Default)]
struct SendErrorLog {
    /// The backend's running total at the last report.
    seen: u64,
    /// Counted, not yet logged.
    unlogged: u64,
    next_log: Option<Instant>,
}

/// The loop's periodic deadlines.
struct Timers {
    next_tick: Instant,
    next_media_check: Instant,
}

impl Timers {
    fn new() -> Timers {
        let now = Instant::now();
        Timers { next_tick: now + TICK, next_media_check: now + MEDIA_CHECK }
    }
}

/// Generations are compared modulo this (the token keeps 29 bits of them).
const GENERATION_MASK: u32 = 0x1fff_ffff;

/// A socket's receive token (epoll data, io_uring user_data): slot, generation, side, component, and whether it
/// is the RTP socket's connected twin (which receives RTP-component datagrams).
fn token(slot: usize, generation: u32, side: Side, comp: Component, twin: bool) -> u64 {
    ((slot as u64) << 32)
        | ((generation & GENERATION_MASK) as u64) << 3
        | (twin as u64) << 2
        | ((side.index() as u64) << 1)
        | comp as u64
}

fn untoken(t: u64) -> (usize, u32, Side, Component, bool) {
    let side = if t & 2 == 0 { Side::A } else { Side::B };
    let comp = if t & 1 == 0 { Component::Rtp } else { Component::Rtcp };
    ((t >> 32) as usize, ((t >> 3) as u32) & GENERATION_MASK, side, comp, t & 4 != 0)
}

impl Worker {
    fn new(
        backend: Backend,
        commands: Receiver<Command>,
        wake: Arc<EventFd>,
        events: Sender<EngineEvent>,
        counters: Arc<WorkerCounters>,
    ) -> Worker {
        Worker {
            commands,
            wake,
            slots: Vec::new(),
            free: Vec::new(),
            generations: Vec::new(),
            index: std::collections::HashMap::new(),
            music_slots: std::collections::HashSet::new(),
            next_music: None,
            recv: RecvBatch::new(RECV_BATCH),
            out: Output { backend, events: Vec::with_capacity(64), fds: [[-1; 2]; 2], twins: [None; 2], pipeline: 0 },
            events,
            counters,
            send_errors: SendErrorLog::default(),
            use_twins: std::env::var("ESBC_CONNECTED_SOCKETS").map_or(true, |v| v != "off"),
            twins_to_arm: Vec::new(),
        }
    }

    fn run(self) {
        match self.out.backend {
            Backend::Epoll { .. } => self.run_epoll(),
            Backend::Uring(_) => self.run_uring(),
        }
    }

    fn run_epoll(mut self) {
        let mut ready = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut timers = Timers::new();
        loop {
            let wait_ms = self.wake_at(&timers).saturating_duration_since(Instant::now()).as_millis() as i32;
            let Backend::Epoll { epoll, .. } = &self.out.backend else { unreachable!() };
            let n = epoll.wait(&mut ready, wait_ms.max(0));
            let now = Instant::now();
            // Software pipeline over the ready sockets: while datagram i is
            // received and relayed, the slot of i + 2 and the legs of i + 1
            // are loading (each a dependent chain of cache misses otherwise
            // paid one after the other; measured in bench/).
            for ev in ready.iter().take(n.min(2)) {
                self.prefetch_slot(ev.u64);
            }
            if n > 0 {
                self.prefetch_legs(ready[0].u64);
            }
            for i in 0..n {
                let t = ready[i].u64;
                if let Some(ev) = ready[..n].get(i + 2) {
                    self.prefetch_slot(ev.u64);
                }
                if let Some(ev) = ready[..n].get(i + 1) {
                    self.prefetch_legs(ev.u64);
                }
                if t == WAKE_TOKEN {
                    self.wake.drain();
                    if !self.run_commands(now) {
                        self.end();
                        return;
                    }
                } else {
                    self.on_readable(t, now);
                }
            }
            self.end_turn(now, &mut timers);
        }
    }

    /// Completions ahead of the one in hand at which the io_uring loop
    /// starts loading each stage of a packet's state (see `run_uring`).
    const SLOT_AHEAD: usize = 6;
    const LEGS_AHEAD: usize = 4;
    const PACKET_AHEAD: usize = 2;

    /// The io_uring loop: completions instead of readiness, each receive
    /// completion one datagram already in a provided buffer.
    fn run_uring(mut self) {
        let mut done: Vec<Cqe> = Vec::with_capacity(4096);
        let mut timers = Timers::new();
        loop {
            let timeout = self.wake_at(&timers).saturating_duration_since(Instant::now());
            done.clear();
            self.uring().wait(timeout, &mut done);
            let now = Instant::now();
            let token = |c: Option<&Cqe>| c.filter(|c| c.kind() == Kind::Receive).map_or(WAKE_TOKEN, |c| c.user_data);
            // A software pipeline in three stages ahead of the completion in
            // hand: its slot, then its legs (found through the slot), then
            // its SRTP state and datagram (found through the legs), each
            // two completions' work before the next stage reads it. The
            // epoll loop hides these loads behind its receive system call;
            // this one has none.
            let at = |i: usize| done.get(i);
            for i in 0..Self::SLOT_AHEAD {
                self.prefetch_slot(token(at(i)));
            }
            for i in 0..Self::LEGS_AHEAD {
                self.prefetch_legs(token(at(i)));
            }
            for c in done.iter().take(Self::PACKET_AHEAD) {
                self.prefetch_packet(c);
            }
            for i in 0..done.len() {
                self.prefetch_slot(token(at(i + Self::SLOT_AHEAD)));
                self.prefetch_legs(token(at(i + Self::LEGS_AHEAD)));
                if let Some(next) = at(i + Self::PACKET_AHEAD) {
                    self.prefetch_packet(next);
                }
                let c = done[i];
                match c.kind() {
                    Kind::Receive => self.on_received(c, now),
                    Kind::Send => self.uring().send_done(c),
                    Kind::Wake => {
                        let fd = self.wake.fd();
                        self.uring().watch_wake(fd);
                        if !self.run_commands(now) {
                            self.end();
                            return;
                        }
                    }
                    Kind::Other => {}
                }
            }
            self.arm_twins(now);
            self.end_turn(now, &mut timers);
        }
    }

    /// Arms the receive of the twins made this turn. The peer's datagrams
    /// that reached the original socket before its twin existed are read
    /// first (recvmmsg, as the epoll loop does): armed at once, the twin's
    /// receive would complete at submission, ahead of those still queued on
    /// the original, and reorder the call's first packets.
    fn arm_twins(&mut self, now: Instant) {
        for (idx, generation, side) in std::mem::take(&mut self.twins_to_arm) {
            if self.live_socket(idx, generation & GENERATION_MASK, side, Component::Rtp, true).is_none() {
                continue;
            }
            self.on_readable(token(idx, generation, side, Component::Rtp, false), now);
            if let Some((fd, _)) = self.live_socket(idx, generation & GENERATION_MASK, side, Component::Rtp, true) {
                self.uring().watch(fd, token(idx, generation, side, Component::Rtp, true), false);
            }
        }
    }

    fn uring(&mut self) -> &mut crate::uring::Uring {
        match &mut self.out.backend {
            Backend::Uring(u) => u,
            Backend::Epoll { .. } => unreachable!("io_uring call on an epoll worker"),
        }
    }

    /// When the loop must wake for its timers at the latest.
    fn wake_at(&self, timers: &Timers) -> Instant {
        self.next_music.map_or(timers.next_tick, |m| m.min(timers.next_tick))
    }

    /// After each turn's datagrams and commands: music and timers that are
    /// due, then the turn's sends and events go out.
    fn end_turn(&mut self, now: Instant, timers: &mut Timers) {
        if self.next_music.is_some_and(|m| m <= now) {
            self.on_music(now);
        }
        if now >= timers.next_tick {
            timers.next_tick = now + TICK;
            let check_media = now >= timers.next_media_check;
            if check_media {
                timers.next_media_check = now + MEDIA_CHECK;
            }
            self.on_tick(now, check_media);
            self.report_send_errors(now);
        }
        self.end();
    }

    fn end(&mut self) {
        self.out.backend.flush();
        self.publish_events();
    }

    /// The slot entry a readiness token names (None for the wake token).
    fn slot_entry(&self, t: u64) -> Option<&Option<Slot>> {
        (t != WAKE_TOKEN).then(|| self.slots.get(untoken(t).0)).flatten()
    }

    fn prefetch_slot(&self, t: u64) {
        if let Some(entry) = self.slot_entry(t) {
            let p = (entry as *const Option<Slot>).cast::<u8>();
            sys::prefetch(p);
            sys::prefetch(p.wrapping_add(std::mem::size_of::<Option<Slot>>() - 1));
        }
    }

    fn prefetch_legs(&self, t: u64) {
        if let Some(Some(slot)) = self.slot_entry(t) {
            slot.pipeline.prefetch_legs(untoken(t).2);
        }
    }

    /// A receive completion's SRTP state (the receiving leg's inbound, the
    /// other leg's outbound) and the first lines of its datagram.
    fn prefetch_packet(&self, c: &Cqe) {
        if c.kind() != Kind::Receive {
            return;
        }
        if let Some(Some(slot)) = self.slot_entry(c.user_data) {
            slot.pipeline.prefetch_srtp(untoken(c.user_data).2);
        }
        if let Backend::Uring(u) = &self.out.backend {
            u.prefetch_datagram(c);
        }
    }

    fn on_readable(&mut self, t: u64, now: Instant) {
        let (idx, generation, side, comp, twin) = untoken(t);
        let Some(Some(slot)) = self.slots.get(idx) else { return };
        if slot.generation & GENERATION_MASK != generation || slot.failed {
            return;
        }
        let fd = match (twin, &slot.twins[side.index()]) {
            (false, _) => slot.fds[side.index()][comp as usize],
            (true, Some(t)) => t.socket.as_raw_fd(),
            (true, None) => return, // a stale readiness of a twin just closed
        };
        let r = run_guarded(self.slots[idx].as_mut(), &mut self.out, |slot, out| {
            let recv = &mut self.recv;
            slot.pipeline.prefetch_srtp(side);
            // Edge-triggered epoll: read until the queue is empty.
            loop {
                let n = recv.recv(fd);
                for i in 0..n {
                    let (len, src, truncated) = recv.entry(i);
                    let Some(src) = src else { continue };
                    deliver(slot, out, side, comp, src, &mut recv.bufs[i][..], len, truncated, now);
                }
                if n < recv.capacity() {
                    break;
                }
            }
        });
        if let Err(msg) = r {
            self.fail(idx, &msg);
        } else if comp == Component::Rtp && self.use_twins {
            self.follow_latch(idx, side);
        }
    }

    /// A receive completion (io_uring): its datagram into the pipeline, its
    /// buffer back to the kernel, and the receive re-armed if it stopped.
    fn on_received(&mut self, c: Cqe, now: Instant) {
        let (idx, generation, side, comp, twin) = untoken(c.user_data);
        let live = self.live_socket(idx, generation, side, comp, twin);
        let fd = live.map(|(fd, _)| fd);
        let Some(d) = self.uring().datagram(&c, !twin) else {
            return self.rearm(c, fd);
        };
        let mut failed = None;
        // A twin's datagrams come from its peer (received without the address).
        if let Some(src) = live.and_then(|(_, peer)| d.src.or(peer)) {
            // SAFETY: the completion handed this buffer out; it is given back below.
            let buf = unsafe { self.uring().payload(&d) };
            let r = run_guarded(self.slots[idx].as_mut(), &mut self.out, |slot, out| {
                deliver(slot, out, side, comp, src, buf, d.len, d.truncated, now);
            });
            failed = r.err();
        }
        self.uring().give_back(d.buffer);
        if let Some(msg) = failed {
            return self.fail(idx, &msg);
        }
        self.rearm(c, fd);
        if fd.is_some() && comp == Component::Rtp && self.use_twins {
            self.follow_latch(idx, side);
        }
    }

    /// The socket a receive token names, while its pipeline is live (None:
    /// stale, from a closed call or a replaced twin, or failed), and its
    /// peer if it is a connected twin.
    fn live_socket(&self, idx: usize, generation: u32, side: Side, comp: Component, twin: bool) -> Option<(RawFd, Option<SocketAddr>)> {
        let slot = self.slots.get(idx)?.as_ref()?;
        if slot.generation & GENERATION_MASK != generation || slot.failed {
            return None;
        }
        match (twin, &slot.twins[side.index()]) {
            (false, _) => Some((slot.fds[side.index()][comp as usize], None)),
            (true, Some(t)) => Some((t.socket.as_raw_fd(), Some(t.peer))),
            (true, None) => None,
        }
    }

    /// A multishot receive the kernel ended (no buffer left, an ICMP error on
    /// a connected socket...) is armed again while its socket is live; an
    /// error that would only repeat is logged and leaves the socket silent.
    fn rearm(&mut self, c: Cqe, fd: Option<RawFd>) {
        let Some(fd) = fd.filter(|_| !c.more()) else { return };
        if c.result == -libc::ENOBUFS {
            self.counters.receive_starved.fetch_add(1, Ordering::Relaxed);
        }
        let transient = c.result >= 0
            || matches!(-c.result, libc::ENOBUFS | libc::ECONNREFUSED | libc::EAGAIN | libc::EINTR | libc::ENOMEM | libc::ECANCELED);
        if transient {
            let twin = untoken(c.user_data).4;
            self.uring().watch(fd, c.user_data, !twin);
        } else {
            let id = self.slots[untoken(c.user_data).0].as_ref().map_or(0, |s| s.id);
            log::error!("media worker: pipeline {id}: receive on fd {fd} stopped ({}); its media on that socket is lost", std::io::Error::from_raw_os_error(-c.result));
        }
    }

    /// Keeps the side's connected twin on the peer its leg latched: made on
    /// the first latch, re-connected when the leg re-latches. A twin that
    /// cannot be made is logged once and the leg stays on its original socket.
    fn follow_latch(&mut self, idx: usize, side: Side) {
        let Some(slot) = self.slots[idx].as_mut() else { return };
        let i = side.index();
        let Some(peer) = slot.pipeline.leg(side).latched() else { return };
        if slot.twin_failed[i] || slot.twins[i].as_ref().is_some_and(|t| t.peer == peer) {
            return;
        }
        let made = match slot.twins[i].take() {
            Some(t) => match t.socket.connect(peer) {
                Ok(()) => Ok((t, false)),
                Err(e) => Err((e, Some(t))),
            },
            None => crate::connected::connected_twin(&slot.sockets[i].rtp, peer)
                .map(|socket| (Twin { socket, peer }, true))
                .map_err(|e| (e, None)),
        };
        match made {
            Ok((mut twin, new)) => {
                twin.peer = peer;
                if new && matches!(self.out.backend, Backend::Uring(_)) {
                    // Armed at the end of the turn, after the original's queue (see `arm_twins`).
                    self.twins_to_arm.push((idx, slot.generation, side));
                } else if new {
                    let t = token(idx, slot.generation, side, Component::Rtp, true);
                    if let Err(e) = self.out.backend.watch(twin.socket.as_raw_fd(), t, true) {
                        log::warn!("media worker: pipeline {} side {side:?}: connected socket not used ({e})", slot.id);
                        slot.twin_failed[i] = true;
                        return;
                    }
                }
                slot.twins[i] = Some(twin);
            }
            Err((e, old)) => {
                if let Some(old) = old {
                    self.out.backend.unwatch(&[old.socket.as_raw_fd()]);
                }
                log::warn!("media worker: pipeline {} side {side:?}: connected socket not used ({e}); its original socket carries the media", slot.id);
                slot.twin_failed[i] = true;
            }
        }
    }

    /// `run_guarded` on slot `idx`; a panic fails that pipeline (None).
    fn guard<R>(&mut self, idx: usize, f: impl FnOnce(&mut Slot, &mut Output) -> R) -> Option<R> {
        match run_guarded(self.slots.get_mut(idx).and_then(|s| s.as_mut()), &mut self.out, f) {
            Ok(r) => r,
            Err(msg) => {
                self.fail(idx, &msg);
                None
            }
        }
    }

    /// Takes a panicked pipeline out of service and tells the control plane.
    fn fail(&mut self, idx: usize, msg: &str) {
        let Some(slot) = self.slots[idx].as_mut() else { return };
        slot.failed = true;
        PIPELINE_PANICS.fetch_add(1, Ordering::Relaxed);
        log::error!("media worker: pipeline {} panicked ({msg}); its media stopped, other calls unaffected", slot.id);
        let fds = slot.all_fds();
        let id = slot.id;
        self.out.backend.unwatch(&fds);
        self.music_slots.remove(&idx);
        self.out.events.push(EngineEvent { pipeline: id, event: MediaEvent::PipelineFailed { reason: format!("internal error: {msg}") } });
    }

    fn on_tick(&mut self, now: Instant, check_media: bool) {
        for idx in 0..self.slots.len() {
            self.guard(idx, |slot, out| {
                if slot.pipeline.next_timeout(now).is_some_and(|t| t <= now) {
                    slot.pipeline.on_timeout(now, out);
                }
                if check_media {
                    slot.pipeline.check_media_timeout(slot.created, now, out);
                }
            });
        }
    }

    /// Returns false on shutdown.
    fn run_commands(&mut self, now: Instant) -> bool {
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Add { id, pipeline, sockets, ctx } => self.add(id, pipeline, sockets, ctx, now),
                Command::Update { id, side, update, reply } => {
                    let r = match self.find(id) {
                        Some(i) => {
                            let r = self
                                .guard(i, |slot, out| {
                                    slot.pipeline
                                        .update(side, update, &slot.ctx, now, out)
                                        .map(|()| slot.pipeline.leg(side).local_tls_id().map(str::to_string))
                                })
                                .unwrap_or_else(|| Err(format!("pipeline {id} failed")));
                            self.track_music(i);
                            r
                        }
                        None => Err(format!("no pipeline {id}")),
                    };
                    reply(r);
                }
                Command::Close { id, reply } => {
                    let stats = self.find(id).map(|i| self.remove(i, now));
                    reply(stats);
                }
                Command::Stats { id, reply } => {
                    let stats = self.find(id).and_then(|i| self.slots[i].as_ref()).map(|s| snapshot(&s.pipeline));
                    let _ = reply.send(stats);
                }
                Command::Shutdown => {
                    for i in 0..self.slots.len() {
                        if self.slots[i].is_some() {
                            self.remove(i, now);
                        }
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Keeps the set of slots playing music and the next due time current.
    fn track_music(&mut self, idx: usize) {
        match self.slots.get(idx).and_then(|s| s.as_ref()).filter(|s| !s.failed).and_then(|s| s.pipeline.music_due()) {
            Some(_) => {
                self.music_slots.insert(idx);
            }
            None => {
                self.music_slots.remove(&idx);
            }
        }
        self.next_music = self
            .music_slots
            .iter()
            .filter_map(|i| self.slots[*i].as_ref().and_then(|s| s.pipeline.music_due()))
            .min();
    }

    fn on_music(&mut self, now: Instant) {
        let playing: Vec<usize> = self.music_slots.iter().copied().collect();
        for idx in playing {
            self.guard(idx, |slot, out| slot.pipeline.on_music(now, out));
        }
        self.next_music = self
            .music_slots
            .iter()
            .filter_map(|i| self.slots[*i].as_ref().and_then(|s| s.pipeline.music_due()))
            .min();
    }

    fn find(&self, id: u64) -> Option<usize> {
        self.index.get(&id).copied()
    }

    fn add(&mut self, id: u64, pipeline: Box<Pipeline>, sockets: [LegSockets; 2], ctx: Arc<DtlsContext>, now: Instant) {
        let idx = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.generations.push(0);
            self.slots.len() - 1
        });
        self.generations[idx] = self.generations[idx].wrapping_add(1);
        let generation = self.generations[idx];
        let fds = [
            [sockets[0].rtp.as_raw_fd(), sockets[0].rtcp.as_raw_fd()],
            [sockets[1].rtp.as_raw_fd(), sockets[1].rtcp.as_raw_fd()],
        ];
        for side in [Side::A, Side::B] {
            for comp in [Component::Rtp, Component::Rtcp] {
                let fd = fds[side.index()][comp as usize];
                if let Err(e) = self.out.backend.watch(fd, token(idx, generation, side, comp, false), false) {
                    log::error!("media worker: pipeline {id}: cannot receive on fd {fd} ({e})");
                }
            }
        }
        self.slots[idx] = Some(Slot { id, generation, failed: false, pipeline, sockets, fds, twins: [None, None], twin_failed: [false; 2], ctx, created: now });
        self.index.insert(id, idx);
        self.guard(idx, |slot, out| slot.pipeline.start(now, out));
    }

    fn remove(&mut self, idx: usize, now: Instant) -> PipelineStats {
        // Send close_notify before the sockets go away.
        self.guard(idx, |slot, out| slot.pipeline.close(now, out));
        self.out.backend.flush();
        let slot = self.slots[idx].take().expect("live slot");
        self.index.remove(&slot.id);
        self.music_slots.remove(&idx);
        if !slot.failed {
            self.out.backend.unwatch(&slot.all_fds());
        }
        self.free.push(idx);
        let stats = snapshot(&slot.pipeline);
        drop(slot.twins);
        drop(slot.sockets);
        stats
    }

    /// Adds the sends the kernel refused since the last tick to the engine's
    /// counter, and says so in the log at most every SEND_ERROR_LOG_EVERY.
    fn report_send_errors(&mut self, now: Instant) {
        let (total, last_errno) = self.out.backend.send_errors();
        let log = &mut self.send_errors;
        let new = total - log.seen;
        if new > 0 {
            self.counters.send_errors.fetch_add(new, Ordering::Relaxed);
            log.seen = total;
            log.unlogged += new;
        }
        if log.unlogged > 0 && log.next_log.is_none_or(|t| now >= t) {
            log::warn!(
                "media worker: the kernel refused {} outgoing datagrams since the last report (last: {}); they are lost",
                log.unlogged,
                std::io::Error::from_raw_os_error(last_errno)
            );
            log.unlogged = 0;
            log.next_log = Some(now + SEND_ERROR_LOG_EVERY);
        }
    }

    fn publish_events(&mut self) {
        for ev in self.out.events.drain(..) {
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.events.try_send(ev) {
                self.counters.dropped_events.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

pub fn snapshot(p: &Pipeline) -> PipelineStats {
    let leg = |side| {
        let l = p.leg(side);
        LegSnapshot {
            stats: l.stats.clone(),
            dtls_state: l.dtls_state(),
            profile: l.profile(),
            latched: l.latched(),
            direction: l.direction(),
            music_packets: l.music.as_ref().map_or(0, |m| m.packets),
            music_ssrc: l.music.as_ref().map(|m| m.ssrc()),
        }
    };
    PipelineStats { legs: [leg(Side::A), leg(Side::B)] }
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Command>();
    let _ = sys::BUF_SIZE;
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod io_tests;
#[cfg(test)]
mod twin_tests;
