//! CPU time and memory of a process (or of some of its threads) from /proc.
//! Total on-CPU time comes from schedstat (ns); the user/kernel split from
//! the utime/stime ticks in stat.
use std::fs;

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    pub on_cpu_ns: u64,
    pub user_ticks: u64,
    pub sys_ticks: u64,
}

impl Cpu {
    pub fn since(self, before: Cpu) -> Cpu {
        Cpu {
            on_cpu_ns: self.on_cpu_ns.saturating_sub(before.on_cpu_ns),
            user_ticks: self.user_ticks.saturating_sub(before.user_ticks),
            sys_ticks: self.sys_ticks.saturating_sub(before.sys_ticks),
        }
    }

    /// The share of on-CPU time spent in user space (from the tick split).
    pub fn user_fraction(self) -> f64 {
        let t = self.user_ticks + self.sys_ticks;
        if t == 0 {
            0.0
        } else {
            self.user_ticks as f64 / t as f64
        }
    }
}

/// Sum over the threads of `pid` whose name starts with `prefix` (all when empty).
pub fn cpu(pid: u32, prefix: &str) -> Cpu {
    let mut c = Cpu::default();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else { return c };
    for e in dir.flatten() {
        let p = e.path();
        if !prefix.is_empty() {
            match fs::read_to_string(p.join("comm")) {
                Ok(comm) if comm.trim_end().starts_with(prefix) => {}
                _ => continue,
            }
        }
        if let Ok(s) = fs::read_to_string(p.join("schedstat")) {
            c.on_cpu_ns += s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
        if let Ok(s) = fs::read_to_string(p.join("stat")) {
            // Fields after the ") " that closes the command name; utime and stime are 14th and 15th.
            if let Some(rest) = s.rsplit_once(") ").map(|x| x.1) {
                let f: Vec<&str> = rest.split(' ').collect();
                c.user_ticks += f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
                c.sys_ticks += f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
    }
    c
}

/// Resident set size in bytes.
pub fn rss(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

/// Pins the calling thread to one CPU (best effort).
pub fn pin_current_thread(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays in bounds for cpu < 1024.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}
