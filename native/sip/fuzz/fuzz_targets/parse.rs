#![no_main]
//! Any bytes: the wire parser, the stream framer, the control-frame
//! decoder and the whole engine must not panic.

use esbc_sip::config::{Config, Proto};
use esbc_sip::engine::{Engine, Listener};
use esbc_sip::txn::Peer;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let _ = esbc_sip::sip::parse::parse_and_validate(data, 65535);
    let _ = esbc_sip::sip::parse::stream_frame(data, 65535);
    let mut dec = esbc_sip::drachtio::FrameDecoder::new(65535);
    dec.push(data);
    while let Ok(Some(_)) = dec.next_frame() {}

    let cfg = Config::from_json(r#"{"listen":[{"transport":"udp"}],"control":{"secret":"s"}}"#).unwrap();
    let addr = "127.0.0.1:5060".parse().unwrap();
    let mut e = Engine::new(&cfg, vec![Listener { proto: Proto::Udp, addr }]);
    let now = Instant::now();
    let peer = Peer { proto: Proto::Udp, addr: "127.0.0.1:5999".parse().unwrap(), conn: None, local: addr };
    // An app that routes everything, so requests travel the full path.
    e.on_client_connected(1);
    e.on_client_frame(now, 1, "a|authenticate|s|");
    for v in ["invite", "options", "bye", "message", "register"] {
        e.on_client_frame(now, 1, &format!("r|route|{v}"));
    }
    e.on_sip(now, data, peer);
    if let Ok(text) = std::str::from_utf8(data) {
        e.on_client_frame(now, 1, text);
    }
    e.on_timer(now + Duration::from_secs(40));
    let _ = e.drain();
});
