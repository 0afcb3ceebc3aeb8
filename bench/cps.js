#!/usr/bin/env node
'use strict';
// Signalling benchmark (`npm run bench:cps`), not a test. Steps the call rate
// up until calls fail, for:
//   - sipp uac -> SBC (the whole SBC from dist/: embedded SIP engine, B2BUA,
//     a media pipeline per call; SDP both ways, no media sent) -> sipp uas;
//   - sipp uac -> sipp uas direct, same run;
//   - with DTLS: sip-dtls-uac (bench/loadgen) offers DTLS-SRTP, and for
//     every call completes the DTLS handshake against the SBC's answer
//     (fingerprint checked, SRTP profile negotiated) before sending BYE ->
//     SBC -> sipp uas.
//   node bench/cps.js [--step-seconds 5] [--rates 100,200,...] [--dtls-rates 50,100,...] [--readme]
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { buildTools, bin, root } = require('./lib/loadgen');
const report = require('./lib/report');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const stepSeconds = Number(opt('--step-seconds', '5'));
const rates = opt('--rates', '100,200,400,700,1000,1250,1500,1750,2000,2500,3000,4000,5000,6000,8000').split(',').map(Number);
const dtlsRates = opt('--dtls-rates', '50,100,200,300,400,600,800,1000').split(',').map(Number);
// Below Linux's ephemeral range (32768-60999: sipp's and the loadgen's
// sockets), and wide enough for the calls in flight at the top rates: each
// call holds two port pairs for its ~1 s life, and 50000-59999 (1,250 calls)
// made the ladder stop on 503 "media ports exhausted" at 1,250-1,500 calls/s.
const MEDIA = { portMin: 10000, portMax: 32767 };
// sipp binds a control socket (0.0.0.0:8888 by default) and a media socket:
// on loopback, on ports the kernel just handed out as free.
async function freePort() {
  const s = require('node:dgram').createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
const sippAux = async () => ['-ci', '127.0.0.1', '-cp', String(await freePort()), '-mi', '127.0.0.1', '-mp', String(await freePort())];

function cpuTicks(pid) {
  try {
    let t = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const f = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      t += Number(f[11]) + Number(f[12]);
    }
    return t;
  } catch {
    return 0;
  }
}

function run(cmd, argv) {
  return new Promise((resolve) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-bench-'));
    const c = spawn(cmd, argv, { cwd: dir });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('exit', (code) => {
      const errors = fs.readdirSync(dir).filter((f) => f.endsWith('_errors.log')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, out, errors });
    });
  });
}

/** What sipp's error log says went wrong, by kind (failed calls only; retransmission noise left out). */
function failureKinds(errors) {
  const kinds = {};
  const add = (k) => (kinds[k] = (kinds[k] || 0) + 1);
  for (const m of errors.matchAll(/Aborting call on unexpected message[^:]*: (while expecting '[^']*' \(index \d+\)), received '([^\r\n]*)/g)) add(`${m[1]}: got ${m[2].replace(/sip:[^ ]*/g, 'sip:...')}`);
  for (const m of errors.matchAll(/(receive timeout on message [^:\n]*:\d+)/g)) add(`${m[1]} (no answer within -recv_timeout)`);
  return kinds;
}

function sippCounts(out) {
  const num = (label) => {
    const m = out.match(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`));
    return m ? Number(m[1]) : NaN;
  };
  return { ok: num('Successful call'), failed: num('Failed call') };
}

async function sippStep(target, rate) {
  const calls = rate * stepSeconds;
  const r = await run('sipp', ['-nostdin', target, '-sn', 'uac', '-i', '127.0.0.1', '-p', '0', '-r', String(rate), '-m', String(calls),
    '-l', String(rate * 4), '-timeout', `${stepSeconds + 20}s`, '-timeout_error', '-recv_timeout', '5000', '-max_socket', '64', '-trace_err',
    ...(await sippAux())]);
  const counts = sippCounts(r.out);
  return { calls, ...counts, exit: r.code, ...(counts.failed ? { failures: failureKinds(r.errors) } : {}), ...(r.code > 1 ? { error: r.out.slice(0, 1500) } : {}) };
}

async function dtlsStep(target, rate) {
  const calls = rate * stepSeconds;
  const r = await run(bin('sip-dtls-uac'), ['--target', target, '--rate', String(rate), '--calls', String(calls), '--threads', '8']);
  try {
    const j = JSON.parse(r.out.trim().split('\n').pop());
    return { calls, ok: j.ok, failed: j.failed, exit: r.code, handshakeMsP50: j.handshakeMsP50, handshakeMsP99: j.handshakeMsP99, failures: j.failures };
  } catch {
    return { calls, ok: 0, failed: calls, exit: r.code, error: r.out.slice(-500) };
  }
}

const passed = (s) => s.failed === 0 && s.ok === s.calls;

/**
 * Steps up until a rate fails; CPU per call of the watched processes. A rate
 * that fails is tried once more (both paths alike): one stray lost datagram
 * on a loaded 2-core box should not end a ladder, two failures at a rate do.
 */
async function ladder(name, list, step, watch = []) {
  let best = 0;
  const rows = [];
  for (const rate of list) {
    let row;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const t0 = watch.map(cpuTicks);
      const s = await step(rate);
      const ticks = watch.map((p, i) => cpuTicks(p) - t0[i]);
      row = { rate, attempt, ...s, cpuMsPerCall: watch.length && s.ok ? ticks.map((t) => +((t * 10) / s.ok).toFixed(3)) : undefined };
      rows.push(row);
      console.error(`[bench:cps] ${name} ${rate}/s try ${attempt}: ok ${s.ok} failed ${s.failed} exit ${s.exit}` + (row.cpuMsPerCall ? ` cpu ms/call ${row.cpuMsPerCall.join(' + ')}` : ''));
      if (passed(s)) break;
    }
    if (!passed(row)) break;
    best = rate;
  }
  return { best, rows };
}

async function startSbc(inSecurity, nextHop) {
  const child = spawn(process.execPath, [path.join(__dirname, 'lib', 'sbc-child.js'), JSON.stringify({ inSecurity, nextHop, ...MEDIA })],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', (l) => (rl.close(), resolve(JSON.parse(l))));
    child.once('exit', (c) => reject(new Error(`SBC exited ${c}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    ...info,
    target: `127.0.0.1:${info.sipListen.in[0].port}`,
    async stop() {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function startUas() {
  const port = await freePort();
  const aux = await sippAux();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-bench-uas-'));
  const c = spawn('sipp', ['-nostdin', '-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-max_socket', '64', ...aux], { cwd: dir, stdio: 'ignore' });
  return { port, stop: () => (c.kill('SIGKILL'), fs.rmSync(dir, { recursive: true, force: true })) };
}

function markdown(res) {
  const f = (v) => report.fmt(v, 3);
  const b = res.viaSbc.rows.find((r) => r.rate === res.viaSbc.best && passed(r));
  const d = res.viaSbcDtls.rows.find((r) => r.rate === res.viaSbcDtls.best && passed(r));
  // The rate that ended the ladder: both of its tries failed.
  const fail = (l) => {
    const tries = l.rows.filter((r) => r.rate > l.best);
    return tries.length ? `${report.fmt(tries[0].rate)}/s: ${tries.map((x) => `${x.failed} of ${x.calls}`).join(', then ')} failed` : 'none (highest rate tried)';
  };
  const retried = (l) => l.rows.filter((r) => r.attempt === 2 && passed(r)).map((r) => `${report.fmt(r.rate)}/s`);
  const retries = ['viaSbc', 'direct', 'viaSbcDtls'].map((k) => [k, retried(res[k])]).filter(([, v]) => v.length);
  return [report.header(res), '', `Steps of ${res.stepSeconds} s at each rate; a step passes when every call completed. A rate that fails is tried once more (both paths alike); the ladder ends at the first rate that fails twice.` +
    (retries.length ? ` Rates that passed on the second try: ${retries.map(([k, v]) => `${{ viaSbc: 'via SBC', direct: 'direct', viaSbcDtls: 'DTLS via SBC' }[k]} ${v.join(', ')}`).join('; ')}.` : ''), '',
    '| path | highest rate with zero failed calls | first failing step | CPU per call (SBC node + esbc-sip) | ratio to sipp direct |', '|---|---|---|---|---|',
    `| sipp uac -> SBC (B2BUA, media pipelines, RTP SDP) -> sipp uas | ${report.fmt(res.viaSbc.best)}/s | ${fail(res.viaSbc)} | ${b?.cpuMsPerCall ? `${f(b.cpuMsPerCall[0])} + ${f(b.cpuMsPerCall[1])} ms` : '-'} | ${report.fmt(res.viaSbc.best / res.direct.best)}x (target >= 0.25x) |`,
    `| sipp uac -> sipp uas direct | ${report.fmt(res.direct.best)}/s | ${fail(res.direct)} | - | 1x |`,
    `| loadgen DTLS-SRTP uac (handshake per call) -> SBC -> sipp uas | ${report.fmt(res.viaSbcDtls.best)}/s | ${fail(res.viaSbcDtls)} | ${d?.cpuMsPerCall ? `${f(d.cpuMsPerCall[0])} + ${f(d.cpuMsPerCall[1])} ms` : '-'} | ${report.fmt(res.viaSbcDtls.best / res.direct.best)}x |`,
    d ? `\nDTLS handshake time seen by the client at ${d.rate}/s: p50 ${d.handshakeMsP50} ms, p99 ${d.handshakeMsP99} ms.` : ''].join('\n');
}

async function main() {
  buildTools();
  const res = { kind: 'cps', date: new Date().toISOString(), machine: report.machine(), stepSeconds };
  const uas = await startUas();
  try {
    await new Promise((r) => setTimeout(r, 500));
    let sbc = await startSbc('rtp', `sip:127.0.0.1:${uas.port}`);
    try {
      res.viaSbc = await ladder('sipp->SBC->sipp', rates, (r) => sippStep(sbc.target, r), [sbc.pid, sbc.sipPid]);
    } finally {
      await sbc.stop();
    }
    res.direct = await ladder('sipp->sipp direct', rates, (r) => sippStep(`127.0.0.1:${uas.port}`, r));
    sbc = await startSbc('dtls-srtp', `sip:127.0.0.1:${uas.port}`);
    try {
      res.viaSbcDtls = await ladder('dtls uac->SBC->sipp', dtlsRates, (r) => dtlsStep(sbc.target, r), [sbc.pid, sbc.sipPid]);
    } finally {
      await sbc.stop();
    }
  } finally {
    uas.stop();
  }
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `cps-${res.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
  const md = markdown(res);
  console.log(md);
  console.log(`\nresults: ${path.relative(root, file)}`);
  if (args.includes('--readme')) report.writeReadme('cps', md + `\n\nRaw: \`${path.relative(__dirname, file)}\`\n`);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
