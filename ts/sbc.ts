/**
 * Starting and stopping the whole SBC: media engine, SIP engine (embedded
 * child process, or an external drachtio-server), drachtio-srf and the app.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Srf from 'drachtio-srf';

import { SbcApp } from './b2bua/app';
import { Router } from './b2bua/routing';
import type { SbcConfig } from './config';
import { loadMusicWav, MediaEngine } from './media';
import { CdrWriter } from './ops/cdr';
import { startOpsServer } from './ops/http';
import { createLogger, isLogLevel, LOG_LEVELS, setLogLevel, type Logger, type LogLevel } from './ops/log';
import { SbcMetrics } from './ops/metrics';
import { OpsObserver } from './ops/observer';
import { startEmbeddedSipEngine, type EmbeddedSipEngine, type SipListen } from './sip';

export interface RunningSbc {
  config: SbcConfig;
  engine: MediaEngine;
  srf: Srf;
  app: SbcApp;
  sipEngine?: EmbeddedSipEngine;
  /** The SIP listen addresses actually bound, per realm (port 0 resolved). */
  sipListen: Record<string, SipListen[]>;
  log: Logger;
  metrics: SbcMetrics;
  /** Port of the metrics/health endpoint, when enabled. */
  opsPort?: number;
  /** The current log level. */
  readonly logLevel: string;
  /**
   * Changes the log level at run time: the SBC's logger with every live
   * call's logger, and the embedded SIP engine's (debug for debug and trace,
   * info otherwise). Throws on an unknown level name.
   */
  setLogLevel(level: string): LogLevel;
  /** SIGUSR2 in the CLI: configured level -> debug -> trace -> configured level. */
  cycleLogLevel(): LogLevel;
  /**
   * Graceful stop: new INVITEs get 503, active calls may finish for
   * `drainMs` (default config.shutdown.drainSeconds), the rest are released
   * with BYE and a Reason, then everything closes.
   */
  stop(opts?: { drainMs?: number }): Promise<void>;
}

export async function startSbc(config: SbcConfig, log: Logger = createLogger(config.log.level)): Promise<RunningSbc> {
  const m = config.media;
  const cert = m.certificate ? { certPem: readFileSync(m.certificate.cert, 'utf8'), keyPem: readFileSync(m.certificate.key, 'utf8') } : {};
  const engine = new MediaEngine({
    bindAddress: m.bindAddress,
    portMin: m.portMin,
    portMax: m.portMax,
    workers: m.workers || undefined,
    mtu: m.mtu,
    handshakeTimeoutMs: m.handshakeTimeoutMs,
    certRotationSecs: Math.round(m.certRotationHours * 3600),
    mediaTimeoutSecs: m.mediaTimeoutSecs,
    ...cert,
  });
  if (m.mohFile) {
    try {
      const music = loadMusicWav(m.mohFile);
      engine.setMusic(music);
      log.info({ file: m.mohFile, seconds: music.seconds }, 'music on hold loaded');
    } catch (err) {
      engine.shutdown();
      throw new Error(`media.mohFile: ${(err as Error).message}`);
    }
  }
  // The native engine's own log lines (media workers, SRTP set-up).
  const mediaLog = log.child({ component: 'media-engine' });
  engine.on('log', (r) => mediaLog[r.level]({ target: r.target }, r.message));
  const { workers, ioBackend, ioFallback } = engine.counters();
  log.info({ versions: MediaEngine.versions(), ports: `${m.bindAddress}:${m.portMin}-${m.portMax}`, workers, io: ioBackend }, 'media engine started');
  if (ioFallback) log.warn({ reason: ioFallback }, 'media I/O on epoll: io_uring unavailable here (ESBC_IO_BACKEND=epoll chooses it without this warning)');

  let sipEngine: EmbeddedSipEngine | undefined;
  let control: { host: string; port: number; secret: string };
  const sipListen: Record<string, SipListen[]> = {};
  const boundPorts = new Map<string, number>();
  try {
    if (config.sip.engine === 'external') {
      const ext = config.sip.external!;
      control = { host: ext.host, port: ext.port, secret: ext.secret };
      for (const r of config.realms) sipListen[r.name] = r.sip.listen;
    } else {
      const emb = config.sip.embedded;
      const wanted = config.realms.flatMap((r) => r.sip.listen.map((l) => ({ realm: r.name, ...l })));
      const sipLog = log.child({ component: 'sip-engine' });
      sipEngine = await startEmbeddedSipEngine({
        listen: wanted.map(({ transport, address, port }) => ({ transport, address, port })),
        secret: emb.secret ?? randomBytes(18).toString('base64url'),
        controlPort: emb.controlPort,
        tls: emb.tls,
        timers: emb.timers,
        limits: emb.limits,
        logLevel: sipEngineLevel(config.log.level),
        onLog: ({ level, msg, ts: _ts, ...fields }) => sipLog[level === "error" || level === "warn" || level === "debug" ? level : "info"](fields, msg),
      });
      wanted.forEach((w, i) => {
        const bound = sipEngine!.sipListen[i] ?? w;
        (sipListen[w.realm] ??= []).push(bound);
        boundPorts.set(`${w.realm}/${w.transport}/${w.address}`, bound.port);
      });
      control = { host: sipEngine.controlHost, port: sipEngine.controlPort, secret: sipEngine.secret };
    }
  } catch (err) {
    engine.shutdown();
    throw err;
  }

  const srf = new Srf();
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot connect to the SIP engine at ${control.host}:${control.port}: ${err.message}`));
    srf.once('error', onError);
    srf.once('connect', () => {
      srf.removeListener('error', onError);
      resolve();
    });
    srf.connect({ host: control.host, port: control.port, secret: control.secret });
  }).catch(async (err) => {
    await sipEngine?.stop();
    engine.shutdown();
    throw err;
  });
  srf.on('error', (err: Error) => log.error({ err }, 'drachtio connection error'));

  let app!: SbcApp;
  const metrics = new SbcMetrics({
    engine,
    activeCalls: () => app.calls.size,
    ...(sipEngine ? { sipStats: () => sipEngine!.stats() } : {}),
    liveStats: () =>
      [...app.calls.values()].flatMap((c) => {
        if (c.pipeline.isClosed) return [];
        return [{ kinds: { a: c.leg('a').plan.security, b: c.leg('b').plan.security }, stats: c.pipeline.stats() }];
      }),
  });
  engine.on('event', (e) => metrics.onMediaEvent(e));
  const cdrs = config.cdr ? new CdrWriter(config.cdr) : undefined;
  app = new SbcApp({
    srf,
    engine,
    router: new Router(config),
    log,
    advertiseAddress: m.advertiseAddress,
    boundPorts,
    observer: new OpsObserver(metrics, cdrs),
  });
  app.attach();
  const changeLogLevel = (level: string): LogLevel => {
    if (!isLogLevel(level)) throw new Error(`unknown log level '${level}' (one of ${LOG_LEVELS.join(', ')})`);
    const from = log.level;
    setLogLevel(log, level);
    sipEngine?.setLogLevel(sipEngineLevel(level));
    // At the new level when it lets info through, else at the level that was set (so the change itself is visible).
    if (log.isLevelEnabled('info')) log.info({ from, to: level }, 'log level changed');
    else if (level !== 'silent') log[level]({ from, to: level }, 'log level changed');
    return level;
  };
  const logCycle = [...new Set<LogLevel>([config.log.level, 'debug', 'trace'])];
  const ops = config.metrics
    ? await startOpsServer({
        address: config.metrics.address,
        port: config.metrics.port,
        registry: metrics.registry,
        ready: () => app.isAccepting,
        logLevel: { get: () => log.level, set: changeLogLevel },
      })
    : undefined;
  if (ops) log.info({ metrics: `http://${config.metrics!.address}:${ops.port}/metrics` }, 'metrics and health endpoint listening');
  log.info({ sip: sipListen, engine: config.sip.engine }, 'SBC ready');

  let stopped = false;
  return {
    config,
    engine,
    srf,
    app,
    sipEngine,
    sipListen,
    log,
    metrics,
    opsPort: ops?.port,
    get logLevel() {
      return log.level;
    },
    setLogLevel: changeLogLevel,
    cycleLogLevel() {
      const i = logCycle.indexOf(log.level as LogLevel);
      return changeLogLevel(logCycle[(i + 1) % logCycle.length]!);
    },
    async stop(opts = {}) {
      if (stopped) return;
      stopped = true;
      app.stopAccepting();
      const drainMs = opts.drainMs ?? 0;
      if (drainMs > 0 && app.calls.size > 0) {
        log.info({ calls: app.calls.size, drainMs }, 'draining: new calls refused, waiting for active calls to end');
        const until = Date.now() + drainMs;
        while (app.calls.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      }
      const remaining = [...app.calls.values()];
      if (remaining.length > 0) log.info({ calls: remaining.length }, 'releasing remaining calls');
      for (const call of remaining) call.release('SBC shutting down');
      // Let the BYEs go out before the SIP engine stops.
      if (remaining.length > 0) await new Promise((r) => setTimeout(r, 300));
      await ops?.close();
      disconnectSrf(srf);
      await sipEngine?.stop();
      engine.shutdown();
    },
  };
}

/**
 * The SIP engine's level: debug for debug and trace, otherwise info. Lines
 * the SBC's level does not want are filtered here (the engine's logger is a
 * child of the SBC's). The engine is never made quieter than info, its level
 * before run-time changes existed: that changes SIP timing enough to widen a
 * race in drachtio-srf (a re-INVITE right after the ACK, before Call.connect
 * has its 'modify' listener, is answered by srf itself).
 */
function sipEngineLevel(level: string): 'info' | 'debug' {
  return level === 'debug' || level === 'trace' ? 'debug' : 'info';
}

interface WireProtocolInternals {
  closing?: boolean;
  reconnectVars?: { retryTimer?: ReturnType<typeof setTimeout> | null };
  /** Set only by a reconnect (the first connection's socket is the agent's default socket). */
  socket?: { destroy(): void };
}

interface AgentInternals {
  wp?: WireProtocolInternals;
  _getDefaultSocket?(): { destroy(): void } | undefined;
}

/**
 * Closes the drachtio connection for good, also when it is already lost.
 * drachtio-srf 5 throws from disconnect() when its socket is gone (the SIP
 * engine stopped or crashed first) and then keeps retrying the connection
 * forever, which kept the process alive and skipped the rest of stop().
 */
function disconnectSrf(srf: Srf): void {
  const agent = (srf as unknown as { _app?: { client?: AgentInternals } })._app?.client;
  const wp = agent?.wp;
  const socket = agent?._getDefaultSocket?.();
  try {
    srf.disconnect();
    // disconnect() only end()s the socket and forgets its read buffer; data
    // the engine already sent (BYE answers of released calls) then arrives
    // mid-frame into a new buffer and srf throws "invalid message, missing
    // length specifier" out of the socket's data handler: the process dies.
    // Stop reading as well.
    socket?.destroy();
    return;
  } catch {
    /* no live connection: stop the reconnect loop below */
  }
  if (!wp) return;
  wp.closing = true;
  if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
  if (wp.reconnectVars) wp.reconnectVars.retryTimer = null;
  wp.socket?.destroy();
}
