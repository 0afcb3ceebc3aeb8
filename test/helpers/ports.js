'use strict';
// Free loopback ports for test peers. Random high ports, each verified by
// actually binding UDP and TCP on 127.0.0.1, and never handed out twice by
// this process (two peers allocated back-to-back must not collide).
const net = require('node:net');
const dgram = require('node:dgram');

const HOST = '127.0.0.1';
// Below Linux's ephemeral range (32768+ is used by outgoing sockets).
// Override with ESBC_TEST_PORT_LO/HI if the product's own port range overlaps.
const LO = Number(process.env.ESBC_TEST_PORT_LO) || 30000;
const HI = Number(process.env.ESBC_TEST_PORT_HI) || 32700;
const handedOut = new Set();

function tryTcp(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: HOST, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function tryUdp(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, HOST, () => s.close(() => resolve(true)));
  });
}

async function isFree(port, { udp = true, tcp = true } = {}) {
  if (handedOut.has(port) || port > 65535) return false;
  if (udp && !(await tryUdp(port))) return false;
  if (tcp && !(await tryTcp(port))) return false;
  return true;
}

/**
 * `count` consecutive free ports (UDP and TCP by default); returns the first.
 * Consecutive matters for baresip (rtp_ports range, TLS on SIP port + 1).
 */
async function freePortRange(count = 1, opts = {}) {
  // Parallel test files are separate processes that cannot see each other's
  // handedOut: start in a per-pid slice of the range so they rarely collide.
  const slice = Math.floor((HI - LO) / 8);
  for (let attempt = 0; attempt < 200; attempt++) {
    const [lo, span] = attempt < 100 ? [LO + (process.pid % 8) * slice, slice] : [LO, HI - LO];
    const base = lo + Math.floor(Math.random() * (span - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await isFree(p, opts);
    if (ok) {
      for (let p = base; p < base + count; p++) handedOut.add(p);
      return base;
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** One free port (free on both UDP and TCP unless told otherwise). */
function freePort(opts = {}) {
  return freePortRange(1, opts);
}

/** Let a port be handed out again (after its user stopped). */
function releasePorts(first, count = 1) {
  for (let p = first; p < first + count; p++) handedOut.delete(p);
}

module.exports = { freePort, freePortRange, releasePorts, isFree, HOST };
