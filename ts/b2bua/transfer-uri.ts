/**
 * Refer-To / Referred-By / Replaces parsing and mapping for call transfer.
 * Pure functions. A Refer-To is accepted as name-addr (`<sip:...>`, URI
 * headers allowed) or bare addr-spec (baresip: `sip:carol@host`, where a `;`
 * starts header parameters, not URI parameters).
 */

export interface SipUri {
  scheme: 'sip' | 'sips';
  user?: string;
  host: string;
  port?: number;
  /** URI parameters without the leading ';' (e.g. `transport=tcp;lr`). */
  params: Map<string, string>;
  /** URI headers (`?Replaces=...&...`), names lower-cased, values decoded. */
  headers: Map<string, string>;
}

export interface NameAddr {
  display?: string;
  /** The URI text as written. */
  uri: string;
  /** Header parameters after the address (`;tag=...`), as written. */
  params: string;
}

/** RFC 3891 dialog identifiers. */
export interface ReplacesId {
  callId: string;
  toTag: string;
  fromTag: string;
  earlyOnly: boolean;
}

export class TransferUriError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'TransferUriError';
  }
}

/** `"Name" <uri>;params` or `uri;params`. */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  const lt = v.indexOf('<');
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new TransferUriError(400, 'unterminated <...> in address');
    const display = v.slice(0, lt).trim().replace(/^"(.*)"$/, '$1') || undefined;
    return { display, uri: v.slice(lt + 1, gt).trim(), params: v.slice(gt + 1).trim() };
  }
  // addr-spec: a ';' after the host starts header parameters, except that a
  // liberal reading keeps URI headers ('?') in the URI.
  const q = v.indexOf('?');
  const semi = v.indexOf(';');
  if (semi >= 0 && (q < 0 || semi < q)) return { uri: v.slice(0, semi), params: v.slice(semi) };
  return { uri: v, params: '' };
}

export function parseSipUri(text: string): SipUri {
  const m = /^(sips?):(?:([^@]*)@)?(\[[0-9a-fA-F:.]+\]|[^;?:]+)(?::(\d+))?((?:;[^?]*)?)(\?.*)?$/i.exec(text.trim());
  if (!m) throw new TransferUriError(400, `not a SIP URI: ${text.slice(0, 80)}`);
  const params = new Map<string, string>();
  for (const p of (m[5] ?? '').split(';').filter(Boolean)) {
    const i = p.indexOf('=');
    params.set((i < 0 ? p : p.slice(0, i)).toLowerCase(), i < 0 ? '' : p.slice(i + 1));
  }
  const headers = new Map<string, string>();
  for (const h of (m[6] ?? '').slice(1).split('&').filter(Boolean)) {
    const i = h.indexOf('=');
    const name = decode(i < 0 ? h : h.slice(0, i)).toLowerCase();
    headers.set(name, i < 0 ? '' : decode(h.slice(i + 1)));
  }
  const port = m[4] !== undefined ? Number(m[4]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new TransferUriError(400, `bad port in ${text.slice(0, 80)}`);
  return { scheme: (m[1] ?? 'sip').toLowerCase() as 'sip' | 'sips', user: m[2] || undefined, host: m[3] ?? '', port, params, headers };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new TransferUriError(400, 'bad %-escape in URI headers');
  }
}

/** `callid;to-tag=..;from-tag=..[;early-only]` (RFC 3891 6.1). */
export function parseReplaces(value: string): ReplacesId {
  const parts = value.split(';').map((s) => s.trim());
  const callId = parts.shift() ?? '';
  let toTag: string | undefined;
  let fromTag: string | undefined;
  let earlyOnly = false;
  for (const p of parts) {
    const i = p.indexOf('=');
    const k = (i < 0 ? p : p.slice(0, i)).toLowerCase();
    const v = i < 0 ? '' : p.slice(i + 1).replace(/^"(.*)"$/, '$1');
    if (k === 'to-tag') toTag = v;
    else if (k === 'from-tag') fromTag = v;
    else if (k === 'early-only') earlyOnly = true;
  }
  if (!callId || !toTag || !fromTag) throw new TransferUriError(400, 'Replaces needs a Call-ID, to-tag and from-tag');
  return { callId, toTag, fromTag, earlyOnly };
}

export function formatReplaces(r: ReplacesId): string {
  return `${r.callId};to-tag=${r.toTag};from-tag=${r.fromTag}${r.earlyOnly ? ';early-only' : ''}`;
}

/** The parsed Refer-To of a REFER: 400 when missing, several, or not a SIP URI; 403 for other schemes or methods. */
export function parseReferTo(value: string | undefined): { addr: NameAddr; uri: SipUri; replaces?: ReplacesId } {
  if (!value || !value.trim()) throw new TransferUriError(400, 'REFER without Refer-To');
  const addr = parseNameAddr(value);
  if (/^\s*<[^>]*>[^,]*,/.test(value) || (!value.includes('<') && value.includes(','))) throw new TransferUriError(400, 'REFER with more than one Refer-To');
  if (!/^sips?:/i.test(addr.uri)) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(addr.uri)?.[1];
    if (scheme) throw new TransferUriError(403, `Refer-To scheme ${scheme.toLowerCase()}: is not supported (only sip:)`);
    throw new TransferUriError(400, 'Refer-To is not a URI');
  }
  const uri = parseSipUri(addr.uri);
  const method = uri.params.get('method');
  if (method && method.toUpperCase() !== 'INVITE') throw new TransferUriError(403, `Refer-To method ${method.toUpperCase()} is not supported (only INVITE)`);
  const rep = uri.headers.get('replaces');
  return { addr, uri, replaces: rep !== undefined ? parseReplaces(rep) : undefined };
}

export interface SbcAddress {
  host: string;
  port: number;
  transport: string;
}

function hostPort(a: SbcAddress): string {
  const host = a.host.includes(':') && !a.host.startsWith('[') ? `[${a.host}]` : a.host;
  return `${host}:${a.port}${a.transport !== 'udp' ? `;transport=${a.transport}` : ''}`;
}

/**
 * The Refer-To the transferee gets: the target's user at the SBC's own SIP
 * address in the transferee's realm, so the transferee's INVITE comes back
 * through the SBC; Replaces kept (re-encoded), every other URI parameter and
 * header (topology) dropped.
 */
export function mapReferTo(uri: SipUri, via: SbcAddress, replaces?: ReplacesId): string {
  const user = uri.user ? `${uri.user}@` : '';
  const hdr = replaces ? `?Replaces=${encodeURIComponent(formatReplaces(replaces))}` : '';
  return `<sip:${user}${hostPort(via)}${hdr}>`;
}

/** The Referred-By the transferee gets: display name and user kept, host mapped to the SBC. */
export function mapReferredBy(value: string, via: SbcAddress): string | undefined {
  try {
    const addr = parseNameAddr(value);
    const uri = parseSipUri(addr.uri);
    const display = addr.display ? `"${addr.display.replace(/"/g, '')}" ` : '';
    return `${display}<sip:${uri.user ? `${uri.user}@` : ''}${hostPort(via)}>`;
  } catch {
    return undefined;
  }
}

/** Sets or replaces the `id` parameter of an Event header value (`refer;id=5`). */
export function withEventId(event: string, id: string | undefined): string {
  const base = event.replace(/;\s*id\s*=\s*[^;]*/i, '');
  return id ? `${base};id=${id}` : base;
}

export function eventId(event: string): string | undefined {
  return /;\s*id\s*=\s*([^;\s]+)/i.exec(event)?.[1];
}
