//! Crypto primitives plugged into libsrtp's crypto kernel
//! (`srtp_replace_auth_type` / `srtp_replace_cipher_type`, the extension point
//! libsrtp provides for accelerated crypto). libsrtp still does all of SRTP:
//! key derivation, packet formats, rollover counters, replay windows; only the
//! AES-128-CM keystream, the HMAC-SHA1 tag and AES-128-GCM are computed here,
//! with per-stream state in one allocation and no per-packet context restarts
//! (libsrtp's generic OpenSSL binding re-initialises EVP contexts for every
//! packet: measured in bench/, the relay's largest user-space cost with 1,000
//! sessions). libsrtp runs each replacement against its own and the built-in
//! type's test vectors before accepting it. AES-256 profiles stay on libsrtp's
//! own binding.
mod abi;
mod aes_gcm;
mod aes_icm;
mod hmac_sha1;
mod recording;
pub use recording::{record_allocations, HotState};
#[cfg(test)]
mod tests;

/// What each replacement is, for the versions report.
const HMAC: &str = "HMAC-SHA1 on OpenSSL SHA-1";
const ICM: &str = "AES-128-ICM on RustCrypto aes";
const GCM: &str = "AES-128-GCM on RustCrypto aes-gcm";

/// Installs the replacements (call once, after `srtp_init`). Each one libsrtp
/// refuses is logged and stays on libsrtp's own binding; returns what the
/// SRTP crypto now is, for the versions report.
pub(crate) fn install() -> String {
    // SAFETY: the types are static tables that live forever; libsrtp only
    // reads them. Called once under the caller's `Once`, before any session.
    let results = unsafe {
        [
            (HMAC, abi::srtp_replace_auth_type(&hmac_sha1::HMAC_SHA1, abi::SRTP_HMAC_SHA1)),
            (ICM, abi::srtp_replace_cipher_type(&aes_icm::AES_ICM_128, abi::SRTP_AES_ICM_128)),
            (GCM, abi::srtp_replace_cipher_type(aes_gcm::gcm_type(), abi::SRTP_AES_GCM_128)),
        ]
    };
    let mut installed = Vec::new();
    for (what, status) in results {
        if status == srtp2_sys::srtp_err_status_t_srtp_err_status_ok {
            installed.push(what);
        } else {
            log::error!("SRTP: libsrtp refused the {what} plug-in (status {status}); that algorithm stays on libsrtp's OpenSSL binding");
        }
    }
    if installed.is_empty() {
        "libsrtp built-in (OpenSSL EVP)".into()
    } else {
        format!("libsrtp with esbc plug-ins: {}", installed.join(", "))
    }
}
