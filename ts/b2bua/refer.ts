/**
 * REFER during a call (call transfer, issue 6). The realm the REFER comes
 * from (the transferor's) decides, with its `refer` option:
 *
 * - 'pass-through' (default): the REFER is relayed to the other party (the
 *   transferee) with Refer-To mapped to the SBC's own SIP address in the
 *   transferee's realm (user part kept, Replaces kept, every other URI
 *   parameter and header dropped), so the transferee's INVITE comes back
 *   through the SBC as an ordinary new call (its own routing, pipeline and
 *   DTLS handshake). Referred-By is relayed with its host mapped the same
 *   way. The transferee's answer (202 or a failure) goes back to the
 *   transferor, and so does every NOTIFY (Event with its id mapped to the
 *   transferor's REFER CSeq, Subscription-State, message/sipfrag body
 *   intact); the transferee's NOTIFY gets the transferor's answer. BYEs are
 *   relayed as for any call, and the old pipeline is closed when the old
 *   call ends.
 * - 'terminate': the SBC carries the transfer out itself (transfer-terminate.ts).
 * - 'reject': 403.
 *
 * Refusals: no Refer-To, several, or not a URI -> 400; a non-sip scheme or a
 * method other than INVITE -> 403; a target the routes table cannot route
 * from the transferee's realm, or a Replaces naming no dialog on the SBC ->
 * 404; a transfer already running on the call -> 491. Each with a Reason and
 * a log line.
 */
import type Srf from 'drachtio-srf';

import type { RealmConfig } from '../config';
import type { Call, CallContext, Side } from './call';
import { sipReason } from './reason';
import { RouteError, type Router } from './routing';
import { terminateTransfer } from './transfer-terminate';
import { findReplacedLeg } from './transfer-replaces';
import { eventId, mapReferredBy, mapReferTo, parseReferTo, TransferUriError, withEventId, type SbcAddress } from './transfer-uri';

/** What the transfer code needs from the app (given to each call with enableTransfer). */
export interface TransferContext {
  router: Router;
  /** The app's live calls (Replaces lookup; calls created by a terminated transfer are added). */
  calls: Map<string, Call>;
  /** For calls the SBC creates itself (terminate mode). */
  callContext: CallContext;
  /** The SBC's own SIP address where a realm's parties reach it. */
  sipAddress(realm: RealmConfig): SbcAddress | undefined;
}

interface TransferState {
  busy: boolean;
  /** The REFER relayed right now; NOTIFYs wait for its answer (they may overtake the 202). */
  pending?: Promise<void>;
  /** Sides whose 'notify' events are already relayed. */
  relaying: Set<Side>;
  /** Transferor sides whose SUBSCRIBE refreshes of the refer subscription are relayed. */
  relayingSubscribe: Set<Side>;
  /** CSeq of the REFER we sent -> CSeq of the REFER we received (Event id mapping, RFC 3515 2.4.6). */
  ids: Map<string, string>;
}

const contexts = new WeakMap<Call, TransferContext>();
const states = new WeakMap<Call, TransferState>();

export function enableTransfer(call: Call, ctx: TransferContext): void {
  contexts.set(call, ctx);
}

export function transferContextOf(call: Call): TransferContext | undefined {
  return contexts.get(call);
}

export function transferState(call: Call): TransferState {
  let s = states.get(call);
  if (!s) states.set(call, (s = { busy: false, relaying: new Set(), relayingSubscribe: new Set(), ids: new Map() }));
  return s;
}

const otherSide = (s: Side): Side => (s === 'a' ? 'b' : 'a');

/** res.send with any status: srf only knows registered codes, so unknown ones fall back to the class default. */
export function sendStatus(res: Srf.SrfResponse, status: number, headers?: Record<string, string>, reason?: string): void {
  try {
    if (reason) res.send(status, reason, { headers });
    else res.send(status, { headers });
  } catch {
    res.send(Math.floor(status / 100) * 100, { headers });
  }
}

function header(req: Srf.SrfRequest, name: string, compact?: string): string | undefined {
  return req.get(name) ?? (compact ? req.get(compact) : undefined);
}

export interface InDialogResponse {
  status: number;
  reason: string;
  get(name: string): string | undefined;
}

/** An in-dialog request (srf's typings want a whole SrfRequest for the options). */
export function inDialogRequest(d: Srf.Dialog, method: string, headers: Record<string, string>, body?: string): Promise<InDialogResponse> {
  const send = d.request as unknown as (opts: { method: string; headers: Record<string, string>; body?: string }) => Promise<InDialogResponse>;
  return send.call(d, { method, headers, ...(body ? { body } : {}) });
}

export function cseqNumber(v: string | undefined): string | undefined {
  return v ? /^\s*(\d+)/.exec(v)?.[1] : undefined;
}

export async function handleRefer(call: Call, from: Side, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
  const to = otherSide(from);
  const realm = call.realm(from);
  const log = call.log.child({ refer: { from, mode: realm.refer } });
  const rawReferTo = header(req, 'Refer-To', 'r');
  const refuse = (status: number, text: string) => {
    log.warn({ status, reason: text, referTo: rawReferTo }, 'REFER refused');
    sendStatus(res, status, { Reason: sipReason(status, text) });
  };
  try {
    const ctx = contexts.get(call);
    if (realm.refer === 'reject') return refuse(403, `call transfer is not allowed from realm ${realm.name}`);
    if (!ctx) return refuse(403, 'call transfer is not enabled on this SBC');
    const target = parseReferTo(rawReferTo);
    if (call.isEnded || !call.dialog(to)) return refuse(481, 'the call is ending');
    const st = transferState(call);
    if (st.busy) return refuse(491, 'another transfer is in progress on this call');
    const replaced = target.replaces ? findReplacedLeg(ctx.calls.values(), target.replaces) : undefined;
    if (target.replaces && !replaced) return refuse(404, 'Refer-To Replaces names no dialog on this SBC');
    if (realm.refer === 'terminate') {
      await terminateTransfer({ call, from, req, res, target, replaced, ctx, log, refuse });
      return;
    }
    await passThrough(call, from, req, res, target, ctx, log, refuse);
  } catch (err) {
    if (err instanceof TransferUriError) return refuse(err.status, err.reason);
    log.error({ err }, 'REFER handling failed');
    if (!res.finalResponseSent) refuse(500, `transfer failed: ${(err as Error).message}`);
  }
}

async function passThrough(
  call: Call,
  from: Side,
  req: Srf.SrfRequest,
  res: Srf.SrfResponse,
  target: ReturnType<typeof parseReferTo>,
  ctx: TransferContext,
  log: Call['log'],
  refuse: (status: number, text: string) => void,
): Promise<void> {
  const to = otherSide(from);
  const via = ctx.sipAddress(call.realm(to));
  if (!via) return refuse(500, `no SIP address of the SBC in realm ${call.realm(to).name}`);
  const referTo = mapReferTo(target.uri, via, target.replaces);
  if (!target.replaces) {
    // The transferee's INVITE will arrive in its realm: it must be routable from there.
    try {
      ctx.router.route(call.realm(to), referTo.slice(1, -1));
    } catch (err) {
      if (err instanceof RouteError) return refuse(404, `transfer target is not routable: ${err.reason}`);
      throw err;
    }
  }
  const headers: Record<string, string> = { 'Refer-To': referTo };
  const rb = header(req, 'Referred-By', 'b');
  const referredBy = rb ? mapReferredBy(rb, via) : undefined;
  if (referredBy) headers['Referred-By'] = referredBy;
  const st = transferState(call);
  relayNotifies(call, to);
  relaySubscribes(call, from);
  st.busy = true;
  let done!: () => void;
  st.pending = new Promise<void>((r) => (done = r));
  try {
    const dTo = call.dialog(to)!;
    const r = await inDialogRequest(dTo, 'REFER', headers);
    if (r.status >= 200 && r.status < 300) {
      const outSeq = cseqNumber(r.get('CSeq'));
      const inSeq = cseqNumber(req.get('CSeq'));
      if (outSeq && inSeq) st.ids.set(outSeq, inSeq);
      sendStatus(res, r.status, undefined, r.reason);
      log.info({ referTo, referredBy, status: r.status }, 'REFER relayed to the transferee and accepted');
    } else {
      const reason = r.get('Reason') ?? sipReason(r.status, `the transferee refused the REFER: ${r.status} ${r.reason ?? ''}`.trim());
      log.warn({ referTo, status: r.status }, 'REFER relayed: the transferee refused it');
      sendStatus(res, r.status, { Reason: reason }, r.reason);
    }
  } catch (err) {
    refuse(500, `REFER relay failed: ${(err as Error).message}`);
  } finally {
    st.busy = false;
    done();
    st.pending = undefined;
  }
}

/** Relays NOTIFYs (Event: refer) that the party on side `transferee` sends, to the other party. */
function relayNotifies(call: Call, transferee: Side): void {
  const st = transferState(call);
  if (st.relaying.has(transferee)) return;
  const d = call.dialog(transferee);
  if (!d) return;
  st.relaying.add(transferee);
  const transferor = otherSide(transferee);
  d.on('notify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    void relayNotify(call, transferor, req, res);
  });
}

/**
 * RFC 3515/6665: the transferor may refresh (or end, Expires: 0) the implicit
 * refer subscription with an in-dialog SUBSCRIBE; it goes to the transferee,
 * which owns the subscription, with the Event id mapped to its REFER's CSeq.
 */
function relaySubscribes(call: Call, transferor: Side): void {
  const st = transferState(call);
  if (st.relayingSubscribe.has(transferor)) return;
  const d = call.dialog(transferor);
  if (!d) return;
  st.relayingSubscribe.add(transferor);
  // srf's Dialog typings lack these events (it emits them; see its dialog.js).
  const events = d as unknown as { on(ev: string, l: (req: Srf.SrfRequest, res?: Srf.SrfResponse) => void): void };
  events.on('subscribe', (req, res) => void relaySubscribe(call, otherSide(transferor), req, res));
  // srf answers an unsubscribe (Expires: 0) with 202 itself; pass it on.
  events.on('unsubscribe', (req) => void relaySubscribe(call, otherSide(transferor), req));
}

async function relaySubscribe(call: Call, to: Side, req: Srf.SrfRequest, res?: Srf.SrfResponse): Promise<void> {
  const st = transferState(call);
  const log = call.log.child({ subscribeTo: to });
  const reply = (status: number, headers?: Record<string, string>, reason?: string) => res && sendStatus(res, status, headers, reason);
  const event = req.get('Event') ?? req.get('o') ?? '';
  if (!/^\s*refer\b/i.test(event)) return reply(489, { Reason: sipReason(489, `event package ${event.split(';')[0] || '(none)'} is not relayed`) });
  const d = call.dialog(to);
  if (call.isEnded || !d) return reply(481, { Reason: sipReason(481, 'the transferee has left the call') });
  const id = eventId(event);
  const outId = id ? ([...st.ids].find(([, inSeq]) => inSeq === id)?.[0] ?? id) : undefined;
  const headers: Record<string, string> = { Event: withEventId(event.trim(), outId) };
  const expires = req.get('Expires');
  if (expires !== undefined) headers.Expires = expires;
  try {
    const r = await inDialogRequest(d, 'SUBSCRIBE', headers);
    reply(r.status, r.status >= 300 && r.get('Reason') ? { Reason: r.get('Reason')! } : undefined, r.reason);
    log.info({ event: headers.Event, expires, status: r.status }, 'transfer SUBSCRIBE relayed');
  } catch (err) {
    reply(500, { Reason: sipReason(500, `SUBSCRIBE relay failed: ${(err as Error).message}`) });
  }
}

async function relayNotify(call: Call, to: Side, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
  const st = transferState(call);
  const log = call.log.child({ notifyTo: to });
  const refuse = (status: number, text: string) => {
    log.warn({ status, reason: text }, 'NOTIFY refused');
    sendStatus(res, status, { Reason: sipReason(status, text) });
  };
  const event = req.get('Event') ?? req.get('o') ?? '';
  if (!/^\s*refer\b/i.test(event)) return refuse(489, `event package ${event.split(';')[0] || '(none)'} is not relayed`);
  if (st.pending) await st.pending;
  const d = call.dialog(to);
  if (call.isEnded || !d) return refuse(481, 'the transferor has left the call');
  const id = eventId(event);
  const headers: Record<string, string> = { Event: withEventId(event.trim(), id ? (st.ids.get(id) ?? id) : undefined) };
  const subState = req.get('Subscription-State');
  if (subState) headers['Subscription-State'] = subState;
  const ctype = req.get('Content-Type') ?? req.get('c');
  if (ctype) headers['Content-Type'] = ctype;
  try {
    const r = await inDialogRequest(d, 'NOTIFY', headers, req.body || undefined);
    sendStatus(res, r.status, r.status >= 300 && r.get('Reason') ? { Reason: r.get('Reason')! } : undefined, r.reason);
    log.info({ sipfrag: (req.body ?? '').split(/\r?\n/)[0], subscriptionState: subState, status: r.status }, 'transfer NOTIFY relayed');
  } catch (err) {
    refuse(500, `NOTIFY relay failed: ${(err as Error).message}`);
  }
}
