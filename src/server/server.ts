/**
 * `mtrack server`: an HTTP server over one store directory. Routing goes through one Router (see
 * router.ts); authentication is decided here, once, from each route's declared access: writes always
 * need a write token, reads need a token unless the server is public-read.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { errnoCode, isMtrackError, MtrackError } from "../errors.js";
import type { PlotsSource } from "../plots/collect.js";
import type { ModelRegistry } from "../registry/models.js";
import { LocalRemote } from "../remotes/local.js";
import type { Tracking } from "../tracking/context.js";
import { RunListing } from "../tracking/listing.js";
import type { GitInfoProvider } from "../tracking/types.js";
import { isUiPath, sendUiError, uiRoutes } from "../ui/server.js";
import { defaultUiDir, serveAsset, serveIndex } from "../ui/static.js";
import { sendError, sendJson } from "./http-util.js";
import type { MlflowBackend } from "./mlflow/backend.js";
import { isMlflowPath, sendMlflowError, toMlflowError } from "./mlflow/errors.js";
import { DEFAULT_MLFLOW_LIMITS, mlflowApi, mlflowUnavailable } from "./mlflow/routes.js";
import { MlflowService } from "./mlflow/service.js";
import { type Handler, HttpError, Router } from "./router.js";
import { DEFAULT_LIMITS, type StoreApiHooks, type StoreApiLimits, storeApi } from "./store-api.js";
import { findToken, type TokenRecord } from "./tokens.js";

/** The token file of a served store directory. */
export function tokensFileOf(storeDir: string): string {
  return path.join(storeDir, "server", "tokens.json");
}

/** What `mtrack server` serves and how. */
export interface ServerOptions {
  /**
   * The store directory served to push/pull on /v1 (created if missing). Optional only with
   * `mlflowBackend`: without it /v1 (but /v1/health) is not served.
   */
  storeDir?: string;
  /** Token file (default `<store>/server/tokens.json`). */
  tokensFile?: string;
  /** Refuse every write. */
  readOnly?: boolean;
  /** Reads without a token. */
  publicRead?: boolean;
  limits?: Partial<StoreApiLimits>;
  /**
   * The repository's runs (`openTracking(repo)`): serves the MLflow-compatible tracking API over them.
   * Without it the MLflow paths answer NOT_IMPLEMENTED.
   */
  tracking?: Pick<Tracking, "dir" | "store">;
  /**
   * Opens the repository's model registry as a user (`(user) => ModelRegistry.open(repo, { user })`),
   * with `tracking`: MLflow 3's logged models and the registered-models / model-versions endpoints work
   * over it, each change recorded as the name of the token that made it.
   */
  openModels?: (user: string) => ModelRegistry;
  /** Recorded as the mtrack version of runs created through the MLflow API. */
  mtrackVersion?: string;
  /** The repository root (the web UI's /api/v1/info reports it); with `tracking`. */
  repoRoot?: string;
  /** The repository's pipeline plots for the web UI's plots view; with `tracking`. */
  plots?: PlotsSource;
  /** The built web page (default: dist/ui of this package). */
  uiDir?: string;
  /** Commit/branch/dirty of MLflow runs whose client reports no commit (see MlflowServiceOptions). */
  gitInfo?: GitInfoProvider;
  /**
   * The MLflow API's backend instead of the repository's files (`mtrack server --db`: PgMlflowService);
   * without `tracking` the web UI is not served.
   */
  mlflowBackend?: MlflowBackend;
  /**
   * Who a presented token is and what it may do (`--db`: the database's users and tokens); default: the
   * token file, where a write token is role "write".
   */
  authenticate?: (token: string) => Promise<Caller | undefined> | Caller | undefined;
  /** More routes, matched before the MLflow API (`--db`: the admin API, src/server/pg/admin.ts). */
  routes?: Router;
  /**
   * The web UI's JSON API (mounted at /api/v1) when the runs are not a repository's (`--db`: pgUiApi);
   * with it the page is served too, behind the read-token rule.
   */
  uiApi?: Router;
  /** Hooks of the /v1 store API (the team server records pushed runs in its database). */
  storeHooks?: StoreApiHooks;
  /**
   * Without `storeDir`: why /v1 push/pull is not served (answered 409 with its hint to every /v1 request
   * but /v1/health); default 404.
   */
  noStore?: { message: string; hint: string };
}

/**
 * The holder of a request's token. Role read may only read; write may also write; admin may do both
 * and manage users and tokens (`mtrack server user ... --db`, or over HTTP: src/server/pg/admin.ts).
 */
export interface Caller {
  user: string;
  role: "read" | "write" | "admin";
}

/** A running server. */
export interface RunningServer {
  url: string;
  port: number;
  server: http.Server;
  /** The MLflow backend when `tracking` or `mlflowBackend` was given. */
  mlflow: MlflowBackend | undefined;
  close(): Promise<void>;
}

/**
 * Builds the request handler (routing + auth + error mapping) without listening, for tests and for
 * embedding in another server.
 */
export function createHandler(options: ServerOptions): {
  handler: http.RequestListener;
  router: Router;
  /** The served store (undefined without `storeDir`). */
  remote: LocalRemote | undefined;
  /** The MLflow backend when `tracking` or `mlflowBackend` was given; close it when the server stops. */
  mlflow: MlflowBackend | undefined;
} {
  if (options.storeDir === undefined && (options.mlflowBackend === undefined || options.tracking)) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "a server needs a store directory");
  }
  const remote =
    options.storeDir === undefined ? undefined : LocalRemote.open({ dir: options.storeDir, create: true });
  const tokensFile =
    options.tokensFile ?? (options.storeDir === undefined ? "" : tokensFileOf(options.storeDir));
  const authenticate =
    options.authenticate ??
    ((token: string): Caller | undefined => {
      const t: TokenRecord | undefined = findToken(tokensFile, token);
      return t && { user: t.name, role: t.scope };
    });
  const router = new Router();
  router.add({
    method: "GET",
    pattern: "/v1/health",
    access: "public",
    handler: async ({ res }) => sendJson(res, 200, { ok: true, readOnly: options.readOnly === true }),
  });
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (remote) router.mount("/v1", storeApi(remote, limits, options.storeHooks));
  else if (options.noStore) {
    const { message, hint } = options.noStore;
    for (const method of ["GET", "HEAD", "POST", "PUT"] as const) {
      router.add({
        method,
        pattern: "/v1/*rest",
        access: "public",
        handler: async ({ res }) => {
          // 409 (not 5xx, which clients retry): the http remote shows the message and the hint.
          sendJson(res, 409, { error: { code: "ERR_MTRACK_INVALID_ARGUMENT", message, hint } });
        },
      });
    }
  }
  if (options.routes) router.mount("", options.routes);
  // One listing for the MLflow API and the web UI, so a change made through one is seen by the other.
  const listing = options.tracking && new RunListing(options.tracking.dir, options.tracking.store);
  const mlflow = options.mlflowBackend
    ? options.mlflowBackend
    : options.tracking
      ? new MlflowService({
          tracking: options.tracking,
          mtrackVersion: options.mtrackVersion,
          listing,
          ...(options.gitInfo ? { gitInfo: options.gitInfo } : {}),
          ...(options.openModels ? { openModels: options.openModels } : {}),
        })
      : undefined;
  if (options.tracking) {
    // The web UI (the page MLflow's "View run" links open), read-only, behind the read-token rule.
    const { dir, store } = options.tracking;
    const ui = uiRoutes({
      dir,
      store,
      listing,
      repoRoot: options.repoRoot ?? "",
      uiDir: options.uiDir,
      openObject: (hash) => remote!.open(hash),
      plots: options.plots,
    });
    router.mount("", ui, "read");
  } else if (options.uiApi) {
    const uiDir = options.uiDir ?? defaultUiDir();
    const page = new Router();
    const index: Handler = async ({ req, res }) => serveIndex(uiDir, req, res);
    page.add({ method: "GET", pattern: "/", access: "public", handler: index });
    page.add({ method: "GET", pattern: "/index.html", access: "public", handler: index });
    page.add({
      method: "GET",
      pattern: "/assets/*rest",
      access: "public",
      handler: async ({ req, res, params }) => serveAsset(uiDir, params.rest ?? "", req, res),
    });
    page.mount("/api/v1", options.uiApi);
    router.mount("", page, "read");
  }
  router.mount(
    "",
    mlflow
      ? mlflowApi(mlflow, {
          ...(remote ? { openObject: (hash: string) => remote.open(hash) } : {}),
          limits: { ...DEFAULT_MLFLOW_LIMITS, artifactBytes: limits.objectBytes },
        })
      : mlflowUnavailable(),
  );

  const handler: http.RequestListener = (req, res) => {
    let pathname = "/";
    void (async () => {
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://localhost");
      } catch {
        throw new HttpError(400, "Bad request URL.");
      }
      pathname = url.pathname;
      const match = router.match(req.method ?? "GET", url.pathname);
      if (match === "method") throw new HttpError(405, "Method not allowed.");
      if (!match) throw new HttpError(404, "No such endpoint.", "ERR_MTRACK_PATH_NOT_FOUND");
      const access = match.route.access;
      let found: Caller | undefined;
      if (access !== "public") {
        const auth = req.headers.authorization ?? "";
        const token = bearerOrBasicToken(auth);
        found = token ? await authenticate(token) : undefined;
        const role = found?.role;
        if (access === "admin") {
          if (!role) throw new HttpError(401, "A valid bearer token is required.", "ERR_MTRACK_IO");
          if (role !== "admin")
            throw new HttpError(403, "This needs a token of a user with role admin.", "ERR_MTRACK_IO");
          if (options.readOnly && req.method !== "GET" && req.method !== "HEAD")
            throw new HttpError(403, "This server is read-only.", "ERR_MTRACK_IO");
        } else if (access === "write") {
          if (!role) throw new HttpError(401, "A valid bearer token is required.", "ERR_MTRACK_IO");
          if (role === "read") throw new HttpError(403, "This token may only read.", "ERR_MTRACK_IO");
          if (options.readOnly) throw new HttpError(403, "This server is read-only.", "ERR_MTRACK_IO");
        } else if (!options.publicRead && !role) {
          throw new HttpError(401, "A valid bearer token is required.", "ERR_MTRACK_IO");
        }
      }
      const user = found?.user;
      await match.route.handler({ req, res, params: match.params, url, ...(user ? { user } : {}) });
    })().catch((err: unknown) => {
      if ((options.tracking || options.uiApi) && isUiPath(pathname)) {
        // A browser asks for credentials on a Basic challenge: the token goes in as the password.
        if (err instanceof HttpError && err.status === 401 && !res.headersSent) {
          res.setHeader("www-authenticate", 'Basic realm="mtrack", charset="UTF-8"');
        }
        sendUiError(res, err);
      } else if (isMlflowPath(pathname)) {
        const { status, body } = toMlflowError(err);
        sendMlflowError(res, status, body);
      } else if (err instanceof HttpError) sendError(res, err.status, err.code, err.message);
      else if (isMtrackError(err)) {
        const status =
          err.code === "ERR_MTRACK_FORMAT_INVALID" || err.code === "ERR_MTRACK_INVALID_NAME" ? 400 : 500;
        sendError(res, status, err.code, err.message);
      } else sendError(res, 500, "ERR_MTRACK_IO", err instanceof Error ? err.message : String(err));
    });
  };
  return { handler, router, remote, mlflow };
}

/**
 * The token of an Authorization header: `Bearer <token>`, or the password of `Basic` credentials (what
 * the MLflow client sends for MLFLOW_TRACKING_USERNAME/PASSWORD), so either way works.
 */
function bearerOrBasicToken(auth: string): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  if (bearer !== undefined) return bearer;
  const basic = /^Basic\s+(\S+)$/i.exec(auth)?.[1];
  if (basic === undefined) return undefined;
  const decoded = Buffer.from(basic, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1) || undefined;
}

/** A connection with no traffic for this long is closed (a stalled upload, an idle client). */
export const IDLE_TIMEOUT_MS = 120_000;
/** Request headers must be complete within this time. */
const HEADERS_TIMEOUT_MS = 60_000;

/**
 * Starts the server on host:port (port 0 picks a free one).
 *
 * @example
 * const s = await startServer({ storeDir: "/srv/mtrack", host: "127.0.0.1", port: 8080 });
 * console.error(`listening on ${s.url}`);
 */
export async function startServer(
  options: ServerOptions & { host?: string; port?: number; idleTimeoutMs?: number },
): Promise<RunningServer> {
  const { handler, remote, mlflow } = createHandler(options);
  const server = http.createServer({ keepAlive: true }, handler);
  // Large uploads can take long on slow links; the default 5 min request timeout would cut them. A
  // connection that sends nothing for IDLE_TIMEOUT_MS is closed instead, so stalled clients cannot hold
  // sockets forever, and headers must arrive within HEADERS_TIMEOUT_MS.
  server.requestTimeout = 0;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.setTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS, (socket) => socket.destroy());
  const port = options.port ?? 8080;
  const host0 = options.host ?? "127.0.0.1";
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host0, () => resolve());
    });
  } catch (err) {
    const inUse = errnoCode(err) === "EADDRINUSE";
    throw new MtrackError(
      "ERR_MTRACK_IO",
      inUse
        ? `Port ${port} on ${host0} is already in use.`
        : `Cannot listen on ${host0}:${port}: ${(err as Error).message}`,
      {
        hint: inUse
          ? "Stop the other server, or pass another --port (0 picks a free one)."
          : "Pass another --port (0 picks a free one) or --host.",
        data: { host: host0, port, errno: errnoCode(err) },
        cause: err,
      },
    );
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    server,
    mlflow,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          // Runs still open are ended as KILLED (and sealed) before the store closes under them.
          void (mlflow?.close() ?? Promise.resolve()).then(() => remote?.close()).then(resolve);
        });
      }),
  };
}
