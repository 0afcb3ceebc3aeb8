//! The baseline relay on the engine's default I/O: receive, send, no crypto,
//! no parsing, over the engine's own io_uring module (`esbc_media::uring`:
//! multishot receives from a provided-buffer ring, sockets as fixed files,
//! one SQE per send, a turn's I/O in one io_uring_enter) and the same
//! connected twin per latched peer (`esbc_media::connected`, unless
//! ESBC_CONNECTED_SOCKETS=off). The difference to the engine is what the
//! engine adds; `trivial-relay` is the same job on the epoll fallback.
//!
//!   uring-relay --calls N [--bind 127.0.0.1] [--port-min 50000] [--port-max 59999]
//! Prints `{"rssBefore":B,"ports":[[a,b],...]}` on one line, relays (each side
//! latches to the first source it hears and forwards to the other side's),
//! and exits when stdin closes.
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use esbc_loadgen::relaybase::{bind_and_announce, relay_args, use_twins};
use esbc_media::connected::connected_twin;
use esbc_media::uring::{Cqe, Kind, Uring};

/// Token bit of a twin's receive (the engine's tokens keep the top two bits clear).
const TWIN: u64 = 1 << 40;

fn main() {
    let socks = bind_and_announce("uring-relay", &relay_args());
    let mut ring = Uring::new().expect("io_uring (needs Linux 6.1+)");
    for (i, s) in socks.iter().enumerate() {
        ring.watch(s.as_raw_fd(), i as u64, true);
    }
    let fds: Vec<i32> = socks.iter().map(|s| s.as_raw_fd()).collect();
    let use_twins = use_twins();
    let mut peers: Vec<Option<SocketAddr>> = vec![None; socks.len()];
    let mut twins: Vec<Option<UdpSocket>> = (0..socks.len()).map(|_| None).collect();
    let mut done: Vec<Cqe> = Vec::with_capacity(4096);
    loop {
        done.clear();
        ring.wait(Duration::from_millis(50), &mut done);
        for c in &done {
            match c.kind() {
                Kind::Send => ring.send_done(*c),
                Kind::Receive => {
                    let i = (c.user_data & !TWIN) as usize;
                    let twin = c.user_data & TWIN != 0;
                    let Some(d) = ring.datagram(c, !twin) else { continue };
                    if !d.truncated && c.result >= 0 {
                        if let Some(src) = d.src {
                            peers[i] = Some(src);
                        }
                        // SAFETY: handed out by this completion, given back below.
                        let data = unsafe { &ring.payload(&d)[..d.len] };
                        if let Some(dst) = peers[i ^ 1] {
                            match &twins[i ^ 1] {
                                Some(t) => ring.send(t.as_raw_fd(), None, data),
                                None => ring.send(fds[i ^ 1], Some(&dst), data),
                            };
                        }
                    }
                    ring.give_back(d.buffer);
                    if !c.more() {
                        let fd = if twin { twins[i].as_ref().map_or(fds[i], |t| t.as_raw_fd()) } else { fds[i] };
                        ring.watch(fd, c.user_data, !twin);
                    }
                    if let (true, None, Some(peer)) = (use_twins, &twins[i], peers[i]) {
                        let t = connected_twin(&socks[i], peer).expect("connected twin");
                        ring.watch(t.as_raw_fd(), i as u64 | TWIN, false);
                        twins[i] = Some(t);
                    }
                }
                Kind::Wake | Kind::Other => {}
            }
        }
    }
}
