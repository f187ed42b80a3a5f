/**
 * `mtrack server --db URL`: the team server. Opens the database (an unreachable one fails here, naming
 * the URL without its password), applies the migrations, and serves the MLflow tracking API over
 * PostgreSQL with artifacts in the objects directory, authenticating tokens against the database's users.
 */
import path from "node:path";
import { MtrackError } from "../../errors.js";
import { HttpError } from "../router.js";
import { type RunningServer, type ServerOptions, startServer } from "../server.js";
import { isRetryableDbError, openPool, redactDbUrl } from "./db.js";
import { migrate } from "./migrations.js";
import { PgMlflowService } from "./mlflow.js";
import { PgUsers } from "./users.js";

/** Options of `startTeamServer`. */
export interface TeamServerOptions
  extends Pick<ServerOptions, "readOnly" | "publicRead" | "limits" | "mtrackVersion"> {
  /** postgresql://... (never printed with its password). */
  dbUrl: string;
  /** Directory of the run artifacts (shared by every server on the database). */
  objectsDir: string;
  /** The bare store served to push/pull (`/v1`); default `<objectsDir>/store`. */
  storeDir?: string;
  host?: string;
  port?: number;
  /** Connections to the database (default 10). */
  poolSize?: number;
}

/** A running team server: `db` is the URL without its password. */
export interface RunningTeamServer extends RunningServer {
  db: string;
  objectsDir: string;
  storeDir: string;
}

/**
 * Starts a team server on a PostgreSQL database.
 *
 * @example
 * const s = await startTeamServer({ dbUrl: process.env.MTRACK_DB_URL!, objectsDir: "/srv/mtrack/objects" });
 * // MLFLOW_TRACKING_URI=s.url with a token from `mtrack server user token NAME --db ...`
 */
export async function startTeamServer(options: TeamServerOptions): Promise<RunningTeamServer> {
  if (options.objectsDir.startsWith("s3://")) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "--objects s3://... is not supported yet", {
      hint: "Give --objects a directory every server on the database can reach (e.g. a shared mount).",
    });
  }
  const objectsDir = path.resolve(options.objectsDir);
  const storeDir = path.resolve(options.storeDir ?? path.join(objectsDir, "store"));
  const pool = await openPool(options.dbUrl, { max: options.poolSize ?? 10 });
  try {
    await migrate(pool);
    const users = new PgUsers(pool);
    const server = await startServer({
      storeDir,
      mlflowBackend: new PgMlflowService({ pool, objectsDir }),
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
    return {
      ...server,
      db: redactDbUrl(options.dbUrl),
      objectsDir,
      storeDir,
      close: async () => {
        await server.close();
        await pool.end();
      },
    };
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
}
