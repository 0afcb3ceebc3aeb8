/**
 * MediaEngine: the typed face of the native engine. One Pipeline per call;
 * events arrive in batches from the native side and are re-emitted per
 * pipeline and on the engine.
 */
import { EventEmitter } from 'node:events';

import { fromNative, MediaEngineError } from './errors';
import { loadNative } from './native';
import type {
  EngineCounters,
  Fingerprint,
  HashName,
  LegSpec,
  LegUpdate,
  LegUpdateResult,
  LocalLeg,
  MediaEngineOptions,
  MediaEvent,
  PipelineStats,
  Side,
} from './types';

type NativeEngine = InstanceType<ReturnType<typeof loadNative>['NativeMediaEngine']>;
type NativeOutput = Parameters<Parameters<NativeEngine['onEvents']>[0]>[0];
type NativeCompletion = NativeOutput['completions'][number];
/** Called once with the worker's answer, or with undefined when the engine shut down first. */
type Settle = (c: NativeCompletion | undefined) => void;

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

/** A log record of the native engine (media workers, SRTP set-up). */
export interface MediaLogRecord {
  level: 'error' | 'warn' | 'info';
  /** The Rust module that logged it. */
  target: string;
  message: string;
}

export interface MediaEngineEvents {
  event: [MediaEvent];
  /** Records are process-wide: with several engines, any one of them may deliver a record. */
  log: [MediaLogRecord];
}

export class MediaEngine extends EventEmitter<MediaEngineEvents> {
  private readonly native: NativeEngine;
  private readonly pipelines = new Map<number, Pipeline>();
  /** update/close requests the workers have not answered yet, by token. */
  private readonly pending = new Map<number, Settle>();
  private nextToken = 1;
  /**
   * Keeps the process alive while a request is unanswered (the event
   * forwarder alone does not: an idle engine must not hold the process).
   */
  private readonly keepAlive = setInterval(() => undefined, 2 ** 31 - 1).unref();
  private closed = false;

  constructor(options: MediaEngineOptions = {}) {
    super();
    const { NativeMediaEngine } = loadNative();
    this.native = call(() => new NativeMediaEngine(options));
    this.native.onEvents((output) => this.dispatch(output));
  }

  /** Versions of the OpenSSL and libsrtp linked into the addon. */
  static versions(): ReturnType<ReturnType<typeof loadNative>['nativeVersions']> {
    return loadNative().nativeVersions();
  }

  createPipeline(spec: { a: LegSpec; b: LegSpec }): Pipeline {
    if (this.closed) throw new MediaEngineError('Closed', 'media engine is shut down');
    const created = call(() => this.native.createPipeline(toNativeSpec(spec.a), toNativeSpec(spec.b)));
    const p = new Pipeline(this, this.native, created.id, stripNulls({ a: created.a, b: created.b }) as { a: LocalLeg; b: LocalLeg });
    this.pipelines.set(created.id, p);
    return p;
  }

  /** The fingerprint new calls get (rotates with the certificate). */
  currentFingerprint(hash: HashName = 'sha-256'): Fingerprint {
    return call(() => this.native.currentFingerprint(hash));
  }

  /** Audio for music on hold (8 kHz G.711), used by calls created afterwards. */
  setMusic(music: { pcmu: Buffer; pcma: Buffer }): void {
    call(() => this.native.setMusic(music.pcmu, music.pcma));
  }

  rotateCertificate(): void {
    call(() => this.native.rotateCertificate());
  }

  counters(): EngineCounters {
    const c = this.native.counters();
    return { ...c, ioBackend: c.ioBackend === 'io_uring' ? 'io_uring' : 'epoll', ioFallback: c.ioFallback ?? undefined };
  }

  get activePipelines(): number {
    return this.pipelines.size;
  }

  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.shutdown();
    for (const p of this.pipelines.values()) p.markClosed();
    this.pipelines.clear();
    for (const settle of this.pending.values()) settle(undefined);
    this.pending.clear();
    clearInterval(this.keepAlive);
  }

  /**
   * @internal Sends a request the worker answers later (the send itself is
   * synchronous, so requests to one pipeline keep their order).
   */
  request(send: (token: number) => void, settle: Settle): void {
    if (this.closed) return settle(undefined);
    const token = this.nextToken++;
    this.pending.set(token, settle);
    try {
      send(token);
    } catch (err) {
      this.pending.delete(token);
      if (this.pending.size === 0) this.keepAlive.unref();
      throw err;
    }
    if (this.pending.size === 1) this.keepAlive.ref();
  }

  /** @internal */
  forget(id: number): void {
    this.pipelines.delete(id);
  }

  private dispatch(output: NativeOutput): void {
    for (const c of output.completions) {
      const settle = this.pending.get(c.token);
      this.pending.delete(c.token);
      settle?.(c);
    }
    if (output.completions.length > 0 && this.pending.size === 0) this.keepAlive.unref();
    for (const l of output.logs) this.emit('log', l as MediaLogRecord);
    for (const ev of output.events as MediaEvent[]) {
      const clean = stripNulls(ev);
      this.pipelines.get(clean.pipeline)?.emit('event', clean);
      this.emit('event', clean);
    }
  }
}

export interface PipelineEvents {
  event: [MediaEvent];
}

export class Pipeline extends EventEmitter<PipelineEvents> {
  private closed = false;

  /** @internal */
  constructor(
    private readonly engine: MediaEngine,
    private readonly native: NativeEngine,
    readonly id: number,
    readonly local: { a: LocalLeg; b: LocalLeg },
  ) {
    super();
  }

  /**
   * Applies a re-offer/answer to a leg; reports our ICE credentials when
   * `update.ice` was given, and our tls-id (also kept in `local[side]`).
   */
  async update(side: Side, update: LegUpdate): Promise<LegUpdateResult> {
    this.ensureOpen();
    const sent: { ice?: LegUpdateResult['ice'] | null } = {};
    const done = await new Promise<NativeCompletion | undefined>((resolve) => {
      this.engine.request((token) => (sent.ice = call(() => this.native.updateLeg(this.id, side, toNativeUpdate(update), token))), resolve);
    });
    if (!done) throw new MediaEngineError('Closed', `pipeline ${this.id} closed before the update was applied`);
    if (done.error) throw fromNative(new Error(done.error));
    const result = stripNulls({ ice: sent.ice, tlsId: done.tlsId }) as LegUpdateResult;
    if (result.tlsId) this.local[side].tlsId = result.tlsId;
    else delete this.local[side].tlsId;
    return result;
  }

  /** Our fingerprint on this call (stable for the call) in the given hash. */
  fingerprint(hash: HashName): Fingerprint {
    this.ensureOpen();
    return call(() => this.native.pipelineFingerprint(this.id, hash));
  }

  stats(): PipelineStats {
    this.ensureOpen();
    return stripNulls(call(() => this.native.stats(this.id))) as PipelineStats;
  }

  /**
   * Stops the pipeline at once (no further calls on it); resolves with the
   * final counters when the worker has closed its sockets and freed its
   * ports. Idempotent: later calls resolve with undefined.
   */
  close(): Promise<PipelineStats | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    this.closed = true;
    this.engine.forget(this.id);
    return new Promise((resolve, reject) => {
      try {
        this.engine.request((token) => this.native.closePipeline(this.id, token), (c) => resolve(c?.stats ? (stripNulls(c.stats) as PipelineStats) : undefined));
      } catch (err) {
        const e = fromNative(err);
        if (e.code === 'NoSuchPipeline') resolve(undefined);
        else reject(e);
      }
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  markClosed(): void {
    this.closed = true;
  }

  private ensureOpen(): void {
    if (this.closed) throw new MediaEngineError('Closed', `pipeline ${this.id} is closed`);
  }
}

function toNativeSpec(s: LegSpec) {
  return { ...s } as Parameters<NativeEngine['createPipeline']>[0];
}

function toNativeUpdate(u: LegUpdate) {
  return { ...u } as Parameters<NativeEngine['updateLeg']>[2];
}

/** napi returns `null` for absent optionals; the typed API uses `undefined`. */
function stripNulls<T>(v: T): T {
  if (Array.isArray(v)) return v.map(stripNulls) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = stripNulls(x);
    return out as T;
  }
  return v;
}
