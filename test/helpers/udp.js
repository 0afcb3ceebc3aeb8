'use strict';
// Small UDP helpers for media tests: sockets that collect what they receive,
// and a tap that forwards between two addresses while recording the traffic.
const dgram = require('node:dgram');

async function udpSocket(port = 0) {
  const s = dgram.createSocket('udp4');
  s.received = [];
  s.on('message', (msg, rinfo) => s.received.push({ msg, from: `${rinfo.address}:${rinfo.port}` }));
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, '127.0.0.1', resolve);
  });
  s.port = s.address().port;
  s.sendTo = (buf, port, host = '127.0.0.1') => new Promise((resolve, reject) => s.send(buf, port, host, (e) => (e ? reject(e) : resolve())));
  s.waitFor = (n, timeoutMs = 3000) => waitUntil(() => s.received.length >= n, timeoutMs, `${n} datagrams on :${s.port} (got ${s.received.length})`);
  return s;
}

async function waitUntil(pred, timeoutMs, what) {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Forwards left <-> right through two sockets, keeping a copy of each datagram. */
async function udpTap() {
  const left = await udpSocket();
  const right = await udpSocket();
  const tap = { left, right, toRight: [], toLeft: [], leftPeer: null, rightPeer: null };
  left.on('message', (msg, r) => {
    tap.leftPeer = r.port;
    tap.toRight.push(msg);
    if (tap.rightPeer) right.send(msg, tap.rightPeer, '127.0.0.1');
  });
  right.on('message', (msg, r) => {
    tap.toLeft.push(msg);
    if (tap.leftPeer) left.send(msg, tap.leftPeer, '127.0.0.1');
  });
  tap.close = () => {
    left.close();
    right.close();
  };
  return tap;
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

module.exports = { udpSocket, udpTap, waitUntil, portIsFree };
