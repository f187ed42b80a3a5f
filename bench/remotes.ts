/**
 * Remote transfer benchmark (issue 5): push then pull 100,000 1-KiB files and one large file through each
 * mtrack backend on loopback — a directory, `mtrack server` (HTTP), SeaweedFS (S3) — plus a no-op push
 * when everything is already there; DVC's `push`/`pull` to a local remote and to the same SeaweedFS
 * (dvc-s3) side by side when bench/.venv has them (bash bench/setup.sh). Prints a markdown table of the
 * median of `--repeat` runs per cell and the DVC/mtrack ratios.
 *
 * Run: npm run build && node --import tsx bench/remotes.ts [--small] [--repeat N]
 *        [--backends local,http,s3,dvc-local,dvc-s3] [--skip-big | --skip-small] [--keep] [--settle S]
 *
 * Data comes from bench/data.ts (the same deterministic sets as bench/versioning.ts). Pull is measured in
 * a fresh `git clone` (fetch + checkout, like `dvc pull`). One run per cell: on this shared machine,
 * compare ratios within a run.
 *
 * Before each pull of the small files (both tools) the bench syncs and waits `--settle` seconds
 * (default 65; 0 skips it). This machine's ext4 has no journal, and without one ext4 will not reuse an
 * inode freed less than 60 s ago (5 min more while its inode table block is dirty): every file created
 * soon after a 100k-file tree is deleted scans past the freed inodes, and writing 100,000 files took
 * 30–55 s instead of 3–5 s (both tools alike). For the same reason the bench deletes no file tree while
 * it measures: after each backend only its large files go (disk space), and the trees are removed when
 * all rounds are done. (`dvc add` itself replaces the 100k workspace files it adds; the settle before
 * `dvc pull` spares DVC's pull that cost too.)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BENCH_WORK_DIR, dataSpec, ensureData } from "./data.js";
import { BENCH_ENV } from "./env.js";
import { freePort } from "./util.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const MTRACK = path.join(REPO_DIR, "bin", "run.js");
const DVC = path.join(BENCH_DIR, ".venv", "bin", "dvc");
const WEED = path.join(REPO_DIR, ".venv-test", "bin", "weed");

const ENV: NodeJS.ProcessEnv = {
  ...BENCH_ENV,
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench-secret",
  AWS_REGION: "us-east-1",
  NODE_NO_WARNINGS: "1",
};

/** Runs a command; returns its wall time in seconds (throws with its output when it fails). */
function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv = ENV): number {
  const start = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), {
    cwd,
    env,
    encoding: "utf8",
    maxBuffer: 256 << 20,
    timeout: 1_800_000,
  });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) {
    throw new Error(
      `\`${argv.join(" ")}\` in ${cwd} failed (${r.status ?? r.signal}):\n${(r.stderr || r.stdout).slice(-2000)}`,
    );
  }
  return seconds;
}

/** run() for one measured cell, logged as soon as it is known (a long run cut short keeps its cells). */
function step(
  row: { backend: string },
  cell: string,
  argv: string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): number {
  const seconds = run(argv, cwd, env);
  console.error(`  ${row.backend} ${cell}: ${seconds.toFixed(2)} s`);
  return seconds;
}

const mtrack = (...args: string[]) => [process.execPath, MTRACK, ...args];

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Backend {
  name: string;
  /** Adds the remote (as `bench`) to the repo at `dir`. */
  configure(dir: string): void;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** SIGTERM, then SIGKILL after 10 s: weed sometimes never finishes its graceful shutdown. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await done;
  clearTimeout(timer);
}

async function startBackend(name: string, work: string): Promise<Backend> {
  if (name === "local") {
    const dir = path.join(work, "remote-local");
    fs.mkdirSync(dir);
    return {
      name,
      env: ENV,
      configure: (d) => {
        run(mtrack("remote", "add", "bench", dir, "--default"), d);
      },
      stop: async () => {},
    };
  }
  if (name === "http") {
    const store = path.join(work, "remote-http");
    fs.mkdirSync(store);
    const token = spawnSync(
      process.execPath,
      [MTRACK, "server", "token", "create", "--store", store, "--name", "bench"],
      {
        env: ENV,
        encoding: "utf8",
      },
    ).stdout.trim();
    const port = await freePort();
    const child = spawn(process.execPath, [MTRACK, "server", "--store", store, "--port", String(port)], {
      env: ENV,
      stdio: "ignore",
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/v1/health`)).ok, "mtrack server");
    return {
      name,
      env: { ...ENV, MTRACK_REMOTE_TOKEN: token },
      configure: (d) => {
        run(mtrack("remote", "add", "bench", url, "--default"), d);
      },
      stop: () => stopChild(child),
    };
  }
  if (name === "s3") {
    const weed = await startWeed(work);
    return {
      name,
      env: ENV,
      configure: (d) => {
        run(mtrack("remote", "add", "bench", "s3://mtrack-bench/proj", "--default"), d);
        run(mtrack("remote", "modify", "bench", "endpoint", weed.endpoint), d);
      },
      stop: weed.stop,
    };
  }
  throw new Error(`unknown backend ${name}`);
}

/** A SeaweedFS server with its S3 gateway on loopback, and the buckets of both tools created. */
async function startWeed(work: string): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  if (!fs.existsSync(WEED)) throw new Error("weed not installed (bash scripts/test-setup.sh)");
  const dir = fs.mkdtempSync(path.join(work, "weed-"));
  const p = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  const child = spawn(
    WEED,
    [
      "server",
      "-s3",
      "-filer",
      "-ip=127.0.0.1",
      "-ip.bind=127.0.0.1",
      `-dir=${dir}`,
      `-master.port=${p[0]}`,
      `-master.port.grpc=${p[1]}`,
      `-volume.port=${p[2]}`,
      `-volume.port.grpc=${p[3]}`,
      `-filer.port=${p[4]}`,
      `-filer.port.grpc=${p[5]}`,
      `-s3.port=${p[6]}`,
      `-s3.port.grpc=${p[7]}`,
      "-s3.port.iceberg=0",
      "-s3.port.lance=0",
      "-master.volumeSizeLimitMB=1024",
      "-volume.max=0",
    ],
    { stdio: "ignore" },
  );
  const endpoint = `http://127.0.0.1:${p[6]}`;
  try {
    await waitForWeed(endpoint);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { endpoint, stop: () => stopChild(child) };
}

/** Waits until weed's S3 gateway answers and the bench bucket exists. */
async function waitForWeed(endpoint: string): Promise<void> {
  await waitFor(
    async () => (await fetch(`${endpoint}/bench-bucket`, { method: "PUT" })).status < 500,
    "weed",
  );
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench-secret" },
  });
  await waitFor(async () => {
    for (const Bucket of ["mtrack-bench", "dvc-bench"]) {
      await client.send(new CreateBucketCommand({ Bucket })).catch((e: { name?: string }) => {
        if (e.name !== "BucketAlreadyExists" && e.name !== "BucketAlreadyOwnedByYou") throw e;
      });
    }
    return true;
  }, "weed buckets");
  client.destroy();
}

interface Row {
  backend: string;
  pushSmall?: number;
  noopPush?: number;
  pullSmall?: number;
  /** The fetch part of pullSmall (pull = fetch + checkout). */
  fetchSmall?: number;
  pushBig?: number;
  pullBig?: number;
  error?: string;
}

function copyData(from: string, to: string): void {
  // Real copies, not hard links: another benchmark linking the same data set changes the files' ctime
  // while they are added, which mtrack rightly reports as "changed while it was read".
  run(["cp", "-r", "--reflink=auto", from, to], path.dirname(to));
}

/** Which halves of the benchmark run: the 100k small files, the one large file. */
interface Parts {
  small: boolean;
  big: boolean;
  /** Called right before each pull of the small files (see --settle). */
  settle: () => Promise<void>;
}

async function benchMtrack(
  backendName: string,
  work: string,
  data: { many: string; big: string },
  { small, big, settle }: Parts,
): Promise<Row> {
  const row: Row = { backend: `mtrack ${backendName}` };
  const dir = path.join(work, `${backendName}-a`);
  fs.mkdirSync(dir);
  let backend: Backend | undefined;
  try {
    backend = await startBackend(backendName, work);
    run(["git", "init", "-q", "-b", "main"], dir);
    run(mtrack("init"), dir);
    const tracked = [...(small ? ["many"] : []), ...(big ? ["big.bin"] : [])];
    if (small) copyData(data.many, path.join(dir, "many"));
    if (big) copyData(data.big, path.join(dir, "big.bin"));
    run(mtrack("add", ...tracked), dir);
    backend.configure(dir);
    run(["git", "add", "-A", ".mtrack", ...tracked.map((t) => `${t}.mtrack`), ".gitignore"], dir);
    run(["git", "commit", "-q", "-m", "data"], dir);
    const env = backend.env;
    if (small) {
      row.pushSmall = step(row, "pushSmall", mtrack("push", "many"), dir, env);
      row.noopPush = step(row, "noopPush", mtrack("push", "many"), dir, env);
    }
    if (big) row.pushBig = step(row, "pushBig", mtrack("push", "big.bin"), dir, env);
    const clone = path.join(work, `${backendName}-b`);
    run(["git", "clone", "-q", dir, clone], work);
    if (small) {
      await settle();
      row.fetchSmall = step(row, "fetchSmall", mtrack("fetch", "many"), clone, env);
      row.pullSmall = row.fetchSmall + run(mtrack("checkout", "many"), clone, env);
    }
    if (big) row.pullBig = step(row, "pullBig", mtrack("pull", "big.bin"), clone, env);
  } catch (err) {
    row.error = err instanceof Error ? err.message.split("\n").slice(0, 3).join(" ") : String(err);
  } finally {
    await backend?.stop();
  }
  return row;
}

async function benchDvc(
  kind: "local" | "s3",
  work: string,
  data: { many: string; big: string },
  { small, big, settle }: Parts,
): Promise<Row> {
  const row: Row = { backend: `dvc ${kind}` };
  const dir = path.join(work, `dvc-${kind}-a`);
  fs.mkdirSync(dir);
  let weed: { endpoint: string; stop: () => Promise<void> } | undefined;
  try {
    run(["git", "init", "-q", "-b", "main"], dir);
    run([DVC, "init", "-q"], dir);
    run([DVC, "config", "core.analytics", "false"], dir);
    run([DVC, "config", "--local", "core.site_cache_dir", path.join(work, `dvc-${kind}-site`)], dir);
    if (small) copyData(data.many, path.join(dir, "many"));
    if (big) copyData(data.big, path.join(dir, "big.bin"));
    run([DVC, "add", ...(small ? ["many"] : []), ...(big ? ["big.bin"] : [])], dir);
    if (kind === "local") {
      const remote = path.join(work, "dvc-remote");
      fs.mkdirSync(remote);
      run([DVC, "remote", "add", "-d", "bench", remote], dir);
    } else {
      weed = await startWeed(work);
      run([DVC, "remote", "add", "-d", "bench", "s3://dvc-bench/proj"], dir);
      run([DVC, "remote", "modify", "bench", "endpointurl", weed.endpoint], dir);
    }
    run(["git", "add", "-A"], dir);
    run(["git", "commit", "-q", "-m", "data"], dir);
    if (small) {
      row.pushSmall = step(row, "pushSmall", [DVC, "push", "many.dvc"], dir);
      row.noopPush = step(row, "noopPush", [DVC, "push", "many.dvc"], dir);
    }
    if (big) row.pushBig = step(row, "pushBig", [DVC, "push", "big.bin.dvc"], dir);
    const clone = path.join(work, `dvc-${kind}-b`);
    run(["git", "clone", "-q", dir, clone], work);
    run([DVC, "config", "--local", "core.site_cache_dir", path.join(work, `dvc-${kind}-site-b`)], clone);
    if (small) {
      await settle();
      row.pullSmall = step(row, "pullSmall", [DVC, "pull", "many.dvc"], clone);
    }
    if (big) row.pullBig = step(row, "pullBig", [DVC, "pull", "big.bin.dvc"], clone);
  } catch (err) {
    row.error = err instanceof Error ? err.message.split("\n").slice(0, 3).join(" ") : String(err);
  } finally {
    await weed?.stop();
  }
  return row;
}

const CELLS = ["pushSmall", "noopPush", "fetchSmall", "pullSmall", "pushBig", "pullBig"] as const;

/** The median of each cell over repeated runs of one backend (errors win: a failed run is reported). */
function medianRow(rows: readonly Row[]): Row & { runs: number } {
  const first = rows[0]!;
  const failed = rows.find((r) => r.error);
  if (failed) return { ...failed, runs: rows.length };
  const out: Row & { runs: number } = { backend: first.backend, runs: rows.length };
  for (const cell of CELLS) {
    const values = rows
      .map((r) => r[cell])
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => a - b);
    if (values.length === 0) continue;
    const mid = values.length >> 1;
    out[cell] = values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  }
  return out;
}

/** Removes the files of 64 MiB and more under `dir` (the large file's copies), leaving the trees. */
function removeLargeFiles(dir: string): void {
  spawnSync("find", [dir, "-type", "f", "-size", "+64M", "-delete"]);
}

/** Removes a bench tree, read-only store files included. */
function removeTree(dir: string): void {
  spawnSync("chmod", ["-R", "u+w", dir]);
  fs.rmSync(dir, { recursive: true, force: true });
}

function fmt(s: number | undefined): string {
  return s === undefined ? "—" : `${s.toFixed(2)} s`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const small = args.includes("--small");
  const si = args.indexOf("--settle");
  const settleSeconds = si >= 0 ? Math.max(0, Number(args[si + 1] ?? 0)) : 65;
  const settle = async () => {
    if (settleSeconds === 0) return;
    spawnSync("sync");
    console.error(`bench: waiting ${settleSeconds} s for freed inodes to become reusable (--settle)...`);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  };
  const parts: Parts = { small: !args.includes("--skip-small"), big: !args.includes("--skip-big"), settle };
  if (!parts.small && !parts.big) throw new Error("--skip-small and --skip-big leave nothing to measure");
  const keep = args.includes("--keep");
  const bi = args.indexOf("--backends");
  const backends = bi >= 0 ? (args[bi + 1] ?? "").split(",") : ["local", "http", "s3", "dvc-local", "dvc-s3"];
  const ri = args.indexOf("--repeat");
  const repeat = ri >= 0 ? Math.max(1, Number(args[ri + 1] ?? 1)) : 1;
  if (!fs.existsSync(path.join(REPO_DIR, "dist", "src", "remotes", "index.js")))
    throw new Error("build first: npm run build");
  const spec = dataSpec(small);
  const set = ensureData({ workDir: BENCH_WORK_DIR, spec, log: (l) => console.error(l) });
  const data = { many: set.manyDir, big: set.bigFile };
  const work = fs.mkdtempSync(path.join(BENCH_WORK_DIR, "tmp", "remotes-"));
  const runs = new Map<string, Row[]>();
  const dvcInstalled = fs.existsSync(DVC);
  const dvcS3Installed =
    dvcInstalled &&
    spawnSync(path.join(BENCH_DIR, ".venv", "bin", "python"), ["-c", "import dvc_s3"]).status === 0;
  try {
    // Rounds interleave the backends, so a burst of load elsewhere on the machine spreads over all.
    for (let round = 0; round < repeat; round++) {
      const roundDir = path.join(work, `round-${round}`);
      fs.mkdirSync(roundDir);
      for (const b of backends) {
        console.error(`bench: round ${round + 1}/${repeat}, ${b}...`);
        // Each backend's large files (repo, store, remote, clone: ~5 GiB at full size) go as soon as it
        // is done; its file trees stay until the end (deleting them would slow the next file creations).
        const dir = path.join(roundDir, b);
        fs.mkdirSync(dir);
        let row: Row;
        if (b === "dvc-local" || b === "dvc-s3") {
          const kind = b === "dvc-local" ? "local" : "s3";
          if (!(kind === "local" ? dvcInstalled : dvcS3Installed))
            row = { backend: `dvc ${kind}`, error: "not installed (bash bench/setup.sh)" };
          else row = await benchDvc(kind, dir, data, parts);
        } else row = await benchMtrack(b, dir, data, parts);
        if (!keep) removeLargeFiles(dir);
        console.error(JSON.stringify(row));
        runs.set(row.backend, [...(runs.get(row.backend) ?? []), row]);
      }
    }
    // Reported before the trees go: deleting ~1.5M files takes minutes here.
    const rows = [...runs.values()].map(medianRow);
    const n = spec.smallFileCount.toLocaleString("en");
    const mib = Math.round(spec.bigFileBytes / (1 << 20));
    console.log(
      `Remote transfer on loopback — ${n} × 1 KiB files, one ${mib} MiB file; median of ${repeat} run(s) per cell; ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(1)} at the end\n`,
    );
    console.log(
      `| backend | push ${n} small | no-op push | fetch ${n} small | pull ${n} small | push ${mib} MiB | pull ${mib} MiB |`,
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
      if (r.error)
        console.log(`| ${r.backend} | error: ${r.error.replace(/\|/g, "/").slice(0, 200)} | | | | | |`);
      else
        console.log(
          `| ${r.backend} | ${fmt(r.pushSmall)} | ${fmt(r.noopPush)} | ${fmt(r.fetchSmall)} | ${fmt(r.pullSmall)} | ${fmt(r.pushBig)} | ${fmt(r.pullBig)} |`,
        );
    }
    const ok = (name: string) => rows.find((r) => r.backend === name && !r.error);
    const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(1)}×` : "—");
    const pairs: Array<[string, string]> = [
      ["mtrack local", "dvc local"],
      ["mtrack s3", "dvc s3"],
      ["mtrack http", "dvc local"],
      ["mtrack http", "dvc s3"],
    ];
    for (const [m, d] of pairs) {
      const mine = ok(m);
      const theirs = ok(d);
      if (!mine || !theirs) continue;
      console.log(
        `\n${m} vs ${d} (DVC time / mtrack time): push small ${ratio(theirs.pushSmall, mine.pushSmall)}, no-op ${ratio(theirs.noopPush, mine.noopPush)}, pull small ${ratio(theirs.pullSmall, mine.pullSmall)}, push big ${ratio(theirs.pushBig, mine.pushBig)}, pull big ${ratio(theirs.pullBig, mine.pullBig)}`,
      );
    }
  } finally {
    if (!keep) {
      console.error("bench: removing the trees...");
      removeTree(work);
    }
  }
}

await main();
