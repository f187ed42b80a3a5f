/**
 * The git-native model registry (`mtrack push/pull --models`, refs `registry/<eventId>`) against a team
 * server, whose registry lives in PostgreSQL (registry-store.ts, what the MLflow registry API serves).
 * The served store's event log and the database are kept in step in both directions:
 *
 * - push: a pushed event is applied to the registry tables before its ref is written (the store API's
 *   `beforeRefWrite`), in one transaction, with the rules of the clones' fold (src/registry/fold.ts): an
 *   event that does not apply to the database (a version number the database gave out first, a model
 *   deleted there) changes nothing and is stored all the same, as a clone keeps a conflicting event. A
 *   version's files are read from its pushed manifest and copied into the objects store when that is
 *   another place (s3://). Applying an event twice changes nothing more (a retried push); a failure
 *   refuses the ref, so a rerun sends it again.
 * - pull: before the store answers a listing of `registry` refs, the log is brought up to the database
 *   (`syncRegistryLog`): the log is folded, compared with the database's registry, and the events that
 *   take the one to the other are appended to the log (model and version creations at their database
 *   times, then tag, description and alias changes and deletions after the log's last event), with ids
 *   derived from their content, so two listings of the same state write the same events. A synthesised
 *   version's manifest is written into the served store and its files copied there from the objects
 *   store, so a clone fetches them like pushed ones. Versions and aliases registered through the MLflow
 *   API so reach `mtrack pull --models` as events.
 *
 * Logged models (MLflow 3) are applied on push; they are not synthesised back into the log.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { MtrackError } from "../../errors.js";
import { putManifest } from "../../registry/content.js";
import { applyEvent, foldEvents } from "../../registry/fold.js";
import { isEventId, parseEvent } from "../../registry/registry.js";
import type { RegisteredModel, RegistryEvent, RegistryState } from "../../registry/types.js";
import type { LocalRemote } from "../../remotes/local.js";
import type { Remote } from "../../remotes/types.js";
import { hashBytes } from "../../store/hash.js";
import type { Hash } from "../../store/types.js";
import { newPackr } from "../../tracking/frames.js";
import type { DirEntry } from "../../tracking/types.js";
import type { PushedObjects } from "./ingest.js";
import { contentHash, PgRegistryStore } from "./registry-store.js";

const KIND = "registry";

/** What applying a pushed event did: `reason` says why it changed nothing. */
export interface AppliedEvent {
  applied: boolean;
  reason?: string;
}

function notPushed(what: string): MtrackError {
  return new MtrackError("ERR_MTRACK_OBJECT_MISSING", `Cannot record the pushed registry event: ${what}.`, {
    hint: "Push again: `mtrack push --models` sends a version's objects before its event.",
  });
}

/** Copies objects the objects store lacks into it (each as its own object, as uploaded artifacts are). */
async function copyToObjects(
  pushed: PushedObjects,
  objects: Remote,
  files: ReadonlyArray<{ hash: Hash; size: number }>,
): Promise<void> {
  const specs = [...new Map(files.map((f) => [f.hash, { hash: f.hash, size: f.size }])).values()];
  if (specs.length === 0) return;
  const present = await objects.has(specs);
  for (const s of specs) {
    if (present.has(s.hash)) continue;
    const file = pushed.filePath?.(s.hash);
    if (file) {
      await objects.putFile(s, file);
      continue;
    }
    const data = pushed.read(s.hash);
    if (!data) throw notPushed(`the object ${s.hash} was not pushed`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-registry-"));
    try {
      const tmp = path.join(dir, "object");
      fs.writeFileSync(tmp, data);
      await objects.putFile(s, tmp);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * Applies one pushed registry event to the database (see the module comment). `sameStore`: the pushed
 * store is the objects store itself (a directory), nothing to copy. `user`: the pusher's token user,
 * recorded for what the event creates (the event's own user when empty).
 *
 * @example
 * await applyRegistryEvent(pool, pushedObjects(remote), objects, true, event, "ana");
 */
export async function applyRegistryEvent(
  pool: pg.Pool,
  pushed: PushedObjects,
  objects: Remote,
  sameStore: boolean,
  e: RegistryEvent,
  user: string,
): Promise<AppliedEvent> {
  const who = user || e.user;
  // Objects first (outside the transaction): a version's files, a logged model's file.
  if (e.op === "version.create") {
    const bytes = pushed.read(e.content.hash);
    if (!bytes)
      throw notPushed(`the manifest ${e.content.hash} of ${e.name} version ${e.version} was not pushed`);
    const entries = newPackr().unpack(bytes) as DirEntry[];
    if (!sameStore) await copyToObjects(pushed, objects, entries);
    return tx(pool, async (c) => {
      const m = await c.query("SELECT latest_version FROM registered_models WHERE name = $1 FOR UPDATE", [
        e.name,
      ]);
      if (m.rows.length === 0) return skip(`no model ${e.name}`);
      if (e.version <= Number(m.rows[0].latest_version))
        return skip(`version ${e.version} of ${e.name} already exists`);
      const files = entries.map((f) => ({ name: f.name, hash: f.hash, size: f.size }));
      const hash = contentHash(files);
      for (const f of files)
        await c.query("INSERT INTO model_contents VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", [
          hash,
          f.name,
          f.hash,
          f.size,
        ]);
      await c.query(
        `INSERT INTO model_versions (name, version, source, run_id, model_id, content_hash, content_size,
           content_files, flavor, description, creation_time, last_updated_time, user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)`,
        [
          e.name,
          e.version,
          e.source,
          e.runId,
          e.modelId,
          hash,
          files.reduce((n, f) => n + f.size, 0),
          files.length,
          e.flavor,
          e.description ?? "",
          e.time,
          who,
        ],
      );
      for (const [k, v] of Object.entries(e.tags ?? {}))
        await c.query("INSERT INTO model_version_tags VALUES ($1, $2, $3, $4)", [e.name, e.version, k, v]);
      await c.query(
        "UPDATE registered_models SET latest_version = $2, last_updated_time = GREATEST(last_updated_time, $3) WHERE name = $1",
        [e.name, e.version, e.time],
      );
      return done;
    });
  }
  if (e.op === "logged.file" && !sameStore) await copyToObjects(pushed, objects, [e]);
  return tx(pool, (c) => applyInTx(c, e, who));
}

const done: AppliedEvent = { applied: true };
function skip(reason: string): AppliedEvent {
  return { applied: false, reason };
}

async function tx(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<AppliedEvent>): Promise<AppliedEvent> {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query(out.applied ? "COMMIT" : "ROLLBACK");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** Every event but version.create, in a transaction. */
async function applyInTx(c: pg.PoolClient, e: RegistryEvent, who: string): Promise<AppliedEvent> {
  const model = async (name: string): Promise<boolean> =>
    (await c.query("SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE", [name])).rows.length > 0;
  const version = async (name: string, v: number): Promise<boolean> =>
    (await model(name)) &&
    (await c.query("SELECT 1 FROM model_versions WHERE name = $1 AND version = $2", [name, v])).rows.length >
      0;
  const touchModel = (name: string) =>
    c.query(
      "UPDATE registered_models SET last_updated_time = GREATEST(last_updated_time, $2) WHERE name = $1",
      [name, e.time],
    );
  const touchVersion = async (name: string, v: number) => {
    await c.query(
      "UPDATE model_versions SET last_updated_time = GREATEST(last_updated_time, $3) WHERE name = $1 AND version = $2",
      [name, v, e.time],
    );
    await touchModel(name);
  };
  const logged = async (id: string): Promise<boolean> =>
    (await c.query("SELECT 1 FROM logged_models WHERE model_id = $1 FOR UPDATE", [id])).rows.length > 0;
  const touchLogged = (id: string) =>
    c.query(
      "UPDATE logged_models SET last_updated_time = GREATEST(last_updated_time, $2) WHERE model_id = $1",
      [id, e.time],
    );
  switch (e.op) {
    case "model.create": {
      const r = await c.query(
        `INSERT INTO registered_models (name, description, creation_time, last_updated_time, user_id)
         VALUES ($1, $2, $3, $3, $4) ON CONFLICT (name) DO NOTHING`,
        [e.name, e.description ?? "", e.time, who],
      );
      if (r.rowCount === 0) return skip(`model ${e.name} already exists`);
      for (const [k, v] of Object.entries(e.tags ?? {}))
        await c.query("INSERT INTO registered_model_tags VALUES ($1, $2, $3)", [e.name, k, v]);
      return done;
    }
    case "model.update":
      if (!(await model(e.name))) return skip(`no model ${e.name}`);
      await c.query("UPDATE registered_models SET description = $2 WHERE name = $1", [e.name, e.description]);
      await touchModel(e.name);
      return done;
    case "model.rename": {
      if (!(await model(e.name))) return skip(`no model ${e.name}`);
      const taken = await c.query("SELECT 1 FROM registered_models WHERE name = $1", [e.newName]);
      if (taken.rows.length > 0) return skip(`model ${e.newName} already exists`);
      await c.query("UPDATE registered_models SET name = $2 WHERE name = $1", [e.name, e.newName]);
      await touchModel(e.newName);
      return done;
    }
    case "model.delete": {
      const r = await c.query("DELETE FROM registered_models WHERE name = $1", [e.name]);
      return r.rowCount === 0 ? skip(`no model ${e.name}`) : done;
    }
    case "model.tag":
      if (!(await model(e.name))) return skip(`no model ${e.name}`);
      if (e.value === null)
        await c.query("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2", [e.name, e.key]);
      else
        await c.query(
          `INSERT INTO registered_model_tags VALUES ($1, $2, $3)
           ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value`,
          [e.name, e.key, e.value],
        );
      await touchModel(e.name);
      return done;
    case "version.create":
      throw new Error("version.create is applied by applyRegistryEvent");
    case "version.update":
      if (!(await version(e.name, e.version))) return skip(`no version ${e.version} of ${e.name}`);
      await c.query("UPDATE model_versions SET description = $3 WHERE name = $1 AND version = $2", [
        e.name,
        e.version,
        e.description,
      ]);
      await touchVersion(e.name, e.version);
      return done;
    case "version.delete":
      if (!(await version(e.name, e.version))) return skip(`no version ${e.version} of ${e.name}`);
      await c.query("DELETE FROM model_versions WHERE name = $1 AND version = $2", [e.name, e.version]);
      await touchModel(e.name);
      return done;
    case "version.tag":
      if (!(await version(e.name, e.version))) return skip(`no version ${e.version} of ${e.name}`);
      if (e.value === null)
        await c.query("DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3", [
          e.name,
          e.version,
          e.key,
        ]);
      else
        await c.query(
          `INSERT INTO model_version_tags VALUES ($1, $2, $3, $4)
           ON CONFLICT (name, version, key) DO UPDATE SET value = EXCLUDED.value`,
          [e.name, e.version, e.key, e.value],
        );
      await touchVersion(e.name, e.version);
      return done;
    case "alias.set":
      if (!(await version(e.name, e.version))) return skip(`no version ${e.version} of ${e.name}`);
      await c.query(
        `INSERT INTO model_version_aliases VALUES ($1, $2, $3)
         ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version`,
        [e.name, e.alias, e.version],
      );
      await touchVersion(e.name, e.version);
      return done;
    case "alias.delete": {
      if (!(await model(e.name))) return skip(`no model ${e.name}`);
      const r = await c.query("DELETE FROM model_version_aliases WHERE name = $1 AND alias = $2", [
        e.name,
        e.alias,
      ]);
      if (r.rowCount === 0) return skip(`no alias ${e.alias} on ${e.name}`);
      await touchModel(e.name);
      return done;
    }
    case "logged.create": {
      const r = await c.query(
        `INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, model_type, status,
           creation_time, last_updated_time, user_id) VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $6, $7)
         ON CONFLICT (model_id) DO NOTHING`,
        [e.modelId, e.experimentId, e.name, e.sourceRunId, e.modelType ?? "", e.time, who],
      );
      if (r.rowCount === 0) return skip(`logged model ${e.modelId} already exists`);
      for (const [k, v] of Object.entries(e.params ?? {}))
        await c.query("INSERT INTO logged_model_params VALUES ($1, $2, $3)", [e.modelId, k, v]);
      for (const [k, v] of Object.entries(e.tags ?? {}))
        await c.query("INSERT INTO logged_model_tags VALUES ($1, $2, $3)", [e.modelId, k, v]);
      return done;
    }
    case "logged.file":
      if (!(await logged(e.modelId))) return skip(`no logged model ${e.modelId}`);
      await c.query(
        `INSERT INTO logged_model_files VALUES ($1, $2, $3, $4)
         ON CONFLICT (model_id, path) DO UPDATE SET hash = EXCLUDED.hash, size = EXCLUDED.size`,
        [e.modelId, e.path, e.hash, e.size],
      );
      await touchLogged(e.modelId);
      return done;
    case "logged.finalize":
      if (!(await logged(e.modelId))) return skip(`no logged model ${e.modelId}`);
      await c.query("UPDATE logged_models SET status = $2, status_message = $3 WHERE model_id = $1", [
        e.modelId,
        e.status,
        e.message ?? "",
      ]);
      await touchLogged(e.modelId);
      return done;
    case "logged.tag":
      if (!(await logged(e.modelId))) return skip(`no logged model ${e.modelId}`);
      if (e.value === null)
        await c.query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2", [e.modelId, e.key]);
      else
        await c.query(
          `INSERT INTO logged_model_tags VALUES ($1, $2, $3)
           ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value`,
          [e.modelId, e.key, e.value],
        );
      await touchLogged(e.modelId);
      return done;
    case "logged.params":
      if (!(await logged(e.modelId))) return skip(`no logged model ${e.modelId}`);
      for (const [k, v] of Object.entries(e.params))
        await c.query(
          `INSERT INTO logged_model_params VALUES ($1, $2, $3)
           ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value`,
          [e.modelId, k, v],
        );
      await touchLogged(e.modelId);
      return done;
    case "logged.delete":
      if (!(await logged(e.modelId))) return skip(`no logged model ${e.modelId}`);
      await c.query("UPDATE logged_models SET deleted = true WHERE model_id = $1", [e.modelId]);
      await touchLogged(e.modelId);
      return done;
  }
}

/** The events of the served store's log (damaged refs skipped). */
async function storeEvents(remote: LocalRemote): Promise<RegistryEvent[]> {
  const out: RegistryEvent[] = [];
  for (const name of await remote.listRefs(KIND)) {
    const id = name.slice(KIND.length + 1);
    if (!isEventId(id)) continue;
    const body = await remote.readRef(name);
    const e = body === undefined ? undefined : parseEvent(body.toString("utf8"));
    if (e !== undefined && e.id === id) out.push(e);
  }
  return out;
}

type Body = RegistryEvent extends infer E ? (E extends RegistryEvent ? Omit<E, "id"> : never) : never;

/** An event with an id from its time and content: the same change gets the same id on every listing. */
function withId(body: Body): RegistryEvent {
  const digest = crypto.createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 8);
  return { id: `${String(body.time).padStart(13, "0")}-${digest}`, ...body } as RegistryEvent;
}

/**
 * Appends to the served store's registry log the events that bring its fold to the database's
 * registry (see the module comment); returns how many were written.
 *
 * @example
 * await syncRegistryLog(pool, remote, objects, true); // then answer GET /v1/refs/registry
 */
export async function syncRegistryLog(
  pool: pg.Pool,
  remote: LocalRemote,
  objects: Remote,
  sameStore: boolean,
): Promise<number> {
  const events = await storeEvents(remote);
  const state: RegistryState = foldEvents(events);
  const db = await new PgRegistryStore(pool).listModels();
  const fresh: RegistryEvent[] = [];
  const add = (body: Body): number => {
    const e = withId(body);
    if (applyEvent(state, e) !== undefined) return body.time;
    fresh.push(e);
    return body.time;
  };
  let last = events.reduce((t, e) => Math.max(t, e.time), 0);

  // Creations at their database times (a version after its model).
  const store = remote.store;
  for (const m of [...db].sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : 1))) {
    let floor = state.models.get(m.name)?.createdAt;
    if (floor === undefined) {
      floor = add({
        op: "model.create",
        time: m.createdAt,
        user: m.user,
        name: m.name,
        ...(m.description ? { description: m.description } : {}),
        ...(Object.keys(m.tags).length > 0 ? { tags: m.tags } : {}),
      });
    }
    const known = state.models.get(m.name);
    if (!known) continue;
    for (const v of [...m.versions.values()].sort((a, b) => a.version - b.version)) {
      if (v.version <= known.latestVersion) continue; // in the log, or its number taken there
      const files = await new PgRegistryStore(pool).contentFiles(v.content.hash);
      const entries: DirEntry[] = files.map((f) => ({ name: f.name, hash: f.hash, size: f.size }));
      await ensureInStore(remote, objects, sameStore, entries);
      const content = putManifest(store, entries);
      floor = add({
        op: "version.create",
        time: Math.max(v.createdAt, floor + 1),
        user: v.user,
        name: m.name,
        version: v.version,
        source: v.source,
        runId: v.runId,
        modelId: v.modelId,
        commit: null,
        content,
        signature: null,
        flavor: v.flavor,
        ...(v.description ? { description: v.description } : {}),
        ...(Object.keys(v.tags).length > 0 ? { tags: v.tags } : {}),
      });
      last = Math.max(last, floor);
    }
  }
  await store.flush();

  // Changes after the log's last event, one millisecond apart.
  const at = (t: number): number => {
    last = Math.max(t, last + 1);
    return last;
  };
  const byName = new Map(db.map((m) => [m.name, m]));
  for (const m of db) {
    const s = state.models.get(m.name);
    if (!s) continue;
    if (s.description !== m.description)
      add({
        op: "model.update",
        time: at(m.updatedAt),
        user: m.user,
        name: m.name,
        description: m.description,
      });
    for (const [key, value] of tagDiff(s.tags, m.tags))
      add({ op: "model.tag", time: at(m.updatedAt), user: m.user, name: m.name, key, value });
    for (const v of m.versions.values()) {
      const sv = s.versions.get(v.version);
      if (!sv) continue;
      if (sv.description !== v.description)
        add({
          op: "version.update",
          time: at(v.updatedAt),
          user: v.user,
          name: m.name,
          version: v.version,
          description: v.description,
        });
      for (const [key, value] of tagDiff(sv.tags, v.tags))
        add({
          op: "version.tag",
          time: at(v.updatedAt),
          user: v.user,
          name: m.name,
          version: v.version,
          key,
          value,
        });
    }
    for (const [alias, n] of Object.entries(m.aliases)) {
      if (s.aliases[alias] !== n && s.versions.has(n))
        add({ op: "alias.set", time: at(m.updatedAt), user: m.user, name: m.name, alias, version: n });
    }
    for (const alias of Object.keys(s.aliases)) {
      if (m.aliases[alias] === undefined)
        add({ op: "alias.delete", time: at(m.updatedAt), user: m.user, name: m.name, alias });
    }
    for (const n of [...s.versions.keys()]) {
      if (!m.versions.has(n))
        add({ op: "version.delete", time: at(m.updatedAt), user: m.user, name: m.name, version: n });
    }
  }
  for (const s of [...state.models.values()] as RegisteredModel[]) {
    if (!byName.has(s.name)) add({ op: "model.delete", time: at(0), user: s.user, name: s.name });
  }
  for (const e of fresh) await remote.writeRef(`${KIND}/${e.id}`, Buffer.from(`${JSON.stringify(e)}\n`));
  return fresh.length;
}

/** [key, value or null for a removal] turning `from` into `to`. */
function tagDiff(from: Record<string, string>, to: Record<string, string>): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = [];
  for (const [k, v] of Object.entries(to)) if (from[k] !== v) out.push([k, v]);
  for (const k of Object.keys(from)) if (to[k] === undefined) out.push([k, null]);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Copies the files the served store lacks from the objects store (s3://) into it. */
async function ensureInStore(
  remote: LocalRemote,
  objects: Remote,
  sameStore: boolean,
  entries: readonly DirEntry[],
): Promise<void> {
  const store = remote.store;
  const missing = (): DirEntry[] => entries.filter((e) => !store.has(e.hash));
  if (missing().length > 0) store.reload();
  const lacking = missing();
  if (lacking.length === 0) return;
  if (sameStore) {
    throw new MtrackError(
      "ERR_MTRACK_OBJECT_MISSING",
      `The objects store lacks ${lacking[0]?.hash}, a file of a registered version.`,
      { data: { hash: lacking[0]?.hash } },
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-registry-"));
  try {
    for (const e of lacking) {
      const body = await objects.open(e.hash);
      if (!body)
        throw new MtrackError(
          "ERR_MTRACK_OBJECT_MISSING",
          `The objects store lacks ${e.hash}, a file of a registered version.`,
          { data: { hash: e.hash } },
        );
      const tmp = path.join(dir, e.hash);
      await pipeline(body, fs.createWriteStream(tmp));
      const put = await store.putFile(tmp);
      if (put.hash !== e.hash)
        throw new MtrackError(
          "ERR_MTRACK_OBJECT_CORRUPT",
          `The objects store's copy of ${e.hash} is damaged.`,
          {
            data: { hash: e.hash },
          },
        );
      fs.rmSync(tmp, { force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await store.flush();
}

/**
 * The manifest hashes of the live versions' contents, as a registry log names them (the manifest of the
 * sorted files, as `putManifest` writes it): `gc --cloud` keeps them although only the log names them.
 */
export async function versionManifests(pool: pg.Pool): Promise<Hash[]> {
  const r = await pool.query(
    `SELECT content_hash, path, hash, size FROM model_contents
     WHERE content_hash IN (SELECT content_hash FROM model_versions) ORDER BY content_hash, path`,
  );
  const byContent = new Map<string, DirEntry[]>();
  for (const row of r.rows) {
    const list = byContent.get(row.content_hash) ?? [];
    list.push({ name: row.path, hash: row.hash, size: Number(row.size) });
    byContent.set(row.content_hash, list);
  }
  return [...byContent.values()].map((entries) =>
    hashBytes(newPackr().pack([...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))),
  );
}
