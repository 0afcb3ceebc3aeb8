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

/// RFC 7118 dialog routing: a browser's INVITE over WebSocket (Via host and
/// Contact host `*.invalid`, `transport=ws`); the answer, and the app's BYE
/// later, go back on the connection the INVITE came on, with Via/Contact
/// naming WS and our listener.
#[test]
fn websocket_dialog_uses_the_connection_it_came_on() {
    let cfg = Config::from_json(r#"{"listen":[{"transport":"ws"}],"control":{"secret":"s3"}}"#).unwrap();
    let local = "127.0.0.1:5062".parse().unwrap();
    let mut e = Engine::new(&cfg, vec![Listener { proto: Proto::Ws, addr: local }]);
    let now = Instant::now();
    e.on_client_connected(8);
    e.on_client_frame(now, 8, "m1|authenticate|s3|");
    e.on_client_frame(now, 8, "m2|route|invite");
    let _ = e.drain();
    let browser = Peer { proto: Proto::Ws, addr: "127.0.0.1:40000".parse().unwrap(), conn: Some(9), local };
    let invite = "INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\nMax-Forwards: 69\r\n\
        From: <sip:webrtc@127.0.0.1>;tag=ft1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: wscall\r\nCSeq: 1 INVITE\r\n\
        Contact: <sip:u1@df7jal23ls0d.invalid;transport=ws;ob>\r\nContent-Length: 0\r\n\r\n";
    e.on_sip(now, invite.as_bytes(), browser.clone());
    let out = e.drain();
    // 100 Trying on the same connection, and no alias for a `.invalid` Via.
    assert!(out.iter().any(|o| matches!(o, Output::Sip { peer, data } if peer.conn == Some(9) && data.starts_with(b"SIP/2.0 100"))));
    assert!(!out.iter().any(|o| matches!(o, Output::Alias { .. })));
    let leader = control(&out).into_iter().find(|c| c.contains("|sip|network|")).expect("INVITE forwarded");
    let f: Vec<&str> = leader.split('|').collect();
    assert_eq!(f[4], "ws", "the app sees the transport as ws");
    let txn = f[8].to_string();

    e.on_client_frame(now, 8, &format!("m3|sip|{txn}|\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    let out = e.drain();
    let ok = out
        .iter()
        .find_map(|o| match o {
            Output::Sip { peer, data } if data.starts_with(b"SIP/2.0 200") => Some((peer.clone(), String::from_utf8_lossy(data).into_owned())),
            _ => None,
        })
        .expect("200 sent");
    assert_eq!(ok.0, browser);
    assert!(ok.1.contains("Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1;received=127.0.0.1\r\n"), "{}", ok.1);
    assert!(ok.1.contains("Contact: <sip:127.0.0.1:5062;transport=ws>\r\n"), "{}", ok.1);
    let ack = "ACK sip:127.0.0.1:5062;transport=ws SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws2\r\nMax-Forwards: 69\r\n\
        From: <sip:webrtc@127.0.0.1>;tag=ft1\r\nTo: <sip:bob@127.0.0.1>;tag=TT\r\nCall-ID: wscall\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
    let to_tag = ok.1.split("To: <sip:bob@127.0.0.1>;tag=").nth(1).unwrap().split("\r\n").next().unwrap().to_string();
    e.on_sip(now, ack.replace("TT", &to_tag).as_bytes(), browser.clone());
    let _ = e.drain();

    // The app hangs up: the BYE targets the browser's Contact over its connection.
    e.on_client_frame(now, 8, "m4|sip||wscall;from-tag=ft1\r\nBYE sip:placeholder SIP/2.0\r\nContent-Length: 0\r\n\r\n");
    let out = e.drain();
    let bye = out
        .iter()
        .find_map(|o| match o {
            Output::Sip { peer, data } if data.starts_with(b"BYE ") => Some((peer.clone(), String::from_utf8_lossy(data).into_owned())),
            _ => None,
        })
        .expect("BYE sent");
    assert_eq!(bye.0, browser, "BYE rides the INVITE's WebSocket connection");
    assert!(bye.1.starts_with("BYE sip:u1@df7jal23ls0d.invalid;transport=ws;ob SIP/2.0\r\n"), "{}", bye.1);
    assert!(bye.1.contains("Via: SIP/2.0/WS 127.0.0.1:5062;branch="), "{}", bye.1);
}

/// RFC 3261 12.1.1: behind a record-routing proxy, our 200 to the INVITE
/// carries the request's Record-Route values in order, and our BYE later
/// goes to the first proxy with the route set as Route headers.
#[test]
fn record_route_is_copied_into_the_dialog_forming_response() {
    let mut e = engine();
    let now = Instant::now();
    e.on_client_connected(8);
    e.on_client_frame(now, 8, "m1|authenticate|s3|");
    e.on_client_frame(now, 8, "m2|route|invite");
    let _ = e.drain();
    let proxy = Peer { proto: Proto::Udp, addr: "127.0.0.1:5070".parse().unwrap(), conn: None, local: "127.0.0.1:5060".parse().unwrap() };
    let invite = "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKp1\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKu1\r\n\
        Record-Route: <sip:127.0.0.1:5070;lr;ftag=ft1>\r\nRecord-Route: <sip:10.0.0.9;lr>\r\nMax-Forwards: 69\r\n\
        From: <sip:alice@127.0.0.1>;tag=ft1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: rrcall\r\nCSeq: 1 INVITE\r\n\
        Contact: <sip:alice@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n";
    e.on_sip(now, invite.as_bytes(), proxy.clone());
    let leader = control(&e.drain()).into_iter().find(|c| c.contains("|sip|network|")).expect("INVITE forwarded");
    let txn = leader.split('|').nth(8).unwrap().to_string();
    e.on_client_frame(now, 8, &format!("m3|sip|{txn}|\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    let ok = e
        .drain()
        .into_iter()
        .find_map(|o| match o {
            Output::Sip { data, .. } if data.starts_with(b"SIP/2.0 200") => Some(String::from_utf8_lossy(&data).into_owned()),
            _ => None,
        })
        .expect("200 sent");
    assert!(ok.contains("Record-Route: <sip:127.0.0.1:5070;lr;ftag=ft1>\r\nRecord-Route: <sip:10.0.0.9;lr>\r\n"), "{ok}");

    e.on_client_frame(now, 8, "m4|sip||rrcall;from-tag=ft1\r\nBYE sip:placeholder SIP/2.0\r\nContent-Length: 0\r\n\r\n");
    let (peer, bye) = e
        .drain()
        .into_iter()
        .find_map(|o| match o {
            Output::Sip { peer, data } if data.starts_with(b"BYE ") => Some((peer, String::from_utf8_lossy(&data).into_owned())),
            _ => None,
        })
        .expect("BYE sent");
    assert_eq!(peer.addr, proxy.addr, "the BYE goes to the first proxy of the route set");
    assert!(bye.starts_with("BYE sip:alice@127.0.0.1:5999 SIP/2.0\r\n"), "{bye}");
    assert!(bye.contains("Route: <sip:127.0.0.1:5070;lr;ftag=ft1>"), "{bye}");
}
