/**
 * The staleness decision, as pure functions of (pipeline, lock, current hashes and params): which stages
 * `repro` would run and why. Nothing here touches the disk; callers pass a {@link CurrentState}.
 */
import { isDeepStrictEqual } from "node:util";
import { blake3 } from "@napi-rs/blake-hash";
import { type Dag, type SelectOptions, selectStages } from "./dag.js";
import type { FileEntry, LockEntry, LockFile } from "./lockfile.js";
import { isMapping, type ParamsObject, pickParams } from "./params.js";
import type { Stage } from "./types.js";

/** The current content of a path: its hash, size, and file count for directories. */
export interface FileState {
  hash: string;
  size: number;
  files?: number;
}

/** What the workspace looks like now, as seen by the planner (paths relative to the pipeline folder). */
export interface CurrentState {
  /** Hash of a file or directory; null when it does not exist. */
  hashOf(path: string): FileState | null;
  /** Parsed params file; null when it does not exist. */
  readParams(file: string): ParamsObject | null;
}

/** The verdict on one stage. */
export interface StaleCheck {
  stale: boolean;
  /** Why, in words meant for people ("dep data/x changed"); empty when up to date. */
  reasons: string[];
}

/** Options that change the verdict. */
export interface StaleOptions {
  /** Run even when nothing changed (`--force`). Frozen stages still do not run. */
  force?: boolean;
}

/** The param values a stage uses now: file → key → value, plus the `file:key`s that are missing. */
export function currentParams(
  stage: Stage,
  readParams: (file: string) => ParamsObject | null,
): { values: Record<string, Record<string, unknown>>; missing: string[] } {
  const values: Record<string, Record<string, unknown>> = {};
  const missing: string[] = [];
  const byFile = new Map<string, Array<string | null>>();
  for (const ref of stage.params) byFile.set(ref.file, [...(byFile.get(ref.file) ?? []), ref.key]);
  for (const [file, keys] of byFile) {
    const content = readParams(file);
    if (!content) {
      missing.push(...keys.map((k) => `${file}:${k ?? "*"}`));
      continue;
    }
    const picked = pickParams(content, keys);
    values[file] = picked.values;
    missing.push(...picked.missing.map((k) => `${file}:${k}`));
  }
  return { values, missing };
}

/** `lr` for params.yaml, `other.yaml:lr` for any other file, so messages stay short for the common case. */
function paramLabel(file: string, key: string): string {
  return file === "params.yaml" ? key : `${file}:${key}`;
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * Whether one stage must run, judged against its lock entry alone (not against upstream stages: the
 * runner calls this again just before executing a stage, after its upstream ran).
 *
 * @example
 * isStageStale(stage, lock.stages[stage.name], current)
 * // → { stale: true, reasons: ["param lr changed: 0.001 → 0.003"] }
 */
export function isStageStale(
  stage: Stage,
  entry: LockEntry | undefined,
  current: CurrentState,
  options: StaleOptions = {},
): StaleCheck {
  if (stage.frozen) return { stale: false, reasons: ["frozen (not run)"] };
  if (options.force) return { stale: true, reasons: ["forced"] };
  if (!entry) return { stale: true, reasons: ["never run"] };
  const reasons: string[] = [];
  if (stage.alwaysChanged) reasons.push("always_changed");
  if (!isDeepStrictEqual(entry.cmd, stage.cmd)) reasons.push("cmd changed");

  const lockedDeps = new Map(entry.deps.map((d) => [d.path, d]));
  for (const dep of stage.deps) {
    const now = current.hashOf(dep.path);
    const then = lockedDeps.get(dep.path);
    if (!now) reasons.push(`dep ${dep.path} missing`);
    else if (!then) reasons.push(`dep ${dep.path} added`);
    else if (now.hash !== then.hash) reasons.push(`dep ${dep.path} changed`);
  }
  const depPaths = new Set(stage.deps.map((d) => d.path));
  for (const d of entry.deps) if (!depPaths.has(d.path)) reasons.push(`dep ${d.path} removed`);

  reasons.push(...paramReasons(stage, entry, current));

  const lockedOuts = new Map(entry.outs.map((o) => [o.path, o]));
  for (const out of stage.outs) {
    const now = current.hashOf(out.path);
    const then = lockedOuts.get(out.path);
    if (!now) reasons.push(`out ${out.path} missing`);
    else if (!then) reasons.push(`out ${out.path} added`);
    else if (now.hash !== then.hash) reasons.push(`out ${out.path} modified`);
  }
  const outPaths = new Set(stage.outs.map((o) => o.path));
  for (const o of entry.outs) if (!outPaths.has(o.path)) reasons.push(`out ${o.path} removed`);
  return { stale: reasons.length > 0, reasons };
}

function paramReasons(stage: Stage, entry: LockEntry, current: CurrentState): string[] {
  const reasons: string[] = [];
  const { values, missing } = currentParams(stage, (f) => current.readParams(f));
  for (const m of missing) {
    const cut = m.lastIndexOf(":");
    reasons.push(`param ${paramLabel(m.slice(0, cut), m.slice(cut + 1))} missing`);
  }
  const files = new Set([...Object.keys(values), ...Object.keys(entry.params)]);
  for (const file of [...files].sort()) {
    const now = values[file] ?? {};
    const then = entry.params[file] ?? {};
    for (const key of Object.keys(now).sort()) {
      if (!Object.hasOwn(then, key)) reasons.push(`param ${paramLabel(file, key)} added`);
      else if (!isDeepStrictEqual(now[key], then[key])) {
        reasons.push(`param ${paramLabel(file, key)} changed: ${show(then[key])} → ${show(now[key])}`);
      }
    }
    const missingHere = new Set(
      missing.filter((m) => m.startsWith(`${file}:`)).map((m) => m.slice(file.length + 1)),
    );
    for (const key of Object.keys(then).sort()) {
      if (!Object.hasOwn(now, key) && !missingHere.has(key))
        reasons.push(`param ${paramLabel(file, key)} removed`);
    }
  }
  return reasons;
}

/** What `repro` will do with a stage: run it, maybe run it (decided after upstream), or skip it. */
export type PlanAction = "run" | "maybe" | "skip";

/** One stage of a plan. */
export interface PlannedStage {
  name: string;
  action: PlanAction;
  reasons: string[];
}

/** The stages a repro touches, in execution order. */
export interface Plan {
  stages: PlannedStage[];
}

/** Options of {@link planRepro}. */
export interface PlanOptions extends SelectOptions, StaleOptions {}

/**
 * Plans a repro: for each selected stage (dependencies first) whether it runs and why. A stage that is up
 * to date but reads from a stage that will run is `maybe`: whether its inputs really change is known only
 * after that stage runs.
 *
 * @example
 * planRepro(dag, lock, current, { targets: ["train"] }).stages
 * // → [{ name: "prepare", action: "skip", reasons: ["up to date"] },
 * //    { name: "train", action: "run", reasons: ["param lr changed: 0.001 → 0.003"] }]
 */
export function planRepro(dag: Dag, lock: LockFile, current: CurrentState, options: PlanOptions = {}): Plan {
  const planned = new Map<string, PlannedStage>();
  for (const stage of selectStages(dag, options)) {
    const own = isStageStale(stage, lock.stages[stage.name], current, options);
    if (stage.frozen || own.stale) {
      planned.set(stage.name, { name: stage.name, action: own.stale ? "run" : "skip", reasons: own.reasons });
      continue;
    }
    const moving = [...(dag.upstream.get(stage.name) ?? [])].filter((u) => {
      const a = planned.get(u)?.action;
      return a === "run" || a === "maybe";
    });
    planned.set(
      stage.name,
      moving.length > 0
        ? { name: stage.name, action: "maybe", reasons: moving.map((u) => `upstream stage ${u} will run`) }
        : { name: stage.name, action: "skip", reasons: ["up to date"] },
    );
  }
  return { stages: [...planned.values()] };
}

/**
 * Whether a stage's results may be reused from, and saved to, the run-cache: it must be a pure function
 * of its declared inputs (deps and outs, not always_changed, no persisted outputs it appends to).
 */
export function isRunCacheable(stage: Stage): boolean {
  return (
    !stage.alwaysChanged &&
    stage.deps.length > 0 &&
    stage.outs.length > 0 &&
    !stage.outs.some((o) => o.persist)
  );
}

/** JSON with mapping keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isMapping(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The run-cache key of a stage execution: BLAKE3 (hex) of the canonical JSON of the resolved cmd, the
 * dep hashes (by path), the used param values and the output paths. Sizes are left out on purpose: the
 * hash already decides equality.
 *
 * @example
 * runCacheKey(stage, [{ path: "data/raw", hash: "ab…", size: 10 }], { "params.yaml": { lr: 0.1 } })
 */
export function runCacheKey(
  stage: Stage,
  deps: readonly FileEntry[],
  params: Record<string, Record<string, unknown>>,
): string {
  const payload = {
    cmd: stage.cmd,
    deps: [...deps].map((d) => [d.path, d.hash]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
    params,
    outs: stage.outs.map((o) => o.path).sort(),
  };
  return blake3(Buffer.from(canonicalJson(payload))).toString("hex");
}
