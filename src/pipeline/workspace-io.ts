/**
 * The real {@link StageIO}: hashes through the stat cache, saves outputs into the object store (and keeps
 * them out of git, as DVC does), restores them from the store, writes `pipeline.lock`, and backs the
 * run-cache. The repository lock is taken only around store writes — never while a stage's command runs,
 * because a training stage may run for an hour and log runs of its own meanwhile.
 */
import * as path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { writeFileAtomic } from "../util/fs.js";
import { addToGitignore } from "../workspace/gitignore.js";
import { StatCache } from "../workspace/statcache.js";
import { currentState } from "../workspace/tracked.js";
import { overlaps } from "./dag.js";
import { type FileEntry, type LockFile, serializeLock } from "./lockfile.js";
import { type ParamsObject, parseParamsText } from "./params.js";
import { reservedDirOf } from "./parse.js";
import type { FileState } from "./plan.js";
import type { RunCache, StageIO } from "./run.js";
import { RUNCACHE_VERSION, RunCacheStore, toFileEntries, toRunCacheOutputs } from "./runcache.js";
import { fmtPos } from "./template.js";
import type { OutSpec, Pipeline, Stage } from "./types.js";

/** Options of {@link WorkspaceIO}. */
export interface WorkspaceIOOptions {
  repo: Repo;
  /** The pipeline (its stage order is the lock's order). */
  pipeline: Pipeline;
  /** Repo-relative posix folder of the pipeline file ("" at the root). */
  dirRel: string;
  /** Repo-relative path of the lock file. */
  lockFile: string;
  /** Back the run-cache with `.mtrack/runcache` (default true). */
  runCache?: boolean;
}

/**
 * StageIO over an open repository. Call {@link WorkspaceIO.close} when done (saves the stat cache).
 *
 * @example
 * const io = new WorkspaceIO({ repo, pipeline, dirRel: "", lockFile: "pipeline.lock" });
 * try { await reproduce({ dag, lock, io, dir: repo.root, env: process.env }); } finally { io.close(); }
 */
export class WorkspaceIO implements StageIO {
  readonly runCache?: RunCache;
  private readonly repo: Repo;
  private readonly cache: StatCache;
  private readonly options: WorkspaceIOOptions;
  /**
   * Hashes already computed in this run: several stages read the same big dependency directory. Entries
   * overlapping a stage's outputs are dropped whenever the stage writes them.
   */
  private readonly hashes = new Map<string, Promise<FileState | null>>();
  /** Parsed params files, likewise: every stage of a big pipeline reads params.yaml. */
  private readonly params = new Map<string, ParamsObject | null>();

  constructor(options: WorkspaceIOOptions) {
    this.options = options;
    this.repo = options.repo;
    this.cache = StatCache.load(this.repo.paths.stateDir, this.repo.fs);
    if (options.runCache !== false) this.runCache = this.makeRunCache(RunCacheStore.forRepo(this.repo));
  }

  /** The tracked runs a stage's command logged during repro `reproId` (see runEnvTags). */
  async runsOf(stage: Stage, reproId: string): Promise<string[]> {
    // Loaded only once a stage has run: a no-op repro never reads runs.
    const [{ REPRO_ID_TAG, STAGE_TAG }, { findRunsByTag }] = await Promise.all([
      import("../tracking/context.js"),
      import("../tracking/read.js"),
    ]);
    return findRunsByTag(this.repo.paths.runsDir, this.repo.store, REPRO_ID_TAG, reproId)
      .filter((r) => r.tags[STAGE_TAG] === stage.name)
      .map((r) => r.runId);
  }

  /** Repo-relative posix path of a pipeline-relative path; refuses paths that leave the repository. */
  private rel(p: string): string {
    const rel = path.posix.normalize(this.options.dirRel ? `${this.options.dirRel}/${p}` : p);
    if (rel === ".." || rel.startsWith("../") || path.posix.isAbsolute(rel)) {
      throw new MtrackError("ERR_MTRACK_PATH_OUTSIDE_REPO", `${p} is outside the repository.`, {
        hint: "Pipeline paths must stay inside the repository.",
        data: { path: p },
      });
    }
    return rel.replace(/\/$/, "");
  }

  /**
   * The repo-relative path of an output about to be removed, refusing the repository root and anything
   * in `.git` or `.mtrack` whatever the parser let through.
   */
  private removable(p: string): string {
    const rel = this.rel(p);
    const reserved = reservedDirOf(rel);
    if (rel === "" || rel === "." || reserved !== undefined) {
      throw new MtrackError(
        "ERR_MTRACK_PATH_RESERVED",
        `Refusing to remove ${rel === "" || rel === "." ? "the repository itself" : `${rel} (inside ${reserved})`} as a stage output.`,
        { hint: "Name outputs inside the repository, outside .git and .mtrack.", data: { path: p } },
      );
    }
    return rel;
  }

  /**
   * Refuses cached outputs that git tracks (their data would be both in git and in the store, and
   * `repro` would delete committed files), as DVC does. Call before running anything.
   */
  checkOutputsNotInGit(stages: readonly Stage[]): void {
    const outs = stages.flatMap((stage) =>
      stage.outs.filter((o) => o.cache).map((out) => ({ stage, out, rel: this.rel(out.path) })),
    );
    if (outs.length === 0) return;
    const tracked = this.repo.git().trackedPaths();
    for (const { stage, out, rel } of outs) {
      const hit = tracked.find((t) => t === rel || t.startsWith(`${rel}/`));
      if (hit === undefined) continue;
      throw new MtrackError(
        "ERR_MTRACK_TRACKED_BY_GIT",
        `${fmtPos(out.pos)}: stage '${stage.name}': output '${out.path}' is tracked by git${hit === rel ? "" : ` (${hit})`}.`,
        {
          hint: `Stop tracking it in git first (the files stay): git rm -r --cached '${rel}' && git commit -m 'Stop tracking ${rel}'; or mark the output cache: false to keep it in git.`,
          data: { stage: stage.name, path: out.path, tracked: hit },
        },
      );
    }
  }

  private forget(paths: readonly string[]): void {
    for (const key of [...this.hashes.keys()])
      if (paths.some((p) => overlaps(key, p))) this.hashes.delete(key);
  }

  async hashPath(p: string): Promise<FileState | null> {
    let pending = this.hashes.get(p);
    if (!pending) {
      pending = currentState(this.repo, this.rel(p), { cache: this.cache, quick: true }).then((s) => {
        if (!s.exists || !s.hash) return null;
        return s.type === "directory"
          ? { hash: s.hash, size: s.size, files: s.files }
          : { hash: s.hash, size: s.size };
      });
      pending.catch(() => this.hashes.delete(p));
      this.hashes.set(p, pending);
    }
    return pending;
  }

  async readParams(file: string): Promise<ParamsObject | null> {
    const known = this.params.get(file);
    if (known !== undefined) return known;
    let parsed: ParamsObject | null;
    try {
      parsed = parseParamsText(this.repo.fs.readFileSync(this.repo.abs(this.rel(file)), "utf8"), file);
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw ioError(err, `reading ${file}`);
      parsed = null;
    }
    this.params.set(file, parsed);
    return parsed;
  }

  async removeOutputs(_stage: Stage, outs: OutSpec[]): Promise<void> {
    for (const out of outs) {
      const rel = this.removable(out.path);
      try {
        this.repo.fs.rmSync(this.repo.abs(rel), { recursive: true, force: true });
      } catch (err) {
        throw ioError(err, `removing output ${out.path}`);
      }
      this.cache.forgetUnder(rel);
    }
    this.forget(outs.map((o) => o.path));
  }

  async saveOutputs(stage: Stage): Promise<FileEntry[]> {
    this.forget(stage.outs.map((o) => o.path));
    return this.repo.withLock(`repro ${stage.name}`, async () => {
      const entries: FileEntry[] = [];
      for (const out of stage.outs) {
        const rel = this.rel(out.path);
        const state = await currentState(this.repo, rel, { cache: this.cache, store: out.cache });
        if (!state.exists || !state.hash) {
          throw new MtrackError(
            "ERR_MTRACK_PATH_NOT_FOUND",
            `${out.pos.file}:${out.pos.line}:${out.pos.column}: stage '${stage.name}' did not produce its output '${out.path}'.`,
            {
              hint: `Make the command write ${out.path}, or remove it from the stage's ${out.kind}.`,
              data: {
                stage: stage.name,
                path: out.path,
                file: out.pos.file,
                line: out.pos.line,
                column: out.pos.column,
              },
            },
          );
        }
        const entry: FileEntry = { path: out.path, hash: state.hash, size: state.size };
        if (state.type === "directory") entry.files = state.files;
        entries.push(entry);
      }
      await this.repo.store.flush();
      this.ignoreCached(stage);
      return entries;
    });
  }

  /** Cached outputs live in the store, not in git: each gets a line in the .gitignore beside it. */
  private ignoreCached(stage: Stage): void {
    for (const out of stage.outs)
      if (out.cache) addToGitignore(this.repo.abs(this.rel(out.path)), this.repo.fs);
  }

  async restoreOutputs(stage: Stage, outs: FileEntry[]): Promise<void> {
    this.forget(outs.map((o) => o.path));
    await this.repo.withLock(`repro ${stage.name}`, async () => {
      const specs = new Map(stage.outs.map((o) => [o.path, o]));
      for (const out of outs) this.materialize(out, specs.get(out.path)?.cache ?? true);
    });
    this.ignoreCached(stage);
  }

  /** Writes one recorded output into the workspace, replacing whatever is there. */
  private materialize(out: FileEntry, cached: boolean): void {
    const { repo } = this;
    const rel = this.removable(out.path);
    const abs = repo.abs(rel);
    // Outputs kept in git (cache: false) are ordinary files the user edits and commits: never links.
    const mode = cached ? repo.linkMode : "copy";
    repo.fs.rmSync(abs, { recursive: true, force: true });
    this.cache.forgetUnder(rel);
    const record = (key: string, dest: string, hash: Hash) => {
      const st = repo.fs.statSync(dest);
      this.cache.record(key, st, hash, Date.now());
    };
    if (out.files === undefined) {
      repo.fs.mkdirSync(path.dirname(abs), { recursive: true });
      repo.store.materialize(out.hash, abs, { mode });
      record(rel, abs, out.hash);
      return;
    }
    repo.fs.mkdirSync(abs, { recursive: true });
    const made = new Set<string>([abs]);
    for (const e of decodeTree(repo.store.readObject(out.hash))) {
      const dest = path.join(abs, ...e.path.split("/"));
      const dir = path.dirname(dest);
      if (!made.has(dir)) {
        repo.fs.mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      repo.store.materialize(e.hash, dest, { mode, executable: e.executable });
      record(`${rel}/${e.path}`, dest, e.hash);
    }
  }

  async writeLock(lock: LockFile): Promise<void> {
    const order = this.options.pipeline.stages.map((s) => s.name);
    writeFileAtomic(this.repo.abs(this.options.lockFile), serializeLock(lock, order), { fs: this.repo.fs });
  }

  /** True when every object an output needs (a directory's manifest and files) is in the store. */
  private restorable(out: FileEntry): boolean {
    const store = this.repo.store;
    if (!store.has(out.hash)) return false;
    if (out.files === undefined) return true;
    try {
      return decodeTree(store.readObject(out.hash)).every((e) => store.has(e.hash));
    } catch {
      return false;
    }
  }

  private makeRunCache(rcs: RunCacheStore): RunCache {
    return {
      get: async (key, stage) => {
        const entry = rcs.get(key);
        if (!entry) return undefined;
        // The key covers the output paths, but the entry's content is only data: a pulled entry naming
        // other paths (`.git/hooks/...`) must never be written.
        const declared = stage.outs.map((o) => o.path).sort();
        const listed = entry.outs.map((o) => o.path).sort();
        if (declared.length !== listed.length || declared.some((p, i) => p !== listed[i])) return undefined;
        const outs = toFileEntries(entry.outs);
        // An entry whose objects were gc'ed (or not pulled yet) cannot be restored: run the stage instead.
        return outs.every((o) => this.restorable(o)) ? outs : undefined;
      },
      put: async (key, stage, outs) => {
        const saved = await this.storeUncached(stage, outs);
        if (saved)
          rcs.put(key, {
            version: RUNCACHE_VERSION,
            stage: stage.name,
            cmd: stage.cmd,
            outs: toRunCacheOutputs(outs),
          });
      },
    };
  }

  /**
   * Puts `cache: false` outputs (metrics kept in git) into the store too, as DVC's run-cache does, so an
   * entry can restore every output. False when an output changed since it was hashed: no entry then.
   */
  private async storeUncached(stage: Stage, outs: readonly FileEntry[]): Promise<boolean> {
    const byPath = new Map(outs.map((o) => [o.path, o]));
    const uncached = stage.outs.filter((o) => !o.cache);
    if (uncached.length === 0) return true;
    return this.repo.withLock(`run-cache ${stage.name}`, async () => {
      for (const out of uncached) {
        const state = await currentState(this.repo, this.rel(out.path), { cache: this.cache, store: true });
        if (state.hash !== byPath.get(out.path)?.hash) return false;
      }
      await this.repo.store.flush();
      return true;
    });
  }

  /** Saves the stat cache; call once the repro is over (also after a failure or Ctrl-C). */
  close(): void {
    this.cache.save();
  }
}
