/**
 * `mtrack fsck` for the model registry: event files that are not events, objects the live registry
 * needs that are missing or corrupt (the store's own hash check, done once by fsckStore, is passed in),
 * and events that did not apply when the log was folded (two clones changed one thing at once). Reads
 * only; every problem names the event file it comes from and says what to do.
 *
 * Objects are checked only where the live registry needs them: a deleted version's files may have
 * been collected by gc, which is no damage.
 */
import * as path from "node:path";
import type { Repo } from "../repo.js";
import type { Hash } from "../store/types.js";
import { toPosix } from "../util/fs.js";
import { manifestReader, repoRegistry } from "./gc.js";
import { eventReferences, expandReferences, stateReferences } from "./references.js";
import { parseEvent, registryPaths } from "./registry.js";

/** One problem of the registry. */
export interface RegistryProblem {
  kind: "damaged-event" | "missing-object" | "corrupt-object" | "conflict";
  /** The event file concerned, relative to the repository root (posix). */
  file: string;
  /** The event id, when the file is an event. */
  event?: string;
  /** The object concerned (missing or corrupt). */
  hash?: Hash;
  /** What needs the object, e.g. `models:/classifier/3/model.json`. */
  label?: string;
  reason: string;
  hint: string;
}

/** What fsck found in the registry. */
export interface RegistryFsck {
  /** Event files read. */
  events: number;
  problems: RegistryProblem[];
  ok: boolean;
}

const EVENT_NAME = /^(\d{13}-[0-9a-f]{8})\.json$/;

const HINTS = {
  damaged:
    "The registry ignores this file. If the event was pushed, delete the file and run `mtrack pull --models` to get it back; otherwise delete it and redo the change.",
  missing:
    "Fetch the files with `mtrack pull --models` from a remote that has them, or push them from the clone that registered the version (`mtrack push --models`).",
  corrupt:
    "The stored copy does not match its hash. Delete the version (or logged model) and register it again, or restore the store from a clone that has a good copy.",
  conflict:
    "Two clones changed the registry at once and this change came second, so it did not apply. Check the model (`mtrack models list`) and redo the change if it is still wanted.",
};

/**
 * Checks the registry of `repo`. `corrupt` holds the objects fsckStore found not to match their hash.
 *
 * @example
 * const store = await fsckStore(repo);
 * const reg = fsckRegistry(repo, { corrupt: new Set(store.corrupt.map((c) => c.hash)) });
 */
export function fsckRegistry(repo: Repo, options: { corrupt?: ReadonlySet<Hash> } = {}): RegistryFsck {
  const fs = repo.fs;
  const corrupt = options.corrupt ?? new Set<Hash>();
  const registry = repoRegistry(repo);
  const eventsDir = registryPaths(registry.dir).events;
  const rel = (file: string) => toPosix(path.relative(repo.root, file));
  const fileOf = (id: string) => rel(path.join(eventsDir, `${id}.json`));
  const problems: RegistryProblem[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(eventsDir).sort();
  } catch {
    names = [];
  }
  let read = 0;
  for (const name of names) {
    // Dot files are temp files of a write in progress (or interrupted): never events.
    if (name.startsWith(".") || !name.endsWith(".json")) continue;
    read++;
    const file = rel(path.join(eventsDir, name));
    const id = EVENT_NAME.exec(name)?.[1];
    if (id === undefined) {
      problems.push({
        kind: "damaged-event",
        file,
        reason: "not an event file name (<13-digit ms>-<8 hex>.json)",
        hint: HINTS.damaged,
      });
      continue;
    }
    let text: string | undefined;
    try {
      text = fs.readFileSync(path.join(eventsDir, name), "utf8");
    } catch {
      text = undefined;
    }
    const e = text === undefined ? undefined : parseEvent(text);
    if (e === undefined || e.id !== id) {
      problems.push({
        kind: "damaged-event",
        file,
        event: id,
        reason: e === undefined ? "not a registry event (unreadable or not JSON)" : `it holds event ${e.id}`,
        hint: HINTS.damaged,
      });
    }
  }
  const state = registry.state();
  const entriesOf = manifestReader(repo.store);
  const needs = expandReferences(stateReferences(state), entriesOf);
  // Each needed object is reported once, against the latest event naming it (the one that made it live).
  const namedBy = new Map<Hash, string>();
  for (const e of registry.events())
    for (const h of expandReferences(eventReferences(e), entriesOf).keys()) namedBy.set(h, e.id);
  const manifests = stateReferences(state).manifests;
  for (const [hash, label] of needs) {
    const event = namedBy.get(hash);
    const file = event === undefined ? rel(eventsDir) : fileOf(event);
    const base = { file, event, hash, label };
    if (!repo.store.has(hash))
      problems.push({ ...base, kind: "missing-object", reason: "not in the store", hint: HINTS.missing });
    else if (corrupt.has(hash))
      problems.push({
        ...base,
        kind: "corrupt-object",
        reason: "does not match its hash",
        hint: HINTS.corrupt,
      });
    else if (manifests.has(hash) && entriesOf(hash) === undefined)
      problems.push({
        ...base,
        kind: "corrupt-object",
        reason: "the version's manifest cannot be read",
        hint: HINTS.corrupt,
      });
  }
  for (const c of state.conflicts)
    problems.push({
      kind: "conflict",
      file: fileOf(c.event),
      event: c.event,
      reason: c.reason,
      hint: HINTS.conflict,
    });
  return { events: read, problems, ok: problems.length === 0 };
}
