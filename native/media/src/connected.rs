//! The connected fast path of a leg's RTP port.
//!
//! Once a leg has latched its peer, a second socket bound to the same local
//! address and connect()ed to that peer takes over the peer's datagrams and
//! the sends to it: the kernel finds it by the full 4-tuple (UDP early demux
//! on receive, the route cached in the socket on send) instead of looking up
//! a route for every datagram both ways. Measured with bench/'s trivial relay
//! on loopback: about 5 % of a relayed packet's CPU.
//!
//! Nothing else changes: the leg's original, unconnected socket stays in
//! epoll and receives everything that does not come from the latched peer
//! (other sources, a peer whose NAT moved it, ICE checks), and the pipeline
//! sees every datagram from either socket the same way. Both sockets have the
//! same local address, so peers cannot tell which one sent.
//!
//! The two share the port through SO_REUSEPORT only while the twin binds: the
//! option is cleared on both right after, so no other socket (another process
//! of this user included) can join the port later. The kernel prefers the
//! connected socket for datagrams from its peer by its lookup score.
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use crate::sys::to_sockaddr;

/// Binds a twin of `original` (same local address) connected to `peer`.
/// Refused for a wildcard bind: connect() would pin the twin to the route's
/// source address, which may not be the one the peer sends to.
pub fn connected_twin(original: &UdpSocket, peer: SocketAddr) -> io::Result<UdpSocket> {
    let local = original.local_addr()?;
    if local.ip().is_unspecified() {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "media socket bound to a wildcard address"));
    }
    if local.is_ipv4() != peer.is_ipv4() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "peer address family differs from the socket's"));
    }
    set_reuseport(original.as_raw_fd(), true)?;
    let twin = bind_twin(local, peer);
    // Whatever happened, the port is closed to other binders again.
    let cleared = set_reuseport(original.as_raw_fd(), false);
    let twin = twin?;
    cleared?;
    Ok(twin)
}

fn bind_twin(local: SocketAddr, peer: SocketAddr) -> io::Result<UdpSocket> {
    let family = if local.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain socket(2); the descriptor is owned by the UdpSocket at once.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket nobody else owns.
    let twin = unsafe { UdpSocket::from_raw_fd(fd) };
    set_reuseport(fd, true)?;
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = to_sockaddr(&local, &mut addr);
    // SAFETY: addr is a valid sockaddr of length len.
    if unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_storage).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    twin.connect(peer)?;
    set_reuseport(fd, false)?;
    Ok(twin)
}

fn set_reuseport(fd: RawFd, on: bool) -> io::Result<()> {
    let v: libc::c_int = on.into();
    // SAFETY: fd is a socket; the option value is a c_int as the call declares.
    let r = unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, (&v as *const libc::c_int).cast(), size_of::<libc::c_int>() as libc::socklen_t)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn bound(addr: &str) -> UdpSocket {
        let s = UdpSocket::bind(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        s
    }

    fn recv_from(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
        s.set_nonblocking(false).unwrap();
        let mut b = [0u8; 64];
        s.recv_from(&mut b).ok().map(|(n, a)| (b[..n].to_vec(), a))
    }

    /// The peer's datagrams reach the twin, everyone else's the original; the
    /// twin's sends leave from the shared port; nobody else can bind it.
    fn splits_traffic(any: &str) {
        let original = bound(any);
        let port = original.local_addr().unwrap();
        let peer = bound(any);
        let other = bound(any);
        let twin = connected_twin(&original, peer.local_addr().unwrap()).unwrap();
        twin.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        assert_eq!(twin.local_addr().unwrap(), port);
        for i in 0..20u8 {
            peer.send_to(&[b'p', i], port).unwrap();
            other.send_to(&[b'o', i], port).unwrap();
        }
        for i in 0..20u8 {
            assert_eq!(recv_from(&twin).unwrap(), (vec![b'p', i], peer.local_addr().unwrap()));
            assert_eq!(recv_from(&original).unwrap(), (vec![b'o', i], other.local_addr().unwrap()));
        }
        twin.send(b"back").unwrap();
        assert_eq!(recv_from(&peer).unwrap(), (b"back".to_vec(), port));
        // SO_REUSEPORT is off again on both: a third socket cannot join.
        let third = UdpSocket::bind(port);
        assert!(third.is_err(), "a third socket bound the shared port");
        // Re-connecting moves the fast path to the new peer.
        twin.connect(other.local_addr().unwrap()).unwrap();
        other.send_to(b"o2", port).unwrap();
        peer.send_to(b"p2", port).unwrap();
        assert_eq!(recv_from(&twin).unwrap().0, b"o2");
        assert_eq!(recv_from(&original).unwrap().0, b"p2");
        // Without the twin, the original gets everything again.
        drop(twin);
        other.send_to(b"o3", port).unwrap();
        assert_eq!(recv_from(&original).unwrap().0, b"o3");
    }

    #[test]
    fn splits_traffic_v4() {
        splits_traffic("127.0.0.1:0");
    }

    #[test]
    fn splits_traffic_v6() {
        if UdpSocket::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback here; skipped");
            return;
        }
        splits_traffic("[::1]:0");
    }

    #[test]
    fn refuses_wildcard_and_mixed_families() {
        let wild = UdpSocket::bind("0.0.0.0:0").unwrap();
        assert_eq!(connected_twin(&wild, "127.0.0.1:9".parse().unwrap()).unwrap_err().kind(), io::ErrorKind::Unsupported);
        let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(connected_twin(&v4, "[::1]:9".parse().unwrap()).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        // The failed attempts left the port closed to others.
        assert!(UdpSocket::bind(v4.local_addr().unwrap()).is_err());
    }
}
