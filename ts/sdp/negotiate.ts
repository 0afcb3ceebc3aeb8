/**
 * Offer/answer decisions per leg: validate a peer's offer against the realm
 * policy and decide how the SBC answers it (planAnswer), decide what the SBC
 * offers (planOffer), and check the peer's answer to that offer (applyAnswer).
 */
import type { DtlsRole, Fingerprint, HashName, SdesSuite } from '../media/types';
import { notAcceptable } from './errors';
import { answerIce, generateIceCredentials, midOf, validIceCredentials } from './ice';
import { generateSdesKey, generateSdesKeys, SDES_SUITES, toSdesKey } from './sdes';
import type {
  AnswerOptions,
  Codec,
  LegPlan,
  MediaSecurity,
  OfferOptions,
  ParsedMedia,
  ParsedSdp,
  SecurityPolicy,
} from './types';

/** Digest lengths in bytes; the order is weakest to strongest. */
const HASH_BYTES: ReadonlyArray<[HashName, number]> = [
  ['sha-1', 20], ['sha-224', 28], ['sha-256', 32], ['sha-384', 48], ['sha-512', 64],
];

/** Fingerprints with a supported hash and a value of the right length (hash normalised). */
export function usableFingerprints(fps: readonly Fingerprint[]): Fingerprint[] {
  const out: Fingerprint[] = [];
  for (const f of fps) {
    const h = HASH_BYTES.find(([name]) => name === f.hash.toLowerCase());
    if (h && f.value.split(':').length === h[1]) out.push({ hash: h[0], value: f.value.toUpperCase() });
  }
  return out;
}

function strongestHash(fps: readonly Fingerprint[]): HashName | undefined {
  let best = -1;
  for (const f of fps) best = Math.max(best, HASH_BYTES.findIndex(([n]) => n === f.hash));
  return best >= 0 ? HASH_BYTES[best]![0] : undefined;
}

/** Index of the first audio RTP m-line with a non-zero port, or -1. */
export function activeAudioIndex(p: ParsedSdp): number {
  return p.media.findIndex((m) => m.kind === 'audio' && m.port !== 0 && m.protocol.includes('RTP/'));
}

/**
 * Hash the SBC's fingerprint must use toward this peer: the strongest
 * supported hash among the peer's audio fingerprints (so a sha-1-only peer
 * gets sha-1 and a sha-256 peer never gets sha-1); sha-256 when it gave none.
 */
export function fingerprintHashFor(p: ParsedSdp): HashName {
  const m = p.media[activeAudioIndex(p)];
  return (m && strongestHash(usableFingerprints(m.fingerprints))) ?? 'sha-256';
}

/** Security toward a realm: its policy, or for 'as-offered' what the caller offered. */
export function resolveSecurity(policy: SecurityPolicy, offered: MediaSecurity): MediaSecurity {
  return policy === 'as-offered' ? offered : policy;
}

export function protocolFor(security: MediaSecurity, avpf: boolean): string {
  const base = security === 'dtls-srtp' ? 'UDP/TLS/RTP/SAVP' : security === 'sdes-srtp' ? 'RTP/SAVP' : 'RTP/AVP';
  return avpf ? `${base}F` : base;
}

const NOT_MEDIA = /^(telephone-event|cn|red|ulpfec|flexfec-03|rtx)$/i;
/** True when at least one codec carries media (not DTMF/CN/FEC/RTX). */
export function hasMediaCodec(codecs: readonly Codec[]): boolean {
  return codecs.some((c) => !NOT_MEDIA.test(c.name));
}

const POLICY_TEXT: Record<MediaSecurity, string> = {
  'dtls-srtp': 'realm requires DTLS-SRTP',
  'sdes-srtp': 'realm requires SDES-SRTP',
  rtp: 'realm requires plain RTP',
};

/** Security of a stream, taking the policy into account for RTP/SAVP(F) with both a=crypto and a=fingerprint. */
function effectiveSecurity(m: ParsedMedia, want?: MediaSecurity): MediaSecurity {
  if (want === 'dtls-srtp' && m.security === 'sdes-srtp' && m.protocol.startsWith('RTP/SAVP') && m.fingerprints.length > 0) {
    return 'dtls-srtp';
  }
  return m.security;
}

function dtlsChecks(m: ParsedMedia, what: 'offer' | 'answer'): Fingerprint[] {
  if (m.fingerprints.length === 0) throw notAcceptable(`DTLS-SRTP ${what} without a=fingerprint`);
  const usable = usableFingerprints(m.fingerprints);
  if (usable.length === 0) {
    for (const f of m.fingerprints) {
      const h = HASH_BYTES.find(([name]) => name === f.hash);
      const bytes = f.value.split(':').length;
      if (h && bytes !== h[1]) throw notAcceptable(`a=fingerprint ${h[0]} has ${bytes} bytes, expected ${h[1]}`);
    }
    const hashes = [...new Set(m.fingerprints.map((f) => f.hash))].join(', ');
    throw notAcceptable(`DTLS-SRTP ${what} with unsupported fingerprint hash (${hashes})`);
  }
  return usable;
}

function roleOpposite(setup: 'active' | 'passive'): DtlsRole {
  return setup === 'active' ? 'passive' : 'active';
}

/**
 * Validates an offer received on a leg against that leg's realm policy and
 * decides the SBC's answer parameters. Throws SdpError 488 with a reason.
 * `previous` is the leg's plan from the last negotiation (re-INVITEs): an
 * actpass re-offer keeps the SBC's established DTLS role, and an unchanged
 * SDES suite keeps the SBC's key.
 */
export function planAnswer(offer: ParsedSdp, policy: SecurityPolicy, opts: AnswerOptions = {}, previous?: LegPlan): LegPlan {
  const idx = activeAudioIndex(offer);
  const m = offer.media[idx];
  if (!m) throw notAcceptable('no audio m-line');
  if (!hasMediaCodec(m.codecs)) throw notAcceptable('no common codec');
  const security = effectiveSecurity(m, policy === 'as-offered' ? undefined : policy);
  if (policy !== 'as-offered' && policy !== security) throw notAcceptable(POLICY_TEXT[policy]);
  const plan: LegPlan = {
    security,
    // An answer echoes the offered protocol (RFC 3264 6), legacy RTP/SAVPF+DTLS included.
    protocol: m.protocol,
    avpf: m.avpf,
    rtcpMux: m.rtcpMux,
    fingerprintHash: 'sha-256',
    remoteFingerprints: [],
    sdesKeys: [],
    mediaIndex: idx,
    mediaCount: offer.media.length,
  };
  if (security === 'dtls-srtp') {
    const usable = dtlsChecks(m, 'offer');
    if (!m.setup) throw notAcceptable('DTLS-SRTP offer without a=setup');
    if (m.setup === 'holdconn') throw notAcceptable('DTLS-SRTP offer with a=setup:holdconn');
    const established = previous?.security === 'dtls-srtp' ? previous.dtlsRole : undefined;
    const role: DtlsRole =
      m.setup === 'actpass' ? (established ?? opts.actpassAnswer ?? 'passive') : roleOpposite(m.setup);
    plan.dtlsRole = role;
    plan.setup = role;
    plan.remoteFingerprints = usable;
    plan.fingerprintHash = strongestHash(usable) ?? 'sha-256';
    if (m.tlsId) plan.remoteTlsId = m.tlsId;
  } else if (security === 'sdes-srtp') {
    if (m.cryptos.length === 0) throw notAcceptable('SDES-SRTP offer without a=crypto');
    const suites: readonly string[] = opts.sdesSuites ?? SDES_SUITES;
    const chosen = m.cryptos.find((c) => !c.problem && suites.includes(c.suite));
    if (!chosen) {
      const why = m.cryptos.map((c) => `${c.tag} ${c.suite}: ${c.problem ?? 'suite not enabled'}`).join('; ');
      throw notAcceptable(`no common SRTP crypto suite (${why})`);
    }
    const prevKey = previous?.security === 'sdes-srtp' && previous.sdesKeys.length === 1 ? previous.sdesKeys[0] : undefined;
    plan.sdesKeys = [
      prevKey && prevKey.suite === chosen.suite
        ? { ...prevKey, tag: chosen.tag }
        : generateSdesKey(chosen.suite as SdesSuite, chosen.tag),
    ];
    plan.remoteSdes = toSdesKey(chosen);
  }
  if (security === 'dtls-srtp' && m.ice && opts.ice !== false) {
    // A WebRTC-style peer: it only sends media after ICE succeeds, so the
    // SBC answers as an ICE-lite agent (new credentials on an ICE restart).
    if (!validIceCredentials(m.ice)) throw notAcceptable('ICE offer with invalid a=ice-ufrag/a=ice-pwd');
    plan.ice = answerIce(m.ice, previous?.security === 'dtls-srtp' ? previous.ice : undefined);
    Object.assign(plan, midOf(offer, m));
    plan.rtcpRsize = m.rtcpMux && m.rtcpRsize;
  }
  return plan;
}

/**
 * Decides what the SBC offers toward a leg in `security`, mirroring the
 * m-line layout of `source` (the offer that triggered it). With `previous`
 * (re-INVITE) the same security keeps its protocol, rtcp-mux, fingerprint
 * hash, established DTLS role (offered instead of actpass) and SDES key.
 */
export function planOffer(source: ParsedSdp, security: MediaSecurity, opts: OfferOptions = {}, previous?: LegPlan): LegPlan {
  const idx = activeAudioIndex(source);
  const m = source.media[idx];
  if (!m) throw notAcceptable('no audio m-line');
  const prev = previous?.security === security ? previous : undefined;
  const mode = opts.avpf ?? 'strip';
  const avpf = prev ? prev.avpf : mode === 'always' || (mode === 'keep' && m.avpf);
  const plan: LegPlan = {
    security,
    protocol: prev ? prev.protocol : protocolFor(security, avpf),
    avpf,
    rtcpMux: prev ? prev.rtcpMux : (opts.rtcpMux ?? security === 'dtls-srtp'),
    fingerprintHash: previous?.fingerprintHash ?? opts.fingerprintHash ?? 'sha-256',
    remoteFingerprints: prev?.remoteFingerprints ?? [],
    sdesKeys: [],
    mediaIndex: idx,
    mediaCount: source.media.length,
  };
  if (security === 'dtls-srtp') {
    plan.setup = prev?.dtlsRole ?? 'actpass';
    if (prev?.dtlsRole) plan.dtlsRole = prev.dtlsRole;
    if (prev?.remoteTlsId) plan.remoteTlsId = prev.remoteTlsId;
  } else if (security === 'sdes-srtp') {
    plan.sdesKeys = prev && prev.sdesKeys.length > 0 ? prev.sdesKeys : generateSdesKeys(opts.sdesSuites ?? SDES_SUITES);
    if (prev?.remoteSdes) plan.remoteSdes = prev.remoteSdes;
  }
  if (security === 'dtls-srtp' && (prev?.ice || opts.ice)) {
    // ICE-lite toward a WebRTC-style realm; re-offers keep the credentials
    // (the SBC never restarts ICE itself) and the negotiated remote ones.
    plan.ice = prev?.ice ?? { local: generateIceCredentials() };
    plan.mid = prev?.mid ?? m.mid ?? '0';
    plan.bundle = true;
    plan.rtcpMux = true;
    plan.rtcpRsize = prev?.rtcpRsize ?? false;
  }
  return plan;
}

/**
 * Checks the peer's answer to an offer built from `plan` and returns the
 * negotiated plan (DTLS role and fingerprints, chosen SDES key, rtcp-mux).
 * Throws SdpError 488 when the answer is not acceptable.
 */
export function applyAnswer(answer: ParsedSdp, plan: LegPlan): LegPlan {
  if (answer.media.length !== plan.mediaCount) {
    throw notAcceptable(`answer has ${answer.media.length} m-lines, offer had ${plan.mediaCount}`);
  }
  const m = answer.media[plan.mediaIndex]!;
  if (m.kind !== 'audio' || m.port === 0) throw notAcceptable('audio stream rejected by the answerer');
  const security = effectiveSecurity(m, plan.security);
  if (security !== plan.security) throw notAcceptable(`answer uses ${m.protocol}, offer was ${plan.protocol}`);
  if (!hasMediaCodec(m.codecs)) throw notAcceptable('no common codec');
  const out: LegPlan = { ...plan, rtcpMux: plan.rtcpMux && m.rtcpMux };
  if (security === 'dtls-srtp') {
    const usable = dtlsChecks(m, 'answer');
    // RFC 5763 makes a=setup mandatory in the answer; a missing one is taken
    // as the RFC 4145 default 'active' (the SBC is then the DTLS server).
    let setup = m.setup ?? 'active';
    // Real devices (baresip 1.0 among them) answer a re-offer with actpass.
    // With a role already established that can only mean "keep it"; in an
    // initial answer it stays an error (nobody would know who is client).
    if (setup === 'actpass' && plan.dtlsRole) setup = plan.dtlsRole === 'active' ? 'passive' : 'active';
    if (setup !== 'active' && setup !== 'passive') throw notAcceptable(`DTLS-SRTP answer with a=setup:${setup}`);
    const role = roleOpposite(setup);
    if (plan.setup !== 'actpass' && plan.setup !== undefined && plan.setup !== role) {
      throw notAcceptable(`DTLS-SRTP answer a=setup:${setup} conflicts with offered a=setup:${plan.setup}`);
    }
    out.dtlsRole = role;
    out.setup = role;
    out.remoteFingerprints = usable;
    if (m.tlsId) out.remoteTlsId = m.tlsId;
  } else if (security === 'sdes-srtp') {
    if (m.cryptos.length === 0) throw notAcceptable('SDES-SRTP answer without a=crypto');
    const c = m.cryptos.find((x) => plan.sdesKeys.some((k) => k.tag === x.tag && k.suite === x.suite));
    if (!c) throw notAcceptable('no common SRTP crypto suite (answer a=crypto matches no offered tag/suite)');
    if (c.problem) throw notAcceptable(`SDES-SRTP answer a=crypto:${c.tag} unusable: ${c.problem}`);
    out.sdesKeys = plan.sdesKeys.filter((k) => k.tag === c.tag);
    out.remoteSdes = toSdesKey(c);
  }
  if (plan.ice) {
    if (!m.ice) throw notAcceptable('answer without ICE credentials to an ICE-lite offer');
    if (!validIceCredentials(m.ice)) throw notAcceptable('ICE answer with invalid a=ice-ufrag/a=ice-pwd');
    out.ice = { local: plan.ice.local, remote: { ufrag: m.ice.ufrag, pwd: m.ice.pwd } };
  }
  return out;
}
