/**
 * The PostgreSQL connection of a team server (`mtrack server --db postgresql://...`): where the URL comes
 * from (flag, `MTRACK_DB_URL`, the `server.db` config key), how it is shown (never with its password) and
 * a pool that fails at start with an error naming the URL. The driver is `pg` (node-postgres).
 */
import pg from "pg";
import { MtrackError } from "../../errors.js";

/** The environment variable holding the database URL (so its password stays out of argv and files). */
export const DB_URL_ENV = "MTRACK_DB_URL";

/** The config key holding the database URL (put one with a password in config.local.yaml, never committed). */
export const DB_CONFIG_KEY = "server.db";

/**
 * The database URL to use: the flag, else `MTRACK_DB_URL`, else the config value; undefined when none
 * (the server then keeps its runs in the repository's files).
 */
export function resolveDbUrl(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  configValue?: string,
): string | undefined {
  const url = flag ?? env[DB_URL_ENV] ?? configValue;
  if (url === undefined || url === "") return undefined;
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `${redactDbUrl(url)} is not a PostgreSQL URL`, {
      hint: "Use postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (the password is better given in MTRACK_DB_URL).",
    });
  }
  return url;
}

/** The URL with its password replaced by `***` (for messages and logs). */
export function redactDbUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    for (const k of [...u.searchParams.keys()]) {
      if (/pass/i.test(k)) u.searchParams.set(k, "***");
    }
    return u.toString();
  } catch {
    // Not parseable: drop everything between "://" and "@" (where a password would be).
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
}

/** A pool on the URL; the first connection is made here so an unreachable database fails at start. */
export async function openPool(url: string, options: { max?: number } = {}): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection (database restarted) must not crash the process.
  pool.on("error", () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (e) {
    await pool.end().catch(() => {});
    throw dbUnreachable(url, e);
  }
  return pool;
}

/** ERR_MTRACK_REMOTE_UNREACHABLE naming the URL without its password. */
export function dbUnreachable(url: string, cause: unknown): MtrackError {
  const why = cause instanceof Error ? cause.message : String(cause);
  // The driver's message may quote the URL; never let a password through.
  const u = safeUrl(url);
  const clean = u?.password ? why.split(u.password).join("***") : why;
  return new MtrackError(
    "ERR_MTRACK_REMOTE_UNREACHABLE",
    `cannot connect to the database ${redactDbUrl(url)}: ${clean}`,
    {
      hint: "Check that PostgreSQL is running and reachable, and the user, password and database name.",
      data: { url: redactDbUrl(url) },
    },
  );
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * True for failures that a retry after a moment may fix: the database restarting or unreachable
 * (connection refused or reset, admin shutdown, cannot connect now), serialization failures and
 * deadlocks. The MLflow routes answer these with a retryable 503.
 */
export function isRetryableDbError(e: unknown): boolean {
  const code =
    typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
  if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN"].includes(code))
    return true;
  // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection exceptions,
  // 40001 serialization_failure, 40P01 deadlock_detected.
  if (/^(57P0[123]|08...|40001|40P01)$/.test(code)) return true;
  const msg = e instanceof Error ? e.message : "";
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(msg);
}

/** Attempts of one transaction whose connection was lost before COMMIT: one more than the pool's default size, so a pool of dead connections after a restart is drained. */
const MAX_TX_ATTEMPTS = 11;

/**
 * Runs `fn` in a transaction on a connection of `pool`. A connection lost before COMMIT was sent (the
 * database restarted and the pool handed out a dead connection) rolled everything back on the server, so
 * it is retried on another connection — several times, since after a restart every idle connection in the
 * pool is dead; a failure during COMMIT is not (its outcome is unknown) and reaches the caller.
 *
 * @example
 * const id = await inTransaction(pool, async (c) => (await c.query("INSERT ... RETURNING id")).rows[0].id);
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const c = await pool.connect();
    let committing = false;
    try {
      await c.query("BEGIN");
      const out = await fn(c);
      committing = true;
      await c.query("COMMIT");
      c.release();
      return out;
    } catch (e) {
      const lost = isRetryableDbError(e);
      if (lost) c.release(e instanceof Error ? e : new Error(String(e)));
      else {
        await c.query("ROLLBACK").catch(() => {});
        c.release();
      }
      if (!lost || committing || attempt >= MAX_TX_ATTEMPTS - 1) throw e;
    }
  }
}
