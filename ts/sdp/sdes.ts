/** SDES (RFC 4568) a=crypto parsing, formatting and key generation. */
import { randomBytes } from 'node:crypto';

import type { SdesKey, SdesSuite } from '../media/types';
import type { LocalSdesKey, SdesCrypto } from './types';

/** Default suites in preference order. */
export const SDES_SUITES: readonly SdesSuite[] = [
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'AEAD_AES_128_GCM',
  'AEAD_AES_256_GCM',
];

/** Master key + salt lengths in bytes (RFC 4568 6.2, RFC 7714 12). */
export const SDES_KEY_BYTES: Readonly<Record<SdesSuite, number>> = {
  AES_CM_128_HMAC_SHA1_80: 16 + 14,
  AES_CM_128_HMAC_SHA1_32: 16 + 14,
  AEAD_AES_128_GCM: 16 + 12,
  AEAD_AES_256_GCM: 32 + 12,
};

export function isSdesSuite(s: string): s is SdesSuite {
  return Object.prototype.hasOwnProperty.call(SDES_KEY_BYTES, s);
}

/** Session parameters that do not change the keys or the protection (accepted and ignored). */
const HARMLESS_PARAMS = /^(WSH=\d+|FEC_ORDER=FEC_SRTP|KDR=0)$/i;

/**
 * Parses one a=crypto line's parts. Lifetime is ignored; MKI, several
 * key-params, bad key lengths and unsupported session parameters are
 * recorded as `problem` (the line is then unusable, not a parse error).
 */
export function parseCrypto(tag: number, suiteRaw: string, keyParams: string, sessionParams = ''): SdesCrypto {
  const suite = suiteRaw.toUpperCase();
  const params = keyParams.split(';').filter((p) => p.length > 0);
  const first = params[0] ?? '';
  const m = /^inline:([^|]*)((?:\|[^|]*)*)$/i.exec(first);
  const key = m?.[1] ?? '';
  const out: SdesCrypto = { tag, suite, key };
  const fail = (problem: string): SdesCrypto => ({ ...out, problem });
  if (!isSdesSuite(suite)) return fail(`unsupported suite ${suiteRaw}`);
  if (!m) return fail('key-params is not inline:');
  if (params.length > 1) return fail('several keys (key-params) not supported');
  const extras = (m[2] ?? '').split('|').slice(1);
  if (extras.some((x) => x.includes(':'))) return fail('MKI not supported');
  const bad = sessionParams.split(/\s+/).filter((p) => p.length > 0 && !HARMLESS_PARAMS.test(p));
  if (bad.length > 0) return fail(`session parameter ${bad.join(' ')} not supported`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length !== SDES_KEY_BYTES[suite]) {
    return fail(`key length wrong for ${suite}`);
  }
  return out;
}

/** A fresh key for `suite` (crypto.randomBytes of key+salt length, base64). */
export function generateSdesKey(suite: SdesSuite, tag: number): LocalSdesKey {
  return { suite, tag, key: randomBytes(SDES_KEY_BYTES[suite]).toString('base64') };
}

/** One key per suite, tags 1..n, in the given order. */
export function generateSdesKeys(suites: readonly SdesSuite[] = SDES_SUITES): LocalSdesKey[] {
  return suites.map((s, i) => generateSdesKey(s, i + 1));
}

export function formatCrypto(k: LocalSdesKey): string {
  return `a=crypto:${k.tag} ${k.suite} inline:${k.key}`;
}

export function toSdesKey(c: SdesCrypto): SdesKey {
  if (!isSdesSuite(c.suite)) throw new Error(`not an SDES suite: ${c.suite}`);
  return { suite: c.suite, key: c.key };
}
