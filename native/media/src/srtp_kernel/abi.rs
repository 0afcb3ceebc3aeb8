//! The parts of libsrtp 2's crypto-kernel ABI (crypto/include/auth.h and
//! cipher.h, libsrtp 2.3) that plug-ins implement; not in srtp2-sys's bindings.
//! Field order and types must match the C headers exactly.
use std::os::raw::{c_char, c_int, c_uint, c_void};

pub type Status = srtp2_sys::srtp_err_status_t;

pub const SRTP_AES_ICM_128: u32 = 1;
pub const SRTP_HMAC_SHA1: u32 = 3;
pub const SRTP_AES_GCM_128: u32 = 6;

/// `srtp_auth_t`
#[repr(C)]
pub struct Auth {
    pub type_: *const AuthType,
    pub state: *mut c_void,
    pub out_len: c_int,
    pub key_len: c_int,
    pub prefix_len: c_int,
}

/// `srtp_auth_test_case_t`
#[repr(C)]
pub struct AuthTestCase {
    pub key_length_octets: c_int,
    pub key: *const u8,
    pub data_length_octets: c_int,
    pub data: *const u8,
    pub tag_length_octets: c_int,
    pub tag: *const u8,
    pub next_test_case: *const AuthTestCase,
}

/// `srtp_auth_type_t`
#[repr(C)]
pub struct AuthType {
    pub alloc: unsafe extern "C" fn(*mut *mut Auth, c_int, c_int) -> Status,
    pub dealloc: unsafe extern "C" fn(*mut Auth) -> Status,
    pub init: unsafe extern "C" fn(*mut c_void, *const u8, c_int) -> Status,
    pub compute: unsafe extern "C" fn(*mut c_void, *const u8, c_int, c_int, *mut u8) -> Status,
    pub update: unsafe extern "C" fn(*mut c_void, *const u8, c_int) -> Status,
    pub start: unsafe extern "C" fn(*mut c_void) -> Status,
    pub description: *const c_char,
    pub test_data: *const AuthTestCase,
    pub id: u32,
}

/// `srtp_cipher_t`
#[repr(C)]
pub struct Cipher {
    pub type_: *const CipherType,
    pub state: *mut c_void,
    pub key_len: c_int,
    pub algorithm: c_int,
}

/// `srtp_cipher_test_case_t`
#[repr(C)]
pub struct CipherTestCase {
    pub key_length_octets: c_int,
    pub key: *const u8,
    pub idx: *mut u8,
    pub plaintext_length_octets: c_uint,
    pub plaintext: *const u8,
    pub ciphertext_length_octets: c_uint,
    pub ciphertext: *const u8,
    pub aad_length_octets: c_int,
    pub aad: *const u8,
    pub tag_length_octets: c_int,
    pub next_test_case: *const CipherTestCase,
}

/// `srtp_cipher_type_t`
#[repr(C)]
pub struct CipherType {
    pub alloc: unsafe extern "C" fn(*mut *mut Cipher, c_int, c_int) -> Status,
    pub dealloc: unsafe extern "C" fn(*mut Cipher) -> Status,
    pub init: unsafe extern "C" fn(*mut c_void, *const u8) -> Status,
    /// NULL for ciphers without associated data (libsrtp checks).
    pub set_aad: Option<unsafe extern "C" fn(*mut c_void, *const u8, u32) -> Status>,
    pub encrypt: unsafe extern "C" fn(*mut c_void, *mut u8, *mut c_uint) -> Status,
    pub decrypt: unsafe extern "C" fn(*mut c_void, *mut u8, *mut c_uint) -> Status,
    pub set_iv: unsafe extern "C" fn(*mut c_void, *mut u8, c_int) -> Status,
    pub get_tag: Option<unsafe extern "C" fn(*mut c_void, *mut u8, *mut u32) -> Status>,
    pub description: *const c_char,
    pub test_data: *const CipherTestCase,
    pub id: u32,
}

// SAFETY: these describe immutable static tables (function pointers and
// pointers to static test vectors); libsrtp only reads them.
unsafe impl Sync for AuthType {}
unsafe impl Sync for AuthTestCase {}
unsafe impl Sync for CipherType {}
unsafe impl Sync for CipherTestCase {}

/// A libsrtp object (`srtp_auth_t` / `srtp_cipher_t`) and its plug-in's
/// state in one allocation; the object's `state` points at the second field.
/// Line-aligned, so what a packet reads of it spans as few lines as it can.
#[repr(C, align(64))]
pub struct WithState<H, S> {
    pub head: H,
    pub state: S,
}

/// The libsrtp objects that carry a `void *state`.
pub trait HasState {
    /// Recorded as (for prefetching, see recording::HotState).
    const ORIGIN: super::recording::Origin;
    fn set_state(&mut self, state: *mut c_void);
}

impl HasState for Auth {
    const ORIGIN: super::recording::Origin = super::recording::Origin::Auth;
    fn set_state(&mut self, state: *mut c_void) {
        self.state = state;
    }
}

impl HasState for Cipher {
    const ORIGIN: super::recording::Origin = super::recording::Origin::Cipher;
    fn set_state(&mut self, state: *mut c_void) {
        self.state = state;
    }
}

/// Allocates `head` and `state` together and returns the pointer libsrtp
/// keeps (freed by `from_raw` in the plug-in's dealloc).
pub fn into_raw<H: HasState, S>(head: H, state: S) -> *mut H {
    into_raw_hot(head, state, std::mem::size_of::<WithState<H, S>>())
}

/// `into_raw`, telling the prefetcher that a packet reads only the first
/// `hot_bytes` of the allocation.
pub fn into_raw_hot<H: HasState, S>(head: H, state: S, hot_bytes: usize) -> *mut H {
    let raw = Box::into_raw(Box::new(WithState { head, state }));
    super::recording::record(H::ORIGIN, raw.cast::<u8>().cast_const(), hot_bytes);
    // SAFETY: raw is live and uniquely owned until `from_raw`; the state
    // pointer stays valid as long as the allocation.
    unsafe {
        (*raw).head.set_state(std::ptr::addr_of_mut!((*raw).state).cast());
        std::ptr::addr_of_mut!((*raw).head)
    }
}

/// Takes back an allocation made by `into_raw` with the same `S`.
///
/// # Safety
/// `head` must come from `into_raw::<H, S>` and not have been freed.
pub unsafe fn from_raw<H, S>(head: *mut H) -> Box<WithState<H, S>> {
    // SAFETY: `head` is the first field of a boxed WithState<H, S>.
    unsafe { Box::from_raw(head.cast::<WithState<H, S>>()) }
}

extern "C" {
    pub fn srtp_replace_auth_type(auth_type: *const AuthType, id: u32) -> Status;
    pub fn srtp_replace_cipher_type(cipher_type: *const CipherType, id: u32) -> Status;
}
