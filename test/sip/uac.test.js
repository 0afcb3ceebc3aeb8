'use strict';
// srf.createUAC against sipp callees: in-dialog requests, destroy, CANCEL,
// 3xx/4xx finals, and srf.request (OPTIONS) outside a dialog.
const test = require('node:test');
const assert = require('node:assert');
const { setup, freePort, sipp, scenario, delay, SDP } = require('./helpers');

function setupT(t, transport) {
  return setup(t, { listen: [{ transport, address: '127.0.0.1', port: 0 }] });
}

function callee(transport, scen, port, extra = []) {
  return sipp(['-sf', scenario(scen), '-i', '127.0.0.1', '-p', String(port), '-t', transport === 'udp' ? 'u1' : 't1',
    '-m', '1', '-timeout', '20s', ...extra]);
}

for (const transport of ['udp', 'tcp']) {
  const tp = transport === 'udp' ? '' : ';transport=tcp';

  test(`createUAC + modify/INFO/REFER/NOTIFY + destroy over ${transport}`, async (t) => {
    const { srf } = await setupT(t, transport);
    const port = await freePort();
    const peer = callee(transport, 'uas-indialog.xml', port);
    await delay(300);
    const provisional = [];
    const dlg = await srf.createUAC(`sip:callee@127.0.0.1:${port}${tp}`, { localSdp: SDP(41000) },
      { cbProvisional: (res) => provisional.push(res.status) });
    assert.deepStrictEqual(provisional, [180]);
    assert.match(dlg.remote.sdp, /m=audio 30000/);
    assert.match(dlg.id, /;from-tag=/);
    const sdp2 = await dlg.modify(SDP(41002));
    assert.match(sdp2, /m=audio 30002/);
    const info = await dlg.request({ method: 'INFO', headers: { 'Content-Type': 'application/dtmf-relay' }, body: 'Signal=5\r\nDuration=160\r\n' });
    assert.strictEqual(info.status, 200);
    const refer = await dlg.request({ method: 'REFER', headers: { 'Refer-To': '<sip:carol@127.0.0.1>' } });
    assert.strictEqual(refer.status, 202);
    const notify = await dlg.request({ method: 'NOTIFY', headers: { Event: 'refer', 'Subscription-State': 'terminated;reason=noresource', 'Content-Type': 'message/sipfrag' }, body: 'SIP/2.0 200 OK\r\n' });
    assert.strictEqual(notify.status, 200);
    await dlg.destroy();
    const r = await peer;
    assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
    // The wire: the re-INVITE and BYE went to the Contact with the dialog's tags and rising CSeq.
    assert.match(r.messages, /INVITE sip:callee@127\.0\.0\.1:\d+;transport=\w+ SIP\/2\.0[\s\S]*CSeq: \d+ INVITE/);
    assert.match(r.messages, /INFO sip:callee@[\s\S]*Signal=5/);
    assert.match(r.messages, /Refer-To: <sip:carol@127\.0\.0\.1>/);
    assert.match(r.messages, /BYE sip:callee@/);
    const cseqs = [...r.messages.matchAll(/^CSeq: (\d+) (INVITE|INFO|REFER|NOTIFY|BYE)\r?$/gm)].map((m) => Number(m[1]));
    assert.ok(cseqs.length >= 6);
  });

  test(`createUAC CANCEL of a ringing call over ${transport}`, async (t) => {
    const { srf } = await setupT(t, transport);
    const port = await freePort();
    const peer = callee(transport, 'uas-cancel.xml', port);
    await delay(300);
    let inviteReq;
    const p = srf.createUAC(`sip:callee@127.0.0.1:${port}${tp}`, { localSdp: SDP(41000) }, {
      cbRequest: (err, req) => { inviteReq = req; },
      cbProvisional: (res) => { if (res.status === 180) inviteReq.cancel(); },
    });
    await assert.rejects(p, (err) => err.status === 487);
    const r = await peer;
    assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
    assert.match(r.messages, /CANCEL sip:callee@[\s\S]*CSeq: \d+ CANCEL/);
    assert.match(r.messages, /ACK sip:callee@[\s\S]*CSeq: \d+ ACK/);
  });

  for (const status of [486, 302]) {
    test(`createUAC gets ${status} over ${transport} and the engine ACKs it`, async (t) => {
      const { srf } = await setupT(t, transport);
      const port = await freePort();
      const peer = callee(transport, `uas-${status}.xml`, port);
      await delay(300);
      await assert.rejects(srf.createUAC(`sip:callee@127.0.0.1:${port}${tp}`, { localSdp: SDP(41000) }),
        (err) => err.status === status);
      const r = await peer;
      assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
      assert.match(r.messages, /ACK sip:callee@127\.0\.0\.1:\d+/);
    });
  }

  test(`srf.request OPTIONS outside a dialog over ${transport}`, async (t) => {
    const { srf } = await setupT(t, transport);
    const port = await freePort();
    const peer = callee(transport, 'uas-options.xml', port);
    await delay(300);
    const res = await new Promise((resolve, reject) => {
      srf.request(`sip:probe@127.0.0.1:${port}${tp}`, { method: 'OPTIONS', headers: { 'X-Probe': 'yes' } }, (err, req) => {
        if (err) return reject(err);
        req.on('response', resolve);
      });
    });
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.get('X-Sipp'), 'options-ok');
    const r = await peer;
    assert.strictEqual(r.code, 0, `sipp failed: ${r.errors}\n${r.messages}`);
    assert.match(r.messages, /OPTIONS sip:probe@127\.0\.0\.1:\d+(;transport=tcp)? SIP\/2\.0/);
    assert.match(r.messages, /X-Probe: yes/);
    assert.match(r.messages, /Max-Forwards: 70/);
  });
}
