'use strict';
// srf.createB2BUA: sipp caller -> engine + app -> sipp callee (built-in uas),
// BYE from the caller is carried to the callee by the app.
const test = require('node:test');
const assert = require('node:assert');
const { setup, freePort, sipp, scenario, delay } = require('./helpers');

for (const transport of ['udp', 'tcp']) {
  test(`createB2BUA bridges two sipp legs over ${transport}`, async (t) => {
    const { engine, srf } = await setup(t, { listen: [{ transport, address: '127.0.0.1', port: 0 }] });
    const calleePort = await freePort();
    const mode = transport === 'udp' ? 'u1' : 't1';
    const tp = transport === 'udp' ? '' : ';transport=tcp';
    const callee = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(calleePort), '-t', mode, '-m', '1', '-timeout', '20s']);
    await delay(300);
    const result = {};
    srf.invite(async (req, res) => {
      try {
        const { uas, uac } = await srf.createB2BUA(req, res, `sip:callee@127.0.0.1:${calleePort}${tp}`, { localSdpB: req.body });
        result.bridged = true;
        uas.on('destroy', () => { result.byeFromA = true; uac.destroy(); });
        uac.on('destroy', () => { result.byeFromB = true; uas.destroy(); });
      } catch (err) {
        result.err = err;
      }
    });
    const callerPort = await freePort();
    const caller = await sipp([`127.0.0.1:${engine.port(transport)}`, '-sf', scenario('uac-basic.xml'), '-i', '127.0.0.1',
      '-p', String(callerPort), '-t', mode, '-m', '1', '-timeout', '20s']);
    const b = await callee;
    assert.strictEqual(caller.code, 0, `caller sipp failed: ${caller.errors}\n${caller.messages}`);
    assert.strictEqual(b.code, 0, `callee sipp failed: ${b.errors}\n${b.messages}`);
    assert.ifError(result.err);
    assert.ok(result.bridged);
    assert.ok(result.byeFromA);
    // The callee saw the caller's SDP (carried by the app) and then a BYE.
    assert.match(b.messages, /INVITE sip:callee@[\s\S]*o=user1 53655765 2353687637/);
    assert.match(b.messages, /BYE sip:/);
  });
}
