/**
 * Call detail records: one JSON line per call (answered, rejected, cancelled
 * or failed) to stdout or a file rotated by size (file -> file.1 -> ...).
 */
import { appendFileSync, existsSync, renameSync, statSync } from 'node:fs';

export interface CdrLeg {
  realm: string;
  security?: string;
  profile?: string;
  packetsIn?: number;
  packetsOut?: number;
  handshakes?: number;
}

export interface Cdr {
  callId: string;
  result: 'answered' | 'rejected' | 'cancelled' | 'failed';
  /** SIP status the caller got when the call did not connect. */
  status?: number;
  start: string;
  answer?: string;
  end: string;
  durationMs: number;
  endReason: string;
  from?: string;
  to?: string;
  legs: { a?: CdrLeg; b?: CdrLeg };
}

export interface CdrOptions {
  /** 'stdout' or a file path; absent: no CDRs. */
  path?: string;
  maxBytes?: number;
  keep?: number;
}

export class CdrWriter {
  private readonly maxBytes: number;
  private readonly keep: number;

  constructor(private readonly o: CdrOptions) {
    this.maxBytes = o.maxBytes ?? 50 * 1024 * 1024;
    this.keep = o.keep ?? 5;
  }

  write(cdr: Cdr): void {
    const line = JSON.stringify(cdr) + '\n';
    if (!this.o.path) return;
    if (this.o.path === 'stdout') {
      process.stdout.write(line);
      return;
    }
    this.rotateIfNeeded(Buffer.byteLength(line));
    appendFileSync(this.o.path, line);
  }

  private rotateIfNeeded(incoming: number): void {
    const p = this.o.path!;
    if (!existsSync(p) || statSync(p).size + incoming <= this.maxBytes) return;
    for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${p}.${i}`)) renameSync(`${p}.${i}`, `${p}.${i + 1}`);
    renameSync(p, `${p}.1`);
  }
}
