//! Datagrams the kernel dropped on given UDP sockets because their receive
//! queues were full, from `/proc/net/udp`'s per-socket `drops` column. Tells
//! the relay's loss from the generator's own: a generator thread that falls
//! behind overflows its sockets' queues, and the relay gets the blame.
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// IPv4 sockets bound to any of `addrs` (sockets sharing a port, like a
/// relay's connected twins, all count).
pub struct Watched(HashSet<SocketAddrV4>);

impl Watched {
    pub fn new(addrs: impl IntoIterator<Item = SocketAddr>) -> Watched {
        Watched(addrs.into_iter().filter_map(|a| match a {
            SocketAddr::V4(v4) => Some(v4),
            SocketAddr::V6(_) => None,
        }).collect())
    }

    /// Their drop counters' sum now (0 where /proc cannot be read).
    pub fn drops(&self) -> u64 {
        let Ok(text) = std::fs::read_to_string("/proc/net/udp") else { return 0 };
        text.lines().skip(1).filter_map(|line| self.line_drops(line)).sum()
    }

    fn line_drops(&self, line: &str) -> Option<u64> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (ip, port) = fields.get(1)?.split_once(':')?;
        // The address is the raw network-order word printed as a host integer.
        let ip = Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.to_le_bytes());
        let port = u16::from_str_radix(port, 16).ok()?;
        if !self.0.contains(&SocketAddrV4::new(ip, port)) {
            return None;
        }
        fields.last()?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_drop_column_of_the_watched_sockets_only() {
        let w = Watched::new(["127.0.0.2:40000".parse().unwrap()]);
        let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
        let ours = "  10: 0200007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123 2 0000000000000000 37";
        let other = "  11: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 124 2 0000000000000000 5";
        assert_eq!(w.line_drops(head), None);
        assert_eq!(w.line_drops(ours), Some(37));
        assert_eq!(w.line_drops(other), None);
    }
}
