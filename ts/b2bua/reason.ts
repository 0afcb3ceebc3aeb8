/** RFC 3326 Reason header values, so every failure names its cause on the wire. */
export function sipReason(cause: number, text: string): string {
  return `SIP;cause=${cause};text="${text.replace(/["\\\r\n]/g, ' ')}"`;
}

/** A SIP failure the control plane answers a request with. */
export class CallRejection extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    /** Headers the response needs besides Reason (415: Accept). */
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${reason}`);
    this.name = 'CallRejection';
  }

  get reasonHeader(): string {
    return sipReason(this.status, this.reason);
  }
}
