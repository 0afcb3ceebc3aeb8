/**
 * REFER terminated in the SBC (realm `refer: terminate`). The transferee
 * never sees the REFER:
 *
 *   transferor: REFER -> 202; NOTIFY "SIP/2.0 100 Trying" (Subscription-State active)
 *   SBC -> target: INVITE routed as if the transferee had dialled the
 *     Refer-To (with Replaces: to the replaced call's other party, Replaces
 *     translated), offering the SBC port of the transferor's leg with a fresh
 *     plan: a=setup:actpass, i.e. a new DTLS association and new SRTP keys
 *     with the target when its realm is DTLS-SRTP (the engine re-handshakes
 *     when the remote fingerprint changes; plain <-> DTLS changes the kind)
 *   on the answer the leg is re-targeted to the target (old keys replaced),
 *     the target's dialog takes the transferor's place in the Call
 *   transferor: NOTIFY "SIP/2.0 200 OK" (terminated), then BYE unless it
 *     hung up itself within a grace period.
 *
 * The transferee's leg is kept as it is (same SBC address and DTLS
 * association), so no re-INVITE toward it is needed. A re-bridge onto a new
 * pipeline would need the transferee to start a second DTLS handshake in
 * the same call, which baresip 1.0 never does (its dtls_srtp starts DTLS once
 * per stream): one-way audio. A failure (target rejects, bad answer) leaves
 * the original call untouched and is reported in the final NOTIFY; if the
 * transferor hung up meanwhile, the transferee is released.
 */
import type Srf from 'drachtio-srf';

import { applyAnswer, buildOffer, createOrigin, legUpdateFor, parseSdp, planOffer, resolveSecurity, SdpError, type LegPlan } from '../sdp';
import { offerOptions, type Call, type Side } from './call';
import { updateMusic } from './moh';
import { sipReason } from './reason';
import { handleRefer, inDialogRequest, transferState, type TransferContext } from './refer';
import { relayReinvite } from './reinvite';
import { RouteError, type RouteDecision } from './routing';
import type { ReplacedLeg } from './transfer-replaces';
import { formatReplaces, mapReferredBy, type parseReferTo } from './transfer-uri';

export interface TerminateArgs {
  call: Call;
  from: Side;
  req: Srf.SrfRequest;
  res: Srf.SrfResponse;
  target: ReturnType<typeof parseReferTo>;
  replaced?: ReplacedLeg;
  ctx: TransferContext;
  log: Call['log'];
  refuse(status: number, text: string): void;
}

/** How long the transferor may take to hang up by itself after the final NOTIFY. */
const TRANSFEROR_GRACE_MS = 1500;
/** Packets the transferor sent just before its BYE still arrive for this long. */
const DRAIN_MS = 60;

class TransferFailure extends Error {
  constructor(
    readonly status: number,
    readonly phrase: string,
  ) {
    super(`${status} ${phrase}`);
  }
}

export async function terminateTransfer(a: TerminateArgs): Promise<void> {
  const { call, from, req, res, target, replaced, ctx, log } = a;
  const to: Side = from === 'a' ? 'b' : 'a';
  const transfereeRealm = call.realm(to);
  let route: RouteDecision;
  const headers: Record<string, string> = {};
  if (replaced) {
    route = { source: transfereeRealm, target: replaced.call.realm(replaced.other), uri: replaced.targetUri };
    headers.Replaces = formatReplaces(replaced.translated);
  } else {
    try {
      route = ctx.router.route(transfereeRealm, target.addr.uri.replace(/\?.*$/, ''));
    } catch (err) {
      if (err instanceof RouteError) return a.refuse(404, `transfer target is not routable: ${err.reason}`);
      throw err;
    }
  }
  // RFC 3892: the target learns who referred the call, with the host mapped
  // to the SBC in the target's realm like any other URI crossing realms.
  const rb = req.get('Referred-By') ?? req.get('b');
  const via = ctx.sipAddress(route.target);
  const referredBy = rb && via ? mapReferredBy(rb, via) : undefined;
  if (referredBy) headers['Referred-By'] = referredBy;
  const offerSource = call.leg(to).remote;
  if (!offerSource) return a.refuse(500, 'no session description of the transferee');
  const dFrom = call.dialog(from)!;
  const dTo = call.dialog(to)!;
  const st = transferState(call);
  st.busy = true;
  // Re-INVITEs on the old call wait (491) until the transfer is settled.
  call.reinvitePending = true;
  const referSeq = /^\s*(\d+)/.exec(req.get('CSeq') ?? '')?.[1];
  res.send(202, 'Accepted', {});
  log.info({ referTo: target.addr.uri, route: { realm: route.target.name, uri: route.uri }, replaces: headers.Replaces }, 'REFER accepted: the SBC carries out the transfer');

  // The transferor may hang up any time now: that must not take the transferee down.
  const savedDestroy = dFrom.listeners('destroy') as ((...args: unknown[]) => void)[];
  dFrom.removeAllListeners('destroy');
  let transferorGone = false;
  dFrom.on('destroy', () => {
    transferorGone = true;
    log.info('transferor hung up during the transfer');
  });
  const notify = async (frag: string, state: string): Promise<void> => {
    if (transferorGone) return;
    try {
      const r = await inDialogRequest(
        dFrom,
        'NOTIFY',
        { Event: referSeq ? `refer;id=${referSeq}` : 'refer', 'Subscription-State': state, 'Content-Type': 'message/sipfrag;version=2.0' },
        `${frag}\r\n`,
      );
      log.info({ sipfrag: frag, subscriptionState: state, status: r.status }, 'transfer NOTIFY sent');
    } catch (err) {
      log.warn({ err: (err as Error).message, sipfrag: frag }, 'transfer NOTIFY failed');
    }
  };
  await notify('SIP/2.0 100 Trying', 'active;expires=60');

  // The transferor's leg of the pipeline is re-targeted to the new party:
  // same SBC port, a fresh plan (actpass: a new DTLS association, new keys,
  // when the target's realm is DTLS-SRTP). The transferee's leg is not
  // touched (same SBC address, same DTLS association), so it needs no
  // re-INVITE: baresip 1.0, for one, never starts a second handshake in a
  // call, and waiting for one is the classic one-way-audio bug.
  const legLocal = call.local(from);
  let planNew: LegPlan;
  let uac: Srf.Dialog | undefined;
  let commit: () => Promise<unknown> = () => Promise.resolve();
  let targetGone = false;
  const origin = createOrigin();
  try {
    try {
      planNew = planOffer(offerSource, resolveSecurity(route.target.media.security, call.leg(to).plan.security), offerOptions(route.target));
    } catch (err) {
      if (err instanceof SdpError) throw new TransferFailure(err.status, err.reason);
      throw err;
    }
    const fingerprint = legLocal.fingerprint.hash === planNew.fingerprintHash ? legLocal.fingerprint : call.pipeline.fingerprint(planNew.fingerprintHash);
    const offer = buildOffer(offerSource, planNew, { ...legLocal, fingerprint }, origin);
    try {
      uac = await ctx.callContext.srf.createUAC(route.uri, { localSdp: offer.sdp, headers });
    } catch (err) {
      const e = err as { status?: number; reason?: string; message?: string };
      throw new TransferFailure(e.status ?? 500, e.reason ?? e.message ?? 'target unreachable');
    }
    uac.once('destroy', () => {
      targetGone = true;
    });
    const answer = parseSdp(uac.remote.sdp);
    try {
      planNew = applyAnswer(answer, planNew);
    } catch (err) {
      if (err instanceof SdpError) throw new TransferFailure(err.status, err.reason);
      throw err;
    }
    if (call.isEnded) throw new TransferFailure(487, 'the call ended during the transfer');
    commit = async () => {
      await call.pipeline.update(from, legUpdateFor(planNew, answer));
      Object.assign(call.leg(from), { plan: planNew, origin: offer.origin, remote: answer });
    };
  } catch (err) {
    const f = err instanceof TransferFailure ? err : new TransferFailure(500, (err as Error).message);
    log.warn({ status: f.status, reason: f.phrase }, 'transfer failed: the original call stays');
    if (uac) destroy(uac, sipReason(f.status, `transfer failed: ${f.phrase}`));
    call.reinvitePending = false;
    st.busy = false;
    dFrom.removeAllListeners('destroy');
    for (const l of savedDestroy) dFrom.on('destroy', l);
    await notify(`SIP/2.0 ${f.status} ${phrase(f.status)}`, 'terminated;reason=noresource');
    if (transferorGone && !call.isEnded) call.end('transferor hung up during a failed transfer', from);
    return;
  }

  // The transferor leaves first: its last packets (old keys still valid
  // while a new handshake runs) must not re-latch the leg after the
  // re-target. It hangs up itself after the final NOTIFY, or gets BYE.
  await notify('SIP/2.0 200 OK', 'terminated;reason=noresource');
  if (!transferorGone) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, TRANSFEROR_GRACE_MS);
      dFrom.once('destroy', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  if (!transferorGone) await destroyAndWait(dFrom, sipReason(200, 'call transferred'));
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  if (call.isEnded) {
    log.info('the transferee hung up during the transfer');
    destroy(uac!, sipReason(487, 'the transferee hung up'));
    return;
  }

  if (targetGone) {
    call.release('the transfer target hung up during the transfer');
    return;
  }
  // Hand the transferor's place in the call to the target's dialog and leg.
  const dNew = uac!;
  try {
    await commit();
  } catch (err) {
    destroy(dNew, sipReason(500, 'transfer failed: the media could not be re-targeted'));
    call.release(`transfer failed: the media could not be re-targeted: ${(err as Error).message}`);
    return;
  }
  if (call.isEnded) {
    log.info('the transferee hung up during the transfer');
    destroy(dNew, sipReason(487, 'the transferee hung up'));
    return;
  }
  if (targetGone) {
    call.release('the transfer target hung up during the transfer');
    return;
  }
  for (const ev of ['modify', 'refer', 'notify']) dFrom.removeAllListeners(ev);
  if (from === 'a') call.uas = dNew;
  else call.uac = dNew;
  // The far realm of the call is now the target's (Call.realm reads the route).
  const newRoute: RouteDecision = from === 'a' ? { source: route.target, target: call.route.target, uri: call.route.uri } : { ...call.route, target: route.target, uri: route.uri };
  Object.assign(call as { route: RouteDecision }, { route: newRoute });
  dNew.on('destroy', (msg?: Srf.SrfRequest) => call.end('transfer target hung up', from, msg));
  dNew.on('modify', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void relayReinvite(call, from, r, s));
  dNew.on('refer', (r: Srf.SrfRequest, s: Srf.SrfResponse) => void handleRefer(call, from, r, s));
  call.reinvitePending = false;
  st.busy = false;
  call.log.info({ side: from, target: route.uri, realm: route.target.name, security: planNew.security }, 'transfer complete: the transferee is bridged to the target');
  await updateMusic(call);
}

async function destroyAndWait(d: Srf.Dialog, reason: string): Promise<void> {
  if ((d as unknown as { connected?: boolean }).connected === false) return;
  try {
    await (d.destroy as (opts?: { headers: Record<string, string> }) => Promise<unknown>)({ headers: { Reason: reason } });
  } catch {
    /* already gone */
  }
}

function destroy(d: Srf.Dialog, reason: string): void {
  if ((d as unknown as { connected?: boolean }).connected === false) return;
  try {
    const r = (d.destroy as (opts?: { headers: Record<string, string> }) => unknown)({ headers: { Reason: reason } });
    if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(() => undefined);
  } catch {
    /* already gone */
  }
}

const PHRASES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  480: 'Temporarily Unavailable',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
  603: 'Decline',
};

function phrase(status: number): string {
  return PHRASES[status] ?? PHRASES[Math.floor(status / 100) * 100] ?? 'Failed';
}
