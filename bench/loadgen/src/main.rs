//! Media load generator: plays a session list (see `sessions`) through a relay
//! and prints one JSON report: packets sent and received in the measured
//! window, loss, reordering, verification failures, one-way latency, and the
//! CPU and memory of a watched relay process over exactly that window.
//!
//!   esbc-loadgen --sessions FILE|- [--seconds 10] [--warmup 2] [--drain 0.5]
//!                [--threads 2] [--cpus 0] [--ptime 20]
//!                [--watch PID] [--watch-threads NAME_PREFIX] [--no-mode-sample]
use std::time::Duration;

use esbc_loadgen::modesample::ModeSampler;
use esbc_loadgen::procstat::{self, Cpu};
use esbc_loadgen::traffic::{self, now_ns, Counts, Schedule};
use esbc_loadgen::udpdrops::Watched;
use esbc_loadgen::{latency::Histogram, sessions};
use serde_json::json;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn num(args: &[String], name: &str, default: f64) -> f64 {
    arg(args, name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn sleep_until(ns: u64) {
    let now = now_ns();
    if ns > now {
        std::thread::sleep(Duration::from_nanos(ns - now));
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("esbc-loadgen: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let seconds = num(&args, "--seconds", 10.0);
    let warmup = num(&args, "--warmup", 2.0);
    let drain = num(&args, "--drain", 0.5);
    let threads = num(&args, "--threads", 2.0) as usize;
    let ptime_ms = num(&args, "--ptime", 20.0) as u64;
    let cpus: Vec<usize> = arg(&args, "--cpus").map(|s| s.split(',').filter_map(|c| c.parse().ok()).collect()).unwrap_or_default();
    let watch: Option<u32> = arg(&args, "--watch").and_then(|v| v.parse().ok());
    let watch_threads = arg(&args, "--watch-threads").unwrap_or_default();
    // The relay's user/kernel split by perf sampling (see modesample.rs).
    let mode_sample = !args.iter().any(|a| a == "--no-mode-sample");
    let text = match arg(&args, "--sessions").as_deref() {
        None | Some("-") => std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?,
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?,
    };
    let list = sessions::parse(&text)?;
    let calls = list.calls.len();
    let srtp_profile = list.calls.iter().flat_map(|c| c.legs.iter()).find_map(|l| l.srtp.as_ref().map(|s| s.profile.clone()));
    // Where datagrams die of full receive queues: our sockets or the relay's.
    let legs = || list.calls.iter().flat_map(|c| c.legs.iter());
    let (ours, relays) = (Watched::new(legs().map(|l| l.local)), Watched::new(legs().map(|l| l.remote)));
    let shards = traffic::shard(&list, threads)?;
    drop(list);

    // Start on a millisecond boundary a little ahead, so every thread is ready.
    let start_ns = now_ns() + 50_000_000;
    let s = |secs: f64| (secs * 1e9) as u64;
    let sched = Schedule {
        start_ns,
        window_start_ns: start_ns + s(warmup),
        window_end_ns: start_ns + s(warmup + seconds),
        end_ns: start_ns + s(warmup + seconds + drain),
        ptime_ms,
    };
    let handles: Vec<_> = shards
        .into_iter()
        .enumerate()
        .map(|(i, sh)| {
            let cpu = (!cpus.is_empty()).then(|| cpus[i % cpus.len()]);
            std::thread::Builder::new().name(format!("loadgen-{i}")).spawn(move || sh.run(sched, cpu)).expect("spawn")
        })
        .collect();

    // This thread (and the perf it starts, which inherits its affinity)
    // stays on the generator's CPUs, off the relay's core: a perf process
    // woken on the relay's core would delay whichever relay is measured.
    if let Some(&c) = cpus.first() {
        procstat::pin_current_thread(c);
    }
    // Watch the relay (and ourselves) over exactly the measured window.
    let me = std::process::id();
    sleep_until(sched.window_start_ns);
    let (w0, g0) = (watch.map(|p| procstat::cpu(p, &watch_threads)), procstat::cpu(me, "loadgen-"));
    let (our_drops0, relay_drops0) = (ours.drops(), relays.drops());
    let t0 = now_ns();
    let sampler = watch.filter(|_| mode_sample).and_then(|p| ModeSampler::start(p, &watch_threads));
    sleep_until(sched.window_end_ns);
    let (w1, g1) = (watch.map(|p| procstat::cpu(p, &watch_threads)), procstat::cpu(me, "loadgen-"));
    let (our_drops, relay_drops) = (ours.drops().saturating_sub(our_drops0), relays.drops().saturating_sub(relay_drops0));
    let mode_split = sampler.and_then(ModeSampler::finish);
    let wall_ns = now_ns() - t0;
    let watch_rss = watch.map(procstat::rss);

    let mut c = Counts { latency: Histogram::default(), ..Default::default() };
    for h in handles {
        c.add(&h.join().map_err(|_| "a generator thread panicked")??);
    }
    let wall = wall_ns as f64 / 1e9;
    let loss = if c.sent_window == 0 { 0.0 } else { c.sent_window.saturating_sub(c.recv_window) as f64 / c.sent_window as f64 * 100.0 };
    let cpu_json = |d: Cpu| {
        json!({
            "onCpuNs": d.on_cpu_ns, "userTicks": d.user_ticks, "sysTicks": d.sys_ticks,
            "userFraction": d.user_fraction(), "coreFraction": d.on_cpu_ns as f64 / wall_ns as f64,
        })
    };
    let report = json!({
        "calls": calls,
        "srtpProfile": srtp_profile,
        "threads": threads,
        "windowSeconds": wall,
        "sentWindow": c.sent_window,
        "receivedWindow": c.recv_window,
        "lossPercent": loss,
        "receivedPerSecond": c.recv_window as f64 / seconds,
        "sentTotal": c.sent_total,
        "receivedTotal": c.recv_total,
        "sendErrors": c.send_errors,
        "srtpFailures": c.srtp_fail,
        "badPayload": c.bad_payload,
        "misrouted": c.misrouted,
        "unknownSsrc": c.unknown_ssrc,
        "reordered": c.reordered,
        "duplicates": c.duplicates,
        // Over the window, from the kernel's per-socket counters.
        "generatorSocketDrops": our_drops,
        "relaySocketDrops": relay_drops,
        "latencyUs": { "p50": c.latency.quantile_us(0.5), "p99": c.latency.quantile_us(0.99), "max": c.latency.max_us() },
        "generatorCpu": cpu_json(g1.since(g0)),
        "relay": watch.map(|pid| json!({
            "pid": pid,
            "threads": watch_threads,
            "cpu": cpu_json(w1.unwrap_or_default().since(w0.unwrap_or_default())),
            "modeSplit": mode_split,
            "rssBytes": watch_rss,
        })),
    });
    println!("{report}");
    Ok(())
}
