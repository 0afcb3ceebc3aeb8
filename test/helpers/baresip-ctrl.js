'use strict';
// Client for baresip's ctrl_tcp module: netstring-framed JSON both ways.
//   request:  {"command":"dial","params":"sip:b@...","token":"3"}
//   response: {"response":true,"ok":true,"data":"...","token":"3"}
//   event:    {"event":true,"class":"call","type":"CALL_ESTABLISHED",...}
// ctrl_tcp serves ONE client at a time and sends events only to it, so the
// harness keeps a single connection per instance for its whole life.
const net = require('node:net');
const { EventEmitter } = require('node:events');

function netstring(obj) {
  const body = Buffer.from(JSON.stringify(obj));
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]);
}

class CtrlClient extends EventEmitter {
  constructor(port, host = '127.0.0.1') {
    super();
    this.port = port;
    this.host = host;
    this.buf = Buffer.alloc(0);
    this.pending = new Map();
    this.seq = 0;
    this.events = []; // every event ever received, for waitEvent() look-back
  }

  /** Connect, retrying while baresip is still starting up. */
  async connect(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await new Promise((resolve, reject) => {
          const s = net.connect(this.port, this.host);
          s.once('connect', () => {
            this.sock = s;
            resolve();
          });
          s.once('error', reject);
        });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`ctrl_tcp ${this.port}: ${err.message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.sock.on('data', (d) => this.onData(d));
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('ctrl_tcp connection closed'));
      this.pending.clear();
      this.emit('close');
    });
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(':');
      if (colon < 0) return;
      const len = parseInt(this.buf.subarray(0, colon).toString(), 10);
      if (!(len >= 0)) {
        this.buf = Buffer.alloc(0); // garbage: resync by dropping
        return;
      }
      if (this.buf.length < colon + 1 + len + 1) return;
      const body = this.buf.subarray(colon + 1, colon + 1 + len).toString();
      this.buf = this.buf.subarray(colon + 1 + len + 1);
      let msg;
      try {
        msg = JSON.parse(body);
      } catch {
        continue;
      }
      if (msg.response) {
        const p = this.pending.get(String(msg.token));
        if (p) {
          this.pending.delete(String(msg.token));
          p.resolve(msg);
        }
      } else if (msg.event) {
        msg.at = Date.now();
        this.events.push(msg);
        this.emit('event', msg);
      }
    }
  }

  /** Send a command; resolves with the response object ({ ok, data, token }). */
  command(command, params, timeoutMs = 5000) {
    if (!this.sock || this.sock.destroyed) return Promise.reject(new Error('ctrl_tcp not connected'));
    const token = String(++this.seq);
    const req = { command, token };
    if (params !== undefined && params !== null) req.params = String(params);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`ctrl_tcp: no response to ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, {
        resolve: (m) => (clearTimeout(t), resolve(m)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.sock.write(netstring(req));
    });
  }

  /**
   * Resolve with the first not-yet-consumed event matching `type` (string or
   * predicate), including events that arrived before this call (a hangup's
   * CALL_CLOSED often beats the command response). Each event satisfies one
   * waitEvent only. `since` (an index into this.events) narrows the look-back.
   */
  waitEvent(type, timeoutMs = 10000, since = 0) {
    const match = typeof type === 'function' ? type : (e) => e.type === type;
    const take = (e) => {
      e.consumed = true;
      return e;
    };
    const seen = this.events.slice(since).find((e) => !e.consumed && match(e));
    if (seen) return Promise.resolve(take(seen));
    return new Promise((resolve, reject) => {
      const on = (e) => {
        if (e.consumed || !match(e)) return;
        clearTimeout(t);
        this.off('event', on);
        resolve(take(e));
      };
      const t = setTimeout(() => {
        this.off('event', on);
        const got = this.events.map((e) => e.type).join(',') || 'none';
        const what = typeof type === 'string' ? type : 'matching';
        reject(new Error(`ctrl_tcp ${this.port}: no ${what} event in ${timeoutMs} ms (events: ${got})`));
      }, timeoutMs);
      this.on('event', on);
    });
  }

  close() {
    if (this.sock) this.sock.destroy();
  }
}

module.exports = { CtrlClient, netstring };
