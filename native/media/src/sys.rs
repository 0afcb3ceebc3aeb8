//! The few Linux system calls of the packet path, batched: epoll, eventfd,
//! recvmmsg and sendmmsg. All `unsafe` of the I/O layer lives here.
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

pub const BUF_SIZE: usize = 2048;
/// Largest datagram accepted: leaves room in BUF_SIZE for an SRTP trailer.
pub const MAX_DATAGRAM: usize = BUF_SIZE - crate::srtp::SRTP_MAX_TRAILER;

/// A hint to start loading the cache line at `p` (no effect on other targets).
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

pub struct Epoll(RawFd);

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll(fd))
    }

    /// Edge-triggered: a ready socket is reported once per arrival, so the
    /// caller must read until a receive comes back short (`RecvBatch::recv`
    /// returning less than its capacity). Level-triggered epoll re-polls every
    /// socket it reported on the next wait, a second `sock_poll` per packet.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLET) as u32, u64: token };
        // SAFETY: valid epoll fd and event struct.
        if unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn remove(&self, fd: RawFd) {
        // SAFETY: removing an fd that may already be gone is harmless.
        unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
    }

    /// Waits for readiness; returns how many entries of `events` are filled.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> usize {
        // SAFETY: events is a valid writable array of the given length.
        let n = unsafe { libc::epoll_wait(self.0, events.as_mut_ptr(), events.len() as i32, timeout_ms) };
        n.max(0) as usize
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

/// Wakes a worker blocked in epoll_wait when a command is queued.
pub struct EventFd(RawFd);

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(EventFd(fd))
    }
    pub fn fd(&self) -> RawFd {
        self.0
    }
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64.
        unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
    }
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64.
        unsafe { libc::read(self.0, (&mut v as *mut u64).cast(), 8) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

pub fn to_sockaddr(addr: &SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above for sockaddr_in6.
            let sin6 = unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr { s6_addr: a.ip().octets() };
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

pub fn from_sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match s.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: family says this is a sockaddr_in.
            let sin = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: family says this is a sockaddr_in6.
            let sin6 = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let v6 = SocketAddrV6::new(ip, u16::from_be(sin6.sin6_port), sin6.sin6_flowinfo, sin6.sin6_scope_id);
            // Dual-stack sockets report IPv4 peers as mapped addresses.
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
                None => SocketAddr::V6(v6),
            })
        }
        _ => None,
    }
}

/// Preallocated buffers for one recvmmsg call. The headers point into the
/// batch's own buffers once, at creation; a call only resets what the kernel
/// wrote in the previous one (per packet, rewriting all headers was ~30 cache
/// lines of stores).
pub struct RecvBatch {
    pub bufs: Vec<[u8; BUF_SIZE]>,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    /// Entries the last call filled (their name lengths and flags changed).
    dirty: usize,
}

// SAFETY: the raw pointers inside point into the batch's own heap buffers,
// which never move (the vectors are never resized).
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    /// `n` buffers: each call receives up to `n` datagrams.
    pub fn new(n: usize) -> RecvBatch {
        // SAFETY: all-zero is valid for these plain C structs.
        let mut b = RecvBatch {
            bufs: vec![[0u8; BUF_SIZE]; n],
            addrs: vec![unsafe { zeroed() }; n],
            iovs: vec![libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; n],
            msgs: vec![unsafe { zeroed() }; n],
            dirty: n,
        };
        for i in 0..n {
            b.iovs[i] = libc::iovec { iov_base: b.bufs[i].as_mut_ptr().cast(), iov_len: MAX_DATAGRAM + 1 };
            let h = &mut b.msgs[i].msg_hdr;
            h.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_iov = &mut b.iovs[i];
            h.msg_iovlen = 1;
        }
        b
    }

    /// How many datagrams one `recv` can return.
    pub fn capacity(&self) -> usize {
        self.msgs.len()
    }

    /// Receives up to the batch size without blocking. Returns the count; less
    /// than `capacity()` means the socket's queue was empty when the kernel
    /// looked (with an edge-triggered epoll, the caller is done with it).
    pub fn recv(&mut self, fd: RawFd) -> usize {
        for m in &mut self.msgs[..self.dirty] {
            m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        let mut r;
        loop {
            // SAFETY: every header points at buffers owned by self, sized as declared.
            r = unsafe { libc::recvmmsg(fd, self.msgs.as_mut_ptr(), self.msgs.len() as u32, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
            // A connected socket reports an ICMP error once (now consumed):
            // the datagrams queued behind it are still to be read.
            if !(r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECONNREFUSED)) {
                break;
            }
        }
        let n = r.max(0) as usize;
        // A failed call may still have touched the first header.
        self.dirty = n.max(1);
        n
    }

    /// Length, source, and whether it was too large (truncated) for entry `i`.
    pub fn entry(&self, i: usize) -> (usize, Option<SocketAddr>, bool) {
        let m = &self.msgs[i];
        let len = m.msg_len as usize;
        let truncated = len > MAX_DATAGRAM || m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        (len.min(MAX_DATAGRAM), from_sockaddr(&self.addrs[i]), truncated)
    }
}

/// Outgoing datagrams collected during one loop turn, flushed with sendmmsg
/// (one call per run of datagrams on the same socket).
pub struct SendBatch {
    bufs: Vec<[u8; BUF_SIZE]>,
    lens: Vec<usize>,
    fds: Vec<RawFd>,
    addrs: Vec<libc::sockaddr_storage>,
    addr_lens: Vec<libc::socklen_t>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    n: usize,
    /// Datagrams sendto/sendmmsg refused (running total), and the errno
    /// of the last.
    pub errors: u64,
    pub last_error: i32,
}

// SAFETY: as for RecvBatch.
unsafe impl Send for SendBatch {}

impl SendBatch {
    pub fn new(cap: usize) -> SendBatch {
        // SAFETY: all-zero is valid for these plain C structs.
        SendBatch {
            bufs: vec![[0u8; BUF_SIZE]; cap],
            lens: vec![0; cap],
            fds: vec![-1; cap],
            addrs: vec![unsafe { zeroed() }; cap],
            addr_lens: vec![0; cap],
            iovs: vec![libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; cap],
            msgs: vec![unsafe { zeroed() }; cap],
            n: 0,
            errors: 0,
            last_error: 0,
        }
    }

    /// Queues a datagram; flushes first when full. False if it cannot be queued.
    pub fn push(&mut self, fd: RawFd, dst: &SocketAddr, data: &[u8]) -> bool {
        let Some(i) = self.queue(fd, data) else { return false };
        self.addr_lens[i] = to_sockaddr(dst, &mut self.addrs[i]);
        true
    }

    /// Queues a datagram for a connected socket (no address: the kernel
    /// uses the socket's cached route). False if it cannot be queued.
    pub fn push_connected(&mut self, fd: RawFd, data: &[u8]) -> bool {
        let Some(i) = self.queue(fd, data) else { return false };
        self.addr_lens[i] = 0;
        true
    }

    /// Copies `data` into the next entry (flushing first when full) and
    /// returns its index; the caller sets the destination.
    fn queue(&mut self, fd: RawFd, data: &[u8]) -> Option<usize> {
        if data.len() > BUF_SIZE {
            return None;
        }
        if self.n == self.bufs.len() {
            self.flush();
        }
        let i = self.n;
        self.bufs[i][..data.len()].copy_from_slice(data);
        self.lens[i] = data.len();
        self.fds[i] = fd;
        self.n += 1;
        Some(i)
    }

    fn name_of(&mut self, i: usize) -> (*mut libc::sockaddr, libc::socklen_t) {
        if self.addr_lens[i] == 0 {
            (std::ptr::null_mut(), 0)
        } else {
            ((&mut self.addrs[i] as *mut libc::sockaddr_storage).cast(), self.addr_lens[i])
        }
    }

    pub fn flush(&mut self) {
        let mut start = 0;
        while start < self.n {
            let fd = self.fds[start];
            let end = start + self.fds[start..self.n].iter().take_while(|&&f| f == fd).count();
            if end - start == 1 {
                // The usual case (each call's packets leave on their own
                // socket): sendto skips sendmmsg's msghdr and iovec copies.
                self.send_one(start);
            } else {
                self.send_run(fd, start, end);
            }
            start = end;
        }
        self.n = 0;
    }

    /// Datagrams `start..end`, all on `fd`, with as few sendmmsg calls as the kernel allows.
    fn send_run(&mut self, fd: RawFd, start: usize, end: usize) {
        for i in start..end {
            self.iovs[i] = libc::iovec { iov_base: self.bufs[i].as_mut_ptr().cast(), iov_len: self.lens[i] };
            let (name, name_len) = self.name_of(i);
            let h = &mut self.msgs[i].msg_hdr;
            h.msg_name = name.cast();
            h.msg_namelen = name_len;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        let mut off = start;
        while off < end {
            // SAFETY: headers point at our buffers; count within bounds.
            let r = unsafe { libc::sendmmsg(fd, self.msgs[off..end].as_mut_ptr(), (end - off) as u32, libc::MSG_DONTWAIT) };
            if r <= 0 {
                // Skip the datagram that failed (full buffer, unreachable...).
                self.refused();
                off += 1;
            } else {
                off += r as usize;
            }
        }
    }

    fn send_one(&mut self, i: usize) {
        let (name, name_len) = self.name_of(i);
        // SAFETY: buffer and address are ours and sized as declared.
        let r = unsafe { libc::sendto(self.fds[i], self.bufs[i].as_ptr().cast(), self.lens[i], libc::MSG_DONTWAIT, name, name_len) };
        if r < 0 {
            self.refused();
        }
    }

    fn refused(&mut self) {
        self.errors += 1;
        self.last_error = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    }
}
