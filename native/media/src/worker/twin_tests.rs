//! The connected fast path (`connected`): the worker makes a leg's RTP twin
//! when the leg latches, moves it when the leg re-latches, closes it with the
//! call, and the relayed media and the wrong-source drops are what they are
//! without it.
use super::tests::{add_call, bind, rtp, spawn, stats, through, Call, BACKENDS};
use super::*;
use crate::dtls::DtlsConfig;
use crate::identity::DtlsIdentity;

/// Remote addresses of the sockets bound to `port` on 127.0.0.1 (from
/// /proc/net/udp; an unconnected socket shows 0.0.0.0:0).
fn sockets_on(port: u16) -> Vec<SocketAddr> {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let hex = |s: &str| -> SocketAddr {
        let (ip, p) = s.split_once(':').unwrap();
        let ip = u32::from_str_radix(ip, 16).unwrap().swap_bytes();
        SocketAddr::from((std::net::Ipv4Addr::from(ip), u16::from_str_radix(p, 16).unwrap()))
    };
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (hex(f[1]) == SocketAddr::from(([127, 0, 0, 1], port))).then(|| hex(f[2]))
        })
        .collect()
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_latched_leg_gets_a_connected_socket_that_follows_the_latch() {
    BACKENDS.into_iter().for_each(a_latched_leg_gets_a_connected_socket_that_follows_the_latch_on);
}

fn a_latched_leg_gets_a_connected_socket_that_follows_the_latch_on(choice: IoChoice) {
    let (events_tx, _events) = crossbeam_channel::unbounded();
    let mut w = spawn(choice, events_tx);
    let ctx = DtlsContext::new(DtlsIdentity::generate_ecdsa(1).unwrap(), DtlsConfig::default()).unwrap();
    let Call { id, peers, ports } = add_call(&w, &ctx, 1);
    let unconnected: SocketAddr = "0.0.0.0:0".parse().unwrap();
    assert_eq!(sockets_on(ports[0].port()), vec![unconnected], "no twin before the leg latched");

    // Both sides latch; each gets its twin, connected to its peer.
    for seq in 0..20 {
        let (got, src) = through(&peers[0], ports[0], &peers[1], seq).expect("caller -> callee");
        assert_eq!((got, src), (rtp(seq), ports[1]));
        let (got, src) = through(&peers[1], ports[1], &peers[0], seq).expect("callee -> caller");
        assert_eq!((got, src), (rtp(seq), ports[0]), "sent from the leg's own port");
    }
    for side in 0..2 {
        let mut on = sockets_on(ports[side].port());
        on.sort();
        assert_eq!(on, vec![unconnected, peers[side].local_addr().unwrap()], "side {side}");
    }

    // A stranger is still dropped as a wrong source (it reaches the original socket).
    let stranger = bind();
    assert_eq!(through(&stranger, ports[0], &peers[1], 100), None);
    let drops = |w: &WorkerHandle| stats(w, id).unwrap().legs[0].stats.drops[DropReason::WrongSource as usize];
    wait_for("the wrong-source drop", || drops(&w) == 1);

    // A new address in SDP resets the latch; the stranger's packet latches
    // and the twin moves to it; the old peer is now the wrong source.
    let (tx, rx) = crossbeam_channel::bounded(1);
    let update = LegUpdate { remote_rtp: Some(Some(stranger.local_addr().unwrap())), ..Default::default() };
    w.send(Command::Update { id, side: Side::A, update, reply: Box::new(move |r| drop(tx.send(r))) });
    rx.recv_timeout(Duration::from_secs(2)).unwrap().unwrap();
    assert_eq!(through(&stranger, ports[0], &peers[1], 101).map(|r| r.0), Some(rtp(101)));
    wait_for("the twin to move", || sockets_on(ports[0].port()).contains(&stranger.local_addr().unwrap()));
    assert_eq!(sockets_on(ports[0].port()).len(), 2, "moved, not added");
    assert_eq!(through(&peers[1], ports[1], &stranger, 102), Some((rtp(102), ports[0])));
    assert_eq!(through(&peers[0], ports[0], &peers[1], 103), None);
    wait_for("the old peer's wrong-source drop", || drops(&w) == 2);

    // Close takes both sockets of each leg with it.
    let (tx, rx) = crossbeam_channel::bounded(1);
    w.send(Command::Close { id, reply: Box::new(move |v| drop(tx.send(v))) });
    assert!(rx.recv_timeout(Duration::from_secs(2)).unwrap().is_some());
    for p in ports {
        assert_eq!(sockets_on(p.port()), vec![], "port {} still bound", p.port());
    }
    w.send(Command::Shutdown);
    w.join();
}
