'use strict';
// srf.createUAS against a sipp caller, over UDP and TCP.
const test = require('node:test');
const assert = require('node:assert');
const { setup, freePort, sipp, scenario, once, SDP } = require('./helpers');

for (const transport of ['udp', 'tcp']) {
  test(`createUAS answers a sipp caller over ${transport}, BYE from caller destroys the dialog`, async (t) => {
    const { engine, srf } = await setup(t, { listen: [{ transport, address: '127.0.0.1', port: 0 }] });
    const seen = {};
    srf.invite(async (req, res) => {
      seen.invite = req;
      const dlg = await srf.createUAS(req, res, { localSdp: SDP(40000) });
      seen.dialog = dlg;
      dlg.on('destroy', (bye) => { seen.bye = bye; });
    });
    const sp = await freePort();
    const r = await sipp([`127.0.0.1:${engine.port(transport)}`, '-sf', scenario('uac-basic.xml'), '-i', '127.0.0.1',
      '-p', String(sp), '-t', transport === 'udp' ? 'u1' : 't1', '-m', '1', '-timeout', '15s']);
    assert.strictEqual(r.code, 0, `sipp failed: ${r.stderr}\n${r.errors}\n${r.messages}`);
    assert.ok(seen.invite, 'app saw the INVITE');
    assert.strictEqual(seen.invite.protocol, transport);
    assert.ok(seen.dialog, 'dialog created');
    assert.match(seen.dialog.id, /;from-tag=\d+SIPpTag00/);
    assert.ok(seen.bye, 'dialog destroyed by BYE');
    // On the wire: a 100 Trying, then a 200 with our SDP and a To tag.
    assert.match(r.messages, /SIP\/2\.0 100 Trying/);
    assert.match(r.messages, /SIP\/2\.0 200 OK[\s\S]*m=audio 40000 RTP\/AVP 0/);
    assert.match(r.messages, /To: <sip:service@[^>]+>;tag=/);
  });
}
