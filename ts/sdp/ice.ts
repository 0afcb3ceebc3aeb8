/**
 * ICE-lite in SDP (RFC 8839, RFC 8445 lite, RFC 9143 BUNDLE) for
 * WebRTC-style legs: the SBC's credentials, its host candidates, and when a
 * re-offer is an ICE restart.
 */
import { randomBytes } from 'node:crypto';

import type { IceCredentials, IceSpec, LocalLeg } from '../media/types';
import type { IcePlan, LegPlan, ParsedIce, ParsedMedia, ParsedSdp } from './types';

const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function iceChars(n: number): string {
  return [...randomBytes(n)].map((b) => ICE_CHARS[b & 63]).join('');
}

/** Fresh credentials: 8 ice-chars of ufrag (>= 24 bits), 24 of password (>= 128 bits). */
export function generateIceCredentials(): IceCredentials {
  return { ufrag: iceChars(8), pwd: iceChars(24) };
}

/** True when the peer's credentials are usable (RFC 8839 5.4 lengths and characters). */
export function validIceCredentials(c: IceCredentials): boolean {
  const ok = (s: string, min: number) => s.length >= min && s.length <= 256 && /^[A-Za-z0-9+/]+$/.test(s);
  return ok(c.ufrag, 4) && ok(c.pwd, 22);
}

/**
 * The SBC's ICE plan answering an offer with ICE. New remote credentials
 * compared to the last negotiation are an ICE restart (RFC 8839 4.4.1.1.1):
 * the SBC then answers with new credentials of its own; otherwise it keeps them.
 */
export function answerIce(offered: ParsedIce, previous?: IcePlan): IcePlan {
  const remote = { ufrag: offered.ufrag, pwd: offered.pwd };
  const same = previous?.remote && previous.remote.ufrag === remote.ufrag && previous.remote.pwd === remote.pwd;
  return { local: same ? previous.local : generateIceCredentials(), remote };
}

/** The mid the SBC writes for the audio m-line, and whether the offer bundled it. */
export function midOf(offer: ParsedSdp, m: ParsedMedia): { mid: string; bundle: boolean } {
  const mid = m.mid ?? String(m.index);
  return { mid, bundle: m.mid !== undefined && offer.bundles.some((g) => g.includes(mid)) };
}

/** Session-level lines of an ICE-lite SDP. */
export function iceSessionLines(plan: LegPlan): string[] {
  if (!plan.ice) return [];
  const out = ['a=ice-lite'];
  if (plan.bundle && plan.mid !== undefined) out.push(`a=group:BUNDLE ${plan.mid}`);
  return out;
}

/**
 * Media-level ICE lines: credentials and one host candidate per component
 * (the SBC's advertised address; one with rtcp-mux), then end-of-candidates:
 * a lite agent has all its candidates from the start.
 */
export function iceMediaLines(plan: LegPlan, local: LocalLeg): string[] {
  if (!plan.ice) return [];
  const { ufrag, pwd } = plan.ice.local;
  // Host candidate priority (RFC 8445 5.1.2.1): type preference 126, local
  // preference 65535, component 1 = 2130706431, component 2 = 2130706430.
  const out = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`, `a=candidate:1 1 UDP 2130706431 ${local.address} ${local.rtpPort} typ host`];
  if (!plan.rtcpMux) out.push(`a=candidate:1 2 UDP 2130706430 ${local.address} ${local.rtcpPort} typ host`);
  out.push('a=end-of-candidates');
  return out;
}

/** The engine's IceSpec for a plan (undefined without ICE). */
export function iceSpecFor(plan: LegPlan): IceSpec | undefined {
  if (!plan.ice) return undefined;
  const spec: IceSpec = { localUfrag: plan.ice.local.ufrag, localPwd: plan.ice.local.pwd, lite: true };
  if (plan.ice.remote) {
    spec.remoteUfrag = plan.ice.remote.ufrag;
    spec.remotePwd = plan.ice.remote.pwd;
  }
  return spec;
}
