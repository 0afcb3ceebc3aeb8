/**
 * Typed API of the media engine. The native shapes (generated into
 * native/node/binding.d.ts) are looser; these are what the control plane uses.
 */

export type HashName = 'sha-1' | 'sha-224' | 'sha-256' | 'sha-384' | 'sha-512';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
/** Our DTLS role: active = DTLS client, passive = DTLS server. */
export type DtlsRole = 'active' | 'passive';
export type SrtpProfileName =
  | 'SRTP_AES128_CM_SHA1_80'
  | 'SRTP_AES128_CM_SHA1_32'
  | 'SRTP_AEAD_AES_128_GCM'
  | 'SRTP_AEAD_AES_256_GCM';
export type SdesSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM';

export interface Fingerprint {
  hash: HashName | string;
  /** Colon-separated hex. */
  value: string;
}

export interface SdesKey {
  suite: SdesSuite;
  /** base64 of master key || master salt. */
  key: string;
}

/** ICE credentials (RFC 8839 a=ice-ufrag / a=ice-pwd). */
export interface IceCredentials {
  ufrag: string;
  pwd: string;
}

/**
 * ICE on a leg: the engine is an ICE-lite agent (RFC 8445), answers the
 * peer's connectivity checks and sends media/DTLS only to the pair the peer
 * nominates, while consent is fresh (RFC 7675, 30 s).
 */
export interface IceSpec {
  /** Our credentials; the engine generates them when absent (see LocalLeg.ice). */
  localUfrag?: string;
  localPwd?: string;
  /** The peer's credentials from its SDP (absent until known, e.g. before an answer). */
  remoteUfrag?: string;
  remotePwd?: string;
  lite: true;
}

export interface RemoteMedia {
  /** Where the peer said (in SDP) it receives media; learned by latching otherwise. */
  remoteAddress?: string;
  remotePort?: number;
  /** Separate RTCP port when not multiplexed (default remotePort + 1). */
  remoteRtcpPort?: number;
  rtcpMux?: boolean;
  /** The remote party's SDP direction. */
  direction?: Direction;
  /** Hash of the local fingerprint the SDP should carry (default sha-256). */
  fingerprintHash?: HashName;
  /** ICE-lite on this leg (replaces address latching). */
  ice?: IceSpec;
}

export type LegSpec =
  | ({ kind: 'rtp' } & RemoteMedia)
  | ({ kind: 'dtls-srtp'; role: DtlsRole; remoteFingerprints: Fingerprint[]; remoteTlsId?: string } & RemoteMedia)
  | ({ kind: 'sdes-srtp'; localKey: SdesKey; remoteKey?: SdesKey } & RemoteMedia);

type SecurityUpdate =
  | { kind?: undefined }
  | { kind: 'rtp' }
  /** A changed remoteTlsId (RFC 8842) starts a new DTLS association, as a changed fingerprint does. */
  | { kind: 'dtls-srtp'; role: DtlsRole; remoteFingerprints: Fingerprint[]; remoteTlsId?: string }
  | { kind: 'sdes-srtp'; localKey: SdesKey; remoteKey?: SdesKey };

/** A change from a re-offer or answer; absent fields keep their value. */
export type LegUpdate = SecurityUpdate &
  Omit<RemoteMedia, 'fingerprintHash'> & {
    /** Music on hold generated toward this leg (needs MediaEngine.setMusic). */
    music?: 'pcmu' | 'pcma' | 'off';
  };

/** What Pipeline.update reports back. */
export interface LegUpdateResult {
  /** Our ICE credentials after an update that carried `ice`. */
  ice?: IceCredentials;
  /** Our a=tls-id after the update (DTLS-SRTP legs); a new value means a new association. */
  tlsId?: string;
}

export interface LocalLeg {
  address: string;
  rtpPort: number;
  rtcpPort: number;
  /** Our certificate's fingerprint in the requested hash. */
  fingerprint: Fingerprint;
  /** Our ICE credentials when the leg has ICE. */
  ice?: IceCredentials;
  /** Our a=tls-id (RFC 8842) on a DTLS-SRTP leg; kept current by Pipeline.update. */
  tlsId?: string;
}

export type DropReason =
  | 'malformed'
  | 'stun'
  | 'unexpected_dtls'
  | 'wrong_source'
  | 'auth_fail'
  | 'replay'
  | 'ssrc_limit'
  | 'no_keys'
  | 'direction'
  | 'no_destination'
  | 'oversized'
  | 'send_error'
  /** ICE check without or with wrong USERNAME/MESSAGE-INTEGRITY (answered 400/401). */
  | 'stun_auth'
  /** ICE check with a missing or wrong FINGERPRINT (dropped silently). */
  | 'stun_fingerprint'
  /** ICE consent expired: not sent. */
  | 'no_consent';

export interface LegStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpIn: number;
  rtcpOut: number;
  dtlsIn: number;
  dtlsOut: number;
  drops: Record<DropReason, number>;
  /** DTLS handshakes started on this leg. */
  handshakes: number;
  dtlsState?: 'handshaking' | 'awaitingfingerprint' | 'connected' | 'failed' | 'closed';
  profile?: SrtpProfileName;
  latched?: string;
  direction: Direction;
  /** Music-on-hold packets sent to this leg; one SSRC for the whole call. */
  musicPackets: number;
  musicSsrc?: number;
}

export interface PipelineStats {
  a: LegStats;
  b: LegStats;
}

export type Side = 'a' | 'b';

export type MediaEvent =
  /** handshakeMs: from the first DTLS datagram in or out to the verified peer. */
  | { type: 'dtls-connected'; pipeline: number; side: Side; profile: SrtpProfileName; peerFingerprint: Fingerprint; handshakeMs: number }
  | { type: 'dtls-failed'; pipeline: number; side: Side; reason: string }
  | { type: 'dtls-closed'; pipeline: number; side: Side }
  /** First media on a plain leg; on an ICE leg the nominated pair's remote address. */
  | { type: 'media-latched'; pipeline: number; side: Side; address: string }
  /** ICE consent expired (no valid check for 30 s): the engine stopped sending to this leg. */
  | { type: 'ice-consent-expired'; pipeline: number; side: Side }
  | { type: 'media-timeout'; pipeline: number; side: Side }
  /** The engine caught an internal error (a panic) in this call's pipeline and stopped it (both legs: side ''). */
  | { type: 'pipeline-failed'; pipeline: number; side: ''; reason: string };

export interface MediaEngineOptions {
  /** Address media sockets bind to. Default 127.0.0.1. */
  bindAddress?: string;
  portMin?: number;
  portMax?: number;
  workers?: number;
  mtu?: number;
  handshakeTimeoutMs?: number;
  retransmitInitialMs?: number;
  retransmitMaxMs?: number;
  srtpProfiles?: SrtpProfileName[];
  cookieExchange?: boolean;
  certPem?: string;
  keyPem?: string;
  certRotationSecs?: number;
  mediaTimeoutSecs?: number;
  eventCapacity?: number;
}

export interface EngineCounters {
  pipelines: number;
  portPairsInUse: number;
  portPairsTotal: number;
  droppedEvents: number;
  /** Datagrams the kernel refused after the workers queued them (no route, a pending ICMP error, a full socket buffer). */
  sendErrors: number;
  /** io_uring receives ended because every receive buffer was in use (the worker fell behind); re-armed in turn. */
  receiveStarved: number;
  certRotations: number;
  workers: number;
  /** The workers' socket I/O (ESBC_IO_BACKEND: auto, io_uring, epoll). */
  ioBackend: 'io_uring' | 'epoll';
  /** Why io_uring is not in use, when auto fell back to epoll. */
  ioFallback?: string;
  /** Native log records lost to a full queue (process-wide). */
  droppedLogRecords: number;
}
