//! The worker's io_uring I/O (Linux 6.1+), the alternative to `sys`'s epoll
//! + recvmmsg + sendto. Same job, far fewer system calls: every socket keeps
//! a multishot receive armed (recvmsg where the source address is needed)
//! that draws from one ring of provided buffers, sockets are fixed files,
//! each send is one SQE, and a whole loop turn's sends and re-arms go in with
//! the next wait, so one io_uring_enter carries a batch. On this project's VMs
//! the kernel's per-call cost (entry/exit under retpoline and SRSO mitigations,
//! fdget, msghdr copies) was most of the relay's CPU (bench/README).
//!
//! Single issuer with deferred task work: completions are produced only while
//! the worker thread waits in io_uring_enter, never behind its back, so the
//! ring must be created on that thread. All `unsafe` of this backend is here.
use std::io;
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use crate::sys::{from_sockaddr, to_sockaddr, BUF_SIZE, MAX_DATAGRAM};

/// user_data kinds (top two bits). Kind 0 is a socket's receive, whose
/// user_data is the worker's token (which keeps these bits clear).
const KIND: u64 = 3 << 62;
const SEND: u64 = 1 << 62;
/// The command eventfd's read (all kind bits set: the worker's WAKE_TOKEN).
pub const WAKE: u64 = u64::MAX;

/// Provided receive buffers: a power of two (the ring masks its index).
/// Running out ends every armed receive that finds none (each must be armed
/// again), which under overload feeds on itself: 1,024 lost 42 % at 2,000
/// calls where epoll lost 0.2 % (bench/README). Unit tests use few, so that
/// a burst runs out of them.
#[cfg(not(test))]
const RECV_BUFS: usize = 4096;
#[cfg(test)]
const RECV_BUFS: usize = 64;
/// Each buffer: io_uring_recvmsg_out (16 bytes), the source address (32, room
/// for a sockaddr_in6), then the datagram with BUF_SIZE of room, so the
/// pipeline can protect SRTP in place as it does with recvmmsg's buffers.
const NAME_LEN: usize = 32;
const PAYLOAD_AT: usize = 16 + NAME_LEN;
const STRIDE: usize = (PAYLOAD_AT + BUF_SIZE + 63) / 64 * 64;
const GROUP: u16 = 0;
/// Send slots (unit tests use few, so that a burst has to reclaim them).
#[cfg(not(test))]
const SEND_SLOTS: usize = 1024;
#[cfg(test)]
const SEND_SLOTS: usize = 16;
const SQ_ENTRIES: u32 = 4096;
const CQ_ENTRIES: u32 = 16384;

/// Largest fixed-file table (8 bytes of kernel memory per entry).
const MAX_FIXED_FILES: u32 = 65536;

/// RLIMIT_NOFILE's soft limit.
fn fd_limit() -> u32 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: writes into the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_cur.min(u32::MAX as u64) as u32
}

/// How an operation names its socket.
enum File {
    Fixed(types::Fixed),
    Fd(types::Fd),
}

/// One completion, copied out of the ring.
#[derive(Clone, Copy, Debug)]
pub struct Cqe {
    pub user_data: u64,
    pub result: i32,
    pub flags: u32,
}

/// What a completion is, by its user_data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Receive,
    Send,
    Wake,
    Other,
}

impl Cqe {
    pub fn kind(&self) -> Kind {
        match self.user_data {
            WAKE => Kind::Wake,
            u if u & KIND == 0 => Kind::Receive,
            u if u & KIND == SEND => Kind::Send,
            _ => Kind::Other,
        }
    }

    /// A multishot receive stays armed after this completion.
    pub fn more(&self) -> bool {
        cqueue::more(self.flags)
    }
}

/// A received datagram, still in its provided buffer (give it back with
/// `Uring::give_back` once handled).
pub struct Datagram {
    pub buffer: u16,
    /// Where the payload starts in the buffer.
    offset: usize,
    /// None from a receive armed without the source.
    pub src: Option<SocketAddr>,
    pub len: usize,
    pub truncated: bool,
}

/// Memory the kernel and the worker share (buffers, buffer ring, send
/// slots): anonymous pages of its own, aligned and advised onto transparent
/// huge pages where the system allows (`madvise` mode), so cycling through
/// the megabytes of receive buffers does not also cycle the TLB.
struct Allocation {
    ptr: *mut u8,
    map: *mut libc::c_void,
    map_len: usize,
}

const HUGE_PAGE: usize = 2 << 20;

impl Allocation {
    /// Zeroed and faulted in now: the packet path takes no page faults, and
    /// the memory shows as the worker's fixed cost from the start.
    fn zeroed(size: usize) -> Allocation {
        let huge = size >= HUGE_PAGE;
        let map_len = if huge { size.next_multiple_of(HUGE_PAGE) + HUGE_PAGE } else { size.next_multiple_of(4096) };
        // SAFETY: a fresh private anonymous mapping (zero-filled by the kernel).
        let map = unsafe { libc::mmap(std::ptr::null_mut(), map_len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if map == libc::MAP_FAILED {
            panic!("io_uring memory ({size} bytes): {}", std::io::Error::last_os_error());
        }
        let ptr = if huge {
            let aligned = (map as usize).next_multiple_of(HUGE_PAGE);
            // SAFETY: within the mapping; advice only (refused: 4 KiB pages).
            unsafe { libc::madvise(aligned as *mut libc::c_void, size.next_multiple_of(HUGE_PAGE), libc::MADV_HUGEPAGE) };
            aligned as *mut u8
        } else {
            map.cast::<u8>()
        };
        // Volatile, so the compiler keeps these stores to already-zero memory.
        for off in (0..size).step_by(4096) {
            // SAFETY: within the `size` bytes of the mapping from `ptr`.
            unsafe { ptr.add(off).write_volatile(0) };
        }
        Allocation { ptr, map, map_len }
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `zeroed`.
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}

pub struct Uring {
    /// Dropped first (in Drop), before the memory the kernel writes into.
    ring: ManuallyDrop<IoUring>,
    /// The provided-buffer ring (entries) and the buffers it hands out.
    entries: Allocation,
    buffers: Allocation,
    tail: u16,
    /// The template multishot recvmsg reads (name and control lengths only).
    msghdr: Box<libc::msghdr>,
    sends: Allocation,
    send_addrs: Box<[libc::sockaddr_storage]>,
    free_sends: Vec<u16>,
    /// Completions reaped while waiting for a free send slot, handled next turn.
    deferred: Vec<Cqe>,
    wake_value: Box<u64>,
    /// Per descriptor number: registered as the fixed file of that index.
    fixed: Vec<bool>,
    /// Send completions that failed (running total), and the errno of the last.
    pub send_errors: u64,
    pub last_send_error: i32,
}

// SAFETY: the raw pointers point into memory this value owns; the ring is
// used by one thread at a time (created and then only used on the worker).
unsafe impl Send for Uring {}

impl Uring {
    /// Sets up a ring for the calling thread, or says why this kernel (or
    /// sandbox: container runtimes often forbid io_uring) cannot have one.
    pub fn new() -> io::Result<Uring> {
        let ring = IoUring::builder().setup_single_issuer().setup_defer_taskrun().setup_submit_all().setup_cqsize(CQ_ENTRIES).build(SQ_ENTRIES)?;
        let mut u = Uring {
            ring: ManuallyDrop::new(ring),
            entries: Allocation::zeroed(RECV_BUFS * std::mem::size_of::<types::BufRingEntry>()),
            buffers: Allocation::zeroed(RECV_BUFS * STRIDE),
            tail: 0,
            // SAFETY: all-zero is a valid msghdr.
            msghdr: Box::new(unsafe { std::mem::zeroed() }),
            sends: Allocation::zeroed(SEND_SLOTS * BUF_SIZE),
            // SAFETY: all-zero is a valid sockaddr_storage.
            send_addrs: vec![unsafe { std::mem::zeroed() }; SEND_SLOTS].into_boxed_slice(),
            free_sends: (0..SEND_SLOTS as u16).rev().collect(),
            deferred: Vec::new(),
            wake_value: Box::new(0),
            fixed: Vec::new(),
            send_errors: 0,
            last_send_error: 0,
        };
        // The fixed-file table spans the descriptors this process may open
        // (capped); a socket numbered beyond it is used unregistered.
        let table = fd_limit().min(MAX_FIXED_FILES);
        match u.ring.submitter().register_files_sparse(table) {
            Ok(()) => u.fixed = vec![false; table as usize],
            Err(e) => log::warn!("media worker: no io_uring fixed-file table ({e}); sockets used unregistered"),
        }
        u.msghdr.msg_namelen = NAME_LEN as libc::socklen_t;
        for b in 0..RECV_BUFS as u16 {
            u.give_back(b);
        }
        u.publish_buffers();
        // SAFETY: the entries stay valid until the ring is dropped (Drop order).
        unsafe { u.ring.submitter().register_buf_ring_with_flags(u.entries.ptr as u64, RECV_BUFS as u16, GROUP, 0) }?;
        Ok(u)
    }

    fn push(&mut self, entry: squeue::Entry) {
        // SAFETY: every buffer an entry points at lives in `self` and outlives
        // its completion (the ring is dropped first).
        while unsafe { self.ring.submission().push(&entry) }.is_err() {
            if let Err(e) = self.ring.submit() {
                log::warn!("media worker: io_uring submit: {e}");
            }
        }
    }

    /// Arms a multishot receive on `fd`; its completions carry `token`.
    /// Arms a multishot receive on `fd`; its completions carry `token`. A
    /// connected socket's datagrams all come from its peer: `with_source`
    /// false receives them without the address (plain recv, cheaper).
    pub fn watch(&mut self, fd: RawFd, token: u64, with_source: bool) {
        debug_assert_eq!(token & KIND, 0);
        self.register(fd);
        let e = match self.file(fd) {
            File::Fixed(f) if with_source => opcode::RecvMsgMulti::new(f, &*self.msghdr, GROUP).build(),
            File::Fixed(f) => opcode::RecvMulti::new(f, GROUP).build(),
            File::Fd(f) if with_source => opcode::RecvMsgMulti::new(f, &*self.msghdr, GROUP).build(),
            File::Fd(f) => opcode::RecvMulti::new(f, GROUP).build(),
        };
        self.push(e.user_data(token));
    }

    /// Registers `fd` as a fixed file at its own number (once; a descriptor
    /// is unique while open, so no allocator is needed). The kernel then
    /// skips the file lookup and reference count of every operation on it.
    fn register(&mut self, fd: RawFd) {
        let Some(registered) = self.fixed.get_mut(fd as usize) else { return };
        if *registered {
            return;
        }
        match self.ring.submitter().register_files_update(fd as u32, &[fd]) {
            Ok(_) => *registered = true,
            Err(e) => log::warn!("media worker: fd {fd} not registered with io_uring ({e}); used unregistered"),
        }
    }

    #[inline]
    fn file(&self, fd: RawFd) -> File {
        match self.fixed.get(fd as usize) {
            Some(true) => File::Fixed(types::Fixed(fd as u32)),
            _ => File::Fd(types::Fd(fd)),
        }
    }

    /// Arms a read of the command eventfd (completes as `Kind::Wake`).
    pub fn watch_wake(&mut self, fd: RawFd) {
        let e = opcode::Read::new(types::Fd(fd), (&mut *self.wake_value as *mut u64).cast(), 8).build().user_data(WAKE);
        self.push(e);
    }

    /// Stops every request on these sockets before they are closed (an armed
    /// receive holds its socket open, and the port with it). The cancelled
    /// receives' last completions come later, with a token the worker no
    /// longer knows.
    pub fn unwatch(&mut self, fds: &[RawFd]) {
        // Requests still in the submission queue cannot be cancelled.
        let _ = self.ring.submit();
        for &fd in fds {
            let which = match self.file(fd) {
                File::Fixed(f) => types::CancelBuilder::fd(f),
                File::Fd(f) => types::CancelBuilder::fd(f),
            };
            match self.ring.submitter().register_sync_cancel(Some(types::Timespec::new().sec(1)), which.all()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => log::warn!("media worker: io_uring cancel on fd {fd}: {e}"),
            }
            // The table holds a reference too: the socket (and its port)
            // would outlive its close.
            if let Some(registered @ true) = self.fixed.get_mut(fd as usize) {
                *registered = false;
                if let Err(e) = self.ring.submitter().register_files_update(fd as u32, &[-1]) {
                    log::error!("media worker: fd {fd} left registered with io_uring ({e}); its port stays bound");
                }
            }
        }
        self.run_task_work();
    }

    /// Runs deferred task work, which completes cancelled requests and drops
    /// their file references.
    fn run_task_work(&mut self) {
        // SAFETY: no submission, no argument: only GETEVENTS with min_complete 0.
        let _ = unsafe { self.ring.submitter().enter::<libc::sigset_t>(0, 0, io_uring::EnterFlags::GETEVENTS.bits(), None) };
    }

    /// Queues `data` on `fd` to `dst` (None: the socket is connected). False
    /// when it cannot be queued (too large, or every send slot in flight).
    pub fn send(&mut self, fd: RawFd, dst: Option<&SocketAddr>, data: &[u8]) -> bool {
        if data.len() > BUF_SIZE {
            return false;
        }
        let slot = match self.free_sends.pop() {
            Some(s) => s,
            None => {
                self.reclaim_sends();
                match self.free_sends.pop() {
                    Some(s) => s,
                    // The caller counts it (a per-leg send_error drop).
                    None => return false,
                }
            }
        };
        // SAFETY: slot < SEND_SLOTS, each slot BUF_SIZE bytes, not in flight.
        let buf = unsafe { std::slice::from_raw_parts_mut(self.sends.ptr.add(slot as usize * BUF_SIZE), data.len()) };
        buf.copy_from_slice(data);
        let mut op = match self.file(fd) {
            File::Fixed(f) => opcode::Send::new(f, buf.as_ptr(), data.len() as u32),
            File::Fd(f) => opcode::Send::new(f, buf.as_ptr(), data.len() as u32),
        };
        if let Some(dst) = dst {
            let addr = &mut self.send_addrs[slot as usize];
            let len = to_sockaddr(dst, addr);
            op = op.dest_addr((addr as *const libc::sockaddr_storage).cast()).dest_addr_len(len);
        }
        self.push(op.build().user_data(SEND | slot as u64));
        true
    }

    /// Every send slot is in flight: submit, and take the completions there
    /// are (UDP sends complete at submission), keeping the others for later.
    fn reclaim_sends(&mut self) {
        let _ = self.ring.submit();
        let mut reaped = Vec::new();
        collect(&mut self.ring, &mut reaped);
        for c in reaped {
            if c.kind() == Kind::Send {
                self.send_done(c);
            } else {
                self.deferred.push(c);
            }
        }
    }

    /// A send completed: its slot is free again.
    pub fn send_done(&mut self, c: Cqe) {
        if c.result < 0 {
            self.send_errors += 1;
            self.last_send_error = -c.result;
        }
        self.free_sends.push((c.user_data & 0xffff) as u16);
    }

    /// Submits what the turn queued and waits up to `timeout` for completions,
    /// which are appended to `into`.
    pub fn wait(&mut self, timeout: Duration, into: &mut Vec<Cqe>) {
        self.publish_buffers();
        let want = if self.deferred.is_empty() { 1 } else { 0 };
        let ts = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(want, &args) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)) => {}
            Err(e) => log::warn!("media worker: io_uring_enter: {e}"),
        }
        into.append(&mut self.deferred);
        collect(&mut self.ring, into);
    }

    /// The datagram a receive completion carries (None: it carries none).
    /// `with_source` as the receive was armed with.
    pub fn datagram(&self, c: &Cqe, with_source: bool) -> Option<Datagram> {
        let buffer = cqueue::buffer_select(c.flags)?;
        if c.result < 0 {
            return Some(Datagram { buffer, offset: 0, src: None, len: 0, truncated: false });
        }
        let used = c.result as usize;
        if !with_source {
            // The payload alone, at the start; the buffer holds more than
            // MAX_DATAGRAM, so a longer result means a datagram too large.
            return Some(Datagram { buffer, offset: 0, src: None, len: used.min(MAX_DATAGRAM), truncated: used > MAX_DATAGRAM });
        }
        // SAFETY: the kernel filled `used` bytes of this provided buffer.
        let raw = unsafe { std::slice::from_raw_parts(self.buffers.ptr.add(buffer as usize * STRIDE), used.min(STRIDE)) };
        let Ok(out) = types::RecvMsgOut::parse(raw, &self.msghdr) else {
            return Some(Datagram { buffer, offset: 0, src: None, len: 0, truncated: false });
        };
        let len = out.payload_data().len();
        let truncated = out.is_payload_truncated() || len > MAX_DATAGRAM;
        // SAFETY: all-zero is a valid sockaddr_storage; the name is at most NAME_LEN bytes.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let name = out.name_data();
        // SAFETY: copies name.len() <= NAME_LEN < size_of::<sockaddr_storage>() bytes.
        unsafe { std::ptr::copy_nonoverlapping(name.as_ptr(), (&mut ss as *mut libc::sockaddr_storage).cast::<u8>(), name.len()) };
        let src = if out.is_name_data_truncated() { None } else { from_sockaddr(&ss) };
        Some(Datagram { buffer, offset: PAYLOAD_AT, src, len: len.min(MAX_DATAGRAM), truncated })
    }

    /// Starts loading the first lines of a receive completion's buffer (the
    /// header and name of a recvmsg, the RTP header and first payload bytes).
    #[inline]
    pub fn prefetch_datagram(&self, c: &Cqe) {
        if let Some(buffer) = cqueue::buffer_select(c.flags) {
            let start = self.buffers.ptr.wrapping_add(buffer as usize * STRIDE);
            crate::sys::prefetch(start);
            crate::sys::prefetch(start.wrapping_add(64));
            crate::sys::prefetch(start.wrapping_add(128));
        }
    }

    /// The datagram's buffer, BUF_SIZE long (room for an SRTP trailer).
    ///
    /// # Safety
    /// `d` must come from a completion of this ring, its buffer not yet given
    /// back, and no other reference to that buffer may be live.
    pub unsafe fn payload<'a>(&self, d: &Datagram) -> &'a mut [u8] {
        std::slice::from_raw_parts_mut(self.buffers.ptr.add(d.buffer as usize * STRIDE + d.offset), BUF_SIZE)
    }

    /// Returns a provided buffer to the kernel (visible from the next wait).
    pub fn give_back(&mut self, buffer: u16) {
        let entries = self.entries.ptr.cast::<types::BufRingEntry>();
        // SAFETY: the index is masked into the ring; the buffer is ours.
        let e = unsafe { &mut *entries.add(self.tail as usize & (RECV_BUFS - 1)) };
        // SAFETY: buffer < RECV_BUFS.
        e.set_addr(unsafe { self.buffers.ptr.add(buffer as usize * STRIDE) } as u64);
        e.set_len((PAYLOAD_AT + MAX_DATAGRAM + 1) as u32);
        e.set_bid(buffer);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish_buffers(&mut self) {
        let entries = self.entries.ptr.cast::<types::BufRingEntry>();
        // SAFETY: the tail field lives in the ring's first entry, which is ours.
        let tail = unsafe { AtomicU16::from_ptr(types::BufRingEntry::tail(entries) as *mut u16) };
        tail.store(self.tail, Ordering::Release);
    }
}

fn collect(ring: &mut IoUring, into: &mut Vec<Cqe>) {
    into.extend(ring.completion().map(|c| Cqe { user_data: c.user_data(), result: c.result(), flags: c.flags() }));
}

impl Drop for Uring {
    fn drop(&mut self) {
        // Nothing may write into our buffers once they are freed: cancel
        // every request and let the cancellations finish, then close the ring.
        let _ = self.ring.submit();
        let _ = self.ring.submitter().register_sync_cancel(Some(types::Timespec::new().sec(1)), types::CancelBuilder::any());
        self.run_task_work();
        // SAFETY: dropped once, here; the allocations are freed after this.
        unsafe { ManuallyDrop::drop(&mut self.ring) };
    }
}
