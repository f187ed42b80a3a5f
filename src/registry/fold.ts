/**
 * Folding registry events into state, and checking a new event against the state before it is written.
 * Pure: the same events give the same registry on every clone, whatever order they were pulled in,
 * because events are applied in id order (time, then a random suffix).
 */
import type { LoggedModel, ModelVersion, RegisteredModel, RegistryEvent, RegistryState } from "./types.js";

/** An empty registry. */
export function emptyState(): RegistryState {
  return { models: new Map(), loggedModels: new Map(), conflicts: [] };
}

/**
 * Applies one event to the state in place; returns why it could not apply, or undefined when it did.
 * An event that does not apply changes nothing (e.g. a version number another clone took first).
 *
 * @example
 * const s = emptyState();
 * applyEvent(s, { id: "0000000000001-aa", time: 1, user: "me", op: "model.create", name: "m" }); // undefined
 */
export function applyEvent(s: RegistryState, e: RegistryEvent): string | undefined {
  switch (e.op) {
    case "model.create": {
      if (s.models.has(e.name)) return `model ${e.name} already exists`;
      s.models.set(e.name, {
        name: e.name,
        description: e.description ?? "",
        tags: { ...(e.tags ?? {}) },
        createdAt: e.time,
        updatedAt: e.time,
        user: e.user,
        aliases: {},
        versions: new Map(),
        latestVersion: 0,
      });
      return undefined;
    }
    case "model.update":
      return withModel(s, e.name, e.time, (m) => {
        m.description = e.description;
      });
    case "model.rename": {
      const m = s.models.get(e.name);
      if (m === undefined) return `no model ${e.name}`;
      if (s.models.has(e.newName)) return `model ${e.newName} already exists`;
      s.models.delete(e.name);
      m.name = e.newName;
      m.updatedAt = e.time;
      for (const v of m.versions.values()) v.name = e.newName;
      s.models.set(e.newName, m);
      return undefined;
    }
    case "model.delete":
      if (!s.models.delete(e.name)) return `no model ${e.name}`;
      return undefined;
    case "model.tag":
      return withModel(s, e.name, e.time, (m) => setOrDelete(m.tags, e.key, e.value));
    case "version.create": {
      const m = s.models.get(e.name);
      if (m === undefined) return `no model ${e.name}`;
      if (e.version <= m.latestVersion) return `version ${e.version} of ${e.name} already exists`;
      const v: ModelVersion = {
        name: e.name,
        version: e.version,
        source: e.source,
        runId: e.runId,
        modelId: e.modelId,
        commit: e.commit,
        content: e.content,
        signature: e.signature,
        flavor: e.flavor,
        description: e.description ?? "",
        tags: { ...(e.tags ?? {}) },
        createdAt: e.time,
        updatedAt: e.time,
        user: e.user,
        status: "READY",
        aliases: [],
      };
      m.versions.set(e.version, v);
      m.latestVersion = e.version;
      m.updatedAt = e.time;
      return undefined;
    }
    case "version.update":
      return withVersion(s, e.name, e.version, e.time, (v) => {
        v.description = e.description;
      });
    case "version.delete": {
      const m = s.models.get(e.name);
      const v = m?.versions.get(e.version);
      if (m === undefined || v === undefined) return `no version ${e.version} of ${e.name}`;
      m.versions.delete(e.version);
      for (const [alias, n] of Object.entries(m.aliases)) if (n === e.version) delete m.aliases[alias];
      m.updatedAt = e.time;
      return undefined;
    }
    case "version.tag":
      return withVersion(s, e.name, e.version, e.time, (v) => setOrDelete(v.tags, e.key, e.value));
    case "alias.set":
      return withVersion(s, e.name, e.version, e.time, (_v, m) => {
        const before = m.aliases[e.alias];
        if (before !== undefined) {
          const old = m.versions.get(before);
          if (old) old.aliases = old.aliases.filter((a) => a !== e.alias);
        }
        m.aliases[e.alias] = e.version;
      });
    case "alias.delete": {
      const m = s.models.get(e.name);
      if (m === undefined || m.aliases[e.alias] === undefined) return `no alias ${e.alias} on ${e.name}`;
      delete m.aliases[e.alias];
      m.updatedAt = e.time;
      return undefined;
    }
    case "logged.create": {
      if (s.loggedModels.has(e.modelId)) return `logged model ${e.modelId} already exists`;
      s.loggedModels.set(e.modelId, {
        modelId: e.modelId,
        experimentId: e.experimentId,
        name: e.name,
        sourceRunId: e.sourceRunId,
        modelType: e.modelType ?? "",
        status: "PENDING",
        statusMessage: "",
        params: { ...(e.params ?? {}) },
        tags: { ...(e.tags ?? {}) },
        files: new Map(),
        createdAt: e.time,
        updatedAt: e.time,
        user: e.user,
        deleted: false,
      });
      return undefined;
    }
    case "logged.file":
      return withLogged(s, e.modelId, e.time, (lm) => {
        lm.files.set(e.path, { path: e.path, hash: e.hash, size: e.size });
      });
    case "logged.finalize":
      return withLogged(s, e.modelId, e.time, (lm) => {
        lm.status = e.status;
        lm.statusMessage = e.message ?? "";
      });
    case "logged.tag":
      return withLogged(s, e.modelId, e.time, (lm) => setOrDelete(lm.tags, e.key, e.value));
    case "logged.params":
      return withLogged(s, e.modelId, e.time, (lm) => {
        Object.assign(lm.params, e.params);
      });
    case "logged.delete":
      return withLogged(s, e.modelId, e.time, (lm) => {
        lm.deleted = true;
      });
  }
}

/**
 * Folds events (in any order) into the registry: sorted by id, applied one by one, conflicts collected.
 *
 * @example
 * foldEvents(events).models.get("classifier")?.latestVersion;
 */
export function foldEvents(events: readonly RegistryEvent[]): RegistryState {
  const s = emptyState();
  const sorted = [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const e of sorted) {
    const reason = applyEvent(s, e);
    if (reason !== undefined) s.conflicts.push({ event: e.id, reason });
  }
  syncAliases(s);
  return s;
}

/** Fills each version's `aliases` from its model's alias map. */
export function syncAliases(s: RegistryState): void {
  for (const m of s.models.values()) {
    for (const v of m.versions.values()) v.aliases = [];
    for (const [alias, n] of Object.entries(m.aliases)) m.versions.get(n)?.aliases.push(alias);
    for (const v of m.versions.values()) v.aliases.sort();
  }
}

function setOrDelete(map: Record<string, string>, key: string, value: string | null): void {
  if (value === null) delete map[key];
  else map[key] = value;
}

function withModel(
  s: RegistryState,
  name: string,
  time: number,
  fn: (m: RegisteredModel) => void,
): string | undefined {
  const m = s.models.get(name);
  if (m === undefined) return `no model ${name}`;
  fn(m);
  m.updatedAt = time;
  return undefined;
}

function withVersion(
  s: RegistryState,
  name: string,
  version: number,
  time: number,
  fn: (v: ModelVersion, m: RegisteredModel) => void,
): string | undefined {
  const m = s.models.get(name);
  const v = m?.versions.get(version);
  if (m === undefined || v === undefined) return `no version ${version} of ${name}`;
  fn(v, m);
  v.updatedAt = time;
  m.updatedAt = time;
  return undefined;
}

function withLogged(
  s: RegistryState,
  modelId: string,
  time: number,
  fn: (lm: LoggedModel) => void,
): string | undefined {
  const lm = s.loggedModels.get(modelId);
  if (lm === undefined) return `no logged model ${modelId}`;
  fn(lm);
  lm.updatedAt = time;
  return undefined;
}
