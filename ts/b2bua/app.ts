/**
 * The drachtio-srf application: one handler for new INVITEs that finds the
 * source realm and route, plans the media, and hands the call to `Call`.
 * Every refusal is a SIP status with a Reason header and a log line.
 */
import type Srf from 'drachtio-srf';

import type { RealmConfig } from '../config';
import type { MediaEngine } from '../media';
import type { Logger } from '../ops/log';
import type { CallObserver } from '../ops/observer';
import { parseSdp, SdpError } from '../sdp';
import { Call, type CallContext } from './call';
import { sdpOfBody } from './body';
import { holdEarlyInDialogRequests } from './early-requests';
import { CallRejection } from './reason';
import { enableTransfer, type TransferContext } from './refer';
import { RouteError, type RouteDecision, type Router } from './routing';
import { findReplacedLeg } from './transfer-replaces';
import { formatReplaces, parseReplaces, TransferUriError } from './transfer-uri';

export interface AppOptions {
  srf: Srf;
  engine: MediaEngine;
  router: Router;
  log: Logger;
  advertiseAddress?: string;
  /** Ports the embedded SIP engine bound for listen entries configured with port 0. */
  boundPorts?: Map<string, number>;
  /** Metrics and CDRs. */
  observer?: CallObserver;
}

export class SbcApp {
  readonly calls = new Map<string, Call>();
  private accepting = true;

  private readonly callContext: CallContext;
  private readonly transfer: TransferContext;

  constructor(private readonly o: AppOptions) {
    this.callContext = { srf: o.srf, engine: o.engine, log: o.log, advertiseAddress: o.advertiseAddress, onEnd: (c) => this.onCallEnd(c), contactFor: (realm) => this.contactFor(realm) };
    this.transfer = { router: o.router, calls: this.calls, callContext: this.callContext, sipAddress: (realm) => this.sipAddress(realm) };
  }

  /** The SBC's SIP address where `realm`'s parties reach it (first listen entry, engine-assigned port resolved). */
  sipAddress(realm: RealmConfig): { host: string; port: number; transport: string } | undefined {
    const l = realm.sip.listen[0];
    if (!l) return undefined;
    const port = l.port === 0 ? this.o.boundPorts?.get(`${realm.name}/${l.transport}/${l.address}`) : l.port;
    return port ? { host: l.address, port, transport: l.transport } : undefined;
  }

  /** `<sip:esbc@host:port;transport=x>` of the SBC's listener in `realm`. */
  contactFor(realm: RealmConfig): string | undefined {
    const a = this.sipAddress(realm);
    if (!a) return undefined;
    const host = a.host.includes(':') ? `[${a.host}]` : a.host;
    return `<sip:esbc@${host}:${a.port}${a.transport === 'udp' ? '' : `;transport=${a.transport}`}>`;
  }

  attach(): void {
    holdEarlyInDialogRequests(this.o.srf);
    this.o.srf.invite((req, res) => {
      this.onInvite(req, res).catch((err: unknown) => this.o.log.error({ err }, 'invite handler failed'));
    });
  }

  /** New calls get 503 from now on (graceful shutdown). */
  stopAccepting(): void {
    this.accepting = false;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  private onCallEnd(c: Call): void {
    // A transfer can re-key a Call object under a new id; only drop our own entry.
    if (this.calls.get(c.id) === c) this.calls.delete(c.id);
    try {
      this.o.observer?.onCallEnded(c);
    } catch (err) {
      this.o.log.error({ err, callId: c.id }, 'recording the call end failed');
    }
  }

  private async onInvite(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const callId = req.get('Call-ID');
    const receivedAt = Date.now();
    const log = this.o.log.child({ callId });
    let call: Call;
    try {
      if (!this.accepting) throw new CallRejection(503, 'SBC is shutting down');
      // drachtio-srf sets receivedOn (local address:port) from the server's frame; not in its typings.
      const receivedOn = (req as unknown as { receivedOn?: string }).receivedOn;
      const source = this.o.router.sourceRealm(receivedOn, req.protocol, this.o.boundPorts);
      if (!source) throw new CallRejection(403, `no realm listens on ${receivedOn ?? 'this address'}`);
      let route: RouteDecision;
      let outgoingHeaders: Record<string, string> | undefined;
      const replaces = req.get('Replaces');
      if (replaces) {
        // Attended transfer (RFC 3891): the new call goes to the far party of the replaced leg's call.
        const leg = findReplacedLeg(this.calls.values(), parseReplaces(replaces));
        if (!leg) throw new CallRejection(481, 'Replaces names no dialog on this SBC');
        route = { source, target: leg.call.realm(leg.other), uri: leg.targetUri };
        outgoingHeaders = { Replaces: formatReplaces(leg.translated) };
        log.info({ replaces, replacedCall: leg.call.id, side: leg.side, to: leg.targetUri }, 'INVITE with Replaces: routed to the replaced call\'s other party');
      } else {
        route = this.o.router.route(source, req.uri);
      }
      if (!req.body) throw new CallRejection(488, 'INVITE without an SDP offer is not supported');
      call = new Call(this.callContext, route, callId, parseSdp(sdpOfBody(req.get('Content-Type') ?? req.get('c'), req.body)));
      if (outgoingHeaders) call.outgoingHeaders = outgoingHeaders;
      enableTransfer(call, this.transfer);
    } catch (err) {
      const r = toRejection(err);
      log.warn({ status: r.status, reason: r.reason, from: req.source_address }, 'call rejected');
      res.send(r.status, { headers: { ...r.headers, Reason: r.reasonHeader } });
      this.o.observer?.onRejected({ callId, status: r.status, reason: r.reason, receivedAt });
      return;
    }
    this.calls.set(call.id, call);
    await call.connect(req, res);
  }
}

function toRejection(err: unknown): CallRejection {
  if (err instanceof CallRejection) return err;
  if (err instanceof SdpError) return new CallRejection(err.status, err.reason);
  if (err instanceof RouteError) return new CallRejection(err.status, err.reason);
  if (err instanceof TransferUriError) return new CallRejection(err.status, err.reason);
  return new CallRejection(500, `internal error: ${(err as Error)?.message ?? String(err)}`);
}
