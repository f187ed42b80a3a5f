/**
 * A throwaway PostgreSQL cluster for the tests of the PostgreSQL backend: `initdb` + `pg_ctl` from
 * Debian's `postgresql` package in a fresh temp dir, listening on a loopback port and a unix socket in
 * that dir, trust authentication, removed by `stop()`. PostgreSQL refuses to run as root: as root the
 * cluster runs as the `postgres` system user (the package creates it) through `runuser`.
 *
 * When the binaries are missing the test skips with the reason — except under MTRACK_REQUIRE_INTEROP=1
 * (CI, where `.ci/run` installs the package), where it fails.
 *
 * @example
 * test("...", async (t) => { const pg = await startPostgres(t); if (!pg) return; try { ... } finally { await pg.stop(); } });
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** A running throwaway cluster. */
export interface TestPostgres {
  /** `postgresql://postgres@127.0.0.1:PORT/postgres` (no password: trust authentication). */
  url: string;
  port: number;
  /** The cluster's data directory (inside `dir`). */
  dataDir: string;
  /** The temp dir holding the data dir, the socket and the log. */
  dir: string;
  /** A URL of a fresh database in the cluster (each call creates a new one). */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (fast shutdown) without removing the data dir; `start()` starts it again. */
  pause(): void;
  start(): void;
  /** Stops the server and removes the temp dir. */
  stop(): Promise<void>;
}

/** The directory of PostgreSQL's server binaries, or undefined when none is installed. */
export function postgresBinDir(): string | undefined {
  if (process.env.MTRACK_PG_BIN && fs.existsSync(path.join(process.env.MTRACK_PG_BIN, "initdb"))) {
    return process.env.MTRACK_PG_BIN;
  }
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0] as string, "bin") : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a cluster, or returns undefined after `t.skip(reason)` when PostgreSQL is not installed (throws
 * instead under MTRACK_REQUIRE_INTEROP=1).
 */
export async function startPostgres(t?: { skip: (msg?: string) => void }): Promise<TestPostgres | undefined> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  let reason: string | undefined;
  if (!bin)
    reason = "PostgreSQL server binaries not found (apt-get install postgresql; scripts/test-setup.sh)";
  else if (asRoot && spawnSync("id", ["-u", "postgres"]).status !== 0) {
    reason = "running as root and there is no `postgres` system user to run PostgreSQL as";
  }
  if (reason || !bin) {
    const msg = reason ?? "PostgreSQL unavailable";
    if (process.env.MTRACK_REQUIRE_INTEROP === "1") throw new Error(msg);
    t?.skip(msg);
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-pg-"));
  const dataDir = path.join(dir, "data");
  const logFile = path.join(dir, "log");
  if (asRoot) {
    fs.chmodSync(dir, 0o755);
    spawnSync("chown", ["postgres:postgres", dir]);
  }
  const run = (exe: string, args: string[]): void => {
    const cmd = asRoot ? "runuser" : path.join(bin, exe);
    const argv = asRoot ? ["-u", "postgres", "--", path.join(bin, exe), ...args] : args;
    const r = spawnSync(cmd, argv, { encoding: "utf8", cwd: dir, timeout: 120_000 });
    if (r.status !== 0) {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
      throw new Error(`${exe} failed (${r.status}): ${r.stderr}${r.stdout}\n${log}`);
    }
  };
  run("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`;
  const start = (): void =>
    run("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", opts, "-w", "-t", "60", "start"]);
  const pause = (): void => run("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]);
  try {
    start();
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  let n = 0;
  let running = true;
  return {
    url,
    port,
    dataDir,
    dir,
    async createDatabase(name?: string): Promise<string> {
      const db = name ?? `t${process.pid}_${++n}`;
      const { default: pg } = await import("pg");
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${db}"`);
      } finally {
        await c.end();
      }
      return `postgresql://postgres@127.0.0.1:${port}/${db}`;
    },
    pause(): void {
      pause();
      running = false;
    },
    start(): void {
      start();
      running = true;
    },
    async stop(): Promise<void> {
      try {
        if (running) pause();
      } finally {
        running = false;
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
