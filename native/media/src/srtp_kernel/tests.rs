//! The plug-ins against OpenSSL's EVP implementations of the same algorithms
//! (independent code paths), RFC 2202 / RFC 3711 vectors, and libsrtp's
//! acceptance of them.
use std::os::raw::c_uint;
use std::ptr;

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{Cipher as EvpCipher, Crypter, Mode};

use super::abi::{Auth, Cipher};
use super::{aes_gcm::gcm_type, aes_icm::AES_ICM_128, hmac_sha1::HMAC_SHA1};

const OK: u32 = srtp2_sys::srtp_err_status_t_srtp_err_status_ok;

/// Deterministic test bytes (no rand dependency).
fn bytes(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// HMAC-SHA1 through the plug-in's function table, the message fed in `splits`.
fn plugin_hmac(key: &[u8], splits: &[&[u8]], tag_len: usize) -> Vec<u8> {
    let t = &HMAC_SHA1;
    let mut auth: *mut Auth = ptr::null_mut();
    let mut tag = vec![0u8; tag_len];
    unsafe {
        assert_eq!((t.alloc)(&mut auth, key.len() as i32, tag_len as i32), OK);
        let state = (*auth).state;
        assert_eq!((t.init)(state, key.as_ptr(), key.len() as i32), OK);
        // Twice: each packet starts from the precomputed pads.
        for _ in 0..2 {
            assert_eq!((t.start)(state), OK);
            let (last, rest) = splits.split_last().unwrap();
            for part in rest {
                assert_eq!((t.update)(state, part.as_ptr(), part.len() as i32), OK);
            }
            assert_eq!((t.compute)(state, last.as_ptr(), last.len() as i32, tag_len as i32, tag.as_mut_ptr()), OK);
        }
        assert_eq!((t.dealloc)(auth), OK);
    }
    tag
}

fn evp_hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let pkey = PKey::hmac(key).unwrap();
    let mut s = Signer::new(MessageDigest::sha1(), &pkey).unwrap();
    s.update(data).unwrap();
    s.sign_to_vec().unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn hmac_sha1_matches_rfc_2202() {
    let long_key = vec![0xaa; 80]; // longer than a block: hashed first
    let cases: [(Vec<u8>, Vec<u8>, &str); 5] = [
        (vec![0x0b; 20], b"Hi There".to_vec(), "b617318655057264e28bc0b6fb378c8ef146be00"),
        (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (vec![0xaa; 20], vec![0xdd; 50], "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
        (long_key.clone(), b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(), "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        (long_key, b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".to_vec(), "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
    ];
    for (key, data, tag) in cases {
        assert_eq!(plugin_hmac(&key, &[&data], 20), unhex(tag));
    }
}

#[test]
fn hmac_sha1_matches_openssl_evp_for_any_length_and_split() {
    for len in [0usize, 1, 12, 55, 56, 63, 64, 65, 172, 176, 1000, 1500] {
        let key = bytes(len as u32, 20);
        let data = bytes(len as u32 + 7, len);
        let want = evp_hmac(&key, &data);
        assert_eq!(plugin_hmac(&key, &[&data], 20), want, "len {len}");
        // libsrtp's shape: the packet, then the 4-byte ROC in `compute`.
        if len >= 4 {
            let (head, roc) = data.split_at(len - 4);
            assert_eq!(plugin_hmac(&key, &[head, roc], 10), want[..10], "split len {len}");
        }
    }
}

/// libsrtp alternates streams packet by packet on one worker thread, and its
/// self-test computes right after `init` without `start`: every tag must come
/// from its own stream's pads, whatever the thread computed before.
#[test]
fn hmac_sha1_streams_sharing_a_thread_keep_their_own_keys() {
    let t = &HMAC_SHA1;
    let keys = [bytes(1, 20), bytes(2, 20)];
    let data = [bytes(3, 172), bytes(4, 172)];
    let mut auths = [ptr::null_mut::<Auth>(); 2];
    unsafe {
        for (auth, key) in auths.iter_mut().zip(&keys) {
            assert_eq!((t.alloc)(auth, 20, 20), OK);
            assert_eq!((t.init)((**auth).state, key.as_ptr(), 20), OK);
        }
        let tag_of = |i: usize, start: bool| {
            let state = (*auths[i]).state;
            let mut tag = [0u8; 20];
            if start {
                assert_eq!((t.start)(state), OK);
            }
            assert_eq!((t.update)(state, data[i].as_ptr(), 168), OK);
            assert_eq!((t.compute)(state, data[i][168..].as_ptr(), 4, 20, tag.as_mut_ptr()), OK);
            tag.to_vec()
        };
        let want = [evp_hmac(&keys[0], &data[0]), evp_hmac(&keys[1], &data[1])];
        // Straight after init, no start (libsrtp's self-test shape).
        assert_eq!(tag_of(1, false), want[1]);
        for round in 0..3 {
            for i in [0, 1, 1, 0] {
                assert_eq!(tag_of(i, round != 1), want[i], "stream {i}, round {round}");
            }
        }
        // A stream re-keyed mid-life starts from its new pads.
        assert_eq!((t.start)((*auths[0]).state), OK);
        assert_eq!((t.init)((*auths[0]).state, keys[1].as_ptr(), 20), OK);
        let mut tag = [0u8; 20];
        assert_eq!((t.update)((*auths[0]).state, data[1].as_ptr(), 172), OK);
        assert_eq!((t.compute)((*auths[0]).state, ptr::null(), 0, 20, tag.as_mut_ptr()), OK);
        assert_eq!(tag.to_vec(), want[1]);
        for auth in auths {
            assert_eq!((t.dealloc)(auth), OK);
        }
    }
}

#[test]
fn hmac_sha1_rejects_tags_longer_than_the_digest() {
    let mut auth: *mut Auth = ptr::null_mut();
    assert_ne!(unsafe { (HMAC_SHA1.alloc)(&mut auth, 20, 21) }, OK);
    assert!(auth.is_null());
}

/// Keystream-XOR through the plug-in, the data fed in chunks of `chunk`.
fn plugin_icm(key_salt: &[u8], iv: &[u8; 16], data: &[u8], chunk: usize) -> Vec<u8> {
    let t = &AES_ICM_128;
    let mut c: *mut Cipher = ptr::null_mut();
    let mut out = data.to_vec();
    unsafe {
        assert_eq!((t.alloc)(&mut c, 30, 0), OK);
        let state = (*c).state;
        assert_eq!((t.init)(state, key_salt.as_ptr()), OK);
        let mut iv = *iv;
        assert_eq!((t.set_iv)(state, iv.as_mut_ptr(), 0), OK);
        for part in out.chunks_mut(chunk.max(1)) {
            let mut n = part.len() as c_uint;
            assert_eq!((t.encrypt)(state, part.as_mut_ptr(), &mut n), OK);
            assert_eq!(n as usize, part.len());
        }
        assert_eq!((t.dealloc)(c), OK);
    }
    out
}

/// The same with OpenSSL's EVP AES-128-CTR: counter = (salt || 0x0000) XOR iv.
fn evp_icm(key_salt: &[u8], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut counter = [0u8; 16];
    counter[..14].copy_from_slice(&key_salt[16..]);
    for (c, v) in counter.iter_mut().zip(iv) {
        *c ^= v;
    }
    let mut cr = Crypter::new(EvpCipher::aes_128_ctr(), Mode::Encrypt, &key_salt[..16], Some(&counter)).unwrap();
    let mut out = vec![0u8; data.len() + 16];
    let n = cr.update(data, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn aes_icm_matches_rfc_3711_b2_keystream() {
    let key_salt = unhex("2b7e151628aed2a6abf7158809cf4f3cf0f1f2f3f4f5f6f7f8f9fafbfcfd");
    let stream = plugin_icm(&key_salt, &[0; 16], &[0; 48], 48);
    assert_eq!(
        stream,
        unhex("e03ead0935c95e80e166b16dd92b4eb4d23513162b02d0f72a43a2fe4a5f97ab41e95b3bb0a2e8dd477901e4fca894c0")
    );
}

#[test]
fn aes_icm_matches_openssl_ctr_for_any_length_and_chunking() {
    for len in [0usize, 1, 15, 16, 17, 160, 172, 255, 256, 257, 1500] {
        let key_salt = bytes(len as u32, 30);
        let mut iv = [0u8; 16];
        iv[4..14].copy_from_slice(&bytes(len as u32 + 3, 10)); // SSRC and index, as libsrtp forms it
        let data = bytes(len as u32 + 9, len);
        let want = evp_icm(&key_salt, &iv, &data);
        for chunk in [len.max(1), 1, 7, 16, 33] {
            assert_eq!(plugin_icm(&key_salt, &iv, &data, chunk), want, "len {len} chunk {chunk}");
        }
    }
}

#[test]
fn aes_icm_counter_carries_across_the_low_bytes() {
    // A counter whose low 16 bits wrap: the whole 128-bit value counts up.
    let key_salt = bytes(1, 30);
    let mut iv = [0u8; 16];
    iv[14] = 0xff;
    iv[15] = 0xfe;
    let data = bytes(2, 64);
    assert_eq!(plugin_icm(&key_salt, &iv, &data, 64), evp_icm(&key_salt, &iv, &data));
}

#[test]
fn aes_icm_refuses_other_key_sizes() {
    let mut c: *mut Cipher = ptr::null_mut();
    assert_ne!(unsafe { (AES_ICM_128.alloc)(&mut c, 46, 0) }, OK);
    assert!(c.is_null());
}

/// A GCM plug-in cipher keyed and with its IV set for `direction` (0 seal, 1 open).
fn gcm_started(key: &[u8], iv: &[u8; 12], direction: i32, tag: usize) -> *mut Cipher {
    let t = gcm_type();
    let mut c: *mut Cipher = ptr::null_mut();
    unsafe {
        assert_eq!((t.alloc)(&mut c, 28, tag as i32), OK);
        let state = (*c).state;
        assert_eq!((t.init)(state, key.as_ptr()), OK);
        let mut iv = *iv;
        assert_eq!((t.set_iv)(state, iv.as_mut_ptr(), direction), OK);
    }
    c
}

/// Seal through the plug-in (AAD given in two parts, as libsrtp does for SRTCP).
fn plugin_gcm_seal(key: &[u8], iv: &[u8; 12], aad: &[u8], data: &[u8], tag: usize) -> Vec<u8> {
    let t = gcm_type();
    let c = gcm_started(key, iv, 0, tag);
    let mut out = data.to_vec();
    out.resize(data.len() + tag, 0);
    unsafe {
        let state = (*c).state;
        let (a1, a2) = aad.split_at(aad.len() / 2);
        assert_eq!((t.set_aad.unwrap())(state, a1.as_ptr(), a1.len() as u32), OK);
        assert_eq!((t.set_aad.unwrap())(state, a2.as_ptr(), a2.len() as u32), OK);
        let mut n = data.len() as c_uint;
        assert_eq!((t.encrypt)(state, out.as_mut_ptr(), &mut n), OK);
        let mut tag_len = 0u32;
        assert_eq!((t.get_tag.unwrap())(state, out[data.len()..].as_mut_ptr(), &mut tag_len), OK);
        assert_eq!(tag_len as usize, tag);
        assert_eq!((t.dealloc)(c), OK);
    }
    out
}

/// Open through the plug-in: Ok(plaintext) or the libsrtp status.
fn plugin_gcm_open(key: &[u8], iv: &[u8; 12], aad: &[u8], sealed: &[u8], tag: usize) -> Result<Vec<u8>, u32> {
    let t = gcm_type();
    let c = gcm_started(key, iv, 1, tag);
    let mut buf = sealed.to_vec();
    unsafe {
        let state = (*c).state;
        assert_eq!((t.set_aad.unwrap())(state, aad.as_ptr(), aad.len() as u32), OK);
        let mut n = buf.len() as c_uint;
        let r = (t.decrypt)(state, buf.as_mut_ptr(), &mut n);
        assert_eq!((t.dealloc)(c), OK);
        if r != OK {
            assert_eq!(buf, sealed, "a refused packet is left as it came");
            return Err(r);
        }
        buf.truncate(n as usize);
    }
    Ok(buf)
}

/// The AAD is kept inline up to 64 bytes and spills beyond (RTP header
/// extensions); libsrtp may hand it over in parts (SRTCP: header, then index).
#[test]
fn aes_gcm_takes_aad_of_any_length_in_parts() {
    let key = bytes(9, 28);
    let iv: [u8; 12] = bytes(10, 12).try_into().unwrap();
    let data = bytes(11, 160);
    for aad_len in [0usize, 12, 63, 64, 65, 100, 128, 129, 300] {
        let aad = bytes(aad_len as u32, aad_len);
        let mut tag = [0u8; 16];
        let mut want = openssl::symm::encrypt_aead(EvpCipher::aes_128_gcm(), &key[..16], Some(&iv), &aad, &data, &mut tag).unwrap();
        want.extend_from_slice(&tag);
        let sealed = plugin_gcm_seal(&key, &iv, &aad, &data, 16);
        assert_eq!(sealed, want, "aad {aad_len}");
        assert_eq!(plugin_gcm_open(&key, &iv, &aad, &sealed, 16).unwrap(), data, "aad {aad_len}");
        let mut other = aad.clone();
        if let Some(b) = other.last_mut() {
            *b ^= 1;
            let auth_fail = srtp2_sys::srtp_err_status_t_srtp_err_status_auth_fail;
            assert_eq!(plugin_gcm_open(&key, &iv, &other, &sealed, 16), Err(auth_fail), "aad {aad_len}");
        }
    }
}

#[test]
fn aes_gcm_matches_openssl_evp_and_rejects_any_changed_bit() {
    for len in [0usize, 1, 15, 16, 160, 172, 1500] {
        let key = bytes(len as u32, 28);
        let iv: [u8; 12] = bytes(len as u32 + 1, 12).try_into().unwrap();
        let aad = bytes(len as u32 + 2, 12 + len % 5 * 4);
        let data = bytes(len as u32 + 3, len);
        let mut tag = [0u8; 16];
        let mut want = openssl::symm::encrypt_aead(EvpCipher::aes_128_gcm(), &key[..16], Some(&iv), &aad, &data, &mut tag).unwrap();
        want.extend_from_slice(&tag);
        for tag_len in [16, 8] {
            let sealed = plugin_gcm_seal(&key, &iv, &aad, &data, tag_len);
            assert_eq!(sealed[..len + tag_len], want[..len + tag_len], "len {len} tag {tag_len}");
            assert_eq!(plugin_gcm_open(&key, &iv, &aad, &sealed, tag_len).unwrap(), data);
            let auth_fail = srtp2_sys::srtp_err_status_t_srtp_err_status_auth_fail;
            let mut bad = sealed.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert_eq!(plugin_gcm_open(&key, &iv, &aad, &bad, tag_len), Err(auth_fail));
            if len > 0 {
                let mut bad = sealed.clone();
                bad[0] ^= 1;
                assert_eq!(plugin_gcm_open(&key, &iv, &aad, &bad, tag_len), Err(auth_fail));
            }
            let mut bad_aad = aad.clone();
            bad_aad[0] ^= 0x80;
            assert_eq!(plugin_gcm_open(&key, &iv, &bad_aad, &sealed, tag_len), Err(auth_fail));
        }
    }
}

#[test]
fn aes_gcm_refuses_other_key_and_tag_sizes() {
    let mut c: *mut Cipher = ptr::null_mut();
    assert_ne!(unsafe { (gcm_type().alloc)(&mut c, 28, 12) }, OK);
    assert_ne!(unsafe { (gcm_type().alloc)(&mut c, 44, 16) }, OK);
    assert!(c.is_null());
}

#[test]
fn libsrtp_accepts_and_uses_the_plug_ins() {
    // libsrtp ran every replacement against its own and the built-in type's
    // test vectors (including AES-GCM with 8-byte tags) before taking it.
    assert_eq!(
        crate::srtp::crypto_backend(),
        format!("libsrtp with esbc plug-ins: {}, {}, {}", super::HMAC, super::ICM, super::GCM)
    );
}
