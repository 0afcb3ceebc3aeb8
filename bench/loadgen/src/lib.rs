//! Benchmark tools shared by the binaries: the session list the traffic
//! generator reads, payload framing, latency histogram, /proc accounting.
pub mod latency;
pub mod modesample;
pub mod packet;
pub mod procstat;
pub mod sessions;
pub mod traffic;
