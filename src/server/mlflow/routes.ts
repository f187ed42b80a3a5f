/**
 * The MLflow REST routes: `/api/2.0/mlflow/...` and `/ajax-api/2.0/mlflow/...` (JSON in, JSON out, GET
 * requests as query strings) and the `mlflow-artifacts` proxy the client uploads and downloads artifacts
 * through. Every endpoint MLflow has that is not listed here answers NOT_IMPLEMENTED (501).
 */
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { limitedBody, readBody, sendJson } from "../http-util.js";
import { type Access, Router } from "../router.js";
import type { FileInfo, MlflowBackend } from "./backend.js";
import { MlflowApiError } from "./errors.js";
import { parseLoggedModelPath } from "./logged-models.js";
import { parseVersionContentPath } from "./model-registry.js";
import { artifactChildren } from "./service.js";
import { BATCH_LIMITS, type Message, parseArtifactPath, queryMessage } from "./wire.js";

/** Body limits of the MLflow API. */
export interface MlflowApiLimits {
  /** One JSON request (log-batch is held to MLflow's 1 MB on top of this). */
  jsonBytes: number;
  /** One artifact uploaded through the proxy (`mtrack server --max-object-bytes`). */
  artifactBytes: number;
}

/** The limits used unless told otherwise. */
export const DEFAULT_MLFLOW_LIMITS: MlflowApiLimits = { jsonBytes: 16 << 20, artifactBytes: 2 ** 40 };

/** Options of `mlflowApi`. */
export interface MlflowApiOptions {
  limits?: MlflowApiLimits;
  /**
   * Streams a store object (e.g. `LocalRemote.open`), so large artifacts are downloaded without being
   * read into memory; without it (or when it finds nothing) the artifact is read whole.
   */
  openObject?: (hash: string) => Promise<Readable | undefined>;
}

/** The prefixes MLflow's server answers its tracking API on (the web UI uses the ajax one). */
export const MLFLOW_PREFIXES = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] as const;
/** The prefixes of the artifact proxy. */
export const ARTIFACT_PREFIXES = ["/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"] as const;

/**
 * Parses a JSON request body. MLflow's server also decodes a body that is a JSON string holding JSON
 * (some clients double-encode); anything that is not an object is refused as BAD_REQUEST.
 *
 * @example
 * parseJsonBody(Buffer.from('{"run_id":"ab"}')); // { run_id: "ab" }
 */
export function parseJsonBody(body: Buffer): Message {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
    if (typeof value === "string") value = JSON.parse(value);
  } catch {
    throw new MlflowApiError("BAD_REQUEST", "Malformed request: the body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MlflowApiError("BAD_REQUEST", "Malformed request: the body must be a JSON object.");
  }
  return value as Message;
}

async function requestMessage(req: IncomingMessage, url: URL, limit: number): Promise<Message> {
  if (req.method === "GET" || req.method === "HEAD") return queryMessage(url.searchParams);
  const body = await readBody(req, limit);
  return parseJsonBody(body);
}

type Endpoint = {
  path: string;
  methods: string[];
  access: Access;
  /** Body limit for this endpoint, when smaller than the default. */
  maxBytes?: number;
  /** `user`: the name of the request's token, recorded with registry changes. */
  call: (msg: Message, user: string) => Message | Promise<Message>;
};

function endpoints(s: MlflowBackend): Endpoint[] {
  return [
    { path: "/experiments/create", methods: ["POST"], access: "write", call: (m) => s.createExperiment(m) },
    {
      path: "/experiments/get-by-name",
      methods: ["GET"],
      access: "read",
      call: (m) => s.getExperimentByName(m),
    },
    { path: "/experiments/get", methods: ["GET"], access: "read", call: (m) => s.getExperiment(m) },
    {
      path: "/experiments/search",
      methods: ["POST", "GET"],
      access: "read",
      call: (m) => s.searchExperiments(m),
    },
    { path: "/runs/create", methods: ["POST"], access: "write", call: (m, u) => s.createRun(m, u) },
    { path: "/runs/update", methods: ["POST"], access: "write", call: (m) => s.updateRun(m) },
    { path: "/runs/get", methods: ["GET"], access: "read", call: (m) => s.getRun(m) },
    { path: "/runs/search", methods: ["POST", "GET"], access: "read", call: (m) => s.searchRuns(m) },
    { path: "/runs/log-metric", methods: ["POST"], access: "write", call: (m) => s.logMetric(m) },
    { path: "/runs/log-parameter", methods: ["POST"], access: "write", call: (m) => s.logParam(m) },
    { path: "/runs/set-tag", methods: ["POST"], access: "write", call: (m) => s.setTag(m) },
    {
      path: "/runs/log-batch",
      methods: ["POST"],
      access: "write",
      maxBytes: BATCH_LIMITS.bytes,
      call: (m) => s.logBatch(m),
    },
    { path: "/runs/delete", methods: ["POST"], access: "write", call: (m) => s.deleteRun(m) },
    { path: "/runs/restore", methods: ["POST"], access: "write", call: (m) => s.restoreRun(m) },
    { path: "/metrics/get-history", methods: ["GET"], access: "read", call: (m) => s.getMetricHistory(m) },
    // Experiment lifecycle and tags (experiments.ts); run tags after the end, inputs, outputs (annotations.ts).
    { path: "/experiments/update", methods: ["POST"], access: "write", call: (m) => s.experiments.update(m) },
    { path: "/experiments/delete", methods: ["POST"], access: "write", call: (m) => s.experiments.delete(m) },
    {
      path: "/experiments/restore",
      methods: ["POST"],
      access: "write",
      call: (m) => s.experiments.restore(m),
    },
    {
      path: "/experiments/set-experiment-tag",
      methods: ["POST"],
      access: "write",
      call: (m) => s.experiments.setTag(m),
    },
    {
      path: "/experiments/delete-experiment-tag",
      methods: ["POST"],
      access: "write",
      call: (m) => s.experiments.deleteTag(m),
    },
    { path: "/runs/delete-tag", methods: ["POST"], access: "write", call: (m) => s.annotations.deleteTag(m) },
    { path: "/runs/log-inputs", methods: ["POST"], access: "write", call: (m) => s.annotations.logInputs(m) },
    {
      path: "/runs/outputs",
      methods: ["POST"],
      access: "write",
      call: (m) => s.annotations.logOutputs(m),
    },
    { path: "/artifacts/list", methods: ["GET"], access: "read", call: (m) => s.listArtifacts(m) },
    ...loggedModelEndpoints(s),
    ...registryEndpoints(s),
  ];
}

/** The model registry (model-registry.ts); absent without one (the catch-all answers NOT_IMPLEMENTED). */
function registryEndpoints(s: MlflowBackend): Endpoint[] {
  const r = s.modelRegistry;
  if (r === undefined) return [];
  const rm = "/registered-models";
  const mv = "/model-versions";
  return [
    { path: `${rm}/create`, methods: ["POST"], access: "write", call: (m, u) => r.createModel(m, u) },
    { path: `${rm}/get`, methods: ["GET"], access: "read", call: (m) => r.getModel(m) },
    { path: `${rm}/update`, methods: ["PATCH"], access: "write", call: (m, u) => r.updateModel(m, u) },
    { path: `${rm}/rename`, methods: ["POST"], access: "write", call: (m, u) => r.renameModel(m, u) },
    { path: `${rm}/delete`, methods: ["DELETE"], access: "write", call: (m, u) => r.deleteModel(m, u) },
    { path: `${rm}/search`, methods: ["GET"], access: "read", call: (m) => r.searchModels(m) },
    {
      path: `${rm}/get-latest-versions`,
      methods: ["POST", "GET"],
      access: "read",
      call: (m) => r.latestVersions(m),
    },
    { path: `${rm}/set-tag`, methods: ["POST"], access: "write", call: (m, u) => r.setModelTag(m, u) },
    {
      path: `${rm}/delete-tag`,
      methods: ["DELETE"],
      access: "write",
      call: (m, u) => r.deleteModelTag(m, u),
    },
    { path: `${rm}/alias`, methods: ["POST"], access: "write", call: (m, u) => r.setAlias(m, u) },
    { path: `${rm}/alias`, methods: ["DELETE"], access: "write", call: (m, u) => r.deleteAlias(m, u) },
    { path: `${rm}/alias`, methods: ["GET"], access: "read", call: (m) => r.getByAlias(m) },
    { path: `${mv}/create`, methods: ["POST"], access: "write", call: (m, u) => r.createVersion(m, u) },
    { path: `${mv}/get`, methods: ["GET"], access: "read", call: (m) => r.getVersion(m) },
    { path: `${mv}/update`, methods: ["PATCH"], access: "write", call: (m, u) => r.updateVersion(m, u) },
    { path: `${mv}/delete`, methods: ["DELETE"], access: "write", call: (m, u) => r.deleteVersion(m, u) },
    {
      path: `${mv}/transition-stage`,
      methods: ["POST"],
      access: "write",
      call: (m, u) => r.transitionStage(m, u),
    },
    { path: `${mv}/search`, methods: ["GET"], access: "read", call: (m) => r.searchVersions(m) },
    { path: `${mv}/get-download-uri`, methods: ["GET"], access: "read", call: (m) => r.downloadUri(m) },
    { path: `${mv}/set-tag`, methods: ["POST"], access: "write", call: (m, u) => r.setVersionTag(m, u) },
    {
      path: `${mv}/delete-tag`,
      methods: ["DELETE"],
      access: "write",
      call: (m, u) => r.deleteVersionTag(m, u),
    },
  ];
}

/** MLflow 3's logged models (logged-models.ts); only an empty search without a registry. */
function loggedModelEndpoints(s: MlflowBackend): Endpoint[] {
  const lm = s.loggedModels;
  if (lm === undefined) {
    // MLflow 3 clients look for a LoggedModel before they download `runs:/` artifacts.
    return [
      { path: "/logged-models/search", methods: ["POST"], access: "read", call: () => ({ models: [] }) },
    ];
  }
  const base = "/logged-models";
  return [
    { path: `${base}/search`, methods: ["POST"], access: "read", call: (m) => lm.search(m) },
    { path: base, methods: ["POST"], access: "write", call: (m, u) => lm.create(m, u) },
    { path: `${base}/:model_id`, methods: ["GET"], access: "read", call: (m) => lm.get(m) },
    { path: `${base}/:model_id`, methods: ["PATCH"], access: "write", call: (m, u) => lm.finalize(m, u) },
    { path: `${base}/:model_id`, methods: ["DELETE"], access: "write", call: (m, u) => lm.delete(m, u) },
    { path: `${base}/:model_id/tags`, methods: ["PATCH"], access: "write", call: (m, u) => lm.setTags(m, u) },
    {
      path: `${base}/:model_id/tags/*tag_key`,
      methods: ["DELETE"],
      access: "write",
      call: (m, u) => lm.deleteTag(m, u),
    },
    {
      path: `${base}/:model_id/params`,
      methods: ["POST"],
      access: "write",
      call: (m, u) => lm.logParams(m, u),
    },
    {
      path: `${base}/:model_id/artifacts/directories`,
      methods: ["GET"],
      access: "read",
      call: (m) => lm.listArtifacts(m),
    },
  ];
}

const ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"];

function notImplemented(what: string): never {
  throw new MlflowApiError("NOT_IMPLEMENTED", `${what} is not supported by mtrack's MLflow API.`);
}

/**
 * The routes of the MLflow API over one service, ready to add to the server's router.
 *
 * @example
 * router.mount("", mlflowApi(new MlflowService({ tracking: openTracking(repo) })));
 */
export function mlflowApi(service: MlflowBackend, options: MlflowApiOptions = {}): Router {
  const limits = options.limits ?? DEFAULT_MLFLOW_LIMITS;
  const router = new Router();
  for (const prefix of MLFLOW_PREFIXES) {
    for (const e of endpoints(service)) {
      for (const method of e.methods) {
        router.add({
          method,
          pattern: prefix + e.path,
          access: e.access,
          handler: async ({ req, res, url, params, user }) => {
            const limit = e.maxBytes ?? limits.jsonBytes;
            const declared = Number(req.headers["content-length"]);
            // MLflow answers an oversized batch with INVALID_PARAMETER_VALUE, not 413.
            if (e.maxBytes !== undefined && Number.isFinite(declared) && declared > e.maxBytes) {
              await drain(req, limits.jsonBytes);
              throw new MlflowApiError(
                "INVALID_PARAMETER_VALUE",
                `Batched logging API requests must be at most ${e.maxBytes} bytes, got a request of ${declared} bytes.`,
              );
            }
            // Path parameters (logged-models/{model_id}) win over same-named body fields.
            const msg = { ...(await requestMessage(req, url, limit)), ...params };
            sendJson(res, 200, await e.call(msg, user ?? ""));
          },
        });
      }
    }
    for (const method of ANY_METHOD) {
      router.add({
        method,
        pattern: `${prefix}/*rest`,
        access: "public",
        handler: async ({ params }) => notImplemented(`The endpoint ${params.rest ?? ""}`),
      });
    }
  }
  for (const prefix of ARTIFACT_PREFIXES)
    addArtifactRoutes(router, prefix, service, options.openObject, limits.artifactBytes);
  return router;
}

/** Reads and drops a body we refuse, so the client reads our answer instead of a reset connection. */
async function drain(req: IncomingMessage, limit: number): Promise<void> {
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) break;
  }
}

/** What a proxy path names: a run's artifact, a logged model's file, or a registered version's file. */
type ArtifactTarget =
  | { kind: "run"; runId: string; name: string }
  | { kind: "logged"; modelId: string; name: string }
  | { kind: "version"; hash: string; name: string };

function artifactTarget(p: string, service: MlflowBackend): ArtifactTarget {
  const logged = parseLoggedModelPath(p);
  if (logged !== undefined && service.loggedModels !== undefined) return { kind: "logged", ...logged };
  const version = parseVersionContentPath(p);
  if (version !== undefined && service.modelRegistry !== undefined) return { kind: "version", ...version };
  const parsed = parseArtifactPath(p);
  if (parsed === undefined) {
    throw new MlflowApiError(
      "INVALID_PARAMETER_VALUE",
      `Artifact path ${JSON.stringify(p)} is not of the form <experiment_id>/<run_id>/artifacts/<path> or <experiment_id>/models/<model_id>/artifacts/<path>.`,
    );
  }
  return { kind: "run", ...parsed };
}

/** The proxy's listing of one directory of a target (base names). */
async function listTarget(t: ArtifactTarget, service: MlflowBackend): Promise<FileInfo[]> {
  if (t.kind === "logged") return service.loggedModels!.listArtifactDir(t.modelId, t.name);
  if (t.kind === "version")
    return artifactChildren(await service.modelRegistry!.contentFiles(t.hash), t.name, false);
  return service.listArtifactDir(t.runId, t.name);
}

/**
 * The stored object of one file of a target; RESOURCE_DOES_NOT_EXIST for a model file that is not
 * there. A run's artifacts are looked up only when they can be streamed (`readArtifact` serves the rest).
 */
async function storedFile(
  t: ArtifactTarget,
  service: MlflowBackend,
  streaming: boolean,
): Promise<{ hash: string; size: number } | undefined> {
  if (t.kind === "run") return streaming ? service.artifactFile(t.runId, t.name) : undefined;
  const file =
    t.kind === "logged"
      ? await service.loggedModels!.artifactFile(t.modelId, t.name)
      : (await service.modelRegistry!.contentFiles(t.hash)).find((f) => f.name === t.name);
  if (file === undefined) throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `No model file ${t.name}.`);
  return file;
}

function artifactHeaders(name: string, size: number): Record<string, string | number> {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return {
    "content-type": "application/octet-stream",
    "content-length": size,
    "content-disposition": `attachment; filename="${base.replace(/["\\\r\n]/g, "_")}"`,
    "x-content-type-options": "nosniff",
  };
}

function addArtifactRoutes(
  router: Router,
  prefix: string,
  service: MlflowBackend,
  openObject: MlflowApiOptions["openObject"],
  artifactBytes: number,
): void {
  router.add({
    method: "GET",
    pattern: `${prefix}/artifacts`,
    access: "read",
    handler: async ({ res, url }) => {
      sendJson(res, 200, {
        files: await listTarget(artifactTarget(url.searchParams.get("path") ?? "", service), service),
      });
    },
  });
  router.add({
    method: "GET",
    pattern: `${prefix}/artifacts/*path`,
    access: "read",
    handler: async ({ req, res, params }) => {
      const t = artifactTarget(params.path ?? "", service);
      const head = req.method === "HEAD";
      if (t.kind === "run" && service.openArtifact !== undefined) {
        const opened = await service.openArtifact(t.runId, t.name);
        res.writeHead(200, artifactHeaders(t.name, opened.size));
        if (head) {
          opened.stream.destroy();
          res.end();
        } else await pipeline(opened.stream, res);
        return;
      }
      const open = service.openObject ? (h: string) => service.openObject!(h) : openObject;
      const file = await storedFile(t, service, open !== undefined);
      const stream = file && open ? await open(file.hash) : undefined;
      if (file && stream) {
        res.writeHead(200, artifactHeaders(t.name, file.size));
        if (head) {
          stream.destroy();
          res.end();
        } else {
          await pipeline(stream, res);
        }
        return;
      }
      // Not streamable (no opener, or an object still staged in this process): read it whole.
      const body =
        t.kind === "run" ? await service.readArtifact(t.runId, t.name) : await service.readObject(file!.hash);
      res.writeHead(200, artifactHeaders(t.name, body.length));
      res.end(head ? undefined : body);
    },
  });
  router.add({
    method: "PUT",
    pattern: `${prefix}/artifacts/*path`,
    access: "write",
    handler: async ({ req, res, params, user }) => {
      const t = artifactTarget(params.path ?? "", service);
      if (t.kind === "version") {
        await drain(req, Number.MAX_SAFE_INTEGER);
        throw new MlflowApiError(
          "INVALID_PARAMETER_VALUE",
          "A registered model version's files are read-only.",
        );
      }
      const body = limitedBody(req, artifactBytes, `Artifact ${JSON.stringify(t.name)}`);
      if (t.kind === "logged") await service.loggedModels!.putArtifact(t.modelId, t.name, body, user ?? "");
      else await service.putArtifact(t.runId, t.name, body);
      sendJson(res, 200, {});
    },
  });
  router.add({
    method: "DELETE",
    pattern: `${prefix}/artifacts/*path`,
    access: "write",
    handler: async () => notImplemented("Deleting artifacts"),
  });
  for (const method of ANY_METHOD) {
    router.add({
      method,
      pattern: `${prefix}/*rest`,
      access: "public",
      handler: async ({ params }) => {
        // The client falls back to a single upload on exactly this message prefix.
        if ((params.rest ?? "").startsWith("mpu/")) {
          throw new MlflowApiError(
            "NOT_IMPLEMENTED",
            "Multipart upload is not supported for the current artifact repository.",
          );
        }
        notImplemented(`The artifact endpoint ${params.rest ?? ""}`);
      },
    });
  }
}

/**
 * Routes for a server without a repository (a bare `--store`): every MLflow path answers
 * NOT_IMPLEMENTED with what to do instead.
 *
 * @example
 * router.mount("", mlflowUnavailable());
 */
export function mlflowUnavailable(): Router {
  const router = new Router();
  for (const prefix of [...MLFLOW_PREFIXES, ...ARTIFACT_PREFIXES]) {
    for (const method of ANY_METHOD) {
      router.add({
        method,
        pattern: `${prefix}/*rest`,
        access: "public",
        handler: async () => {
          throw new MlflowApiError(
            "NOT_IMPLEMENTED",
            "This server serves a bare store, which has no runs. Start `mtrack server` inside an mtrack repository (without --store) to use the MLflow tracking API.",
          );
        },
      });
    }
  }
  return router;
}
