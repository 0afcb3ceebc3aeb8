'use strict';
// The addon must run on the OpenSSL and libsrtp it was built with, linked
// statically: Node exports its own OpenSSL symbols, and a dynamically linked
// libssl would silently bind to Node's copy.
const test = require('node:test');
const assert = require('node:assert');
const { MediaEngine } = require('../../dist');

test('linked OpenSSL and libsrtp are the ones the addon was built from', () => {
  const v = MediaEngine.versions();
  assert.equal(v.opensslRuntimeNumber, v.opensslBuilt, 'runtime OpenSSL number equals the build headers');
  const n = parseInt(v.opensslBuilt, 16);
  const [major, minor, patch] = [(n >>> 28) & 0xf, (n >>> 20) & 0xff, (n >>> 4) & 0xff];
  assert.match(v.openssl, new RegExp(`^OpenSSL ${major}\\.${minor}\\.${patch}\\b`));
  assert.notEqual(v.openssl.split(' ')[1], process.versions.openssl, 'not Node\'s own OpenSSL');
  assert.notEqual(v.libsrtpBuilt, 'unknown');
  assert.equal(v.libsrtp, `libsrtp2 ${v.libsrtpBuilt}`);
  // libsrtp accepted the faster AES-ICM/HMAC-SHA1 plug-ins (it runs their
  // test vectors first); the fallback would be libsrtp's built-in binding.
  assert.match(v.srtpCrypto, /esbc plug-ins/);
});

test('the addon does not import OpenSSL or libsrtp symbols from the process', () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { execFileSync } = require('node:child_process');
  const dir = path.join(__dirname, '..', '..', 'native', 'node');
  const addon = fs.readdirSync(dir).find((f) => f.endsWith('.node'));
  const undefinedSyms = execFileSync('nm', ['-D', '--undefined-only', path.join(dir, addon)], { encoding: 'utf8' });
  const leaks = undefinedSyms.split('\n').filter((l) => /\b(SSL_|EVP_|srtp_|OPENSSL_|OpenSSL_|X509_)\w*/.test(l));
  assert.deepEqual(leaks, [], 'every OpenSSL/libsrtp symbol resolves inside the addon');
  const ldd = execFileSync('ldd', [path.join(dir, addon)], { encoding: 'utf8' });
  assert.doesNotMatch(ldd, /libssl|libcrypto|libsrtp/);
});
