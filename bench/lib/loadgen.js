'use strict';
// Builds and runs the Rust tools of bench/loadgen.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const bin = (name) => path.join(root, 'target', 'release', name);

function buildTools() {
  const r = spawnSync('cargo', ['build', '--release', '-q', '-p', 'esbc-loadgen'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cannot build bench/loadgen');
}

/** Plays `sessions` through a relay; resolves to the generator's JSON report. */
function runTraffic(sessions, { seconds, warmup, threads, cpus, watchPid, watchThreads, nice }) {
  const file = path.join(os.tmpdir(), `esbc-sessions-${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify(sessions));
  const args = ['--sessions', file, '--seconds', String(seconds), '--warmup', String(warmup), '--threads', String(threads)];
  if (cpus) args.push('--cpus', String(cpus));
  if (watchPid) args.push('--watch', String(watchPid));
  if (watchThreads) args.push('--watch-threads', watchThreads);
  return new Promise((resolve, reject) => {
    const argv = nice ? ['nice', '-n', String(nice), bin('esbc-loadgen'), ...args] : [bin('esbc-loadgen'), ...args];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      fs.rmSync(file, { force: true });
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`esbc-loadgen exit ${code}: ${err}`));
    });
  });
}

module.exports = { buildTools, runTraffic, bin, root };
