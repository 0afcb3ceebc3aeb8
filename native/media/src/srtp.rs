//! SRTP/SRTCP contexts on libsrtp 2 (OpenSSL crypto backend).
//!
//! One `SrtpContext` protects (outbound) or unprotects (inbound) one direction
//! of one leg. libsrtp keeps a stream per SSRC cloned from a template; we cap
//! how many SSRCs a context may learn so a flood of SSRCs cannot grow memory.
//! libsrtp only adds an inbound stream after the packet authenticated, and an
//! authentication failure never advances the rollover counter or the replay
//! window (RFC 3711 section 3.3).
use std::fmt;
use std::sync::Once;

use srtp2_sys as sys;

use crate::srtp_kernel::{record_allocations, HotState};

/// SRTP protection profiles we negotiate (RFC 5764, RFC 7714) and offer in SDES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl SrtpProfile {
    pub const ALL: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::AesCm128HmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32,
    ];

    pub fn key_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    pub fn salt_len(self) -> usize {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 | SrtpProfile::AesCm128HmacSha1_32 => 14,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 12,
        }
    }

    /// Master key plus master salt, the layout libsrtp takes.
    pub fn key_salt_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// The name OpenSSL's use_srtp extension uses (also the API's name).
    pub fn openssl_name(self) -> &'static str {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
            SrtpProfile::AesCm128HmacSha1_32 => "SRTP_AES128_CM_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }

    /// The crypto-suite name of SDES (RFC 4568, RFC 7714).
    pub fn sdes_name(self) -> &'static str {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    pub fn from_name(name: &str) -> Option<SrtpProfile> {
        SrtpProfile::ALL
            .into_iter()
            .find(|p| p.openssl_name().eq_ignore_ascii_case(name) || p.sdes_name().eq_ignore_ascii_case(name))
    }

    fn set_policies(self, rtp: &mut sys::srtp_crypto_policy_t, rtcp: &mut sys::srtp_crypto_policy_t) {
        // SAFETY: these only fill in the plain structs they are given.
        unsafe {
            match self {
                SrtpProfile::AesCm128HmacSha1_80 => {
                    sys::srtp_crypto_policy_set_rtp_default(rtp);
                    sys::srtp_crypto_policy_set_rtp_default(rtcp);
                }
                // RFC 5764 4.1.2: the _32 profile keeps an 80-bit tag on SRTCP.
                SrtpProfile::AesCm128HmacSha1_32 => {
                    sys::srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp);
                    sys::srtp_crypto_policy_set_rtp_default(rtcp);
                }
                SrtpProfile::AeadAes128Gcm => {
                    sys::srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp);
                    sys::srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp);
                }
                SrtpProfile::AeadAes256Gcm => {
                    sys::srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp);
                    sys::srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp);
                }
            }
        }
    }
}

impl fmt::Display for SrtpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.openssl_name())
    }
}

/// Why a packet was not (un)protected. Each maps to a drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpError {
    AuthFail,
    Replay,
    SsrcLimit,
    /// Packet too short to be SRTP/SRTCP, or no room for the trailer.
    Malformed,
    Other(u32),
}

/// Which way a context works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpDirection {
    Inbound,
    Outbound,
}

/// Bytes libsrtp may append on protect (auth tag, SRTCP index, MKI).
pub const SRTP_MAX_TRAILER: usize = 16 + 4 + 128;

const DEFAULT_REPLAY_WINDOW: u64 = 1024;

static INIT: Once = Once::new();

/// `ESBC_SRTP_CRYPTO=libsrtp` keeps libsrtp's generic OpenSSL binding instead
/// of the faster plug-ins in `srtp_kernel` (for A/B measurement or diagnosis).
/// Read once, when the first SRTP context is made.
pub const CRYPTO_ENV: &str = "ESBC_SRTP_CRYPTO";

static BACKEND: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Which primitives libsrtp computes AES-128-CM, AES-128-GCM and HMAC-SHA1
/// with (for the versions report and logs); initialises libsrtp if nothing
/// has yet.
pub fn crypto_backend() -> &'static str {
    ensure_init();
    BACKEND.get().map_or("libsrtp built-in (OpenSSL EVP)", String::as_str)
}

fn builtin_crypto_requested() -> bool {
    std::env::var(CRYPTO_ENV).is_ok_and(|v| v == "libsrtp")
}

fn ensure_init() {
    INIT.call_once(|| {
        // SAFETY: global one-time library initialisation.
        let rc = unsafe { sys::srtp_init() };
        assert_eq!(rc, sys::srtp_err_status_t_srtp_err_status_ok, "srtp_init failed");
        if builtin_crypto_requested() {
            log::warn!("SRTP: {CRYPTO_ENV}=libsrtp, using libsrtp's own OpenSSL binding (slower)");
        } else {
            // libsrtp keeps its built-in type where a replacement fails its tests.
            let _ = BACKEND.set(crate::srtp_kernel::install());
        }
    });
}

/// Most SSRCs one context learns (the cap is also the inline array's size:
/// the per-packet SSRC check reads no separate allocation).
pub const MAX_SSRCS: usize = 16;

/// repr(C): the libsrtp handle, the state addresses, the flags and the first
/// SSRC lead (`HOT_BYTES`, what the worker prefetches); the rest of the SSRC
/// list follows, read only once a context has more than one.
#[repr(C)]
pub struct SrtpContext {
    raw: sys::srtp_t,
    /// Where libsrtp's and the plug-ins' per-packet state lives (prefetched
    /// before the receive system call, see `prefetch`).
    hot: HotState,
    profile: SrtpProfile,
    known: u8,
    max_ssrcs: u8,
    ssrcs: [u32; MAX_SSRCS],
}

impl SrtpContext {
    /// The leading bytes a packet reads: the handle, the state addresses,
    /// the flags and the first SSRC (a call's only one, as a rule).
    pub const HOT_BYTES: usize = std::mem::offset_of!(SrtpContext, ssrcs) + std::mem::size_of::<u32>();
}

// SAFETY: a libsrtp session is used by one thread at a time (the worker that
// owns the pipeline); it holds no thread-local state.
unsafe impl Send for SrtpContext {}

impl SrtpContext {
    pub fn new(
        profile: SrtpProfile,
        key_salt: &[u8],
        direction: SrtpDirection,
        max_ssrcs: usize,
    ) -> Result<SrtpContext, SrtpError> {
        ensure_init();
        if key_salt.len() != profile.key_salt_len() {
            return Err(SrtpError::Other(sys::srtp_err_status_t_srtp_err_status_bad_param));
        }
        let mut key = key_salt.to_vec();
        // SAFETY: zeroed is a valid initial value for this plain C struct.
        let mut policy: sys::srtp_policy_t = unsafe { std::mem::zeroed() };
        profile.set_policies(&mut policy.rtp, &mut policy.rtcp);
        policy.ssrc.type_ = match direction {
            SrtpDirection::Inbound => sys::srtp_ssrc_type_t_ssrc_any_inbound,
            SrtpDirection::Outbound => sys::srtp_ssrc_type_t_ssrc_any_outbound,
        };
        policy.key = key.as_mut_ptr();
        policy.window_size = DEFAULT_REPLAY_WINDOW as _;
        policy.allow_repeat_tx = 0;
        let mut raw: sys::srtp_t = std::ptr::null_mut();
        // SAFETY: policy and key outlive the call; libsrtp copies the key.
        let (rc, regions) = record_allocations(|| unsafe { sys::srtp_create(&mut raw, &policy) });
        key.iter_mut().for_each(|b| *b = 0);
        if rc != sys::srtp_err_status_t_srtp_err_status_ok {
            return Err(SrtpError::Other(rc));
        }
        let hot = HotState::from_create(raw.cast::<u8>().cast_const(), &regions);
        Ok(SrtpContext { raw, hot, profile, known: 0, max_ssrcs: max_ssrcs.min(MAX_SSRCS) as u8, ssrcs: [0; MAX_SSRCS] })
    }

    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Starts loading what protecting or unprotecting a packet reads first:
    /// libsrtp's session and the plug-ins' key state (cold after the kernel's
    /// work between two packets of a call).
    #[inline]
    pub fn prefetch(&self) {
        self.hot.prefetch();
    }

    /// How many of libsrtp's and the plug-ins' allocations `prefetch` covers.
    pub fn prefetch_regions(&self) -> usize {
        self.hot.regions()
    }

    /// Number of SSRCs this context has streams for.
    pub fn ssrc_count(&self) -> usize {
        self.known as usize
    }

    /// RTP -> SRTP in place. `buf` must have SRTP_MAX_TRAILER spare bytes after `len`.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let ssrc = read_u32(buf, 8, len, 12)?;
        self.run(buf, len, ssrc, true, |ctx, p, l| unsafe { sys::srtp_protect(ctx, p, l) })
    }

    /// SRTP -> RTP in place.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let ssrc = read_u32(buf, 8, len, 12)?;
        self.run(buf, len, ssrc, false, |ctx, p, l| unsafe { sys::srtp_unprotect(ctx, p, l) })
    }

    /// RTCP -> SRTCP in place.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let ssrc = read_u32(buf, 4, len, 8)?;
        self.run(buf, len, ssrc, true, |ctx, p, l| unsafe { sys::srtp_protect_rtcp(ctx, p, l) })
    }

    /// SRTCP -> RTCP in place.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let ssrc = read_u32(buf, 4, len, 8)?;
        self.run(buf, len, ssrc, false, |ctx, p, l| unsafe { sys::srtp_unprotect_rtcp(ctx, p, l) })
    }

    fn run(
        &mut self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        grows: bool,
        op: impl FnOnce(sys::srtp_t, *mut std::ffi::c_void, *mut i32) -> sys::srtp_err_status_t,
    ) -> Result<usize, SrtpError> {
        if grows && buf.len() < len + SRTP_MAX_TRAILER {
            return Err(SrtpError::Malformed);
        }
        let known = self.ssrcs[..self.known as usize].contains(&ssrc);
        if !known && self.known >= self.max_ssrcs {
            return Err(SrtpError::SsrcLimit);
        }
        let mut l = len as i32;
        let rc = if self.known == 0 {
            // The first SSRC's stream is cloned now: learn where it lives.
            let (rc, regions) = record_allocations(|| op(self.raw, buf.as_mut_ptr().cast(), &mut l));
            if rc == sys::srtp_err_status_t_srtp_err_status_ok {
                self.hot.add_stream(&regions);
            }
            rc
        } else {
            op(self.raw, buf.as_mut_ptr().cast(), &mut l)
        };
        match rc {
            sys::srtp_err_status_t_srtp_err_status_ok => {
                if !known {
                    self.ssrcs[self.known as usize] = ssrc;
                    self.known += 1;
                }
                Ok(l as usize)
            }
            sys::srtp_err_status_t_srtp_err_status_auth_fail => Err(SrtpError::AuthFail),
            sys::srtp_err_status_t_srtp_err_status_replay_fail
            | sys::srtp_err_status_t_srtp_err_status_replay_old => Err(SrtpError::Replay),
            sys::srtp_err_status_t_srtp_err_status_bad_param
            | sys::srtp_err_status_t_srtp_err_status_parse_err => Err(SrtpError::Malformed),
            other => Err(SrtpError::Other(other)),
        }
    }
}

impl Drop for SrtpContext {
    fn drop(&mut self) {
        // SAFETY: raw came from srtp_create and is freed once; libsrtp zeroes keys.
        unsafe {
            sys::srtp_dealloc(self.raw);
        }
    }
}

fn read_u32(buf: &[u8], at: usize, len: usize, min: usize) -> Result<u32, SrtpError> {
    if len < min || buf.len() < len {
        return Err(SrtpError::Malformed);
    }
    Ok(u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]))
}

#[cfg(test)]
mod tests;
