/**
 * Turns call outcomes into metrics and CDRs. The app reports refusals and
 * ended calls; nothing here runs per packet.
 */
import type { Call } from '../b2bua/call';
import type { Cdr, CdrWriter } from './cdr';
import type { SbcMetrics } from './metrics';

export interface CallObserver {
  onRejected(info: { callId: string; status: number; reason: string; from?: string; to?: string; receivedAt: number }): void;
  onCallEnded(call: Call): void;
}

export class OpsObserver implements CallObserver {
  constructor(
    private readonly metrics?: SbcMetrics,
    private readonly cdrs?: CdrWriter,
  ) {}

  onRejected(info: { callId: string; status: number; reason: string; from?: string; to?: string; receivedAt: number }): void {
    this.metrics?.rejections.inc({ status: String(info.status) });
    this.metrics?.callsTotal.inc({ result: 'rejected' });
    const now = Date.now();
    this.cdrs?.write({
      callId: info.callId,
      result: 'rejected',
      status: info.status,
      start: new Date(info.receivedAt).toISOString(),
      end: new Date(now).toISOString(),
      durationMs: 0,
      endReason: info.reason,
      from: info.from,
      to: info.to,
      legs: {},
    });
  }

  onCallEnded(call: Call): void {
    const result: Cdr['result'] = call.answeredAt ? 'answered' : call.failStatus === 487 ? 'cancelled' : 'failed';
    const kinds = { a: call.leg('a').plan.security, b: call.leg('b').plan.security };
    if (this.metrics) {
      this.metrics.callsTotal.inc({ result });
      if (call.answeredAt) this.metrics.setupSeconds.observe((call.answeredAt - call.startedAt) / 1000);
      this.metrics.onCallEnded(kinds, call.finalStats);
    }
    const s = call.finalStats;
    const end = call.endedAt ?? Date.now();
    this.cdrs?.write({
      callId: call.id,
      result,
      status: call.answeredAt ? undefined : call.failStatus,
      start: new Date(call.startedAt).toISOString(),
      answer: call.answeredAt ? new Date(call.answeredAt).toISOString() : undefined,
      end: new Date(end).toISOString(),
      durationMs: call.answeredAt ? end - call.answeredAt : 0,
      endReason: call.endReason ?? 'unknown',
      from: call.route.source.name,
      to: call.route.target.name,
      legs: {
        a: { realm: call.route.source.name, security: kinds.a, profile: s?.a.profile, packetsIn: s?.a.packetsIn, packetsOut: s?.a.packetsOut, handshakes: s?.a.handshakes },
        b: { realm: call.route.target.name, security: kinds.b, profile: s?.b.profile, packetsIn: s?.b.packetsIn, packetsOut: s?.b.packetsOut, handshakes: s?.b.handshakes },
      },
    });
  }
}
