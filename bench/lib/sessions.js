'use strict';
// Shared by the set-up drivers: where the generator's endpoint of each leg
// lives. A few sockets on 127.0.0.2 carry all legs (so the generator can
// batch), spread so both legs of a call land on different sockets.
function generatorLocals(count, basePort = 40000) {
  return Array.from({ length: count }, (_, i) => `127.0.0.2:${basePort + i}`);
}

function localFor(locals, call, leg) {
  return locals[(3 * call + leg) % locals.length];
}

/** Master key + salt bytes of an SDES suite. */
function keyLen(suite) {
  return { AES_CM_128_HMAC_SHA1_80: 30, AES_CM_128_HMAC_SHA1_32: 30, AEAD_AES_128_GCM: 28, AEAD_AES_256_GCM: 44 }[suite];
}

module.exports = { generatorLocals, localFor, keyLen };
