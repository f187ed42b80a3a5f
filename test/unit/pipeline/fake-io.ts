/**
 * An in-memory stand-in for the workspace/store layer: hashes real files in a temp dir with BLAKE3, keeps
 * saved outputs in a Map, and records lock writes, so runner tests execute real shell commands without
 * the real store.
 */
import fs from "node:fs";
import path from "node:path";
import { blake3 } from "@napi-rs/blake-hash";
import { MtrackError } from "../../../src/errors.js";
import type { FileEntry, LockFile } from "../../../src/pipeline/lockfile.js";
import { type ParamsObject, parseParamsText } from "../../../src/pipeline/params.js";
import type { FileState } from "../../../src/pipeline/plan.js";
import type { RunCache, StageIO } from "../../../src/pipeline/run.js";
import type { OutSpec, Stage } from "../../../src/pipeline/types.js";

type Snapshot = { kind: "file"; data: Buffer } | { kind: "dir"; entries: Record<string, Snapshot> };

export class FakeIO implements StageIO {
  readonly objects = new Map<string, Snapshot>();
  readonly cacheEntries = new Map<string, FileEntry[]>();
  readonly locks: LockFile[] = [];
  readonly removed: string[] = [];
  readonly runCache: RunCache;

  constructor(private readonly dir: string) {
    this.runCache = {
      get: async (key) => this.cacheEntries.get(key),
      put: async (key, _stage, outs) => {
        this.cacheEntries.set(key, outs);
      },
    };
  }

  private read(abs: string): Snapshot | null {
    if (!fs.existsSync(abs)) return null;
    if (fs.statSync(abs).isDirectory()) {
      const entries: Record<string, Snapshot> = {};
      for (const name of fs.readdirSync(abs).sort()) entries[name] = this.read(path.join(abs, name))!;
      return { kind: "dir", entries };
    }
    return { kind: "file", data: fs.readFileSync(abs) };
  }

  private digest(s: Snapshot): FileState {
    if (s.kind === "file") return { hash: blake3(s.data).toString("hex"), size: s.data.length };
    const parts = Object.entries(s.entries).map(([n, c]) => [n, this.digest(c)] as const);
    const manifest = JSON.stringify(parts.map(([n, d]) => [n, d.hash]));
    return {
      hash: blake3(Buffer.from(manifest)).toString("hex"),
      size: parts.reduce((a, [, d]) => a + d.size, 0),
      files: parts.length,
    };
  }

  async hashPath(p: string): Promise<FileState | null> {
    const snap = this.read(path.join(this.dir, p));
    return snap ? this.digest(snap) : null;
  }

  async readParams(file: string): Promise<ParamsObject | null> {
    const abs = path.join(this.dir, file);
    return fs.existsSync(abs) ? parseParamsText(fs.readFileSync(abs, "utf8"), file) : null;
  }

  async removeOutputs(_stage: Stage, outs: OutSpec[]): Promise<void> {
    for (const o of outs) {
      this.removed.push(o.path);
      fs.rmSync(path.join(this.dir, o.path), { recursive: true, force: true });
    }
  }

  async saveOutputs(stage: Stage): Promise<FileEntry[]> {
    return stage.outs.map((o) => {
      const snap = this.read(path.join(this.dir, o.path));
      if (!snap) {
        throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${o.path} was not produced`, {
          data: { path: o.path },
        });
      }
      const d = this.digest(snap);
      this.objects.set(d.hash, snap);
      return { path: o.path, ...d };
    });
  }

  async restoreOutputs(_stage: Stage, outs: FileEntry[]): Promise<void> {
    for (const o of outs) {
      const abs = path.join(this.dir, o.path);
      fs.rmSync(abs, { recursive: true, force: true });
      this.write(abs, this.objects.get(o.hash)!);
    }
  }

  private write(abs: string, s: Snapshot): void {
    if (s.kind === "file") {
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, s.data);
      return;
    }
    fs.mkdirSync(abs, { recursive: true });
    for (const [n, c] of Object.entries(s.entries)) this.write(path.join(abs, n), c);
  }

  async writeLock(lock: LockFile): Promise<void> {
    this.locks.push(structuredClone(lock));
  }

  /** The last lock written, or undefined. */
  get lastLock(): LockFile | undefined {
    return this.locks.at(-1);
  }
}
