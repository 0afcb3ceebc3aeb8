#!/usr/bin/env node
'use strict';
// Soak run (issue 8; a bench, not a test): many hours of call time
// compressed into a run of `--minutes`. The SBC runs as the operator runs it
// (`esbc start --config`, its own process); sipp drives
//   - short calls at `--cps` with `--hold-ms` of talk time (built-in uac/uas,
//     plain RTP SDP, pipelines allocated and released per call), and
//   - `--long-calls` calls that last the whole run with RTP flowing through
//     the SBC (sipp rtp_stream, 50 packets/s each; runs of 22 min or more
//     cross the 16-bit RTP sequence wrap).
// Recorded at the start (after warm-up) and the end: SBC RSS and open file
// descriptors, media port pairs in use, SIP engine RSS, calls attempted /
// completed / failed (sipp and the SBC's own counters). Growth is reported,
// not asserted; the JSON lands in bench/results/.
// Usage: node bench/soak.js [--minutes 10] [--cps 30] [--hold-ms 2000] [--long-calls 4]
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { renderScenario } = require('../test/helpers/sipp');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const minutes = Number(opt('--minutes', '10'));
const cps = Number(opt('--cps', '30'));
const holdMs = Number(opt('--hold-ms', '2000'));
const longCalls = Number(opt('--long-calls', '4'));
const PORTS = { in: 25060, out: 25080, uas: 25100, longUas: 25120, metrics: 25190 };

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-soak-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function writeConfig() {
  const cfg = {
    media: { bindAddress: '127.0.0.1', portMin: 26000, portMax: 29999 },
    metrics: { address: '127.0.0.1', port: PORTS.metrics },
    log: { level: 'warn' },
    realms: [
      { name: 'in', sip: { listen: [{ transport: 'udp', address: '127.0.0.1', port: PORTS.in }] }, media: { security: 'rtp' } },
      { name: 'out', sip: { listen: [{ transport: 'udp', address: '127.0.0.1', port: PORTS.out }], nextHop: `sip:127.0.0.1:${PORTS.uas}` }, media: { security: 'rtp' } },
    ],
    routes: [
      { from: 'in', user: '^long', to: 'out', uri: `sip:long@127.0.0.1:${PORTS.longUas}` },
      { from: 'in', to: 'out' },
    ],
  };
  const file = path.join(work, 'sbc.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

function sipp(argv, name) {
  const dir = fs.mkdtempSync(path.join(work, `${name}-`));
  const c = spawn('sipp', ['-nostdin', ...argv], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (out += d));
  c.done = new Promise((r) => c.on('exit', (code) => r({ code, out })));
  return c;
}

/** sipp's final statistics: successful and failed calls. */
function sippCounts(out) {
  const num = (label) => Number((out.match(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`)) || [])[1] ?? NaN);
  return { completed: num('Successful call'), failed: num('Failed call') };
}

function procStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] ?? NaN);
    return { rssKiB: kb('VmRSS'), fds: fs.readdirSync(`/proc/${pid}/fd`).length, threads: kb('Threads') };
  } catch {
    return null;
  }
}

function childPids(pid) {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).map(Number);
}

function scrape() {
  return new Promise((resolve) => {
    http
      .get(`http://127.0.0.1:${PORTS.metrics}/metrics`, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', () => resolve(''));
  });
}

/** Sum of the samples of `name` whose labels match `labels` (a substring). */
function metric(text, name, labels = '') {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] || '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

async function snapshot(sbcPid) {
  const text = await scrape();
  const engine = childPids(sbcPid).map((p) => ({ pid: p, ...procStatus(p) }));
  return {
    at: new Date().toISOString(),
    sbc: procStatus(sbcPid),
    sipEngine: engine[0] ?? null,
    portPairsInUse: metric(text, 'esbc_media_port_pairs_in_use'),
    callsActive: metric(text, 'esbc_calls_active'),
    callsTotal: metric(text, 'esbc_calls_total'),
    callsByResult: Object.fromEntries(['answered', 'rejected', 'cancelled', 'failed'].map((r) => [r, metric(text, 'esbc_calls_total', `result="${r}"`)])),
    packetsRelayed: metric(text, 'esbc_media_packets_total', 'unit="packets"'),
    drops: metric(text, 'esbc_media_drops_total'),
  };
}

/** A caller that sends PCMU RTP for the whole run (sipp's rtp_stream), then BYE. */
function longCallScenario() {
  const wav = path.join(work, 'tone.wav');
  require(path.join(root, 'test', 'helpers', 'wav.js')).writeToneUlawWav(wav, { freq: 440, seconds: 10 });
  const sdp = ['v=0', 'o=- 1 1 IN IP4 [local_ip]', 's=-', 'c=IN IP4 [local_ip]', 't=0 0', 'm=audio [auto_media_port] RTP/AVP 0', 'a=rtpmap:0 PCMU/8000']
    .map((l) => `      ${l}`)
    .join('\n');
  return renderScenario(path.join(root, 'test', 'b2bua', 'scenarios', 'uac-bye.xml'), {
    SDP: sdp,
    TALK_MS: Math.round(minutes * 60000),
    AFTER_ACK: `<nop><action><exec rtp_stream="${wav},-1,0"/></action></nop>`,
  }, work);
}

async function main() {
  const config = writeConfig();
  const sbc = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'), 'start', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const uas = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(PORTS.uas)], 'uas');
  const longUas = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(PORTS.longUas), '-rtp_echo'], 'long-uas');
  for (let i = 0; i < 100 && !(await scrape()); i++) await sleep(100);

  const long = longCalls > 0 ? sipp(['127.0.0.1:' + PORTS.in, '-sf', longCallScenario(), '-s', 'long', '-i', '127.0.0.1', '-p', '0', '-m', String(longCalls), '-l', String(longCalls), '-r', String(longCalls), '-mp', '24000'], 'long') : null;
  const totalCalls = Math.round(cps * minutes * 60);
  const short = sipp(['127.0.0.1:' + PORTS.in, '-sn', 'uac', '-i', '127.0.0.1', '-p', '0', '-r', String(cps), '-m', String(totalCalls), '-d', String(holdMs), '-l', String(cps * Math.ceil(holdMs / 1000 + 2) * 2), '-recv_timeout', '10000', '-mp', '23000'], 'short');

  await sleep(20000); // warm-up: allocator arenas, JIT, steady call count
  const start = await snapshot(sbc.pid);
  console.log(`soak: ${minutes} min, ${cps} cps x ${holdMs} ms, ${longCalls} long calls; start`, JSON.stringify(start));
  const timer = setInterval(async () => console.log('soak:', JSON.stringify(await snapshot(sbc.pid))), 60000);
  const shortResult = await short.done;
  const longResult = long ? await long.done : null;
  clearInterval(timer);
  await sleep(3000); // last BYEs and port releases
  const end = await snapshot(sbc.pid);
  sbc.kill('SIGTERM');
  uas.kill('SIGTERM');
  longUas.kill('SIGTERM');

  const result = {
    kind: 'soak',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release() },
    params: { minutes, cps, holdMs, longCalls },
    callTimeHours: (totalCalls * holdMs + longCalls * minutes * 60000) / 3.6e6,
    short: { attempted: totalCalls, ...sippCounts(shortResult.out), exit: shortResult.code },
    long: longResult ? { attempted: longCalls, ...sippCounts(longResult.out), exit: longResult.code } : null,
    start,
    end,
    growth: {
      sbcRssKiB: end.sbc && start.sbc ? end.sbc.rssKiB - start.sbc.rssKiB : null,
      sbcFds: end.sbc && start.sbc ? end.sbc.fds - start.sbc.fds : null,
      sipEngineRssKiB: end.sipEngine && start.sipEngine ? end.sipEngine.rssKiB - start.sipEngine.rssKiB : null,
      portPairsInUseAtEnd: end.portPairsInUse,
      callsActiveAtEnd: end.callsActive,
    },
  };
  const out = path.join(root, 'bench', 'results', `soak-${result.date.replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result, null, 2));
  console.log(`written ${out}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
