//! HMAC-SHA1 for libsrtp's crypto kernel, on OpenSSL's SHA-1 block function.
//!
//! libsrtp's own OpenSSL binding restarts an `HMAC_CTX` per packet
//! (`HMAC_Init_ex` with no key = `EVP_MD_CTX_copy_ex` through the provider
//! layer, twice per tag), spread over seven heap objects. This one keeps the
//! key's inner and outer pad states precomputed in one allocation and starts a
//! packet by copying 96 bytes: same HMAC (RFC 2104), fewer cold cache lines.
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use openssl_sys as ossl;
use srtp2_sys as sys;

use super::abi::{from_raw, into_raw, Auth, AuthTestCase, AuthType, Status, SRTP_HMAC_SHA1};

const DIGEST_LEN: usize = 20;
const BLOCK_LEN: usize = 64;

/// Per-stream state: the pad states absorbed once at key set-up, and the
/// running state of the packet being authenticated.
#[repr(C)]
struct HmacState {
    inner: ossl::SHA_CTX,
    outer: ossl::SHA_CTX,
    work: ossl::SHA_CTX,
}

/// SHA_CTX is plain integers; openssl-sys just does not derive Copy for it.
fn copy_state(dst: &mut ossl::SHA_CTX, src: &ossl::SHA_CTX) {
    // SAFETY: two distinct, valid SHA_CTX values.
    unsafe { ptr::copy_nonoverlapping(src, dst, 1) };
}

unsafe extern "C" fn alloc(out: *mut *mut Auth, key_len: c_int, out_len: c_int) -> Status {
    if out.is_null() || !(0..=DIGEST_LEN as c_int).contains(&out_len) || key_len < 0 {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: SHA_CTX is plain integers; zero is a valid (not yet keyed) value.
    let state: HmacState = unsafe { std::mem::zeroed() };
    let auth = Auth { type_: &HMAC_SHA1, state: ptr::null_mut(), out_len, key_len, prefix_len: 0 };
    // SAFETY: libsrtp passes a valid out pointer (checked for NULL above).
    unsafe { *out = into_raw(auth, state) };
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn dealloc(auth: *mut Auth) -> Status {
    if auth.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: `auth` came from `alloc`.
    let mut boxed = unsafe { from_raw::<Auth, HmacState>(auth) };
    // The pad states are key material.
    // SAFETY: writing zeroes over plain integer state we own.
    unsafe { ptr::write_volatile(&mut boxed.state, std::mem::zeroed()) };
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
    let mut block = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        // RFC 2104: longer keys are hashed first.
        let mut ctx = unsafe { std::mem::zeroed::<ossl::SHA_CTX>() };
        // SAFETY: ctx and block are local; lengths are exact.
        unsafe {
            ossl::SHA1_Init(&mut ctx);
            ossl::SHA1_Update(&mut ctx, key.as_ptr().cast(), key.len());
            ossl::SHA1_Final(block.as_mut_ptr(), &mut ctx);
        }
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let absorb = |ctx: &mut ossl::SHA_CTX, pad: u8| {
        let padded: [u8; BLOCK_LEN] = std::array::from_fn(|i| block[i] ^ pad);
        // SAFETY: ctx is owned state; padded is one whole block.
        unsafe {
            ossl::SHA1_Init(ctx);
            ossl::SHA1_Update(ctx, padded.as_ptr().cast(), BLOCK_LEN);
        }
    };
    absorb(&mut state.inner, 0x36);
    absorb(&mut state.outer, 0x5c);
    copy_state(&mut state.work, &state.inner);
    block.fill(0);
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn start(state: *mut c_void) -> Status {
    // SAFETY: the state from `alloc`.
    let state = unsafe { &mut *state.cast::<HmacState>() };
    copy_state(&mut state.work, &state.inner);
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn update(state: *mut c_void, data: *const u8, len: c_int) -> Status {
    if len < 0 || (data.is_null() && len > 0) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: the state from `alloc`; libsrtp passes `len` readable bytes.
    unsafe { ossl::SHA1_Update(&mut (*state.cast::<HmacState>()).work, data.cast(), len as usize) };
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn compute(
    state: *mut c_void,
    data: *const u8,
    len: c_int,
    tag_len: c_int,
    tag: *mut u8,
) -> Status {
    if !(0..=DIGEST_LEN as c_int).contains(&tag_len) || tag.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: as in `update`.
    let status = unsafe { update(state, data, len) };
    if status != sys::srtp_err_status_t_srtp_err_status_ok {
        return status;
    }
    // SAFETY: the state from `alloc`; `tag` has room for `tag_len` bytes.
    unsafe {
        let state = &mut *state.cast::<HmacState>();
        let mut digest = [0u8; DIGEST_LEN];
        ossl::SHA1_Final(digest.as_mut_ptr(), &mut state.work);
        copy_state(&mut state.work, &state.outer);
        ossl::SHA1_Update(&mut state.work, digest.as_ptr().cast(), DIGEST_LEN);
        ossl::SHA1_Final(digest.as_mut_ptr(), &mut state.work);
        ptr::copy_nonoverlapping(digest.as_ptr(), tag, tag_len as usize);
    }
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
