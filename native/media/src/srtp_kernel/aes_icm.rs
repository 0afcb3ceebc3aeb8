//! AES-128 integer counter mode (RFC 3711 section 4.1.1) for libsrtp's crypto
//! kernel: the key schedule is expanded once, inline in the stream's state,
//! and each packet's keystream is its counter blocks encrypted in one batch.
//!
//! libsrtp's OpenSSL binding re-initialises an EVP AES-CTR context with every
//! packet's IV (`EVP_EncryptInit_ex`: OpenSSL 3's whole provider init path)
//! and keeps the key schedule two allocations away. The block cipher here is
//! RustCrypto's `aes` (AES-NI, detected at run time, constant-time software
//! fallback); measured in the relay, the EVP dispatch and its cold contexts
//! cost more than the AES rounds themselves.
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr;

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128Enc;
use srtp2_sys as sys;

use super::abi::{from_raw, into_raw_hot, Cipher, WithState, CipherTestCase, CipherType, Status, SRTP_AES_ICM_128};

const BLOCK: usize = 16;
const KEY_LEN: usize = 16;
const SALT_LEN: usize = 14;
/// Counter blocks encrypted per EVP call (a 172-byte packet needs 10).
const CHUNK_BLOCKS: usize = 16;

/// Per-stream state. What a packet reads comes first: the salt, the counter,
/// then the AES-NI round keys at the start of `aes` (the autodetecting type
/// also holds the ~700-byte software key schedule after them): with the
/// cipher object before it, the first `HOT_BYTES` of the allocation, four
/// cache lines. The leftover keystream is only used by lengths that are not
/// whole blocks (an RTP payload of 160 bytes is ten), so it goes last.
#[repr(C)]
struct IcmState {
    /// Salt, left-aligned, low 16 bits zero (the "offset" XORed with each IV).
    offset: [u8; BLOCK],
    /// Next counter block to encrypt.
    counter: [u8; BLOCK],
    /// How much of `keystream` is used (16 = none left); false `keyed` until
    /// `init` sets the key (`aes` holds an all-zero key until then).
    used: u32,
    keyed: bool,
    aes: Aes128Enc,
    /// Keystream of the last block.
    keystream: [u8; BLOCK],
}

/// The allocation's leading bytes a packet reads (the cipher object, the
/// salt, counter and flags, the eleven AES-NI round keys).
const HOT_BYTES: usize = 256;
// The round keys lead `Aes128Enc` (a union of the AES-NI and software
// schedules, then a zero-sized CPU-feature token).
const _: () = assert!(
    std::mem::offset_of!(WithState<Cipher, IcmState>, state) + std::mem::offset_of!(IcmState, aes) + 11 * BLOCK
        <= HOT_BYTES
);

fn status_ok() -> Status {
    sys::srtp_err_status_t_srtp_err_status_ok
}

unsafe extern "C" fn alloc(out: *mut *mut Cipher, key_len: c_int, _tag_len: c_int) -> Status {
    // Only AES-128 with its 112-bit salt is registered under this id.
    if out.is_null() || key_len != (KEY_LEN + SALT_LEN) as c_int {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    let cipher = Cipher { type_: &AES_ICM_128, state: ptr::null_mut(), key_len, algorithm: SRTP_AES_ICM_128 as c_int };
    let state = IcmState {
        offset: [0; BLOCK],
        counter: [0; BLOCK],
        used: BLOCK as u32,
        keyed: false,
        aes: Aes128Enc::new(&GenericArray::default()),
        keystream: [0; BLOCK],
    };
    // SAFETY: libsrtp passes a valid out pointer (checked for NULL above).
    unsafe { *out = into_raw_hot(cipher, state, HOT_BYTES) };
    status_ok()
}

unsafe extern "C" fn dealloc(cipher: *mut Cipher) -> Status {
    if cipher.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: `cipher` came from `alloc`.
    let mut boxed = unsafe { from_raw::<Cipher, IcmState>(cipher) };
    // Key material: `aes` zeroes its key schedule on drop (feature zeroize);
    // the salt and keystream are ours to clear.
    // SAFETY: volatile writes over plain arrays we own.
    unsafe {
        ptr::write_volatile(&mut boxed.state.offset, [0; BLOCK]);
        ptr::write_volatile(&mut boxed.state.counter, [0; BLOCK]);
        ptr::write_volatile(&mut boxed.state.keystream, [0; BLOCK]);
    }
    status_ok()
}

unsafe extern "C" fn init(state: *mut c_void, key: *const u8) -> Status {
    if state.is_null() || key.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: the state from `alloc`; libsrtp passes key_len (30) bytes.
    let (state, key) = unsafe {
        (&mut *state.cast::<IcmState>(), std::slice::from_raw_parts(key, KEY_LEN + SALT_LEN))
    };
    state.offset = [0; BLOCK];
    state.offset[..SALT_LEN].copy_from_slice(&key[KEY_LEN..]);
    state.counter = state.offset;
    state.used = BLOCK as u32;
    state.aes = Aes128Enc::new(GenericArray::from_slice(&key[..KEY_LEN]));
    state.keyed = true;
    status_ok()
}

unsafe extern "C" fn set_iv(state: *mut c_void, iv: *mut u8, _direction: c_int) -> Status {
    if state.is_null() || iv.is_null() {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: the state from `alloc`; libsrtp passes a 16-byte IV.
    let (state, iv) = unsafe { (&mut *state.cast::<IcmState>(), std::slice::from_raw_parts(iv, BLOCK)) };
    for ((c, o), v) in state.counter.iter_mut().zip(&state.offset).zip(iv) {
        *c = o ^ v;
    }
    state.used = BLOCK as u32;
    status_ok()
}

/// XOR the next `len` keystream bytes into `buf` (encrypt and decrypt alike).
unsafe extern "C" fn apply(state: *mut c_void, buf: *mut u8, len: *mut c_uint) -> Status {
    if state.is_null() || len.is_null() || (buf.is_null() && unsafe { *len } > 0) {
        return sys::srtp_err_status_t_srtp_err_status_bad_param;
    }
    // SAFETY: the state from `alloc`; libsrtp passes `*len` writable bytes.
    let (state, data) =
        unsafe { (&mut *state.cast::<IcmState>(), std::slice::from_raw_parts_mut(buf, *len as usize)) };
    if !state.keyed {
        return sys::srtp_err_status_t_srtp_err_status_init_fail;
    }
    let mut pos = 0;
    while pos < data.len() && state.used < BLOCK as u32 {
        data[pos] ^= state.keystream[state.used as usize];
        state.used += 1;
        pos += 1;
    }
    let aes = &state.aes;
    let mut stream = [GenericArray::default(); CHUNK_BLOCKS];
    let mut counter = u128::from_be_bytes(state.counter);
    while pos < data.len() {
        let blocks = (data.len() - pos).div_ceil(BLOCK).min(CHUNK_BLOCKS);
        for block in &mut stream[..blocks] {
            // The counter is one 128-bit big-endian integer.
            *block = counter.to_be_bytes().into();
            counter = counter.wrapping_add(1);
        }
        aes.encrypt_blocks(&mut stream[..blocks]);
        // SAFETY: a GenericArray<u8, U16> is exactly 16 bytes (repr(transparent)).
        let stream: &[u8] = unsafe { std::slice::from_raw_parts(stream.as_ptr().cast::<u8>(), blocks * BLOCK) };
        let take = (data.len() - pos).min(blocks * BLOCK);
        xor_into(&mut data[pos..pos + take], &stream[..take]);
        pos += take;
        let tail = take % BLOCK;
        if tail != 0 {
            // Keep the unused rest of the last block for a following call.
            state.keystream.copy_from_slice(&stream[take - tail..take - tail + BLOCK]);
            state.used = tail as u32;
        }
    }
    state.counter = counter.to_be_bytes();
    status_ok()
}

fn xor_into(data: &mut [u8], keystream: &[u8]) {
    let mut words = data.chunks_exact_mut(8);
    let mut keys = keystream.chunks_exact(8);
    for (word, key) in (&mut words).zip(&mut keys) {
        let x = u64::from_ne_bytes(word.try_into().unwrap()) ^ u64::from_ne_bytes(key.try_into().unwrap());
        word.copy_from_slice(&x.to_ne_bytes());
    }
    for (byte, key) in words.into_remainder().iter_mut().zip(keys.remainder()) {
        *byte ^= key;
    }
}

// RFC 3711 appendix B.2 (AES-CM keystream), also libsrtp's built-in case.
static TEST_KEY: [u8; 30] = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
];
static mut TEST_IV: [u8; 16] = [0; 16];
static TEST_PLAIN: [u8; 32] = [0; 32];
static TEST_CIPHER: [u8; 32] = [
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab,
];
static TEST_CASE: CipherTestCase = CipherTestCase {
    key_length_octets: 30,
    key: TEST_KEY.as_ptr(),
    // libsrtp's test case type wants a mutable pointer; it only reads it.
    idx: ptr::addr_of_mut!(TEST_IV) as *mut u8,
    plaintext_length_octets: 32,
    plaintext: TEST_PLAIN.as_ptr(),
    ciphertext_length_octets: 32,
    ciphertext: TEST_CIPHER.as_ptr(),
    aad_length_octets: 0,
    aad: ptr::null(),
    tag_length_octets: 0,
    next_test_case: ptr::null(),
};

pub(super) static AES_ICM_128: CipherType = CipherType {
    alloc,
    dealloc,
    init,
    set_aad: None,
    encrypt: apply,
    decrypt: apply,
    set_iv,
    get_tag: None,
    description: c"AES-128 ICM, ECB keystream (esbc, OpenSSL)".as_ptr() as *const c_char,
    test_data: &TEST_CASE,
    id: SRTP_AES_ICM_128,
};
