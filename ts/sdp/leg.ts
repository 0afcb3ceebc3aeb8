/** Maps a negotiated leg to the media engine's LegSpec / LegUpdate. */
import type { LegSpec, LegUpdate, RemoteMedia } from '../media/types';
import { SdpError } from './errors';
import { iceSpecFor } from './ice';
import type { LegPlan, ParsedSdp } from './types';

function remoteMedia(plan: LegPlan, remote?: ParsedSdp): Omit<RemoteMedia, 'fingerprintHash'> {
  const m = remote?.media[plan.mediaIndex];
  if (!m) return {};
  const out: Omit<RemoteMedia, 'fingerprintHash'> = { direction: m.direction, rtcpMux: plan.rtcpMux };
  const ice = iceSpecFor(plan);
  if (ice) {
    // ICE decides where media goes (the nominated pair), not c=/m=.
    out.ice = ice;
    return out;
  }
  // Old-style hold (0.0.0.0) or a disabled stream: keep the previous
  // destination (absent fields are unchanged in an update); direction stops media.
  if (m.port !== 0 && !m.oldStyleHold && m.address !== '' && m.address !== '::') {
    out.remoteAddress = m.address;
    out.remotePort = m.port;
    if (!plan.rtcpMux && m.rtcpPort !== undefined) out.remoteRtcpPort = m.rtcpPort;
  }
  return out;
}

function securityPart(plan: LegPlan): LegUpdate {
  switch (plan.security) {
    case 'rtp':
      return { kind: 'rtp' };
    case 'dtls-srtp':
      // Before the answer to an actpass offer the role is unknown: start as
      // the DTLS server ('passive', what most answerers make us) with no
      // fingerprints; the update from the answer fixes both.
      return {
        kind: 'dtls-srtp',
        role: plan.dtlsRole ?? 'passive',
        remoteFingerprints: plan.remoteFingerprints,
        ...(plan.remoteTlsId ? { remoteTlsId: plan.remoteTlsId } : {}),
      };
    case 'sdes-srtp': {
      const k = plan.sdesKeys[0];
      if (!k) throw new SdpError(500, 'SDES plan without keys');
      const part: LegUpdate = { kind: 'sdes-srtp', localKey: { suite: k.suite, key: k.key } };
      if (plan.remoteSdes) part.remoteKey = plan.remoteSdes;
      return part;
    }
  }
}

/**
 * LegSpec for createPipeline. `remote` is the peer's SDP on this leg when
 * known (the caller's offer); omit it for the leg the SBC is about to offer to.
 */
export function legSpecFor(plan: LegPlan, remote?: ParsedSdp): LegSpec {
  const ice = iceSpecFor(plan);
  return { ...securityPart(plan), ...remoteMedia(plan, remote), ...(ice ? { ice } : {}), fingerprintHash: plan.fingerprintHash } as LegSpec;
}

/** LegUpdate for Pipeline.update after an answer or a re-offer on this leg. */
export function legUpdateFor(plan: LegPlan, remote: ParsedSdp): LegUpdate {
  return { ...securityPart(plan), ...remoteMedia(plan, remote) };
}
