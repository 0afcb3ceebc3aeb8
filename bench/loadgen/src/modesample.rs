//! User/kernel split of a relay's CPU time by sampling (perf cpu-clock at
//! 997 Hz on the watched threads over the measured window).
//!
//! Why not utime/stime: the kernel attributes a whole tick to whichever mode
//! it interrupts, and the load is 20 ms bursts on hrtimers, a whole number of
//! ticks: the ticks can keep landing at the same phase of the burst cycle, so
//! the split depends on the phase a run happens to start at (measured here:
//! esbc's user share 10 % and 22 % in two identical rounds, perf samples said
//! 20 % in both). 997 Hz is prime to 50 Hz, so samples sweep all phases.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct ModeSampler {
    child: Child,
    data: PathBuf,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeSplit {
    pub samples: u64,
    pub user_fraction: f64,
}

/// Threads of `pid` whose name starts with `prefix` (all when empty).
fn tids(pid: u32, prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return vec![] };
    dir.flatten()
        .filter(|e| {
            prefix.is_empty()
                || std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end().starts_with(prefix))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

impl ModeSampler {
    /// None when perf is missing or cannot attach (the caller keeps the tick split).
    pub fn start(pid: u32, prefix: &str) -> Option<ModeSampler> {
        let tids = tids(pid, prefix);
        if tids.is_empty() {
            return None;
        }
        let data = std::env::temp_dir().join(format!("esbc-loadgen-{}-{pid}.perf", std::process::id()));
        let child = Command::new("perf")
            .args(["record", "-q", "-e", "cpu-clock", "-F", "997", "-o"])
            .arg(&data)
            .args(["-t", &tids.join(",")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(ModeSampler { child, data })
    }

    /// Stops sampling and reads the split (samples in the kernel image or its
    /// modules count as kernel, everything else as user space).
    pub fn finish(mut self) -> Option<ModeSplit> {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.child.wait().ok()?;
        let out = Command::new("perf")
            .args(["report", "--stdio", "-q", "-n", "--sort", "dso", "-i"])
            .arg(&self.data)
            .stderr(Stdio::null())
            .output();
        let _ = std::fs::remove_file(&self.data);
        let text = String::from_utf8(out.ok()?.stdout).ok()?;
        let (mut user, mut kernel) = (0u64, 0u64);
        for line in text.lines() {
            // "    78.88%         14783  [kernel.kallsyms]"
            let mut f = line.split_whitespace();
            let (Some(_pct), Some(n), Some(dso)) = (f.next(), f.next(), f.next()) else { continue };
            let Ok(n) = n.parse::<u64>() else { continue };
            if dso.starts_with("[kernel") || (dso.starts_with('[') && dso != "[vdso]" && dso != "[unknown]") {
                kernel += n;
            } else {
                user += n;
            }
        }
        let samples = user + kernel;
        (samples > 0).then(|| ModeSplit { samples, user_fraction: user as f64 / samples as f64 })
    }
}
