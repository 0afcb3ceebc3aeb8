//! The baseline relay: receive, send, no crypto, no parsing. Same I/O style
//! as the engine's worker (one thread, edge-triggered epoll, recvmmsg of up
//! to 32, a sendmmsg batch flushed once per loop turn; the engine's own `sys`
//! module; the same connected twin per latched peer, `esbc_media::connected`,
//! unless ESBC_CONNECTED_SOCKETS=off), so the difference to the engine is
//! what the engine adds.
//!
//!   trivial-relay --calls N [--bind 127.0.0.1] [--port-min 50000] [--port-max 59999]
//! Prints `{"rssBefore":B,"ports":[[a,b],...]}` on one line, relays (each side
//! latches to the source it hears and forwards to the other side's), and
//! exits when stdin closes.
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use esbc_loadgen::relaybase::{bind_and_announce, relay_args, use_twins};
use esbc_media::sys::{Epoll, RecvBatch, SendBatch};

fn main() {
    let socks = bind_and_announce("trivial-relay", &relay_args());

    let epoll = Epoll::new().expect("epoll");
    for (i, s) in socks.iter().enumerate() {
        epoll.add(s.as_raw_fd(), i as u64).expect("epoll add");
    }
    let fds: Vec<i32> = socks.iter().map(|s| s.as_raw_fd()).collect();
    let mut peers: Vec<Option<SocketAddr>> = vec![None; socks.len()];
    // Per socket: its twin connected to the first source heard (the engine's latch).
    let use_twins = use_twins();
    let mut twins: Vec<Option<(UdpSocket, SocketAddr)>> = (0..socks.len()).map(|_| None).collect();
    let mut recv = RecvBatch::new(32);
    let mut out = SendBatch::new(64);
    let mut ready = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    loop {
        let n = epoll.wait(&mut ready, 50);
        for ev in &ready[..n] {
            let i = (ev.u64 & !TWIN) as usize;
            let fd = match &twins[i] {
                Some((t, _)) if ev.u64 & TWIN != 0 => t.as_raw_fd(),
                _ => fds[i],
            };
            // Edge-triggered epoll (sys::Epoll): read until the queue is empty.
            loop {
                let got = recv.recv(fd);
                for k in 0..got {
                    let (len, src, truncated) = recv.entry(k);
                    if truncated {
                        continue;
                    }
                    peers[i] = src;
                    if let Some(dst) = peers[i ^ 1] {
                        match &twins[i ^ 1] {
                            Some((t, peer)) if *peer == dst => out.push_connected(t.as_raw_fd(), &recv.bufs[k][..len]),
                            _ => out.push(fds[i ^ 1], &dst, &recv.bufs[k][..len]),
                        };
                    }
                }
                if got < recv.capacity() {
                    break;
                }
            }
            if let (true, None, Some(peer)) = (use_twins, &twins[i], peers[i]) {
                let twin = esbc_media::connected::connected_twin(&socks[i], peer).expect("connected twin");
                epoll.add(twin.as_raw_fd(), i as u64 | TWIN).expect("epoll add");
                twins[i] = Some((twin, peer));
            }
        }
        out.flush();
    }
}

/// Token bit of a twin's readiness.
const TWIN: u64 = 1 << 63;
