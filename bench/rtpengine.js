'use strict';
// The baseline relay: rtpengine (Debian's rtpengine-daemon, userspace only,
// loopback), driven over its ng control protocol (bencode over UDP) to build
// the same bridge the SBC builds: SDES-SRTP on one side, RTP/AVP on the other.
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const bencode = require('bencode');

class NgClient {
  constructor(port) {
    this.port = port;
    this.sock = dgram.createSocket('udp4');
    this.pending = new Map();
    this.sock.on('message', (msg) => {
      const s = msg.toString('latin1');
      const sp = s.indexOf(' ');
      const cookie = s.slice(0, sp);
      const p = this.pending.get(cookie);
      if (!p) return;
      this.pending.delete(cookie);
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

async function startRtpengine({ ngPort = 22230, portMin = 20000, portMax = 29999, threads = 1 } = {}) {
  const args = [
    '--config-file=none', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ngPort}`, '--table=-1', '--foreground',
    '--log-stderr', '--log-level=4', `--port-min=${portMin}`, `--port-max=${portMax}`, '--delete-delay=0', `--num-threads=${threads}`,
  ];
  const proc = spawn('rtpengine', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', () => undefined);
  const ng = new NgClient(ngPort);
  for (let i = 0; ; i++) {
    try {
      if ((await ng.request({ command: 'ping' }, 300)).result === 'pong') break;
    } catch (e) {
      if (i > 30) throw new Error(`rtpengine did not start: ${e.message}`);
    }
  }
  return {
    pid: proc.pid,
    ng,
    async stop() {
      ng.close();
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

/**
 * One SDES <-> RTP bridge. The loadgen's SRTP endpoint at `srtpLocal`
 * offers SDES with `peerKey`; its RTP endpoint at `rtpLocal` answers RTP/AVP.
 * Returns the loadgen line (relay ports and keys).
 */
async function bridge(ng, i, { rtpLocal, srtpLocal, peerKey }) {
  const callId = `bench-${i}-${crypto.randomBytes(4).toString('hex')}`;
  const offerSdp = [
    'v=0', `o=- ${i} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${srtpLocal} RTP/SAVP 0`, 'a=rtpmap:0 PCMU/8000',
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${peerKey.toString('base64')}`, 'a=sendrecv', '',
  ].join('\r\n');
  const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: offerSdp, 'transport-protocol': 'RTP/AVP', replace: ['origin', 'session-connection'] });
  if (offer.result !== 'ok') throw new Error(`offer: ${JSON.stringify(offer)}`);
  const plainPort = Number(/m=audio (\d+)/.exec(offer.sdp)[1]);
  const answerSdp = [
    'v=0', `o=- ${i} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${rtpLocal} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', '',
  ].join('\r\n');
  const answer = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: answerSdp, 'transport-protocol': 'RTP/SAVP', replace: ['origin', 'session-connection'] });
  if (answer.result !== 'ok') throw new Error(`answer: ${JSON.stringify(answer)}`);
  const srtpPort = Number(/m=audio (\d+)/.exec(answer.sdp)[1]);
  const key = /a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)/.exec(answer.sdp);
  if (!key) throw new Error(`no SDES key in rtpengine's answer:\n${answer.sdp}`);
  return { callId, line: `${plainPort} ${srtpPort} ${peerKey.toString('hex')} ${Buffer.from(key[1], 'base64').toString('hex')} ${rtpLocal} ${srtpLocal}` };
}

async function deleteCall(ng, callId) {
  await ng.request({ command: 'delete', 'call-id': callId, 'from-tag': 'caller' }).catch(() => undefined);
}

module.exports = { startRtpengine, bridge, deleteCall };
