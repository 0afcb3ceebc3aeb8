/**
 * Prometheus metrics (prom-client). Call and DTLS outcomes are counted as
 * they happen; media counters are read from the engine in one batch per
 * scrape (live pipelines) plus totals folded in when each call ends — never
 * per packet through JavaScript.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { MediaEngine, MediaEvent, PipelineStats } from '../media';
import type { SipEngineStats } from '../sip';
import { registerWorkerLoad } from './worker-load';

export interface MetricsSource {
  engine: MediaEngine;
  /** Live pipelines' stats, read on scrape. */
  liveStats(): Array<{ kinds: { a: string; b: string }; stats: PipelineStats }>;
  activeCalls(): number;
  /** The embedded SIP engine's counters, read once per scrape; absent with an external drachtio-server. */
  sipStats?: () => Promise<SipEngineStats>;
}

const DROP_REASONS = [
  'malformed', 'stun', 'unexpected_dtls', 'wrong_source', 'auth_fail', 'replay',
  'ssrc_limit', 'no_keys', 'direction', 'no_destination', 'oversized', 'send_error',
  'stun_auth', 'stun_fingerprint', 'no_consent',
] as const;

export class SbcMetrics {
  readonly registry = new Registry();
  readonly callsTotal: Counter<'result'>;
  readonly setupSeconds: Histogram;
  readonly rejections: Counter<'status'>;
  readonly dtlsHandshakes: Counter<'outcome'>;
  readonly dtlsFailures: Counter<'reason'>;
  readonly dtlsHandshakeSeconds: Histogram;
  /** Media totals of ended calls; live calls are added at scrape time. */
  private readonly endedPackets = new Map<string, number>();
  private readonly endedDrops = new Map<string, number>();

  constructor(private readonly source: MetricsSource) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'esbc_process_' });
    this.callsTotal = new Counter({ name: 'esbc_calls_total', help: 'Calls by outcome', labelNames: ['result'], registers: [r] });
    this.setupSeconds = new Histogram({
      name: 'esbc_call_setup_seconds',
      help: 'INVITE received to call answered',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [r],
    });
    this.rejections = new Counter({ name: 'esbc_call_rejections_total', help: 'Calls refused by the SBC, by SIP status', labelNames: ['status'], registers: [r] });
    this.dtlsHandshakes = new Counter({ name: 'esbc_dtls_handshakes_total', help: 'DTLS handshakes by outcome', labelNames: ['outcome'], registers: [r] });
    this.dtlsHandshakeSeconds = new Histogram({
      name: 'esbc_dtls_handshake_seconds',
      help: 'Duration of completed DTLS handshakes, first datagram to verified peer',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
    this.dtlsFailures = new Counter({ name: 'esbc_dtls_failures_total', help: 'DTLS failures by reason', labelNames: ['reason'], registers: [r] });
    new Gauge({ name: 'esbc_calls_active', help: 'Calls in progress', registers: [r], collect() { this.set(source.activeCalls()); } });
    const engineGauge = (name: string, help: string, pick: (c: ReturnType<MediaEngine['counters']>) => number) =>
      new Gauge({ name, help, registers: [r], collect() { this.set(pick(source.engine.counters())); } });
    engineGauge('esbc_media_port_pairs_in_use', 'Media port pairs bound', (c) => c.portPairsInUse);
    engineGauge('esbc_media_port_pairs_total', 'Media port pairs in the range', (c) => c.portPairsTotal);
    engineGauge('esbc_media_workers', 'Media worker threads', (c) => c.workers);
    new Gauge({
      name: 'esbc_media_io_backend',
      help: 'The media workers\' socket I/O (1 on the backend in use)',
      labelNames: ['backend'],
      registers: [r],
      collect() {
        const used = source.engine.counters().ioBackend;
        for (const backend of ['io_uring', 'epoll']) this.set({ backend }, backend === used ? 1 : 0);
      },
    });
    registerWorkerLoad(r);
    engineGauge('esbc_media_events_dropped_total', 'Engine events lost to a full queue', (c) => c.droppedEvents);
    engineGauge('esbc_media_receive_starved_total', 'Receives that found every receive buffer in use (io_uring; the worker fell behind its sockets)', (c) => c.receiveStarved);
    engineGauge('esbc_media_send_errors_total', 'Relayed datagrams the kernel refused to send (no route, ICMP error, full buffer)', (c) => c.sendErrors);
    engineGauge('esbc_media_cert_rotations_total', 'DTLS certificate rotations', (c) => c.certRotations);
    engineGauge('esbc_media_log_records_dropped_total', 'Native engine log records lost to a full queue', (c) => c.droppedLogRecords);
    const self = this;
    new Gauge({
      name: 'esbc_media_packets_total',
      help: 'Packets and bytes relayed, by direction and leg kind (ended plus live calls)',
      labelNames: ['direction', 'kind', 'unit'],
      registers: [r],
      collect() {
        this.reset();
        const totals = new Map(self.endedPackets);
        for (const live of source.liveStats()) self.fold(totals, live.kinds, live.stats, 'packets');
        for (const [k, v] of totals) {
          const [direction, kind, unit] = k.split('|') as [string, string, string];
          this.set({ direction, kind, unit }, v);
        }
      },
    });
    new Gauge({
      name: 'esbc_media_drops_total',
      help: 'Packets dropped by the media engine, by reason (SRTP auth and replay failures included)',
      labelNames: ['reason'],
      registers: [r],
      collect() {
        this.reset();
        const totals = new Map(self.endedDrops);
        for (const live of source.liveStats()) self.fold(totals, live.kinds, live.stats, 'drops');
        for (const reason of DROP_REASONS) this.set({ reason }, totals.get(reason) ?? 0);
      },
    });
    if (source.sipStats) this.addSipEngineMetrics(source.sipStats);
  }

  /**
   * SIP engine metrics: the engine counts every message and rejection
   * itself; one `stats` round trip per scrape feeds all of these gauges
   * (collect() runs for each, so they share the in-flight read).
   */
  private addSipEngineMetrics(read: () => Promise<SipEngineStats>): void {
    const r = this.registry;
    let inflight: { at: number; p: Promise<SipEngineStats | undefined> } | undefined;
    const snapshot = (): Promise<SipEngineStats | undefined> => {
      if (!inflight || Date.now() - inflight.at > 250) inflight = { at: Date.now(), p: read().catch(() => undefined) };
      return inflight.p;
    };
    new Gauge({
      name: 'esbc_sip_messages_total',
      help: 'SIP messages received (in) and sent (out) by the SIP engine, by transport, method (CSeq method for responses) and status ("" for requests)',
      labelNames: ['direction', 'transport', 'method', 'status'],
      registers: [r],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const m of s?.messages ?? []) this.set({ direction: m.direction, transport: m.transport, method: m.method, status: m.status }, m.count);
      },
    });
    new Gauge({
      name: 'esbc_sip_rejections_total',
      help: 'Requests and connections the SIP engine refused or dropped, by reason (rate_limited, rate_dropped, invite_rate, malformed_400, malformed_dropped, overload, conn_limit_source, conn_limit_global, slow_partial, slow_first, framing_error, tls_handshake_failed, oversized, stray_response)',
      labelNames: ['reason'],
      registers: [r],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const [reason, n] of Object.entries(s?.rejections ?? {})) this.set({ reason }, n);
      },
    });
    new Gauge({
      name: 'esbc_sip_active',
      help: 'SIP engine state now: server_transactions, client_transactions, dialogs, connections, connections_inbound, apps, rate_sources',
      labelNames: ['kind'],
      registers: [r],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const [kind, n] of Object.entries(s?.active ?? {})) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'esbc_sip_engine_up',
      help: '1 when the last scrape read the SIP engine\'s counters, 0 when it did not answer',
      registers: [r],
      async collect() {
        this.set((await snapshot()) ? 1 : 0);
      },
    });
  }

  /** Counts engine events (DTLS outcomes). */
  onMediaEvent(e: MediaEvent): void {
    if (e.type === 'dtls-connected') {
      this.dtlsHandshakes.inc({ outcome: 'connected' });
      if (Number.isFinite(e.handshakeMs)) this.dtlsHandshakeSeconds.observe(e.handshakeMs / 1000);
    }
    if (e.type === 'dtls-failed') {
      this.dtlsHandshakes.inc({ outcome: 'failed' });
      this.dtlsFailures.inc({ reason: e.reason.startsWith('alert') ? 'alert' : e.reason });
    }
  }

  /** Folds an ended call's final counters into the totals. */
  onCallEnded(kinds: { a: string; b: string }, stats: PipelineStats | undefined): void {
    if (!stats) return;
    this.fold(this.endedPackets, kinds, stats, 'packets');
    this.fold(this.endedDrops, kinds, stats, 'drops');
  }

  private fold(into: Map<string, number>, kinds: { a: string; b: string }, s: PipelineStats, what: 'packets' | 'drops'): void {
    const add = (k: string, v: number) => into.set(k, (into.get(k) ?? 0) + v);
    for (const side of ['a', 'b'] as const) {
      const l = s[side];
      if (what === 'packets') {
        add(`in|${kinds[side]}|packets`, l.packetsIn);
        add(`out|${kinds[side]}|packets`, l.packetsOut);
        add(`in|${kinds[side]}|bytes`, l.bytesIn);
        add(`out|${kinds[side]}|bytes`, l.bytesOut);
      } else {
        for (const reason of DROP_REASONS) add(reason, l.drops[reason] ?? 0);
      }
    }
  }
}
