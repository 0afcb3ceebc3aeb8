//! Media load generator. For each call it owns two UDP sockets: one plays the
//! plain-RTP endpoint, one the SRTP (AES_CM_128_HMAC_SHA1_80) endpoint. Every
//! packet time each sends one PCMU-sized packet to the relay under test and
//! counts (and, on the SRTP side, authenticates) what comes back.
//!
//! Input on stdin, one call per line:
//! `rtp_port srtp_port send_key_hex recv_key_hex [local_rtp_port local_srtp_port]`
//! (the relay's RTP-leg port, its SRTP-leg port, the key we protect with, the
//! key the relay protects with, and optionally the ports we must send from
//! when the relay was told them in SDP). Output: one JSON line of totals.
use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use esbc_media::srtp::{SrtpContext, SrtpDirection, SrtpProfile, SRTP_MAX_TRAILER};

struct Call {
    rtp: UdpSocket,
    srtp: UdpSocket,
    rtp_dst: SocketAddr,
    srtp_dst: SocketAddr,
    tx: SrtpContext,
    rx: SrtpContext,
    seq: u16,
    ssrc: u32,
}

#[derive(Default)]
struct Totals {
    sent_rtp: u64,
    sent_srtp: u64,
    recv_rtp: u64,
    recv_srtp: u64,
    recv_srtp_auth_fail: u64,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex key")).collect()
}

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let seconds = arg("--seconds", 10.0);
    let warmup = arg("--warmup", 1.0);
    let ptime = Duration::from_millis(arg("--ptime", 20.0) as u64);
    let host = std::env::args().skip_while(|a| a != "--host").nth(1).unwrap_or_else(|| "127.0.0.1".into());
    let profile = SrtpProfile::AesCm128HmacSha1_80;
    let mut calls: Vec<Call> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let bind = |port: Option<&&str>| {
                let s = UdpSocket::bind(format!("127.0.0.1:{}", port.map_or("0", |p| p))).expect("bind");
                s.set_nonblocking(true).unwrap();
                s
            };
            Call {
                rtp: bind(f.get(4)),
                srtp: bind(f.get(5)),
                rtp_dst: format!("{host}:{}", f[0]).parse().unwrap(),
                srtp_dst: format!("{host}:{}", f[1]).parse().unwrap(),
                tx: SrtpContext::new(profile, &hex(f[2]), SrtpDirection::Outbound, 4).unwrap(),
                rx: SrtpContext::new(profile, &hex(f[3]), SrtpDirection::Inbound, 4).unwrap(),
                seq: (i as u16).wrapping_mul(7919),
                ssrc: 0x1000_0000 + i as u32,
            }
        })
        .collect();
    let n = calls.len().max(1);
    let mut totals = Totals::default();
    let mut warm = Totals::default();
    let mut pkt = vec![0u8; 2048];
    let mut buf = vec![0u8; 2048];
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds + warmup);
    let measure_from = start + Duration::from_secs_f64(warmup);
    let mut measuring = false;
    // Spread the calls over the packet time in 1 ms slices (no bursts).
    let slices = ptime.as_millis().max(1) as usize;
    let mut tick = 0usize;
    let mut next = start;
    while Instant::now() < end {
        if !measuring && Instant::now() >= measure_from {
            measuring = true;
            warm = std::mem::take(&mut totals);
        }
        let slice = tick % slices;
        for c in calls.iter_mut().skip(slice * n / slices).take((slice + 1) * n / slices - slice * n / slices) {
            c.seq = c.seq.wrapping_add(1);
            pkt[0] = 0x80;
            pkt[1] = 0;
            pkt[2..4].copy_from_slice(&c.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(c.seq as u32 * 160).to_be_bytes());
            pkt[8..12].copy_from_slice(&c.ssrc.to_be_bytes());
            pkt[12..172].fill(0xd5);
            if c.rtp.send_to(&pkt[..172], c.rtp_dst).is_ok() {
                totals.sent_rtp += 1;
            }
            pkt[8..12].copy_from_slice(&(c.ssrc ^ 0xffff).to_be_bytes());
            if let Ok(len) = c.tx.protect_rtp(&mut pkt[..172 + SRTP_MAX_TRAILER], 172) {
                if c.srtp.send_to(&pkt[..len], c.srtp_dst).is_ok() {
                    totals.sent_srtp += 1;
                }
            }
        }
        tick += 1;
        next += Duration::from_millis(1);
        // Drain everything that arrived while waiting for the next slice.
        loop {
            let mut got = false;
            for c in calls.iter_mut() {
                while let Ok(len) = c.rtp.recv(&mut buf) {
                    got = true;
                    if len == 172 {
                        totals.recv_rtp += 1;
                    }
                }
                while let Ok(len) = c.srtp.recv(&mut buf) {
                    got = true;
                    match c.rx.unprotect_rtp(&mut buf, len) {
                        Ok(172) => totals.recv_srtp += 1,
                        _ => totals.recv_srtp_auth_fail += 1,
                    }
                }
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            if !got {
                std::thread::sleep((next - now).min(Duration::from_micros(300)));
            }
        }
    }
    // Late packets still in flight.
    std::thread::sleep(Duration::from_millis(200));
    for c in calls.iter_mut() {
        while let Ok(len) = c.rtp.recv(&mut buf) {
            if len == 172 {
                totals.recv_rtp += 1;
            }
        }
        while let Ok(len) = c.srtp.recv(&mut buf) {
            if c.rx.unprotect_rtp(&mut buf, len).is_ok() {
                totals.recv_srtp += 1;
            }
        }
    }
    let _ = warm;
    println!(
        "{{\"calls\":{},\"seconds\":{},\"sentRtp\":{},\"sentSrtp\":{},\"recvRtp\":{},\"recvSrtp\":{},\"recvSrtpAuthFail\":{}}}",
        calls.len(),
        seconds,
        totals.sent_rtp,
        totals.sent_srtp,
        totals.recv_rtp,
        totals.recv_srtp,
        totals.recv_srtp_auth_fail
    );
}
