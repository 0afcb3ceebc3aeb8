//! JSON configuration of the binary (see README for the schema).

use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Udp,
    Tcp,
    Tls,
    /// SIP over WebSocket (RFC 7118), plain and over TLS: inbound only
    /// (browsers connect to us; we never open a WebSocket).
    Ws,
    Wss,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
            Proto::Ws => "ws",
            Proto::Wss => "wss",
        }
    }
    pub fn via_name(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
            Proto::Ws => "WS",
            Proto::Wss => "WSS",
        }
    }
    pub fn reliable(self) -> bool {
        self != Proto::Udp
    }
    /// WebSocket: a connection exists only while the client keeps it, so
    /// requests toward such a peer must use the connection it came on.
    pub fn is_ws(self) -> bool {
        matches!(self, Proto::Ws | Proto::Wss)
    }
    /// Runs over TLS (needs `tls.cert`/`tls.key` on a listener).
    pub fn secure(self) -> bool {
        matches!(self, Proto::Tls | Proto::Wss)
    }
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Some(Proto::Udp),
            "tcp" => Some(Proto::Tcp),
            "tls" => Some(Proto::Tls),
            "ws" => Some(Proto::Ws),
            "wss" => Some(Proto::Wss),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Listen {
    pub transport: Proto,
    #[serde(default = "loopback")]
    pub address: String,
    #[serde(default)]
    pub port: u16,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Tls {
    pub cert: String,
    pub key: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    #[serde(default = "loopback")]
    pub address: String,
    #[serde(default)]
    pub port: u16,
    pub secret: String,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Timers {
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers { t1_ms: 500, t2_ms: 4000, t4_ms: 5000 }
    }
}

impl Timers {
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.t1_ms.max(1))
    }
    pub fn t2(&self) -> Duration {
        Duration::from_millis(self.t2_ms.max(1))
    }
    pub fn t4(&self) -> Duration {
        Duration::from_millis(self.t4_ms.max(1))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_transactions: usize,
    pub max_dialogs: usize,
    pub idle_connection_secs: u64,
    pub max_connections: usize,
    pub max_clients: usize,
    /// Out-of-dialog requests per second from one source IP (token bucket
    /// refill); 0 turns the per-source limit off.
    pub per_source_rate: f64,
    /// Token bucket size: requests one source may send at once.
    pub per_source_burst: f64,
    /// Requests per second from one source beyond which the excess is
    /// dropped silently instead of answered 503 (no amplification).
    pub per_source_drop_rate: f64,
    /// New INVITE transactions per second from all sources; 0: off.
    pub invite_rate: f64,
    /// Networks (CIDR or address) exempt from per-source limits and given
    /// priority under the INVITE cap: trunks, own proxies.
    pub trusted_sources: Vec<String>,
    /// Inbound TCP/TLS/WebSocket connections one source IP may hold.
    pub max_connections_per_source: usize,
    /// A stream connection that has sent part of a message must complete it
    /// within this many seconds (slowloris).
    pub partial_message_secs: u64,
    /// An inbound stream connection must deliver its first complete message
    /// within this many seconds.
    pub first_message_secs: u64,
    /// Retry-After of 503 answers (rate limits, overload).
    pub retry_after_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 65535,
            max_transactions: 100_000,
            max_dialogs: 50_000,
            idle_connection_secs: 300,
            max_connections: 10_000,
            max_clients: 64,
            per_source_rate: 50.0,
            per_source_burst: 100.0,
            per_source_drop_rate: 200.0,
            invite_rate: 2000.0,
            trusted_sources: Vec::new(),
            max_connections_per_source: 100,
            partial_message_secs: 10,
            first_message_secs: 10,
            retry_after_secs: 5,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub listen: Vec<Listen>,
    #[serde(default)]
    pub tls: Option<Tls>,
    pub control: Control,
    #[serde(default)]
    pub timers: Timers,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default = "info")]
    pub log_level: String,
    /// Session-Expires we ask for / accept when the app does not say (RFC 4028).
    #[serde(default)]
    pub session_timer_secs: Option<u64>,
    /// Lowest session interval the engine runs a timer with (RFC 4028 Min-SE;
    /// default 90 s). Smaller Session-Expires values are raised to it.
    #[serde(default = "min_se")]
    pub session_timer_min_secs: u64,
}

fn loopback() -> String {
    "127.0.0.1".into()
}
fn min_se() -> u64 {
    90
}
fn info() -> String {
    "info".into()
}

impl Config {
    pub fn from_json(s: &str) -> Result<Config, String> {
        let c: Config = serde_json::from_str(s).map_err(|e| format!("bad config: {e}"))?;
        if c.listen.is_empty() {
            return Err("bad config: listen must not be empty".into());
        }
        if let Some(l) = c.listen.iter().find(|l| l.transport.secure()).filter(|_| c.tls.is_none()) {
            return Err(format!("bad config: {} listener without tls.cert/tls.key", l.transport.name()));
        }
        if let Some(bad) = c.limits.trusted_sources.iter().find(|s| crate::limits::Cidr::parse(s).is_none()) {
            return Err(format!("bad config: limits.trustedSources: '{bad}' is not an address or CIDR network"));
        }
        Ok(c)
    }
}
