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

/// Allocations one packet of a session reads: session, cipher (GCM: with
/// its AAD buffer and GHASH key), auth, key limit, stream, stream keys,
/// replay bitmap.
const HOT_MAX: usize = 10;
/// Lines taken from the start of one allocation, at most (AES counter and
/// round keys; HMAC's inner, outer and work SHA-1 states; a 1024-bit replay
/// bitmap).
const LINES_PER_REGION: usize = 6;

/// The allocations protecting or unprotecting one RTP packet reads.
#[derive(Clone, Copy)]
pub struct HotState {
    starts: [*const u8; HOT_MAX],
    lines: [u8; HOT_MAX],
    n: u8,
}

impl HotState {
    /// From what `srtp_create` allocated, in order: the session; the RTP
    /// cipher (libsrtp allocates RTP cipher and auth before RTCP's: the
    /// first run of cipher regions); the RTP auth (the first auth plug-in, or
    /// for AEAD profiles libsrtp's null auth); the key-usage limit the stream
    /// clones share. A profile on libsrtp's own crypto has no plug-in regions.
    pub fn from_create(session: *const u8, regions: &[Region]) -> HotState {
        let mut h = HotState { starts: [std::ptr::null(); HOT_MAX], lines: [0; HOT_MAX], n: 0 };
        h.push(session, 1);
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
        self.push(r.start, r.len.div_ceil(64).min(LINES_PER_REGION));
    }

    fn push(&mut self, start: *const u8, lines: usize) {
        let i = self.n as usize;
        if i < HOT_MAX {
            self.starts[i] = start;
            self.lines[i] = lines as u8;
            self.n += 1;
        }
    }

    /// Starts loading every recorded line (a prefetch never faults, even on
    /// memory libsrtp has since freed).
    #[inline]
    pub fn prefetch(&self) {
        for i in 0..self.n as usize {
            for l in 0..self.lines[i] as usize {
                crate::sys::prefetch(self.starts[i].wrapping_add(l * 64));
            }
        }
    }

    /// How many allocations are known (tests: the link wrap took effect).
    pub fn regions(&self) -> usize {
        self.n as usize
    }
}
