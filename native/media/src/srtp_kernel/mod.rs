//! Crypto primitives plugged into libsrtp's crypto kernel
//! (`srtp_replace_auth_type` / `srtp_replace_cipher_type`, the extension point
//! libsrtp provides for accelerated crypto). libsrtp still does all of SRTP:
//! key derivation, packet formats, rollover counters, replay windows; only the
//! AES-128-CM keystream and the HMAC-SHA1 tag are computed here, on OpenSSL's
//! AES-NI and SHA-1 block functions without the per-packet context restarts of
//! libsrtp's generic OpenSSL binding (measured in bench/: the relay's largest
//! user-space cost with 1,000 sessions). libsrtp runs each replacement against
//! its own and the built-in type's test vectors before accepting it.
mod abi;
mod aes_icm;
mod hmac_sha1;
#[cfg(test)]
mod tests;

pub(crate) const DESCRIPTION: &str =
    "libsrtp with esbc plug-ins: AES-128-ICM on RustCrypto aes (AES-NI), HMAC-SHA1 on OpenSSL SHA-1";

/// Install the replacements; call once, after `srtp_init`.
pub(crate) fn install() -> Result<(), String> {
    // SAFETY: the types are static tables that live forever; libsrtp only
    // reads them. Called once under the caller's `Once`, before any session.
    let auth = unsafe { abi::srtp_replace_auth_type(&hmac_sha1::HMAC_SHA1, abi::SRTP_HMAC_SHA1) };
    if auth != srtp2_sys::srtp_err_status_t_srtp_err_status_ok {
        return Err(format!("libsrtp refused the HMAC-SHA1 replacement (status {auth})"));
    }
    let cipher = unsafe { abi::srtp_replace_cipher_type(&aes_icm::AES_ICM_128, abi::SRTP_AES_ICM_128) };
    if cipher != srtp2_sys::srtp_err_status_t_srtp_err_status_ok {
        return Err(format!("libsrtp refused the AES-128-ICM replacement (status {cipher})"));
    }
    Ok(())
}
