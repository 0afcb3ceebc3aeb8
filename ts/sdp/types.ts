/** Types of the SDP module (see index.ts for the overview). */
import type { DtlsRole, Direction, Fingerprint, HashName, IceCredentials, SdesKey, SdesSuite } from '../media/types';
import type { SessionDescription } from 'sdp-transform';

/** Security of one media stream as offered/answered on the wire. */
export type MediaSecurity = 'dtls-srtp' | 'sdes-srtp' | 'rtp';
/** A realm's media security policy. */
export type SecurityPolicy = MediaSecurity | 'as-offered';
export type SetupAttr = 'active' | 'passive' | 'actpass' | 'holdconn';

export interface Codec {
  pt: number;
  /** Encoding name as written (e.g. 'opus', 'PCMU', 'telephone-event'); '' when unknown. */
  name: string;
  rate: number;
  channels?: number;
  fmtp?: string;
  /** rtcp-fb values for this payload type, without the "a=rtcp-fb:PT " prefix. */
  rtcpFb: string[];
}

/** One a=crypto line (RFC 4568), parsed liberally. */
export interface SdesCrypto {
  tag: number;
  suite: string;
  /** base64 key||salt of the first key-param ('' when absent). */
  key: string;
  /** Why the SBC cannot use this line (MKI, several keys, session params, bad key); absent when usable. */
  problem?: string;
}

export interface ParsedMedia {
  index: number;
  kind: string;
  port: number;
  /** Transport protocol as written, upper-cased (e.g. 'UDP/TLS/RTP/SAVPF'). */
  protocol: string;
  security: MediaSecurity;
  /** Protocol ends in AVPF/SAVPF. */
  avpf: boolean;
  /** Effective connection address (media c= over session c=); '' when none. */
  address: string;
  ipVersion: 4 | 6;
  rtcpPort?: number;
  rtcpMux: boolean;
  rtcpRsize: boolean;
  /** Effective direction (media over session level; old-style hold without an attribute = 'inactive'). */
  direction: Direction;
  /** c=IN IP4 0.0.0.0 (RFC 2543 hold). */
  oldStyleHold: boolean;
  /** Effective fingerprints (media level replaces session level); hash lower-case, value upper-case. */
  fingerprints: Fingerprint[];
  /** Effective a=setup (media over session); absent when missing or not one of the four values. */
  setup?: SetupAttr;
  /** a=tls-id (RFC 8842; media over session): a changed value asks for a new DTLS association. */
  tlsId?: string;
  cryptos: SdesCrypto[];
  /** In m-line format order. */
  codecs: Codec[];
  /** a=rtcp-fb:* values. */
  rtcpFbAll: string[];
  ptime?: number;
  maxptime?: number;
  mid?: string;
  /** Format list as written on the m-line (non-RTP protocols keep it verbatim). */
  formats: string[];
  /** ICE attributes (media level over session level); absent without a=ice-ufrag/a=ice-pwd. */
  ice?: ParsedIce;
}

export interface ParsedIce extends IceCredentials {
  /** a=ice-lite at session level. */
  lite: boolean;
  /** Number of a=candidate lines. */
  candidates: number;
  endOfCandidates: boolean;
}

export interface ParsedSdp {
  /** sdp-transform's view (note: it mis-parses "a=fingerprint: X Y"; use media[].fingerprints). */
  raw: SessionDescription;
  origin: { username: string; sessionId: string; version: string; address: string };
  media: ParsedMedia[];
  /** mids of each a=group:BUNDLE line. */
  bundles: string[][];
}

/** The SBC's ICE-lite state toward one leg. */
export interface IcePlan {
  /** Our credentials (new ones on an ICE restart). */
  local: IceCredentials;
  /** The peer's, once its SDP carried them. */
  remote?: IceCredentials;
}

/** The SBC's own o= state for one leg; keep it per leg and store what build* returns. */
export interface SdpOrigin {
  sessionId: string;
  version: number;
  /** The last body built (without o=), to tell whether the content changed. */
  lastContent?: string;
}

/** An SBC-generated SDES key with the a=crypto tag it is offered/answered under. */
export interface LocalSdesKey extends SdesKey {
  tag: number;
}

/**
 * What the SBC puts on the wire toward one leg, and knows about that leg's
 * negotiation. Created by planAnswer / planOffer, completed by applyAnswer;
 * the B2BUA keeps the latest per leg and passes it as `previous` on re-INVITEs.
 */
export interface LegPlan {
  security: MediaSecurity;
  /** Protocol written on the active m-line toward this leg. */
  protocol: string;
  avpf: boolean;
  /** The SBC offers/answers a=rtcp-mux (after an answer: both sides agreed). */
  rtcpMux: boolean;
  /** Hash of the SBC fingerprint written toward this leg (ask the engine for this one). */
  fingerprintHash: HashName;
  /** a=setup the SBC writes (DTLS only). */
  setup?: SetupAttr;
  /** The SBC's DTLS role once known (answers, or after applyAnswer). */
  dtlsRole?: DtlsRole;
  /** The peer's usable fingerprints (DTLS, once known). */
  remoteFingerprints: Fingerprint[];
  /**
   * The peer's a=tls-id (RFC 8842), once seen. A peer that uses tls-id gets
   * ours in every SDP toward it (the engine's, new with each association).
   */
  remoteTlsId?: string;
  /** SBC keys: one per suite in an offer, exactly one once negotiated. */
  sdesKeys: LocalSdesKey[];
  /** The peer's key for the negotiated suite. */
  remoteSdes?: SdesKey;
  /** Index of the active audio m-line and number of m-lines toward this leg. */
  mediaIndex: number;
  mediaCount: number;
  /**
   * ICE-lite toward this leg (WebRTC-style peers): the SDP carries a=ice-lite,
   * our credentials, one host candidate per component, a=mid and a BUNDLE
   * group with the audio mid; the engine sends only to the nominated pair.
   */
  ice?: IcePlan;
  /** a=rtcp-rsize written (ICE legs: echoed when offered with rtcp-mux). */
  rtcpRsize?: boolean;
  /** The audio a=mid written toward this leg (ICE legs), and whether it is in a BUNDLE group. */
  mid?: string;
  bundle?: boolean;
}

export interface AnswerOptions {
  /** Role the SBC takes when the offer says actpass (default 'passive'). Ignored on re-INVITE with an established role. */
  actpassAnswer?: 'passive' | 'active';
  /** SDES suites the SBC accepts (default: all four). */
  sdesSuites?: SdesSuite[];
  /**
   * Answer a DTLS-SRTP offer that carries ICE (a=ice-ufrag/a=ice-pwd) as an
   * ICE-lite agent (default true). False strips ICE as for any other peer.
   */
  ice?: boolean;
}

export interface OfferOptions {
  /** AVPF toward this leg: 'strip' (default) never, 'keep' if the source offered AVPF, 'always'. */
  avpf?: 'strip' | 'keep' | 'always';
  /** Offer a=rtcp-mux (default: true for DTLS-SRTP, false otherwise). */
  rtcpMux?: boolean;
  /** Hash of the SBC fingerprint to offer (default sha-256). */
  fingerprintHash?: HashName;
  /** SDES suites offered, in preference order (default: the four, 80/32/GCM128/GCM256). */
  sdesSuites?: SdesSuite[];
  /**
   * Offer ICE-lite toward this leg (WebRTC-style realm; DTLS-SRTP only).
   * The answer must then carry ICE credentials (else 488). Default false.
   */
  ice?: boolean;
}

export interface BuiltSdp {
  sdp: string;
  /** The origin state to keep for the next build on this leg. */
  origin: SdpOrigin;
}
