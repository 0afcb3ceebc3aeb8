'use strict';
// CPU time of this process's threads, by thread name, from /proc (Linux).
// schedstat gives nanoseconds on CPU; stat's utime+stime is the fallback.
const fs = require('node:fs');

function threadCpuNs(namePrefix) {
  let total = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    let comm;
    try {
      comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (!comm.startsWith(namePrefix)) continue;
    try {
      total += Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      const f = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(f[11]) + Number(f[12])) * 1e7; // clock ticks of 10 ms
    }
  }
  return total;
}

function pidCpuNs(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 1e7;
}

function rssBytes() {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

/**
 * perf, for the generator's sampled user/kernel split of the relay's CPU
 * (Debian package linux-perf; installed here like rtpengine). Returns its
 * version, or null when it cannot be had (the tick split is used then).
 */
function ensurePerf() {
  const { spawnSync } = require('node:child_process');
  const version = () => spawnSync('perf', ['--version'], { encoding: 'utf8' }).stdout?.trim() || null;
  if (version()) return version();
  console.error('[bench] installing linux-perf (apt) for the user/kernel split');
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'linux-perf'], { stdio: 'inherit' });
  const v = version();
  if (!v) console.error('[bench] WARNING: no perf: user/kernel split from utime/stime ticks (phase-locked, noisy)');
  return v;
}

module.exports = { threadCpuNs, pidCpuNs, rssBytes, ensurePerf };
