#!/usr/bin/env node
'use strict';
// Calls-per-second benchmark (not a test): sipp uac -> esbc-sip + a minimal
// drachtio-srf B2BUA (no media) -> sipp uas, stepping the call rate up until
// calls fail, next to sipp uac -> sipp uas direct in the same run.
// Usage: node bench/cps.js [--step-seconds 5] [--rates 50,100,...]
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const Srf = require('drachtio-srf');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const stepSeconds = Number(opt('--step-seconds', '5'));
const rates = opt('--rates', '100,200,400,600,800,1000,1300,1600,2000,2500,3000,4000').split(',').map(Number);
const bin = process.env.ESBC_SIP_BIN || path.join(root, 'target', 'release', 'esbc-sip');
const CLK = 100; // USER_HZ on Linux

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function runSipp(argv) {
  return new Promise((resolve) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-bench-'));
    const c = spawn('sipp', ['-nostdin', ...argv], { cwd: dir });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    c.on('exit', (code) => resolve({ code, out, child: c }));
    resolve.child = c;
  });
}

function startSipp(argv) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-bench-'));
  const c = spawn('sipp', ['-nostdin', ...argv], { cwd: dir, stdio: 'ignore' });
  return c;
}

function counts(out) {
  const num = (label) => {
    const m = out.match(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`));
    return m ? Number(m[1]) : NaN;
  };
  return { ok: num('Successful call'), failed: num('Failed call') };
}

async function step(target, rate, cpuPid) {
  const calls = rate * stepSeconds;
  const t0 = cpuPid ? cpuTicks(cpuPid) : 0;
  const r = await runSipp([target, '-sn', 'uac', '-i', '127.0.0.1', '-p', '0', '-r', String(rate), '-m', String(calls),
    '-l', String(rate * 4), '-timeout', `${stepSeconds + 20}s`, '-timeout_error', '-recv_timeout', '5000', '-max_socket', '64']);
  const c = counts(r.out);
  const cpu = cpuPid ? (cpuTicks(cpuPid) - t0) / CLK : 0;
  return { rate, calls, ...c, exit: r.code, cpuMsPerCall: cpuPid && c.ok ? (cpu * 1000) / c.ok : undefined };
}

async function ladder(name, target, cpuPid) {
  let best = 0;
  const rows = [];
  for (const rate of rates) {
    const s = await step(target, rate, cpuPid);
    rows.push(s);
    process.stderr.write(`${name} rate ${rate}/s: ok ${s.ok} failed ${s.failed} exit ${s.exit}` +
      (s.cpuMsPerCall ? ` engine cpu ${s.cpuMsPerCall.toFixed(3)} ms/call` : '') + '\n');
    if (s.failed !== 0 || s.ok !== s.calls) break;
    best = rate;
  }
  return { best, rows };
}

async function main() {
  const { startEmbeddedSipEngine } = loadTs();
  const engine = await startEmbeddedSipEngine({
    listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }], secret: 'bench', binaryPath: bin, logLevel: 'warn',
    limits: { maxTransactions: 200000, maxDialogs: 100000 },
  });
  const srf = new Srf();
  await new Promise((resolve, reject) => {
    srf.connect({ host: engine.controlHost, port: engine.controlPort, secret: 'bench' });
    srf.on('connect', (err) => (err ? reject(err) : resolve()));
  });
  const uasPort = 25060 + Math.floor(Math.random() * 1000);
  const uas = startSipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-max_socket', '64']);
  srf.invite(async (req, res) => {
    try {
      const { uas: a, uac: b } = await srf.createB2BUA(req, res, `sip:svc@127.0.0.1:${uasPort}`, { localSdpB: req.body });
      a.on('destroy', () => b.destroy().catch(() => {}));
      b.on('destroy', () => a.destroy().catch(() => {}));
    } catch { /* failed call: counted by sipp */ }
  });
  await new Promise((r) => setTimeout(r, 500));
  const viaEngine = await ladder('engine+b2bua', `127.0.0.1:${engine.sipListen[0].port}`, engine.pid);
  const direct = await ladder('direct', `127.0.0.1:${uasPort}`, null);
  uas.kill();
  srf.disconnect();
  await engine.stop();
  const best = viaEngine.rows.filter((r) => r.rate === viaEngine.best)[0];
  const summary = {
    stepSeconds,
    engineB2bua: { maxCpsZeroFailures: viaEngine.best, engineCpuMsPerCallAtMax: best && best.cpuMsPerCall },
    direct: { maxCpsZeroFailures: direct.best },
    rows: { engineB2bua: viaEngine.rows, direct: direct.rows },
    machine: { cpus: os.cpus().length, model: os.cpus()[0] && os.cpus()[0].model },
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  process.exit(0);
}

function loadTs() {
  try {
    const m = require(path.join(root, 'dist', 'index.js'));
    if (m.startEmbeddedSipEngine) return m;
  } catch { /* not built / media addon missing */ }
  const out = path.join(os.tmpdir(), `esbc-sip-bench-${process.pid}.js`);
  require('esbuild').buildSync({ entryPoints: [path.join(root, 'ts', 'sip', 'index.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'error' });
  return require(out);
}

main().catch((err) => { console.error(err); process.exit(1); });
