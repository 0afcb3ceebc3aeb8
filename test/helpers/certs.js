'use strict';
// Self-signed P-256 certificates made with the openssl CLI (an independent
// implementation): TLS/WSS listeners, DTLS peers (s_client), baresip.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

/**
 * Writes `${name}-cert.pem` and `${name}-key.pem` into `dir` (CN `cn`, with
 * an IP subjectAltName when `cn` is an IPv4 address) and returns
 * { cert, key, fingerprint } (fingerprint: SHA-256, upper-case hex with colons).
 */
function selfSignedCert(dir, { cn = '127.0.0.1', name = 'self' } = {}) {
  const cert = path.join(dir, `${name}-cert.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  const san = /^\d+\.\d+\.\d+\.\d+$/.test(cn) ? ['-addext', `subjectAltName=IP:${cn}`] : [];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`, ...san], { stdio: 'ignore' });
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', cert], { encoding: 'utf8' });
  return { cert, key, fingerprint: /Fingerprint=(\S+)/.exec(out)[1] };
}

module.exports = { selfSignedCert };
