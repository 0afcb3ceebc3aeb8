//! The JS-facing shapes (generated into binding.d.ts).
use std::collections::HashMap;

use napi_derive::napi;

#[napi(object)]
pub struct NativeVersions {
    /// OpenSSL_version(OPENSSL_VERSION) of the linked OpenSSL.
    pub openssl: String,
    /// OPENSSL_VERSION_NUMBER of the headers the addon was built against (hex).
    pub openssl_built: String,
    /// OpenSSL_version_num() of the linked OpenSSL (hex).
    pub openssl_runtime_number: String,
    /// srtp_get_version_string() of the linked libsrtp.
    pub libsrtp: String,
    /// The libsrtp version of the source compiled into the addon.
    pub libsrtp_built: String,
    /// What libsrtp's AES-128-CM and HMAC-SHA1 are computed with.
    pub srtp_crypto: String,
}

#[napi(object)]
pub struct EngineOptions {
    /// Address the media sockets bind to and the SDP advertises. Default 127.0.0.1.
    pub bind_address: Option<String>,
    pub port_min: Option<u32>,
    pub port_max: Option<u32>,
    /// Worker threads; default one per core.
    pub workers: Option<u32>,
    /// Largest DTLS datagram. Default 1200.
    pub mtu: Option<u32>,
    pub handshake_timeout_ms: Option<u32>,
    pub retransmit_initial_ms: Option<u32>,
    pub retransmit_max_ms: Option<u32>,
    /// DTLS-SRTP profiles in preference order (e.g. SRTP_AES128_CM_SHA1_80).
    pub srtp_profiles: Option<Vec<String>>,
    /// HelloVerifyRequest cookies as DTLS server. Default true.
    pub cookie_exchange: Option<bool>,
    /// PEM certificate and key; default: generate ECDSA P-256.
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    /// Regenerate the certificate this often (0 = never). Default 86400.
    pub cert_rotation_secs: Option<u32>,
    /// MediaTimeout after this many silent seconds (0 = off). Default 60.
    pub media_timeout_secs: Option<u32>,
    pub event_capacity: Option<u32>,
}

#[napi(object)]
#[derive(Clone)]
pub struct FingerprintJs {
    /// sha-1, sha-224, sha-256, sha-384 or sha-512.
    pub hash: String,
    /// Upper-case colon-separated hex.
    pub value: String,
}

#[napi(object)]
#[derive(Clone)]
pub struct SdesKeyJs {
    /// AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM.
    pub suite: String,
    /// base64 of master key || master salt (the RFC 4568 inline key).
    pub key: String,
}

#[napi(object)]
#[derive(Clone)]
pub struct IceCredentialsJs {
    pub ufrag: String,
    pub pwd: String,
}

/// ICE on a leg. The engine is always an ICE-lite agent (controlled).
#[napi(object)]
pub struct IceSpecJs {
    /// Our credentials; generated (8/24 random ice-chars) when absent.
    pub local_ufrag: Option<String>,
    pub local_pwd: Option<String>,
    /// The peer's a=ice-ufrag / a=ice-pwd (absent until its SDP is known).
    pub remote_ufrag: Option<String>,
    pub remote_pwd: Option<String>,
    /// Must be true (or absent): only ICE-lite is implemented.
    pub lite: Option<bool>,
}

#[napi(object)]
pub struct LegSpecJs {
    /// 'rtp' | 'dtls-srtp' | 'sdes-srtp'
    pub kind: String,
    /// dtls-srtp: our role, 'active' (DTLS client) or 'passive' (server).
    pub role: Option<String>,
    pub remote_fingerprints: Option<Vec<FingerprintJs>>,
    /// dtls-srtp: the peer's a=tls-id (RFC 8842); a changed value starts a new association.
    pub remote_tls_id: Option<String>,
    /// sdes-srtp: the key we send with and the one the peer sends with.
    pub local_key: Option<SdesKeyJs>,
    pub remote_key: Option<SdesKeyJs>,
    pub remote_address: Option<String>,
    pub remote_port: Option<u32>,
    pub remote_rtcp_port: Option<u32>,
    pub rtcp_mux: Option<bool>,
    /// The remote party's SDP direction. Default sendrecv.
    pub direction: Option<String>,
    /// Hash of the local fingerprint to return. Default sha-256.
    pub fingerprint_hash: Option<String>,
    /// ICE-lite: media and DTLS go only to the pair the peer nominates.
    pub ice: Option<IceSpecJs>,
}

#[napi(object)]
pub struct LegUpdateJs {
    pub remote_address: Option<String>,
    pub remote_port: Option<u32>,
    pub remote_rtcp_port: Option<u32>,
    pub rtcp_mux: Option<bool>,
    pub direction: Option<String>,
    /// When set, the leg's security is replaced by kind/role/fingerprints/keys
    /// (same role and fingerprints keep the DTLS association).
    pub kind: Option<String>,
    pub role: Option<String>,
    pub remote_fingerprints: Option<Vec<FingerprintJs>>,
    /// dtls-srtp: the peer's a=tls-id (RFC 8842); a changed value starts a new association.
    pub remote_tls_id: Option<String>,
    pub local_key: Option<SdesKeyJs>,
    pub remote_key: Option<SdesKeyJs>,
    /// Music on hold toward this leg: 'pcmu' or 'pcma' plays, 'off' stops.
    pub music: Option<String>,
    /// New ICE parameters; new credentials are an ICE restart (the DTLS
    /// association is kept when role and fingerprints are unchanged).
    pub ice: Option<IceSpecJs>,
}

#[napi(object)]
pub struct LocalLegJs {
    pub address: String,
    pub rtp_port: u32,
    pub rtcp_port: u32,
    pub fingerprint: FingerprintJs,
    /// Our ICE credentials on an ICE leg.
    pub ice: Option<IceCredentialsJs>,
    /// Our a=tls-id (DTLS-SRTP legs).
    pub tls_id: Option<String>,
}

#[napi(object)]
pub struct CreatedPipelineJs {
    pub id: i64,
    pub a: LocalLegJs,
    pub b: LocalLegJs,
}

#[napi(object)]
pub struct LegStatsJs {
    pub packets_in: i64,
    pub bytes_in: i64,
    pub packets_out: i64,
    pub bytes_out: i64,
    pub rtcp_in: i64,
    pub rtcp_out: i64,
    pub dtls_in: i64,
    pub dtls_out: i64,
    /// Drops by reason (malformed, stun, wrong_source, auth_fail, replay, ...).
    pub drops: HashMap<String, i64>,
    pub handshakes: u32,
    pub dtls_state: Option<String>,
    pub profile: Option<String>,
    pub latched: Option<String>,
    pub direction: String,
    /// Music-on-hold packets generated toward this leg, and their (constant) SSRC.
    pub music_packets: i64,
    pub music_ssrc: Option<u32>,
}

#[napi(object)]
pub struct PipelineStatsJs {
    pub a: LegStatsJs,
    pub b: LegStatsJs,
}

#[napi(object)]
pub struct MediaEventJs {
    pub pipeline: i64,
    /// 'dtls-connected' | 'dtls-failed' | 'dtls-closed' | 'media-latched' | 'media-timeout' | 'ice-consent-expired'
    pub r#type: String,
    pub side: String,
    pub profile: Option<String>,
    pub peer_fingerprint: Option<FingerprintJs>,
    /// dtls-failed: timeout, fingerprint mismatch, no common SRTP profile, alert: ...
    pub reason: Option<String>,
    /// media-latched: ip:port (on ICE legs: the nominated pair's remote address)
    pub address: Option<String>,
    /// dtls-connected: milliseconds from the first DTLS datagram in or out to the verified peer
    pub handshake_ms: Option<f64>,
}

/// The answer to an `updateLeg` or `closePipeline` call, matched by its token.
#[napi(object)]
pub struct CompletionJs {
    pub token: i64,
    /// 'updated' | 'closed'
    pub r#type: String,
    /// updated: our a=tls-id after the update (DTLS-SRTP legs)
    pub tls_id: Option<String>,
    /// updated: why the update was refused, as "[Code] message"
    pub error: Option<String>,
    /// closed: the final counters (absent: the pipeline no longer existed)
    pub stats: Option<PipelineStatsJs>,
}

/// One delivery from the engine's forwarder thread.
#[napi(object)]
pub struct EngineOutputJs {
    pub events: Vec<MediaEventJs>,
    pub completions: Vec<CompletionJs>,
    /// The engine's log records (`logs` module).
    pub logs: Vec<LogRecordJs>,
}

/// One log record of the native engine.
#[napi(object)]
pub struct LogRecordJs {
    /// "error", "warn" or "info".
    pub level: String,
    /// The Rust module that logged it.
    pub target: String,
    pub message: String,
}

#[napi(object)]
pub struct EngineCountersJs {
    pub pipelines: i64,
    pub port_pairs_in_use: i64,
    pub port_pairs_total: i64,
    pub dropped_events: i64,
    /// Datagrams the kernel refused after the workers queued them (no route,
    /// a pending ICMP error, a full socket buffer).
    pub send_errors: i64,
    /// io_uring receives the kernel ended because every receive buffer was in
    /// use (the worker fell behind); re-armed in turn.
    pub receive_starved: i64,
    pub cert_rotations: i64,
    pub workers: i64,
    /// "io_uring" or "epoll".
    pub io_backend: String,
    /// Why io_uring is not in use (absent when it is, or epoll was chosen).
    pub io_fallback: Option<String>,
    /// Native log records lost to a full queue (process-wide).
    pub dropped_log_records: i64,
}
