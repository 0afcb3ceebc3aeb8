/**
 * The SDP of a request body. Carrier INVITEs often carry multipart/mixed
 * (SIP-I/SIP-T: SDP next to an ISUP part, RFC 3204; or SDP with a PIDF
 * location): the SDP part is used and the rest is not relayed. Anything
 * else is 415 Unsupported Media Type with Accept: application/sdp (RFC 3261
 * 21.4.13). Nesting is bounded (a body of hundreds of nested multiparts is a
 * known parser attack).
 */
import { CallRejection } from './reason';

const MAX_DEPTH = 3;

function unsupported(text: string): CallRejection {
  return new CallRejection(415, text, { Accept: 'application/sdp' });
}

/** Media type (lower case, no parameters) and a parameter of a Content-Type value. */
function mediaType(ct: string): string {
  return (ct.split(';')[0] ?? '').trim().toLowerCase();
}
function param(ct: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*("([^"]*)"|[^;\\s]+)`, 'i').exec(ct);
  return m ? (m[2] ?? m[1]) : undefined;
}

function fromMultipart(ct: string, body: string, depth: number): string | undefined {
  const boundary = param(ct, 'boundary');
  if (!boundary || depth > MAX_DEPTH) return undefined;
  const parts = body.split(`--${boundary}`).slice(1);
  for (const part of parts) {
    if (part.startsWith('--')) break; // closing delimiter
    const text = part.replace(/^\r?\n/, '');
    const sep = /\r?\n\r?\n/.exec(text);
    if (!sep) continue;
    const headers = text.slice(0, sep.index);
    const content = text.slice(sep.index + sep[0].length).replace(/\r?\n$/, '');
    const partCt = /^content-type\s*:\s*(.*)$/im.exec(headers)?.[1]?.trim() ?? 'text/plain';
    const t = mediaType(partCt);
    if (t === 'application/sdp') return content;
    if (t.startsWith('multipart/')) {
      const inner = fromMultipart(partCt, content, depth + 1);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** The SDP offer/answer carried by a body of Content-Type `contentType` (absent: SDP assumed). */
export function sdpOfBody(contentType: string | undefined, body: string): string {
  if (!contentType) return body;
  const t = mediaType(contentType);
  if (t === 'application/sdp') return body;
  if (t.startsWith('multipart/')) {
    const sdp = fromMultipart(contentType, body, 1);
    if (sdp === undefined) throw unsupported(`no application/sdp part in the ${t} body`);
    return sdp;
  }
  throw unsupported(`unsupported body type ${t.slice(0, 64)}`);
}
