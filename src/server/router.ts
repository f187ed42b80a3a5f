/**
 * The server's one routing layer: routes are (method, pattern) → handler, matched in order. Every API
 * (the store API now; the tracking API and web UI later) mounts its routes here, and auth is decided per
 * route from its declared access ("read" or "write"), so no handler can forget it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** What a route needs from the caller's token. */
export type Access = "read" | "write" | "admin" | "public";

/** The request as a handler sees it. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Named segments of the pattern (`/v1/objects/:hash` → { hash }), URL-decoded. */
  params: Record<string, string>;
  url: URL;
  /** The name of the token the request was authenticated with, if any (who makes a change). */
  user?: string;
}

/** Answers one request (throw HttpError for an error status). */
export type Handler = (ctx: RouteContext) => Promise<void>;

/** One endpoint. */
export interface Route {
  method: string;
  /** Path pattern with `:name` segments (one segment each) and an optional trailing `*rest`. */
  pattern: string;
  access: Access;
  handler: Handler;
}

/** A route that matched, with its params. */
export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** A small error type handlers throw to answer with a status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = "ERR_MTRACK_INVALID_ARGUMENT",
  ) {
    super(message);
  }
}

/**
 * Ordered routes. Pure matching, so it is unit-tested without sockets.
 *
 * @example
 * const router = new Router().add({ method: "GET", pattern: "/v1/objects/:hash", access: "read", handler });
 * router.match("GET", "/v1/objects/ab12...")?.params.hash;
 */
export class Router {
  private readonly routes: Route[] = [];

  add(route: Route): this {
    this.routes.push(route);
    return this;
  }

  /**
   * Mounts every route of another router under a prefix; `access` replaces the routes' own (e.g. the
   * web UI's routes, public in `mtrack ui`, need a read token in `mtrack server`).
   */
  mount(prefix: string, other: Router, access?: Access): this {
    for (const r of other.routes) {
      this.routes.push({ ...r, pattern: prefix + r.pattern, access: access ?? r.access });
    }
    return this;
  }

  /** The first route matching method and path; "method" when only the method differs. */
  match(method: string, pathname: string): RouteMatch | "method" | undefined {
    let methodMismatch = false;
    for (const route of this.routes) {
      const params = matchPattern(route.pattern, pathname);
      if (!params) continue;
      if (route.method !== method && !(method === "HEAD" && route.method === "GET")) {
        methodMismatch = true;
        continue;
      }
      return { route, params };
    }
    return methodMismatch ? "method" : undefined;
  }
}

function matchPattern(pattern: string, pathname: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const got = pathname.split("/");
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith("*")) {
      const rest = got.slice(i);
      if (rest.length === 0) return undefined;
      try {
        params[w.slice(1)] = rest.map(decodeURIComponent).join("/");
      } catch {
        return undefined;
      }
      return params;
    }
    const g = got[i];
    if (g === undefined) return undefined;
    if (w.startsWith(":")) {
      if (g === "") return undefined;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) return undefined;
  }
  return got.length === want.length ? params : undefined;
}
