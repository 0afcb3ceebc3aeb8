//! Benchmark tools shared by the binaries: the session list the traffic
//! generator reads, payload framing, latency histogram, /proc accounting,
//! the baseline relays' common set-up.
pub mod latency;
pub mod modesample;
pub mod packet;
pub mod procstat;
pub mod relaybase;
pub mod sessions;
pub mod traffic;
pub mod udpdrops;
