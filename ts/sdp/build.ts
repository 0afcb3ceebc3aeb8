/**
 * buildOffer / buildAnswer: the SDP the SBC sends to one leg. Everything
 * transport- or identity-related is the SBC's own (o=, c=, ports, fingerprint,
 * keys); only codecs, ptime, direction (and in answers the offerer's a=mid)
 * are carried over from the other side.
 */
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';

import type { Direction, LocalLeg } from '../media/types';
import { notAcceptable, SdpError } from './errors';
import { iceMediaLines, iceSessionLines } from './ice';
import { hasMediaCodec } from './negotiate';
import { formatCrypto } from './sdes';
import type { BuiltSdp, Codec, LegPlan, ParsedMedia, ParsedSdp, SdpOrigin } from './types';

/** A fresh o= state for a leg (random session id, version 1). */
export function createOrigin(sessionId: string = String(randomInt(1, 2 ** 47))): SdpOrigin {
  return { sessionId, version: 1 };
}

function ipTag(address: string): string {
  return isIPv6(address) ? 'IP6' : 'IP4';
}

function finish(body: string[], local: LocalLeg, origin: SdpOrigin): BuiltSdp {
  const content = body.join('\r\n');
  const changed = origin.lastContent !== undefined && origin.lastContent !== content;
  const version = changed ? origin.version + 1 : origin.version;
  const o = `o=- ${origin.sessionId} ${version} IN ${ipTag(local.address)} ${local.address}`;
  return {
    sdp: `v=0\r\n${o}\r\n${content}\r\n`,
    origin: { sessionId: origin.sessionId, version, lastContent: content },
  };
}

function sends(d: Direction): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}
function receives(d: Direction): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}
function directionOf(send: boolean, recv: boolean): Direction {
  return send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive';
}

/** The answerer's direction, narrowed to what the offer allows (RFC 3264 6.1). */
export function answerDirection(offered: Direction, answered: Direction): Direction {
  return directionOf(sends(answered) && receives(offered), receives(answered) && sends(offered));
}

function rtpmap(c: Codec): string | undefined {
  if (!c.name) return undefined;
  return `a=rtpmap:${c.pt} ${c.name}/${c.rate}${c.channels !== undefined ? `/${c.channels}` : ''}`;
}

interface ActiveInput {
  plan: LegPlan;
  local: LocalLeg;
  codecs: Codec[];
  /** Where ptime/rtcp-fb come from (the side whose codecs these are). */
  content: ParsedMedia;
  /** The m-line being offered/answered (the offer's, in answers). */
  layout: ParsedMedia;
  direction: Direction;
  answer: boolean;
}

function activeSection(x: ActiveInput): string[] {
  const { plan, local, codecs, content } = x;
  const out = [`m=audio ${local.rtpPort} ${plan.protocol} ${codecs.map((c) => c.pt).join(' ')}`];
  for (const c of codecs) {
    const map = rtpmap(c);
    if (map) out.push(map);
    if (c.fmtp !== undefined) out.push(`a=fmtp:${c.pt} ${c.fmtp}`);
    if (plan.avpf) for (const fb of c.rtcpFb) out.push(`a=rtcp-fb:${c.pt} ${fb}`);
  }
  if (plan.avpf) for (const fb of content.rtcpFbAll) out.push(`a=rtcp-fb:* ${fb}`);
  if (content.ptime !== undefined) out.push(`a=ptime:${content.ptime}`);
  if (content.maxptime !== undefined) out.push(`a=maxptime:${content.maxptime}`);
  if (plan.rtcpMux) {
    out.push('a=rtcp-mux');
    // ICE legs echo the WebRTC peer's rtcp-rsize; others need it on both sides.
    if (plan.rtcpRsize || (plan.avpf && x.layout.rtcpRsize && content.rtcpRsize)) out.push('a=rtcp-rsize');
  } else if (local.rtcpPort !== local.rtpPort) {
    out.push(`a=rtcp:${local.rtcpPort}`);
  }
  if (x.answer && x.layout.mid !== undefined) out.push(`a=mid:${x.layout.mid}`);
  else if (!x.answer && plan.ice && plan.mid !== undefined) out.push(`a=mid:${plan.mid}`);
  out.push(...iceMediaLines(plan, local));
  if (plan.security === 'dtls-srtp') {
    if (local.fingerprint.hash.toLowerCase() !== plan.fingerprintHash) {
      throw new SdpError(500, `local fingerprint is ${local.fingerprint.hash}, ${plan.fingerprintHash} needed`);
    }
    out.push(`a=setup:${plan.setup ?? 'actpass'}`);
    out.push(`a=fingerprint:${plan.fingerprintHash} ${local.fingerprint.value.toUpperCase()}`);
    // RFC 8842: to a peer that uses tls-id, ours names our current association.
    if (plan.remoteTlsId && local.tlsId) out.push(`a=tls-id:${local.tlsId}`);
  } else if (plan.security === 'sdes-srtp') {
    if (plan.sdesKeys.length === 0) throw new SdpError(500, 'SDES plan without keys');
    for (const k of plan.sdesKeys) out.push(formatCrypto(k));
  }
  out.push(`a=${x.direction}`);
  return out;
}

/** A disabled (port 0) m-line keeping the slot of `m` (RFC 3264 6, 8.2). */
function disabledSection(m: ParsedMedia, protocol: string, answer: boolean): string[] {
  const fmts = m.formats.length > 0 ? m.formats.join(' ') : '0';
  const out = [`m=${m.kind} 0 ${protocol} ${fmts}`];
  if (answer && m.mid !== undefined) out.push(`a=mid:${m.mid}`);
  return out;
}

function sessionLines(local: LocalLeg, plan: LegPlan): string[] {
  return ['s=-', `c=IN ${ipTag(local.address)} ${local.address}`, 't=0 0', ...iceSessionLines(plan)];
}

function checkLayout(p: ParsedSdp, plan: LegPlan, what: string): ParsedMedia {
  const m = p.media[plan.mediaIndex];
  if (p.media.length !== plan.mediaCount || !m) {
    throw new SdpError(500, `${what} has ${p.media.length} m-lines, plan expects ${plan.mediaCount}`);
  }
  return m;
}

/**
 * The offer toward a leg: `source`'s m-lines in the same order, the audio one
 * active with the SBC's transport and `plan`'s security, every other one
 * disabled with port 0. Codecs, ptime and direction come from `source`.
 */
export function buildOffer(source: ParsedSdp, plan: LegPlan, local: LocalLeg, origin: SdpOrigin): BuiltSdp {
  const audio = checkLayout(source, plan, 'source offer');
  const body = sessionLines(local, plan);
  for (const m of source.media) {
    if (m.index === plan.mediaIndex) {
      body.push(
        ...activeSection({ plan, local, codecs: audio.codecs, content: audio, layout: audio, direction: audio.direction, answer: false }),
      );
    } else {
      body.push(...disabledSection(m, m.protocol.includes('RTP/') ? plan.protocol : m.protocol, false));
    }
  }
  return finish(body, local, origin);
}

function sameCodec(a: Codec, b: Codec): boolean {
  if (a.name && b.name) {
    return a.name.toLowerCase() === b.name.toLowerCase() && a.rate === b.rate && (a.channels ?? 1) === (b.channels ?? 1);
  }
  return a.pt === b.pt && a.pt < 96;
}

/**
 * The answer to `offer` (received on this leg): one m-line per offered
 * m-line, the audio one with the codecs `answer` (the other leg's answer)
 * chose, in its order and with its payload types, and its direction narrowed
 * to what the offer allows. Throws SdpError 488 when no codec is common.
 */
export function buildAnswer(
  offer: ParsedSdp,
  answer: ParsedSdp,
  plan: LegPlan,
  local: LocalLeg,
  origin: SdpOrigin,
): BuiltSdp {
  const offered = checkLayout(offer, plan, 'offer');
  const isAudio = (m?: ParsedMedia): m is ParsedMedia => !!m && m.kind === 'audio' && m.port !== 0 && m.protocol.includes('RTP/');
  const aligned = answer.media[plan.mediaIndex];
  const chosen = isAudio(aligned) ? aligned : answer.media.find(isAudio);
  if (!chosen) throw notAcceptable('audio stream rejected by the answerer');
  const codecs = chosen.codecs.filter((c) => offered.codecs.some((o) => sameCodec(o, c)));
  if (!hasMediaCodec(codecs)) throw notAcceptable('no common codec');
  const direction = answerDirection(offered.direction, chosen.direction);
  const body = sessionLines(local, plan);
  for (const m of offer.media) {
    if (m.index === plan.mediaIndex) {
      body.push(...activeSection({ plan, local, codecs, content: chosen, layout: offered, direction, answer: true }));
    } else {
      body.push(...disabledSection(m, m.protocol, true));
    }
  }
  return finish(body, local, origin);
}
