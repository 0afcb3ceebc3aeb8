'use strict';
// The baseline relay: rtpengine 10.5 (Debian's rtpengine-daemon, userspace
// only: --table=-1, loopback, one worker thread, pinned), driven over its ng
// control protocol (bencode over UDP) to build the bridge the SBC builds:
// SDES-SRTP on one side, RTP/AVP on the other. Installs the package if missing.
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const bencode = require('bencode');
const { localFor, keyLen } = require('./sessions');

class NgClient {
  constructor(port) {
    this.port = port;
    this.sock = dgram.createSocket('udp4');
    this.pending = new Map();
    this.sock.on('message', (msg) => {
      const s = msg.toString('latin1');
      const sp = s.indexOf(' ');
      const p = this.pending.get(s.slice(0, sp));
      if (!p) return;
      this.pending.delete(s.slice(0, sp));
      p.resolve(bencode.decode(Buffer.from(s.slice(sp + 1), 'latin1'), 'utf8'));
    });
  }

  request(cmd, timeoutMs = 3000) {
    const cookie = crypto.randomBytes(8).toString('hex'); // replies are cached by cookie: never reuse one
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cookie);
        reject(new Error(`rtpengine did not answer ${cmd.command}`));
      }, timeoutMs);
      this.pending.set(cookie, { resolve: (r) => (clearTimeout(timer), resolve(r)) });
      this.sock.send(Buffer.concat([Buffer.from(`${cookie} `), bencode.encode(cmd)]), this.port, '127.0.0.1');
    });
  }

  close() {
    this.sock.close();
  }
}

function ensureInstalled() {
  if (spawnSync('rtpengine', ['--version']).status === 0) return;
  console.error('[bench] installing rtpengine-daemon (apt)');
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'rtpengine-daemon'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cannot install rtpengine-daemon');
}

function version() {
  const r = spawnSync('rtpengine', ['--version'], { encoding: 'utf8' });
  return ((r.stdout || '') + (r.stderr || '')).match(/Version:\s*(\S+)/)?.[1] || 'unknown';
}

async function startRtpengine({ ngPort = 22230, portMin = 50000, portMax = 59999, threads = 1, cpu, nice } = {}) {
  ensureInstalled();
  const args = [
    '--config-file=none', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ngPort}`, '--table=-1', '--foreground',
    '--log-stderr', '--log-level=4', `--port-min=${portMin}`, `--port-max=${portMax}`, '--delete-delay=0', `--num-threads=${threads}`,
  ];
  // taskset and nice exec rtpengine: the child's pid is rtpengine's.
  const argv = [...(nice ? ['nice', '-n', String(nice)] : []), ...(cpu === undefined ? [] : ['taskset', '-c', String(cpu)]), 'rtpengine', ...args];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  const exited = new Promise((r) => proc.once('exit', r));
  const ng = new NgClient(ngPort);
  for (let i = 0; ; i++) {
    try {
      if ((await ng.request({ command: 'ping' }, 300)).result === 'pong') break;
    } catch (e) {
      if (i > 30) {
        proc.kill('SIGKILL');
        throw new Error(`rtpengine did not start: ${e.message}\n${log}`);
      }
    }
  }
  return {
    pid: proc.pid,
    ng,
    async stop() {
      ng.close();
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

const host = (a) => a.slice(0, a.lastIndexOf(':'));
const port = (a) => Number(a.slice(a.lastIndexOf(':') + 1));

/**
 * One SDES <-> RTP bridge for call `i`: the generator's SRTP endpoint (leg 1)
 * offers SDES with its key, its RTP endpoint (leg 0) answers RTP/AVP.
 * Returns the call's session-list entry and its Call-ID.
 */
async function bridge(ng, i, { locals, suite }) {
  const [plainLocal, srtpLocal] = [localFor(locals, i, 0), localFor(locals, i, 1)];
  const peerKey = crypto.randomBytes(keyLen(suite));
  const callId = `bench-${i}-${crypto.randomBytes(4).toString('hex')}`;
  const sdp = (addr, proto, extra) => ['v=0', `o=- ${i} 1 IN IP4 ${host(addr)}`, 's=-', `c=IN IP4 ${host(addr)}`, 't=0 0',
    `m=audio ${port(addr)} ${proto} 0`, 'a=rtpmap:0 PCMU/8000', ...extra, 'a=rtcp-mux', 'a=sendrecv', ''].join('\r\n');
  const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', 'transport-protocol': 'RTP/AVP',
    sdp: sdp(srtpLocal, 'RTP/SAVP', [`a=crypto:1 ${suite} inline:${peerKey.toString('base64')}`]) });
  if (offer.result !== 'ok') throw new Error(`offer: ${JSON.stringify(offer)}`);
  const answer = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee',
    'transport-protocol': 'RTP/SAVP', sdp: sdp(plainLocal, 'RTP/AVP', []) });
  if (answer.result !== 'ok') throw new Error(`answer: ${JSON.stringify(answer)}`);
  const key = new RegExp(`a=crypto:\\d+ ${suite} inline:([A-Za-z0-9+/=]+)`).exec(answer.sdp);
  if (!key) throw new Error(`no ${suite} key in rtpengine's answer:\n${answer.sdp}`);
  const relayPort = (s) => Number(/m=audio (\d+)/.exec(s)[1]);
  return {
    callId,
    call: {
      legs: [
        { local: plainLocal, remote: `127.0.0.1:${relayPort(offer.sdp)}` },
        { local: srtpLocal, remote: `127.0.0.1:${relayPort(answer.sdp)}`,
          srtp: { profile: suite, tx: peerKey.toString('hex'), rx: Buffer.from(key[1], 'base64').toString('hex') } },
      ],
    },
  };
}

async function deleteCall(ng, callId) {
  await ng.request({ command: 'delete', 'call-id': callId, 'from-tag': 'caller' }).catch(() => undefined);
}

module.exports = { startRtpengine, bridge, deleteCall, version };
