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

use aes::Aes128Enc;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{AesGcm, KeyInit, Nonce, Tag};
use srtp2_sys as sys;

use super::abi::{from_raw, into_raw_hot, Cipher, CipherTestCase, CipherType, Status, WithState, SRTP_AES_GCM_128};
use super::recording::{record, Origin};

const KEY_LEN: usize = 16;
const SALT_LEN: usize = 12;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const SHORT_TAG_LEN: usize = 8;
const DIR_ENCRYPT: c_int = 0;
const DIR_DECRYPT: c_int = 1;

/// AES-128-GCM with only the encryption key schedule: GCM runs AES forwards
/// in both directions (`Aes128Gcm` carries the decryption schedule too).
type Gcm = AesGcm<Aes128Enc, U12>;

/// AAD kept inline: an RTP header with a few CSRCs or header extensions
/// (SRTCP's is 12 bytes); a longer one spills to `Cold::aad`.
const AAD_INLINE: usize = 64;

/// Per-packet fields first (the AAD inline), then the key: `Gcm` leads with
/// its AES-NI round keys or with its 32-byte GHASH key, Rust decides, and
/// the other follows the ~700-byte software AES schedule, so a packet reads
/// the first `HOT_BYTES` and the last 32 bytes of `gcm` (both recorded for
/// prefetching).
#[repr(C)]
struct GcmState {
    iv: [u8; IV_LEN],
    direction: c_int,
    /// The last sealed packet's tag, for `get_tag`.
    tag: [u8; TAG_LEN],
    /// Tag bytes on the wire: 16, or 8 (truncated).
    tag_len: u8,
    keyed: bool,
    /// AAD of the packet in progress: `aad_len` bytes of `aad`, or all of
    /// `cold.aad` when `spilled`.
    spilled: bool,
    aad_len: u8,
    aad: [u8; AAD_INLINE],
    cold: Box<Cold>,
    /// An all-zero key until `init` (`keyed`).
    gcm: Gcm,
}

/// What only unusual packets need.
#[derive(Default)]
struct Cold {
    /// AAD longer than `AAD_INLINE`.
    aad: Vec<u8>,
    /// Scratch for verifying truncated tags.
    scratch: Vec<u8>,
}

/// Leading bytes of the allocation a packet reads: the cipher object, the
/// fields above, and 208 bytes of `gcm` (GHASH key and AES-NI round keys, in
/// either order).
const HOT_BYTES: usize = std::mem::offset_of!(WithState<Cipher, GcmState>, state) + std::mem::offset_of!(GcmState, gcm) + 32 + 176;

impl GcmState {
    fn push_aad(&mut self, data: &[u8]) {
        let len = self.aad_len as usize;
        if !self.spilled && len + data.len() <= AAD_INLINE {
            self.aad[len..len + data.len()].copy_from_slice(data);
            self.aad_len += data.len() as u8;
            return;
        }
        if !self.spilled {
            self.cold.aad.clear();
            self.cold.aad.extend_from_slice(&self.aad[..len]);
            self.spilled = true;
        }
        self.cold.aad.extend_from_slice(data);
    }

    fn clear_aad(&mut self) {
        self.aad_len = 0;
        self.spilled = false;
    }
}

/// The AAD gathered so far: the inline bytes, or the spilled copy (fields
/// passed apart so the caller may borrow the rest of the state meanwhile).
fn aad_of<'a>(spilled: bool, inline: &'a [u8], long: &'a [u8]) -> &'a [u8] {
    if spilled {
        long
    } else {
        inline
    }
}

unsafe extern "C" fn alloc(out: *mut *mut Cipher, key_len: c_int, tag_len: c_int) -> Status {
    let tag_ok = tag_len == TAG_LEN as c_int || tag_len == SHORT_TAG_LEN as c_int;
    if out.is_null() || key_len != (KEY_LEN + SALT_LEN) as c_int || !tag_ok {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let cipher = Cipher { type_: gcm_type(), state: ptr::null_mut(), key_len, algorithm: SRTP_AES_GCM_128 as c_int };
    let state = GcmState {
        iv: [0; IV_LEN],
        direction: -1,
        tag: [0; TAG_LEN],
        tag_len: tag_len as u8,
        keyed: false,
        spilled: false,
        aad_len: 0,
        aad: [0; AAD_INLINE],
        cold: Box::default(),
        gcm: Gcm::new(&Default::default()),
    };
    // SAFETY: libsrtp passes a valid out pointer (checked for NULL above).
    let head = unsafe {
        *out = into_raw_hot(cipher, state, HOT_BYTES);
        *out
    };
    // The end of `gcm`, not of the allocation (padded to whole lines).
    let gcm_end = std::mem::offset_of!(WithState<Cipher, GcmState>, state) + std::mem::offset_of!(GcmState, gcm) + std::mem::size_of::<Gcm>();
    record(Origin::Cipher, head.cast::<u8>().cast_const().wrapping_add(gcm_end - 32), 32);
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
    match Gcm::new_from_slice(key) {
        Ok(gcm) => s.gcm = gcm,
        Err(_) => return sys::srtp_err_status_t_srtp_err_status_init_fail,
    }
    s.keyed = true;
    s.direction = -1;
    s.clear_aad();
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn set_iv(st: *mut c_void, iv: *mut u8, direction: c_int) -> Status {
    if st.is_null() || iv.is_null() || (direction != DIR_ENCRYPT && direction != DIR_DECRYPT) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let s = unsafe { state(st) };
    // SAFETY: GCM IVs are 12 bytes.
    s.iv.copy_from_slice(unsafe { std::slice::from_raw_parts(iv, IV_LEN) });
    s.direction = direction;
    s.clear_aad();
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn set_aad(st: *mut c_void, aad: *const u8, len: u32) -> Status {
    if st.is_null() || (aad.is_null() && len > 0) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    if len > 0 {
        // SAFETY: libsrtp passes `len` readable bytes.
        unsafe { state(st) }.push_aad(unsafe { std::slice::from_raw_parts(aad, len as usize) });
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
    if !s.keyed {
        return sys::srtp_err_status_t_srtp_err_status_init_fail;
    }
    // SAFETY: `n` writable bytes (none when libsrtp only wants the tag).
    let data: &mut [u8] = if n == 0 { &mut [] } else { unsafe { std::slice::from_raw_parts_mut(buf, n) } };
    let aad = aad_of(s.spilled, &s.aad[..s.aad_len as usize], &s.cold.aad);
    let r = s.gcm.encrypt_in_place_detached(Nonce::from_slice(&s.iv), aad, data);
    s.clear_aad();
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
    let tag_len = s.tag_len as usize;
    if s.direction != DIR_DECRYPT || n < tag_len || buf.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    if !s.keyed {
        return sys::srtp_err_status_t_srtp_err_status_init_fail;
    }
    // SAFETY: libsrtp passes `n` writable bytes.
    let (data, tag) = unsafe { std::slice::from_raw_parts_mut(buf, n) }.split_at_mut(n - tag_len);
    let nonce = Nonce::from_slice(&s.iv);
    let GcmState { spilled, aad, aad_len, cold, gcm, .. } = s;
    let Cold { aad: long_aad, scratch } = &mut **cold;
    let aad = aad_of(*spilled, &aad[..*aad_len as usize], long_aad);
    let ok = if tag_len == TAG_LEN {
        gcm.decrypt_in_place_detached(nonce, aad, data, Tag::from_slice(tag)).is_ok()
    } else {
        // Truncated tag: CTR is its own inverse, so sealing the ciphertext
        // yields the plaintext, and sealing a copy of that plaintext gives
        // back the ciphertext (to restore on failure) and the whole tag over
        // it, compared in constant time.
        let _ = gcm.encrypt_in_place_detached(nonce, aad, data);
        scratch.clear();
        scratch.extend_from_slice(data);
        match gcm.encrypt_in_place_detached(nonce, aad, scratch) {
            Ok(full) if openssl::memcmp::eq(&full[..tag_len], tag) => true,
            _ => {
                data.copy_from_slice(scratch);
                false
            }
        }
    };
    s.clear_aad();
    if !ok {
        return sys::srtp_err_status_t_srtp_err_status_auth_fail;
    }
    // SAFETY: len is valid (checked above).
    unsafe { *len = (n - tag_len) as c_uint };
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn get_tag(st: *mut c_void, out: *mut u8, len: *mut u32) -> Status {
    if st.is_null() || out.is_null() || len.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let s = unsafe { state(st) };
    // SAFETY: libsrtp leaves room for the tag length it asked for at alloc.
    unsafe {
        ptr::copy_nonoverlapping(s.tag.as_ptr(), out, s.tag_len as usize);
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
