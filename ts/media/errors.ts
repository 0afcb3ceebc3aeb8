/** Errors of the media engine, with a code the control plane maps to SIP. */
export type MediaErrorCode = 'PortsExhausted' | 'NoSuchPipeline' | 'InvalidSpec' | 'Internal' | 'Closed';

export class MediaEngineError extends Error {
  readonly code: MediaErrorCode;

  constructor(code: MediaErrorCode, message: string) {
    super(message);
    this.name = 'MediaEngineError';
    this.code = code;
  }

  /** The SIP status a call should be refused with when this error stops it. */
  get sipStatus(): number {
    return this.code === 'PortsExhausted' ? 503 : this.code === 'InvalidSpec' ? 488 : 500;
  }
}

/** Native errors carry their code as a `[Code] message` prefix. */
export function fromNative(err: unknown): MediaEngineError {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^\[(\w+)\]\s*(.*)$/s.exec(message);
  const code = (m?.[1] ?? 'Internal') as MediaErrorCode;
  return new MediaEngineError(code, m?.[2] ?? message);
}
