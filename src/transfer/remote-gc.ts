/**
 * `mtrack gc --cloud`: garbage collection on a remote. The keep set is built here, on the client, from
 * the same root sources as the local gc plus the refs already on the remote (runs, run-cache entries and
 * model registry events other clones pushed); the remote then deletes the rest by the rules of
 * src/remotes/collect.ts.
 *
 * Directory manifests and run records must be read to know what they name. Each is read from the local
 * store, else from the remote (and its hash checked). When one can be read from neither, or a remote ref
 * cannot be understood, the collection is refused before anything is deleted: gc never deletes what it
 * could not see the roots of.
 */
import { buffer } from "node:stream/consumers";
import { MtrackError } from "../errors.js";
import { parseRunCacheEntry, rootsOf } from "../pipeline/runcache.js";
import { foldEvents } from "../registry/fold.js";
import { stateReferences } from "../registry/references.js";
import { parseEvent } from "../registry/registry.js";
import type { RegistryEvent } from "../registry/types.js";
import type { CollectResult } from "../remotes/collect.js";
import { resolveRemote } from "../remotes/config.js";
import { openRemote } from "../remotes/index.js";
import type { Remote } from "../remotes/types.js";
import type { Repo } from "../repo.js";
import { hashBytes, isHash } from "../store/hash.js";
import type { Store } from "../store/store.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { newPackr } from "../tracking/frames.js";
import { runReferences } from "../tracking/read.js";
import type { RootSource } from "../workspace/gc.js";

/**
 * What a root names: an object, a directory manifest, a run record, a run's directory artifact, or a
 * model version's content (the same DirEntry[] manifest as a run's directory artifact).
 */
export type RemoteRootKind = "object" | "tree" | "run" | "run-dir" | "model";

/** One root of a remote collection, with where it comes from (for the refusal message). */
export interface RemoteRoot {
  hash: Hash;
  kind: RemoteRootKind;
  label: string;
}

/** A root the collection could not see through (it refuses). */
export interface UnreadableRoot {
  label: string;
  hash?: Hash;
  reason: string;
}

/** A named provider of remote roots. */
export interface RemoteRootSource {
  name: string;
  collect(unreadable: UnreadableRoot[]): Promise<Iterable<RemoteRoot>>;
}

/** A local gc root source as a remote one (directory roots are manifests). */
export function fromLocalSource(source: RootSource): RemoteRootSource {
  return {
    name: source.name,
    async collect() {
      const out: RemoteRoot[] = [];
      for (const r of await source.collect())
        out.push({ hash: r.hash, kind: r.tree ? "tree" : "object", label: source.name });
      return out;
    },
  };
}

/** Roots named by the remote's `runs/*` refs: the run records (expanded to what they name). */
export function remoteRunRoots(remote: Remote): RemoteRootSource {
  return {
    name: "remote runs",
    async collect(unreadable) {
      const out: RemoteRoot[] = [];
      for (const name of await remote.listRefs("runs")) {
        const body = await remote.readRef(name);
        const hash = body?.toString("utf8").trim() ?? "";
        if (isHash(hash)) out.push({ hash, kind: "run", label: `${name} on the remote` });
        else
          unreadable.push({ label: `${name} on the remote`, reason: "the ref does not name a run record" });
      }
      return out;
    },
  };
}

/** Roots named by the remote's `runcache/*` refs: the stage outputs each entry restores. */
export function remoteRunCacheRoots(remote: Remote): RemoteRootSource {
  return {
    name: "remote run-cache",
    async collect(unreadable) {
      const out: RemoteRoot[] = [];
      for (const name of await remote.listRefs("runcache")) {
        const label = `${name} on the remote`;
        const entry = parseRunCacheEntry((await remote.readRef(name))?.toString("utf8") ?? "");
        if (!entry) {
          unreadable.push({ label, reason: "the run-cache entry could not be read" });
          continue;
        }
        for (const r of rootsOf(entry.outs))
          out.push({ hash: r.hash, kind: r.tree ? "tree" : "object", label });
      }
      return out;
    },
  };
}

/**
 * Roots named by the remote's `registry/*` refs: what the registry those events fold into needs (live
 * versions' manifests and files, files of logged models not deleted; see src/registry/references.ts).
 * A ref that is not the event its name says makes the collection refuse: it might create a version.
 */
export function remoteRegistryRoots(remote: Remote): RemoteRootSource {
  return {
    name: "remote model registry",
    async collect(unreadable) {
      const events: RegistryEvent[] = [];
      for (const name of await remote.listRefs("registry")) {
        const body = await remote.readRef(name);
        const e = body === undefined ? undefined : parseEvent(body.toString("utf8"));
        if (e === undefined || `registry/${e.id}` !== name) {
          unreadable.push({ label: `${name} on the remote`, reason: "the ref is not a registry event" });
          continue;
        }
        events.push(e);
      }
      const refs = stateReferences(foldEvents(events));
      const out: RemoteRoot[] = [];
      for (const [hash, label] of refs.manifests)
        out.push({ hash, kind: "model", label: `${label} on the remote` });
      for (const [hash, label] of refs.objects)
        out.push({ hash, kind: "object", label: `${label} on the remote` });
      return out;
    },
  };
}

/** Reads objects from the local store, else from the remote (hash checked); absent ones are left out. */
async function readObjects(
  store: Store,
  remote: Remote,
  hashes: readonly Hash[],
): Promise<Map<Hash, Buffer>> {
  const out = new Map<Hash, Buffer>();
  const fromRemote: Hash[] = [];
  for (const h of hashes) {
    let local: Buffer | undefined;
    if (store.has(h)) {
      try {
        local = store.readObject(h);
      } catch {
        local = undefined;
      }
    }
    if (local) out.set(h, local);
    else fromRemote.push(h);
  }
  if (fromRemote.length === 0) return out;
  const accept = (hash: Hash, data: Buffer) => {
    if (hashBytes(data) === hash) out.set(hash, Buffer.from(data));
  };
  const rest = await remote.getBatch(fromRemote, (o) => accept(o.hash, o.data));
  // Too large for a batch (a big directory's manifest), or absent: one stream each.
  for (const h of rest) {
    const stream = await remote.open(h);
    if (!stream) continue;
    accept(h, await buffer(stream));
  }
  return out;
}

/**
 * What a run record read from the store or a remote names (runReferences), every reference checked to be
 * an object id: a damaged record throws.
 */
function runRecordRefs(bytes: Buffer): { objects: Hash[]; dirs: Hash[] } {
  const record = newPackr().unpack(bytes) as Partial<Parameters<typeof runReferences>[0]> | null;
  if (typeof record !== "object" || record === null) throw new Error("not a run record");
  const refs = runReferences({
    metrics: record.metrics,
    artifacts: record.artifacts ?? [],
    models: record.models ?? [],
  });
  for (const h of [...refs.objects, ...refs.dirs]) {
    if (typeof h !== "string" || !isHash(h)) throw new Error("a reference is not an object id");
  }
  return refs;
}

/** The entries of a run's directory artifact (a DirEntry[] manifest). */
function runDirEntries(bytes: Buffer): Hash[] {
  const entries = newPackr().unpack(bytes) as Array<{ hash?: unknown }>;
  if (!Array.isArray(entries)) throw new Error("not a directory artifact manifest");
  return entries.map((e) => {
    if (typeof e.hash !== "string" || !isHash(e.hash)) throw new Error("an entry is not an object id");
    return e.hash;
  });
}

/** The keep set of a remote collection and how many roots each source gave. */
export interface KeepSet {
  keep: Set<Hash>;
  roots: Record<string, number>;
}

/**
 * Collects every root and expands manifests and run records (reading them locally, else from the
 * remote). Throws ERR_MTRACK_GC_UNSAFE, listing what could not be read, when any root cannot be seen.
 *
 * @example
 * const { keep } = await remoteKeepSet(repo.store, remote, [fromLocalSource(workspaceRoots(repo)), remoteRunRoots(remote)]);
 */
export async function remoteKeepSet(
  store: Store,
  remote: Remote,
  sources: readonly RemoteRootSource[],
): Promise<KeepSet> {
  const keep = new Set<Hash>();
  const roots: Record<string, number> = {};
  const unreadable: UnreadableRoot[] = [];
  /** Objects still to read and expand, with the first label naming each. */
  let pending = new Map<Hash, RemoteRoot>();
  const expanded = new Set<Hash>();
  const add = (root: RemoteRoot) => {
    keep.add(root.hash);
    if (root.kind !== "object" && !expanded.has(root.hash) && !pending.has(root.hash))
      pending.set(root.hash, root);
  };
  for (const source of sources) {
    let n = 0;
    for (const root of await source.collect(unreadable)) {
      n++;
      add(root);
    }
    roots[source.name] = n;
  }
  store.reload();
  while (pending.size > 0) {
    const round = pending;
    pending = new Map();
    for (const h of round.keys()) expanded.add(h);
    const bytes = await readObjects(store, remote, [...round.keys()]);
    for (const [hash, root] of round) {
      const data = bytes.get(hash);
      const what =
        root.kind === "run" ? "run record" : root.kind === "model" ? "model manifest" : "directory manifest";
      if (!data) {
        unreadable.push({ label: root.label, hash, reason: `its ${what} is neither here nor on the remote` });
        continue;
      }
      try {
        if (root.kind === "tree") for (const e of decodeTree(data)) keep.add(e.hash);
        else if (root.kind === "run-dir" || root.kind === "model")
          for (const h of runDirEntries(data)) keep.add(h);
        else {
          const refs = runRecordRefs(data);
          for (const h of refs.objects) keep.add(h);
          for (const h of refs.dirs) add({ hash: h, kind: "run-dir", label: root.label });
        }
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        unreadable.push({ label: root.label, hash, reason: `its ${what} is damaged (${why})` });
      }
    }
  }
  if (unreadable.length > 0) {
    const shown = unreadable
      .slice(0, 10)
      .map((u) => `  ${u.label}${u.hash ? ` (${u.hash.slice(0, 12)})` : ""}: ${u.reason}`);
    if (unreadable.length > 10) shown.push(`  ... and ${unreadable.length - 10} more`);
    throw new MtrackError(
      "ERR_MTRACK_GC_UNSAFE",
      `Refusing to collect garbage on ${remote.url}: ${unreadable.length} root(s) could not be read, so what they refer to is unknown. Nothing was deleted.\n${shown.join("\n")}`,
      {
        hint: "Push the missing data from a clone that has it (`mtrack push`), or fetch it (`mtrack fetch`), then run `mtrack gc --cloud` again.",
        data: { url: remote.url, unreadable: unreadable.slice(0, 100) },
      },
    );
  }
  return { keep, roots };
}

/** Options of gcRemote. */
export interface RemoteGcOptions {
  /** Remote name (default: core.remote, or the only one). */
  remote?: string;
  /** An already open remote (tests, embedding); `remote` is then ignored. */
  open?: Remote;
  env?: NodeJS.ProcessEnv;
  /** Keep what was written on the remote less than this many ms ago. */
  keepNewerMs: number;
  dryRun?: boolean;
  /**
   * Runs once the keep set is known (so nothing was refused) and before the remote is touched: the
   * CLI's local gc.
   */
  beforeCollect?: () => Promise<void>;
}

/** What a remote collection did. */
export interface RemoteGcResult extends CollectResult {
  remote: string;
  url: string;
  /** Roots per source. */
  roots: Record<string, number>;
}

/**
 * Collects garbage on a remote: builds the keep set from `sources` plus the remote's own refs, then lets
 * the backend delete the rest.
 *
 * @example
 * const r = await gcRemote(repo, [workspaceRoots(repo)], { keepNewerMs: 3_600_000, dryRun: true });
 */
export async function gcRemote(
  repo: Repo,
  sources: readonly RootSource[],
  options: RemoteGcOptions,
): Promise<RemoteGcResult> {
  const run = async (remote: Remote, name: string): Promise<RemoteGcResult> => {
    const { keep, roots } = await remoteKeepSet(repo.store, remote, [
      ...sources.map(fromLocalSource),
      remoteRunRoots(remote),
      remoteRegistryRoots(remote),
      remoteRunCacheRoots(remote),
    ]);
    await options.beforeCollect?.();
    const result = await remote.collect(keep, { keepNewerMs: options.keepNewerMs, dryRun: options.dryRun });
    return { ...result, remote: name, url: remote.url, roots };
  };
  if (options.open) return run(options.open, "(given)");
  const spec = resolveRemote(repo.config, { name: options.remote, root: repo.root, env: options.env });
  const remote = await openRemote(spec, { stateDir: repo.paths.stateDir });
  try {
    return await run(remote, spec.name);
  } finally {
    await remote.close();
  }
}
