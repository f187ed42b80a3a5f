/**
 * What the registry names in the object store, and in which order its events may travel. Pure: push,
 * pull, gc and fsck (src/transfer/registry.ts, gc.ts, fsck.ts) decide with these functions and only
 * then read or write anything.
 *
 * What the registry needs is what its folded state shows: the content manifest (and every file in it)
 * of each live version, and the files of each logged model not deleted. A deleted version, a deleted
 * model's versions and a deleted logged model need nothing: their data becomes collectable, as a
 * deleted version's artifacts do in MLflow, while their events stay in the log (it is append-only).
 */
import type { Hash } from "../store/types.js";
import type { RegistryEvent, RegistryState } from "./types.js";

/** The store objects a registry state or event names, each with a label for messages. */
export interface RegistryReferences {
  /** Version content manifests (DirEntry[] msgpack): their entries are needed too. */
  manifests: Map<Hash, string>;
  /** Plain objects (logged models' files). */
  objects: Map<Hash, string>;
}

function emptyReferences(): RegistryReferences {
  return { manifests: new Map(), objects: new Map() };
}

function addOnce(map: Map<Hash, string>, hash: Hash, label: string): void {
  if (!map.has(hash)) map.set(hash, label);
}

/**
 * What the current registry needs in the store: the manifests of live versions and the files of logged
 * models that are not deleted.
 *
 * @example
 * const refs = stateReferences(registry.state());
 * refs.manifests.get(hash); // "models:/classifier/3"
 */
export function stateReferences(state: RegistryState): RegistryReferences {
  const refs = emptyReferences();
  for (const m of state.models.values())
    for (const v of m.versions.values())
      addOnce(refs.manifests, v.content.hash, `models:/${m.name}/${v.version}`);
  for (const lm of state.loggedModels.values()) {
    if (lm.deleted) continue;
    for (const f of lm.files.values()) addOnce(refs.objects, f.hash, `logged model ${lm.modelId}/${f.path}`);
  }
  return refs;
}

/**
 * What one event names in the store (a version's content manifest, a logged model's file), or nothing.
 *
 * @example
 * eventReferences({ op: "logged.file", hash, ... }).objects; // Map { hash => "logged model m-…/model.pkl" }
 */
export function eventReferences(e: RegistryEvent): RegistryReferences {
  const refs = emptyReferences();
  if (e.op === "version.create") refs.manifests.set(e.content.hash, `models:/${e.name}/${e.version}`);
  else if (e.op === "logged.file") refs.objects.set(e.hash, `logged model ${e.modelId}/${e.path}`);
  return refs;
}

/**
 * Every object a set of references needs: the manifests, the entries of those `entriesOf` can read
 * (undefined: the manifest is not at hand, so its entries are unknown), and the plain objects.
 *
 * @example
 * expandReferences(stateReferences(state), (h) => store.has(h) ? readManifest(store, h) : undefined);
 */
export function expandReferences(
  refs: RegistryReferences,
  entriesOf: (manifest: Hash) => ReadonlyArray<{ name: string; hash: Hash }> | undefined,
): Map<Hash, string> {
  const out = new Map<Hash, string>();
  for (const [hash, label] of refs.manifests) {
    addOnce(out, hash, label);
    for (const e of entriesOf(hash) ?? []) addOnce(out, e.hash, `${label}/${e.name}`);
  }
  for (const [hash, label] of refs.objects) addOnce(out, hash, label);
  return out;
}

/** The order in which events go to the other side (see planEventTransfer). */
export interface EventTransferPlan {
  /** Events whose objects are all there: written first, in id order. */
  now: RegistryEvent[];
  /**
   * Events naming objects nothing live needs (a deleted version's content, gone from the sender's
   * store after gc): written after all of `now`, so the deletion that makes them harmless lands first.
   */
  after: RegistryEvent[];
  /** Events naming objects the live registry needs but that are not there: not written. */
  held: Array<{ event: RegistryEvent; missing: Hash[] }>;
}

/**
 * Decides which events may be written on the receiving side and in what order, so that side never
 * shows a live version (or logged model) whose objects it lacks, whenever the writing stops:
 * - an event whose objects are all `available` there goes in `now`;
 * - one naming an object that is not there, but that the live registry does not `need` either (its
 *   version was deleted), goes in `after`: its deletion is in `now`, so it can never appear live;
 * - one naming a missing object that the live registry needs is `held` back (the sender lacks it too,
 *   or it arrived corrupt), and reported.
 * `entriesOf` gives a manifest's entries when it is at hand (their absence counts as the manifest's).
 *
 * @example
 * const plan = planEventTransfer(events, { available: (h) => store.has(h), needed, entriesOf });
 * for (const e of [...plan.now, ...plan.after]) registry.importEvent(JSON.stringify(e));
 */
export function planEventTransfer(
  events: readonly RegistryEvent[],
  options: {
    available: (hash: Hash) => boolean;
    needed: ReadonlySet<Hash>;
    entriesOf: (manifest: Hash) => ReadonlyArray<{ name: string; hash: Hash }> | undefined;
  },
): EventTransferPlan {
  const plan: EventTransferPlan = { now: [], after: [], held: [] };
  const sorted = [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const e of sorted) {
    const missing = [...expandReferences(eventReferences(e), options.entriesOf).keys()].filter(
      (h) => !options.available(h),
    );
    if (missing.length === 0) plan.now.push(e);
    else if (missing.some((h) => options.needed.has(h))) plan.held.push({ event: e, missing });
    else plan.after.push(e);
  }
  return plan;
}
