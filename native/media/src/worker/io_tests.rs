//! What each I/O backend must do the same: oversized datagrams counted and
//! dropped, a burst that outruns the receive buffers not stopping a socket
//! (nor, on many sockets at once, any of them),
//! a connected socket's ICMP error not stopping it either, a closed call's
//! ports free the moment Close answers, and a send the kernel refuses
//! counted.
use super::tests::{add_call, add_pipeline, bind, rtp, spawn, spawn_counted, spec, stats, through, Call, BACKENDS};
use super::*;
use crate::dtls::DtlsConfig;
use crate::identity::DtlsIdentity;

fn ctx() -> Arc<DtlsContext> {
    DtlsContext::new(DtlsIdentity::generate_ecdsa(1).unwrap(), DtlsConfig::default()).unwrap()
}

fn close(w: &WorkerHandle, id: u64) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    w.send(Command::Close { id, reply: Box::new(move |v| drop(tx.send(v))) });
    assert!(rx.recv_timeout(Duration::from_secs(2)).unwrap().is_some());
}

/// A worker on `choice` with one plain RTP call, not latched yet.
fn new_call(choice: IoChoice) -> (WorkerHandle, Call) {
    let (events_tx, _events) = crossbeam_channel::unbounded();
    let w = spawn(choice, events_tx);
    let call = add_call(&w, &ctx(), 1);
    (w, call)
}

/// The same with both legs latched (and so with their connected twins).
fn latched_call(choice: IoChoice) -> (WorkerHandle, Call) {
    let (w, call) = new_call(choice);
    for seq in 0..3 {
        assert!(through(&call.peers[0], call.ports[0], &call.peers[1], seq).is_some(), "{choice:?}");
        assert!(through(&call.peers[1], call.ports[1], &call.peers[0], seq).is_some(), "{choice:?}");
    }
    (w, call)
}

/// Packet `seq` crosses caller -> callee and `seq + 1` callee -> caller.
fn assert_relays_both_ways(call: &Call, seq: u16, choice: IoChoice) {
    assert_eq!(through(&call.peers[0], call.ports[0], &call.peers[1], seq).map(|r| r.0), Some(rtp(seq)), "{choice:?}");
    assert_eq!(through(&call.peers[1], call.ports[1], &call.peers[0], seq + 1).map(|r| r.0), Some(rtp(seq + 1)), "{choice:?}");
}

fn stop(mut w: WorkerHandle) {
    w.send(Command::Shutdown);
    w.join();
}

#[test]
fn an_oversized_datagram_is_counted_and_the_next_one_relayed() {
    for choice in BACKENDS {
        let (w, call) = new_call(choice);
        // Before the leg latched (original socket) and after (its connected twin).
        for round in 1..=2u16 {
            for size in [sys::MAX_DATAGRAM + 1, sys::MAX_DATAGRAM + 60, 9000] {
                call.peers[0].send_to(&vec![0x80; size], call.ports[0]).unwrap();
            }
            assert_eq!(through(&call.peers[0], call.ports[0], &call.peers[1], round).map(|r| r.0), Some(rtp(round)), "{choice:?}");
            let leg = stats(&w, call.id).unwrap().legs[0].stats.clone();
            assert_eq!(leg.drops[DropReason::Oversized as usize], 3 * round as u64, "{choice:?}");
            assert_eq!(leg.packets_in, 4 * round as u64, "{choice:?}");
        }
        stop(w);
    }
}

#[test]
fn a_burst_larger_than_the_receive_buffers_does_not_stop_the_socket() {
    for choice in BACKENDS {
        let (w, call) = new_call(choice);
        assert!(through(&call.peers[0], call.ports[0], &call.peers[1], 0).is_some());
        // More datagrams at once than io_uring's provided buffers (64 in tests):
        // some are lost to full queues, the socket must keep receiving.
        let mut sent = 0;
        for seq in 1..20_000u16 {
            if call.peers[0].send_to(&rtp(seq), call.ports[0]).is_ok() {
                sent += 1;
            }
        }
        assert!(sent > 10_000, "{choice:?}: the burst was sent ({sent})");
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = [0u8; 2048];
        while call.peers[1].recv_from(&mut buf).is_ok() {}
        assert_relays_both_ways(&call, 20_001, choice);
        stop(w);
    }
}

/// Bursts on many calls at once empty io_uring's buffer ring (64 buffers in
/// tests): every starved receive is re-armed and every call goes on relaying
/// both ways; the starved receives are counted.
#[test]
fn bursts_on_many_sockets_at_once_stop_none_and_are_counted() {
    for choice in BACKENDS {
        let (events_tx, _events) = crossbeam_channel::unbounded();
        let (w, counters) = spawn_counted(choice, events_tx);
        let ctx = ctx();
        let calls: Vec<Call> = (1..=24).map(|id| add_call(&w, &ctx, id)).collect();
        for call in &calls {
            assert!(through(&call.peers[0], call.ports[0], &call.peers[1], 0).is_some(), "{choice:?}");
        }
        for seq in 1..400u16 {
            for call in &calls {
                let _ = call.peers[0].send_to(&rtp(seq), call.ports[0]);
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        let mut buf = [0u8; 2048];
        for call in &calls {
            while call.peers[1].recv_from(&mut buf).is_ok() {}
        }
        for call in &calls {
            assert_relays_both_ways(call, 20_001, choice);
        }
        if matches!(choice, IoChoice::IoUring) {
            assert!(counters.receive_starved.load(Ordering::Relaxed) > 0, "the bursts emptied the buffer ring");
        }
        stop(w);
    }
}

#[test]
fn an_icmp_error_on_a_connected_socket_does_not_stop_it() {
    for choice in BACKENDS {
        let (w, mut call) = latched_call(choice);
        // The callee's socket goes away: what the SBC relays to it comes back
        // as ICMP port unreachable, reported on side B's connected socket.
        let callee = call.peers[1].local_addr().unwrap();
        drop(std::mem::replace(&mut call.peers[1], bind()));
        for seq in 3..10 {
            call.peers[0].send_to(&rtp(seq), call.ports[0]).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        // The callee comes back on the same address and is heard again.
        let back = UdpSocket::bind(callee).unwrap();
        back.set_nonblocking(true).unwrap();
        call.peers[1] = back;
        assert_relays_both_ways(&call, 10, choice);
        stop(w);
    }
}

#[test]
fn a_closed_calls_ports_can_be_bound_again_at_once() {
    for choice in BACKENDS {
        let (w, call) = latched_call(choice);
        close(&w, call.id);
        for p in call.ports {
            UdpSocket::bind(p).unwrap_or_else(|e| panic!("{choice:?}: port {} still held after Close: {e}", p.port()));
        }
        stop(w);
    }
}

#[test]
fn the_backend_choice_is_auto_io_uring_or_epoll() {
    for (value, choice) in [(None, IoChoice::Auto), (Some(""), IoChoice::Auto), (Some("auto"), IoChoice::Auto), (Some("epoll"), IoChoice::Epoll), (Some("io_uring"), IoChoice::IoUring)] {
        assert_eq!(IoChoice::parse(value), Ok(choice));
    }
    assert!(IoChoice::parse(Some("uring")).unwrap_err().contains("ESBC_IO_BACKEND=uring: expected auto, io_uring or epoll"));
}

#[test]
fn the_first_packets_keep_their_order_while_the_connected_socket_is_made() {
    for choice in BACKENDS {
        for round in 0..20 {
            let (w, call) = new_call(choice);
            // A burst from a peer not yet latched: the first datagram latches
            // and makes the twin while the rest queue on the original socket.
            // Spaced a little, so that some arrive while the twin is made.
            for seq in 0..200u16 {
                call.peers[1].send_to(&rtp(seq), call.ports[1]).unwrap();
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(10) {}
            }
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            let deadline = Instant::now() + Duration::from_secs(2);
            while got.len() < 200 && Instant::now() < deadline {
                match call.peers[0].recv_from(&mut buf) {
                    Ok((n, _)) if n >= 4 => got.push(u16::from_be_bytes([buf[2], buf[3]])),
                    _ => std::thread::sleep(Duration::from_millis(1)),
                }
            }
            assert!(got.len() > 100, "{choice:?} round {round}: {} relayed", got.len());
            assert!(got.windows(2).all(|p| p[0] < p[1]), "{choice:?} round {round}: reordered: {got:?}");
            stop(w);
        }
    }
}

#[test]
fn a_send_the_kernel_refuses_is_counted() {
    for choice in BACKENDS {
        let (events_tx, _events) = crossbeam_channel::unbounded();
        let (w, counters) = spawn_counted(choice, events_tx);
        let ctx = ctx();
        let good = add_call(&w, &ctx, 1);
        // A callee at the limited broadcast address: the socket has no
        // SO_BROADCAST, so the kernel refuses every datagram to it (EACCES).
        let caller = bind();
        let mut callee = spec(&caller);
        callee.remote_rtp = Some("255.255.255.255:9".parse().unwrap());
        let [port, _] = add_pipeline(&w, &ctx, 2, [spec(&caller), callee]);
        for seq in 0..5 {
            caller.send_to(&rtp(seq), port).unwrap();
        }
        let refused = || counters.send_errors.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(2);
        while refused() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(refused(), 5, "{choice:?}");
        // Queued, so not a per-leg send_error drop as well.
        assert_eq!(stats(&w, 2).unwrap().legs[1].stats.drops[DropReason::SendError as usize], 0, "{choice:?}");
        // Traffic that leaves adds nothing.
        for seq in 0..5 {
            assert_relays_both_ways(&good, 2 * seq, choice);
        }
        std::thread::sleep(TICK * 3);
        assert_eq!(refused(), 5, "{choice:?}");
        stop(w);
    }
}
