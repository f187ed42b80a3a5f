/**
 * Refs that travel with the data: sealed runs (`runs/<runId>`, the run-record hash), their annotations
 * (`annotations/<runId>.<annotationId>`, one JSON annotation each, written after the run's ref) and
 * run-cache entries (`runcache/<key>`, a small JSON naming stage outputs). Every kind moves the same way:
 * first the objects its content names, then the ref itself, so a ref on either side never names an
 * absent object (or, for an annotation, an absent run).
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { parseRunCacheEntry, type RunCacheEntry, RunCacheStore } from "../pipeline/runcache.js";
import type { Remote } from "../remotes/types.js";
import type { Repo } from "../repo.js";
import { isHash } from "../store/hash.js";
import type { Hash } from "../store/types.js";
import {
  type Annotation,
  appendAnnotations,
  parseAnnotation,
  readAnnotations,
} from "../tracking/annotations.js";
import { refPath, trackingPaths } from "../tracking/layout.js";
import { isRunId } from "../tracking/names.js";
import { runsReferencedObjects } from "../tracking/read.js";
import { writeFileAtomic } from "../util/fs.js";
import {
  fetchObjects,
  mergeSummary,
  pushObjects,
  type TransferOptions,
  type TransferSummary,
} from "./objects.js";
import type { TransferRoot } from "./select.js";

/** What moved for refs (the objects they name are counted in `objects`). */
export interface RefsSummary {
  kind: "runs" | "runcache" | "registry";
  /** Refs written on the destination. */
  transferred: number;
  /** Refs the destination already had. */
  present: number;
  objects: TransferSummary;
  /** For runs: annotations written on the destination (tags and inputs added after runs ended). */
  annotations?: number;
  /**
   * For the registry: events not written because an object the live registry needs is missing (on
   * push: from the local store; on fetch: from the remote, or it arrived corrupt). See transfer/registry.ts.
   */
  held?: Array<{ event: string; missing: Hash[] }>;
  /** For the registry, on fetch: remote refs that are not a registry event of the id they name (skipped). */
  damaged?: string[];
}

function localRunIds(runsDir: string): string[] {
  try {
    return nodeFs.readdirSync(trackingPaths(runsDir).refs).filter(isRunId).sort();
  } catch {
    return [];
  }
}

function readLocalRef(runsDir: string, runId: string): Hash | undefined {
  try {
    const h = nodeFs.readFileSync(refPath(runsDir, runId), "utf8").trim();
    return isHash(h) ? h : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pushes sealed runs the remote lacks: every object their records name, then their refs.
 *
 * @example
 * await pushRuns(repo, remote, { jobs: 8 });
 */
export async function pushRuns(
  repo: Repo,
  remote: Remote,
  options: TransferOptions = {},
  /** Only these runs (`exp push`: the runs of the experiments pushed); default every sealed run. */
  only?: ReadonlySet<string>,
): Promise<RefsSummary> {
  const dir = repo.paths.runsDir;
  const remoteRefs = new Set(await remote.listRefs("runs"));
  const todo = localRunIds(dir).filter((id) => !remoteRefs.has(`runs/${id}`) && (!only || only.has(id)));
  // Objects of every run (not only new ones): a run whose ref got pushed by an interrupted push from
  // another clone still gets its objects completed here.
  const roots: TransferRoot[] = [...runsReferencedObjects(dir, repo.store, only)].map((hash) => ({
    hash,
    size: repo.store.sizeOf(hash) ?? 0,
    tree: false,
    label: "runs",
  }));
  const objects = await pushObjects(repo.store, remote, roots, options);
  const refused = new Set(objects.corruptLocal.map((p) => p.hash));
  let transferred = 0;
  const onRemote = new Set([...remoteRefs].map((n) => n.slice("runs/".length)));
  for (const runId of todo) {
    const hash = readLocalRef(dir, runId);
    if (!hash || !repo.store.has(hash) || refused.has(hash)) continue;
    await remote.writeRef(`runs/${runId}`, Buffer.from(`${hash}\n`));
    onRemote.add(runId);
    transferred++;
  }
  const annotations = await pushAnnotations(dir, remote, onRemote);
  return { kind: "runs", transferred, present: remoteRefs.size, objects, annotations };
}

/** The ref name of one annotation: `annotations/<runId>.<annotationId>`. */
function annotationRef(a: Pick<Annotation, "runId" | "id">): string {
  return `annotations/${a.runId}.${a.id}`;
}

/** Pushes the annotations the remote lacks of runs it holds (after their run refs). */
async function pushAnnotations(dir: string, remote: Remote, runsOnRemote: Set<string>): Promise<number> {
  const local = readAnnotations(dir);
  if (local.size === 0) return 0;
  const there = new Set(await remote.listRefs("annotations"));
  let written = 0;
  for (const [runId, list] of local) {
    if (!runsOnRemote.has(runId)) continue; // pushed with the run, once it is sealed and pushed
    for (const a of list) {
      if (there.has(annotationRef(a))) continue;
      await remote.writeRef(annotationRef(a), Buffer.from(`${JSON.stringify(a)}\n`));
      written++;
    }
  }
  return written;
}

/**
 * Fetches the annotations of local sealed runs this clone lacks and appends them; a damaged or foreign
 * ref (its body not an annotation of the run and id its name says) is skipped.
 */
async function fetchAnnotations(dir: string, remote: Remote): Promise<number> {
  const sealed = new Set(localRunIds(dir));
  const known = new Set<string>();
  for (const list of readAnnotations(dir).values()) for (const a of list) known.add(a.id);
  const fetched: Annotation[] = [];
  for (const name of await remote.listRefs("annotations")) {
    const m = /^annotations\/([0-9a-f]{32})\.([0-9a-f]{32})$/.exec(name);
    if (!m || known.has(m[2]!) || !sealed.has(m[1]!)) continue;
    const body = await remote.readRef(name);
    let a: Annotation | undefined;
    try {
      a = body ? parseAnnotation(JSON.parse(body.toString("utf8"))) : undefined;
    } catch {
      a = undefined;
    }
    if (a === undefined || a.runId !== m[1] || a.id !== m[2]) continue;
    known.add(a.id);
    fetched.push(a);
  }
  appendAnnotations(dir, fetched);
  return fetched.length;
}

/**
 * Fetches sealed runs this clone lacks: their records, the objects the records name, then their refs
 * (the run index repairs itself from refs on the next listing).
 */
export async function fetchRuns(
  repo: Repo,
  remote: Remote,
  options: TransferOptions = {},
): Promise<RefsSummary> {
  const dir = repo.paths.runsDir;
  const local = new Set(localRunIds(dir));
  const names = (await remote.listRefs("runs")).filter((n) => !local.has(n.slice("runs/".length)));
  const refs = new Map<string, Hash>();
  for (const name of names) {
    const body = await remote.readRef(name);
    const hash = body?.toString("utf8").trim();
    if (hash && isHash(hash)) refs.set(name.slice("runs/".length), hash);
  }
  // Records first, into a staging tracking dir: runsReferencedObjects then reads what they name.
  const records: TransferRoot[] = [...refs].map(([runId, hash]) => ({
    hash,
    size: 0,
    tree: false,
    label: `run ${runId}`,
  }));
  const summary = await fetchObjects(repo.store, remote, records, options);
  const staging = nodeFs.mkdtempSync(path.join(repo.paths.tmpDir, "runs-"));
  try {
    nodeFs.mkdirSync(trackingPaths(staging).refs, { recursive: true });
    for (const [runId, hash] of refs)
      if (repo.store.has(hash)) writeFileAtomic(refPath(staging, runId), `${hash}\n`);
    // Directory artifacts name a manifest whose entries are known only once it is here: a second round
    // fetches those entries.
    for (let round = 0; round < 3; round++) {
      const named: TransferRoot[] = [...runsReferencedObjects(staging, repo.store)]
        .filter((hash) => !repo.store.has(hash))
        .map((hash) => ({ hash, size: 0, tree: false, label: "runs" }));
      if (named.length === 0) break;
      const more = await fetchObjects(repo.store, remote, named, options);
      mergeSummary(summary, more);
      if (more.objects === 0) break;
    }
    const missing = new Set(
      [...summary.missingRemote, ...summary.corrupt, ...summary.refused].map((p) => p.hash),
    );
    let transferred = 0;
    nodeFs.mkdirSync(trackingPaths(dir).refs, { recursive: true });
    for (const [runId, hash] of refs) {
      if (!repo.store.has(hash) || missing.size > 0) continue;
      writeFileAtomic(refPath(dir, runId), `${hash}\n`);
      transferred++;
    }
    // After the runs: an annotation is taken only for a run this clone holds.
    const annotations = await fetchAnnotations(dir, remote);
    return { kind: "runs", transferred, present: local.size, objects: summary, annotations };
  } finally {
    nodeFs.rmSync(staging, { recursive: true, force: true });
  }
}

function entryRoots(key: string, entry: RunCacheEntry): TransferRoot[] {
  return entry.outs.map((o) => ({
    hash: o.hash,
    size: o.size,
    tree: o.type === "directory",
    label: `runcache ${key.slice(0, 10)}:${o.path}`,
  }));
}

/** Pushes run-cache entries the remote lacks, objects first. */
export async function pushRunCache(
  repo: Repo,
  remote: Remote,
  options: TransferOptions = {},
): Promise<RefsSummary> {
  const rc = RunCacheStore.forRepo(repo);
  const remoteRefs = new Set(await remote.listRefs("runcache"));
  const todo: Array<[string, RunCacheEntry]> = [];
  for (const key of rc.keys()) {
    if (remoteRefs.has(`runcache/${key}`)) continue;
    const entry = rc.get(key);
    if (entry) todo.push([key, entry]);
  }
  const objects = await pushObjects(
    repo.store,
    remote,
    todo.flatMap(([k, e]) => entryRoots(k, e)),
    options,
  );
  const incomplete = new Set([...objects.missingLocal, ...objects.corruptLocal].map((p) => p.hash));
  let transferred = 0;
  for (const [key, entry] of todo) {
    // An entry whose outputs are not all here would make other clones skip a stage they cannot restore.
    if (entry.outs.some((o) => incomplete.has(o.hash))) continue;
    await remote.writeRef(`runcache/${key}`, Buffer.from(`${JSON.stringify(entry, null, 1)}\n`));
    transferred++;
  }
  return { kind: "runcache", transferred, present: remoteRefs.size, objects };
}

/** Fetches run-cache entries this clone lacks, objects first. */
export async function fetchRunCache(
  repo: Repo,
  remote: Remote,
  options: TransferOptions = {},
): Promise<RefsSummary> {
  const rc = RunCacheStore.forRepo(repo);
  const names = (await remote.listRefs("runcache")).filter((n) => !rc.has(n.slice("runcache/".length)));
  const entries: Array<[string, RunCacheEntry]> = [];
  for (const name of names) {
    const body = await remote.readRef(name);
    if (!body) continue;
    // A damaged remote entry is skipped: the stage simply runs.
    const entry = parseRunCacheEntry(body.toString("utf8"));
    if (entry) entries.push([name.slice("runcache/".length), entry]);
  }
  const objects = await fetchObjects(
    repo.store,
    remote,
    entries.flatMap(([k, e]) => entryRoots(k, e)),
    options,
  );
  const bad = new Set([...objects.missingRemote, ...objects.corrupt, ...objects.refused].map((p) => p.hash));
  let transferred = 0;
  for (const [key, entry] of entries) {
    if (entry.outs.some((o) => bad.has(o.hash) || !repo.store.has(o.hash))) continue;
    rc.put(key, entry);
    transferred++;
  }
  return { kind: "runcache", transferred, present: 0, objects };
}
