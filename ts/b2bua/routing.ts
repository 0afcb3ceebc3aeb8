/**
 * Realms and routes: which realm a request came from (by the local address
 * and port it arrived on) and where it goes (first matching route).
 */
import type { RealmConfig, RouteConfig, SbcConfig } from '../config';

export interface RouteDecision {
  source: RealmConfig;
  target: RealmConfig;
  /** Request-URI for the outgoing leg. */
  uri: string;
}

export class RouteError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'RouteError';
  }
}

interface CompiledRoute {
  route: RouteConfig;
  user?: RegExp;
  host?: RegExp;
}

export class Router {
  private readonly routes: CompiledRoute[];

  constructor(private readonly config: SbcConfig) {
    this.routes = config.routes.map((route) => ({
      route,
      user: route.user !== undefined ? new RegExp(route.user) : undefined,
      host: route.host !== undefined ? new RegExp(route.host) : undefined,
    }));
  }

  realm(name: string): RealmConfig | undefined {
    return this.config.realms.find((r) => r.name === name);
  }

  /**
   * The realm whose listen entry matches the local `address:port` a request
   * arrived on (drachtio's receivedOn) and its transport. A realm listening
   * on a port the engine assigned (port 0 in tests) is matched by address
   * and transport via `boundPorts`.
   */
  sourceRealm(receivedOn: string | undefined, protocol: string | undefined, boundPorts?: Map<string, number>): RealmConfig | undefined {
    if (!receivedOn) return this.config.realms.length === 1 ? this.config.realms[0] : undefined;
    const i = receivedOn.lastIndexOf(':');
    const address = receivedOn.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(receivedOn.slice(i + 1));
    const proto = (protocol ?? 'udp').toLowerCase();
    return this.config.realms.find((r) =>
      r.sip.listen.some((l) => {
        const actual = l.port === 0 ? boundPorts?.get(`${r.name}/${l.transport}/${l.address}`) : l.port;
        return l.address === address && actual === port && (l.transport === proto || (proto === 'wss' && l.transport === 'tls'));
      }),
    );
  }

  route(source: RealmConfig, requestUri: string): RouteDecision {
    const { user, host } = splitUri(requestUri);
    for (const c of this.routes) {
      if (c.route.from && c.route.from !== source.name) continue;
      if (c.user && !c.user.test(user)) continue;
      if (c.host && !c.host.test(host)) continue;
      const target = this.realm(c.route.to);
      if (!target) continue;
      const uri = c.route.uri
        ? c.route.uri.replace(/\$\{user\}/g, user)
        : withUser(target.sip.nextHop ?? '', user);
      return { source, target, uri };
    }
    throw new RouteError(404, `no route from realm ${source.name} for ${user || '(no user)'}@${host}`);
  }
}

function splitUri(uri: string): { user: string; host: string } {
  const m = /^sips?:(?:([^@;?]*)@)?([^;?>]+)/i.exec(uri);
  return { user: m?.[1] ?? '', host: (m?.[2] ?? '').replace(/:\d+$/, '') };
}

/** `sip:host:port;params` + user -> `sip:user@host:port;params`. */
function withUser(nextHop: string, user: string): string {
  const m = /^(sips?:)(?:[^@]*@)?(.*)$/i.exec(nextHop);
  if (!m) return nextHop;
  return user ? `${m[1]}${user}@${m[2]}` : `${m[1]}${m[2]}`;
}
