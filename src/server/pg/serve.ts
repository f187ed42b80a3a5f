/**
 * `mtrack server --db URL`: the team server. Opens the database (an unreachable one fails here, naming
 * the URL without its password), applies the migrations, and serves the MLflow tracking API over
 * PostgreSQL with artifacts in the objects directory, authenticating tokens against the database's users.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isEventId, parseEvent } from "../../registry/registry.js";
import { openRemote } from "../../remotes/index.js";
import { LocalRemote } from "../../remotes/local.js";
import type { Remote } from "../../remotes/types.js";
import { isHash } from "../../store/hash.js";
import type { Hash } from "../../store/types.js";
import { type Annotation, parseAnnotation } from "../../tracking/annotations.js";
import { HttpError } from "../router.js";
import { type RunningServer, type ServerOptions, startServer } from "../server.js";
import { adminApi } from "./admin.js";
import { isRetryableDbError, openPool, redactDbUrl } from "./db.js";
import { databaseRunRefs, exportRunRef, objectsElsewhere } from "./export.js";
import { applyAnnotation, ingestRun, type PushedObjects } from "./ingest.js";
import { migrate } from "./migrations.js";
import { PgMlflowService } from "./mlflow.js";
import { applyRegistryEvent, syncRegistryLog, versionManifests } from "./registry-sync.js";
import { pgUiApi } from "./ui.js";
import { pgUiExtraApi } from "./ui-extra.js";
import { PgUsers } from "./users.js";

/** Options of `startTeamServer`. */
export interface TeamServerOptions
  extends Pick<ServerOptions, "readOnly" | "publicRead" | "limits" | "mtrackVersion"> {
  /** postgresql://... (never printed with its password). */
  dbUrl: string;
  /**
   * Where the artifacts' bytes go, by content hash: a directory (an mtrack store) or `s3://bucket/prefix`
   * (the S3 remote's layout); shared by every server on the database.
   */
  objects: string;
  /** Endpoint of an S3-compatible service for `s3://` objects (MinIO, SeaweedFS, ...). */
  objectsEndpoint?: string;
  /**
   * The store served to push/pull on `/v1`: default the objects directory itself; with `s3://` objects
   * none unless given.
   */
  storeDir?: string;
  /** Local cache of the S3 remote (pack indexes); default under the OS temp dir. */
  stateDir?: string;
  host?: string;
  port?: number;
  /** Connections to the database (default 10). */
  poolSize?: number;
}

/** A running team server: `db` is the URL without its password. */
export interface RunningTeamServer extends RunningServer {
  db: string;
  objects: string;
  storeDir: string | undefined;
}

/**
 * Starts a team server on a PostgreSQL database.
 *
 * @example
 * const s = await startTeamServer({ dbUrl: process.env.MTRACK_DB_URL!, objectsDir: "/srv/mtrack/objects" });
 * // MLFLOW_TRACKING_URI=s.url with a token from `mtrack server user token NAME --db ...`
 */
export async function startTeamServer(options: TeamServerOptions): Promise<RunningTeamServer> {
  const s3 = options.objects.startsWith("s3://");
  const objectsUrl = s3 ? options.objects : path.resolve(options.objects);
  const storeDir = options.storeDir ? path.resolve(options.storeDir) : s3 ? undefined : objectsUrl;
  const pool = await openPool(options.dbUrl, { max: options.poolSize ?? 10 });
  let objects: Remote | undefined;
  try {
    await migrate(pool);
    if (!s3) fs.mkdirSync(objectsUrl, { recursive: true });
    objects = await openRemote(
      {
        name: "objects",
        url: objectsUrl,
        kind: s3 ? "s3" : "local",
        ...(options.objectsEndpoint ? { endpoint: options.objectsEndpoint } : {}),
      },
      { stateDir: options.stateDir ?? path.join(os.tmpdir(), "mtrack-server-state") },
    );
    const users = new PgUsers(pool);
    const sameStore = storeDir !== undefined && storeDir === objectsUrl;
    const objectsRemote = objects;
    // One registry change at a time in this server: a listing never sees an event applied to the
    // database but not yet in the log (it would write the same change again as a synthesised event).
    const registryLock = serialiser();
    const server = await startServer({
      ...(storeDir ? { storeDir } : {}),
      // A pushed run becomes a database run before its ref is written (a failure refuses the ref).
      storeHooks: {
        // pull --models: the log gets the events of changes made through the MLflow registry API.
        beforeRefList: async (kind, remote) => {
          if (kind === "registry")
            await registryLock(() => syncRegistryLog(pool, remote, objectsRemote, sameStore));
        },
        // gc --cloud from a clone must not delete what only the database names.
        alsoKeep: () => databaseObjects(pool),
        // Runs logged over the MLflow API are pulled like pushed ones: records built from the database.
        moreRefs: async (kind, stored) => (kind === "runs" ? databaseRunRefs(pool, new Set(stored)) : []),
        readMoreRef: async (name, remote) =>
          name.startsWith("runs/") ? exportRunRef(pool, remote, name.slice(5)) : undefined,
        // With s3:// objects, their artifacts are read from the bucket (nothing copied into the store).
        ...(sameStore ? {} : { elsewhere: objectsElsewhere(pool, objectsRemote) }),
        beforeRefWrite: async (name, data, user, remote) => {
          if (name.startsWith("annotations/")) {
            const a = parseAnnotationRef(data);
            if (!a) throw new HttpError(400, `ref ${name} is not an annotation`);
            await applyAnnotation(pool, a);
            return;
          }
          if (name.startsWith("registry/")) {
            const e = parseEvent(data.toString("utf8"));
            if (!e || !isEventId(e.id) || `registry/${e.id}` !== name)
              throw new HttpError(400, `ref ${name} is not a registry event`);
            // Applied, then written here inside the lock (the store API writes the same bytes again).
            await registryLock(async () => {
              await applyRegistryEvent(pool, pushedObjects(remote), objectsRemote, sameStore, e, user ?? "");
              await remote.writeRef(name, data);
            });
            return;
          }
          if (!name.startsWith("runs/")) return;
          const hash = data.toString("utf8").trim();
          if (!isHash(hash)) throw new HttpError(400, `ref ${name} is not a run record hash`);
          await ingestRun(
            pool,
            pushedObjects(remote),
            objectsRemote,
            sameStore,
            name.slice(5),
            hash,
            user ?? "",
          );
        },
      },
      noStore: {
        message: `this team server keeps its objects in ${objectsUrl} and serves no store for push/pull`,
        hint: `Start it with --store DIR to serve one (pushed runs are recorded in the database and their artifacts copied to ${objectsUrl}).`,
      },
      mlflowBackend: new PgMlflowService({ pool, objects }),
      routes: adminApi(users),
      uiApi: pgUiApi(pool, objects).mount("", pgUiExtraApi(pool, objects)),
      authenticate: async (token) => {
        try {
          return await users.checkToken(token);
        } catch (e) {
          // The database restarting: a retryable 503 (the MLflow client retries), not a 500.
          if (isRetryableDbError(e)) throw new HttpError(503, "The database is unavailable; retry.");
          throw e;
        }
      },
      ...(options.readOnly !== undefined ? { readOnly: options.readOnly } : {}),
      ...(options.publicRead !== undefined ? { publicRead: options.publicRead } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.mtrackVersion ? { mtrackVersion: options.mtrackVersion } : {}),
      ...(options.host ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
    });
    if (storeDir) await ingestStoredRuns(pool, storeDir, objects, sameStore);
    const opened = objects;
    return {
      ...server,
      db: redactDbUrl(options.dbUrl),
      objects: objectsUrl,
      storeDir,
      close: async () => {
        await server.close();
        await opened.close();
        await pool.end();
      },
    };
  } catch (e) {
    await objects?.close().catch(() => {});
    await pool.end().catch(() => {});
    throw e;
  }
}

/**
 * Every object the database refers to: run artifacts (logged over the MLflow API or pushed), registry
 * version files and logged models' files. A table
 * added later that names objects must be added here, or `gc --cloud` would delete its objects.
 */
async function databaseObjects(pool: Awaited<ReturnType<typeof openPool>>): Promise<Hash[]> {
  // Run artifacts, the live registry versions' files and logged models' files (a deleted version's
  // files are freed, as in a repository), and the manifests the registry log names for live versions.
  const r = await pool.query(
    `SELECT hash FROM artifacts
     UNION SELECT hash FROM model_contents WHERE content_hash IN (SELECT content_hash FROM model_versions)
     UNION SELECT hash FROM logged_model_files`,
  );
  return [...r.rows.map((x) => String(x.hash)).filter(isHash), ...(await versionManifests(pool))];
}

/** Runs the functions given one after another (a failure does not stop the next). */
function serialiser(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };
}

/** An annotation ref's body (one JSON annotation), or undefined when it is not one. */
function parseAnnotationRef(data: Buffer): Annotation | undefined {
  try {
    return parseAnnotation(JSON.parse(data.toString("utf8")));
  } catch {
    return undefined;
  }
}

/** The pushed objects of a served store, seeing packs written since it loaded its pack list. */
function pushedObjects(remote: LocalRemote): PushedObjects {
  const store = remote.store;
  return {
    read: (hash) => {
      if (!store.has(hash)) store.reload();
      return store.has(hash) ? store.readObject(hash) : undefined;
    },
    filePath: (hash) => {
      const file = store.loosePath(hash);
      return fs.existsSync(file) ? file : undefined;
    },
  };
}

/**
 * Records in the database the runs of the served store it lacks (pushed while no server recorded them,
 * or a recording that failed half-way): the store's run refs are the truth.
 */
async function ingestStoredRuns(
  pool: Awaited<ReturnType<typeof openPool>>,
  storeDir: string,
  objects: Remote,
  sameStore: boolean,
): Promise<void> {
  const remote = LocalRemote.open({ dir: storeDir, create: true });
  try {
    const ids = (await remote.listRefs("runs")).map((n) => n.replace(/^runs\//, ""));
    if (ids.length === 0) return;
    const known = await pool.query("SELECT run_id FROM runs WHERE run_id = ANY($1)", [ids]);
    const have = new Set(known.rows.map((r) => String(r.run_id)));
    const fresh = new Set<string>();
    for (const id of ids) {
      if (have.has(id)) continue;
      const hash = (await remote.readRef(`runs/${id}`))?.toString("utf8").trim();
      if (hash && isHash(hash)) {
        await ingestRun(pool, pushedObjects(remote), objects, sameStore, id, hash, "");
        fresh.add(id);
      }
    }
    // The annotations of the runs just recorded, in their order ((time, id)).
    if (fresh.size === 0) return;
    const annotations: Annotation[] = [];
    for (const ref of await remote.listRefs("annotations")) {
      if (!fresh.has(ref.slice("annotations/".length, "annotations/".length + 32))) continue;
      const a = parseAnnotationRef((await remote.readRef(ref)) ?? Buffer.alloc(0));
      if (a) annotations.push(a);
    }
    annotations.sort((x, y) => x.time - y.time || (x.id < y.id ? -1 : 1));
    for (const a of annotations) await applyAnnotation(pool, a);
  } finally {
    await remote.close();
  }
}
