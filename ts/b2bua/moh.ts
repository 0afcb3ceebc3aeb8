/**
 * Local music on hold: when one party holds the other (its SDP says sendonly
 * or inactive) and the held party's realm has `moh: local`, the engine plays
 * the configured music to the held party over that party's leg (SRTP when the
 * leg is secure). The engine yields to real media, so a holder that streams
 * its own music is relayed instead. Resume turns it off at once.
 */
import type { Call, Side } from './call';

const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

/** Never rejects: a failure to start or stop the music is logged, the call goes on. */
export async function updateMusic(call: Call): Promise<void> {
  for (const held of ['a', 'b'] as const) {
    if (call.realm(held).media.moh !== 'local') continue;
    const holderLeg = call.leg(other(held));
    const holderDir = holderLeg.remote?.media[holderLeg.plan.mediaIndex]?.direction ?? 'sendrecv';
    const onHold = holderDir === 'sendonly' || holderDir === 'inactive';
    const heldLeg = call.leg(held);
    const codecs = heldLeg.remote?.media[heldLeg.plan.mediaIndex]?.codecs ?? [];
    const names = codecs.map((c) => c.name.toUpperCase());
    const codec = names.includes('PCMU') ? 'pcmu' : names.includes('PCMA') ? 'pcma' : undefined;
    if (onHold && !codec) {
      call.log.warn({ held }, 'music on hold: the held party accepts neither PCMU nor PCMA');
      continue;
    }
    const want = onHold ? codec! : 'off';
    if (call.music[held] === want) continue;
    if (want === 'off' && call.music[held] === undefined) continue;
    try {
      await call.pipeline.update(held, { music: want });
    } catch (err) {
      if (!call.isEnded) call.log.warn({ held, err: (err as Error).message }, 'music on hold: the media engine refused');
      continue;
    }
    call.music[held] = want;
    call.log.info({ held, music: want }, onHold ? 'music on hold started' : 'music on hold stopped');
  }
}
