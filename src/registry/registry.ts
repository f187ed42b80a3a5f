/**
 * The registry on disk: one immutable JSON file per event under `.mtrack/registry/events/`, written by
 * temp + rename, so a crash leaves either the whole event or none. Writers take `.mtrack/registry/lock`,
 * refresh, check the change against the current state and only then write its event, so two processes
 * never both take version 3. Readers fold the events (cached: only new files are read).
 *
 *   registry/events/<13-digit ms>-<8 hex>.json   one RegistryEvent
 *   registry/lock                                 the writers' lock
 */
import crypto from "node:crypto";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { ioError, MtrackError } from "../errors.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";
import { acquireLock } from "../util/lock.js";
import { applyEvent, emptyState, foldEvents, syncAliases } from "./fold.js";
import type { RegistryEvent, RegistryState } from "./types.js";

/** An event as a caller describes it: the id, time and user are filled in when it is written. */
export type EventBody = RegistryEvent extends infer E
  ? E extends RegistryEvent
    ? Omit<E, "id" | "time" | "user">
    : never
  : never;

/** Event file names: `<13-digit ms>-<8 hex>.json`. */
const EVENT_FILE = /^(\d{13}-[0-9a-f]{8})\.json$/;

/** True for a well-formed event id. */
export function isEventId(id: unknown): id is string {
  return typeof id === "string" && /^\d{13}-[0-9a-f]{8}$/.test(id);
}

/**
 * Parses an event file's content; undefined when it is not a registry event (a foreign or damaged
 * file is skipped, as a torn frame is in the run logs).
 *
 * @example
 * parseEvent('{"id":"0000000000001-0000abcd","time":1,"user":"me","op":"model.delete","name":"m"}');
 */
export function parseEvent(text: string): RegistryEvent | undefined {
  try {
    const e = JSON.parse(text) as RegistryEvent;
    if (typeof e !== "object" || e === null || !isEventId(e.id) || typeof e.op !== "string") return undefined;
    if (typeof e.time !== "number" || typeof e.user !== "string") return undefined;
    return e;
  } catch {
    return undefined;
  }
}

/** Options of a {@link Registry}. */
export interface RegistryOptions {
  /** The registry directory (normally `.mtrack/registry`). */
  dir: string;
  clock?: () => number;
  /** Who makes the changes (recorded in every event). */
  user?: string;
  fs?: FsLike;
  /** How long a writer waits for another process (ms). */
  lockTimeoutMs?: number;
}

/** Paths of a registry dir. */
export function registryPaths(dir: string): { dir: string; events: string; lock: string } {
  return { dir, events: path.join(dir, "events"), lock: path.join(dir, "lock") };
}

/**
 * The registry's event log with a cached fold.
 *
 * @example
 * const reg = new Registry({ dir: ".mtrack/registry", user: "me" });
 * await reg.write({ op: "model.create", name: "clf" }, (s) => { if (s.models.has("clf")) throw ... });
 * reg.state().models.get("clf");
 */
export class Registry {
  readonly dir: string;
  readonly user: string;
  private readonly fs: FsLike;
  private readonly clock: () => number;
  private readonly lockTimeoutMs: number;
  private cache:
    | { state: RegistryState; seen: Set<string>; last: string; events: RegistryEvent[] }
    | undefined;
  /** In-process writers queue here, so they do not poll the lock file against each other. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: RegistryOptions) {
    this.dir = options.dir;
    this.fs = options.fs ?? nodeFs;
    this.clock = options.clock ?? Date.now;
    this.user = options.user ?? "";
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  }

  /** Every event, in id order. */
  events(): RegistryEvent[] {
    this.refresh();
    return this.cache?.events ?? [];
  }

  /** The current registry (re-reads only event files it has not seen). */
  state(): RegistryState {
    this.refresh();
    return this.cache?.state ?? emptyState();
  }

  /** Ids of the events on disk (names of the event files), sorted. */
  eventIds(): string[] {
    let names: string[];
    try {
      names = this.fs.readdirSync(registryPaths(this.dir).events);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw ioError(err, `listing ${registryPaths(this.dir).events}`);
    }
    const ids: string[] = [];
    for (const n of names) {
      const m = EVENT_FILE.exec(n);
      if (m) ids.push(m[1] as string);
    }
    return ids.sort();
  }

  /** The stored JSON of one event, or undefined. */
  readEventText(id: string): string | undefined {
    try {
      return this.fs.readFileSync(path.join(registryPaths(this.dir).events, `${id}.json`), "utf8");
    } catch {
      return undefined;
    }
  }

  private refresh(): void {
    const ids = this.eventIds();
    const c = this.cache;
    const fresh = c === undefined ? ids : ids.filter((id) => !c.seen.has(id));
    if (c !== undefined && fresh.length === 0) return;
    const read: RegistryEvent[] = [];
    for (const id of fresh) {
      const text = this.readEventText(id);
      const e = text === undefined ? undefined : parseEvent(text);
      if (e !== undefined && e.id === id) read.push(e);
    }
    read.sort((a, b) => (a.id < b.id ? -1 : 1));
    const seen = new Set(c?.seen ?? []);
    for (const id of fresh) seen.add(id);
    const first = read[0];
    if (c !== undefined && (first === undefined || first.id > c.last)) {
      // Only newer events: apply them on top of the cached state.
      for (const e of read) {
        const reason = applyEvent(c.state, e);
        if (reason !== undefined) c.state.conflicts.push({ event: e.id, reason });
      }
      syncAliases(c.state);
      c.events.push(...read);
      c.seen = seen;
      c.last = read.at(-1)?.id ?? c.last;
      return;
    }
    // Pulled events older than ones already applied: fold everything again, in id order.
    const events = [...(c?.events ?? []), ...read].sort((a, b) => (a.id < b.id ? -1 : 1));
    this.cache = { state: foldEvents(events), seen, last: events.at(-1)?.id ?? "", events };
  }

  /**
   * Writes one event after `check` accepted it against the current state (both under the registry
   * lock). `check` throws to refuse; it may return a changed body (e.g. the next version number).
   */
  async write(
    body: EventBody,
    check: (state: RegistryState) => EventBody | undefined = () => undefined,
  ): Promise<RegistryEvent> {
    const run = async (): Promise<RegistryEvent> => {
      const p = registryPaths(this.dir);
      try {
        this.fs.mkdirSync(p.events, { recursive: true });
      } catch (err) {
        throw ioError(err, `creating ${p.events}`);
      }
      const release = await acquireLock(p.lock, {
        fs: this.fs,
        purpose: "model registry",
        timeoutMs: this.lockTimeoutMs,
      });
      try {
        const state = this.state();
        const final = check(state) ?? body;
        // Strictly after every event already here, so the fold of this clone applies it last.
        let time = this.clock();
        const last = this.cache?.last;
        if (last !== undefined && last !== "" && Number(last.slice(0, 13)) >= time)
          time = Number(last.slice(0, 13)) + 1;
        const id = `${String(time).padStart(13, "0")}-${crypto.randomBytes(4).toString("hex")}`;
        const event = { ...final, id, time, user: this.user } as RegistryEvent;
        const probe = structuredCloneState(state);
        const reason = applyEvent(probe, event);
        if (reason !== undefined) {
          throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Registry change refused: ${reason}.`, {
            data: { event },
          });
        }
        writeFileAtomic(path.join(p.events, `${id}.json`), `${JSON.stringify(event)}\n`, { fs: this.fs });
        this.refresh();
        return event;
      } finally {
        release();
      }
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * Adds an event that was written elsewhere (pulled from a remote) if it is not here yet. Returns true
   * when it was added.
   */
  importEvent(text: string): boolean {
    const e = parseEvent(text);
    if (e === undefined) return false;
    const p = registryPaths(this.dir);
    const file = path.join(p.events, `${e.id}.json`);
    if (this.fs.existsSync(file)) return false;
    this.fs.mkdirSync(p.events, { recursive: true });
    writeFileAtomic(file, `${JSON.stringify(e)}\n`, { fs: this.fs });
    return true;
  }
}

/** A deep copy of the state for trying an event without changing the cache. */
function structuredCloneState(s: RegistryState): RegistryState {
  return structuredClone(s);
}
