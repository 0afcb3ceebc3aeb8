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
use std::io::Read;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use esbc_media::sys::{Epoll, RecvBatch, SendBatch};

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter().position(|x| x == name).and_then(|i| a.get(i + 1)).cloned()
}

fn main() {
    let calls: usize = arg("--calls").and_then(|v| v.parse().ok()).unwrap_or(1);
    let ip: IpAddr = arg("--bind").and_then(|v| v.parse().ok()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let lo: u16 = arg("--port-min").and_then(|v| v.parse().ok()).unwrap_or(50000);
    let hi: u16 = arg("--port-max").and_then(|v| v.parse().ok()).unwrap_or(59999);
    let rss_before = esbc_loadgen::procstat::rss(std::process::id());
    let mut socks: Vec<UdpSocket> = Vec::with_capacity(calls * 2);
    let mut port = lo;
    while socks.len() < calls * 2 {
        if port > hi || port == 0 {
            eprintln!("trivial-relay: ports {lo}-{hi} exhausted after {} sockets", socks.len());
            std::process::exit(1);
        }
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip, port)) {
            s.set_nonblocking(true).expect("nonblocking");
            socks.push(s);
        }
        port = port.wrapping_add(1);
    }
    let ports: Vec<String> = socks.chunks(2).map(|p| format!("[{},{}]", port_of(&p[0]), port_of(&p[1]))).collect();
    println!("{{\"rssBefore\":{rss_before},\"ports\":[{}]}}", ports.join(","));
    // Quit when the parent closes our stdin (or dies).
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });

    let epoll = Epoll::new().expect("epoll");
    for (i, s) in socks.iter().enumerate() {
        epoll.add(s.as_raw_fd(), i as u64).expect("epoll add");
    }
    let fds: Vec<i32> = socks.iter().map(|s| s.as_raw_fd()).collect();
    let mut peers: Vec<Option<SocketAddr>> = vec![None; socks.len()];
    // Per socket: its twin connected to the first source heard (the engine's latch).
    let use_twins = std::env::var("ESBC_CONNECTED_SOCKETS").map_or(true, |v| v != "off");
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

fn port_of(s: &UdpSocket) -> u16 {
    s.local_addr().map(|a| a.port()).unwrap_or(0)
}
