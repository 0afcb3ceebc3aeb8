'use strict';
// Request bodies (ts/b2bua/body.ts): plain SDP, the SDP part of a carrier's
// multipart/mixed (SIP-I: SDP + ISUP), and 415 with Accept for anything else
// (including a body of hundreds of nested multiparts).
const test = require('node:test');
const assert = require('node:assert');
const { sdpOfBody, CallRejection } = require('../../dist');
const h = require('../helpers/b2bua');

const SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
const ISUP = Buffer.from([0x01, 0x00, 0x49, 0x00, 0x00, 0x03, 0x02, 0x00, 0x07]).toString('latin1');
const sipI = (boundary = 'unique-boundary-1', isup = ISUP) =>
  [`--${boundary}`, 'Content-Type: application/sdp', '', SDP.replace(/\r\n$/, ''), `--${boundary}`, 'Content-Type: application/ISUP;version=itu-t92+', 'Content-Disposition: signal;handling=optional', '', isup, `--${boundary}--`, ''].join('\r\n');

const rejects = (fn, status, text) =>
  assert.throws(fn, (e) => e instanceof CallRejection && e.status === status && text.test(e.reason) && e.headers.Accept === 'application/sdp');

test('application/sdp (or no Content-Type) is the SDP itself', () => {
  assert.equal(sdpOfBody('application/sdp', SDP), SDP);
  assert.equal(sdpOfBody('Application/SDP; charset=utf-8', SDP), SDP);
  assert.equal(sdpOfBody(undefined, SDP), SDP);
});

test('multipart/mixed (SIP-I): the application/sdp part, quoted or bare boundary', () => {
  assert.equal(sdpOfBody('multipart/mixed;boundary=unique-boundary-1', sipI()), SDP.replace(/\r\n$/, ''));
  assert.equal(sdpOfBody('multipart/mixed; boundary="b 2"', sipI('b 2')), SDP.replace(/\r\n$/, ''));
});

test('no SDP part, other body types, deep nesting: 415 with Accept: application/sdp', () => {
  rejects(() => sdpOfBody('multipart/mixed;boundary=x', '--x\r\nContent-Type: application/isup\r\n\r\nabc\r\n--x--\r\n'), 415, /no application\/sdp part in the multipart\/mixed body/);
  rejects(() => sdpOfBody('application/isup', ISUP), 415, /unsupported body type application\/isup/);
  let nested = SDP;
  let ct = 'application/sdp';
  for (let d = 0; d < 200; d++) {
    nested = `--b${d}\r\nContent-Type: ${ct}\r\n\r\n${nested}\r\n--b${d}--\r\n`;
    ct = `multipart/mixed;boundary=b${d}`;
  }
  rejects(() => sdpOfBody(ct, nested), 415, /no application\/sdp part/);
});

test('a SIP-I INVITE (multipart/mixed SDP + ISUP) through the SBC: the callee gets plain SDP, the call completes', async (t) => {
  const boundary = 'unique-boundary-1';
  // sipp's XML cannot carry ISUP's binary octets: a printable stand-in.
  const body = sipI(boundary, 'ISUP-IAM-0100490000030200');
  const r = await h.sippCall(t, {
    inRealm: { security: 'rtp' },
    outRealm: { security: 'rtp' },
    media: { portMin: 57400, portMax: 57499 },
    uac: ['uac-bye', { SDP: body, CONTENT_TYPE: `multipart/mixed;boundary=${boundary}`, TALK_MS: 200 }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp()), RTP: '' }],
  });
  assert.equal(h.header(r.offerToCallee, 'Content-Type'), 'application/sdp');
  assert.match(r.offerToCallee.text, /^m=audio \d+ RTP\/AVP 0/m);
  assert.doesNotMatch(r.offerToCallee.text, /ISUP|boundary/);
});
