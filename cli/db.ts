/**
 * The database URL of the `mtrack server ... --db` commands: --db, else MTRACK_DB_URL, else the
 * `server.db` config key of the repository around the current directory (when there is one).
 */
import { MtrackError } from "../src/errors.js";
import { Repo } from "../src/repo.js";
import { DB_CONFIG_KEY, DB_URL_ENV, resolveDbUrl } from "../src/server/pg/db.js";

export function dbUrlOf(flag: string | undefined): string {
  const url = dbUrlIfAny(flag);
  if (url === undefined) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "no database URL given", {
      hint: `Pass --db postgresql://..., set ${DB_URL_ENV}, or \`mtrack config ${DB_CONFIG_KEY} ...\` (in config.local.yaml when it has a password).`,
    });
  }
  return url;
}

/** The database URL when one is given (flag, environment, config), else undefined. */
export function dbUrlIfAny(flag: string | undefined): string | undefined {
  let configured: string | undefined;
  if (flag === undefined && !process.env[DB_URL_ENV]) {
    try {
      configured = Repo.open({ cwd: process.cwd() }).config.getString(DB_CONFIG_KEY) || undefined;
    } catch {
      configured = undefined;
    }
  }
  return resolveDbUrl(flag, process.env, configured);
}

/** Runs `fn` on a migrated pool of the database, then closes it. */
export async function withDb<T>(
  flag: string | undefined,
  fn: (pool: import("pg").Pool) => Promise<T>,
): Promise<T> {
  const { openPool } = await import("../src/server/pg/db.js");
  const { migrate } = await import("../src/server/pg/migrations.js");
  const pool = await openPool(dbUrlOf(flag), { max: 2 });
  try {
    await migrate(pool);
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
