/**
 * The stage graph: edges from the stage that writes a path to the stages that read it, validation
 * (cycles, duplicate and overlapping outputs, missing deps), target selection, topological order and a
 * parallel scheduler.
 */
import { MtrackError } from "../errors.js";
import { closest } from "./parse.js";
import { fmtPos, posData } from "./template.js";
import type { Pipeline, SourcePos, Stage } from "./types.js";

/** A validated pipeline graph. Edge sets hold stage names. */
export interface Dag {
  pipeline: Pipeline;
  byName: ReadonlyMap<string, Stage>;
  /** name → stages it reads from. */
  upstream: ReadonlyMap<string, ReadonlySet<string>>;
  /** name → stages that read its outputs. */
  downstream: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every stage, dependencies first; ties keep file order. */
  order: readonly Stage[];
}

/** Options of {@link buildDag}. */
export interface BuildDagOptions {
  /**
   * Whether a path (relative to the pipeline folder) exists in the workspace; when given, a dep that no
   * stage produces and that does not exist is an error.
   */
  exists?: (path: string) => boolean;
}

/**
 * True when `child` is `parent` or lies inside it (POSIX paths relative to the same folder; "." contains
 * everything).
 *
 * @example
 * isInside("data/x/y.csv", "data/x") // → true
 */
export function isInside(child: string, parent: string): boolean {
  return parent === "." || child === parent || child.startsWith(`${parent}/`);
}

/** True when one path contains the other. */
export function overlaps(a: string, b: string): boolean {
  return isInside(a, b) || isInside(b, a);
}

/** The paths a stage reads: its deps and its params files. */
function inputsOf(stage: Stage): Array<{ path: string; pos: SourcePos }> {
  const params = stage.params.map((p) => ({ path: p.file, pos: p.pos }));
  const seen = new Set<string>();
  return [...stage.deps, ...params].filter((d) => !seen.has(d.path) && seen.add(d.path));
}

/**
 * Builds and validates the graph.
 *
 * @example
 * const dag = buildDag(pipeline, { exists: (p) => fs.existsSync(path.join(dir, p)) });
 * dag.order.map((s) => s.name) // → ["prepare", "train", "evaluate"]
 */
export function buildDag(pipeline: Pipeline, options: BuildDagOptions = {}): Dag {
  const { exists } = options;
  const stages = pipeline.stages;
  const byName = new Map(stages.map((s) => [s.name, s]));
  checkOutputs(stages);

  const upstream = new Map(stages.map((s) => [s.name, new Set<string>()]));
  const downstream = new Map(stages.map((s) => [s.name, new Set<string>()]));
  for (const stage of stages) {
    for (const dep of inputsOf(stage)) {
      let produced = false;
      for (const other of stages) {
        // A dep inside an output directory, or a dep directory containing an output, both read it.
        if (!other.outs.some((o) => overlaps(dep.path, o.path))) continue;
        produced = true;
        upstream.get(stage.name)!.add(other.name);
        downstream.get(other.name)!.add(stage.name);
      }
      if (!produced && exists && !exists(dep.path)) {
        throw new MtrackError(
          "ERR_MTRACK_PIPELINE_MISSING_DEP",
          `${fmtPos(dep.pos)}: stage '${stage.name}' depends on '${dep.path}', which does not exist and no stage produces.`,
          {
            hint: `Create ${dep.path}, fetch it (\`mtrack pull\`), or add a stage that writes it.`,
            data: posData(dep.pos, { stage: stage.name, path: dep.path }),
          },
        );
      }
    }
  }
  const cycle = findCycle(stages, upstream);
  if (cycle) {
    const first = byName.get(cycle[0]!)!;
    throw new MtrackError(
      "ERR_MTRACK_PIPELINE_CYCLE",
      `${fmtPos(first.pos)}: the pipeline has a cycle: ${cycle.join(" -> ")}.`,
      {
        hint: "A stage cannot depend, directly or not, on its own outputs; change one of these deps or outs.",
        data: posData(first.pos, { cycle }),
      },
    );
  }
  return { pipeline, byName, upstream, downstream, order: topoSort(stages, upstream) };
}

function checkOutputs(stages: readonly Stage[]): void {
  const all = stages.flatMap((stage) => stage.outs.map((out) => ({ stage, out })));
  for (let i = 0; i < all.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = all[j]!;
      const b = all[i]!;
      if (a.out.path === b.out.path) {
        throw new MtrackError(
          "ERR_MTRACK_PIPELINE_DUPLICATE_OUTPUT",
          `${fmtPos(b.out.pos)}: '${b.out.path}' is an output of both '${a.stage.name}' and '${b.stage.name}'.`,
          {
            hint: "Each path must be written by one stage only; rename one of the outputs.",
            data: posData(b.out.pos, { path: b.out.path, stages: [a.stage.name, b.stage.name] }),
          },
        );
      }
      if (overlaps(a.out.path, b.out.path)) {
        const [inner, outer] = isInside(b.out.path, a.out.path) ? [b, a] : [a, b];
        throw new MtrackError(
          "ERR_MTRACK_PIPELINE_OVERLAPPING_OUTPUT",
          `${fmtPos(b.out.pos)}: output '${inner.out.path}' of '${inner.stage.name}' is inside output '${outer.out.path}' of '${outer.stage.name}'.`,
          {
            hint: "Outputs must not contain each other; write to a sibling path instead.",
            data: posData(b.out.pos, {
              path: inner.out.path,
              parent: outer.out.path,
              stages: [inner.stage.name, outer.stage.name],
            }),
          },
        );
      }
    }
  }
}

/** A cycle as names in data-flow order with the first repeated at the end, or undefined. */
function findCycle(
  stages: readonly Stage[],
  upstream: ReadonlyMap<string, ReadonlySet<string>>,
): string[] | undefined {
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    state.set(name, "active");
    stack.push(name);
    for (const up of upstream.get(name) ?? []) {
      if (state.get(up) === "active") {
        // The stack runs downstream → upstream; reverse it so the message follows the data.
        const loop = stack.slice(stack.indexOf(up)).reverse();
        return [...loop, loop[0]!];
      }
      if (!state.has(up)) {
        const found = visit(up);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const s of stages) {
    if (state.has(s.name)) continue;
    const found = visit(s.name);
    if (found) return found;
  }
  return undefined;
}

function topoSort(stages: readonly Stage[], upstream: ReadonlyMap<string, ReadonlySet<string>>): Stage[] {
  const done = new Set<string>();
  const order: Stage[] = [];
  // Quadratic but stable (file order breaks ties), and pipelines have tens of stages, not thousands.
  while (order.length < stages.length) {
    const next = stages.find(
      (s) => !done.has(s.name) && [...(upstream.get(s.name) ?? [])].every((u) => done.has(u)),
    );
    if (!next) break;
    done.add(next.name);
    order.push(next);
  }
  return order;
}

/** Transitive closure along `edges` from `start` (not including `start` itself). */
function reach(start: string, edges: ReadonlyMap<string, ReadonlySet<string>>): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    for (const next of edges.get(todo.pop()!) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

/** Options of {@link selectStages}, mirroring `repro` flags. */
export interface SelectOptions {
  /** Stage names (`train`, `train@a`; a foreach/matrix base name selects all its stages) or the pipeline file. */
  targets?: readonly string[];
  /** Only the targets, not their ancestors. */
  singleItem?: boolean;
  /** The targets and everything downstream of them, instead of their ancestors. */
  downstream?: boolean;
}

/**
 * The stages a repro of `targets` touches, in topological order. No targets: every stage.
 *
 * @example
 * selectStages(dag, { targets: ["train"] }).map((s) => s.name) // → ["prepare", "train"]
 */
export function selectStages(dag: Dag, options: SelectOptions = {}): Stage[] {
  const { targets = [], singleItem = false, downstream = false } = options;
  if (targets.length === 0) return [...dag.order];
  const chosen = new Set<string>();
  for (const target of targets) {
    for (const name of resolveTarget(dag, target)) {
      chosen.add(name);
      if (singleItem) continue;
      for (const n of reach(name, downstream ? dag.downstream : dag.upstream)) chosen.add(n);
    }
  }
  return dag.order.filter((s) => chosen.has(s.name));
}

function resolveTarget(dag: Dag, target: string): string[] {
  if (dag.byName.has(target)) return [target];
  const group = dag.pipeline.stages.filter((s) => s.name.startsWith(`${target}@`)).map((s) => s.name);
  if (group.length > 0) return group;
  const file = dag.pipeline.file;
  const norm = target.replace(/^\.\//, "");
  if (norm === file || norm === file.replace(/^\.\//, "")) return dag.pipeline.stages.map((s) => s.name);
  const guess = closest(target, [...dag.byName.keys()]);
  throw new MtrackError("ERR_MTRACK_STAGE_NOT_FOUND", `No stage named '${target}' in ${file}.`, {
    hint: guess
      ? `Did you mean '${guess}'? (\`mtrack stage list\` lists the stages)`
      : "`mtrack stage list` lists the stages.",
    data: { target, file, suggestion: guess },
  });
}

/** True when two stages must not run at the same time: one writes what the other writes or reads. */
export function stagesConflict(a: Stage, b: Stage): boolean {
  const touches = (writer: Stage, other: Stage) =>
    writer.outs.some(
      (o) =>
        other.outs.some((p) => overlaps(o.path, p.path)) ||
        inputsOf(other).some((d) => overlaps(o.path, d.path)),
    );
  return touches(a, b) || touches(b, a);
}

/**
 * Hands out stages that may run now, at most `jobs` at a time, never two that conflict, and each only
 * after every selected ancestor finished. A failed stage blocks its selected descendants.
 *
 * @example
 * const sched = new StageScheduler(dag, selectStages(dag), 2);
 * for (const s of sched.take()) start(s); // then sched.finish(s.name, ok) and take() again
 */
export class StageScheduler {
  private readonly pending: Stage[];
  private readonly running = new Map<string, Stage>();
  private readonly done = new Set<string>();
  private readonly blocked = new Set<string>();
  private readonly ancestors = new Map<string, Set<string>>();

  constructor(
    dag: Dag,
    selected: readonly Stage[],
    private readonly jobs: number,
  ) {
    this.pending = [...selected];
    const names = new Set(selected.map((s) => s.name));
    // Ordering goes through unselected stages too: with --single-item, a -> (x) -> b still runs a first.
    for (const s of selected) {
      this.ancestors.set(s.name, new Set([...reach(s.name, dag.upstream)].filter((n) => names.has(n))));
    }
  }

  /** Stages to start now (removed from pending, counted as running). */
  take(): Stage[] {
    const started: Stage[] = [];
    for (const stage of [...this.pending]) {
      if (this.running.size >= Math.max(1, this.jobs)) break;
      const needs = this.ancestors.get(stage.name)!;
      if (![...needs].every((n) => this.done.has(n))) continue;
      if ([...this.running.values()].some((r) => stagesConflict(r, stage))) continue;
      this.pending.splice(this.pending.indexOf(stage), 1);
      this.running.set(stage.name, stage);
      started.push(stage);
    }
    return started;
  }

  /**
   * Records the end of a running stage. On failure, returns the pending stages that can no longer run
   * (its selected descendants), which are dropped.
   */
  finish(name: string, ok: boolean): Stage[] {
    this.running.delete(name);
    if (ok) {
      this.done.add(name);
      return [];
    }
    this.blocked.add(name);
    const dropped = this.pending.filter((s) => this.ancestors.get(s.name)!.has(name));
    for (const s of dropped) {
      this.pending.splice(this.pending.indexOf(s), 1);
      this.blocked.add(s.name);
    }
    return dropped;
  }

  /** Drops everything not started yet (stop after a failure) and returns it. */
  cancelPending(): Stage[] {
    return this.pending.splice(0);
  }

  /** Number of stages currently running. */
  get runningCount(): number {
    return this.running.size;
  }

  /** True when nothing is pending or running. */
  get idle(): boolean {
    return this.pending.length === 0 && this.running.size === 0;
  }
}
