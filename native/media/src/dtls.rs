//! Sans-IO DTLS 1.2 endpoint for DTLS-SRTP (RFC 5763/5764) on OpenSSL.
//!
//! OpenSSL runs over an in-memory datagram queue (`MemIo`): the caller feeds
//! received datagrams with `handle_datagram`, drains datagrams to send with
//! `poll_datagram`, events with `poll_event`, and calls `handle_timeout` when
//! `next_timeout` passes. OpenSSL's own DTLS timers run on the real clock, so
//! retransmission follows real time; our handshake deadline uses `now`.
//!
//! The peer certificate is checked against the SDP fingerprints before any
//! key leaves this module: in the verify callback when the fingerprints are
//! already known (the peer gets a bad_certificate alert), otherwise right after
//! the handshake (a ClientHello may arrive before the SDP answer, RFC 5763 5).
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use foreign_types::ForeignTypeRef;

use crate::fingerprint::{cert_matches_any, Fingerprint, HashAlg};
use crate::identity::DtlsIdentity;
use crate::srtp::SrtpProfile;

#[derive(Debug, Clone)]
pub struct DtlsConfig {
    /// Largest datagram the handshake may send (UDP payload bytes).
    pub mtu: u32,
    /// First retransmission timeout; doubles per retransmission up to `max_retransmit`.
    pub initial_retransmit: Duration,
    pub max_retransmit: Duration,
    /// The whole handshake must finish within this time.
    pub handshake_timeout: Duration,
    /// Offered/accepted profiles in order of preference.
    pub profiles: Vec<SrtpProfile>,
    /// HelloVerifyRequest cookies as DTLS server (amplification protection).
    pub cookie_exchange: bool,
}

impl Default for DtlsConfig {
    fn default() -> Self {
        DtlsConfig {
            mtu: 1200,
            initial_retransmit: Duration::from_secs(1),
            max_retransmit: Duration::from_secs(8),
            handshake_timeout: Duration::from_secs(30),
            profiles: vec![
                SrtpProfile::AesCm128HmacSha1_80,
                SrtpProfile::AeadAes128Gcm,
                SrtpProfile::AeadAes256Gcm,
                SrtpProfile::AesCm128HmacSha1_32,
            ],
            cookie_exchange: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// a=setup:active: we send the ClientHello.
    Client,
    /// a=setup:passive: we wait for it.
    Server,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsFailure {
    Timeout,
    FingerprintMismatch,
    NoCommonProfile,
    NoCertificate,
    /// A fatal alert received or another protocol error (OpenSSL's reason text).
    Protocol(String),
}

impl DtlsFailure {
    pub fn reason(&self) -> String {
        match self {
            DtlsFailure::Timeout => "timeout".into(),
            DtlsFailure::FingerprintMismatch => "fingerprint mismatch".into(),
            DtlsFailure::NoCommonProfile => "no common SRTP profile".into(),
            DtlsFailure::NoCertificate => "no peer certificate".into(),
            DtlsFailure::Protocol(s) => format!("alert: {s}"),
        }
    }
}

/// SRTP master keys (key || salt) derived from the handshake for our role.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub profile: SrtpProfile,
    /// What we protect with (our role's half).
    pub local: Vec<u8>,
    /// What we unprotect with (the peer's half).
    pub remote: Vec<u8>,
}

impl std::fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpKeys").field("profile", &self.profile).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsEvent {
    Connected { keys: SrtpKeys, peer_fingerprint: Fingerprint },
    Failed(DtlsFailure),
    /// The peer sent close_notify.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsState {
    Handshaking,
    /// Handshake done, waiting for the SDP fingerprint to verify the peer.
    AwaitingFingerprint,
    Connected,
    Failed,
    Closed,
}

/// OpenSSL context for one identity and configuration, shared by all endpoints.
pub struct DtlsContext {
    ctx: SslContext,
    identity: Arc<DtlsIdentity>,
    config: DtlsConfig,
}

struct TimerCfg {
    initial_us: u32,
    max_us: u32,
}

/// The peer's transport address, which cookies are bound to. Shared with the
/// endpoint because it is learned after the SSL object exists.
type PeerAddr = Arc<Mutex<Vec<u8>>>;

fn peer_addr_index() -> openssl::ex_data::Index<Ssl, PeerAddr> {
    static IDX: OnceLock<openssl::ex_data::Index<Ssl, PeerAddr>> = OnceLock::new();
    *IDX.get_or_init(|| Ssl::new_ex_index().expect("ssl ex index"))
}

fn timer_index() -> openssl::ex_data::Index<Ssl, TimerCfg> {
    static IDX: OnceLock<openssl::ex_data::Index<Ssl, TimerCfg>> = OnceLock::new();
    *IDX.get_or_init(|| Ssl::new_ex_index().expect("ssl ex index"))
}

type DtlsTimerCb = unsafe extern "C" fn(*mut openssl_sys::SSL, libc::c_uint) -> libc::c_uint;
extern "C" {
    fn DTLS_set_timer_cb(s: *mut openssl_sys::SSL, cb: Option<DtlsTimerCb>);
}
const DTLS_CTRL_GET_TIMEOUT: libc::c_int = 73;
const SSL_CTRL_SET_MAX_CERT_LIST: libc::c_int = 51;
const MAX_CERT_LIST: libc::c_long = 16 * 1024;
const DTLS_CTRL_HANDLE_TIMEOUT: libc::c_int = 74;

/// Back-off for flight retransmission: initial, then doubling up to the cap.
unsafe extern "C" fn dtls_timer(s: *mut openssl_sys::SSL, previous_us: libc::c_uint) -> libc::c_uint {
    // SAFETY: OpenSSL passes the live SSL this callback was installed on.
    let ssl = unsafe { openssl::ssl::SslRef::from_ptr(s) };
    let (initial, max) = ssl.ex_data(timer_index()).map(|t| (t.initial_us, t.max_us)).unwrap_or((1_000_000, 8_000_000));
    if previous_us == 0 {
        initial
    } else {
        previous_us.saturating_mul(2).min(max)
    }
}

impl DtlsContext {
    pub fn new(identity: Arc<DtlsIdentity>, config: DtlsConfig) -> Result<Arc<DtlsContext>, ErrorStack> {
        let mut b = SslContextBuilder::new(SslMethod::dtls())?;
        b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
        b.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
        b.set_certificate(&identity.cert)?;
        b.set_private_key(&identity.key)?;
        b.check_private_key()?;
        // Self-signed peers are the norm; trust comes from the SDP fingerprint.
        b.set_security_level(1);
        b.set_cipher_list(
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
             ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA",
        )?;
        let profiles: Vec<&str> = config.profiles.iter().map(|p| p.openssl_name()).collect();
        b.set_tlsext_use_srtp(&profiles.join(":"))?;
        // No renegotiation: DTLS-SRTP keys come from the first handshake only
        // (RFC 5764 4.2); a peer's later ClientHello/HelloRequest is refused.
        b.set_options(SslOptions::NO_QUERY_MTU | SslOptions::NO_TICKET | SslOptions::NO_RENEGOTIATION);
        b.set_read_ahead(true);
        // OpenSSL reassembles up to 10 handshake messages ahead, each as long
        // as max_cert_list allows (default 100 KB): 1 MB per endpoint for a
        // hostile peer. DTLS-SRTP certificates are a few KB.
        // SAFETY: SSL_CTX_set_max_cert_list on the context being built.
        unsafe { openssl_sys::SSL_CTX_ctrl(b.as_ptr(), SSL_CTRL_SET_MAX_CERT_LIST, MAX_CERT_LIST, std::ptr::null_mut()) };
        if config.cookie_exchange {
            b.set_options(SslOptions::COOKIE_EXCHANGE);
            // One HMAC key per context (building it per cookie doubled the cost).
            let secret: Arc<PKey<Private>> = Arc::new(PKey::hmac(&random_bytes::<32>())?);
            let gen_secret = secret.clone();
            b.set_cookie_generate_cb(move |ssl, out| {
                let mac = cookie_mac(&gen_secret, &peer_of(ssl))?;
                let n = mac.len().min(out.len());
                out[..n].copy_from_slice(&mac[..n]);
                Ok(n)
            });
            b.set_cookie_verify_cb(move |ssl, cookie| {
                match cookie_mac(&secret, &peer_of(ssl)) {
                    Ok(mac) => cookie.len() == mac.len() && openssl::memcmp::eq(cookie, &mac),
                    Err(_) => false,
                }
            });
        }
        Ok(Arc::new(DtlsContext { ctx: b.build(), identity, config }))
    }

    pub fn identity(&self) -> &Arc<DtlsIdentity> {
        &self.identity
    }

    pub fn config(&self) -> &DtlsConfig {
        &self.config
    }
}

/// 32 random characters of the RFC 8842 tls-id alphabet (base64url).
fn new_tls_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    random_bytes::<32>().iter().map(|b| ALPHABET[(b & 63) as usize] as char).collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL RNG");
    b
}

fn peer_of(ssl: &openssl::ssl::SslRef) -> Vec<u8> {
    ssl.ex_data(peer_addr_index()).map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).clone()).unwrap_or_default()
}

fn cookie_mac(key: &PKey<Private>, peer: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(peer)?;
    let mut mac = signer.sign_to_vec()?;
    mac.truncate(20);
    Ok(mac)
}

/// In-memory datagram transport under OpenSSL: one read or write = one datagram.
#[derive(Default)]
struct MemIo {
    incoming: VecDeque<Vec<u8>>,
    outgoing: VecDeque<Vec<u8>>,
}

const MAX_QUEUED: usize = 64;

impl Read for MemIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.incoming.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for MemIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.outgoing.len() >= MAX_QUEUED {
            self.outgoing.pop_front();
        }
        self.outgoing.push_back(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub struct DtlsEndpoint {
    stream: SslStream<MemIo>,
    role: DtlsRole,
    state: DtlsState,
    expected: Arc<Mutex<Vec<Fingerprint>>>,
    verify_failed: Arc<AtomicBool>,
    peer_addr: PeerAddr,
    deadline: Instant,
    events: VecDeque<DtlsEvent>,
    profiles: Vec<SrtpProfile>,
    scratch: Vec<u8>,
    /// Datagrams dropped before OpenSSL saw them.
    pub malformed: u64,
    /// Datagrams of only encrypted (epoch > 0) records seen while handshaking,
    /// and whether the peer's ChangeCipherSpec has arrived.
    early_encrypted: u32,
    /// Our a=tls-id (RFC 8842): one per association, so the SDP tells the
    /// peer when we started a new one.
    tls_id: String,
    peer_ccs: bool,
}

impl DtlsEndpoint {
    /// A new endpoint; a client starts its handshake (ClientHello) right away.
    pub fn new(
        ctx: &DtlsContext,
        role: DtlsRole,
        remote_fingerprints: Vec<Fingerprint>,
        now: Instant,
    ) -> Result<DtlsEndpoint, ErrorStack> {
        let mut ssl = Ssl::new(&ctx.ctx)?;
        ssl.set_mtu(ctx.config.mtu)?;
        let expected = Arc::new(Mutex::new(remote_fingerprints));
        let verify_failed = Arc::new(AtomicBool::new(false));
        let (exp, failed) = (expected.clone(), verify_failed.clone());
        ssl.set_verify_callback(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT, move |_ok, store| {
            // Chain validation does not apply (self-signed); the leaf
            // certificate must match the SDP fingerprint when we know it.
            if store.error_depth() != 0 {
                return true;
            }
            let Some(cert) = store.current_cert() else { return false };
            let fps = exp.lock().unwrap_or_else(|p| p.into_inner());
            if fps.is_empty() || cert_matches_any(cert, &fps) {
                true
            } else {
                failed.store(true, Ordering::Relaxed);
                false
            }
        });
        ssl.set_ex_data(
            timer_index(),
            TimerCfg {
                initial_us: ctx.config.initial_retransmit.as_micros().min(u32::MAX as u128) as u32,
                max_us: ctx.config.max_retransmit.as_micros().min(u32::MAX as u128) as u32,
            },
        );
        let peer_addr = PeerAddr::default();
        ssl.set_ex_data(peer_addr_index(), peer_addr.clone());
        // SAFETY: installs a plain function pointer on a live SSL.
        unsafe { DTLS_set_timer_cb(ssl.as_ptr(), Some(dtls_timer)) };
        match role {
            DtlsRole::Client => ssl.set_connect_state(),
            DtlsRole::Server => ssl.set_accept_state(),
        }
        let stream = SslStream::new(ssl, MemIo::default())?;
        let mut ep = DtlsEndpoint {
            stream,
            role,
            state: DtlsState::Handshaking,
            expected,
            verify_failed,
            peer_addr,
            deadline: now + ctx.config.handshake_timeout,
            events: VecDeque::new(),
            tls_id: new_tls_id(),
            profiles: ctx.config.profiles.clone(),
            scratch: vec![0u8; 2048],
            malformed: 0,
            early_encrypted: 0,
            peer_ccs: false,
        };
        if role == DtlsRole::Client {
            ep.drive();
        }
        Ok(ep)
    }

    pub fn role(&self) -> DtlsRole {
        self.role
    }

    pub fn state(&self) -> DtlsState {
        self.state
    }

    /// Lets the cookie exchange bind cookies to the peer's transport address.
    pub fn set_peer_address(&mut self, addr: &std::net::SocketAddr) {
        *self.peer_addr.lock().unwrap_or_else(|e| e.into_inner()) = format!("{addr}").into_bytes();
    }

    /// Fingerprints from a (later) SDP answer. Completes a handshake that
    /// finished before the answer arrived.
    pub fn set_remote_fingerprints(&mut self, fps: Vec<Fingerprint>) {
        *self.expected.lock().unwrap_or_else(|p| p.into_inner()) = fps;
        if self.state == DtlsState::AwaitingFingerprint {
            self.verify_and_export();
        }
    }

    pub fn handle_datagram(&mut self, data: &[u8], now: Instant) {
        if matches!(self.state, DtlsState::Failed | DtlsState::Closed) {
            return;
        }
        // OpenSSL treats some malformed records as fatal to the association;
        // a datagram that is not a clean sequence of DTLS records is dropped here.
        if !well_formed_records(data) {
            self.malformed += 1;
            return;
        }
        // While handshaking OpenSSL keeps up to 100 early next-epoch records,
        // each with its own ~17 KB read buffer. Before the peer's
        // ChangeCipherSpec a real peer sends its Finished alone a few times at
        // most (reordering): only those datagrams are capped.
        if self.state == DtlsState::Handshaking && !self.peer_ccs {
            match early_records(data) {
                Early::ChangeCipherSpec => self.peer_ccs = true,
                Early::Encrypted if self.early_encrypted >= MAX_EARLY_ENCRYPTED => {
                    self.malformed += 1;
                    return;
                }
                Early::Encrypted => self.early_encrypted += 1,
                Early::Plain => {}
            }
        }
        let io = self.stream.get_mut();
        if io.incoming.len() >= MAX_QUEUED {
            io.incoming.pop_front();
        }
        io.incoming.push_back(data.to_vec());
        self.drive();
        self.check_deadline(now);
    }

    pub fn tls_id(&self) -> &str {
        &self.tls_id
    }

    pub fn poll_datagram(&mut self) -> Option<Vec<u8>> {
        self.stream.get_mut().outgoing.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should next be called.
    pub fn next_timeout(&self, now: Instant) -> Option<Instant> {
        match self.state {
            DtlsState::Handshaking => {
                let retransmit = self.openssl_timeout().map(|d| now + d);
                Some(retransmit.map_or(self.deadline, |r| r.min(self.deadline)))
            }
            DtlsState::AwaitingFingerprint => Some(self.deadline),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.check_deadline(now) || self.state != DtlsState::Handshaking {
            return;
        }
        // SAFETY: DTLSv1_handle_timeout on a live SSL; retransmits a flight if due.
        let rc = unsafe {
            openssl_sys::SSL_ctrl(self.stream.ssl().as_ptr(), DTLS_CTRL_HANDLE_TIMEOUT, 0, std::ptr::null_mut())
        };
        if rc < 0 {
            self.fail(DtlsFailure::Timeout);
        }
    }

    /// Sends close_notify (when the call ends with the association up).
    pub fn close(&mut self) {
        if self.state == DtlsState::Connected {
            let _ = self.stream.shutdown();
        }
        self.state = DtlsState::Closed;
    }

    fn openssl_timeout(&self) -> Option<Duration> {
        let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
        // SAFETY: DTLSv1_get_timeout writes a struct timeval.
        let rc = unsafe {
            openssl_sys::SSL_ctrl(
                self.stream.ssl().as_ptr(),
                DTLS_CTRL_GET_TIMEOUT,
                0,
                (&mut tv as *mut libc::timeval).cast(),
            )
        };
        (rc == 1).then(|| Duration::new(tv.tv_sec.max(0) as u64, (tv.tv_usec.max(0) as u32) * 1000))
    }

    fn check_deadline(&mut self, now: Instant) -> bool {
        let pending = matches!(self.state, DtlsState::Handshaking | DtlsState::AwaitingFingerprint);
        if pending && now >= self.deadline {
            self.fail(DtlsFailure::Timeout);
            return true;
        }
        false
    }

    fn drive(&mut self) {
        match self.state {
            DtlsState::Handshaking => match self.stream.do_handshake() {
                Ok(()) => self.on_handshake_done(),
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {}
                Err(e) => {
                    let failure = if self.verify_failed.load(Ordering::Relaxed) {
                        DtlsFailure::FingerprintMismatch
                    } else {
                        classify(&e)
                    };
                    self.fail(failure);
                }
            },
            DtlsState::AwaitingFingerprint | DtlsState::Connected => self.read_records(),
            DtlsState::Failed | DtlsState::Closed => {}
        }
    }

    /// Records after the handshake: alerts, close_notify, a retransmitted
    /// Finished (OpenSSL answers it by resending its last flight).
    fn read_records(&mut self) {
        loop {
            match self.stream.ssl_read(&mut self.scratch) {
                Ok(_) => continue, // application data is not used by DTLS-SRTP
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.state = DtlsState::Closed;
                    self.events.push_back(DtlsEvent::Closed);
                    return;
                }
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => return,
                Err(e) => {
                    // A fatal alert from the peer ends the association; a bad
                    // record from an attacker only costs that record.
                    let failure = classify(&e);
                    if matches!(&failure, DtlsFailure::Protocol(t) if t.contains("alert")) {
                        self.fail(failure);
                    }
                    return;
                }
            }
        }
    }

    fn on_handshake_done(&mut self) {
        if self.stream.ssl().peer_certificate().is_none() {
            self.fail(DtlsFailure::NoCertificate);
            return;
        }
        if self.stream.ssl().selected_srtp_profile().is_none() {
            self.fail(DtlsFailure::NoCommonProfile);
            let _ = self.stream.shutdown();
            return;
        }
        self.state = DtlsState::AwaitingFingerprint;
        if !self.expected.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
            self.verify_and_export();
        }
    }

    fn verify_and_export(&mut self) {
        let Some(cert) = self.stream.ssl().peer_certificate() else {
            return self.fail(DtlsFailure::NoCertificate);
        };
        let expected = self.expected.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if !cert_matches_any(&cert, &expected) {
            let _ = self.stream.shutdown();
            return self.fail(DtlsFailure::FingerprintMismatch);
        }
        match self.export_keys() {
            Some(keys) => {
                self.state = DtlsState::Connected;
                let hash = expected.first().map(|f| f.hash).unwrap_or(HashAlg::Sha256);
                self.events.push_back(DtlsEvent::Connected { keys, peer_fingerprint: Fingerprint::of_cert(&cert, hash) });
            }
            None => self.fail(DtlsFailure::NoCommonProfile),
        }
    }

    fn export_keys(&self) -> Option<SrtpKeys> {
        let ssl = self.stream.ssl();
        let name = ssl.selected_srtp_profile()?.name().to_string();
        let profile = SrtpProfile::from_name(&name).filter(|p| self.profiles.contains(p))?;
        let (k, s) = (profile.key_len(), profile.salt_len());
        let mut m = vec![0u8; 2 * (k + s)];
        ssl.export_keying_material(&mut m, "EXTRACTOR-dtls_srtp", None).ok()?;
        // RFC 5764 4.2: client_key | server_key | client_salt | server_salt.
        let client = [&m[..k], &m[2 * k..2 * k + s]].concat();
        let server = [&m[k..2 * k], &m[2 * k + s..]].concat();
        m.iter_mut().for_each(|b| *b = 0);
        let (local, remote) = match self.role {
            DtlsRole::Client => (client, server),
            DtlsRole::Server => (server, client),
        };
        Some(SrtpKeys { profile, local, remote })
    }

    fn fail(&mut self, failure: DtlsFailure) {
        if matches!(self.state, DtlsState::Failed | DtlsState::Closed) {
            return;
        }
        self.state = DtlsState::Failed;
        self.events.push_back(DtlsEvent::Failed(failure));
    }

    /// The certificate the peer presented, once the handshake has finished.
    pub fn peer_certificate(&self) -> Option<X509> {
        self.stream.ssl().peer_certificate()
    }
}

/// The smallest protected record our cipher suites produce (AES-GCM: 8-byte
/// explicit nonce + 16-byte tag; CBC suites need more). OpenSSL 3 fails the
/// whole association on a shorter one, so they are dropped before it.
const MIN_PROTECTED_RECORD: usize = 24;

/// A datagram of whole DTLS 1.0/1.2 records (RFC 6347 4.1): 13-byte headers
/// with a DTLS version, and lengths that end exactly at the datagram's end.
fn well_formed_records(d: &[u8]) -> bool {
    let mut off = 0;
    while off < d.len() {
        let Some(h) = d.get(off..off + 13) else { return false };
        if !(20..=63).contains(&h[0]) || h[1] != 0xfe || !(h[2] == 0xfd || h[2] == 0xff) {
            return false;
        }
        let len = u16::from_be_bytes([h[11], h[12]]) as usize;
        let epoch = u16::from_be_bytes([h[3], h[4]]);
        if epoch > 0 && len < MIN_PROTECTED_RECORD {
            return false;
        }
        off += 13 + len;
    }
    off == d.len() && !d.is_empty()
}

/// Whether a datagram starts with a plaintext (epoch 0) handshake record,
/// the only kind that can begin a DTLS association.
pub fn opens_association(d: &[u8]) -> bool {
    d.len() >= 13 && d[0] == 22 && d[3] == 0 && d[4] == 0
}

/// Datagrams of only encrypted records accepted during a handshake.
const MAX_EARLY_ENCRYPTED: u32 = 16;

enum Early {
    ChangeCipherSpec,
    Encrypted,
    Plain,
}

/// What a (well-formed) handshake-time datagram holds: a plaintext
/// ChangeCipherSpec, only encrypted (epoch > 0) records, or neither.
fn early_records(d: &[u8]) -> Early {
    let (mut off, mut plain) = (0, false);
    while let Some(h) = d.get(off..off + 13) {
        if h[3] == 0 && h[4] == 0 {
            if h[0] == 20 {
                return Early::ChangeCipherSpec;
            }
            plain = true;
        }
        off += 13 + u16::from_be_bytes([h[11], h[12]]) as usize;
    }
    if plain {
        Early::Plain
    } else {
        Early::Encrypted
    }
}

fn classify(e: &openssl::ssl::Error) -> DtlsFailure {
    let text = e
        .ssl_error()
        .and_then(|stack| stack.errors().first().and_then(|er| er.reason().map(str::to_string)))
        .unwrap_or_else(|| e.to_string());
    if text.contains("srtp") || text.contains("SRTP") {
        DtlsFailure::NoCommonProfile
    } else if text.contains("no certificate") || text.contains("peer did not return a certificate") {
        DtlsFailure::NoCertificate
    } else {
        DtlsFailure::Protocol(text)
    }
}

#[cfg(test)]
mod tests;
