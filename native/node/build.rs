fn main() {
    napi_build::setup();
    // libsrtp's allocator goes through the media engine's recording wrapper,
    // which tells the packet path where each session's state lives
    // (esbc_media::srtp_kernel::recording).
    println!("cargo:rustc-link-arg=-Wl,--wrap=srtp_crypto_alloc");
}
