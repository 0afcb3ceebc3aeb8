/**
 * re-INVITEs during a call (hold, resume, re-keying, address changes): the
 * offer from one side is planned against that side's previous plan (so the
 * SBC's DTLS role and fingerprint stay stable, RFC 5763 5 / RFC 8842), relayed
 * to the other side as a re-offer, and the answer mapped back. The pipeline is
 * updated only once both sides agreed; a failure leaves the call as it was.
 */
import type Srf from 'drachtio-srf';

import {
  applyAnswer,
  buildAnswer,
  buildOffer,
  legUpdateFor,
  parseSdp,
  planAnswer,
  planOffer,
  SdpError,
} from '../sdp';
import { answerOptions, offerOptions, type Call, type Side } from './call';
import { updateMusic } from './moh';
import { sdpOfBody } from './body';
import { CallRejection, sipReason } from './reason';

/** RFC 3261 14.1 back-off before retrying a re-INVITE that got 491. */
function glareBackoffMs(ownsCallId: boolean): number {
  return ownsCallId ? 2100 + Math.random() * 1900 : Math.random() * 2000;
}

const MAX_GLARE_RETRIES = 2;

/** A mid-call offer: re-INVITE, or UPDATE with SDP (RFC 3311). */
export type OfferMethod = 'INVITE' | 'UPDATE';

export async function relayReinvite(
  call: Call,
  from: Side,
  req: Srf.SrfRequest,
  res: Srf.SrfResponse,
  method: OfferMethod = 'INVITE',
): Promise<void> {
  const to: Side = from === 'a' ? 'b' : 'a';
  const log = call.log.child({ reinviteFrom: from });
  if (call.reinvitePending) {
    log.info('re-INVITE glare: answering 491');
    res.send(491, { headers: { Reason: sipReason(491, 'another re-INVITE is in progress on this call') } });
    return;
  }
  call.reinvitePending = true;
  let releaseEnd: (() => void) | undefined;
  try {
    if (!req.body) {
      if (method === 'UPDATE') {
        // A session refresh without SDP: nothing to relay.
        res.send(200);
        return;
      }
      await answerOfferless(call, from, res);
      return;
    }
    const offer = parseSdp(sdpOfBody(req.get('Content-Type') ?? req.get('c'), req.body));
    const fromLeg = call.leg(from);
    const toLeg = call.leg(to);
    const planFrom = planAnswer(offer, call.realm(from).media.security, answerOptions(call.realm(from)), fromLeg.plan);
    let planTo = planOffer(offer, toLeg.plan.security, offerOptions(call.realm(to)), toLeg.plan);
    const reoffer = buildOffer(offer, planTo, call.local(to), toLeg.origin);
    const target = call.dialog(to);
    if (!target) throw new SdpError(500, 'other leg not established');
    const answerSdp =
      method === 'UPDATE' ? await sendUpdate(target, reoffer.sdp) : await modifyWithGlareRetry(target, reoffer.sdp, to === 'b', log);
    // The answer is in: relay it before a BYE that follows it (call.deferEnd).
    releaseEnd = call.deferEnd();
    const answer = parseSdp(answerSdp);
    planTo = applyAnswer(answer, planTo);
    await call.pipeline.update(to, legUpdateFor(planTo, answer));
    await call.pipeline.update(from, legUpdateFor(planFrom, offer));
    // Built after the update: a new DTLS association (RFC 8842 tls-id) comes
    // with a new tls-id of ours, which the answer must carry.
    const reply = buildAnswer(offer, answer, planFrom, call.local(from), fromLeg.origin);
    Object.assign(toLeg, { plan: planTo, origin: reoffer.origin, remote: answer });
    Object.assign(fromLeg, { plan: planFrom, origin: reply.origin, remote: offer });
    res.send(200, { body: reply.sdp });
    await updateMusic(call);
    log.info({ method, direction: { [from]: offer.media[planFrom.mediaIndex]?.direction, [to]: answer.media[planTo.mediaIndex]?.direction } }, 're-INVITE relayed');
  } catch (err) {
    const known = err instanceof SdpError || err instanceof CallRejection;
    const status = known ? err.status : ((err as { status?: number }).status ?? 500);
    const text = known ? err.reason : `re-INVITE failed on the other leg: ${(err as Error).message}`;
    log.warn({ status, reason: text }, 're-INVITE rejected');
    res.send(status, { headers: { ...(err instanceof CallRejection ? err.headers : {}), Reason: sipReason(status, text) } });
  } finally {
    call.reinvitePending = false;
    releaseEnd?.();
  }
}

async function sendUpdate(d: Srf.Dialog, sdp: string): Promise<string> {
  // srf's typings want a whole SrfRequest; it takes {method, headers, body}.
  const request = d.request.bind(d) as unknown as (o: { method: string; body: string; headers: Record<string, string> }) => Promise<unknown>;
  const r = (await request({ method: 'UPDATE', body: sdp, headers: { 'Content-Type': 'application/sdp' } })) as {
    status: number;
    reason?: string;
    body?: string;
  };
  if (r.status !== 200 || !r.body) throw Object.assign(new Error(`UPDATE answered ${r.status} ${r.reason ?? ''}`.trim()), { status: r.status === 200 ? 488 : r.status });
  return r.body;
}

/**
 * drachtio-srf 5.0.29 Dialog.modify() admits one re-INVITE at a time and
 * frees its slot only on a 200 or a send error: after a non-2xx final
 * response (491, 488, 408, ...) every later modify() on that dialog waited
 * forever (the glare retry never went out and the call answered 491 to every
 * re-INVITE after it). Give the slot back when srf did not.
 */
async function modifyOnce(d: Srf.Dialog, sdp: string): Promise<string> {
  try {
    return await d.modify(sdp);
  } catch (err) {
    if (typeof (err as { status?: unknown }).status === 'number') {
      const q = (d as unknown as { _reinvitesInProgress?: { count: number; admitOne: Array<() => void> } })._reinvitesInProgress;
      if (q && q.count > 0) {
        q.count--;
        const next = q.admitOne.shift();
        if (next) setImmediate(next);
      }
    }
    throw err;
  }
}

async function modifyWithGlareRetry(d: Srf.Dialog, sdp: string, ownsCallId: boolean, log: Call['log']): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await modifyOnce(d, sdp);
    } catch (err) {
      if ((err as { status?: number }).status !== 491 || attempt >= MAX_GLARE_RETRIES) throw err;
      const wait = glareBackoffMs(ownsCallId);
      log.info({ waitMs: Math.round(wait) }, 're-INVITE got 491: retrying after back-off');
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * A re-INVITE without SDP asks the SBC for an offer: it offers its current
 * session toward that side (same ports, fingerprint and established DTLS
 * role; the other side's current codecs and direction) in the 200 and takes
 * the answer from the ACK. The other side is not disturbed.
 */
async function answerOfferless(call: Call, from: Side, res: Srf.SrfResponse): Promise<void> {
  const leg = call.leg(from);
  const other = call.leg(from === 'a' ? 'b' : 'a');
  if (!other.remote) throw new SdpError(500, 'no current session to offer');
  let plan = planOffer(other.remote, leg.plan.security, offerOptions(call.realm(from)), leg.plan);
  const offer = buildOffer(other.remote, plan, call.local(from), leg.origin);
  const dialog = call.dialog(from);
  if (!dialog) throw new SdpError(500, 'leg not established');
  const ack = new Promise<Srf.SrfRequest>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ACK for the offer in a 200 OK')), 32_000);
    // srf's typings call the ACK a response; it is the ACK request.
    dialog.once('ack', (r: unknown) => {
      clearTimeout(timer);
      resolve(r as Srf.SrfRequest);
    });
  });
  res.send(200, { body: offer.sdp });
  const ackReq = await ack;
  if (!ackReq.body) {
    call.log.warn('offerless re-INVITE: ACK carried no answer; session unchanged');
    return;
  }
  const answer = parseSdp(ackReq.body);
  plan = applyAnswer(answer, plan);
  await call.pipeline.update(from, legUpdateFor(plan, answer));
  Object.assign(leg, { plan, origin: offer.origin, remote: answer });
  await updateMusic(call);
  call.log.info({ side: from }, 'offerless re-INVITE: answer taken from the ACK');
}
