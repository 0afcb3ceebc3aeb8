/**
 * Starts the embedded SIP engine (native/sip, binary `esbc-sip`) as a child
 * process and waits for its ready line. drachtio-srf then connects to
 * `{controlHost, controlPort, secret}` exactly as it would to an external
 * drachtio-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

/** ws/wss: SIP over WebSocket (RFC 7118), inbound only (browsers connect to the SBC). */
export type SipTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface SipListen {
  transport: SipTransport;
  address: string;
  /** 0 lets the OS pick; the chosen port is reported in `sipListen`. */
  port: number;
}

export interface EmbeddedSipEngineOptions {
  listen: SipListen[];
  /** Secret drachtio-srf must present; required. */
  secret: string;
  /** Control (drachtio protocol) address; loopback by default. */
  controlAddress?: string;
  /** Control port; 0 (default) lets the OS pick. */
  controlPort?: number;
  /** Certificate and key of tls and wss listeners. */
  tls?: { cert: string; key: string };
  timers?: { t1Ms?: number; t2Ms?: number; t4Ms?: number };
  limits?: EmbeddedSipLimits;
  /** RFC 4028 interval added to outgoing INVITEs that carry none. */
  sessionTimerSecs?: number;
  /** Lowest session interval (RFC 4028 Min-SE) the engine runs a timer with; default 90. */
  sessionTimerMinSecs?: number;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Receives each JSON log line of the engine (default: stderr passthrough). */
  onLog?: (entry: EngineLogEntry) => void;
  /** Binary path; default $ESBC_SIP_BIN or <package root>/target/release/esbc-sip. */
  binaryPath?: string;
  /** How long to wait for the ready line (ms, default 10000). */
  startTimeoutMs?: number;
}

/** Engine limits (native/sip/README.md); absent keys take the engine's defaults. */
export interface EmbeddedSipLimits {
  maxMessageBytes?: number;
  maxTransactions?: number;
  maxDialogs?: number;
  idleConnectionSecs?: number;
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  perSourceRate?: number;
  perSourceBurst?: number;
  perSourceDropRate?: number;
  inviteRate?: number;
  trustedSources?: string[];
  partialMessageSecs?: number;
  firstMessageSecs?: number;
  retryAfterSecs?: number;
}

/** One row of the engine's SIP message counters. */
export interface SipMessageCount {
  direction: 'in' | 'out';
  transport: SipTransport;
  /** Request method, or the CSeq method of a response; unknown methods are "other". */
  method: string;
  /** Response status code; '' for requests. */
  status: string;
  count: number;
}

/** The engine's counters, read in one batch (the `stats` stdin command). */
export interface SipEngineStats {
  messages: SipMessageCount[];
  /** Requests/connections refused or dropped, by reason (counters since start). */
  rejections: Record<string, number>;
  /** Current transactions, dialogs, connections, apps. */
  active: Record<string, number>;
}

export interface EngineLogEntry {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface EmbeddedSipEngine {
  controlHost: string;
  controlPort: number;
  secret: string;
  sipListen: SipListen[];
  pid: number;
  /** Changes the engine's log level while it runs (a `log-level` line on its stdin). */
  setLogLevel(level: 'error' | 'warn' | 'info' | 'debug'): void;
  /**
   * Reads the engine's counters in one batch (a `stats` line on its stdin,
   * answered by one JSON line on its stdout). Rejects after `timeoutMs`
   * (default 2000) or when the engine has exited.
   */
  stats(timeoutMs?: number): Promise<SipEngineStats>;
  /** Resolves when the process has exited (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>;
}

interface ReadyLine {
  ready: true;
  controlAddress: string;
  controlPort: number;
  sip: SipListen[];
}

export function defaultSipBinaryPath(): string {
  const fromEnv = process.env['ESBC_SIP_BIN'];
  if (fromEnv) return fromEnv;
  // dist/index.js or ts/sip/embedded-engine.ts: walk up to the package root.
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json'))) break;
    dir = path.dirname(dir);
  }
  return path.join(dir, 'target', 'release', 'esbc-sip');
}

function buildConfig(o: EmbeddedSipEngineOptions): Record<string, unknown> {
  return {
    listen: o.listen,
    tls: o.tls,
    control: { address: o.controlAddress ?? '127.0.0.1', port: o.controlPort ?? 0, secret: o.secret },
    timers: o.timers ?? {},
    limits: o.limits ?? {},
    sessionTimerSecs: o.sessionTimerSecs,
    sessionTimerMinSecs: o.sessionTimerMinSecs,
    logLevel: o.logLevel ?? 'info',
  };
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The binary also sets PR_SET_PDEATHSIG; this covers normal exits.
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export function startEmbeddedSipEngine(options: EmbeddedSipEngineOptions): Promise<EmbeddedSipEngine> {
  if (!options.secret) return Promise.reject(new Error('startEmbeddedSipEngine: secret is required'));
  if (!options.listen.length) return Promise.reject(new Error('startEmbeddedSipEngine: listen must not be empty'));
  const bin = options.binaryPath ?? defaultSipBinaryPath();
  const child = spawn(bin, ['--config-json', JSON.stringify(buildConfig(options))], {
    // stdin carries run-time commands (log level, stats); see native/sip/README.md.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin!.on('error', () => {
    /* the engine exited; its exit is reported below */
  });
  live.add(child);
  installExitHook();
  const onLog =
    options.onLog ??
    ((e: EngineLogEntry): void => {
      process.stderr.write(JSON.stringify({ component: 'esbc-sip', ...e }) + '\n');
    });
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      onLog(JSON.parse(line) as EngineLogEntry);
    } catch {
      onLog({ level: 'info', msg: line });
    }
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });

  // `stats` requests are answered in order, one stdout line each.
  const pendingStats: Array<{ resolve: (s: SipEngineStats) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  const failStats = (err: Error): void => {
    for (const p of pendingStats.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  };
  child.once('exit', () => failStats(new Error('esbc-sip exited')));
  const stats = (timeoutMs = 2000): Promise<SipEngineStats> =>
    new Promise<SipEngineStats>((res, rej) => {
      if (child.exitCode !== null || child.signalCode !== null || !child.stdin?.writable) {
        rej(new Error('esbc-sip is not running'));
        return;
      }
      const entry = {
        resolve: res,
        reject: rej,
        timer: setTimeout(() => {
          const i = pendingStats.indexOf(entry);
          if (i >= 0) pendingStats.splice(i, 1);
          rej(new Error(`esbc-sip stats: no answer within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      pendingStats.push(entry);
      child.stdin.write('stats\n');
    });
  const onStatsLine = (line: string): void => {
    let v: { stats?: SipEngineStats };
    try {
      v = JSON.parse(line) as { stats?: SipEngineStats };
    } catch {
      return;
    }
    if (!v.stats) return;
    const p = pendingStats.shift();
    if (!p) return;
    clearTimeout(p.timer);
    p.resolve(v.stats);
  };

  return new Promise<EmbeddedSipEngine>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new Error(`esbc-sip did not become ready within ${options.startTimeoutMs ?? 10000} ms`)),
      options.startTimeoutMs ?? 10000,
    );
    child.once('error', (err) => fail(new Error(`cannot start esbc-sip (${bin}): ${err.message}`)));
    child.once('exit', (code, signal) => fail(new Error(`esbc-sip exited before ready (code ${code}, signal ${signal})`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (settled) return onStatsLine(line);
      let ready: ReadyLine;
      try {
        ready = JSON.parse(line) as ReadyLine;
      } catch {
        return;
      }
      if (ready.ready !== true) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        controlHost: ready.controlAddress,
        controlPort: ready.controlPort,
        secret: options.secret,
        sipListen: ready.sip,
        pid: child.pid ?? -1,
        stats,
        setLogLevel: (level): void => {
          if (child.exitCode === null && child.signalCode === null && child.stdin?.writable) child.stdin.write(`log-level ${level}\n`);
        },
        stop: async (): Promise<void> => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(kill);
        },
      });
    });
  });
}
