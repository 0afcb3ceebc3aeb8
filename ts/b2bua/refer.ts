/**
 * REFER during a call (transfer). Placeholder until transfer lands: the SBC
 * refuses REFER with 403 and a Reason, so no transfer half-happens.
 */
import type Srf from 'drachtio-srf';

import type { Call, Side } from './call';
import { sipReason } from './reason';

export async function handleRefer(call: Call, from: Side, _req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
  call.log.info({ from }, 'REFER refused: transfer not enabled');
  res.send(403, { headers: { Reason: sipReason(403, 'call transfer is not enabled on this SBC') } });
}
