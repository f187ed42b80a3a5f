/**
 * The scoring server of `mtrack models serve`: MLflow's scoring protocol over one loaded model.
 * `POST /invocations` → `{"predictions": [...]}`; `GET /ping` and `/health` → 200; `GET /version`.
 * Errors answer in MLflow's shape, `{"error_code", "message"}`, plus mtrack's stable `code` and the
 * error's `data` (which row, which column).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ioError, isMtrackError } from "../errors.js";
import { readBody } from "../server/http-util.js";
import { HttpError } from "../server/router.js";
import { Batcher } from "./batcher.js";
import { parseScoringRequest } from "./input.js";
import type { Predictor } from "./predictor.js";

/** One answered request, for the injected logger. */
export interface ScoringEvent {
  method: string;
  path: string;
  status: number;
  /** Rows scored (0 unless a successful /invocations). */
  rows: number;
  /** Milliseconds from the request's arrival to the answer, by the injected clock. */
  ms: number;
  /** The error's message, for 4xx/5xx answers. */
  error?: string;
}

export interface ScoringServerOptions {
  predictor: Predictor;
  /** Largest request body accepted (413 above it). Default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** What `GET /version` answers (the mtrack version). */
  version?: string;
  /** Called once per answered request (never for health checks, which orchestrators send constantly). */
  logger?: (event: ScoringEvent) => void;
  /** Milliseconds, for the events' `ms`; default `performance.now`. */
  clock?: () => number;
  /** Score requests that arrive together in one forward pass (see batcher.ts); default true. */
  batching?: boolean;
}

/** 16 MiB: ~100k rows of 10 features in JSON. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** MLflow's error codes for what this server answers, by HTTP status. */
const MLFLOW_CODE: Record<number, string> = {
  400: "BAD_REQUEST",
  404: "ENDPOINT_NOT_FOUND",
  405: "BAD_REQUEST",
  413: "REQUEST_LIMIT_EXCEEDED",
  415: "BAD_REQUEST",
  500: "INTERNAL_ERROR",
};

const STATUS_OF_CODE: Record<string, number> = {
  ERR_MTRACK_SCORING_INPUT_INVALID: 400,
  ERR_MTRACK_SCORING_CONTENT_TYPE: 415,
  ERR_MTRACK_SCORING_BODY_TOO_LARGE: 413,
};

function send(
  res: http.ServerResponse,
  status: number,
  body: string | Buffer,
  type = "application/json",
): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const headers: Record<string, string | number> = { "content-type": type, "content-length": bytes.length };
  // The client may still be sending a body we refuse to read: close instead of draining it.
  if (status === 413) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(bytes);
}

/** The error answer for anything thrown while handling a request. */
function errorAnswer(err: unknown): { status: number; body: Record<string, unknown> } {
  if (isMtrackError(err)) {
    const status = STATUS_OF_CODE[err.code] ?? 500;
    return {
      status,
      body: {
        error_code: MLFLOW_CODE[status] ?? "INTERNAL_ERROR",
        message: err.message,
        code: err.code,
        data: err.data,
      },
    };
  }
  if (err instanceof HttpError) {
    const code = err.status === 413 ? "ERR_MTRACK_SCORING_BODY_TOO_LARGE" : err.code;
    return {
      status: err.status,
      body: { error_code: MLFLOW_CODE[err.status] ?? "BAD_REQUEST", message: err.message, code },
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { error_code: "INTERNAL_ERROR", message, code: "ERR_MTRACK_IO" } };
}

/**
 * The request handler (no listening), for tests and for embedding.
 *
 * @example
 * const handler = createScoringHandler({ predictor: await loadPredictor("results/model") });
 * http.createServer(handler).listen(5001);
 */
export function createScoringHandler(options: ScoringServerOptions): http.RequestListener {
  const { predictor } = options;
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const clock = options.clock ?? (() => performance.now());
  const logger = options.logger;
  const versionBody = JSON.stringify(options.version ?? "");
  const batcher = options.batching === false ? undefined : new Batcher(predictor);

  return (req, res) => {
    const started = logger ? clock() : 0;
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q < 0 ? url : url.slice(0, q);
    let rows = 0;
    const done = (status: number, error?: string) => {
      if (logger)
        logger({ method, path: pathname, status, rows, ms: clock() - started, ...(error ? { error } : {}) });
    };
    if (pathname === "/ping" || pathname === "/health") {
      // MLflow answers a newline; orchestrators only read the status.
      if (method === "GET" || method === "HEAD") return send(res, 200, "\n");
    } else if (pathname === "/version") {
      if (method === "GET") {
        send(res, 200, versionBody);
        return done(200);
      }
    } else if (pathname === "/invocations") {
      if (method === "POST") {
        void (async () => {
          const body = await readBody(req, limit);
          const input = parseScoringRequest(body, req.headers["content-type"], predictor.inputDim);
          const predictions = batcher ? await batcher.predict(input) : predictor.predict(input);
          rows = input.rows;
          send(res, 200, `{"predictions":${JSON.stringify(predictions)}}`);
          done(200);
        })().catch((err: unknown) => {
          const { status, body } = errorAnswer(err);
          if (res.headersSent) res.destroy();
          else send(res, status, JSON.stringify(body));
          done(status, String(body.message));
        });
        return;
      }
    } else {
      const { status, body } = errorAnswer(
        new HttpError(404, `No such endpoint: ${pathname}.`, "ERR_MTRACK_PATH_NOT_FOUND"),
      );
      send(res, status, JSON.stringify(body));
      return done(status, String(body.message));
    }
    const { status, body } = errorAnswer(
      new HttpError(405, `Method ${method} is not allowed on ${pathname}.`, "ERR_MTRACK_INVALID_ARGUMENT"),
    );
    send(res, status, JSON.stringify(body));
    done(status, String(body.message));
  };
}

/** A listening scoring server. */
export interface RunningScoringServer {
  url: string;
  host: string;
  port: number;
  /** Stops listening, ends open connections, and resolves once the server is closed. */
  close(): Promise<void>;
}

/**
 * Starts the scoring server on host:port (port 0 picks a free one).
 *
 * @example
 * const s = await startScoringServer({ predictor, host: "127.0.0.1", port: 5001 });
 * // POST ${s.url}/invocations  {"inputs": [[0.1, 0.2, 0.3]]}  →  {"predictions": [1]}
 * await s.close();
 */
export async function startScoringServer(
  options: ScoringServerOptions & { host?: string; port?: number },
): Promise<RunningScoringServer> {
  const server = http.createServer({ keepAlive: true }, createScoringHandler(options));
  const port = options.port ?? 5001;
  const hostname = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => reject(ioError(err, `listening on ${hostname}:${port}`));
    server.once("error", fail);
    server.listen(port, hostname, () => {
      server.off("error", fail);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
