//! UDP port pairs for legs: an even RTP port and the odd RTCP port after it
//! (RFC 3550 11), from a configured range, walked round-robin so a port just
//! freed is not reused at once (late packets of the old call would land in
//! the new one).
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use crate::worker::LegSockets;

pub struct PortAllocator {
    ip: IpAddr,
    min: u16,
    max: u16,
    next: u16,
    used: HashSet<u16>,
}

impl PortAllocator {
    pub fn new(ip: IpAddr, min: u16, max: u16) -> Result<PortAllocator, String> {
        let min = min + (min & 1); // even
        if min == 0 || max <= min {
            return Err(format!("invalid media port range {min}-{max}"));
        }
        Ok(PortAllocator { ip, min, max, next: min, used: HashSet::new() })
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Pairs in the range, used or not.
    pub fn capacity(&self) -> usize {
        ((self.max - self.min) / 2) as usize
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// Binds a free pair; None when every pair is taken (maps to SIP 503).
    pub fn allocate(&mut self) -> Option<(u16, LegSockets)> {
        for _ in 0..self.capacity() {
            let port = self.next;
            self.next = if port + 3 > self.max { self.min } else { port + 2 };
            if self.used.contains(&port) {
                continue;
            }
            let Ok(rtp) = bind(self.ip, port) else { continue };
            let Ok(rtcp) = bind(self.ip, port + 1) else { continue };
            self.used.insert(port);
            return Some((port, LegSockets { rtp, rtcp }));
        }
        None
    }

    pub fn release(&mut self, port: u16) {
        self.used.remove(&port);
    }
}

fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}
