//! Flood protection in the engine core (no sockets): per-source 503 with
//! Retry-After and Reason, silent drop far over the rate, the global INVITE
//! cap with trusted sources first, in-dialog and CANCEL traffic exempt, and
//! the message counters of the `stats` report.

use esbc_sip::config::{Config, Proto};
use esbc_sip::engine::{Engine, Listener, Output};
use esbc_sip::txn::Peer;
use std::time::{Duration, Instant};

fn engine(limits: &str) -> Engine {
    let cfg = Config::from_json(&format!(
        r#"{{"listen":[{{"transport":"udp","address":"127.0.0.1","port":5060}}],"control":{{"secret":"s"}},"limits":{limits}}}"#
    ))
    .unwrap();
    let mut e = Engine::new(&cfg, vec![Listener { proto: Proto::Udp, addr: "127.0.0.1:5060".parse().unwrap() }]);
    // An app routing invite, so admitted INVITEs are forwarded, not 503 "no app".
    let now = Instant::now();
    e.on_client_connected(1);
    e.on_client_frame(now, 1, "a|authenticate|s|");
    e.on_client_frame(now, 1, "r|route|invite");
    e.on_client_frame(now, 1, "r|route|options");
    let _ = e.drain();
    e
}

fn peer(ip: &str) -> Peer {
    Peer { proto: Proto::Udp, addr: format!("{ip}:5999").parse().unwrap(), conn: None, local: "127.0.0.1:5060".parse().unwrap() }
}

fn request(method: &str, n: u32, to_tag: &str) -> Vec<u8> {
    format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5999;branch=z9hG4bK-{method}-{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:a@192.0.2.9>;tag=f{n}\r\nTo: <sip:bob@127.0.0.1>{to_tag}\r\nCall-ID: c{n}@x\r\nCSeq: 1 {method}\r\n\
         Contact: <sip:a@192.0.2.9:5999>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// SIP responses on the wire: (status, full text).
fn wire(out: &[Output]) -> Vec<(u16, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Sip { data, .. } => {
                let t = String::from_utf8_lossy(data).into_owned();
                t.get(8..11).and_then(|c| c.parse().ok()).map(|c| (c, t))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn per_source_limit_answers_503_then_drops() {
    let mut e = engine(r#"{"perSourceRate":10,"perSourceBurst":20,"perSourceDropRate":40}"#);
    let now = Instant::now();
    for n in 0..60 {
        e.on_sip(now, &request("OPTIONS", n, ""), peer("192.0.2.9"));
    }
    let out = wire(&e.drain());
    let rejected: Vec<&String> = out.iter().filter(|(c, _)| *c == 503).map(|(_, t)| t).collect();
    assert_eq!(rejected.len(), 20, "20 admitted (burst), 20 answered 503, 20 dropped");
    for t in &rejected {
        assert!(t.contains("\r\nRetry-After: 5\r\n"), "{t}");
        assert!(t.contains("Reason: SIP;cause=503;text=\"request rate limit exceeded (per source)\""), "{t}");
        assert!(t.contains(";tag="), "503 carries a To tag: {t}");
    }
    assert_eq!((e.stats.rate_limited, e.stats.rate_dropped), (20, 20));
    // Another source is not affected.
    e.on_sip(now, &request("OPTIONS", 100, ""), peer("192.0.2.10"));
    assert!(wire(&e.drain()).iter().all(|(c, _)| *c != 503));
    // Requests naming an unknown dialog are limited like new ones.
    e.on_sip(now, &request("BYE", 101, ";tag=nope"), peer("192.0.2.9"));
    assert!(wire(&e.drain()).is_empty(), "dropped: still over the drop rate");
    let s = e.stats_json();
    assert_eq!(s["rejections"]["rate_limited"], 20);
    assert_eq!(s["rejections"]["rate_dropped"], 21);
    let rows = s["messages"].as_array().unwrap();
    let row = |dir: &str, method: &str, status: &str| {
        rows.iter()
            .find(|r| r["direction"] == dir && r["method"] == method && r["status"] == status && r["transport"] == "udp")
            .map(|r| r["count"].as_u64().unwrap())
    };
    assert_eq!(row("in", "OPTIONS", ""), Some(61));
    assert_eq!(row("out", "OPTIONS", "503"), Some(20));
}

#[test]
fn global_invite_cap_prefers_trusted_sources_and_spares_cancel() {
    let mut e = engine(r#"{"inviteRate":5,"trustedSources":["10.0.0.0/8"]}"#);
    let now = Instant::now();
    for n in 0..10 {
        e.on_sip(now, &request("INVITE", n, ""), peer(&format!("192.0.2.{}", n + 1)));
    }
    let out = wire(&e.drain());
    let capped: Vec<&String> = out.iter().filter(|(c, _)| *c == 503).map(|(_, t)| t).collect();
    assert_eq!(capped.len(), 5);
    assert!(capped[0].contains("text=\"INVITE rate limit exceeded (global)\""), "{}", capped[0]);
    assert_eq!(e.stats.invite_cap_rejected, 5);
    // A trusted trunk still gets in, and a CANCEL for an admitted INVITE is never limited.
    e.on_sip(now, &request("INVITE", 50, ""), peer("10.1.1.1"));
    assert!(wire(&e.drain()).iter().all(|(c, _)| *c == 100));
    let mut cancel = String::from_utf8(request("CANCEL", 0, "")).unwrap();
    cancel = cancel.replace("z9hG4bK-CANCEL-0", "z9hG4bK-INVITE-0");
    e.on_sip(now, cancel.as_bytes(), peer("192.0.2.1"));
    let codes: Vec<u16> = wire(&e.drain()).iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, vec![200, 487], "CANCEL answered, INVITE terminated");
    // A second later the bucket has refilled.
    e.on_sip(now + Duration::from_secs(1), &request("INVITE", 60, ""), peer("192.0.2.60"));
    assert!(wire(&e.drain()).iter().all(|(c, _)| *c == 100));
}

#[test]
fn bad_trusted_source_is_a_config_error() {
    let r = Config::from_json(r#"{"listen":[{"transport":"udp"}],"control":{"secret":"s"},"limits":{"trustedSources":["10.0.0.0/99"]}}"#);
    assert!(r.unwrap_err().contains("trustedSources"));
}
