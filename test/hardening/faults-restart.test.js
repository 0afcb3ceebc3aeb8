'use strict';
// The control plane is SIGKILLed with a call up: the SIP engine child exits
// by itself (PR_SET_PDEATHSIG), no UDP or TCP port of the SIP listeners or the
// media range stays bound, and the SBC started again on the same ports
// completes a call.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { freePort } = require('../helpers/ports');
const { waitUntil } = require('../helpers/udp');
const h = require('../helpers/b2bua');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const MEDIA = { min: 52000, max: 52099 };

/** Local ports of UDP sockets and TCP listeners, from /proc/net (IPv4 and IPv6). */
function boundPorts() {
  const ports = [];
  for (const [file, tcp] of [['udp', false], ['udp6', false], ['tcp', true], ['tcp6', true]]) {
    let text;
    try {
      text = fs.readFileSync(`/proc/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      // TCP: only listeners (state 0A); connections in TIME_WAIT do not hold a port.
      if (tcp && f[3] !== '0A') continue;
      ports.push({ port: parseInt(f[1].split(':')[1], 16), proto: tcp ? 'tcp' : 'udp' });
    }
  }
  return ports;
}

/** The pids of children of `ppid` named `comm`. */
function childrenNamed(ppid, comm) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
      if (m && m[1] === comm && Number(m[2]) === ppid) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

const alive = (pid) => {
  try {
    // A zombie still has /proc/<pid>; its state is Z.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** Starts `node dist/cli.js start --config` and waits for "SBC ready". */
async function startSbcProcess(t, config) {
  const child = spawn(process.execPath, [CLI, 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  const logs = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l));
    } catch {
      /* not a log line */
    }
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await waitUntil(() => logs.some((l) => l.msg === 'SBC ready') || child.exitCode !== null, 20000, 'SBC ready');
  assert.ok(logs.some((l) => l.msg === 'SBC ready'), `SBC started:\n${stderr}`);
  const metrics = logs.find((l) => l.metrics)?.metrics;
  return { child, logs, exited, metrics };
}

async function activeCalls(metricsUrl) {
  const m = /^esbc_calls_active (\d+)$/m.exec(await (await fetch(metricsUrl)).text());
  return m ? Number(m[1]) : -1;
}

test('SIGKILL of the control plane mid-call: the SIP engine exits, no port stays bound, a restart serves calls', async (t) => {
  const calleePort = await freePort();
  const sipIn = await freePort();
  const sipOut = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-faults-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'sbc.yaml');
  fs.writeFileSync(config, [
    `media: { bindAddress: 127.0.0.1, portMin: ${MEDIA.min}, portMax: ${MEDIA.max}, mediaTimeoutSecs: 0 }`,
    'metrics: { address: 127.0.0.1, port: 0 }',
    'realms:',
    `  - { name: in, sip: { listen: [{ transport: udp, address: 127.0.0.1, port: ${sipIn} }, { transport: tcp, address: 127.0.0.1, port: ${sipIn} }] }, media: { security: rtp } }`,
    `  - { name: out, sip: { listen: [{ address: 127.0.0.1, port: ${sipOut} }], nextHop: "sip:127.0.0.1:${calleePort}" }, media: { security: rtp } }`,
    'routes: [{ from: in, to: out }]',
  ].join('\n'));
  const ours = (p) => p.port === sipIn || p.port === sipOut || (p.port >= MEDIA.min && p.port <= MEDIA.max);

  // 1. A call up through the SBC.
  const callee = await h.startScenario('uas-answer', { SDP: h.sdpBody(h.answers.rtp({ codecs: '0' })), RTP: '' }, { localPort: calleePort });
  t.after(() => callee.cleanup());
  const first = await startSbcProcess(t, config);
  assert.ok(first.metrics, 'metrics endpoint');
  const [engine] = childrenNamed(first.child.pid, 'esbc-sip');
  assert.ok(engine, 'the SIP engine runs as a child process');
  const caller = await h.startScenario('uac-wait-bye', { SDP: h.sdpBody(h.offers.rtp('0')) }, { remote: `127.0.0.1:${sipIn}`, service: 'bob' });
  t.after(() => caller.cleanup());
  for (let i = 0; (await activeCalls(first.metrics)) !== 1; i++) {
    assert.ok(i < 100, 'call up within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const held = boundPorts().filter(ours);
  assert.ok(held.some((p) => p.port >= MEDIA.min) && held.some((p) => p.port === sipIn && p.proto === 'tcp'), JSON.stringify(held));

  // 2. SIGKILL: no cleanup code runs in the control plane.
  const killedAt = Date.now();
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');
  await waitUntil(() => !alive(engine), 5000, `SIP engine ${engine} exits after its parent`);
  const engineGoneMs = Date.now() - killedAt;
  await waitUntil(() => boundPorts().filter(ours).length === 0, 5000, `ports released: ${JSON.stringify(boundPorts().filter(ours))}`);
  await caller.cleanup();
  await callee.cleanup();

  // 3. The same configuration again: same ports, a whole call.
  const callee2 = await h.startScenario('uas-answer', { SDP: h.sdpBody(h.answers.rtp({ codecs: '0' })), RTP: '' }, { localPort: calleePort });
  t.after(() => callee2.cleanup());
  const second = await startSbcProcess(t, config);
  const call = await h.startScenario('uac-bye', { SDP: h.sdpBody(h.offers.rtp('0')), TALK_MS: 300 }, { remote: `127.0.0.1:${sipIn}`, service: 'bob' });
  t.after(() => call.cleanup());
  const a = await call.done;
  assert.equal(a.code, 0, `call after the restart:\n${h.describe(a.messages)}`);
  assert.equal((await callee2.done).code, 0);
  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
  t.diagnostic(`SIP engine gone ${engineGoneMs} ms after the SIGKILL`);
});
