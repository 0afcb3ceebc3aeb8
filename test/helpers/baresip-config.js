'use strict';
// Builds one baresip instance's config directory from test/fixtures/baresip/*.tmpl.
const fs = require('node:fs');
const path = require('node:path');
const { selfSignedCert } = require('./certs');
const { writeToneWav } = require('./wav');

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'baresip');

function fill(tmpl, vars) {
  return tmpl.replace(/\{\{(\w+)\}\}/g, (_, k) => {
    if (!(k in vars)) throw new Error(`template variable ${k} missing`);
    return String(vars[k]);
  });
}

/** sndfile's file-name timestamp (%H in "dump-%H-enc.wav"), local time; we run baresip with TZ=UTC. */
function sndfileStamp(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())}-${p(date.getUTCHours())}-${p(
    date.getUTCMinutes(),
  )}-${p(date.getUTCSeconds())}`;
}

/**
 * baresip 1.0 pitfall: after a hold re-INVITE the receive filter chain is
 * flushed but only rebuilt when the *transmit* chain is empty too. If sndfile
 * cannot open its "-enc" (sent audio) dump, the transmit chain stays empty,
 * so every media update opens a fresh "-dec" (heard) file. We make every
 * "-enc" name of the instance's lifetime unopenable by pre-creating a
 * directory of that name. Costs: no sent-audio dump, one warning per update.
 */
function blockEncDumps(recDir, lifetimeSec) {
  const t0 = Date.now() - 5000;
  for (let s = 0; s <= lifetimeSec + 10; s++) {
    fs.mkdirSync(path.join(recDir, `dump-${sndfileStamp(new Date(t0 + s * 1000))}-enc.wav`), { recursive: true });
  }
}

/** Self-signed cert+key in one PEM, as baresip's sip_certificate wants. */
function makeCert(dir, cn) {
  const { cert, key } = selfSignedCert(dir, { cn, name: 'sip' });
  const pem = path.join(dir, 'sip-cert.pem');
  fs.writeFileSync(pem, fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8'));
  return pem;
}

/**
 * Write config, accounts and the tone file into `dir`. Returns paths.
 * o: { name, sipPort, rtpPorts:[lo,hi], ctrlPort, toneHz, toneAmplitude,
 *      audioFile, mediaenc, transport, outboundProxy, answerMode, codecs,
 *      accountParams, extraConfig, holdSafeRecording, lifetimeSec }
 */
function writeBaresipDir(dir, o) {
  const recDir = path.join(dir, 'rec');
  fs.mkdirSync(recDir, { recursive: true });
  let audioFile = o.audioFile;
  if (!audioFile) {
    // aufile ends the call at end of file: the tone must outlive the instance.
    audioFile = writeToneWav(path.join(dir, `tone-${o.toneHz}.wav`), {
      freq: o.toneHz,
      seconds: o.lifetimeSec + 10,
      amplitude: o.toneAmplitude,
    });
  }
  const tls = o.transport === 'tls';
  let accountParams = '';
  if (o.mediaenc) accountParams += `;mediaenc=${o.mediaenc}`;
  if (o.outboundProxy) {
    const ob = o.outboundProxy.startsWith('sip') ? o.outboundProxy : `sip:${o.outboundProxy}`;
    accountParams += `;outbound="${ob}${tls && !/transport=/.test(ob) ? ';transport=tls' : ''}"`;
  }
  if (o.accountParams) accountParams += o.accountParams.startsWith(';') ? o.accountParams : `;${o.accountParams}`;
  let extra = o.extraConfig || '';
  if (extra && typeof extra === 'object') extra = Object.entries(extra).map(([k, v]) => `${k}\t\t${v}`).join('\n');
  const vars = {
    DIR: dir,
    REC_DIR: recDir,
    SIP_PORT: o.sipPort,
    SIP_CERTIFICATE: tls ? `sip_certificate\t\t${makeCert(dir, o.name)}` : '',
    AUDIO_FILE: audioFile,
    RTP_LO: o.rtpPorts[0],
    RTP_HI: o.rtpPorts[1],
    CTRL_PORT: o.ctrlPort,
    EXTRA: extra,
    USER: o.name,
    URI_PARAMS: tls ? ';transport=tls' : '',
    ANSWER_MODE: o.answerMode,
    CODECS: o.codecs,
    ACCOUNT_PARAMS: accountParams,
  };
  fs.writeFileSync(path.join(dir, 'config'), fill(fs.readFileSync(path.join(FIXTURES, 'config.tmpl'), 'utf8'), vars));
  const acc = fill(fs.readFileSync(path.join(FIXTURES, 'accounts.tmpl'), 'utf8'), vars);
  fs.writeFileSync(path.join(dir, 'accounts'), acc.split('\n').filter((l) => !l.startsWith('#')).join('\n'));
  if (o.holdSafeRecording) blockEncDumps(recDir, o.lifetimeSec);
  return { recDir, audioFile };
}

module.exports = { writeBaresipDir, sndfileStamp, makeCert };
