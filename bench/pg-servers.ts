/**
 * The two servers the PostgreSQL benches compare, each started on its own database of one cluster:
 * `mtrack server --db` (with a write token) and `mlflow server --backend-store-uri postgresql://`
 * (psycopg2 installed for it under bench/work/pg-py on first use).
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, mtrack, spawnLogged, waitUp } from "./util.js";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const python = path.join(root, ".venv-test", "bin", "python");
const mlflowBin = path.join(root, ".venv-test", "bin", "mlflow");
const pyDir = path.join(benchDir, "work", "pg-py");

/** A started server: its URL and process (stop it with util's `stop`). */
export interface BenchServer {
  url: string;
  child: ChildProcess;
}

/** Installs psycopg2 for `mlflow server` (SQLAlchemy's PostgreSQL driver) unless it is there. */
export function ensurePsycopg(): void {
  const env = { ...process.env, PYTHONPATH: pyDir };
  if (spawnSync(python, ["-c", "import psycopg2"], { env }).status === 0) return;
  const r = spawnSync(python, ["-m", "pip", "install", "--quiet", "--target", pyDir, "psycopg2-binary"], {
    stdio: "inherit",
  });
  if (r.status !== 0) throw new Error("could not install psycopg2-binary for mlflow server");
}

/** `mtrack server --db dbUrl` with objects under `work/mtrack`, and a write token of user "bench". */
export async function startMtrackPgServer(
  work: string,
  dbUrl: string,
): Promise<BenchServer & { token: string }> {
  const env = { ...process.env, MTRACK_DB_URL: dbUrl };
  mtrack(["server", "user", "add", "bench", "--role", "write"], env);
  const token = (JSON.parse(mtrack(["server", "user", "token", "bench", "--json"], env)) as { token: string })
    .token;
  const port = await freePort();
  const dir = path.join(work, "mtrack");
  fs.mkdirSync(dir);
  const child = spawnLogged(
    process.execPath,
    [
      path.join(root, "bin", "run.js"),
      "server",
      "--objects",
      path.join(dir, "objects"),
      "--port",
      String(port),
    ],
    dir,
    env,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/v1/health`, child, path.join(dir, "server.log"));
  return { url, child, token };
}

/**
 * `mlflow server` on `dbUrl` with artifacts under `work/mlflow/artifacts`, given by `artifactsFlag`
 * (`--default-artifact-root`, or `--artifacts-destination` for the proxied artifacts the registry uses).
 */
export async function startMlflowPgServer(
  work: string,
  dbUrl: string,
  artifactsFlag: "--default-artifact-root" | "--artifacts-destination",
): Promise<BenchServer> {
  const port = await freePort();
  const dir = path.join(work, "mlflow");
  fs.mkdirSync(dir);
  const child = spawnLogged(
    mlflowBin,
    [
      "server",
      "--backend-store-uri",
      // SQLAlchemy's driver named explicitly (a bare postgresql:// picks psycopg 3 here).
      dbUrl.replace(/^postgresql:/, "postgresql+psycopg2:"),
      artifactsFlag,
      path.join(dir, "artifacts"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ],
    dir,
    { ...process.env, PYTHONPATH: pyDir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/health`, child, path.join(dir, "server.log"));
  return { url, child };
}
