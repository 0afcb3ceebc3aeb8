//! Records the versions of the OpenSSL headers and libsrtp source this crate is
//! built against, so the running addon can prove it uses those exact copies.
use std::{env, fs, path::PathBuf};

fn main() {
    let openssl = env::var("DEP_OPENSSL_VERSION_NUMBER").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=ESBC_OPENSSL_BUILT={openssl}");
    println!("cargo:rustc-env=ESBC_LIBSRTP_BUILT={}", libsrtp_source_version());
    // This crate's own tests link the same libsrtp allocator wrapper as the
    // addon (srtp_kernel::recording).
    println!("cargo:rustc-link-arg=-Wl,--wrap=srtp_crypto_alloc");
    println!("cargo:rerun-if-changed=build.rs");
}

/// Reads AC_INIT([libsrtp2], [X.Y.Z]) from the libsrtp source bundled in the
/// srtp2-sys crate this build resolved (its version from Cargo.lock, its
/// source in cargo's registry cache).
fn libsrtp_source_version() -> String {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let lock = manifest.ancestors().map(|d| d.join("Cargo.lock")).find(|p| p.exists());
    let lock = lock.and_then(|p| fs::read_to_string(p).ok()).unwrap_or_default();
    let version = lock
        .split("[[package]]")
        .find(|pkg| pkg.contains("name = \"srtp2-sys\""))
        .and_then(|pkg| pkg.lines().find(|l| l.starts_with("version = ")))
        .map(|l| l.trim_start_matches("version = ").trim_matches('"').to_string());
    let Some(version) = version else { return "unknown".into() };
    let cargo_home = env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env::var("HOME").unwrap_or_default()).join(".cargo"));
    let Ok(registries) = fs::read_dir(cargo_home.join("registry/src")) else { return "unknown".into() };
    for reg in registries.flatten() {
        let configure = reg.path().join(format!("srtp2-sys-{version}/libsrtp/configure.ac"));
        if let Ok(text) = fs::read_to_string(&configure) {
            println!("cargo:rerun-if-changed={}", configure.display());
            if let Some(v) = text
                .lines()
                .find(|l| l.starts_with("AC_INIT("))
                .and_then(|l| l.split('[').nth(2))
                .and_then(|v| v.split(']').next())
            {
                return v.to_string();
            }
        }
    }
    "unknown".into()
}
