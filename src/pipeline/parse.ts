/**
 * Parses a pipeline file (`pipeline.yaml`, the stage schema of DVC's `dvc.yaml`) into resolved stages:
 * templating applied, `foreach`/`matrix` expanded, paths normalised relative to the file's folder. Every
 * error names `file:line:column` in its message and in `data`.
 */
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { MtrackError } from "../errors.js";
import { getParam, isMapping, type ParamsObject, parseParamsText } from "./params.js";
import {
  fmtPos,
  interpolate,
  interpolateString,
  type LEntry,
  type LNode,
  type ParamTracker,
  posAt,
  posData,
  type SourceInfo,
  TemplateContext,
  toLNode,
  toValue,
} from "./template.js";
import type { DepSpec, OutKind, OutSpec, ParamRef, Pipeline, SourcePos, Stage } from "./types.js";

/** Inputs of {@link parsePipeline}. */
export interface ParsePipelineOptions {
  /** The pipeline file's text. */
  text: string;
  /** Its name as shown in errors, e.g. `pipeline.yaml` or `models/pipeline.yaml`. */
  file: string;
  /**
   * Reads a file relative to the pipeline file's folder (params and vars files); undefined when it does
   * not exist. Injected so parsing never touches the disk by itself.
   */
  readFile: (relPath: string) => string | undefined;
  /** The default params file, loaded for interpolation when present. Default `params.yaml`. */
  defaultParamsFile?: string;
  /**
   * The pipeline file's folder relative to the repository root ("" at the root), to refuse paths that
   * leave the repository or name its root, `.git` or `.mtrack`. Default: the folder of `file`.
   */
  dir?: string;
}

const TOP_KEYS = ["stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"];
const STAGE_KEYS = [
  "cmd",
  "wdir",
  "deps",
  "params",
  "outs",
  "metrics",
  "plots",
  "desc",
  "frozen",
  "always_changed",
  "meta",
  "vars",
];
const FOREACH_KEYS = ["foreach", "do"];
const OUT_KEYS = [
  "cache",
  "persist",
  "desc",
  "remote",
  "push",
  "type",
  "labels",
  "meta",
  "checkpoint",
  "x",
  "y",
  "template",
  "title",
  "x_label",
  "y_label",
  "header",
];
const PARAMS_FILE_EXT = /\.(ya?ml|json|toml)$/i;

/**
 * Parses and resolves a pipeline file.
 *
 * @example
 * const pipeline = parsePipeline({
 *   text: fs.readFileSync("pipeline.yaml", "utf8"),
 *   file: "pipeline.yaml",
 *   readFile: (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined),
 * });
 */
export function parsePipeline(options: ParsePipelineOptions): Pipeline {
  const { text, file, readFile, defaultParamsFile = "params.yaml" } = options;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const src: SourceInfo = { file, lineCounter, doc, text };
  const top: SourcePos = { file, line: 1, column: 1 };
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = posAt(src, syntax.pos[0]);
    throw invalid(pos, `YAML syntax error: ${syntax.message.split("\n")[0]}`, "Fix the YAML syntax.");
  }
  const root = toLNode(doc.contents, src, top);
  if (root.kind === "scalar" && root.value === null) return { file, stages: [] };
  const rootMap = expectMap(root, "the top level");
  checkKeys(rootMap, TOP_KEYS, "top-level key");

  const files = new ParamsFiles(readFile);
  let ctx = new TemplateContext();
  const defaultParams = files.get(defaultParamsFile);
  if (defaultParams) ctx = ctx.with(defaultParams, { kind: "file", file: defaultParamsFile }, top);
  const loaded = new Set(defaultParams ? [defaultParamsFile] : []);
  const varsNode = entry(rootMap, "vars");
  if (varsNode) ctx = applyVars(ctx, varsNode.value, files, loaded, "");

  const stages: Stage[] = [];
  const stagesNode = entry(rootMap, "stages");
  if (stagesNode && !(stagesNode.value.kind === "scalar" && stagesNode.value.value === null)) {
    const stagesMap = expectMap(stagesNode.value, "`stages`");
    const seen = new Map<string, SourcePos>();
    for (const def of stagesMap.entries) {
      if (!/^[\w.-]+$/.test(def.key)) {
        throw invalid(
          def.keyPos,
          `invalid stage name '${def.key}'`,
          "Use letters, digits, '_', '-' and '.' only ('@' is reserved for foreach/matrix stages).",
          { stage: def.key },
        );
      }
      for (const stage of expandDefinition(def, ctx, files, defaultParamsFile)) {
        const prev = seen.get(stage.name);
        if (prev) {
          throw invalid(
            stage.pos,
            `stage '${stage.name}' is defined twice (first at ${fmtPos(prev)})`,
            "Rename one.",
            {
              stage: stage.name,
            },
          );
        }
        seen.set(stage.name, stage.pos);
        stages.push(stage);
      }
    }
  }
  checkDeclaredParams(stages, files);
  const dir = options.dir ?? (path.posix.isAbsolute(file) ? "" : path.posix.dirname(file));
  checkRepoPaths(stages, dir === "." ? "" : dir);
  return { file, stages };
}

/** Folders no stage may read, write or run in: git's and mtrack's own (compared case-insensitively). */
export const RESERVED_DIRS = [".git", ".mtrack"];

/**
 * Where a pipeline path lands in the repository: its repo-relative posix path ("" for the root), or
 * null when it leaves the repository. Pure.
 *
 * @example
 * repoRelative("sub", "../data"); // "data"
 * repoRelative("", "../x");       // null
 */
export function repoRelative(dir: string, p: string): string | null {
  const n = path.posix.normalize(dir ? `${dir}/${p}` : p).replace(/\/$/, "");
  if (n === ".." || n.startsWith("../") || path.posix.isAbsolute(n)) return null;
  return n === "." ? "" : n;
}

/** The reserved folder a repo-relative path is (or is inside), if any. */
export function reservedDirOf(rel: string): string | undefined {
  const first = (rel.split("/")[0] ?? "").toLowerCase();
  return RESERVED_DIRS.find((d) => d === first);
}

/**
 * Refuses wdirs outside the repository, and deps/outs that leave it, name its root, or name `.git`,
 * `.mtrack` or a path inside them: `mtrack repro` removes outputs before a stage runs, so such an out
 * would delete the repository.
 */
function checkRepoPaths(stages: readonly Stage[], dir: string): void {
  const refuse = (pos: SourcePos, stage: string, what: string, hint: string, p: string) =>
    invalid(pos, `stage '${stage}': ${what}`, hint, { stage, path: p });
  for (const stage of stages) {
    const w = repoRelative(dir, stage.wdir);
    if (w === null)
      throw refuse(
        stage.pos,
        stage.name,
        `wdir '${stage.wdir}' is outside the repository`,
        "Keep wdir inside the repository.",
        stage.wdir,
      );
    const wReserved = reservedDirOf(w);
    if (wReserved !== undefined)
      throw refuse(
        stage.pos,
        stage.name,
        `wdir '${stage.wdir}' is inside ${wReserved}`,
        `Stages cannot run inside ${wReserved}.`,
        stage.wdir,
      );
    const check = (p: string, pos: SourcePos, kind: string) => {
      const rel = repoRelative(dir, p);
      const hint = `Name a file or folder inside the repository, outside .git and .mtrack.`;
      if (rel === null) throw refuse(pos, stage.name, `${kind} '${p}' is outside the repository`, hint, p);
      if (rel === "") throw refuse(pos, stage.name, `${kind} '${p}' is the repository itself`, hint, p);
      const reserved = reservedDirOf(rel);
      if (reserved !== undefined)
        throw refuse(
          pos,
          stage.name,
          `${kind} '${p}' ${rel.toLowerCase() === reserved ? "is" : "is inside"} ${reserved}, which mtrack would ${kind === "dependency" ? "hash" : "delete before the stage runs"}`,
          hint,
          p,
        );
    };
    for (const d of stage.deps) check(d.path, d.pos, "dependency");
    for (const o of stage.outs)
      check(
        o.path,
        o.pos,
        o.kind === "outs" ? "output" : o.kind === "metrics" ? "metrics file" : "plots file",
      );
  }
}

/** Parsed params/vars files, read once each. */
class ParamsFiles {
  private readonly cache = new Map<string, ParamsObject | undefined>();
  constructor(private readonly readFile: (p: string) => string | undefined) {}

  get(file: string): ParamsObject | undefined {
    if (!this.cache.has(file)) {
      const text = this.readFile(file);
      this.cache.set(file, text === undefined ? undefined : parseParamsText(text, file));
    }
    return this.cache.get(file);
  }
}

function invalid(
  pos: SourcePos,
  what: string,
  hint: string,
  extra: Record<string, unknown> = {},
): MtrackError {
  return new MtrackError("ERR_MTRACK_PIPELINE_INVALID", `${fmtPos(pos)}: ${what}.`, {
    hint,
    data: posData(pos, extra),
  });
}

function entry(node: Extract<LNode, { kind: "map" }>, key: string): LEntry | undefined {
  return node.entries.find((e) => e.key === key);
}

function kindName(node: LNode): string {
  if (node.kind === "map") return "a mapping";
  if (node.kind === "seq") return "a list";
  return node.value === null ? "empty" : `a ${typeof node.value}`;
}

function expectMap(node: LNode, what: string): Extract<LNode, { kind: "map" }> {
  if (node.kind !== "map")
    throw invalid(node.pos, `${what} must be a mapping, not ${kindName(node)}`, "Use `key: value` lines.");
  return node;
}

function expectString(node: LNode, what: string): string {
  if (node.kind !== "scalar" || typeof node.value !== "string") {
    throw invalid(node.pos, `${what} must be a string, not ${kindName(node)}`, "Write a plain string.");
  }
  return node.value;
}

function expectBool(node: LNode, what: string): boolean {
  if (node.kind !== "scalar" || typeof node.value !== "boolean") {
    throw invalid(node.pos, `${what} must be true or false, not ${kindName(node)}`, "Write true or false.");
  }
  return node.value;
}

/** A list, where an empty value counts as an empty list. */
function expectList(node: LNode, what: string): LNode[] {
  if (node.kind === "scalar" && node.value === null) return [];
  if (node.kind !== "seq")
    throw invalid(node.pos, `${what} must be a list, not ${kindName(node)}`, "Write a `- item` list.");
  return node.items;
}

function checkKeys(node: Extract<LNode, { kind: "map" }>, valid: readonly string[], what: string): void {
  for (const e of node.entries) {
    if (valid.includes(e.key)) continue;
    const guess = closest(e.key, valid);
    throw invalid(
      e.keyPos,
      `unknown ${what} '${e.key}'${guess ? ` (did you mean '${guess}'?)` : ""}`,
      `Valid keys: ${valid.join(", ")}.`,
      { key: e.key, suggestion: guess },
    );
  }
}

/** The valid key nearest to `word` by edit distance, if it is plausibly a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Applies a `vars:` list: inline mappings, or `file.yaml` / `file.yaml:key1,key2` (relative to `wdir`).
 * A file already loaded (the default params file) is not loaded twice.
 */
function applyVars(
  ctx: TemplateContext,
  node: LNode,
  files: ParamsFiles,
  loaded: Set<string>,
  wdir: string,
): TemplateContext {
  for (const item of expectList(node, "`vars`")) {
    if (item.kind === "map") {
      ctx = ctx.with(toValue(item) as Record<string, unknown>, { kind: "inline" }, item.pos);
      continue;
    }
    const spec = expectString(item, "a `vars` entry");
    const colon = spec.lastIndexOf(":");
    const hasKeys = colon > 0 && PARAMS_FILE_EXT.test(spec.slice(0, colon));
    const name = hasKeys ? spec.slice(0, colon) : spec;
    const fileRel = joinPath(wdir, name, item.pos);
    const keys = hasKeys
      ? spec
          .slice(colon + 1)
          .split(",")
          .map((k) => k.trim())
          .filter(Boolean)
      : undefined;
    if (!keys && loaded.has(fileRel)) continue;
    const content = files.get(fileRel);
    if (!content) {
      throw new MtrackError(
        "ERR_MTRACK_PATH_NOT_FOUND",
        `${fmtPos(item.pos)}: vars file '${fileRel}' does not exist.`,
        {
          hint: "Create the file or fix the path (relative to the pipeline file's folder).",
          data: posData(item.pos, { path: fileRel }),
        },
      );
    }
    let values: Record<string, unknown> = content;
    if (keys) {
      values = {};
      for (const key of keys) {
        const hit = getParam(content, key);
        if (!hit.found) throw paramMissing(item.pos, fileRel, key);
        values[key] = hit.value;
      }
    }
    loaded.add(fileRel);
    ctx = ctx.with(values, { kind: "file", file: fileRel }, item.pos);
  }
  return ctx;
}

function paramMissing(pos: SourcePos, file: string, key: string): MtrackError {
  return new MtrackError("ERR_MTRACK_PARAM_MISSING", `${fmtPos(pos)}: '${key}' is not in ${file}.`, {
    hint: `Add '${key}' to ${file}, or remove it from the pipeline.`,
    data: posData(pos, { key, paramsFile: file }),
  });
}

/** Normalises `wdir/p` to a POSIX path relative to the pipeline folder, without a trailing slash. */
function joinPath(wdir: string, p: string, pos: SourcePos): string {
  if (p === "" || path.posix.isAbsolute(p) || /^[A-Za-z]:[\\/]/.test(p)) {
    throw invalid(pos, `path '${p}' must be relative to the pipeline file's folder`, "Use a relative path.", {
      path: p,
    });
  }
  const joined = path.posix.normalize(path.posix.join(wdir || ".", p.replaceAll("\\", "/")));
  return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined;
}

/** Turns a foreach/matrix value into `key → item`, following DVC's naming. */
function foreachItems(value: unknown, pos: SourcePos): Array<[string, unknown, boolean]> {
  if (isMapping(value)) return Object.entries(value).map(([k, v]) => [k, v, true]);
  if (Array.isArray(value)) {
    // DVC: a list of scalars is keyed by the values themselves, a list with any composite by index.
    const composite = value.some((v) => typeof v === "object" && v !== null);
    return value.map((v, i) => [composite ? String(i) : keyString(v), v, false]);
  }
  throw invalid(
    pos,
    "`foreach` must be a list or a mapping",
    "Give a list, a mapping, or `$" + "{name}` of one.",
  );
}

function keyString(v: unknown): string {
  return typeof v === "boolean" ? (v ? "true" : "false") : String(v);
}

function resolveIterable(node: LNode, ctx: TemplateContext, track: ParamTracker): unknown {
  if (node.kind === "scalar" && typeof node.value === "string") {
    return interpolateString(node.value, node.pos, ctx, track, node.locate);
  }
  return toValue(interpolate(node, ctx, track));
}

function matrixItems(
  node: LNode,
  ctx: TemplateContext,
  track: ParamTracker,
): Array<[string, Record<string, unknown>]> {
  const map = expectMap(node, "`matrix`");
  let combos: Array<[string[], Record<string, unknown>]> = [[[], {}]];
  for (const dim of map.entries) {
    const values = resolveIterable(dim.value, ctx, track);
    if (!Array.isArray(values)) {
      throw invalid(dim.value.pos, `matrix dimension '${dim.key}' must be a list`, "Give a list of values.");
    }
    const next: Array<[string[], Record<string, unknown>]> = [];
    for (const [frags, d] of combos) {
      values.forEach((v, i) => {
        const frag = typeof v === "object" && v !== null ? `${dim.key}${i}` : keyString(v);
        next.push([[...frags, frag], { ...d, [dim.key]: v }]);
      });
    }
    combos = next;
  }
  return combos.map(([frags, d]) => [frags.join("-"), d]);
}

/** Expands one `stages:` entry into resolved stages (one, or one per foreach/matrix item). */
function expandDefinition(
  def: LEntry,
  ctx: TemplateContext,
  files: ParamsFiles,
  defaultParams: string,
): Stage[] {
  const body = expectMap(def.value, `stage '${def.key}'`);
  const used: ParamRef[] = [];
  const track: ParamTracker = (file, key, pos) => used.push({ file, key, via: "interpolated", pos });

  const foreach = entry(body, "foreach");
  if (foreach) {
    checkKeys(body, FOREACH_KEYS, "key in a foreach stage");
    const doNode = entry(body, "do");
    if (!doNode)
      throw invalid(
        def.keyPos,
        `stage '${def.key}' has \`foreach\` but no \`do\``,
        "Add a `do:` stage body.",
      );
    const value = resolveIterable(foreach.value, ctx, track);
    return foreachItems(value, foreach.value.pos).map(([key, item, keyed]) => {
      const genCtx = ctx.with(keyed ? { item, key } : { item }, { kind: "inline" }, foreach.keyPos, true);
      return buildStage(`${def.key}@${key}`, doNode.value, genCtx, files, defaultParams, [...used]);
    });
  }
  const matrix = entry(body, "matrix");
  if (matrix) {
    checkKeys(body, [...STAGE_KEYS, "matrix"], "stage key");
    const rest: LNode = { ...body, entries: body.entries.filter((e) => e.key !== "matrix") };
    return matrixItems(matrix.value, ctx, track).map(([key, item]) => {
      const genCtx = ctx.with({ item, key }, { kind: "inline" }, matrix.keyPos, true);
      return buildStage(`${def.key}@${key}`, rest, genCtx, files, defaultParams, [...used]);
    });
  }
  return [buildStage(def.key, body, ctx, files, defaultParams, used)];
}

function buildStage(
  name: string,
  raw: LNode,
  ctx: TemplateContext,
  files: ParamsFiles,
  defaultParams: string,
  used: ParamRef[],
): Stage {
  const body = expectMap(raw, `stage '${name}'`);
  checkKeys(body, STAGE_KEYS, "stage key");
  const track: ParamTracker = (file, key, pos) => used.push({ file, key, via: "interpolated", pos });
  const wdirEntry = entry(body, "wdir");
  const wdirRaw = wdirEntry ? expectString(interpolate(wdirEntry.value, ctx, track), "`wdir`") : ".";
  const wdir = joinPath(".", wdirRaw, wdirEntry?.value.pos ?? body.pos);
  const varsEntry = entry(body, "vars");
  if (varsEntry) ctx = applyVars(ctx, varsEntry.value, files, new Set(), wdir);

  const field = (key: string): LNode | undefined => {
    const e = entry(body, key);
    // Only commands unpack `${mapping}` into `--key value` arguments, as in DVC.
    return e ? interpolate(e.value, ctx, track, { unpack: key === "cmd" }) : undefined;
  };

  const cmdNode = field("cmd");
  if (!cmdNode)
    throw invalid(body.pos, `stage '${name}' has no \`cmd\``, "Add the shell command that the stage runs.", {
      stage: name,
    });
  let cmd: string | string[];
  if (cmdNode.kind === "seq") {
    // A `${list}` inside a cmd list contributes its items as further commands.
    cmd = cmdNode.items.flatMap((item) =>
      item.kind === "seq"
        ? item.items.map((i) => scalarString(i, "a `cmd` entry"))
        : [scalarString(item, "a `cmd` entry")],
    );
  } else {
    cmd = scalarString(cmdNode, "`cmd`");
  }

  const deps: DepSpec[] = expectList(field("deps") ?? nullAt(body.pos), "`deps`").map((d) => ({
    path: joinPath(wdir, expectString(d, "a dependency"), d.pos),
    pos: d.pos,
  }));

  const params = declaredParams(field("params"), wdir, defaultParams, files);
  for (const u of used) {
    const covered = params.some(
      (p) =>
        p.file === u.file && (p.key === null || p.key === u.key || (u.key ?? "").startsWith(`${p.key}.`)),
    );
    const dup = params.some((p) => p.file === u.file && p.key === u.key);
    if (!covered && !dup) params.push(u);
  }

  const outs: OutSpec[] = [];
  for (const kind of ["outs", "metrics", "plots"] as const) {
    const list = field(kind);
    if (list) for (const item of expectList(list, `\`${kind}\``)) outs.push(outSpec(item, kind, wdir));
  }

  const stage: Stage = {
    name,
    cmd,
    wdir,
    deps,
    params,
    outs,
    frozen: false,
    alwaysChanged: false,
    pos: body.pos,
  };
  const desc = field("desc");
  if (desc) stage.desc = expectString(desc, "`desc`");
  const frozen = field("frozen");
  if (frozen) stage.frozen = expectBool(frozen, "`frozen`");
  const always = field("always_changed");
  if (always) stage.alwaysChanged = expectBool(always, "`always_changed`");
  const meta = entry(body, "meta");
  if (meta) stage.meta = toValue(meta.value);
  return stage;
}

function nullAt(pos: SourcePos): LNode {
  return { kind: "scalar", value: null, pos };
}

/** Strings, numbers and booleans are accepted where a command is expected (YAML may type `cmd: 1`). */
function scalarString(node: LNode, what: string): string {
  if (node.kind === "scalar" && ["string", "number", "boolean"].includes(typeof node.value))
    return String(node.value);
  throw invalid(
    node.pos,
    `${what} must be a string, not ${kindName(node)}`,
    "Write the shell command as a string.",
  );
}

function declaredParams(
  node: LNode | undefined,
  wdir: string,
  defaultParams: string,
  files: ParamsFiles,
): ParamRef[] {
  if (!node) return [];
  const refs: ParamRef[] = [];
  const defaultFile = joinPath(wdir, defaultParams, node.pos);
  for (const item of expectList(node, "`params`")) {
    if (item.kind === "map") {
      for (const e of item.entries) {
        const file = joinPath(wdir, e.key, e.keyPos);
        const keys = expectList(e.value, `the keys of ${e.key}`);
        if (keys.length === 0) refs.push({ file, key: null, via: "declared", pos: e.keyPos });
        for (const k of keys) {
          refs.push({
            file,
            key: scalarString(k, "a params key"),
            via: "declared",
            pos: k.pos,
            filePos: e.keyPos,
          });
        }
      }
      continue;
    }
    const key = scalarString(item, "a params entry");
    // A bare file name (`- config.json`) means all of that file's keys, unless params.yaml has such a key.
    const defaults = files.get(defaultFile);
    if (PARAMS_FILE_EXT.test(key) && !(defaults && getParam(defaults, key).found)) {
      refs.push({ file: joinPath(wdir, key, item.pos), key: null, via: "declared", pos: item.pos });
    } else {
      refs.push({ file: defaultFile, key, via: "declared", pos: item.pos });
    }
  }
  return refs;
}

function outSpec(item: LNode, kind: OutKind, wdir: string): OutSpec {
  // Metrics are small and reviewed in diffs, so they stay in git unless asked otherwise.
  const base = { kind, cache: kind !== "metrics", persist: false, options: {} as Record<string, unknown> };
  if (item.kind !== "map") {
    const p = expectString(item, `an entry of \`${kind}\``);
    return { ...base, path: joinPath(wdir, p, item.pos), pos: item.pos };
  }
  const first = item.entries[0];
  if (!first || item.entries.length !== 1) {
    throw invalid(
      item.pos,
      `an entry of \`${kind}\` must be a path or \`{path: {options}}\``,
      "Write `- path:` then the options, indented.",
    );
  }
  const out: OutSpec = { ...base, path: joinPath(wdir, first.key, first.keyPos), pos: first.keyPos };
  if (first.value.kind === "scalar" && first.value.value === null) return out;
  const opts = expectMap(first.value, `the options of '${first.key}'`);
  checkKeys(opts, OUT_KEYS, "output option");
  for (const o of opts.entries) {
    if (o.key === "cache") out.cache = expectBool(o.value, "`cache`");
    else if (o.key === "persist") out.persist = expectBool(o.value, "`persist`");
    else if (o.key === "desc") out.desc = expectString(o.value, "`desc`");
    else out.options[o.key] = toValue(o.value);
  }
  return out;
}

/**
 * Declared params must exist, except in a params file that a stage of this pipeline writes (it will only
 * exist after that stage runs).
 */
function checkDeclaredParams(stages: Stage[], files: ParamsFiles): void {
  const produced = new Set(stages.flatMap((s) => s.outs.map((o) => o.path)));
  for (const stage of stages) {
    for (const ref of stage.params) {
      if (ref.via !== "declared" || produced.has(ref.file)) continue;
      const content = files.get(ref.file);
      if (!content) {
        const at = ref.filePos ?? ref.pos;
        throw new MtrackError(
          "ERR_MTRACK_PARAM_MISSING",
          `${fmtPos(at)}: params file '${ref.file}' does not exist.`,
          {
            hint: `Create ${ref.file}, or remove it from stage '${stage.name}'.`,
            data: posData(at, { key: ref.key, paramsFile: ref.file, stage: stage.name }),
          },
        );
      }
      if (ref.key !== null && !getParam(content, ref.key).found)
        throw paramMissing(ref.pos, ref.file, ref.key);
    }
  }
}
