//! Control-protocol shape checks against the engine without sockets.

use super::{Engine, Listener, Output};
use crate::config::{Config, Proto};
use crate::txn::Peer;
use std::time::Instant;

fn engine() -> Engine {
    let cfg = Config::from_json(r#"{"listen":[{"transport":"udp"}],"control":{"secret":"s3"}}"#).unwrap();
    Engine::new(&cfg, vec![Listener { proto: Proto::Udp, addr: "127.0.0.1:5060".parse().unwrap() }])
}

fn control(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Control { data, .. } => {
                let s = String::from_utf8_lossy(data).into_owned();
                s.split_once('#').map(|(_, p)| p.to_string())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn authenticate_route_ping_and_new_request_leader() {
    let mut e = engine();
    let now = Instant::now();
    assert!(e.on_client_connected(7));
    e.on_client_frame(now, 7, "m1|authenticate|wrong|");
    let out = e.drain();
    assert!(control(&out)[0].ends_with("|response|m1|NO|incorrect secret"));
    assert!(out.contains(&Output::CloseClient(7)));

    assert!(e.on_client_connected(8));
    e.on_client_frame(now, 8, "m2|authenticate|s3|");
    e.on_client_frame(now, 8, "m3|route|options");
    e.on_client_frame(now, 8, "m4|ping");
    let c = control(&e.drain());
    assert!(c[0].contains("|response|m2|OK|udp/127.0.0.1:5060|v0.9.4-esbc|"), "{}", c[0]);
    assert!(c[1].ends_with("|response|m3|OK"));
    assert!(c[2].ends_with("|response|m4|OK|pong"));

    let req = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKa;rport\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@c>\r\nCall-ID: cid1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let peer = Peer { proto: Proto::Udp, addr: "127.0.0.1:5999".parse().unwrap(), conn: None, local: "127.0.0.1:5060".parse().unwrap() };
    e.on_sip(now, req.as_bytes(), peer);
    let c = control(&e.drain());
    let (leader, sip) = c[0].split_once("\r\n").unwrap();
    let f: Vec<&str> = leader.split('|').collect();
    assert_eq!(&f[1..3], &["sip", "network"]);
    assert_eq!(f[3], sip.len().to_string());
    assert_eq!(&f[4..7], &["udp", "127.0.0.1", "5999"]);
    assert_eq!(f[9], "");
    assert_eq!(&f[10..12], &["127.0.0.1", "5060"]);
    assert!(sip.contains("rport=5999"), "{sip}");
    let txn = f[8].to_string();

    // The app answers; the echo carries the full response and the txn id.
    e.on_client_frame(now, 8, &format!("m5|sip|{txn}|\r\nSIP/2.0 200 OK\r\nCall-ID: cid1\r\nX-App: 1\r\nContent-Length: 0\r\n\r\n"));
    let out = e.drain();
    let wire: Vec<&Output> = out.iter().filter(|o| matches!(o, Output::Sip { .. })).collect();
    assert_eq!(wire.len(), 1);
    let c = control(&out);
    assert!(c[0].contains(&format!("|response|m5|OK|application|")), "{}", c[0]);
    assert!(c[0].contains(&format!("|{txn}|||Msg sent:|\r\nSIP/2.0 200 OK\r\n")), "{}", c[0]);
    assert!(c[0].contains("X-App: 1"));
    // A second answer to the same transaction is refused.
    e.on_client_frame(now, 8, &format!("m6|sip|{txn}|\r\nSIP/2.0 200 OK\r\n\r\n"));
    assert!(control(&e.drain())[0].contains("|response|m6|NOK|"));
}
