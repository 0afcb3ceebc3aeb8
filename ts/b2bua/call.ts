/**
 * One bridged call: caller leg A (UAS dialog) and callee leg B (UAC dialog)
 * with one media pipeline between them. Flow 1 of the product: the offer is
 * planned against both realms' policies, the pipeline is created, the callee
 * gets the SBC's offer, and its answer (183 or 200) is mapped back to the
 * caller. Either side's BYE, a DTLS failure or a media timeout ends both legs.
 */
import type Srf from 'drachtio-srf';

import type { RealmConfig } from '../config';
import type { Logger } from '../ops/log';
import { MediaEngineError, type MediaEngine, type MediaEvent, type Pipeline, type PipelineStats } from '../media';
import {
  applyAnswer,
  buildAnswer,
  buildOffer,
  createOrigin,
  legSpecFor,
  legUpdateFor,
  parseSdp,
  planAnswer,
  planOffer,
  resolveSecurity,
  SdpError,
  type AnswerOptions,
  type LegPlan,
  type OfferOptions,
  type ParsedSdp,
  type SdpOrigin,
} from '../sdp';
import { CallRejection, sipReason } from './reason';
import { handleRefer } from './refer';
import { relayReinvite } from './reinvite';
import type { RouteDecision } from './routing';

export interface CallContext {
  srf: Srf;
  engine: MediaEngine;
  log: Logger;
  /** Address written into SDP instead of the bind address (NAT), if set. */
  advertiseAddress?: string;
  /** The SBC's own Contact toward a realm; it also makes the SIP engine send from that realm's listener. */
  contactFor?(realm: RealmConfig): string | undefined;
  onEnd(call: Call): void;
}

export interface LegState {
  /** The latest negotiated plan; passed as `previous` on re-offers so roles and keys stay stable. */
  plan: LegPlan;
  origin: SdpOrigin;
  /** The last SDP this leg's peer sent. */
  remote?: ParsedSdp;
}

export type EndReason = string;
export type Side = 'a' | 'b';

/** How the SBC answers offers from a realm's parties. */
export function answerOptions(realm: RealmConfig): AnswerOptions {
  return { actpassAnswer: realm.media.actpassAnswer, ice: realm.media.ice !== 'never' };
}

/** How the SBC offers toward a realm's parties. */
export function offerOptions(realm: RealmConfig): OfferOptions {
  return { avpf: realm.media.avpf, fingerprintHash: realm.media.fingerprintHash, ice: realm.media.ice === 'offer' };
}

export class Call {
  readonly id: string;
  readonly log: Logger;
  readonly a: LegState;
  readonly b: LegState;
  readonly pipeline: Pipeline;
  uas?: Srf.Dialog;
  uac?: Srf.Dialog;
  private ended = false;
  /** end() waits while this is > 0 (see deferEnd). */
  private endHolds = 0;
  private pendingEnd?: () => void;
  /** While createB2BUA runs: the caller's response and the request sent to the callee. */
  private setup?: { res: Srf.SrfResponse; uacReq?: Srf.SrfRequest };
  /** Why release() ended the call (for a release that happens during setup). */
  private releaseReason?: string;
  /** Set when the call ends (CDRs, metrics). */
  endReason?: string;
  endedAt?: number;
  finalStats?: ReturnType<Pipeline['stats']>;
  /** The SIP status the caller got when the call did not connect. */
  failStatus?: number;
  /** A re-INVITE is being relayed (glare: the other side gets 491). */
  reinvitePending = false;
  /** Extra headers on the INVITE to the callee (Replaces of an attended transfer). */
  outgoingHeaders?: Record<string, string>;
  /** Music on hold the engine plays toward each side. */
  readonly music: Partial<Record<Side, 'pcmu' | 'pcma' | 'off'>> = {};
  readonly startedAt = Date.now();
  answeredAt?: number;

  /** Plans both legs and creates the pipeline; throws CallRejection. */
  constructor(
    private readonly ctx: CallContext,
    readonly route: RouteDecision,
    readonly callId: string,
    offerA: ParsedSdp,
  ) {
    this.id = callId;
    this.log = ctx.log.child({ callId, from: route.source.name, to: route.target.name });
    const planA = planAnswer(offerA, route.source.media.security, answerOptions(route.source));
    const planB = planOffer(offerA, resolveSecurity(route.target.media.security, planA.security), offerOptions(route.target));
    try {
      this.pipeline = ctx.engine.createPipeline({ a: legSpecFor(planA, offerA), b: legSpecFor(planB) });
    } catch (e) {
      if (e instanceof MediaEngineError) throw new CallRejection(e.sipStatus, `media: ${e.message}`);
      throw e;
    }
    this.a = { plan: planA, origin: createOrigin(), remote: offerA };
    this.b = { plan: planB, origin: createOrigin() };
    this.pipeline.on('event', (e) => this.onMediaEvent(e));
    this.log.info({ pipeline: this.pipeline.id, security: { a: planA.security, b: planB.security } }, 'call: media pipeline created');
  }

  /** Runs the B2BUA until both dialogs exist (or the call fails). */
  async connect(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const offerA = this.a.remote as ParsedSdp;
    const offerB = buildOffer(offerA, this.b.plan, this.local('b'), this.b.origin);
    this.b.origin = offerB.origin;
    this.setup = { res };
    try {
      const { uas, uac } = await this.ctx.srf.createB2BUA(
        req,
        res,
        this.route.uri,
        {
          localSdpB: offerB.sdp,
          localSdpA: (sdp: string) => this.answerFromB(sdp),
          headers: this.requestHeadersB(),
          proxyRequestHeaders: [],
          proxyResponseHeaders: ['Reason'],
        },
        {
          // srf calls it as (err, uacReq); its typings say (req).
          cbRequest: ((_err: unknown, uacReq: Srf.SrfRequest) => {
            if (this.setup) this.setup.uacReq = uacReq;
          }) as unknown as (req: Srf.SrfRequest) => void,
        },
      );
      this.setup = undefined;
      this.uas = uas;
      this.uac = uac;
      if (this.ended) {
        // Released (DTLS failure, media timeout, shutdown) while the callee's
        // answer was on its way: both dialogs exist now, BYE them.
        const headers = { Reason: sipReason(488, this.releaseReason ?? 'call ended during setup') };
        destroyDialog(uas, headers);
        destroyDialog(uac, headers);
        return;
      }
      this.answeredAt = Date.now();
      this.log.info({ setupMs: this.answeredAt - this.startedAt }, 'call: answered');
      uas.on('destroy', (msg?: Srf.SrfRequest) => this.end('caller hung up', 'a', msg));
      uac.on('destroy', (msg?: Srf.SrfRequest) => this.end('callee hung up', 'b', msg));
      uas.on('modify', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void relayReinvite(this, 'a', r, s));
      uac.on('modify', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void relayReinvite(this, 'b', r, s));
      uas.on('update', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void relayReinvite(this, 'a', r, s, 'UPDATE'));
      uac.on('update', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void relayReinvite(this, 'b', r, s, 'UPDATE'));
      uas.on('refer', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void handleRefer(this, 'a', r, s));
      uac.on('refer', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void handleRefer(this, 'b', r, s));
    } catch (err) {
      this.setup = undefined;
      const e = err as { status?: number; message?: string };
      this.failStatus = (err instanceof SdpError ? err.status : e.status) ?? 500;
      if (!res.finalResponseSent) {
        const r = err instanceof SdpError ? new CallRejection(err.status, err.reason) : new CallRejection(e.status ?? 500, e.message ?? 'call setup failed');
        res.send(r.status, { headers: { Reason: r.reasonHeader } });
      }
      this.end(e.status === 487 ? 'cancelled' : `setup failed: ${e.status ?? ''} ${e.message ?? err}`.trim());
    }
  }

  /** Headers of the INVITE to the callee: our Contact in the target realm (realm separation), Replaces. */
  private requestHeadersB(): Record<string, string> | undefined {
    const contact = this.ctx.contactFor?.(this.route.target);
    if (!contact && !this.outgoingHeaders) return undefined;
    return { ...(contact ? { Contact: contact } : {}), ...this.outgoingHeaders };
  }

  /** Maps the callee's SDP (183 or 200) into the caller's answer. */
  private async answerFromB(sdp: string): Promise<string> {
    const answerB = parseSdp(sdp);
    this.b.plan = applyAnswer(answerB, this.b.plan);
    this.b.remote = answerB;
    await this.pipeline.update('b', legUpdateFor(this.b.plan, answerB));
    const built = buildAnswer(this.a.remote as ParsedSdp, answerB, this.a.plan, this.local('a'), this.a.origin);
    this.a.origin = built.origin;
    return built.sdp;
  }

  local(side: 'a' | 'b') {
    const leg = this.pipeline.local[side];
    const plan = side === 'a' ? this.a.plan : this.b.plan;
    const fingerprint = leg.fingerprint.hash === plan.fingerprintHash ? leg.fingerprint : this.pipeline.fingerprint(plan.fingerprintHash);
    return { ...leg, fingerprint, address: this.ctx.advertiseAddress ?? leg.address };
  }

  private onMediaEvent(e: MediaEvent): void {
    const leg = e.side === 'a' ? 'caller' : 'callee';
    switch (e.type) {
      case 'dtls-connected':
        this.log.info({ side: e.side, profile: e.profile }, 'call: DTLS-SRTP established, peer fingerprint verified');
        break;
      case 'dtls-failed':
        this.log.warn({ side: e.side, reason: e.reason }, 'call: DTLS handshake failed');
        this.release(`DTLS handshake failed on ${leg} leg: ${e.reason}`);
        break;
      case 'media-timeout':
        this.log.warn({ side: e.side }, 'call: media timeout');
        this.release(`media timeout on ${leg} leg`);
        break;
      case 'ice-consent-expired':
        // RFC 7675: the peer stopped answering consent checks; the engine
        // already stopped sending. Nothing will bring the leg back.
        this.log.warn({ side: e.side }, 'call: ICE consent expired');
        this.release(`ICE consent expired on ${leg} leg`);
        break;
      case 'media-latched':
        this.log.debug({ side: e.side, address: e.address }, 'call: media latched');
        break;
      case 'dtls-closed':
        this.log.info({ side: e.side }, 'call: peer closed DTLS');
        break;
      case 'pipeline-failed':
        // Only this call's media stopped; the engine keeps serving the others.
        this.log.error({ reason: e.reason }, 'call: media pipeline failed');
        this.release(`media engine failure: ${e.reason}`);
        break;
    }
  }

  /** Ends both legs with BYE carrying a Reason (an SBC-initiated release). */
  release(text: string): void {
    if (this.ended) return;
    this.releaseReason = text;
    const headers = { Reason: sipReason(488, text) };
    if (this.setup) {
      // Not answered yet: refuse the caller and CANCEL the callee (the
      // CANCEL makes createB2BUA reject; its catch finds the call ended).
      if (!this.setup.res.finalResponseSent) this.setup.res.send(488, { headers });
      try {
        (this.setup.uacReq?.cancel as ((opts: { headers: Record<string, string> }) => void) | undefined)?.call(this.setup.uacReq, { headers });
      } catch {
        /* final response already received: connect() BYEs both legs */
      }
    }
    for (const d of [this.uas, this.uac]) if (d) destroyDialog(d, headers);
    this.end(text);
  }

  /** Tears down the other leg (if it still exists) and the pipeline. */
  end(reason: EndReason, by?: 'a' | 'b', _msg?: Srf.SrfRequest): void {
    if (this.ended) return;
    if (this.endHolds > 0) {
      this.pendingEnd ??= () => this.end(reason, by, _msg);
      return;
    }
    this.ended = true;
    const other = by === 'a' ? this.uac : by === 'b' ? this.uas : undefined;
    if (other) destroyDialog(other);
    this.endReason = reason;
    this.endedAt = Date.now();
    // The call is over now; its log line, metrics and CDR wait for the final
    // counters, which the media worker sends once it has closed the sockets.
    void this.pipeline.close().then(
      (stats) => this.recordEnd(stats),
      (err: unknown) => {
        this.log.error({ err }, 'call: closing the media pipeline failed');
        this.recordEnd(undefined);
      },
    );
  }

  private recordEnd(stats: PipelineStats | undefined): void {
    this.finalStats = stats;
    const durationMs = (this.endedAt ?? Date.now()) - this.startedAt;
    this.log.info({ reason: this.endReason, durationMs, stats: stats && summarize(stats) }, 'call: ended');
    this.ctx.onEnd(this);
  }

  /**
   * Holds a hang-up until the returned function is called. Used while an
   * answer that has already arrived is being relayed (the media engine is
   * updated first): a BYE received after that answer must not overtake it
   * toward the other party. The hold spans engine round trips only.
   */
  deferEnd(): () => void {
    this.endHolds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.endHolds > 0 || !this.pendingEnd) return;
      const run = this.pendingEnd;
      this.pendingEnd = undefined;
      run();
    };
  }

  get isEnded(): boolean {
    return this.ended;
  }

  realm(side: Side): RealmConfig {
    return side === 'a' ? this.route.source : this.route.target;
  }

  leg(side: Side): LegState {
    return side === 'a' ? this.a : this.b;
  }

  dialog(side: Side): Srf.Dialog | undefined {
    return side === 'a' ? this.uas : this.uac;
  }
}

/** BYE a dialog if it is still up; srf returns a promise when no callback is given. */
function destroyDialog(d: Srf.Dialog, headers?: Record<string, string>): void {
  if ((d as unknown as { connected?: boolean }).connected === false) return;
  try {
    const r = (d.destroy as (opts?: { headers: Record<string, string> }) => unknown)(headers ? { headers } : undefined);
    if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(() => undefined);
  } catch {
    /* already gone */
  }
}

function summarize(s: ReturnType<Pipeline['stats']>) {
  const leg = (l: typeof s.a) => ({ in: l.packetsIn, out: l.packetsOut, profile: l.profile, handshakes: l.handshakes, drops: Object.fromEntries(Object.entries(l.drops).filter(([, n]) => n > 0)) });
  return { a: leg(s.a), b: leg(s.b) };
}
