//! esbc-sip binary: `esbc-sip --config <file.json>` or `--config-json '<json>'`.

use esbc_sip::config::Config;

/// Run-time commands on stdin (`log-level`, `stats`) are read by the
/// runtime (runtime.rs, `spawn_stdin_commands`).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("--config"), Some(path)) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
        (Some("--config-json"), Some(j)) => Ok(j.clone()),
        _ => Err("usage: esbc-sip --config <file.json> | --config-json '<json>'".to_string()),
    };
    let cfg = match json.and_then(|j| Config::from_json(&j)) {
        Ok(c) => c,
        Err(e) => {
            esbc_sip::logging::log(esbc_sip::logging::Level::Error, &e, serde_json::json!({}));
            std::process::exit(2);
        }
    };
    esbc_sip::logging::set_level(&cfg.log_level);
    // Die with the parent (the TypeScript control plane) on Linux.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            esbc_sip::logging::log(esbc_sip::logging::Level::Error, &e.to_string(), serde_json::json!({}));
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(esbc_sip::runtime::run(cfg)) {
        esbc_sip::logging::log(esbc_sip::logging::Level::Error, &e, serde_json::json!({}));
        std::process::exit(1);
    }
}
