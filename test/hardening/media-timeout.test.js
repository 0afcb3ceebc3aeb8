'use strict';
// Media timeout through the running SBC: sipp caller -> SBC -> sipp callee,
// both stream RTP for 1 s and then go silent. With media.mediaTimeoutSecs 2
// the SBC releases the call with a BYE to both legs carrying a Reason, no
// sooner than 2 s after the media stopped, and frees the ports.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../helpers/b2bua');
const { writeToneUlawWav } = require('../helpers/wav');

/** Caller: INVITE, ACK, streams {{TONE_FILE}} once, then waits for the BYE. */
const UAC = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac-stream-then-wait-bye">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: caller <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=alice 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=ptime:20
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: caller <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop><action><exec rtp_stream="{{TONE_FILE}},1,0"/></action></nop>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="300"/>
</scenario>
`;

/** sipp's trace time ("YYYY-MM-DD hh:mm:ss.uuuuuu") in ms. */
const timeOf = (m) => Date.parse(m.time.replace(' ', 'T').replace(/(\.\d{3})\d*$/, '$1'));

test('a call whose media stops is released after the media timeout with BYE and Reason on both legs', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-media-timeout-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tone = writeToneUlawWav(path.join(dir, 'tone.wav'), { freq: 440, seconds: 1 });
  const uac = path.join(dir, 'uac-stream-then-wait-bye.xml');
  fs.writeFileSync(uac, UAC);
  const r = await h.sippCall(t, {
    inRealm: { security: 'rtp' },
    outRealm: { security: 'rtp' },
    media: { portMin: 51500, portMax: 51599, mediaTimeoutSecs: 2 },
    uac: [uac, { TONE_FILE: tone }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp({ codecs: '0' })), RTP: `<nop><action><exec rtp_stream="${tone},1,0"/></action></nop>` }],
  });
  // Media flowed both ways before the silence.
  const latched = r.events.filter((e) => e.type === 'media-latched').map((e) => e.side).sort();
  assert.deepEqual(latched, ['a', 'b'], 'both legs sent media');
  assert.ok(r.events.some((e) => e.type === 'media-timeout'), 'the engine reported the timeout');

  const byeToCaller = h.findMessage(r.a.messages, { sent: false, first: /^BYE / });
  const byeToCallee = h.findMessage(r.b.messages, { sent: false, first: /^BYE / });
  const reasons = [h.reasonOf(byeToCaller, 'BYE to the caller'), h.reasonOf(byeToCallee, 'BYE to the callee')];
  for (const reason of reasons) assert.match(reason.text, /^media timeout on (caller|callee) leg$/);
  assert.equal(reasons[0].text, reasons[1].text, 'one cause for both legs');

  // Not before the media stopped (1 s after the ACK) plus the 2 s timeout;
  // the engine checks once a second.
  const ack = h.findMessage(r.a.messages, { sent: true, first: /^ACK / });
  const after = timeOf(byeToCaller) - timeOf(ack);
  assert.ok(after >= 2800 && after <= 6000, `BYE ${after} ms after the ACK`);
  t.diagnostic(`BYE ${after} ms after the ACK: ${reasons[0].text}`);
});
