/**
 * The `mtrack ui` server: the page (static files) plus the JSON API under /api/v1, over node:http with
 * the server's Router. Read-only by construction: any method other than GET/HEAD is refused (405) before
 * routing. Errors answer `{ error: { code, message, hint?, data? } }` with a status from the code.
 */

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { type ErrorCode, errnoCode, isMtrackError, MtrackError } from "../errors.js";
import { type Handler, HttpError, Router } from "../server/router.js";
import { RunListing } from "../tracking/listing.js";
import { sendUiJson, type UiApiOptions, uiApi } from "./api.js";
import { defaultUiDir, serveAsset, serveIndex } from "./static.js";

/** What `startUiServer` serves. */
export interface UiServerOptions extends UiApiOptions {
  /** The built page (default: dist/ui of this package). */
  uiDir?: string;
  /**
   * Answer only requests whose Host header names this machine's loopback (default true). A web page
   * could otherwise read the API through DNS rebinding (its own name resolving to 127.0.0.1); a server
   * bound to a public address on purpose turns this off.
   */
  loopbackHostsOnly?: boolean;
}

/** A running UI server. */
export interface RunningUiServer {
  /** `http://host:port/` */
  url: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

const NOT_FOUND_CODES: ReadonlySet<ErrorCode> = new Set([
  "ERR_MTRACK_RUN_NOT_FOUND",
  "ERR_MTRACK_EXPERIMENT_NOT_FOUND",
  "ERR_MTRACK_ARTIFACT_NOT_FOUND",
  "ERR_MTRACK_PATH_NOT_FOUND",
  "ERR_MTRACK_MODEL_NOT_FOUND",
]);

const BAD_INPUT_CODES: ReadonlySet<ErrorCode> = new Set([
  "ERR_MTRACK_INVALID_ARGUMENT",
  "ERR_MTRACK_INVALID_NAME",
  "ERR_MTRACK_SEARCH_SYNTAX",
  "ERR_MTRACK_RUN_AMBIGUOUS",
  "ERR_MTRACK_MODEL_URI_INVALID",
]);

/**
 * The HTTP status the API answers a library error with: 404 for unknown things, 400 for bad input, 500
 * otherwise.
 *
 * @example
 * statusForCode("ERR_MTRACK_RUN_NOT_FOUND"); // 404
 */
export function statusForCode(code: ErrorCode): number {
  if (NOT_FOUND_CODES.has(code)) return 404;
  if (BAD_INPUT_CODES.has(code)) return 400;
  return 500;
}

/**
 * Sends an error the way the UI's API answers it: `{ error: { code, message, hint?, data? } }` with a
 * status from the code.
 *
 * @example
 * sendUiError(res, new MtrackError("ERR_MTRACK_RUN_NOT_FOUND", "No run 3f2a.")); // 404
 */
export function sendUiError(res: http.ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof HttpError) {
    if (err.status === 405) res.setHeader("allow", "GET, HEAD");
    sendUiJson(res, err.status, { error: { code: err.code, message: err.message } });
  } else if (isMtrackError(err)) {
    const error: Record<string, unknown> = { code: err.code, message: err.message };
    if (err.hint !== undefined) error.hint = err.hint;
    if (Object.keys(err.data).length > 0) error.data = err.data;
    sendUiJson(res, statusForCode(err.code), { error });
  } else {
    const message = err instanceof Error ? err.message : String(err);
    sendUiJson(res, 500, { error: { code: "ERR_MTRACK_IO", message } });
  }
}

/**
 * The request handler (page + API) without listening, for tests and embedding.
 *
 * @example
 * const server = http.createServer(createUiHandler({ dir, store, repoRoot }));
 */
export function createUiHandler(options: UiServerOptions): http.RequestListener {
  const uiDir = options.uiDir ?? defaultUiDir();
  const loopbackOnly = options.loopbackHostsOnly !== false;
  const router = new Router();
  router.mount("/api/v1", uiApi(options));
  return (req, res) => {
    void (async () => {
      if (loopbackOnly && !isLoopbackHost(hostnameOf(req.headers.host ?? ""))) {
        throw new HttpError(
          403,
          "mtrack ui answers only requests for localhost.",
          "ERR_MTRACK_INVALID_ARGUMENT",
        );
      }
      const method = req.method ?? "GET";
      if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "mtrack ui is read-only.");
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://localhost");
      } catch {
        throw new HttpError(400, "Bad request URL.");
      }
      const p = url.pathname;
      if (p === "/api" || p.startsWith("/api/")) {
        const match = router.match(method, p);
        if (match === undefined || match === "method") {
          throw new HttpError(404, `No API endpoint ${p}.`, "ERR_MTRACK_PATH_NOT_FOUND");
        }
        await match.route.handler({ req, res, params: match.params, url });
      } else if (p.startsWith("/assets/")) {
        let rest: string;
        try {
          rest = decodeURIComponent(p.slice("/assets/".length));
        } catch {
          throw new HttpError(400, "Bad asset path.");
        }
        serveAsset(uiDir, rest, req, res);
      } else if (p === "/" || p === "/index.html") {
        serveIndex(uiDir, req, res);
      } else {
        throw new HttpError(404, `Nothing at ${p}.`, "ERR_MTRACK_PATH_NOT_FOUND");
      }
    })().catch((err: unknown) => sendUiError(res, err));
  };
}

/**
 * The page, its assets and its JSON API as routes of the server's Router (`/`, `/index.html`,
 * `/assets/*`, `/api/v1/...`), for `mtrack server` to serve the UI beside its other APIs. Every route is
 * a GET; mount them with the access the server wants (a read token, or `--public-read`).
 *
 * @example
 * router.mount("", uiRoutes({ dir, store, repoRoot }), "read");
 */
export function uiRoutes(options: UiServerOptions): Router {
  const uiDir = options.uiDir ?? defaultUiDir();
  const router = new Router();
  const page: Handler = async ({ req, res }) => serveIndex(uiDir, req, res);
  router.add({ method: "GET", pattern: "/", access: "public", handler: page });
  router.add({ method: "GET", pattern: "/index.html", access: "public", handler: page });
  router.add({
    method: "GET",
    pattern: "/assets/*rest",
    access: "public",
    handler: async ({ req, res, params }) => serveAsset(uiDir, params.rest ?? "", req, res),
  });
  router.mount("/api/v1", uiApi(options));
  return router;
}

/** True for the paths `uiRoutes` serves (their errors use the UI's error body). */
export function isUiPath(pathname: string): boolean {
  return (
    pathname === "/" ||
    pathname === "/index.html" ||
    pathname.startsWith("/assets/") ||
    pathname.startsWith("/api/v1/")
  );
}

/**
 * Starts the UI server on host:port (port 0 picks a free one; host defaults to loopback).
 *
 * @example
 * const ui = await startUiServer({ ...openTracking(repo), repoRoot: repo.root, port: 5050 });
 * // open ui.url; later: await ui.close();
 */
export async function startUiServer(
  options: UiServerOptions & { host?: string; port?: number },
): Promise<RunningUiServer> {
  const port = options.port ?? 5050;
  const host0 = options.host ?? "127.0.0.1";
  const listing = options.listing ?? new RunListing(options.dir, options.store, options.liveness);
  const server = http.createServer(
    { keepAlive: true },
    createUiHandler({ loopbackHostsOnly: isLoopbackHost(host0), ...options, listing }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host0, () => resolve());
    });
  } catch (err) {
    throw new MtrackError("ERR_MTRACK_IO", `Cannot listen on ${host0}:${port}: ${(err as Error).message}`, {
      hint: "Pass another --port (0 picks a free one) or --host.",
      data: { host: host0, port, errno: errnoCode(err) },
      cause: err,
    });
  }
  // Read the runs listing now, while the user opens the browser, so the first page is served from cache.
  // A failure here is reported by the first request that needs the listing.
  setImmediate(() => {
    try {
      listing.snapshot();
    } catch {
      // see above
    }
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    port: addr.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The host name of a Host header value (port and IPv6 brackets removed).
 *
 * @example
 * hostnameOf("[::1]:5050"); // "::1"
 */
export function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") === -1 ? undefined : h.indexOf("]"));
  const colon = h.indexOf(":");
  return colon === -1 ? h : h.slice(0, colon);
}

/**
 * True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost): the UI has no
 * authentication, so anything else deserves a warning.
 *
 * @example
 * isLoopbackHost("0.0.0.0"); // false
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}
