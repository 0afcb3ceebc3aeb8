//! Conversions between the JS shapes and the engine's types.
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use esbc_media::dtls::DtlsRole;
use esbc_media::engine::{CertSource, Completion, CreatedPipeline, EngineConfig, LocalLeg};
use esbc_media::fingerprint::{Fingerprint, HashAlg};
use esbc_media::ice::{IceCredentials, IceParams};
use esbc_media::leg::{Direction, LegSecurity, LegSpec, LegUpdate, SdesKey, Side};
use esbc_media::pipeline::MediaEvent;
use esbc_media::srtp::SrtpProfile;
use esbc_media::stats::DROP_REASONS;
use esbc_media::worker::{EngineEvent, LegSnapshot, PipelineStats};

use crate::types::*;

pub fn engine_config(o: EngineOptions) -> Result<EngineConfig, String> {
    let mut c = EngineConfig::default();
    if let Some(a) = o.bind_address {
        c.bind_ip = a.parse::<IpAddr>().map_err(|_| format!("bindAddress '{a}' is not an IP address"))?;
    }
    if let Some(p) = o.port_min {
        c.port_min = port(p, "portMin")?;
    }
    if let Some(p) = o.port_max {
        c.port_max = port(p, "portMax")?;
    }
    if c.port_max <= c.port_min + 2 {
        return Err(format!("portMax {} must be above portMin {} + 2", c.port_max, c.port_min));
    }
    if let Some(w) = o.workers {
        c.workers = w.clamp(1, 256) as usize;
    }
    if let Some(m) = o.mtu {
        if !(256..=65507).contains(&m) {
            return Err(format!("mtu {m} out of range 256-65507"));
        }
        c.dtls.mtu = m;
    }
    if let Some(ms) = o.handshake_timeout_ms {
        c.dtls.handshake_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = o.retransmit_initial_ms {
        c.dtls.initial_retransmit = Duration::from_millis(ms.max(1) as u64);
    }
    if let Some(ms) = o.retransmit_max_ms {
        c.dtls.max_retransmit = Duration::from_millis(ms.max(1) as u64);
    }
    if let Some(list) = o.srtp_profiles {
        c.dtls.profiles = list.iter().map(|n| profile(n)).collect::<Result<_, _>>()?;
        if c.dtls.profiles.is_empty() {
            return Err("srtpProfiles must not be empty".into());
        }
    }
    if let Some(b) = o.cookie_exchange {
        c.dtls.cookie_exchange = b;
    }
    match (o.cert_pem, o.key_pem) {
        (Some(cert), Some(key)) => c.cert = CertSource::Pem { cert: cert.into_bytes(), key: key.into_bytes() },
        (None, None) => {}
        _ => return Err("certPem and keyPem must be given together".into()),
    }
    if let Some(s) = o.cert_rotation_secs {
        c.cert_rotation = (s > 0).then(|| Duration::from_secs(s as u64));
    }
    if let Some(s) = o.media_timeout_secs {
        c.media_timeout = Duration::from_secs(s as u64);
    }
    if let Some(n) = o.event_capacity {
        c.event_capacity = n.max(16) as usize;
    }
    Ok(c)
}

fn port(p: u32, what: &str) -> Result<u16, String> {
    u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| format!("{what} {p} is not a port"))
}

fn profile(name: &str) -> Result<SrtpProfile, String> {
    SrtpProfile::from_name(name).ok_or_else(|| format!("unknown SRTP profile '{name}'"))
}

pub fn hash(name: Option<&str>) -> Result<HashAlg, String> {
    match name {
        None => Ok(HashAlg::Sha256),
        Some(n) => HashAlg::parse(n).ok_or_else(|| format!("unsupported fingerprint hash '{n}'")),
    }
}

pub fn side(s: &str) -> Result<Side, String> {
    match s {
        "a" | "A" => Ok(Side::A),
        "b" | "B" => Ok(Side::B),
        _ => Err(format!("side must be 'a' or 'b', not '{s}'")),
    }
}

fn direction(d: Option<&str>) -> Result<Option<Direction>, String> {
    d.map(|s| Direction::parse(s).ok_or_else(|| format!("unknown direction '{s}'"))).transpose()
}

fn role(r: Option<&str>) -> Result<DtlsRole, String> {
    match r {
        Some("active") => Ok(DtlsRole::Client),
        Some("passive") | None => Ok(DtlsRole::Server),
        Some(other) => Err(format!("DTLS role must be active or passive, not '{other}'")),
    }
}

fn sdes_key(k: &SdesKeyJs) -> Result<SdesKey, String> {
    let p = profile(&k.suite)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(k.key.trim())
        .map_err(|_| format!("SDES key for {} is not base64", k.suite))?;
    if bytes.len() != p.key_salt_len() {
        return Err(format!("SDES key for {} must be {} bytes, got {}", k.suite, p.key_salt_len(), bytes.len()));
    }
    Ok(SdesKey { profile: p, key_salt: bytes })
}

fn fingerprints(list: &Option<Vec<FingerprintJs>>) -> Result<Vec<Fingerprint>, String> {
    list.iter().flatten().map(|f| Fingerprint::parse(&f.hash, &f.value).map_err(|e| e.to_string())).collect()
}

fn security(
    kind: &str,
    role_s: Option<&str>,
    fps: &Option<Vec<FingerprintJs>>,
    tls_id: &Option<String>,
    local: &Option<SdesKeyJs>,
    remote: &Option<SdesKeyJs>,
) -> Result<LegSecurity, String> {
    match kind {
        "rtp" => Ok(LegSecurity::Rtp),
        "dtls-srtp" => Ok(LegSecurity::DtlsSrtp { role: role(role_s)?, remote_fingerprints: fingerprints(fps)?, remote_tls_id: tls_id.clone() }),
        "sdes-srtp" => {
            let local = local.as_ref().ok_or("sdes-srtp leg needs localKey")?;
            Ok(LegSecurity::SdesSrtp { local: sdes_key(local)?, remote: remote.as_ref().map(sdes_key).transpose()? })
        }
        other => Err(format!("leg kind must be rtp, dtls-srtp or sdes-srtp, not '{other}'")),
    }
}

fn addr(ip: &Option<String>, port: Option<u32>) -> Result<Option<SocketAddr>, String> {
    match (ip, port) {
        (Some(ip), Some(p)) if p > 0 => {
            let ip: IpAddr = ip.parse().map_err(|_| format!("remote address '{ip}' is not an IP address"))?;
            Ok(Some(SocketAddr::new(ip, self::port(p, "remote port")?)))
        }
        _ => Ok(None),
    }
}

fn ice(i: Option<IceSpecJs>) -> Result<Option<IceParams>, String> {
    let Some(i) = i else { return Ok(None) };
    if i.lite == Some(false) {
        return Err("only ICE-lite is supported (ice.lite must be true)".into());
    }
    let local = match (i.local_ufrag, i.local_pwd) {
        (Some(ufrag), Some(pwd)) => IceCredentials { ufrag, pwd },
        (None, None) => IceCredentials::generate(),
        _ => return Err("ice.localUfrag and ice.localPwd must be given together".into()),
    };
    local.validate()?;
    let remote = match (i.remote_ufrag, i.remote_pwd) {
        (Some(ufrag), Some(pwd)) => {
            let r = IceCredentials { ufrag, pwd };
            r.validate().map_err(|e| format!("remote {e}"))?;
            Some(r)
        }
        (None, None) => None,
        _ => return Err("ice.remoteUfrag and ice.remotePwd must be given together".into()),
    };
    Ok(Some(IceParams { local, remote }))
}

pub fn ice_credentials(c: &IceCredentials) -> IceCredentialsJs {
    IceCredentialsJs { ufrag: c.ufrag.clone(), pwd: c.pwd.clone() }
}

pub fn leg_spec(s: LegSpecJs) -> Result<LegSpec, String> {
    Ok(LegSpec {
        ice: ice(s.ice)?,
        security: security(&s.kind, s.role.as_deref(), &s.remote_fingerprints, &s.remote_tls_id, &s.local_key, &s.remote_key)?,
        remote_rtp: addr(&s.remote_address, s.remote_port)?,
        remote_rtcp: addr(&s.remote_address, s.remote_rtcp_port)?,
        rtcp_mux: s.rtcp_mux.unwrap_or(false),
        direction: direction(s.direction.as_deref())?.unwrap_or(Direction::SendRecv),
    })
}

pub fn leg_update(u: LegUpdateJs) -> Result<LegUpdate, String> {
    let remote_rtp = if u.remote_address.is_some() || u.remote_port.is_some() {
        Some(addr(&u.remote_address, u.remote_port)?)
    } else {
        None
    };
    let remote_rtcp = match u.remote_rtcp_port {
        Some(_) => Some(addr(&u.remote_address, u.remote_rtcp_port)?),
        None => None,
    };
    let security = match &u.kind {
        Some(k) => Some(security(k, u.role.as_deref(), &u.remote_fingerprints, &u.remote_tls_id, &u.local_key, &u.remote_key)?),
        None => None,
    };
    let music = match u.music.as_deref() {
        None => None,
        Some("off") => Some(None),
        Some("pcmu") => Some(Some(0)),
        Some("pcma") => Some(Some(8)),
        Some(other) => return Err(format!("music must be pcmu, pcma or off, not '{other}'")),
    };
    Ok(LegUpdate {
        remote_rtp,
        remote_rtcp,
        rtcp_mux: u.rtcp_mux,
        direction: direction(u.direction.as_deref())?,
        security,
        music,
        ice: ice(u.ice)?,
    })
}

pub fn fingerprint(f: &Fingerprint) -> FingerprintJs {
    FingerprintJs { hash: f.hash.sdp_name().to_string(), value: f.value() }
}

fn local(l: &LocalLeg) -> LocalLegJs {
    LocalLegJs {
        address: l.rtp.ip().to_string(),
        rtp_port: l.rtp.port() as u32,
        rtcp_port: l.rtcp.port() as u32,
        fingerprint: fingerprint(&l.fingerprint),
        ice: l.ice.as_ref().map(ice_credentials),
        tls_id: l.tls_id.clone(),
    }
}

pub fn created(c: CreatedPipeline) -> CreatedPipelineJs {
    CreatedPipelineJs { id: c.id as i64, a: local(&c.legs[0]), b: local(&c.legs[1]) }
}

fn leg_stats(l: &LegSnapshot) -> LegStatsJs {
    let s = &l.stats;
    LegStatsJs {
        packets_in: s.packets_in as i64,
        bytes_in: s.bytes_in as i64,
        packets_out: s.packets_out as i64,
        bytes_out: s.bytes_out as i64,
        rtcp_in: s.rtcp_in as i64,
        rtcp_out: s.rtcp_out as i64,
        dtls_in: s.dtls_in as i64,
        dtls_out: s.dtls_out as i64,
        drops: DROP_REASONS.iter().map(|r| (r.name().to_string(), s.drops[*r as usize] as i64)).collect(),
        handshakes: s.handshakes,
        dtls_state: l.dtls_state.map(|d| format!("{d:?}").to_lowercase()),
        profile: l.profile.map(|p| p.openssl_name().to_string()),
        latched: l.latched.map(|a| a.to_string()),
        direction: l.direction.as_str().to_string(),
        music_packets: l.music_packets as i64,
        music_ssrc: l.music_ssrc,
    }
}

pub fn stats(p: PipelineStats) -> PipelineStatsJs {
    PipelineStatsJs { a: leg_stats(&p.legs[0]), b: leg_stats(&p.legs[1]) }
}

fn side_name(s: Side) -> String {
    match s {
        Side::A => "a".into(),
        Side::B => "b".into(),
    }
}

pub fn event(e: EngineEvent) -> MediaEventJs {
    let mut out = MediaEventJs {
        pipeline: e.pipeline as i64,
        r#type: String::new(),
        side: String::new(),
        profile: None,
        peer_fingerprint: None,
        reason: None,
        address: None,
        handshake_ms: None,
    };
    match e.event {
        MediaEvent::DtlsConnected { side, profile, peer_fingerprint, handshake } => {
            out.r#type = "dtls-connected".into();
            out.handshake_ms = Some(handshake.as_secs_f64() * 1000.0);
            out.side = side_name(side);
            out.profile = Some(profile.openssl_name().into());
            out.peer_fingerprint = Some(fingerprint(&peer_fingerprint));
        }
        MediaEvent::DtlsFailed { side, reason } => {
            out.r#type = "dtls-failed".into();
            out.side = side_name(side);
            out.reason = Some(reason.reason());
        }
        MediaEvent::DtlsClosed { side } => {
            out.r#type = "dtls-closed".into();
            out.side = side_name(side);
        }
        MediaEvent::MediaLatched { side, addr } => {
            out.r#type = "media-latched".into();
            out.side = side_name(side);
            out.address = Some(addr.to_string());
        }
        MediaEvent::MediaTimeout { side } => {
            out.r#type = "media-timeout".into();
            out.side = side_name(side);
        }
        MediaEvent::IceConsentExpired { side } => {
            out.r#type = "ice-consent-expired".into();
            out.side = side_name(side);
        }
        // Both legs: the whole pipeline stopped (side stays empty).
        MediaEvent::PipelineFailed { reason } => {
            out.r#type = "pipeline-failed".into();
            out.reason = Some(reason);
        }
    }
    out
}

pub fn completion(c: Completion) -> CompletionJs {
    match c {
        Completion::Updated { token, result } => {
            let (tls_id, error) = match result {
                Ok(t) => (t, None),
                Err(e) => (None, Some(crate::coded(&e))),
            };
            CompletionJs { token: token as i64, r#type: "updated".into(), tls_id, error, stats: None }
        }
        Completion::Closed { token, stats: s } => {
            CompletionJs { token: token as i64, r#type: "closed".into(), tls_id: None, error: None, stats: s.map(stats) }
        }
    }
}
