//! Cost of protecting one 172-byte RTP packet (20 ms PCMU) with libsrtp, next
//! to the OpenSSL primitives it is built from (AES-128-CTR + HMAC-SHA1 with a
//! precomputed HMAC state, the lean way). Prints ns per packet.
//! Also the relay's situation: many sessions, each packet finding its SRTP
//! contexts cold in cache (protect + unprotect round-robin over 1,000 pairs).
//!   cargo run --release -p esbc-loadgen --bin srtp-cost
//!   ESBC_SRTP_CRYPTO=libsrtp cargo run ... (libsrtp's own OpenSSL binding)
use std::time::Instant;

use esbc_media::srtp::{SrtpContext, SrtpDirection, SrtpProfile, SRTP_MAX_TRAILER};
use openssl_sys as ffi;

const N: u32 = 2_000_000;

fn libsrtp(profile: SrtpProfile) -> f64 {
    let key = vec![7u8; profile.key_salt_len()];
    let mut ctx = SrtpContext::new(profile, &key, SrtpDirection::Outbound, 4).unwrap();
    let mut buf = vec![0u8; 172 + SRTP_MAX_TRAILER];
    buf[0] = 0x80;
    let start = Instant::now();
    for i in 0..N {
        buf[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        std::hint::black_box(ctx.protect_rtp(&mut buf, 172).unwrap());
    }
    start.elapsed().as_nanos() as f64 / N as f64
}

/// AES-128-CTR over the payload (IV set per packet) and HMAC-SHA1 over the
/// packet plus ROC, restarting from a copied precomputed HMAC state.
fn lean_evp() -> f64 {
    unsafe {
        let key = [7u8; 16];
        let auth = [9u8; 20];
        let cipher = ffi::EVP_CIPHER_CTX_new();
        assert_eq!(ffi::EVP_EncryptInit_ex(cipher, ffi::EVP_aes_128_ctr(), std::ptr::null_mut(), key.as_ptr(), std::ptr::null()), 1);
        let base = ffi::HMAC_CTX_new();
        assert_eq!(ffi::HMAC_Init_ex(base, auth.as_ptr().cast(), 20, ffi::EVP_sha1(), std::ptr::null_mut()), 1);
        let work = ffi::HMAC_CTX_new();
        let mut pkt = [0u8; 172 + 10];
        let mut out = [0u8; 160];
        let mut mac = [0u8; 20];
        let mut iv = [0u8; 16];
        let start = Instant::now();
        for i in 0..N {
            iv[14..16].copy_from_slice(&(i as u16).to_be_bytes());
            ffi::EVP_EncryptInit_ex(cipher, std::ptr::null(), std::ptr::null_mut(), std::ptr::null(), iv.as_ptr());
            let mut outl = 0;
            ffi::EVP_EncryptUpdate(cipher, out.as_mut_ptr(), &mut outl, pkt[12..172].as_ptr(), 160);
            pkt[12..172].copy_from_slice(&out);
            ffi::HMAC_CTX_copy(work, base);
            ffi::HMAC_Update(work, pkt.as_ptr(), 172);
            ffi::HMAC_Update(work, [0u8; 4].as_ptr(), 4);
            let mut maclen = 20u32;
            ffi::HMAC_Final(work, mac.as_mut_ptr(), &mut maclen);
            pkt[172..182].copy_from_slice(&mac[..10]);
            std::hint::black_box(&pkt);
        }
        let ns = start.elapsed().as_nanos() as f64 / N as f64;
        ffi::HMAC_CTX_free(work);
        ffi::HMAC_CTX_free(base);
        ffi::EVP_CIPHER_CTX_free(cipher);
        ns
    }
}

/// ns per packet for protect + unprotect, cycling through `pairs` sessions.
fn many_sessions(profile: SrtpProfile, pairs: usize) -> f64 {
    let mut sessions: Vec<(SrtpContext, SrtpContext)> = (0..pairs)
        .map(|i| {
            let key: Vec<u8> = (0..profile.key_salt_len()).map(|b| (b * 31 + i) as u8).collect();
            (
                SrtpContext::new(profile, &key, SrtpDirection::Outbound, 4).unwrap(),
                SrtpContext::new(profile, &key, SrtpDirection::Inbound, 4).unwrap(),
            )
        })
        .collect();
    let mut buf = vec![0u8; 172 + SRTP_MAX_TRAILER];
    let rounds = (N as usize / pairs).max(1);
    let start = Instant::now();
    for round in 0..rounds {
        for (i, (out, inb)) in sessions.iter_mut().enumerate() {
            buf[0] = 0x80;
            buf[2..4].copy_from_slice(&(round as u16).to_be_bytes());
            buf[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            let len = out.protect_rtp(&mut buf, 172).unwrap();
            assert_eq!(inb.unprotect_rtp(&mut buf, len).unwrap(), 172);
        }
    }
    start.elapsed().as_nanos() as f64 / (rounds * pairs * 2) as f64
}

fn main() {
    println!(
        "{{\"libsrtpAesCm80Ns\":{:.0},\"libsrtpAeadAes128GcmNs\":{:.0},\"leanEvpAesCm80Ns\":{:.0},\"aesCm80ColdNsPerOp\":{:.0},\"aeadAes128GcmColdNsPerOp\":{:.0}}}",
        libsrtp(SrtpProfile::AesCm128HmacSha1_80),
        libsrtp(SrtpProfile::AeadAes128Gcm),
        lean_evp(),
        many_sessions(SrtpProfile::AesCm128HmacSha1_80, 1000),
        many_sessions(SrtpProfile::AeadAes128Gcm, 1000),
    );
}
