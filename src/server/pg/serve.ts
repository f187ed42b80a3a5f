/**
 * `mtrack server --db URL`: the team server. Opens the database (an unreachable one fails here, naming
 * the URL without its password), applies the migrations, and serves the MLflow tracking API over
 * PostgreSQL with artifacts in the objects directory, authenticating tokens against the database's users.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openRemote } from "../../remotes/index.js";
import type { Remote } from "../../remotes/types.js";
import { HttpError } from "../router.js";
import { type RunningServer, type ServerOptions, startServer } from "../server.js";
import { adminApi } from "./admin.js";
import { isRetryableDbError, openPool, redactDbUrl } from "./db.js";
import { migrate } from "./migrations.js";
import { PgMlflowService } from "./mlflow.js";
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
    const server = await startServer({
      ...(storeDir ? { storeDir } : {}),
      mlflowBackend: new PgMlflowService({ pool, objects }),
      routes: adminApi(users),
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
