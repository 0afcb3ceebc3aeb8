'use strict';
// End-to-end checks, with sipp as the real peer, of what STATUS.md listed as
// unit-tested only: RFC 3262 reliable provisionals in both directions,
// RFC 4028 session timers (refresh by the engine, BYE at expiry) and the
// drachtio CDR events (cdr:attempt/start/stop only to apps that routed them).
const test = require('node:test');
const assert = require('node:assert');
const dgram = require('node:dgram');
const { setup, startEngine, connectSrf, closeSrf, freePort, sipp, scenario, delay, SDP } = require('./helpers');
const { parseMessageLog } = require('../helpers/sipp');

/** sipp -trace_msg log -> [{sent, firstLine, text, at (ms since epoch)}]. */
function wire(r) {
  return parseMessageLog(r.messages).map((m) => ({ ...m, at: Date.parse(m.time.replace(' ', 'T')) }));
}
const hdr = (text, name) => (new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(text) || [])[1];

function caller(scen, enginePort, extra = []) {
  return sipp(['-sf', scenario(scen), '-i', '127.0.0.1', '-p', '0', '-t', 'u1', '-m', '1',
    '-timeout', '25s', ...extra, `127.0.0.1:${enginePort}`]);
}

test('RFC 3262 UAS: reliable 183 gets RSeq, is retransmitted until PRACK, the app sees the PRACK, call completes', async (t) => {
  // Small T1 so the 183 is retransmitted several times during sipp's 1 s pause.
  const { engine, srf } = await setup(t, { timers: { t1Ms: 100, t2Ms: 400, t4Ms: 500 } });
  const events = [];
  const cdrs = [];
  for (const ev of ['start', 'stop']) srf.on(`cdr:${ev}`, (source, time, extra) => cdrs.push(`${ev} ${source} ${extra}`));
  let prackAt = 0;
  const done = new Promise((resolve, reject) => {
    srf.invite((req, res) => {
      res.send(183, { headers: { Require: '100rel' }, body: SDP(40000) }, (err, msg) => {
        if (err) return reject(err);
        events.push(`183 sent RSeq=${msg.get('RSeq')}`);
      }, (prack) => {
        prackAt = Date.now();
        events.push(`PRACK RAck=${prack.get('RAck')}`);
        // Let srf answer the PRACK (200) before the 200 to the INVITE.
        setTimeout(async () => {
          try {
            const dlg = await srf.createUAS(req, res, { localSdp: SDP(40000) });
            events.push('answered');
            dlg.on('destroy', () => { events.push('BYE'); resolve(); });
          } catch (e) { reject(e); }
        }, 100);
      });
    });
  });
  const r = await caller('uac-100rel.xml', engine.port('udp'));
  await Promise.race([done, delay(3000).then(() => { throw new Error(`app never saw the BYE: ${events}`); })]);
  assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
  assert.deepStrictEqual(events, ['183 sent RSeq=1', 'PRACK RAck=1 1 INVITE', 'answered', 'BYE']);
  const msgs = wire(r);
  const got183 = msgs.filter((m) => !m.sent && /^SIP\/2\.0 183/.test(m.firstLine));
  const prack = msgs.find((m) => m.sent && /^PRACK /.test(m.firstLine));
  assert.ok(prack, 'sipp sent PRACK');
  for (const m of got183) {
    assert.strictEqual(hdr(m.text, 'RSeq'), '1');
    assert.match(hdr(m.text, 'Require'), /100rel/);
    assert.match(hdr(m.text, 'To'), /;tag=/);
    assert.match(hdr(m.text, 'Contact') || '', /sip:/, 'a reliable 1xx creates an early dialog: Contact needed');
  }
  // T1=100 ms: resent at ~100, 300, 700 ms within sipp's 1 s pause; nothing after the PRACK.
  const before = got183.filter((m) => m.at <= prack.at);
  const after = got183.filter((m) => m.at > prack.at + 50);
  assert.ok(before.length >= 3, `183 received ${before.length} times before the PRACK`);
  assert.strictEqual(after.length, 0, `183 retransmitted after the PRACK: ${after.length}`);
  assert.ok(prackAt > 0);
  const ok = msgs.filter((m) => !m.sent && /^SIP\/2\.0 200/.test(m.firstLine)).map((m) => hdr(m.text, 'CSeq'));
  assert.deepStrictEqual(ok.slice(0, 2), ['2 PRACK', '1 INVITE']);
  // The 200 after a reliable 183 (early dialog already there) still starts the CDR.
  await delay(200);
  assert.deepStrictEqual(cdrs, ['start application uas', 'stop network normal-release']);
});

test('RFC 3262 UAC: reliable 180 from sipp is PRACKed through the early dialog with the right RAck', async (t) => {
  const { srf } = await setup(t);
  const cdrs = [];
  for (const ev of ['start', 'stop']) srf.on(`cdr:${ev}`, (source, time, extra) => cdrs.push(`${ev} ${source} ${extra}`));
  const port = await freePort();
  const peer = sipp(['-sf', scenario('uas-100rel.xml'), '-i', '127.0.0.1', '-p', String(port), '-t', 'u1',
    '-m', '1', '-timeout', '20s']);
  await delay(300);
  const provisional = [];
  const dlg = await srf.createUAC(`sip:callee@127.0.0.1:${port}`, { localSdp: SDP(41000), headers: { Supported: '100rel' } },
    { cbProvisional: (res) => provisional.push(`${res.status} RSeq=${res.get('RSeq')}`) });
  assert.deepStrictEqual(provisional, ['180 RSeq=1']);
  assert.match(dlg.remote.sdp, /m=audio 30000/);
  await dlg.destroy();
  const r = await peer;
  assert.deepStrictEqual(cdrs, ['start network uac', 'stop application normal-release']);
  assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
  const msgs = wire(r);
  const invite = msgs.find((m) => !m.sent && /^INVITE /.test(m.firstLine));
  const prack = msgs.find((m) => !m.sent && /^PRACK /.test(m.firstLine));
  const ringing = msgs.find((m) => m.sent && /^SIP\/2\.0 180/.test(m.firstLine));
  assert.ok(invite && prack && ringing, r.messages);
  const inviteCseq = Number(hdr(invite.text, 'CSeq').split(' ')[0]);
  assert.strictEqual(hdr(prack.text, 'RAck'), `1 ${inviteCseq} INVITE`);
  // In the early dialog: to the 180's Contact, the 180's To tag, a higher CSeq.
  assert.match(prack.firstLine, /^PRACK sip:callee@127\.0\.0\.1:\d+;transport=UDP SIP\/2\.0/i);
  assert.strictEqual(hdr(prack.text, 'To'), hdr(ringing.text, 'To'));
  assert.strictEqual(hdr(prack.text, 'From'), hdr(invite.text, 'From'));
  const [n, method] = hdr(prack.text, 'CSeq').split(' ');
  assert.strictEqual(method, 'PRACK');
  assert.ok(Number(n) > inviteCseq, `PRACK CSeq ${n} after INVITE ${inviteCseq}`);
  // Order on the wire: 180, PRACK, 200 (PRACK), 200 (INVITE), ACK, BYE.
  const order = msgs.map((m) => `${m.sent ? '>' : '<'}${m.firstLine.split(' ').slice(0, 2).join(' ')}`);
  assert.deepStrictEqual(order.filter((x) => !/100$/.test(x)),
    ['<INVITE sip:callee@127.0.0.1:' + port, '>SIP/2.0 180', '<PRACK ' + prack.firstLine.split(' ')[1], '>SIP/2.0 200', '>SIP/2.0 200', '<ACK ' + msgs.find((m) => /^ACK /.test(m.firstLine)).firstLine.split(' ')[1], '<BYE ' + msgs.find((m) => /^BYE /.test(m.firstLine)).firstLine.split(' ')[1], '>SIP/2.0 200']);
});

test('RFC 4028: the engine (refresher=uas) sends UPDATE refreshes at half the interval', async (t) => {
  const { engine, srf } = await setup(t, { sessionTimerMinSecs: 1 });
  let answeredAt = 0;
  const ended = new Promise((resolve) => {
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP(40000), headers: { 'Session-Expires': '4;refresher=uas', Require: 'timer' } });
      answeredAt = Date.now();
      dlg.on('destroy', (msg, reason) => resolve(reason));
    });
  });
  const r = await caller('uac-session-timer.xml', engine.port('udp'));
  assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
  assert.strictEqual(await ended, 'normal release');
  const msgs = wire(r);
  const ok = msgs.find((m) => !m.sent && /^SIP\/2\.0 200/.test(m.firstLine) && /INVITE/.test(hdr(m.text, 'CSeq')));
  const updates = msgs.filter((m) => !m.sent && /^UPDATE /.test(m.firstLine));
  const replies = msgs.filter((m) => m.sent && /^SIP\/2\.0 200/.test(m.firstLine) && /UPDATE/.test(hdr(m.text, 'CSeq')));
  assert.strictEqual(updates.length, 2);
  assert.ok(answeredAt > 0);
  // Half of 4 s after the 200, then half of 4 s after the refresh's 200.
  const gap1 = updates[0].at - ok.at;
  const gap2 = updates[1].at - replies[0].at;
  assert.ok(gap1 >= 1900 && gap1 <= 2600, `first refresh ${gap1} ms after the 200`);
  assert.ok(gap2 >= 1900 && gap2 <= 2600, `second refresh ${gap2} ms after the first one's 200`);
  for (const u of updates) {
    assert.strictEqual(hdr(u.text, 'Session-Expires'), '4;refresher=uac', 'RFC 4028 7.4: refresher is the role in the refresh transaction');
    assert.match(hdr(u.text, 'Supported'), /timer/);
    assert.match(hdr(u.text, 'To'), /;tag=/);
  }
  assert.ok(Number(hdr(updates[1].text, 'CSeq').split(' ')[0]) > Number(hdr(updates[0].text, 'CSeq').split(' ')[0]));
});

test('RFC 4028: refreshes stop (refresher=uac), the engine sends BYE at expiry and tells the app', async (t) => {
  const { engine, srf } = await setup(t, { sessionTimerMinSecs: 1 });
  const seen = [];
  const stops = [];
  srf.on('cdr:stop', (source, time, why) => stops.push(`${source} ${why}`));
  const ended = new Promise((resolve) => {
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP(40000), headers: { 'Session-Expires': '6;refresher=uac', Require: 'timer' } });
      // RFC 4028 9: the 2xx to a refresh carries the (possibly new) interval.
      dlg.on('update', (ureq, ures) => {
        seen.push(`UPDATE ${ureq.get('Session-Expires')}`);
        ures.send(200, { headers: { 'Session-Expires': ureq.get('Session-Expires'), Require: 'timer' } });
      });
      dlg.on('destroy', (msg, reason) => resolve({ msg, reason, at: Date.now() }));
    });
  });
  const r = await caller('uac-session-expire.xml', engine.port('udp'));
  assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
  const { msg, reason } = await ended;
  assert.deepStrictEqual(seen, ['UPDATE 6;refresher=uac']);
  assert.strictEqual(reason, 'Session timer expired');
  assert.strictEqual(msg.method, 'BYE');
  const msgs = wire(r);
  const okUpdate = msgs.find((m) => !m.sent && /^SIP\/2\.0 200/.test(m.firstLine) && /UPDATE/.test(hdr(m.text, 'CSeq')));
  const bye = msgs.find((m) => !m.sent && /^BYE /.test(m.firstLine));
  assert.ok(okUpdate && bye, r.messages);
  // Expiry = interval - min(32, interval/3) = 4 s after the last refresh
  // (not after the 200 to the INVITE: the refresh restarted the timer).
  const gap = bye.at - okUpdate.at;
  assert.ok(gap >= 3900 && gap <= 4700, `BYE ${gap} ms after the refresh`);
  assert.match(hdr(bye.text, 'Reason'), /^SIP;cause=408;text="Session timer expired"/);
  await delay(200);
  assert.deepStrictEqual(stops, ['application session-expired']);
});

/** A raw UDP INVITE, for a call the app rejects. */
async function rawInvite(enginePort, callId) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const body = SDP(42000);
  const inv = [
    `INVITE sip:svc@127.0.0.1:${enginePort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${callId}`,
    `From: <sip:raw@127.0.0.1:${port}>;tag=raw1`, `To: <sip:svc@127.0.0.1:${enginePort}>`,
    `Call-ID: ${callId}`, 'CSeq: 1 INVITE', `Contact: <sip:raw@127.0.0.1:${port}>`, 'Max-Forwards: 70',
    'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(body)}`, '', body,
  ].join('\r\n');
  const final = new Promise((resolve) => sock.on('message', (m) => {
    const text = m.toString();
    if (/^SIP\/2\.0 [2-6]\d\d/.test(text)) {
      const h = (n) => text.match(new RegExp(`^${n}: .*$`, 'mi'))[0];
      const ack = [`ACK sip:svc@127.0.0.1:${enginePort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${callId}`,
        h('From'), h('To'), h('Call-ID'), 'CSeq: 1 ACK', 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
      sock.send(ack, enginePort, '127.0.0.1');
      resolve(text);
    }
  }));
  sock.send(inv, enginePort, '127.0.0.1');
  const text = await final;
  sock.close();
  return text;
}

test('CDR events go only to apps that routed them: attempt/start/stop with source and reason', async (t) => {
  // srf (A) takes the calls and routes all three CDR verbs; B routes only
  // cdr:stop; C routes none. The raw control traffic of B and C is recorded.
  const engine = await startEngine();
  const apps = [];
  t.after(async () => { // every srf goes before the engine, or it reconnects forever
    apps.forEach(closeSrf);
    await engine.stop();
  });
  for (let i = 0; i < 3; i++) apps.push(await connectSrf(engine));
  const [srf, B, C] = apps;
  const raw = (s) => { const l = []; s._app.client.wp.on('msg', (_sock, m) => l.push(m)); return l; };
  const rawB = raw(B), rawC = raw(C);
  const cdrA = [], cdrB = [];
  for (const ev of ['attempt', 'start', 'stop']) {
    srf.on(`cdr:${ev}`, (...args) => cdrA.push({ ev, args }));
  }
  B.on('cdr:stop', (...args) => cdrB.push({ ev: 'stop', args }));
  srf.invite(async (req, res) => {
    if (req.get('Call-ID').startsWith('reject-')) return res.send(486);
    await srf.createUAS(req, res, { localSdp: SDP(40000) });
  });
  await delay(300); // route|cdr:* are acknowledged asynchronously

  const r = await caller('uac-basic.xml', engine.port('udp'));
  assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
  const rejected = await rawInvite(engine.port('udp'), 'reject-cdr-1');
  assert.match(rejected, /^SIP\/2\.0 486/);
  await delay(300);

  const summary = cdrA.map(({ ev, args }) => {
    const msg = args[args.length - 1];
    const what = msg.method || msg.status;
    return [ev, args[0], ev === 'attempt' ? '-' : args[2], what, msg.get('Call-ID').startsWith('reject-') ? 'rejected' : 'sipp'].join(' ');
  });
  assert.deepStrictEqual(summary, [
    'attempt network - INVITE sipp',
    'start application uas 200 sipp',
    'stop network normal-release BYE sipp',
    'attempt network - INVITE rejected',
    'stop application call-rejected 486 rejected',
  ]);
  for (const { args } of cdrA) {
    assert.match(args[1], /^\d\d:\d\d:\d\d\.\d{6}$/, `CDR time ${args[1]}`);
  }
  assert.deepStrictEqual(cdrB.map(({ args }) => `${args[0]} ${args[2]}`), ['network normal-release', 'application call-rejected']);
  assert.ok(!rawB.some((m) => /\|cdr:(attempt|start)\|/.test(m)), 'B got a CDR verb it did not route');
  assert.ok(!rawC.some((m) => /cdr:/.test(m)), 'C routed no CDR verb but got one');
  assert.strictEqual(rawB.filter((m) => /\|cdr:stop\|/.test(m)).length, 2, 'the sniffer sees CDR frames');
});
