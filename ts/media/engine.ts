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

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

export interface MediaEngineEvents {
  event: [MediaEvent];
}

export class MediaEngine extends EventEmitter<MediaEngineEvents> {
  private readonly native: NativeEngine;
  private readonly pipelines = new Map<number, Pipeline>();
  private closed = false;

  constructor(options: MediaEngineOptions = {}) {
    super();
    const { NativeMediaEngine } = loadNative();
    this.native = call(() => new NativeMediaEngine(options));
    this.native.onEvents((batch) => this.dispatch(batch as MediaEvent[]));
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
    return this.native.counters();
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
  }

  /** @internal */
  forget(id: number): void {
    this.pipelines.delete(id);
  }

  private dispatch(batch: MediaEvent[]): void {
    for (const ev of batch) {
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
  update(side: Side, update: LegUpdate): LegUpdateResult {
    this.ensureOpen();
    const result = stripNulls(call(() => this.native.updateLeg(this.id, side, toNativeUpdate(update)))) as LegUpdateResult;
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

  /** Frees the ports and returns the final counters. Idempotent. */
  close(): PipelineStats | undefined {
    if (this.closed) return undefined;
    this.closed = true;
    this.engine.forget(this.id);
    try {
      return stripNulls(this.native.closePipeline(this.id)) as PipelineStats;
    } catch (err) {
      const e = fromNative(err);
      if (e.code === 'NoSuchPipeline') return undefined;
      throw e;
    }
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
