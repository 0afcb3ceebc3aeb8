//! Versions of the linked crypto libraries, read from the linked code.
use std::ffi::CStr;

#[derive(Debug, Clone)]
pub struct Versions {
    /// What the linked OpenSSL reports at run time.
    pub openssl_runtime: String,
    /// OPENSSL_VERSION_NUMBER of the headers used at build time (hex).
    pub openssl_built: String,
    /// What the linked libsrtp reports at run time.
    pub libsrtp_runtime: String,
    /// Version of the libsrtp source compiled into this build.
    pub libsrtp_built: &'static str,
    /// What libsrtp's AES-128-CM and HMAC-SHA1 run on (see srtp_kernel).
    pub srtp_crypto: &'static str,
}

pub fn versions() -> Versions {
    // SAFETY: both functions return pointers to static NUL-terminated strings.
    let openssl_runtime = unsafe {
        CStr::from_ptr(openssl_sys::OpenSSL_version(openssl_sys::OPENSSL_VERSION))
            .to_string_lossy()
            .into_owned()
    };
    let libsrtp_runtime = unsafe {
        CStr::from_ptr(srtp2_sys::srtp_get_version_string())
            .to_string_lossy()
            .into_owned()
    };
    Versions {
        openssl_runtime,
        openssl_built: env!("ESBC_OPENSSL_BUILT").to_string(),
        libsrtp_runtime,
        libsrtp_built: env!("ESBC_LIBSRTP_BUILT"),
        srtp_crypto: crate::srtp::crypto_backend(),
    }
}

/// OpenSSL_version_num() of the linked library, for comparing with the build.
pub fn openssl_runtime_number() -> u64 {
    // SAFETY: plain accessor without arguments.
    unsafe { openssl_sys::OpenSSL_version_num() as u64 }
}
