/**
 * Small helpers every benchmark needs: command-line options, a free loopback port, medians.
 * Kept here so each bench script reads as its measurement, not its plumbing.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import * as net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** This checkout's root (bench/..). */
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The number after `--name` on the command line, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The word after `--name` on the command line, if given. */
export function stringOption(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The query of a pg.Pool or pg.Client (what the PostgreSQL helpers below need). */
interface PgQueryable {
  query(sql: string, args?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * A throwaway PostgreSQL for a benchmark (test/helpers/postgres.ts: initdb + pg_ctl in a temp dir, as the
 * `postgres` user when root); throws when the package is not installed.
 */
export async function startBenchPostgres(): Promise<import("../test/helpers/postgres.js").TestPostgres> {
  const { startPostgres } = await import("../test/helpers/postgres.js");
  const server = await startPostgres();
  if (!server) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  return server;
}

/**
 * The search workload of issue #17 §5: `runs` FINISHED runs in `experimentId`, inserted in bulk, each with
 * param lr in 0.1 / 0.01 / 0.001 (a third each) and latest metric acc in [0, 1); then VACUUM ANALYZE.
 * The search measured on it: `metrics.acc > 0.9 and params.lr = '0.01'`, order by metrics.acc DESC.
 */
export async function seedSearchRuns(db: PgQueryable, experimentId: string, runs: number): Promise<void> {
  await db.query(
    `INSERT INTO runs (run_id, experiment_id, status, start_time, artifact_uri)
     SELECT md5(g::text), $1, 'FINISHED', g, '' FROM generate_series(1, $2) g`,
    [experimentId, runs],
  );
  await db.query(
    `INSERT INTO params SELECT md5(g::text), 'lr', (ARRAY['0.1','0.01','0.001'])[1 + g % 3] FROM generate_series(1, $1) g`,
    [runs],
  );
  await db.query(
    `INSERT INTO latest_metrics SELECT md5(g::text), 'acc', (g % 1000) / 1000.0, g, 0 FROM generate_series(1, $1) g`,
    [runs],
  );
  await db.query("VACUUM ANALYZE");
}

/** p50 and p95 (ms) of `n` timed calls of `fn`, and the last call's result. */
export async function timeCalls<T>(
  n: number,
  fn: () => Promise<T>,
): Promise<{ p50: number; p95: number; last: T }> {
  const times: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    last = await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    p50: median(times),
    p95: times[Math.min(times.length - 1, Math.floor(times.length * 0.95))]!,
    last: last as T,
  };
}

/** Waits until `url` answers below 500 (up to 3 min); the server's log tail when it exits or never does. */
export async function waitUp(url: string, child: ChildProcess, log: string): Promise<void> {
  const until = Date.now() + 180_000;
  while (Date.now() < until) {
    if (child.exitCode !== null)
      throw new Error(`server exited: ${fs.readFileSync(log, "utf8").slice(-2000)}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer: ${fs.readFileSync(log, "utf8").slice(-2000)}`);
}

/** Starts a server process in its own process group, stdout and stderr appended to `dir`/server.log. */
export function spawnLogged(cmd: string, args: string[], dir: string, env: NodeJS.ProcessEnv): ChildProcess {
  const log = path.join(dir, "server.log");
  return spawn(cmd, args, {
    cwd: dir,
    env,
    detached: true,
    stdio: ["ignore", fs.openSync(log, "a"), fs.openSync(log, "a")],
  });
}

/** Stops a process started by spawnLogged, with its children. */
export function stop(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGTERM");
  } catch {
    // gone already
  }
}

/** Runs this checkout's built CLI; its stdout, or a throw with its stderr. */
export function mtrack(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "run.js"), ...args], {
    env,
    encoding: "utf8",
    cwd: os.tmpdir(),
  });
  if (r.status !== 0) throw new Error(`mtrack ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}
