//! AEAD_AES_128_GCM (RFC 7714) for libsrtp's crypto kernel on RustCrypto's
//! `aes-gcm` (AES-NI and carry-less multiply, detected at run time).
//!
//! libsrtp's OpenSSL binding spends five EVP calls per packet (IV length,
//! re-init with the IV, a dummy tag before the AAD, AAD, payload, final, tag)
//! on a context two allocations away. Here the key schedule and GHASH key sit
//! in the stream's state and a packet is one call. libsrtp gathers the AAD
//! (RTP header; SRTCP header and index) before the payload, so it is buffered
//! and the packet is sealed or opened in one go. 8-byte tags (libsrtp's
//! AEAD_AES_128_GCM_8, not offered by this engine but in libsrtp's self-test)
//! take a slower path: `aes-gcm` only verifies whole tags.
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr;
use std::sync::OnceLock;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, KeyInit, Nonce, Tag};
use srtp2_sys as sys;

use super::abi::{from_raw, into_raw, Cipher, CipherTestCase, CipherType, Status, WithState, SRTP_AES_GCM_128};
use super::recording::{record, Origin};

const KEY_LEN: usize = 16;
const SALT_LEN: usize = 12;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const SHORT_TAG_LEN: usize = 8;
const DIR_ENCRYPT: c_int = 0;
const DIR_DECRYPT: c_int = 1;

/// Per-packet fields first, the key (large: both AES key schedules and
/// GHASH's) last, as in the AES-ICM plug-in.
#[repr(C)]
struct GcmState {
    iv: [u8; IV_LEN],
    direction: c_int,
    /// The last sealed packet's tag, for `get_tag`.
    tag: [u8; TAG_LEN],
    /// Tag bytes on the wire: 16, or 8 (truncated).
    tag_len: usize,
    /// AAD of the packet in progress (reused: no allocation per packet).
    aad: Vec<u8>,
    /// Scratch for verifying truncated tags.
    scratch: Vec<u8>,
    gcm: Option<Aes128Gcm>,
}

unsafe extern "C" fn alloc(out: *mut *mut Cipher, key_len: c_int, tag_len: c_int) -> Status {
    let tag_ok = tag_len == TAG_LEN as c_int || tag_len == SHORT_TAG_LEN as c_int;
    if out.is_null() || key_len != (KEY_LEN + SALT_LEN) as c_int || !tag_ok {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let cipher = Cipher { type_: gcm_type(), state: ptr::null_mut(), key_len, algorithm: SRTP_AES_GCM_128 as c_int };
    let state = GcmState {
        gcm: None,
        iv: [0; IV_LEN],
        direction: -1,
        tag: [0; TAG_LEN],
        tag_len: tag_len as usize,
        scratch: Vec::new(),
        aad: Vec::with_capacity(64),
    };
    // Every packet also reads the AAD buffer (it stays put when the Vec
    // moves) and the GHASH key: 32 bytes that Rust may place before or after
    // the 704-byte AES key schedules, so in the state's first lines or in its
    // last line. Both reported for prefetching with the state.
    let aad = (state.aad.as_ptr(), state.aad.capacity());
    // SAFETY: libsrtp passes a valid out pointer (checked for NULL above).
    let head = unsafe {
        *out = into_raw(cipher, state);
        *out
    };
    let end = head.cast::<u8>().cast_const().wrapping_add(std::mem::size_of::<WithState<Cipher, GcmState>>());
    record(Origin::Cipher, aad.0, aad.1);
    record(Origin::Cipher, end.wrapping_sub(64), 64);
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn dealloc(cipher: *mut Cipher) -> Status {
    if cipher.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: `cipher` came from `alloc`. The key schedule is zeroed on drop
    // (aes-gcm feature zeroize).
    drop(unsafe { from_raw::<Cipher, GcmState>(cipher) });
    sys::srtp_err_status_t_srtp_err_status_ok
}

/// The state behind libsrtp's `void *`.
unsafe fn state<'a>(p: *mut c_void) -> &'a mut GcmState {
    // SAFETY: libsrtp passes back the state pointer `alloc` gave it.
    unsafe { &mut *p.cast::<GcmState>() }
}

unsafe extern "C" fn init(st: *mut c_void, key: *const u8) -> Status {
    if st.is_null() || key.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: libsrtp passes the key (at least the 16 key bytes).
    let key = unsafe { std::slice::from_raw_parts(key, KEY_LEN) };
    let s = unsafe { state(st) };
    s.gcm = Aes128Gcm::new_from_slice(key).ok();
    s.direction = -1;
    s.aad.clear();
    if s.gcm.is_some() {
        sys::srtp_err_status_t_srtp_err_status_ok
    } else {
        sys::srtp_err_status_t_srtp_err_status_init_fail
    }
}

unsafe extern "C" fn set_iv(st: *mut c_void, iv: *mut u8, direction: c_int) -> Status {
    if st.is_null() || iv.is_null() || (direction != DIR_ENCRYPT && direction != DIR_DECRYPT) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let s = unsafe { state(st) };
    // SAFETY: GCM IVs are 12 bytes.
    s.iv.copy_from_slice(unsafe { std::slice::from_raw_parts(iv, IV_LEN) });
    s.direction = direction;
    s.aad.clear();
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn set_aad(st: *mut c_void, aad: *const u8, len: u32) -> Status {
    if st.is_null() || (aad.is_null() && len > 0) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    if len > 0 {
        // SAFETY: libsrtp passes `len` readable bytes.
        unsafe { state(st) }.aad.extend_from_slice(unsafe { std::slice::from_raw_parts(aad, len as usize) });
    }
    sys::srtp_err_status_t_srtp_err_status_ok
}

/// Seals `*len` bytes in place; the tag is kept for `get_tag`.
unsafe extern "C" fn encrypt(st: *mut c_void, buf: *mut u8, len: *mut c_uint) -> Status {
    if st.is_null() || len.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let s = unsafe { state(st) };
    let n = unsafe { *len } as usize;
    if s.direction != DIR_ENCRYPT || (buf.is_null() && n > 0) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let Some(gcm) = s.gcm.as_ref() else { return sys::srtp_err_status_t_srtp_err_status_init_fail };
    // SAFETY: `n` writable bytes (none when libsrtp only wants the tag).
    let data: &mut [u8] = if n == 0 { &mut [] } else { unsafe { std::slice::from_raw_parts_mut(buf, n) } };
    let r = gcm.encrypt_in_place_detached(Nonce::from_slice(&s.iv), &s.aad, data);
    s.aad.clear();
    match r {
        Ok(tag) => {
            s.tag.copy_from_slice(&tag);
            sys::srtp_err_status_t_srtp_err_status_ok
        }
        Err(_) => sys::srtp_err_status_t_srtp_err_status_cipher_fail,
    }
}

/// Opens `*len` bytes (ciphertext then the tag) in place; `*len` loses the
/// tag. A wrong tag leaves `auth_fail` and the ciphertext untouched.
unsafe extern "C" fn decrypt(st: *mut c_void, buf: *mut u8, len: *mut c_uint) -> Status {
    if st.is_null() || len.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let s = unsafe { state(st) };
    let n = unsafe { *len } as usize;
    if s.direction != DIR_DECRYPT || n < s.tag_len || buf.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let Some(gcm) = s.gcm.as_ref() else { return sys::srtp_err_status_t_srtp_err_status_init_fail };
    // SAFETY: libsrtp passes `n` writable bytes.
    let (data, tag) = unsafe { std::slice::from_raw_parts_mut(buf, n) }.split_at_mut(n - s.tag_len);
    let nonce = Nonce::from_slice(&s.iv);
    let ok = if s.tag_len == TAG_LEN {
        gcm.decrypt_in_place_detached(nonce, &s.aad, data, Tag::from_slice(tag)).is_ok()
    } else {
        // Truncated tag: CTR is its own inverse, so sealing the ciphertext
        // yields the plaintext, and sealing a copy of that plaintext gives
        // back the ciphertext (to restore on failure) and the whole tag over
        // it, compared in constant time.
        let _ = gcm.encrypt_in_place_detached(nonce, &s.aad, data);
        s.scratch.clear();
        s.scratch.extend_from_slice(data);
        match gcm.encrypt_in_place_detached(nonce, &s.aad, &mut s.scratch) {
            Ok(full) if openssl::memcmp::eq(&full[..s.tag_len], tag) => true,
            _ => {
                data.copy_from_slice(&s.scratch);
                false
            }
        }
    };
    s.aad.clear();
    if !ok {
        return sys::srtp_err_status_t_srtp_err_status_auth_fail;
    }
    // SAFETY: len is valid (checked above).
    unsafe { *len = (n - s.tag_len) as c_uint };
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn get_tag(st: *mut c_void, out: *mut u8, len: *mut u32) -> Status {
    if st.is_null() || out.is_null() || len.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let s = unsafe { state(st) };
    // SAFETY: libsrtp leaves room for the tag length it asked for at alloc.
    unsafe {
        ptr::copy_nonoverlapping(s.tag.as_ptr(), out, s.tag_len);
        *len = s.tag_len as u32;
    }
    sys::srtp_err_status_t_srtp_err_status_ok
}

/// The type, built once: its own test vector is computed with OpenSSL's EVP
/// AES-128-GCM (an independent implementation) when first needed; libsrtp
/// runs it and its built-in GCM vector against this code before accepting it.
pub(super) fn gcm_type() -> &'static CipherType {
    static TYPE: OnceLock<&'static CipherType> = OnceLock::new();
    TYPE.get_or_init(|| {
        let key: &'static [u8] = Box::leak((0..(KEY_LEN + SALT_LEN) as u8).map(|b| b.wrapping_mul(29) ^ 0x5a).collect());
        let iv: &'static mut [u8] = Box::leak((0..IV_LEN as u8).map(|b| b.wrapping_mul(7) ^ 0xc3).collect());
        let aad: &'static [u8] = Box::leak((0..20u8).map(|b| b ^ 0x80).collect());
        let plain: &'static [u8] = Box::leak((0..60u8).map(|b| b.wrapping_mul(13)).collect());
        let mut tag = [0u8; TAG_LEN];
        let mut sealed = openssl::symm::encrypt_aead(openssl::symm::Cipher::aes_128_gcm(), &key[..KEY_LEN], Some(iv), aad, plain, &mut tag)
            .expect("OpenSSL AES-128-GCM for the self-test vector");
        sealed.extend_from_slice(&tag);
        let sealed: &'static [u8] = Box::leak(sealed.into_boxed_slice());
        let case: &'static CipherTestCase = Box::leak(Box::new(CipherTestCase {
            key_length_octets: (KEY_LEN + SALT_LEN) as c_int,
            key: key.as_ptr(),
            idx: iv.as_mut_ptr(),
            plaintext_length_octets: plain.len() as c_uint,
            plaintext: plain.as_ptr(),
            ciphertext_length_octets: sealed.len() as c_uint,
            ciphertext: sealed.as_ptr(),
            aad_length_octets: aad.len() as c_int,
            aad: aad.as_ptr(),
            tag_length_octets: TAG_LEN as c_int,
            next_test_case: ptr::null(),
        }));
        Box::leak(Box::new(CipherType {
            alloc,
            dealloc,
            init,
            set_aad: Some(set_aad),
            encrypt,
            decrypt,
            set_iv,
            get_tag: Some(get_tag),
            description: c"AES-128-GCM on RustCrypto aes-gcm (esbc)".as_ptr() as *const c_char,
            test_data: case,
            id: SRTP_AES_GCM_128,
        }))
    })
}
