//! The traffic part: plays a session list, knowing nothing of who set it up.
//!
//! Each local socket belongs to one thread; a leg is handled by the thread of
//! its local socket (its send schedule, its SRTP contexts, what arrives for
//! it). A periodic timerfd ticks every millisecond and each tick sends one
//! slice (1/ptime) of the thread's legs, grouped by socket into sendmmsg
//! batches; arrivals are drained with recvmmsg. Every arrival is decrypted
//! and authenticated when its leg is SRTP, checked byte for byte, and counted
//! if it was sent inside the measured window (the send time is in the payload).
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use esbc_media::srtp::{SrtpContext, SrtpDirection, SRTP_MAX_TRAILER};
use esbc_media::sys::{Epoll, RecvBatch, SendBatch};

use crate::latency::Histogram;
use crate::packet::{self, RTP_LEN};
use crate::sessions::{hex, SessionList};

pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub start_ns: u64,
    pub window_start_ns: u64,
    pub window_end_ns: u64,
    pub end_ns: u64,
    pub ptime_ms: u64,
}

#[derive(Default)]
pub struct Counts {
    pub sent_total: u64,
    pub sent_window: u64,
    pub send_errors: u64,
    pub recv_total: u64,
    pub recv_window: u64,
    pub srtp_fail: u64,
    pub bad_payload: u64,
    pub misrouted: u64,
    pub unknown_ssrc: u64,
    pub reordered: u64,
    pub duplicates: u64,
    pub latency: Histogram,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.sent_total += o.sent_total;
        self.sent_window += o.sent_window;
        self.send_errors += o.send_errors;
        self.recv_total += o.recv_total;
        self.recv_window += o.recv_window;
        self.srtp_fail += o.srtp_fail;
        self.bad_payload += o.bad_payload;
        self.misrouted += o.misrouted;
        self.unknown_ssrc += o.unknown_ssrc;
        self.reordered += o.reordered;
        self.duplicates += o.duplicates;
        self.latency.merge(&o.latency);
    }
}

struct Leg {
    call: u32,
    leg: u8,
    sock: usize,
    remote: SocketAddr,
    tx: Option<SrtpContext>,
    rx: Option<SrtpContext>,
    seq: u16,
    last_rx: Option<u16>,
}

/// One thread's share: its sockets and the legs on them.
pub struct Shard {
    sockets: Vec<UdpSocket>,
    legs: Vec<Leg>,
    /// (thread, leg index in that thread) of every leg, by call * 2 + leg.
    owners: Arc<Vec<(u32, u32)>>,
    index: u32,
}

fn bind(addr: SocketAddr) -> Result<UdpSocket, String> {
    let s = UdpSocket::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    // Room for bursts: one socket may carry hundreds of legs.
    for (force, plain, size) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, 16 << 20), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, 4 << 20)] {
        let v: libc::c_int = size;
        let p = (&v as *const libc::c_int).cast();
        let l = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: valid fd and option buffer.
        unsafe {
            if libc::setsockopt(s.as_raw_fd(), libc::SOL_SOCKET, force, p, l) != 0 {
                libc::setsockopt(s.as_raw_fd(), libc::SOL_SOCKET, plain, p, l);
            }
        }
    }
    Ok(s)
}

/// Splits the sessions over `threads` shards; binds every distinct local address once.
pub fn shard(list: &SessionList, threads: usize) -> Result<Vec<Shard>, String> {
    let threads = threads.max(1);
    let mut sock_of: HashMap<SocketAddr, (usize, usize)> = HashMap::new();
    let mut socks: Vec<Vec<UdpSocket>> = (0..threads).map(|_| Vec::new()).collect();
    let mut legs: Vec<Vec<Leg>> = (0..threads).map(|_| Vec::new()).collect();
    let mut owners = vec![(0u32, 0u32); list.calls.len() * 2];
    let mut next = 0usize;
    for (c, call) in list.calls.iter().enumerate() {
        for (l, spec) in call.legs.iter().enumerate() {
            let (t, s) = match sock_of.get(&spec.local) {
                Some(v) => *v,
                None => {
                    let t = next % threads;
                    next += 1;
                    socks[t].push(bind(spec.local)?);
                    let v = (t, socks[t].len() - 1);
                    sock_of.insert(spec.local, v);
                    v
                }
            };
            let (tx, rx) = match &spec.srtp {
                Some(k) => {
                    let p = k.profile()?;
                    let mk = |key: &str, d| SrtpContext::new(p, &hex(key).unwrap_or_default(), d, 2).map_err(|e| format!("{e:?}"));
                    (Some(mk(&k.tx, SrtpDirection::Outbound)?), Some(mk(&k.rx, SrtpDirection::Inbound)?))
                }
                None => (None, None),
            };
            owners[c * 2 + l] = (t as u32, legs[t].len() as u32);
            legs[t].push(Leg {
                call: c as u32,
                leg: l as u8,
                sock: s,
                remote: spec.remote,
                tx,
                rx,
                seq: (c as u16).wrapping_mul(7919).wrapping_add(l as u16 * 1000),
                last_rx: None,
            });
        }
    }
    let owners = Arc::new(owners);
    Ok(socks
        .into_iter()
        .zip(legs)
        .enumerate()
        .map(|(i, (sockets, legs))| Shard { sockets, legs, owners: owners.clone(), index: i as u32 })
        .collect())
}

const TIMER: u64 = u64::MAX;

struct TimerFd(RawFd);

impl TimerFd {
    /// Fires every `period_ns` from the absolute CLOCK_MONOTONIC time `first_ns`.
    fn periodic(first_ns: u64, period_ns: u64) -> Result<TimerFd, String> {
        // SAFETY: plain syscalls with valid arguments.
        unsafe {
            let fd = libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC);
            if fd < 0 {
                return Err("timerfd_create".into());
            }
            let ts = |ns: u64| libc::timespec { tv_sec: (ns / 1_000_000_000) as _, tv_nsec: (ns % 1_000_000_000) as _ };
            let spec = libc::itimerspec { it_interval: ts(period_ns), it_value: ts(first_ns) };
            libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut());
            Ok(TimerFd(fd))
        }
    }

    fn expirations(&self) -> u64 {
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into n.
        let r = unsafe { libc::read(self.0, (&mut n as *mut u64).cast(), 8) };
        if r == 8 {
            n
        } else {
            0
        }
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

impl Shard {
    pub fn run(mut self, sched: Schedule, cpu: Option<usize>) -> Result<Counts, String> {
        if let Some(c) = cpu {
            crate::procstat::pin_current_thread(c);
        }
        let epoll = Epoll::new().map_err(|e| e.to_string())?;
        for (i, s) in self.sockets.iter().enumerate() {
            epoll.add(s.as_raw_fd(), i as u64).map_err(|e| e.to_string())?;
        }
        let slices = sched.ptime_ms.max(1) as usize;
        // Legs by slice (spread over the packet time), sorted by socket for long sendmmsg runs.
        let mut by_slice: Vec<Vec<usize>> = vec![Vec::new(); slices];
        for (i, l) in self.legs.iter().enumerate() {
            by_slice[l.call as usize % slices].push(i);
        }
        for s in &mut by_slice {
            s.sort_by_key(|i| self.legs[*i].sock);
        }
        let timer = TimerFd::periodic(sched.start_ns, 1_000_000)?;
        epoll.add(timer.0, TIMER).map_err(|e| e.to_string())?;
        let mut counts = Counts::default();
        let mut out = SendBatch::new(64);
        let mut recv = RecvBatch::new(64);
        let mut pkt = vec![0u8; RTP_LEN + SRTP_MAX_TRAILER];
        let mut ready = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
        let mut tick = 0u64;
        loop {
            let now = now_ns();
            if now >= sched.end_ns {
                break;
            }
            let wait_ms = ((sched.end_ns - now) / 1_000_000).min(50) as i32 + 1;
            let n = epoll.wait(&mut ready, wait_ms);
            for ev in &ready[..n] {
                if ev.u64 == TIMER {
                    for _ in 0..timer.expirations() {
                        if sched.start_ns + tick * 1_000_000 < sched.window_end_ns {
                            self.send_slice(&by_slice[tick as usize % slices], &mut pkt, &mut out, &mut counts, &sched);
                        }
                        tick += 1;
                    }
                    let before = out.errors;
                    out.flush();
                    counts.send_errors += out.errors - before;
                } else {
                    self.drain(ev.u64 as usize, &mut recv, &mut counts, &sched);
                }
            }
        }
        Ok(counts)
    }

    fn send_slice(&mut self, legs: &[usize], pkt: &mut [u8], out: &mut SendBatch, counts: &mut Counts, sched: &Schedule) {
        for &i in legs {
            let l = &mut self.legs[i];
            l.seq = l.seq.wrapping_add(1);
            let t = now_ns();
            packet::build(pkt, l.call, l.leg, l.seq, t);
            let len = match l.tx.as_mut() {
                Some(tx) => match tx.protect_rtp(pkt, RTP_LEN) {
                    Ok(n) => n,
                    Err(_) => {
                        counts.send_errors += 1;
                        continue;
                    }
                },
                None => RTP_LEN,
            };
            let before = out.errors;
            out.push(self.sockets[l.sock].as_raw_fd(), &l.remote, &pkt[..len]);
            counts.send_errors += out.errors - before;
            counts.sent_total += 1;
            if t >= sched.window_start_ns && t < sched.window_end_ns {
                counts.sent_window += 1;
            }
        }
    }

    fn drain(&mut self, sock: usize, recv: &mut RecvBatch, counts: &mut Counts, sched: &Schedule) {
        let fd = self.sockets[sock].as_raw_fd();
        loop {
            let n = recv.recv(fd);
            let now = now_ns();
            for i in 0..n {
                let (len, _, truncated) = recv.entry(i);
                counts.recv_total += 1;
                let buf = &mut recv.bufs[i][..];
                if truncated || len < packet::HEADER {
                    counts.bad_payload += 1;
                    continue;
                }
                let (call, from_leg) = packet::from_ssrc(u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]));
                let Some(&(t, li)) = self.owners.get(call as usize * 2 + (1 - from_leg as usize)) else {
                    counts.unknown_ssrc += 1;
                    continue;
                };
                if t != self.index || self.legs[li as usize].sock != sock {
                    counts.misrouted += 1;
                    continue;
                }
                let leg = &mut self.legs[li as usize];
                let len = match leg.rx.as_mut() {
                    Some(rx) => match rx.unprotect_rtp(buf, len) {
                        Ok(n) => n,
                        Err(_) => {
                            counts.srtp_fail += 1;
                            continue;
                        }
                    },
                    None => len,
                };
                let Some(f) = packet::verify(buf, len) else {
                    counts.bad_payload += 1;
                    continue;
                };
                if f.call != leg.call || f.leg == leg.leg {
                    counts.misrouted += 1;
                    continue;
                }
                match leg.last_rx {
                    Some(last) if f.seq == last => {
                        counts.duplicates += 1;
                        continue;
                    }
                    Some(last) if (f.seq.wrapping_sub(last) as i16) < 0 => counts.reordered += 1,
                    _ => leg.last_rx = Some(f.seq),
                }
                if f.sent_ns >= sched.window_start_ns && f.sent_ns < sched.window_end_ns {
                    counts.recv_window += 1;
                    counts.latency.record(now.saturating_sub(f.sent_ns));
                }
            }
            if n < 64 {
                break;
            }
        }
    }
}
