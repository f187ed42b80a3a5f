/**
 * The model registry travels as refs `registry/<eventId>`, one per event, the ref's content the event's
 * JSON (as `annotations/<runId>.<id>` refs carry one annotation each). Objects move first, events after
 * (planEventTransfer decides the order), so neither side ever shows a live version or logged model
 * whose objects it lacks, wherever a push or pull is interrupted:
 *
 * - push: the objects the local registry needs (every live version's manifest and files, every file of
 *   a logged model not deleted; entries before manifests), then the events the remote lacks, one by one
 *   in id order, so the remote shows a prefix of this clone's log; events naming only data nothing live
 *   needs (a deleted version's) go last, after the deletion that makes them harmless.
 * - pull: the events this clone lacks are read and folded with its own, the objects the resulting
 *   registry needs are fetched (manifests, then their entries) and verified, and only then are the
 *   events imported, in the same order. An event needing an object that could not be had is held back
 *   (not imported) and reported, with the object, in the summary.
 */

import { foldEvents } from "../registry/fold.js";
import { manifestReader, registryNeeds, repoRegistry } from "../registry/gc.js";
import { expandReferences, planEventTransfer, stateReferences } from "../registry/references.js";
import { isEventId, parseEvent } from "../registry/registry.js";
import type { RegistryEvent } from "../registry/types.js";
import { runPool } from "../remotes/pool.js";
import type { Remote } from "../remotes/types.js";
import type { Repo } from "../repo.js";
import type { Hash } from "../store/types.js";
import { DEFAULT_JOBS, fetchObjects, mergeSummary, pushObjects, type TransferOptions } from "./objects.js";
import type { RefsSummary } from "./refs.js";
import type { TransferRoot } from "./select.js";

const KIND = "registry";

/** The ref name of one registry event. */
export function registryRef(eventId: string): string {
  return `${KIND}/${eventId}`;
}

function roots(entries: Iterable<[Hash, string]>, sizeOf: (h: Hash) => number): TransferRoot[] {
  return [...entries].map(([hash, label]) => ({ hash, size: sizeOf(hash), tree: false, label }));
}

/** The stored text of an event, as it travels. */
function eventText(e: RegistryEvent): Buffer {
  return Buffer.from(`${JSON.stringify(e)}\n`);
}

/**
 * Pushes the registry: the objects it needs that the remote lacks (even when every event is there
 * already, so an interrupted push from any clone gets completed), then the events the remote lacks.
 * Events needing an object this clone lacks are held back (`held`; fsck names the damage).
 *
 * @example
 * const r = await pushRegistry(repo, remote, { jobs: 8 }); r.transferred; // events written
 */
export async function pushRegistry(
  repo: Repo,
  remote: Remote,
  options: TransferOptions = {},
): Promise<RefsSummary> {
  const registry = repoRegistry(repo);
  const store = repo.store;
  const events = registry.events();
  const there = new Set(await remote.listRefs(KIND));
  const state = registry.state();
  const refs = stateReferences(state);
  const needs = registryNeeds(state, store);
  // Entries and logged files first, manifests after: a manifest on the remote implies its files are.
  const files = [...needs].filter(([h]) => !refs.manifests.has(h));
  const objects = await pushObjects(
    store,
    remote,
    roots(files, (h) => store.sizeOf(h) ?? 0),
    options,
  );
  mergeSummary(
    objects,
    await pushObjects(
      store,
      remote,
      roots(refs.manifests, (h) => store.sizeOf(h) ?? 0),
      options,
    ),
  );
  // A damaged local object is not sent either: events that need it wait like those of a missing one.
  const lacking = new Set([...objects.missingLocal, ...objects.corruptLocal].map((p) => p.hash));
  const plan = planEventTransfer(
    events.filter((e) => !there.has(registryRef(e.id))),
    {
      available: (h) => needs.has(h) && !lacking.has(h),
      needed: new Set(needs.keys()),
      entriesOf: manifestReader(store),
    },
  );
  let transferred = 0;
  // One at a time, in id order: however far this gets, the remote holds a consistent prefix.
  for (const e of [...plan.now, ...plan.after]) {
    await remote.writeRef(registryRef(e.id), eventText(e));
    transferred++;
  }
  return {
    kind: "registry",
    transferred,
    present: there.size,
    objects,
    held: plan.held.map((h) => ({ event: h.event.id, missing: h.missing })),
  };
}

/**
 * Reads the remote's events that this clone lacks (all of them for an empty `local`); damaged or
 * mislabelled refs are counted, not taken. Also how `mtrack import <repo> models:/...` reads another
 * repository's registry without importing it.
 *
 * @example
 * const { events } = await readRemoteEvents(remote, new Set(), 8); foldEvents(events).models
 */
export async function readRemoteEvents(
  remote: Remote,
  local: ReadonlySet<string>,
  jobs: number,
): Promise<{ events: RegistryEvent[]; damaged: string[] }> {
  const names = (await remote.listRefs(KIND)).filter((n) => {
    const id = n.slice(KIND.length + 1);
    return !isEventId(id) || !local.has(id);
  });
  const events: RegistryEvent[] = [];
  const damaged: string[] = [];
  await runPool(
    names.map((name) => async () => {
      const id = name.slice(KIND.length + 1);
      const body = await remote.readRef(name);
      const e = body === undefined ? undefined : parseEvent(body.toString("utf8"));
      if (e === undefined || e.id !== id) damaged.push(name);
      else events.push(e);
    }),
    jobs,
  );
  return { events, damaged: damaged.sort() };
}

/**
 * Fetches the registry: the events this clone lacks, the objects the registry then needs (verified),
 * and then the events are imported (see the module comment for the order and what is held back).
 *
 * @example
 * const r = await fetchRegistry(repo, remote); r.held?.length; // events waiting for missing objects
 */
export async function fetchRegistry(
  repo: Repo,
  remote: Remote,
  options: TransferOptions = {},
): Promise<RefsSummary> {
  const registry = repoRegistry(repo);
  const store = repo.store;
  const localEvents = registry.events();
  const local = new Set(registry.eventIds());
  const { events: incoming, damaged } = await readRemoteEvents(remote, local, options.jobs ?? DEFAULT_JOBS);
  const state = foldEvents([...localEvents, ...incoming]);
  const refs = stateReferences(state);
  const loggedSizes = new Map<Hash, number>();
  for (const lm of state.loggedModels.values())
    for (const f of lm.files.values()) loggedSizes.set(f.hash, f.size);
  // Manifests and logged files first; the manifests' entries are known once they are here.
  const objects = await fetchObjects(
    store,
    remote,
    [...roots(refs.manifests, () => 0), ...roots(refs.objects, (h) => loggedSizes.get(h) ?? 0)],
    options,
  );
  const entriesOf = manifestReader(store);
  const entries: TransferRoot[] = [];
  for (const [manifest, label] of refs.manifests) {
    for (const e of entriesOf(manifest) ?? [])
      entries.push({ hash: e.hash, size: e.size, tree: false, label: `${label}/${e.name}` });
  }
  if (entries.length > 0) mergeSummary(objects, await fetchObjects(store, remote, entries, options));
  const needs = expandReferences(refs, entriesOf);
  const plan = planEventTransfer(incoming, {
    available: (h) => store.has(h),
    needed: new Set(needs.keys()),
    entriesOf,
  });
  let transferred = 0;
  for (const e of [...plan.now, ...plan.after])
    if (registry.importEvent(eventText(e).toString("utf8"))) transferred++;
  return {
    kind: "registry",
    transferred,
    present: local.size,
    objects,
    held: plan.held.map((h) => ({ event: h.event.id, missing: h.missing })),
    damaged,
  };
}
