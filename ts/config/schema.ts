/**
 * The SBC's configuration: a zod schema validated at start, so a bad file
 * fails with the exact key that is wrong (e.g. `realms.1.media.security`).
 */
import { z } from 'zod';

const transport = z.enum(['udp', 'tcp', 'tls']);
const ip = z.string().refine((s) => require('node:net').isIP(s) !== 0, { message: 'must be an IP address' });
const port = z.number().int().min(0).max(65535);

export const listenSchema = z.strictObject({
  transport: transport.default('udp'),
  address: ip,
  port: port.default(5060),
});

export const securitySchema = z.enum(['dtls-srtp', 'sdes-srtp', 'rtp', 'as-offered']);

export const realmSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  sip: z.strictObject({
    /** Where this realm's peers reach the SBC; requests arriving here belong to the realm. */
    listen: z.array(listenSchema).min(1),
    /** Default next hop for calls routed into this realm (a SIP URI). */
    nextHop: z.string().regex(/^sips?:/, 'must be a sip: or sips: URI').optional(),
  }),
  media: z
    .strictObject({
      security: securitySchema.default('rtp'),
      /** Offer SAVPF/AVPF toward this realm ('strip' turns AVPF into AVP). */
      avpf: z.enum(['keep', 'strip']).default('strip'),
      /** Our answer to a=setup:actpass from this realm. */
      actpassAnswer: z.enum(['passive', 'active']).default('passive'),
      /** Music on hold toward this realm's parties: relay the holder's stream, or play locally. */
      moh: z.enum(['relay', 'local']).default('relay'),
      /** Fingerprint hash we offer when we are the offerer. */
      fingerprintHash: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']).default('sha-256'),
    })
    .default({ security: 'rtp', avpf: 'strip', actpassAnswer: 'passive', moh: 'relay', fingerprintHash: 'sha-256' }),
  /**
   * REFER (call transfer) received from this realm's parties: relay it to the
   * other party ('pass-through', Refer-To mapped to the SBC), carry out the
   * transfer in the SBC ('terminate'), or refuse it with 403 ('reject').
   */
  refer: z.enum(['pass-through', 'terminate', 'reject']).default('pass-through'),
});

export const routeSchema = z.strictObject({
  /** Source realm name; absent = any. */
  from: z.string().optional(),
  /** Regular expressions on the Request-URI user and host; absent = any. */
  user: z.string().optional(),
  host: z.string().optional(),
  /** Target realm name. */
  to: z.string(),
  /** Target URI; `${user}` is replaced by the Request-URI user. Default: user@nextHop of the target realm. */
  uri: z.string().regex(/^sips?:/, 'must be a sip: or sips: URI').optional(),
});

export const configSchema = z
  .strictObject({
    sip: z
      .strictObject({
        engine: z.enum(['embedded', 'external']).default('embedded'),
        /** A real drachtio-server (inbound connection mode). */
        external: z.strictObject({ host: z.string(), port: port, secret: z.string().min(1) }).optional(),
        embedded: z
          .strictObject({
            controlPort: port.default(0),
            secret: z.string().min(8).optional(),
            tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
            timers: z.strictObject({ t1Ms: z.number().int().positive().optional(), t2Ms: z.number().int().positive().optional(), t4Ms: z.number().int().positive().optional() }).optional(),
          })
          .default({ controlPort: 0 }),
      })
      .default({ engine: 'embedded', embedded: { controlPort: 0 } }),
    media: z
      .strictObject({
        bindAddress: ip.default('127.0.0.1'),
        /** Address written into SDP when it differs from bindAddress (NAT). */
        advertiseAddress: ip.optional(),
        portMin: port.default(30000),
        portMax: port.default(39999),
        workers: z.number().int().min(0).max(256).default(0),
        mtu: z.number().int().min(256).max(65507).default(1200),
        handshakeTimeoutMs: z.number().int().positive().default(30000),
        certificate: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
        certRotationHours: z.number().min(0).default(24),
        mediaTimeoutSecs: z.number().int().min(0).default(60),
        /** WAV file played to held parties in realms with moh: local. */
        mohFile: z.string().optional(),
      })
      .default({ bindAddress: '127.0.0.1', portMin: 30000, portMax: 39999, workers: 0, mtu: 1200, handshakeTimeoutMs: 30000, certRotationHours: 24, mediaTimeoutSecs: 60 }),
    realms: z.array(realmSchema).min(1),
    routes: z.array(routeSchema).default([]),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).default({ level: 'info' }),
    /** Prometheus /metrics and /health/{live,ready} over HTTP; absent: off. */
    metrics: z.strictObject({ address: ip.default('127.0.0.1'), port: port.default(9090) }).optional(),
    /** Call detail records: 'stdout' or a file, rotated by size. */
    cdr: z
      .strictObject({ path: z.string().min(1), maxBytes: z.number().int().positive().default(50 * 1024 * 1024), keep: z.number().int().min(1).default(5) })
      .optional(),
    /** SIGTERM: refuse new calls (503), let calls finish this long, then release them. */
    shutdown: z.strictObject({ drainSeconds: z.number().min(0).default(30) }).default({ drainSeconds: 30 }),
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
