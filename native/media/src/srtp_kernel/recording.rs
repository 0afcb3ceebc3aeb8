//! Where a libsrtp session's per-packet state lives, so the worker can start
//! loading it before the receive system call (see `HotState::prefetch`).
//!
//! libsrtp reaches a packet's keys through a chain of separate allocations
//! (session -> stream -> session keys -> cipher, auth, key limit; the replay
//! bitmap), each a cache miss once the kernel's work between two packets of a
//! call has evicted it, and each miss waits for the one before. We learn the
//! addresses as they are allocated instead of reading libsrtp's private
//! structs: the plug-ins report theirs, and libsrtp's own allocator
//! (`srtp_crypto_alloc`, a calloc) is wrapped at link time
//! (`-Wl,--wrap=srtp_crypto_alloc`, set by the addon's build script). Without
//! the wrap only the plug-in states are known; nothing else changes.
use std::cell::RefCell;
use std::os::raw::{c_int, c_void};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// libsrtp's own structures (session, stream, keys, key limit, bitmaps,
    /// its built-in null auth).
    Libsrtp,
    /// A cipher plug-in's state, or a part of it reported right after it.
    Cipher,
    /// An auth plug-in's state.
    Auth,
}

#[derive(Clone, Copy, Debug)]
pub struct Region {
    pub origin: Origin,
    pub start: *const u8,
    pub len: usize,
}

thread_local! {
    static RECORDED: RefCell<Option<Vec<Region>>> = const { RefCell::new(None) };
}

/// Runs `f` (a libsrtp call) and returns the allocations it made, in order.
pub fn record_allocations<R>(f: impl FnOnce() -> R) -> (R, Vec<Region>) {
    RECORDED.with(|r| *r.borrow_mut() = Some(Vec::new()));
    let out = f();
    let regions = RECORDED.with(|r| r.borrow_mut().take()).unwrap_or_default();
    (out, regions)
}

pub fn record(origin: Origin, start: *const u8, len: usize) {
    let _ = RECORDED.try_with(|r| {
        if let Ok(mut g) = r.try_borrow_mut() {
            if let Some(v) = g.as_mut() {
                v.push(Region { origin, start, len });
            }
        }
    });
}

/// libsrtp 2.3's `srtp_crypto_alloc`, recording what it hands out. Used only
/// where the link wraps the original.
#[no_mangle]
pub extern "C" fn __wrap_srtp_crypto_alloc(size: usize) -> *mut c_void {
    if size == 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: plain calloc, freed by libsrtp's srtp_crypto_free (free).
    let p = unsafe { libc::calloc(1, size) };
    if !p.is_null() {
        record(Origin::Libsrtp, p.cast::<u8>().cast_const(), size);
    }
    p
}

/// `srtp_key_limit_ctx_t` (crypto/include/key.h): only its size is used, to
/// recognise the key-usage limit among a session's allocations.
#[repr(C)]
struct KeyLimitCtx {
    _num_left: u64,
    _state: c_int,
}

/// libsrtp's null auth (crypto/hash/null_auth.c, AEAD profiles' RTP auth):
/// an `srtp_auth_t` and a one-byte context in one allocation; recognised by
/// that size.
const NULL_AUTH_LEN: usize = std::mem::size_of::<super::abi::Auth>() + 1;

/// Runs of lines one packet of a session reads: session, cipher (GCM: with
/// its AAD buffer and GHASH key), auth, key limit, stream, stream keys,
/// replay bitmap; adjacent allocations share a run. Eight runs' addresses
/// fill one cache line, which `prefetch` reads first.
const HOT_MAX: usize = 8;
/// Lines taken from the start of one allocation, at most (AES counter and
/// round keys; a 1024-bit replay bitmap).
const LINES_PER_REGION: usize = 6;

/// The allocations protecting or unprotecting one RTP packet reads, as runs
/// of cache lines: each entry is a line address with the run's length in its
/// low six bits (0: no entry).
#[derive(Clone, Copy)]
pub struct HotState {
    runs: [usize; HOT_MAX],
    /// Allocations recorded (tests: the link wrap and plug-in reports work).
    regions: u8,
}

impl HotState {
    /// From what `srtp_create` allocated, in order: the session; the RTP
    /// cipher (libsrtp allocates RTP cipher and auth before RTCP's: the
    /// first run of cipher regions); the RTP auth (the first auth plug-in, or
    /// for AEAD profiles libsrtp's null auth); the key-usage limit the stream
    /// clones share. A profile on libsrtp's own crypto has no plug-in regions.
    pub fn from_create(session: *const u8, regions: &[Region]) -> HotState {
        let mut h = HotState { runs: [0; HOT_MAX], regions: 0 };
        // srtp_ctx_t: the stream list, the template, the user data.
        h.push(session, 3 * std::mem::size_of::<usize>());
        let first_cipher = regions.iter().skip_while(|r| r.origin != Origin::Cipher);
        for r in first_cipher.take_while(|r| r.origin == Origin::Cipher) {
            h.push_region(r);
        }
        let is_auth = |r: &&Region| r.origin == Origin::Auth || (r.origin == Origin::Libsrtp && r.len == NULL_AUTH_LEN);
        if let Some(r) = regions.iter().find(is_auth) {
            h.push_region(r);
        }
        let limit = std::mem::size_of::<KeyLimitCtx>();
        if let Some(r) = regions.iter().find(|r| r.origin == Origin::Libsrtp && r.len == limit) {
            h.push_region(r);
        }
        h
    }

    /// Adds what the first packet's stream clone allocated (the stream, its
    /// keys, its replay bitmap): all of it is read by every packet.
    pub fn add_stream(&mut self, regions: &[Region]) {
        for r in regions.iter().filter(|r| r.origin == Origin::Libsrtp) {
            self.push_region(r);
        }
    }

    fn push_region(&mut self, r: &Region) {
        self.push(r.start, r.len.min(LINES_PER_REGION * 64));
    }

    /// Adds the lines of `len` bytes at `start`, extending the last run when
    /// they touch it; beyond HOT_MAX runs the rest is left to demand misses.
    fn push(&mut self, start: *const u8, len: usize) {
        self.regions = self.regions.saturating_add(1);
        let first = start as usize & !63;
        let lines = ((start as usize + len.max(1)).div_ceil(64) * 64 - first) / 64;
        let n = self.runs.iter().take_while(|&&r| r != 0).count();
        if let Some(last) = n.checked_sub(1).map(|i| &mut self.runs[i]) {
            let (at, len) = (*last & !63, *last & 63);
            if first >= at && first <= at + len * 64 {
                let end = (first + lines * 64).max(at + len * 64);
                *last = at | ((end - at) / 64).min(63);
                return;
            }
        }
        if n < HOT_MAX {
            self.runs[n] = first | lines.min(63);
        }
    }

    /// Starts loading every recorded line (a prefetch never faults, even on
    /// memory libsrtp has since freed).
    #[inline]
    pub fn prefetch(&self) {
        for &r in &self.runs {
            for l in 0..r & 63 {
                crate::sys::prefetch(((r & !63) + l * 64) as *const u8);
            }
        }
    }

    /// How many allocations are known (tests: the link wrap took effect).
    pub fn regions(&self) -> usize {
        self.regions as usize
    }
}
