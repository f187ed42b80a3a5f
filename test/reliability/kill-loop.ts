/**
 * The kill -9 loop of the reliability suite: start a command of the built CLI, kill its whole process
 * group (as a killed container or an OOM kill of the session does) after a random delay scaled to the
 * command's measured duration, check what must hold right after the kill, rerun the command to
 * completion with no repair, require `mtrack fsck` to exit 0 and the data to match. The figures (kills,
 * kills that landed while the repository lock was held, failures, repairs needed) are printed.
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestContext } from "node:test";
import { hashBytes } from "../../src/store/hash.js";
import { Store } from "../../src/store/store.js";
import { decodeTree } from "../../src/store/tree.js";
import { runCli, startCli, waitCli } from "../helpers/cli.js";

/** Kills per command: MTRACK_RELIABILITY_KILLS, default 30 (the floor). */
export const KILLS = Number(process.env.MTRACK_RELIABILITY_KILLS ?? 30);

/** A seeded generator (mulberry32), so a failing loop can be replayed with MTRACK_RELIABILITY_SEED. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function loopSeed(): number {
  return Number(process.env.MTRACK_RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
}

/** Deterministic bytes of `size` for a (file, version) pair: distinct versions never share content. */
export function bytesFor(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Problems of a store directory (a repository's cache or a directory remote): corrupt objects, broken packs. */
export function storeProblems(dir: string, label: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const store = new Store({ dir, tmpDir: path.join(dir, "tmp-verify") });
  try {
    const problems: string[] = [];
    for (const o of store.list()) {
      if (store.verify(o.hash, o.location) !== "ok")
        problems.push(`${label}: corrupt ${o.location} ${o.hash}`);
    }
    for (const p of store.brokenPacks) problems.push(`${label}: broken pack ${p.id}: ${p.error}`);
    return problems;
  } finally {
    store.close();
    fs.rmSync(path.join(dir, "tmp-verify"), { recursive: true, force: true });
  }
}

export interface KillLoopOptions {
  t: TestContext;
  /** e.g. "add" (the figures' label). */
  name: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The repository whose `.mtrack/lock` tells whether a kill landed mid-work. */
  repoDir: string;
  /** Gives the command work to do (called before every run, killed or not). */
  prepare(i: number): void | Promise<void>;
  /** What must hold right after a kill, before anything else runs: problems found. */
  afterKill?(i: number): string[] | Promise<string[]>;
  /** After the command ran to completion: problems found (the data must match). */
  check(i: number): string[] | Promise<string[]>;
  kills?: number;
}

export interface KillLoopFigures {
  command: string;
  seed: number;
  measuredMs: number;
  attempts: number;
  kills: number;
  killsWithLockHeld: number;
  finishedBeforeKill: number;
  failures: string[];
  repairsNeeded: number;
}

/**
 * Runs the loop and returns its figures (already printed with `t.diagnostic`); the caller asserts that
 * `failures` is empty, so the figures show even when it is not.
 */
export async function killLoop(o: KillLoopOptions): Promise<KillLoopFigures> {
  const target = o.kills ?? KILLS;
  const seed = loopSeed();
  const random = rng(seed);
  const lock = path.join(o.repoDir, ".mtrack", "lock");
  const failures: string[] = [];
  let repairsNeeded = 0;
  const run = async (i: number, what: string): Promise<boolean> => {
    const r = await runCli(o.args, { cwd: o.cwd, env: o.env, timeoutMs: 120_000 });
    if (r.code !== 0) {
      failures.push(
        `#${i} ${what}: mtrack ${o.args.join(" ")} exit ${r.code}: ${r.stdout}${r.stderr}`.slice(0, 2000),
      );
      return false;
    }
    return true;
  };
  const verify = async (i: number): Promise<boolean> => {
    const before = failures.length;
    const fsck = await runCli(["fsck", "--json"], { cwd: o.cwd, env: o.env, timeoutMs: 120_000 });
    if (fsck.code !== 0) failures.push(`#${i} fsck exit ${fsck.code}: ${fsck.stdout.slice(0, 1500)}`);
    for (const p of await o.check(i)) failures.push(`#${i} ${p}`);
    return failures.length === before;
  };

  // Measure uninterrupted runs: the kill delays are drawn from [0.3, 1.5] times the last one's duration. The first
  // run does more (everything is new), so the second one sets the scale.
  let measuredMs = 0;
  for (const i of [0, 1]) {
    await o.prepare(i);
    const t0 = Date.now();
    await run(i, "uninterrupted run");
    measuredMs = Date.now() - t0;
    await verify(i);
  }

  let attempts = 0;
  let kills = 0;
  let killsWithLockHeld = 0;
  let finishedBeforeKill = 0;
  for (let i = 2; kills < target && attempts < target * 4 && failures.length < 5; i++) {
    attempts++;
    await o.prepare(i);
    const started = Date.now();
    // Its own process group, so a kill reaches the stage commands it runs too.
    const child = startCli(o.args, { cwd: o.cwd, env: o.env, detached: true });
    const result = waitCli(child, 600_000);
    // From 0.3 to 1.5 runs: early kills mostly hit start-up, which proves little; late ones may miss.
    const delay = (0.3 + 1.2 * random()) * measuredMs;
    let exited = false;
    let exitedAt = 0;
    void result.then(() => {
      exited = true;
      exitedAt = Date.now();
    });
    await sleep(delay);
    if (exited) {
      finishedBeforeKill++;
      const r = await result;
      measuredMs = exitedAt - started;
      if (r.code !== 0) failures.push(`#${i} unkilled run exit ${r.code}: ${r.stderr.slice(0, 1500)}`);
      await verify(i);
      continue;
    }
    if (fs.existsSync(lock)) killsWithLockHeld++;
    killGroup(child);
    const r = await result;
    if (r.signal !== "SIGKILL") {
      // It finished between the check and the kill.
      finishedBeforeKill++;
      if (r.code !== 0) failures.push(`#${i} unkilled run exit ${r.code}: ${r.stderr.slice(0, 1500)}`);
      await verify(i);
      continue;
    }
    kills++;
    for (const p of (await o.afterKill?.(i)) ?? []) failures.push(`#${i} right after the kill: ${p}`);
    // No repair: the same command, as the user would type it again.
    const rerunOk = await run(i, "rerun after kill");
    const verified = await verify(i);
    if (!rerunOk || !verified) repairsNeeded++;
  }
  const figures: KillLoopFigures = {
    command: o.name,
    seed,
    measuredMs,
    attempts,
    kills,
    killsWithLockHeld,
    finishedBeforeKill,
    failures,
    repairsNeeded,
  };
  o.t.diagnostic(
    `kill -9 ${o.name}: ${kills} kills (${killsWithLockHeld} with the lock held) in ${attempts} attempts, ` +
      `${finishedBeforeKill} finished first; ${failures.length} failures, ${repairsNeeded} repairs needed ` +
      `(one run ${measuredMs} ms, seed ${seed})`,
  );
  for (const f of failures) o.t.diagnostic(`  failure ${f.split("\n")[0]}`);
  return figures;
}

/** Writes files under `root`, returning their contents (for the checks). */
export function writeFiles(root: string, files: Record<string, Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, ...rel.split("/"));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/**
 * A tracked directory's content, changed a little on every `next(i)`: a few MB of large files (streamed
 * to loose objects) and hundreds of small ones (packed), so a kill can land in either kind of write.
 */
export class Dataset {
  readonly files = new Map<string, Buffer>();
  constructor(
    readonly root: string,
    readonly dir = "data",
    readonly bigFiles = 4,
    readonly bigSize = 2 << 20,
    readonly smallFiles = 600,
  ) {}

  /** Version `i` of the data: every large file and a tenth of the small ones change, one file is new. */
  next(i: number): void {
    const changed: Record<string, Buffer> = {};
    for (let b = 0; b < this.bigFiles; b++)
      changed[`${this.dir}/big${b}.bin`] = bytesFor(this.bigSize, i * 100 + b);
    for (let s = 0; s < this.smallFiles; s++) {
      if (i === 0 || s % 10 === i % 10)
        changed[`${this.dir}/small/${s}.txt`] = Buffer.from(`v${i} ${s}\n`.repeat(1 + (s % 40)));
    }
    if (i > 0) changed[`${this.dir}/new/${i}.txt`] = Buffer.from(`new in ${i}\n`);
    writeFiles(this.root, changed);
    for (const [k, v] of Object.entries(changed)) this.files.set(k, v);
  }

  /** Problems of the workspace against the expected content (missing, extra or different files). */
  workspaceProblems(): string[] {
    const problems: string[] = [];
    const seen = new Set<string>();
    const visit = (abs: string, rel: string) => {
      for (const d of fs.readdirSync(abs, { withFileTypes: true })) {
        const r = `${rel}/${d.name}`;
        if (d.isDirectory()) visit(path.join(abs, d.name), r);
        else {
          seen.add(r);
          const want = this.files.get(r);
          if (!want) problems.push(`unexpected file ${r}`);
          else if (!fs.readFileSync(path.join(abs, d.name)).equals(want))
            problems.push(`wrong content in ${r}`);
        }
      }
    };
    const top = path.join(this.root, this.dir);
    if (fs.existsSync(top)) visit(top, this.dir);
    for (const k of this.files.keys()) if (!seen.has(k)) problems.push(`missing ${k}`);
    return problems.slice(0, 10);
  }

  /** Problems of a stored manifest (`hash` names the directory) against the expected content. */
  manifestProblems(store: Store, hash: string): string[] {
    if (!store.has(hash)) return [`manifest ${hash} not in the store`];
    const entries = decodeTree(store.readObject(hash));
    const problems: string[] = [];
    if (entries.length !== this.files.size)
      problems.push(`manifest has ${entries.length} files, expected ${this.files.size}`);
    for (const e of entries) {
      const want = this.files.get(`${this.dir}/${e.path}`);
      if (!want) problems.push(`manifest names unexpected ${e.path}`);
      else if (hashBytes(want) !== e.hash) problems.push(`manifest hash of ${e.path} is not its content's`);
      else if (store.verify(e.hash) !== "ok") problems.push(`object of ${e.path}: ${store.verify(e.hash)}`);
    }
    return problems.slice(0, 10);
  }
}

/** Runs `fn` with a Store opened on `dir` (a repository's `.mtrack/cache` or a directory remote). */
export function withStore<T>(dir: string, fn: (store: Store) => T): T {
  const tmp = path.join(dir, "tmp-verify");
  const store = new Store({ dir, tmpDir: tmp });
  try {
    return fn(store);
  } finally {
    store.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The hash a pointer file names, or undefined when there is none. */
export function pointerHash(file: string): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  return /^hash: ([0-9a-f]{64})$/m.exec(fs.readFileSync(file, "utf8"))?.[1] ?? "(unreadable pointer)";
}

/** Problems of a directory manifest's objects: every object it names must be there and sound. */
export function manifestComplete(store: Store, hash: string): string[] {
  if (store.verify(hash) !== "ok") return [`manifest ${hash}: ${store.verify(hash)}`];
  const problems: string[] = [];
  for (const e of decodeTree(store.readObject(hash))) {
    const v = store.verify(e.hash);
    if (v !== "ok") problems.push(`object of ${e.path}: ${v}`);
  }
  return problems.slice(0, 10);
}

/**
 * The checks of a loop over a command that records `data` in the pointer file `pointer` (add, commit):
 * right after a kill, the store is sound and a pointer that exists names a complete tree; after the
 * rerun, the pointer names exactly `data` and the workspace holds it.
 */
export function pointerChecks(
  cache: string,
  pointer: string,
  data: Dataset,
  command: string,
): { afterKill: () => string[]; check: () => string[] } {
  return {
    afterKill: () => {
      const problems = storeProblems(cache, "store");
      const hash = pointerHash(pointer);
      if (hash) problems.push(...withStore(cache, (s) => manifestComplete(s, hash)));
      return problems;
    },
    check: () => {
      const hash = pointerHash(pointer);
      if (!hash) return [`no pointer after a completed ${command}`];
      return [...withStore(cache, (s) => data.manifestProblems(s, hash)), ...data.workspaceProblems()];
    },
  };
}
