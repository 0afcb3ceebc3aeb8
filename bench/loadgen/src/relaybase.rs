//! What the baseline relays (trivial-relay, uring-relay) share: their command
//! line, binding N port pairs, the one line that tells the harness the ports,
//! and quitting when the harness closes stdin.
use std::io::Read;
use std::net::{IpAddr, SocketAddr, UdpSocket};

pub struct RelayArgs {
    pub calls: usize,
    pub ip: IpAddr,
    pub port_min: u16,
    pub port_max: u16,
}

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter().position(|x| x == name).and_then(|i| a.get(i + 1)).cloned()
}

/// `--calls N [--bind 127.0.0.1] [--port-min 50000] [--port-max 59999]`
pub fn relay_args() -> RelayArgs {
    RelayArgs {
        calls: arg("--calls").and_then(|v| v.parse().ok()).unwrap_or(1),
        ip: arg("--bind").and_then(|v| v.parse().ok()).unwrap_or(IpAddr::from([127, 0, 0, 1])),
        port_min: arg("--port-min").and_then(|v| v.parse().ok()).unwrap_or(50000),
        port_max: arg("--port-max").and_then(|v| v.parse().ok()).unwrap_or(59999),
    }
}

/// Binds two non-blocking sockets per call (sockets 2k and 2k+1 are call k's
/// legs), prints `{"rssBefore":B,"ports":[[a,b],...]}` on one line, and arms
/// the exit on stdin's end. Exits the process when the range is too small.
pub fn bind_and_announce(name: &str, a: &RelayArgs) -> Vec<UdpSocket> {
    let rss_before = crate::procstat::rss(std::process::id());
    let mut socks: Vec<UdpSocket> = Vec::with_capacity(a.calls * 2);
    let mut port = a.port_min;
    while socks.len() < a.calls * 2 {
        if port > a.port_max || port == 0 {
            eprintln!("{name}: ports {}-{} exhausted after {} sockets", a.port_min, a.port_max, socks.len());
            std::process::exit(1);
        }
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(a.ip, port)) {
            s.set_nonblocking(true).expect("nonblocking");
            socks.push(s);
        }
        port = port.wrapping_add(1);
    }
    let ports: Vec<String> = socks.chunks(2).map(|p| format!("[{},{}]", port_of(&p[0]), port_of(&p[1]))).collect();
    println!("{{\"rssBefore\":{rss_before},\"ports\":[{}]}}", ports.join(","));
    // Quit when the parent closes our stdin (or dies).
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    socks
}

/// Connected twin sockets in use (ESBC_CONNECTED_SOCKETS=off: not), as in the engine.
pub fn use_twins() -> bool {
    std::env::var("ESBC_CONNECTED_SOCKETS").map_or(true, |v| v != "off")
}

fn port_of(s: &UdpSocket) -> u16 {
    s.local_addr().map(|a| a.port()).unwrap_or(0)
}
