/**
 * The drachtio-srf application: one handler for new INVITEs that finds the
 * source realm and route, plans the media, and hands the call to `Call`.
 * Every refusal is a SIP status with a Reason header and a log line.
 */
import type Srf from 'drachtio-srf';

import type { MediaEngine } from '../media';
import type { Logger } from '../ops/log';
import { parseSdp, SdpError } from '../sdp';
import { Call } from './call';
import { CallRejection } from './reason';
import { RouteError, type Router } from './routing';

export interface AppOptions {
  srf: Srf;
  engine: MediaEngine;
  router: Router;
  log: Logger;
  advertiseAddress?: string;
  /** Ports the embedded SIP engine bound for listen entries configured with port 0. */
  boundPorts?: Map<string, number>;
}

export class SbcApp {
  readonly calls = new Map<string, Call>();
  private accepting = true;

  constructor(private readonly o: AppOptions) {}

  attach(): void {
    this.o.srf.invite((req, res) => {
      this.onInvite(req, res).catch((err: unknown) => this.o.log.error({ err }, 'invite handler failed'));
    });
  }

  /** New calls get 503 from now on (graceful shutdown). */
  stopAccepting(): void {
    this.accepting = false;
  }

  private async onInvite(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const callId = req.get('Call-ID');
    const log = this.o.log.child({ callId });
    let call: Call;
    try {
      if (!this.accepting) throw new CallRejection(503, 'SBC is shutting down');
      // drachtio-srf sets receivedOn (local address:port) from the server's frame; not in its typings.
      const receivedOn = (req as unknown as { receivedOn?: string }).receivedOn;
      const source = this.o.router.sourceRealm(receivedOn, req.protocol, this.o.boundPorts);
      if (!source) throw new CallRejection(403, `no realm listens on ${receivedOn ?? 'this address'}`);
      const route = this.o.router.route(source, req.uri);
      if (!req.body) throw new CallRejection(488, 'INVITE without an SDP offer is not supported');
      call = new Call(
        { srf: this.o.srf, engine: this.o.engine, log: this.o.log, advertiseAddress: this.o.advertiseAddress, onEnd: (c) => this.calls.delete(c.id) },
        route,
        callId,
        parseSdp(req.body),
      );
    } catch (err) {
      const r = toRejection(err);
      log.warn({ status: r.status, reason: r.reason, from: req.source_address }, 'call rejected');
      res.send(r.status, { headers: { Reason: r.reasonHeader } });
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
  return new CallRejection(500, `internal error: ${(err as Error)?.message ?? String(err)}`);
}
