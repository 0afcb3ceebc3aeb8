//! HMAC-SHA1 for libsrtp's crypto kernel, on OpenSSL's SHA-1 block function.
//!
//! libsrtp's own OpenSSL binding restarts an `HMAC_CTX` per packet
//! (`HMAC_Init_ex` with no key = `EVP_MD_CTX_copy_ex` through the provider
//! layer, twice per tag), spread over seven heap objects. This one keeps only
//! the key's inner and outer pad states (two SHA-1 chaining values, 40 bytes)
//! per stream and hashes each packet in a per-thread work state: a packet
//! reads two lines of the stream's state and writes none (the work state
//! stays in L1). Same HMAC (RFC 2104).
use std::cell::UnsafeCell;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use openssl_sys as ossl;
use srtp2_sys as sys;

use super::abi::{from_raw, into_raw, Auth, AuthTestCase, AuthType, Status, SRTP_HMAC_SHA1};

const DIGEST_LEN: usize = 20;
const BLOCK_LEN: usize = 64;

/// Per-stream state: the SHA-1 chaining values after absorbing key ^ ipad and
/// key ^ opad (one block each), computed once at key set-up.
#[repr(C)]
struct HmacState {
    inner: [u32; 5],
    outer: [u32; 5],
}

/// The packet being authenticated on this thread. libsrtp calls `start`,
/// `update` and `compute` for one tag in a row on one thread (protect and
/// unprotect are synchronous), so one work state per thread serves every
/// stream; `owner` says whose packet it holds, so an `update` or `compute`
/// without `start` (libsrtp's self-test after `init`) begins from the pads.
struct Work {
    owner: *const HmacState,
    ctx: ossl::SHA_CTX,
}

thread_local! {
    // SAFETY (zeroed): SHA_CTX is plain integers; a null owner means "none".
    static WORK: UnsafeCell<Work> = const { UnsafeCell::new(unsafe { std::mem::zeroed() }) };
}

/// A SHA-1 context that has absorbed exactly one block and stopped at `h`.
fn resume_after_one_block(ctx: &mut ossl::SHA_CTX, h: &[u32; 5]) {
    [ctx.h0, ctx.h1, ctx.h2, ctx.h3, ctx.h4] = *h;
    ctx.Nl = (BLOCK_LEN * 8) as u32;
    ctx.Nh = 0;
    ctx.num = 0;
}

/// Runs `f` on this thread's work state, begun from `state`'s inner pad
/// unless it already holds `state`'s packet.
fn with_work<R>(state: *const HmacState, f: impl FnOnce(&mut Work) -> R) -> R {
    WORK.with(|w| {
        // SAFETY: thread-local, and never re-entered: `f` only calls
        // OpenSSL's SHA-1; `state` is a live state from `alloc`.
        let w = unsafe { &mut *w.get() };
        if w.owner != state {
            resume_after_one_block(&mut w.ctx, unsafe { &(*state).inner });
            w.owner = state;
        }
        f(w)
    })
}

unsafe extern "C" fn alloc(out: *mut *mut Auth, key_len: c_int, out_len: c_int) -> Status {
    if out.is_null() || !(0..=DIGEST_LEN as c_int).contains(&out_len) || key_len < 0 {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let state = HmacState { inner: [0; 5], outer: [0; 5] };
    let auth = Auth { type_: &HMAC_SHA1, state: ptr::null_mut(), out_len, key_len, prefix_len: 0 };
    // SAFETY: libsrtp passes a valid out pointer (checked for NULL above).
    unsafe { *out = into_raw(auth, state) };
    sys::srtp_err_status_t_srtp_err_status_ok
}

/// Forgets this thread's packet if it is `state`'s (the state is re-keyed or
/// freed; a later state at the same address must start from its own pads).
fn release_work(state: *const HmacState) {
    let _ = WORK.try_with(|w| {
        // SAFETY: thread-local, not re-entered.
        let w = unsafe { &mut *w.get() };
        if w.owner == state {
            w.owner = ptr::null();
        }
    });
}

unsafe extern "C" fn dealloc(auth: *mut Auth) -> Status {
    if auth.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: `auth` came from `alloc`.
    let mut boxed = unsafe { from_raw::<Auth, HmacState>(auth) };
    release_work(&boxed.state);
    // The pad states are key material.
    // SAFETY: writing zeroes over plain integer state we own.
    unsafe { ptr::write_volatile(&mut boxed.state, HmacState { inner: [0; 5], outer: [0; 5] }) };
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn init(state: *mut c_void, key: *const u8, key_len: c_int) -> Status {
    if state.is_null() || (key.is_null() && key_len > 0) || key_len < 0 {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: libsrtp passes the state from `alloc` and `key_len` readable bytes.
    let (state, key) = unsafe {
        (&mut *state.cast::<HmacState>(), std::slice::from_raw_parts(key, key_len as usize))
    };
    release_work(state);
    let mut block = [0u8; BLOCK_LEN];
    // SAFETY: SHA_CTX is plain integers; SHA1_Init sets every field used.
    let mut ctx = unsafe { std::mem::zeroed::<ossl::SHA_CTX>() };
    if key.len() > BLOCK_LEN {
        // RFC 2104: longer keys are hashed first.
        // SAFETY: ctx and block are local; lengths are exact.
        unsafe {
            ossl::SHA1_Init(&mut ctx);
            ossl::SHA1_Update(&mut ctx, key.as_ptr().cast(), key.len());
            ossl::SHA1_Final(block.as_mut_ptr(), &mut ctx);
        }
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut absorb = |pad: u8| -> [u32; 5] {
        let padded: [u8; BLOCK_LEN] = std::array::from_fn(|i| block[i] ^ pad);
        // SAFETY: ctx is local; padded is one whole block.
        unsafe {
            ossl::SHA1_Init(&mut ctx);
            ossl::SHA1_Update(&mut ctx, padded.as_ptr().cast(), BLOCK_LEN);
        }
        [ctx.h0, ctx.h1, ctx.h2, ctx.h3, ctx.h4]
    };
    state.inner = absorb(0x36);
    state.outer = absorb(0x5c);
    block.fill(0);
    // SAFETY: plain integers in a local we own.
    unsafe { ptr::write_volatile(&mut ctx, std::mem::zeroed()) };
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn start(state: *mut c_void) -> Status {
    let state = state.cast::<HmacState>().cast_const();
    WORK.with(|w| {
        // SAFETY: thread-local, not re-entered; `state` is from `alloc`.
        let w = unsafe { &mut *w.get() };
        resume_after_one_block(&mut w.ctx, unsafe { &(*state).inner });
        w.owner = state;
    });
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn update(state: *mut c_void, data: *const u8, len: c_int) -> Status {
    if len < 0 || (data.is_null() && len > 0) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: libsrtp passes `len` readable bytes.
    with_work(state.cast(), |w| unsafe { ossl::SHA1_Update(&mut w.ctx, data.cast(), len as usize) });
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn compute(
    state: *mut c_void,
    data: *const u8,
    len: c_int,
    tag_len: c_int,
    tag: *mut u8,
) -> Status {
    if !(0..=DIGEST_LEN as c_int).contains(&tag_len) || tag.is_null() || len < 0 || (data.is_null() && len > 0) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let state = state.cast::<HmacState>().cast_const();
    with_work(state, |w| {
        let mut digest = [0u8; DIGEST_LEN];
        // SAFETY: libsrtp passes `len` readable bytes and room for `tag_len`
        // bytes at `tag`; `state` is from `alloc`.
        unsafe {
            ossl::SHA1_Update(&mut w.ctx, data.cast(), len as usize);
            ossl::SHA1_Final(digest.as_mut_ptr(), &mut w.ctx);
            resume_after_one_block(&mut w.ctx, &(*state).outer);
            ossl::SHA1_Update(&mut w.ctx, digest.as_ptr().cast(), DIGEST_LEN);
            ossl::SHA1_Final(digest.as_mut_ptr(), &mut w.ctx);
            ptr::copy_nonoverlapping(digest.as_ptr(), tag, tag_len as usize);
        }
        // The next packet starts from the pads; no key-derived chaining
        // value is left behind on the thread.
        w.owner = ptr::null();
        resume_after_one_block(&mut w.ctx, &[0; 5]);
    });
    sys::srtp_err_status_t_srtp_err_status_ok
}

// RFC 2202 test case 1 (libsrtp runs it, and its built-in type's cases, before
// accepting the replacement).
static TEST_KEY: [u8; 20] = [0x0b; 20];
static TEST_DATA: [u8; 8] = *b"Hi There";
static TEST_TAG: [u8; 20] = [
    0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e,
    0xf1, 0x46, 0xbe, 0x00,
];
static TEST_CASE: AuthTestCase = AuthTestCase {
    key_length_octets: 20,
    key: TEST_KEY.as_ptr(),
    data_length_octets: 8,
    data: TEST_DATA.as_ptr(),
    tag_length_octets: 20,
    tag: TEST_TAG.as_ptr(),
    next_test_case: ptr::null(),
};

pub(super) static HMAC_SHA1: AuthType = AuthType {
    alloc,
    dealloc,
    init,
    compute,
    update,
    start,
    description: c"HMAC-SHA1 with precomputed pads (esbc, OpenSSL SHA-1)".as_ptr() as *const c_char,
    test_data: &TEST_CASE,
    id: SRTP_HMAC_SHA1,
};
