/** parseSdp: a peer's SDP into a typed, normalised view (liberal in what it accepts). */
import { isIPv6 } from 'node:net';
import * as sdpTransform from 'sdp-transform';

import type { Direction, Fingerprint } from '../media/types';
import { SdpError } from './errors';
import { parseCrypto } from './sdes';
import type { Codec, MediaSecurity, ParsedIce, ParsedMedia, ParsedSdp, SetupAttr } from './types';

type RawMedia = sdpTransform.MediaDescription;

/** RFC 3551 static payload types (used when a=rtpmap is missing). */
const STATIC_PT: Record<number, [string, number, number?]> = {
  0: ['PCMU', 8000], 3: ['GSM', 8000], 4: ['G723', 8000], 8: ['PCMA', 8000], 9: ['G722', 8000],
  13: ['CN', 8000], 18: ['G729', 8000], 10: ['L16', 44100, 2], 11: ['L16', 44100],
};

const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
const SETUPS: readonly string[] = ['active', 'passive', 'actpass', 'holdconn'];

interface LevelAttrs {
  fingerprints: Fingerprint[];
  setup?: SetupAttr;
  tlsId?: string;
}

/** RFC 8842 tls-id-value: 20-255 characters of ALPHA / DIGIT / "+" / "/" / "-" / "_". */
const TLS_ID = /^[A-Za-z0-9+/_-]{20,255}$/;

/** An m-line count no audio call needs; bounds the work per offer. */
export const MAX_MEDIA_LINES = 16;

/**
 * a=fingerprint and a=setup per level (index 0 = session, i+1 = m-line i),
 * scanned from the text because sdp-transform loses "a=fingerprint: SHA-1 X"
 * (space after the colon) and keeps only the last of several fingerprints.
 * Malformed or contradictory values are refused here, naming the problem.
 */
function scanLevels(lines: string[]): LevelAttrs[] {
  const levels: LevelAttrs[] = [{ fingerprints: [] }];
  for (const line of lines) {
    if (line.startsWith('m=')) levels.push({ fingerprints: [] });
    const cur = levels[levels.length - 1]!;
    if (/^a=fingerprint:/i.test(line)) {
      const fp = /^a=fingerprint:\s*(\S+)\s+([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*)\s*$/i.exec(line);
      if (!fp) throw new SdpError(488, 'malformed a=fingerprint');
      // A value of the wrong length is kept: negotiation ignores it when
      // another fingerprint is usable, and names it when none is.
      cur.fingerprints.push({ hash: fp[1]!.toLowerCase(), value: fp[2]!.toUpperCase() });
    }
    const tid = /^a=tls-id:\s*(\S*)\s*$/i.exec(line);
    if (tid) {
      const v = tid[1]!;
      if (!TLS_ID.test(v)) throw new SdpError(488, 'invalid a=tls-id (20-255 characters of A-Z a-z 0-9 + / - _)');
      if (cur.tlsId !== undefined && cur.tlsId !== v) throw new SdpError(488, 'contradictory a=tls-id');
      cur.tlsId = v;
    }
    const st = /^a=setup:\s*(\S*)/i.exec(line);
    if (st) {
      const v = st[1]!.toLowerCase();
      if (!SETUPS.includes(v)) throw new SdpError(488, `invalid a=setup value '${st[1]!.slice(0, 32)}'`);
      if (cur.setup && cur.setup !== v) throw new SdpError(488, 'contradictory a=setup');
      cur.setup = v as SetupAttr;
    }
  }
  return levels;
}

function securityOf(protocol: string, m: RawMedia, fps: Fingerprint[]): MediaSecurity {
  if (protocol.startsWith('UDP/TLS/RTP/SAVP') || protocol.startsWith('TCP/TLS/RTP/SAVP')) return 'dtls-srtp';
  if (protocol.startsWith('RTP/SAVP')) {
    // Legacy WebRTC wrote RTP/SAVPF with a fingerprint and no a=crypto.
    return (m.crypto?.length ?? 0) === 0 && fps.length > 0 ? 'dtls-srtp' : 'sdes-srtp';
  }
  return 'rtp';
}

function codecsOf(m: RawMedia, formats: string[]): Codec[] {
  const out: Codec[] = [];
  for (const f of formats) {
    const pt = Number(f);
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) continue;
    const map = m.rtp.find((r) => r.payload === pt);
    const stat = STATIC_PT[pt];
    const c: Codec = {
      pt,
      name: map?.codec ?? stat?.[0] ?? '',
      rate: map?.rate ?? stat?.[1] ?? 0,
      rtcpFb: (m.rtcpFb ?? [])
        .filter((fb) => String(fb.payload) === f)
        .map((fb) => (fb.subtype ? `${fb.type} ${fb.subtype}` : fb.type)),
    };
    const ch = map ? (map.encoding !== undefined ? Number(map.encoding) : undefined) : stat?.[2];
    if (ch !== undefined && !Number.isNaN(ch)) c.channels = ch;
    const fmtp = m.fmtp.find((x) => x.payload === pt);
    if (fmtp) c.fmtp = fmtp.config;
    out.push(c);
  }
  return out;
}

/** ICE attributes of an m-line: ufrag/pwd at media level override session level (RFC 8839 5.4). */
function iceOf(raw: sdpTransform.SessionDescription, m: RawMedia): ParsedIce | undefined {
  const ufrag = m.iceUfrag ?? raw.iceUfrag;
  const pwd = m.icePwd ?? raw.icePwd;
  if (ufrag === undefined || pwd === undefined) return undefined;
  return {
    ufrag: String(ufrag),
    pwd: String(pwd),
    lite: raw.icelite !== undefined,
    candidates: m.candidates?.length ?? 0,
    endOfCandidates: m.endOfCandidates !== undefined,
  };
}

function parseMedia(
  raw: sdpTransform.SessionDescription,
  m: RawMedia,
  index: number,
  session: LevelAttrs,
  level: LevelAttrs,
): ParsedMedia {
  const protocol = String(m.protocol).toUpperCase();
  if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535) {
    throw new SdpError(488, `invalid port on m-line ${index}`);
  }
  const conn = m.connection ?? raw.connection;
  // sdp-transform turns an all-digit address ("c=IN IP4 1") into a number.
  const address = conn?.ip === undefined ? '' : (String(conn.ip).split('/')[0] ?? '');
  if (m.port !== 0 && address === '') throw new SdpError(488, `no c= line for m-line ${index}`);
  const ice = iceOf(raw, m);
  // With ICE, c=IN IP4 0.0.0.0 (port 9) only says "no default candidate"
  // (RFC 8840 4.1.1), not hold.
  const oldStyleHold = address === '0.0.0.0' && !ice;
  const attrDir = m.direction ?? raw.direction;
  const direction: Direction =
    attrDir && DIRECTIONS.includes(attrDir) ? attrDir : oldStyleHold ? 'inactive' : 'sendrecv';
  const fingerprints = level.fingerprints.length > 0 ? level.fingerprints : session.fingerprints;
  const formats = String(m.payloads ?? '').trim().split(/\s+/).filter((f) => f.length > 0);
  const pm: ParsedMedia = {
    index,
    kind: m.type,
    port: m.port,
    protocol,
    security: securityOf(protocol, m, fingerprints),
    avpf: protocol.endsWith('AVPF'),
    address,
    ipVersion: isIPv6(address) ? 6 : 4,
    rtcpMux: m.rtcpMux !== undefined,
    rtcpRsize: m.rtcpRsize !== undefined,
    direction,
    oldStyleHold,
    fingerprints,
    // String(): sdp-transform turns all-digit fields into numbers.
    cryptos: (m.crypto ?? []).map((c) =>
      parseCrypto(c.id, String(c.suite), String(c.config), c.sessionConfig === undefined ? '' : String(c.sessionConfig)),
    ),
    codecs: protocol.includes('RTP/') ? codecsOf(m, formats) : [],
    rtcpFbAll: (m.rtcpFb ?? [])
      .filter((fb) => String(fb.payload) === '*')
      .map((fb) => (fb.subtype ? `${fb.type} ${fb.subtype}` : fb.type)),
    formats,
  };
  const setup = level.setup ?? session.setup;
  if (setup) pm.setup = setup;
  const tlsId = level.tlsId ?? session.tlsId;
  if (tlsId) pm.tlsId = tlsId;
  // An a=rtcp port that is not a port (empty, text, out of range) is ignored:
  // RTCP then goes to the RTP port + 1 (RFC 3605 default).
  const rtcpPort = m.rtcp?.port as unknown;
  if (typeof rtcpPort === 'number' && Number.isInteger(rtcpPort) && rtcpPort > 0 && rtcpPort <= 65535) pm.rtcpPort = rtcpPort;
  if (m.ptime !== undefined) pm.ptime = m.ptime;
  if (m.maxptime !== undefined) pm.maxptime = m.maxptime;
  if (m.mid !== undefined) pm.mid = String(m.mid);
  if (ice) pm.ice = ice;
  return pm;
}

/** Parses an SDP body. Throws SdpError 488 (with the problem named) when it is not usable SDP. */
export function parseSdp(sdp: string): ParsedSdp {
  if (typeof sdp !== 'string' || !/^\s*v=0\s*$/m.test(sdp.split(/\r\n|\r|\n/)[0] ?? '')) {
    throw new SdpError(488, 'SDP does not start with v=0');
  }
  const lines = sdp.split(/\r\n|\r|\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  // RFC 8866 5: every line is <type>=<value>, type one lower-case letter.
  const bad = sdp.split(/\r\n|\r|\n/).findIndex((l) => l.trim().length > 0 && !/^[a-z]=/.test(l.trim()));
  if (bad >= 0) throw new SdpError(488, `malformed SDP line ${bad + 1}`);
  const mLines = lines.filter((l) => l.startsWith('m=')).length;
  if (mLines > MAX_MEDIA_LINES) throw new SdpError(488, `too many m-lines (${mLines}, at most ${MAX_MEDIA_LINES})`);
  let raw: sdpTransform.SessionDescription;
  try {
    raw = sdpTransform.parse(sdp);
  } catch (err) {
    throw new SdpError(488, `unparseable SDP: ${err instanceof Error ? err.message : String(err)}`);
  }
  const o = lines.find((l) => l.startsWith('o='));
  const op = o ? o.slice(2).split(/\s+/) : [];
  if (op.length < 6) throw new SdpError(488, 'SDP without a valid o= line');
  const mCount = lines.filter((l) => l.startsWith('m=')).length;
  if ((raw.media ?? []).length !== mCount) throw new SdpError(488, 'malformed m= line');
  const levels = scanLevels(lines);
  return {
    raw,
    origin: { username: op[0]!, sessionId: op[1]!, version: op[2]!, address: op[5]! },
    media: raw.media.map((m, i) => parseMedia(raw, m, i, levels[0]!, levels[i + 1]!)),
    bundles: (raw.groups ?? [])
      .filter((g) => g.type.toUpperCase() === 'BUNDLE')
      .map((g) => String(g.mids).trim().split(/\s+/).filter((x) => x.length > 0)),
  };
}
