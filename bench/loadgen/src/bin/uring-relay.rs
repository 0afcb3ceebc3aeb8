//! The trivial relay over io_uring: what the kernel's UDP path costs per
//! relayed packet with far fewer system calls (a bench probe for the
//! engine's I/O, not a relay anyone runs). Same job as trivial-relay: latch
//! each side to the first source heard, connect a twin socket to it, forward
//! to the other side's peer; no crypto, no parsing.
//!
//! I/O: one ring (single issuer, deferred task work: completions are only
//! produced while this thread waits in io_uring_enter), every socket a
//! registered file, a multishot receive on each twin drawing from one
//! provided-buffer ring, each send one SQE on the connected twin; all of a
//! turn's sends and re-arms go in with the next wait, so one system call
//! carries a whole batch. Each original socket keeps a single-shot recvmsg
//! armed (the latch path, and anything from another source).
//!
//!   uring-relay --calls N [--bind 127.0.0.1] [--port-min 50000] [--port-max 59999]
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};

use esbc_loadgen::relaybase::{bind_and_announce, relay_args};
use esbc_media::connected::connected_twin;
use esbc_media::sys::from_sockaddr;
use io_uring::{cqueue, opcode, squeue, types, IoUring};

const BUF: usize = 2048;
/// Provided receive buffers (a power of two, at most 32768).
const RECV_BUFS: usize = 8192;
const SEND_SLOTS: usize = 8192;
const GROUP: u16 = 1;

/// user_data: the kind in the top byte, an index below.
const LATCH: u64 = 1 << 56;
const RECV: u64 = 2 << 56;
const SEND: u64 = 3 << 56;
const INDEX: u64 = (1 << 56) - 1;

/// One socket's single-shot recvmsg state (the latch path).
struct LatchSlot {
    hdr: libc::msghdr,
    addr: libc::sockaddr_storage,
    iov: libc::iovec,
    buf: [u8; BUF],
}

fn main() {
    let socks = bind_and_announce("uring-relay", &relay_args());
    let n = socks.len();
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(65536)
        .build(8192)
        .expect("io_uring (needs Linux 6.1+)");
    // Originals at 0..n, twins at n..2n.
    ring.submitter().register_files_sparse(2 * n as u32).expect("register files");
    let fds: Vec<i32> = socks.iter().map(|s| s.as_raw_fd()).collect();
    ring.submitter().register_files_update(0, &fds).expect("register originals");

    // The provided-buffer ring: page-aligned entries, then the buffers.
    let layout = std::alloc::Layout::from_size_align(RECV_BUFS * 16, 4096).unwrap();
    // SAFETY: non-zero size; the memory lives as long as the process (never freed).
    let entries = unsafe { std::alloc::alloc_zeroed(layout) } as *mut types::BufRingEntry;
    let mut recv_bufs = vec![0u8; RECV_BUFS * BUF].into_boxed_slice();
    let base = recv_bufs.as_mut_ptr();
    // SAFETY: entries points at RECV_BUFS initialised entries.
    let tail = unsafe { AtomicU16::from_ptr(types::BufRingEntry::tail(entries) as *mut u16) };
    let mut tail_value: u16 = 0;
    let give_back = |bid: u16, tail_value: &mut u16| {
        // SAFETY: the slot index is masked into the ring; the buffer is ours.
        let e = unsafe { &mut *entries.add(*tail_value as usize & (RECV_BUFS - 1)) };
        e.set_addr(base as u64 + bid as u64 * BUF as u64);
        e.set_len(BUF as u32);
        e.set_bid(bid);
        *tail_value = tail_value.wrapping_add(1);
    };
    for bid in 0..RECV_BUFS as u16 {
        give_back(bid, &mut tail_value);
    }
    tail.store(tail_value, Ordering::Release);
    // SAFETY: the ring memory stays valid for the life of the process.
    unsafe { ring.submitter().register_buf_ring_with_flags(entries as u64, RECV_BUFS as u16, GROUP, 0) }.expect("buffer ring");

    let mut latch: Vec<Box<LatchSlot>> = (0..n)
        .map(|_| {
            // SAFETY: all-zero is valid for these C structs; pointers set below.
            let mut s: Box<LatchSlot> = Box::new(unsafe { std::mem::zeroed() });
            s.iov = libc::iovec { iov_base: s.buf.as_mut_ptr().cast(), iov_len: BUF };
            s.hdr.msg_iov = &mut s.iov;
            s.hdr.msg_iovlen = 1;
            s.hdr.msg_name = (&mut s.addr as *mut libc::sockaddr_storage).cast();
            s
        })
        .collect();
    let mut send_bufs = vec![0u8; SEND_SLOTS * BUF].into_boxed_slice();
    let mut free_sends: Vec<u32> = (0..SEND_SLOTS as u32).rev().collect();
    let mut twins: Vec<Option<UdpSocket>> = (0..n).map(|_| None).collect();
    let mut pending: Vec<squeue::Entry> = Vec::with_capacity(16384);

    let arm_latch = |slot: &mut LatchSlot, i: usize| {
        slot.hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
        opcode::RecvMsg::new(types::Fixed(i as u32), &mut slot.hdr).build().user_data(LATCH | i as u64)
    };
    let arm_recv = |i: usize| opcode::RecvMulti::new(types::Fixed((n + i) as u32), GROUP).build().user_data(RECV | i as u64);
    for (i, slot) in latch.iter_mut().enumerate() {
        pending.push(arm_latch(slot, i));
    }

    let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(65536);
    loop {
        // Queue what the last turn produced, then wait for at least one completion.
        for e in pending.drain(..) {
            // SAFETY: every buffer an entry points at outlives its completion.
            while unsafe { ring.submission().push(&e) }.is_err() {
                ring.submit().expect("submit");
            }
        }
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) || e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => panic!("io_uring_enter: {e}"),
        }
        done.clear();
        done.extend(ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        for &(ud, res, flags) in &done {
            let i = (ud & INDEX) as usize;
            match ud & !INDEX {
                LATCH => {
                    if res > 0 {
                        // The first source heard is the peer (latched once, as in the bench).
                        if let (None, Some(peer)) = (&twins[i], from_sockaddr(&latch[i].addr)) {
                            let twin = connected_twin(&socks[i], peer).expect("connected twin");
                            ring.submitter().register_files_update((n + i) as u32, &[twin.as_raw_fd()]).expect("register twin");
                            twins[i] = Some(twin);
                            pending.push(arm_recv(i));
                        }
                        let len = res as usize;
                        forward(i, &latch[i].buf[..len], &twins, &mut send_bufs, &mut free_sends, &mut pending, n);
                    }
                    pending.push(arm_latch(&mut latch[i], i));
                }
                RECV => {
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        if res > 0 {
                            // SAFETY: the kernel filled `res` bytes of buffer `bid`.
                            let data = unsafe { std::slice::from_raw_parts(base.add(bid as usize * BUF), res as usize) };
                            forward(i, data, &twins, &mut send_bufs, &mut free_sends, &mut pending, n);
                        }
                        give_back(bid, &mut tail_value);
                    }
                    if !cqueue::more(flags) {
                        pending.push(arm_recv(i));
                    }
                }
                SEND => free_sends.push(i as u32),
                _ => {}
            }
        }
        tail.store(tail_value, Ordering::Release);
    }
}

/// Copies `data` into a send slot and queues it on the other side's twin
/// (dropped when that side has not latched yet or every slot is in flight).
fn forward(
    i: usize,
    data: &[u8],
    twins: &[Option<UdpSocket>],
    send_bufs: &mut [u8],
    free_sends: &mut Vec<u32>,
    pending: &mut Vec<squeue::Entry>,
    n: usize,
) {
    let j = i ^ 1;
    if twins[j].is_none() || data.len() > BUF {
        return;
    }
    let Some(slot) = free_sends.pop() else { return };
    let buf = &mut send_bufs[slot as usize * BUF..][..data.len()];
    buf.copy_from_slice(data);
    pending.push(opcode::Send::new(types::Fixed((n + j) as u32), buf.as_ptr(), data.len() as u32).build().user_data(SEND | slot as u64));
}
