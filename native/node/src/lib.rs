//! napi-rs bindings for the media engine. Thin: conversion between JS
//! objects and the engine's types, and the event forwarder. No logic.
#![deny(clippy::all)]

mod convert;
mod logs;
mod types;

use std::sync::Arc;

use esbc_media::engine::{Engine, EngineError};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

pub use types::*;

/// Versions of the libraries linked into the addon, read at run time from the
/// linked code itself, so a test can prove the statically linked copies are
/// the ones in use (not Node's own OpenSSL).
#[napi]
pub fn native_versions() -> NativeVersions {
    let v = esbc_media::versions();
    NativeVersions {
        openssl: v.openssl_runtime,
        openssl_built: v.openssl_built,
        openssl_runtime_number: format!("{:x}", esbc_media::versions::openssl_runtime_number()),
        libsrtp: v.libsrtp_runtime,
        libsrtp_built: v.libsrtp_built.to_string(),
        srtp_crypto: v.srtp_crypto.to_string(),
    }
}

/// An engine error as "[Code] message" (the TypeScript side maps the code).
fn coded(e: &EngineError) -> String {
    let code = match e {
        EngineError::PortsExhausted => "PortsExhausted",
        EngineError::NoSuchPipeline(_) => "NoSuchPipeline",
        EngineError::InvalidSpec(_) => "InvalidSpec",
        EngineError::Internal(_) => "Internal",
    };
    format!("[{code}] {e}")
}

fn js_err(e: EngineError) -> napi::Error {
    napi::Error::new(Status::GenericFailure, coded(&e))
}

/// Moves what is already queued on `rx` into `out`, converted (a batch holds at most 512).
fn drain<T, U>(rx: &crossbeam_channel::Receiver<T>, out: &mut Vec<U>, convert: fn(T) -> U) {
    while out.len() < 512 {
        match rx.try_recv() {
            Ok(v) => out.push(convert(v)),
            Err(_) => break,
        }
    }
}

fn bad(msg: String) -> napi::Error {
    napi::Error::new(Status::InvalidArg, format!("[InvalidSpec] {msg}"))
}

/// The media engine: owns ports, the DTLS identity and the worker threads.
#[napi]
pub struct NativeMediaEngine {
    engine: Arc<Engine>,
}

#[napi]
impl NativeMediaEngine {
    #[napi(constructor)]
    pub fn new(options: EngineOptions) -> napi::Result<Self> {
        let config = convert::engine_config(options).map_err(bad)?;
        // Before the engine starts, so that its start-up records are kept.
        logs::install();
        Ok(NativeMediaEngine { engine: Engine::start(config).map_err(js_err)? })
    }

    /// Delivers engine events and the completions of `updateLeg` /
    /// `closePipeline` to `callback` in batches from a forwarder thread.
    /// Call once; the engine keeps both queued until then (events bounded).
    #[napi]
    pub fn on_events(&self, callback: ThreadsafeFunction<EngineOutputJs, (), EngineOutputJs, Status, false, true, 64>) -> napi::Result<()> {
        let engine = Arc::downgrade(&self.engine);
        let events = self.engine.events().clone();
        let completions = self.engine.completions().clone();
        let logs = logs::install();
        std::thread::Builder::new()
            .name("esbc-media-events".into())
            .spawn(move || {
                loop {
                    let mut batch = EngineOutputJs { events: Vec::new(), completions: Vec::new(), logs: Vec::new() };
                    crossbeam_channel::select! {
                        recv(events) -> ev => match ev {
                            Ok(ev) => batch.events.push(convert::event(ev)),
                            Err(_) => return,
                        },
                        recv(completions) -> c => match c {
                            Ok(c) => batch.completions.push(convert::completion(c)),
                            Err(_) => return,
                        },
                        recv(logs) -> l => if let Ok(l) = l {
                            batch.logs.push(l);
                        },
                    }
                    drain(&logs, &mut batch.logs, |l| l);
                    drain(&completions, &mut batch.completions, convert::completion);
                    drain(&events, &mut batch.events, convert::event);
                    // Blocking on a bounded queue: if JS falls behind, this
                    // thread waits and the workers' bounded channel absorbs
                    // (and counts) the overflow; workers never block.
                    if callback.call(batch, ThreadsafeFunctionCallMode::Blocking) != Status::Ok {
                        return;
                    }
                    if engine.strong_count() == 0 {
                        return;
                    }
                }
            })
            .map_err(|e| napi::Error::from_reason(e.to_string()))?;
        Ok(())
    }

    #[napi]
    pub fn create_pipeline(&self, a: LegSpecJs, b: LegSpecJs) -> napi::Result<CreatedPipelineJs> {
        let hashes = [convert::hash(a.fingerprint_hash.as_deref()).map_err(bad)?, convert::hash(b.fingerprint_hash.as_deref()).map_err(bad)?];
        let sa = convert::leg_spec(a).map_err(bad)?;
        let sb = convert::leg_spec(b).map_err(bad)?;
        let created = self.engine.create_pipeline(sa, sb, hashes).map_err(js_err)?;
        Ok(convert::created(created))
    }

    /// Queues the update (applied in order with the pipeline's other commands);
    /// the worker's answer (tls-id or refusal) arrives as an 'updated'
    /// completion with `token`. Returns our ICE credentials when `update.ice` was given.
    #[napi]
    pub fn update_leg(&self, id: i64, side: String, update: LegUpdateJs, token: i64) -> napi::Result<Option<IceCredentialsJs>> {
        let side = convert::side(&side).map_err(bad)?;
        let u = convert::leg_update(update).map_err(bad)?;
        let ice = u.ice.as_ref().map(|p| convert::ice_credentials(&p.local));
        self.engine.update_async(id as u64, side, u, token as u64).map_err(js_err)?;
        Ok(ice)
    }

    /// Our fingerprint for a live pipeline, in the given hash.
    #[napi]
    pub fn pipeline_fingerprint(&self, id: i64, hash: String) -> napi::Result<FingerprintJs> {
        let h = convert::hash(Some(&hash)).map_err(bad)?;
        Ok(convert::fingerprint(&self.engine.pipeline_fingerprint(id as u64, h).map_err(js_err)?))
    }

    #[napi]
    pub fn stats(&self, id: i64) -> napi::Result<PipelineStatsJs> {
        Ok(convert::stats(self.engine.stats(id as u64).map_err(js_err)?))
    }

    /// Queues the close; the final counters arrive as a 'closed' completion
    /// with `token` once the worker has closed the sockets and freed the ports.
    #[napi]
    pub fn close_pipeline(&self, id: i64, token: i64) -> napi::Result<()> {
        self.engine.close_async(id as u64, token as u64).map_err(js_err)
    }

    /// Music on hold for new calls: 8 kHz G.711 audio, PCMU and PCMA.
    #[napi]
    pub fn set_music(&self, pcmu: napi::bindgen_prelude::Buffer, pcma: napi::bindgen_prelude::Buffer) -> napi::Result<()> {
        self.engine.set_music(pcmu.to_vec(), pcma.to_vec()).map_err(js_err)
    }

    #[napi]
    pub fn rotate_certificate(&self) -> napi::Result<()> {
        self.engine.rotate_certificate().map_err(js_err)
    }

    /// The fingerprint new calls get.
    #[napi]
    pub fn current_fingerprint(&self, hash: Option<String>) -> napi::Result<FingerprintJs> {
        let h = convert::hash(hash.as_deref()).map_err(bad)?;
        Ok(convert::fingerprint(&self.engine.current_fingerprint(h)))
    }

    #[napi]
    pub fn counters(&self) -> EngineCountersJs {
        let c = self.engine.counters();
        EngineCountersJs {
            pipelines: c.pipelines as i64,
            port_pairs_in_use: c.port_pairs_in_use as i64,
            port_pairs_total: c.port_pairs_total as i64,
            dropped_events: c.dropped_events as i64,
            send_errors: c.send_errors as i64,
            receive_starved: c.receive_starved as i64,
            cert_rotations: c.cert_rotations as i64,
            workers: c.workers as i64,
            io_backend: c.io_backend.to_string(),
            io_fallback: c.io_fallback,
            dropped_log_records: logs::dropped() as i64,
        }
    }

    #[napi]
    pub fn shutdown(&self) {
        self.engine.shutdown();
    }
}
