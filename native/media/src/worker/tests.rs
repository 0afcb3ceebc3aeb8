//! Panic isolation: a panic while one call's packet is processed fails that
//! pipeline only; the worker thread and the other calls on it go on.
use super::*;
use crate::dtls::DtlsConfig;
use crate::identity::DtlsIdentity;
use crate::leg::{Direction, LegSecurity, LegSpec};

/// Test-only trigger, compiled into unit-test builds only (never into the
/// library or the addon): a datagram starting with this panics the worker
/// while it runs the pipeline that received it.
const TRIGGER: &[u8] = b"\x80\x00esbc-test-panic";

pub(super) fn maybe_panic(datagram: &[u8]) {
    if datagram.starts_with(TRIGGER) {
        panic!("test-only panic trigger");
    }
}

pub(super) fn bind() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

pub(super) fn spec(peer: &UdpSocket) -> LegSpec {
    LegSpec {
        security: LegSecurity::Rtp,
        remote_rtp: Some(peer.local_addr().unwrap()),
        remote_rtcp: None,
        rtcp_mux: true,
        direction: Direction::SendRecv,
        ice: None,
    }
}

/// A plain RTP call on the worker: [caller peer, callee peer] and the SBC's
/// two RTP ports.
pub(super) struct Call {
    pub(super) id: u64,
    pub(super) peers: [UdpSocket; 2],
    pub(super) ports: [SocketAddr; 2],
}

pub(super) fn add_call(w: &WorkerHandle, ctx: &Arc<DtlsContext>, id: u64) -> Call {
    let peers = [bind(), bind()];
    let ports = add_pipeline(w, ctx, id, [spec(&peers[0]), spec(&peers[1])]);
    Call { id, peers, ports }
}

/// A pipeline with these legs on the worker; the SBC's two RTP ports.
pub(super) fn add_pipeline(w: &WorkerHandle, ctx: &Arc<DtlsContext>, id: u64, [a, b]: [LegSpec; 2]) -> [SocketAddr; 2] {
    let pipeline = Pipeline::new(a, b, ctx, Duration::ZERO, None, Instant::now()).unwrap();
    let sockets = [LegSockets { rtp: bind(), rtcp: bind() }, LegSockets { rtp: bind(), rtcp: bind() }];
    let ports = [sockets[0].rtp.local_addr().unwrap(), sockets[1].rtp.local_addr().unwrap()];
    assert!(w.send(Command::Add { id, pipeline: Box::new(pipeline), sockets, ctx: ctx.clone() }));
    ports
}

pub(super) fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[seq as u8; 160]);
    p
}

/// Sends caller -> SBC and returns what the callee got (None after 1 s).
fn relay(call: &Call, seq: u16) -> Option<Vec<u8>> {
    through(&call.peers[0], call.ports[0], &call.peers[1], seq).map(|(data, _)| data)
}

/// Sends packet `seq` from `from` to SBC port `to` and returns what `at` got,
/// with its source (None after 1 s).
pub(super) fn through(from: &UdpSocket, to: SocketAddr, at: &UdpSocket, seq: u16) -> Option<(Vec<u8>, SocketAddr)> {
    from.send_to(&rtp(seq), to).unwrap();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok((n, src)) = at.recv_from(&mut buf) {
            return Some((buf[..n].to_vec(), src));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// The next pipeline-failed event (latch events come and go meanwhile).
fn next_failure(events: &Receiver<EngineEvent>, within: Duration) -> Option<EngineEvent> {
    let deadline = Instant::now() + within;
    while let Ok(ev) = events.recv_deadline(deadline) {
        if matches!(ev.event, MediaEvent::PipelineFailed { .. }) {
            return Some(ev);
        }
    }
    None
}

/// Both I/O backends: each worker test runs on each (io_uring is required:
/// the machines this is built and tested on have it).
pub(super) const BACKENDS: [IoChoice; 2] = [IoChoice::IoUring, IoChoice::Epoll];

pub(super) fn spawn(choice: IoChoice, events: Sender<EngineEvent>) -> WorkerHandle {
    spawn_counted(choice, events).0
}

/// A worker and the counters it adds to.
pub(super) fn spawn_counted(choice: IoChoice, events: Sender<EngineEvent>) -> (WorkerHandle, Arc<WorkerCounters>) {
    let counters = Arc::new(WorkerCounters::default());
    let w = WorkerHandle::spawn(0, choice, events, counters.clone()).unwrap();
    assert_eq!(w.backend == IoBackend::IoUring, choice == IoChoice::IoUring, "{choice:?}");
    (w, counters)
}

pub(super) fn stats(w: &WorkerHandle, id: u64) -> Option<PipelineStats> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    w.send(Command::Stats { id, reply: tx });
    rx.recv_timeout(Duration::from_secs(2)).unwrap()
}

#[test]
fn a_panic_in_one_pipeline_fails_that_call_only() {
    BACKENDS.into_iter().for_each(a_panic_in_one_pipeline_fails_that_call_only_on);
}

fn a_panic_in_one_pipeline_fails_that_call_only_on(choice: IoChoice) {
    let (events_tx, events) = crossbeam_channel::bounded(64);
    let mut w = spawn(choice, events_tx);
    let ctx = DtlsContext::new(DtlsIdentity::generate_ecdsa(1).unwrap(), DtlsConfig::default()).unwrap();
    let victim = add_call(&w, &ctx, 1);
    let other = add_call(&w, &ctx, 2);
    assert_eq!(relay(&victim, 1).as_deref(), Some(&rtp(1)[..]));
    assert_eq!(relay(&other, 1).as_deref(), Some(&rtp(1)[..]));
    let before = pipeline_panics();

    victim.peers[0].send_to(TRIGGER, victim.ports[0]).unwrap();
    let ev = next_failure(&events, Duration::from_secs(2)).expect("a pipeline-failed event");
    assert_eq!(ev.pipeline, victim.id);
    assert!(matches!(&ev.event, MediaEvent::PipelineFailed { reason } if reason.contains("test-only panic trigger")), "{ev:?}");
    assert!(pipeline_panics() > before, "counted");

    // The other call on the same worker thread keeps relaying; the failed
    // one relays nothing more but still answers for its counters.
    for seq in 2..50 {
        assert_eq!(relay(&other, seq).as_deref(), Some(&rtp(seq)[..]), "seq {seq}");
    }
    assert_eq!(relay(&victim, 2), None);
    assert_eq!(stats(&w, victim.id).expect("stats of the failed pipeline").legs[1].stats.packets_out, 1);
    // A second panic trigger to the failed pipeline does nothing (not read).
    victim.peers[0].send_to(TRIGGER, victim.ports[0]).unwrap();
    assert!(next_failure(&events, Duration::from_millis(300)).is_none(), "one event per failure");

    // Close frees it; new calls work on the same worker.
    let (tx, rx) = crossbeam_channel::bounded(1);
    w.send(Command::Close {
        id: victim.id,
        reply: Box::new(move |v| {
            let _ = tx.send(v);
        }),
    });
    assert!(rx.recv_timeout(Duration::from_secs(2)).unwrap().is_some());
    assert!(stats(&w, victim.id).is_none());
    let third = add_call(&w, &ctx, 3);
    assert_eq!(relay(&third, 7).as_deref(), Some(&rtp(7)[..]));
    assert_eq!(relay(&other, 99).as_deref(), Some(&rtp(99)[..]));
    w.send(Command::Shutdown);
    w.join();
}
