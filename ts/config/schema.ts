/**
 * The SBC's configuration: a zod schema validated at start, so a bad file
 * fails with the exact key that is wrong (e.g. `realms.1.media.security`).
 */
import { z } from 'zod';

const transport = z.enum(['udp', 'tcp', 'tls', 'ws', 'wss']);
const ip = z.string().refine((s) => require('node:net').isIP(s) !== 0, { message: 'must be an IP address' });
const port = z.number().int().min(0).max(65535);

export const listenSchema = z.strictObject({
  transport: transport.default('udp').describe('SIP transport of this listener: udp, tcp, tls, or ws/wss (SIP over WebSocket, RFC 7118, for browsers; the client must offer Sec-WebSocket-Protocol: sip). tls and wss need sip.embedded.tls.'),
  address: ip.describe('Local IP address to listen on; requests arriving here belong to the realm.'),
  port: port.default(5060).describe('Local port; 0 lets the OS pick.'),
});

export const securitySchema = z.enum(['dtls-srtp', 'sdes-srtp', 'rtp', 'as-offered']);

export const realmSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only').describe('Realm name (letters, digits, _ . -), unique; routes refer to it.'),
  sip: z.strictObject({
    /** Where this realm's peers reach the SBC; requests arriving here belong to the realm. */
    listen: z.array(listenSchema).min(1).describe('Where this realm\'s peers reach the SBC (at least one); requests arriving on one of these belong to the realm.'),
    /** Default next hop for calls routed into this realm (a SIP URI). */
    nextHop: z
      .string()
      .regex(/^sips?:/, 'must be a sip: or sips: URI')
      .optional()
      .describe('Default next hop (sip: or sips: URI) for calls routed into this realm; the Request-URI user is kept. Needed unless every route to the realm has a uri.'),
  }).describe('SIP side of the realm.'),
  media: z
    .strictObject({
      security: securitySchema
        .default('rtp')
        .describe('Media security on this realm\'s legs: dtls-srtp, sdes-srtp, rtp, or as-offered (whatever the caller offered; toward the realm: the same as the other leg).'),
      /** Offer SAVPF/AVPF toward this realm ('strip' turns AVPF into AVP). */
      avpf: z.enum(['keep', 'strip']).default('strip').describe('Offers toward this realm: keep AVPF (SAVPF/AVPF) when the incoming offer had it, or strip it to AVP.'),
      /** Our answer to a=setup:actpass from this realm. */
      actpassAnswer: z.enum(['passive', 'active']).default('passive').describe('DTLS role the SBC takes when this realm offers a=setup:actpass.'),
      /** Music on hold toward this realm's parties: relay the holder's stream, or play locally. */
      moh: z.enum(['relay', 'local']).default('relay').describe('While this realm\'s party is held: relay what the holder sends, or play media.mohFile from the SBC (local).'),
      /** ICE-lite toward WebRTC-style peers (RFC 8445 lite agent on the SBC's DTLS-SRTP legs). */
      ice: z
        .enum(['when-offered', 'offer', 'never'])
        .default('when-offered')
        .describe('ICE-lite on this realm\'s DTLS-SRTP legs: when-offered (answer offers that carry ICE as a lite agent), offer (also offer ICE-lite toward this realm, e.g. browsers), never (strip ICE; such peers must not need it).'),
      /** Fingerprint hash we offer when we are the offerer. */
      fingerprintHash: z
        .enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'])
        .default('sha-256')
        .describe('Hash of the a=fingerprint the SBC offers toward this realm (answers use the hash the offerer used).'),
    })
    .default({ security: 'rtp', avpf: 'strip', actpassAnswer: 'passive', moh: 'relay', ice: 'when-offered', fingerprintHash: 'sha-256' })
    .describe('Media policy of the realm.'),
  /**
   * REFER (call transfer) received from this realm's parties: relay it to the
   * other party ('pass-through', Refer-To mapped to the SBC), carry out the
   * transfer in the SBC ('terminate'), or refuse it with 403 ('reject').
   */
  refer: z
    .enum(['pass-through', 'terminate', 'reject'])
    .default('pass-through')
    .describe('REFER from this realm\'s parties: pass-through (relay, Refer-To mapped to the SBC), terminate (the SBC carries out the transfer), reject (403).'),
});

export const routeSchema = z.strictObject({
  /** Source realm name; absent = any. */
  from: z.string().optional().describe('Source realm name; absent: any.'),
  /** Regular expressions on the Request-URI user and host; absent = any. */
  user: z.string().optional().describe('Regular expression (unanchored) on the Request-URI user; absent: any.'),
  host: z.string().optional().describe('Regular expression (unanchored) on the Request-URI host; absent: any.'),
  /** Target realm name. */
  to: z.string().describe('Target realm name.'),
  /** Target URI; `${user}` is replaced by the Request-URI user. Default: user@nextHop of the target realm. */
  uri: z
    .string()
    .regex(/^sips?:/, 'must be a sip: or sips: URI')
    .optional()
    .describe('Target Request-URI; ${user} is replaced by the Request-URI user. Absent: the user at the target realm\'s nextHop.'),
});

export const configSchema = z
  .strictObject({
    sip: z
      .strictObject({
        engine: z.enum(['embedded', 'external']).default('embedded').describe('embedded: start the esbc-sip child process; external: connect to a drachtio-server.'),
        /** A real drachtio-server (inbound connection mode). */
        external: z
          .strictObject({
            host: z.string().describe('drachtio-server control (admin) address.'),
            port: port.describe('drachtio-server control (admin) port.'),
            secret: z.string().min(1).describe('drachtio-server control secret.'),
          })
          .optional()
          .describe('The drachtio-server to connect to; required when engine is external. Realm listen addresses must match its SIP contacts.'),
        embedded: z
          .strictObject({
            controlPort: port.default(0).describe('Loopback port of the drachtio control connection; 0 lets the OS pick.'),
            secret: z.string().min(8).optional().describe('Control connection secret (8+ characters); absent: random per start.'),
            tls: z
              .strictObject({ cert: z.string().describe('PEM certificate (chain) file.'), key: z.string().describe('PEM private key file.') })
              .optional()
              .describe('Certificate and key for tls and wss listeners.'),
            timers: z
              .strictObject({
                t1Ms: z.number().int().positive().optional().describe('RFC 3261 T1 (RTT estimate); engine default 500.'),
                t2Ms: z.number().int().positive().optional().describe('RFC 3261 T2 (maximum retransmit interval); engine default 4000.'),
                t4Ms: z.number().int().positive().optional().describe('RFC 3261 T4 (maximum message lifetime); engine default 5000.'),
              })
              .optional()
              .describe('SIP transaction timers in milliseconds.'),
            limits: z
              .strictObject({
                perSourceRate: z.number().min(0).optional().describe('Out-of-dialog requests per second one source IP may send (token bucket; in-dialog requests, ACK and CANCEL of pending INVITEs are not counted); over it: 503 with Retry-After. 0: off. Engine default 50.'),
                perSourceBurst: z.number().min(1).optional().describe('Requests one source may send at once before perSourceRate applies. Engine default 100.'),
                perSourceDropRate: z.number().min(0).optional().describe('Requests per second from one source above which the excess is dropped silently instead of answered 503 (no amplification). Engine default 200.'),
                inviteRate: z.number().min(0).optional().describe('New INVITE transactions per second from all sources; over it: 503 with Retry-After (trustedSources go first). 0: off. Engine default 2000.'),
                trustedSources: z
                  .array(z.string().regex(/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, 'an IP address or CIDR network'))
                  .optional()
                  .describe('Addresses or CIDR networks (trunks, own proxies) exempt from the per-source limits, with priority under inviteRate.'),
                maxConnectionsPerSource: z.number().int().min(1).optional().describe('Inbound TCP/TLS/WebSocket connections one source IP may hold. Engine default 100.'),
                maxConnections: z.number().int().min(1).optional().describe('TCP/TLS/WebSocket connections in total. Engine default 10000.'),
                partialMessageSecs: z.number().int().min(1).optional().describe('A TCP/TLS/WebSocket connection that has sent part of a message must complete it within this many seconds, or it is closed (slowloris). Engine default 10.'),
                firstMessageSecs: z.number().int().min(1).optional().describe('An inbound TCP/TLS/WebSocket connection must send its first complete message within this many seconds, or it is closed. Engine default 10.'),
                idleConnectionSecs: z.number().int().min(1).optional().describe('Close TCP/TLS/WebSocket connections idle this long. Engine default 300.'),
                maxMessageBytes: z.number().int().min(1024).max(1048576).optional().describe('Largest SIP message accepted (bytes, headers and body). Engine default 65535.'),
                maxTransactions: z.number().int().min(1).optional().describe('SIP transactions at once; over it new requests get 503. Engine default 100000.'),
                maxDialogs: z.number().int().min(1).optional().describe('SIP dialogs at once; over it new INVITEs get 503. Engine default 50000.'),
                retryAfterSecs: z.number().int().min(0).max(86400).optional().describe('Retry-After of the 503 answers to rate-limited and overload rejections. Engine default 5.'),
              })
              .optional()
              .describe('Flood protection and resource limits of the SIP engine (rejections are counted in esbc_sip_rejections_total).'),
          })
          .default({ controlPort: 0 })
          .describe('Settings of the embedded SIP engine.'),
      })
      .default({ engine: 'embedded', embedded: { controlPort: 0 } })
      .describe('SIP engine.'),
    media: z
      .strictObject({
        bindAddress: ip.default('127.0.0.1').describe('Local IP address of every media port.'),
        /** Address written into SDP when it differs from bindAddress (NAT). */
        advertiseAddress: ip.optional().describe('IP address written into SDP instead of bindAddress (NAT).'),
        portMin: port.default(30000).describe('First media port; RTP/RTCP use even/odd pairs.'),
        portMax: port.default(39999).describe('Last media port (above portMin + 4).'),
        workers: z.number().int().min(0).max(256).default(0).describe('Media worker threads; 0: one per CPU core.'),
        mtu: z.number().int().min(256).max(65507).default(1200).describe('Largest DTLS datagram the engine sends (bytes).'),
        handshakeTimeoutMs: z.number().int().positive().default(30000).describe('DTLS handshake deadline; a leg not connected by then fails the call.'),
        certificate: z
          .strictObject({ cert: z.string().describe('PEM certificate file.'), key: z.string().describe('PEM private key file.') })
          .optional()
          .describe('DTLS certificate and key; absent: an ECDSA P-256 certificate generated at start.'),
        certRotationHours: z.number().min(0).default(24).describe('Regenerate the generated DTLS certificate this often (new calls only); 0: never.'),
        mediaTimeoutSecs: z.number().int().min(0).default(60).describe('Release a call when a leg expected to send has been silent this long; 0: off.'),
        /** WAV file played to held parties in realms with moh: local. */
        mohFile: z.string().optional().describe('16-bit PCM WAV file (any rate) played to held parties in realms with moh: local.'),
      })
      .default({ bindAddress: '127.0.0.1', portMin: 30000, portMax: 39999, workers: 0, mtu: 1200, handshakeTimeoutMs: 30000, certRotationHours: 24, mediaTimeoutSecs: 60 })
      .describe('Media engine.'),
    realms: z.array(realmSchema).min(1).describe('Realms (at least one): a request belongs to the realm whose listen address it arrived on.'),
    routes: z.array(routeSchema).default([]).describe('Routes, tried in order; the first matching the source realm and Request-URI picks the target realm and URI.'),
    log: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
          .default('info')
          .describe('Log level at start; changed at run time by SIGUSR2 or PUT /log-level.'),
      })
      .default({ level: 'info' })
      .describe('Logging (pino JSON lines on stdout; pino-pretty on a terminal).'),
    /** Prometheus /metrics and /health/{live,ready} over HTTP; absent: off. */
    metrics: z
      .strictObject({ address: ip.default('127.0.0.1').describe('Local IP address of the HTTP endpoint.'), port: port.default(9090).describe('Port of the HTTP endpoint; 0 lets the OS pick.') })
      .optional()
      .describe('HTTP endpoint: /metrics, /health/live, /health/ready, /log-level; absent: off.'),
    /** Call detail records: 'stdout' or a file, rotated by size. */
    cdr: z
      .strictObject({
        path: z.string().min(1).describe("'stdout' or a file to append JSON lines to."),
        maxBytes: z.number().int().positive().default(50 * 1024 * 1024).describe('Rotate the file before it would exceed this size.'),
        keep: z.number().int().min(1).default(5).describe('Rotated files kept (path.1 ... path.N).'),
      })
      .optional()
      .describe('Call detail records, one JSON line per call; absent: off.'),
    /** SIGTERM: refuse new calls (503), let calls finish this long, then release them. */
    shutdown: z
      .strictObject({ drainSeconds: z.number().min(0).default(30).describe('How long SIGTERM lets active calls run before releasing them.') })
      .default({ drainSeconds: 30 })
      .describe('Graceful shutdown.'),
  })
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.realms.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: 'custom', path: ['realms', i, 'name'], message: `duplicate realm '${r.name}'` });
      names.add(r.name);
    });
    cfg.routes.forEach((r, i) => {
      if (r.from && !names.has(r.from)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'from'], message: `unknown realm '${r.from}'` });
      if (!names.has(r.to)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'to'], message: `unknown realm '${r.to}'` });
      for (const k of ['user', 'host'] as const) {
        const re = r[k];
        if (re) {
          try {
            new RegExp(re);
          } catch {
            ctx.addIssue({ code: 'custom', path: ['routes', i, k], message: 'not a valid regular expression' });
          }
        }
      }
      const target = cfg.realms.find((x) => x.name === r.to);
      if (target && !r.uri && !target.sip.nextHop) {
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'uri'], message: `realm '${r.to}' has no nextHop, so the route needs a uri` });
      }
    });
    if (cfg.sip.engine === 'embedded' && !cfg.sip.embedded.tls) {
      cfg.realms.forEach((r, i) =>
        r.sip.listen.forEach((l, j) => {
          if (l.transport === 'tls' || l.transport === 'wss') {
            ctx.addIssue({ code: 'custom', path: ['realms', i, 'sip', 'listen', j, 'transport'], message: `${l.transport} needs sip.embedded.tls (cert and key)` });
          }
        }),
      );
    }
    if (cfg.sip.engine === 'external' && !cfg.sip.external) {
      ctx.addIssue({ code: 'custom', path: ['sip', 'external'], message: 'required when sip.engine is external' });
    }
    cfg.realms.forEach((r, i) => {
      if (r.media.moh === 'local' && !cfg.media.mohFile) {
        ctx.addIssue({ code: 'custom', path: ['realms', i, 'media', 'moh'], message: 'moh: local needs media.mohFile' });
      }
    });
    if (cfg.media.portMax <= cfg.media.portMin + 4) {
      ctx.addIssue({ code: 'custom', path: ['media', 'portMax'], message: 'must leave room for at least two port pairs above portMin' });
    }
  });

export type SbcConfig = z.infer<typeof configSchema>;
export type RealmConfig = z.infer<typeof realmSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type MediaSecurityPolicy = z.infer<typeof securitySchema>;
