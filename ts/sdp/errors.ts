/** Longest reason text kept (the Reason header and logs carry it). */
const MAX_REASON = 200;

/**
 * A failure of SDP handling that the B2BUA turns into a SIP final response
 * (status) with a Reason header (reason text).
 */
export class SdpError extends Error {
  /** SIP status to refuse the offer/answer with: 400 malformed, 488 not acceptable, 500 internal. */
  readonly status: number;
  /** Human-readable cause, for the Reason header and logs. */
  readonly reason: string;

  constructor(status: number, reason: string) {
    // Reasons can quote the offer (one entry per crypto line...): bounded so
    // a hostile offer cannot make the Reason header (and the 488) huge.
    const bounded = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 3)}...` : reason;
    super(`${status} ${bounded}`);
    this.name = 'SdpError';
    this.status = status;
    this.reason = bounded;
  }

  /** Value of a SIP Reason header (RFC 3326) for this error. */
  get reasonHeader(): string {
    return `SIP;cause=${this.status};text="${this.reason.replace(/["\\]/g, '')}"`;
  }
}

export function notAcceptable(reason: string): SdpError {
  return new SdpError(488, reason);
}
