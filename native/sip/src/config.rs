//! JSON configuration of the binary (see README for the schema).

use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Udp,
    Tcp,
    Tls,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
        }
    }
    pub fn via_name(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
        }
    }
    pub fn reliable(self) -> bool {
        self != Proto::Udp
    }
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Some(Proto::Udp),
            "tcp" => Some(Proto::Tcp),
            "tls" => Some(Proto::Tls),
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

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_transactions: usize,
    pub max_dialogs: usize,
    pub idle_connection_secs: u64,
    pub max_connections: usize,
    pub max_clients: usize,
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
        if c.listen.iter().any(|l| l.transport == Proto::Tls) && c.tls.is_none() {
            return Err("bad config: tls listener without tls.cert/tls.key".into());
        }
        Ok(c)
    }
}
