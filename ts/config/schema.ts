/**
 * The SBC's configuration: a zod schema validated at start, so a bad file
 * fails with the exact key that is wrong (e.g. `realms.1.media.security`).
 */
import { z } from 'zod';

const transport = z.enum(['udp', 'tcp', 'tls']);
const ip = z.string().refine((s) => require('node:net').isIP(s) !== 0, { message: 'must be an IP address' });
const port = z.number().int().min(0).max(65535);

export const listenSchema = z.strictObject({
  transport: transport.default('udp').describe('SIP transport of this listener (tls needs sip.embedded.tls).'),
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
      /** Fingerprint hash we offer when we are the offerer. */
      fingerprintHash: z
        .enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'])
        .default('sha-256')
        .describe('Hash of the a=fingerprint the SBC offers toward this realm (answers use the hash the offerer used).'),
    })
    .default({ security: 'rtp', avpf: 'strip', actpassAnswer: 'passive', moh: 'relay', fingerprintHash: 'sha-256' })
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
              .describe('Certificate and key for tls listeners.'),
            timers: z
              .strictObject({
                t1Ms: z.number().int().positive().optional().describe('RFC 3261 T1 (RTT estimate); engine default 500.'),
                t2Ms: z.number().int().positive().optional().describe('RFC 3261 T2 (maximum retransmit interval); engine default 4000.'),
                t4Ms: z.number().int().positive().optional().describe('RFC 3261 T4 (maximum message lifetime); engine default 5000.'),
              })
              .optional()
              .describe('SIP transaction timers in milliseconds.'),
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
