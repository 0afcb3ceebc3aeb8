/**
 * Attended transfer (RFC 3891 Replaces) across the B2BUA. A Replaces header
 * the SBC receives names a dialog of one of its own legs (the SBC is the
 * remote party of every dialog a UA has through it). The SBC finds the call
 * holding that leg and sends the new INVITE to the party on the call's OTHER
 * leg, with Replaces naming that leg's dialog as that party sees it.
 *
 * RFC 3891: to-tag is the tag of the UA receiving the Replaces (its local
 * tag), from-tag the other end's. Matching also accepts the swapped order,
 * which some UAs send.
 */
import type { Call, Side } from './call';
import type { ReplacesId } from './transfer-uri';

export interface ReplacedLeg {
  call: Call;
  /** The leg the Replaces named (the SBC's dialog with the transferor's party). */
  side: Side;
  /** The other leg: the new INVITE goes to its party. */
  other: Side;
  /** Replaces for the INVITE to the other leg's party. */
  translated: ReplacesId;
  /** The other party's Contact (remote target). */
  targetUri: string;
}

export function findReplacedLeg(calls: Iterable<Call>, r: ReplacesId): ReplacedLeg | undefined {
  for (const call of calls) {
    if (call.isEnded) continue;
    for (const side of ['a', 'b'] as const) {
      const d = call.dialog(side);
      if (!d || d.sip.callId !== r.callId) continue;
      const { localTag, remoteTag } = d.sip;
      const match = (localTag === r.toTag && remoteTag === r.fromTag) || (localTag === r.fromTag && remoteTag === r.toTag);
      if (!match) continue;
      const other: Side = side === 'a' ? 'b' : 'a';
      const o = call.dialog(other);
      if (!o) return undefined;
      return {
        call,
        side,
        other,
        // The far party's local tag is our remote tag.
        translated: { callId: o.sip.callId, toTag: o.sip.remoteTag, fromTag: o.sip.localTag, earlyOnly: r.earlyOnly },
        targetUri: o.remote.uri,
      };
    }
  }
  return undefined;
}
