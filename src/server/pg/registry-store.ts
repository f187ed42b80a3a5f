/**
 * The model registry of a team server in PostgreSQL (migration 3): registered models with their tags,
 * numbered versions with tags and aliases, the files of each version's content (`model_contents`, by a
 * content hash of the file list, the bytes in the objects store), MLflow 3's logged models with their
 * tags, params and files, and the models a run took in or put out (`run_models`).
 *
 * Reads give the same plain data as the repository's registry (src/registry/types.ts), so the MLflow
 * JSON, filters and orders of src/server/mlflow/ apply unchanged. Every change is one transaction; the
 * model's row is locked while a version number is taken, so servers on one database never hand out the
 * same number, and a number is never reused after a delete (`latest_version`). Each change records the
 * user of the request's token (`user_id`).
 */
import crypto from "node:crypto";
import type pg from "pg";
import { MtrackError } from "../../errors.js";
import { modelNotFound, versionNotFound } from "../../registry/models.js";
import { STAGE_ALIASES, validateAlias, validateModelName } from "../../registry/names.js";
import type { LoggedModel, LoggedModelFile, ModelVersion, RegisteredModel } from "../../registry/types.js";
import { LOGGED_MODEL_ID } from "../../registry/uri.js";
import { hashBytes } from "../../store/hash.js";
import { validateArtifactName, validateKey } from "../../tracking/names.js";
import { inTransaction } from "./db.js";

/** One file of a version's content. */
export interface ContentFile {
  name: string;
  hash: string;
  size: number;
}

/** What a new version is made from (resolved by the caller). */
export interface NewVersion {
  source: string;
  runId: string | null;
  modelId: string | null;
  files: ContentFile[];
  flavor: string;
  description?: string;
  tags?: Record<string, string>;
}

/** The content hash of a file list (sorted by name): what `model-versions/<hash>/artifacts` names. */
export function contentHash(files: readonly ContentFile[]): string {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return hashBytes(Buffer.from(JSON.stringify(sorted.map((f) => [f.name, f.hash, f.size]))));
}

function modelExists(name: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_MODEL_EXISTS",
    `Registered model ${JSON.stringify(name)} already exists.`,
    {
      hint: "Choose another name, or register a new version of it.",
      data: { name },
    },
  );
}

function loggedNotFound(modelId: string): MtrackError {
  return new MtrackError("ERR_MTRACK_MODEL_NOT_FOUND", `Logged model '${modelId}' not found.`, {
    hint: "List logged models with the MLflow client's search_logged_models, or check the id (m-<32 hex>).",
    data: { modelId },
  });
}

function tagNotFound(key: string, on: string): MtrackError {
  return new MtrackError("ERR_MTRACK_TAG_NOT_FOUND", `Tag ${JSON.stringify(key)} is not set on ${on}.`, {
    data: { key },
  });
}

function checkTagKey(key: string): void {
  if (typeof key !== "string" || key.length === 0 || key.length > 250) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Invalid tag key ${JSON.stringify(key)}.`, {
      hint: "A tag key is 1–250 characters.",
      data: { key },
    });
  }
}

function checkEntries(kind: "param" | "tag", entries: Record<string, string>): void {
  for (const [k, v] of Object.entries(entries)) {
    validateKey(kind, k);
    if (typeof v !== "string")
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `The ${kind} ${k} must have a string value.`, {
        data: { key: k },
      });
  }
}

type Q = pg.Pool | pg.PoolClient;

/** The registry tables of one (migrated) database. */
export class PgRegistryStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Runs `fn` in a transaction, retried when its connection was lost before COMMIT (see inTransaction). */
  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }

  // ---- reads --------------------------------------------------------------------------------------

  /**
   * Registered models (all, or those named, or whose names match every pattern — a superset
   * prefilter for MLflow's `name LIKE`, compared case-insensitively and without escapes), sorted by name,
   * each with its live versions.
   */
  async listModels(names?: string[], nameLike: string[] = []): Promise<RegisteredModel[]> {
    const models = await this.pool.query(
      `SELECT * FROM registered_models
       WHERE ($1::text[] IS NULL OR name = ANY($1))
         AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) p WHERE NOT (name ILIKE p ESCAPE ''))
       ORDER BY name`,
      [names ?? null, nameLike],
    );
    const only = models.rows.map((r) => r.name as string);
    if (only.length === 0) return [];
    const [tags, versions, vtags, aliases] = await Promise.all([
      this.pool.query("SELECT name, key, value FROM registered_model_tags WHERE name = ANY($1)", [only]),
      this.pool.query("SELECT * FROM model_versions WHERE name = ANY($1) ORDER BY name, version", [only]),
      this.pool.query("SELECT name, version, key, value FROM model_version_tags WHERE name = ANY($1)", [
        only,
      ]),
      this.pool.query(
        "SELECT name, alias, version FROM model_version_aliases WHERE name = ANY($1) ORDER BY alias",
        [only],
      ),
    ]);
    const out = new Map<string, RegisteredModel>();
    for (const r of models.rows) {
      out.set(r.name, {
        name: r.name,
        description: r.description,
        tags: {},
        createdAt: Number(r.creation_time),
        updatedAt: Number(r.last_updated_time),
        user: r.user_id,
        aliases: {},
        versions: new Map(),
        latestVersion: Number(r.latest_version),
      });
    }
    for (const t of tags.rows) {
      const m = out.get(t.name);
      if (m) m.tags[t.key] = t.value;
    }
    for (const v of versions.rows) {
      const m = out.get(v.name);
      if (!m) continue;
      m.versions.set(Number(v.version), {
        name: v.name,
        version: Number(v.version),
        source: v.source,
        runId: v.run_id,
        modelId: v.model_id,
        commit: null,
        content: { hash: v.content_hash, size: Number(v.content_size), files: Number(v.content_files) },
        signature: null,
        flavor: v.flavor,
        description: v.description,
        tags: {},
        createdAt: Number(v.creation_time),
        updatedAt: Number(v.last_updated_time),
        user: v.user_id,
        status: "READY",
        aliases: [],
      });
    }
    for (const t of vtags.rows) {
      const v = out.get(t.name)?.versions.get(Number(t.version));
      if (v) v.tags[t.key] = t.value;
    }
    for (const a of aliases.rows) {
      const m = out.get(a.name);
      if (!m) continue;
      m.aliases[a.alias] = Number(a.version);
      m.versions.get(Number(a.version))?.aliases.push(a.alias);
    }
    for (const m of out.values()) for (const v of m.versions.values()) v.aliases.sort();
    return [...out.values()];
  }

  /** A registered model, or ERR_MTRACK_MODEL_NOT_FOUND. */
  async getModel(name: string): Promise<RegisteredModel> {
    const [m] = await this.listModels([name]);
    if (m === undefined) throw modelNotFound(name);
    return m;
  }

  /** A live version, or ERR_MTRACK_MODEL_NOT_FOUND. */
  async getVersion(name: string, version: number): Promise<ModelVersion> {
    const v = (await this.getModel(name)).versions.get(version);
    if (v === undefined) throw versionNotFound(name, version);
    return v;
  }

  /** The files of a content (empty when unknown). */
  async contentFiles(hash: string): Promise<ContentFile[]> {
    const r = await this.pool.query(
      "SELECT path, hash, size FROM model_contents WHERE content_hash = $1 ORDER BY path",
      [hash],
    );
    return r.rows.map((f) => ({ name: f.path, hash: f.hash, size: Number(f.size) }));
  }

  /** True when a live version has this content (the proxy serves registered contents only). */
  async hasVersionWithContent(hash: string): Promise<boolean> {
    const r = await this.pool.query("SELECT 1 FROM model_versions WHERE content_hash = $1 LIMIT 1", [hash]);
    return (r.rowCount ?? 0) > 0;
  }

  /** The registered versions made from logged models: model id → [{name, version}]. */
  async registrations(modelIds?: string[]): Promise<Map<string, { name: string; version: string }[]>> {
    const r = await this.pool.query(
      `SELECT model_id, name, version FROM model_versions
       WHERE model_id IS NOT NULL AND ($1::text[] IS NULL OR model_id = ANY($1)) ORDER BY name, version`,
      [modelIds ?? null],
    );
    const out = new Map<string, { name: string; version: string }[]>();
    for (const row of r.rows) {
      const list = out.get(row.model_id) ?? [];
      list.push({ name: row.name, version: String(row.version) });
      out.set(row.model_id, list);
    }
    return out;
  }

  // ---- registered models ----------------------------------------------------------------------

  async createModel(
    name: string,
    user: string,
    options: { description?: string; tags?: Record<string, string> } = {},
  ): Promise<RegisteredModel> {
    validateModelName(name);
    const tags = options.tags ?? {};
    for (const k of Object.keys(tags)) checkTagKey(k);
    const now = this.clock();
    await this.tx(async (c) => {
      const r = await c.query(
        `INSERT INTO registered_models (name, description, creation_time, last_updated_time, user_id)
         VALUES ($1, $2, $3, $3, $4) ON CONFLICT (name) DO NOTHING`,
        [name, options.description ?? "", now, user],
      );
      if (r.rowCount === 0) throw modelExists(name);
      for (const [k, v] of Object.entries(tags))
        await c.query("INSERT INTO registered_model_tags VALUES ($1, $2, $3)", [name, k, v]);
    });
    return this.getModel(name);
  }

  /** Locks a model's row in the transaction; ERR_MTRACK_MODEL_NOT_FOUND when there is none. */
  private async lockModel(c: Q, name: string): Promise<{ latest: number }> {
    const r = await c.query("SELECT latest_version FROM registered_models WHERE name = $1 FOR UPDATE", [
      name,
    ]);
    if (r.rowCount === 0) throw modelNotFound(name);
    return { latest: Number(r.rows[0].latest_version) };
  }

  private async lockVersion(c: Q, name: string, version: number): Promise<void> {
    await this.lockModel(c, name);
    const r = await c.query("SELECT 1 FROM model_versions WHERE name = $1 AND version = $2", [name, version]);
    if (r.rowCount === 0) throw versionNotFound(name, version);
  }

  private async touchModel(c: Q, name: string, now: number): Promise<void> {
    await c.query("UPDATE registered_models SET last_updated_time = $2 WHERE name = $1", [name, now]);
  }

  private async touchVersion(c: Q, name: string, version: number, now: number): Promise<void> {
    await c.query("UPDATE model_versions SET last_updated_time = $3 WHERE name = $1 AND version = $2", [
      name,
      version,
      now,
    ]);
    await this.touchModel(c, name, now);
  }

  async updateModel(name: string, description: string): Promise<RegisteredModel> {
    await this.tx(async (c) => {
      await this.lockModel(c, name);
      await c.query("UPDATE registered_models SET description = $2, last_updated_time = $3 WHERE name = $1", [
        name,
        description,
        this.clock(),
      ]);
    });
    return this.getModel(name);
  }

  /** Renames a model; its tags, versions and aliases follow (ON UPDATE CASCADE). */
  async renameModel(name: string, newName: string): Promise<RegisteredModel> {
    validateModelName(newName);
    await this.tx(async (c) => {
      await this.lockModel(c, name);
      const taken = await c.query("SELECT 1 FROM registered_models WHERE name = $1", [newName]);
      if ((taken.rowCount ?? 0) > 0) throw modelExists(newName);
      await c.query("UPDATE registered_models SET name = $2, last_updated_time = $3 WHERE name = $1", [
        name,
        newName,
        this.clock(),
      ]);
    });
    return this.getModel(newName);
  }

  /** Deletes a model with its versions, aliases and tags. */
  async deleteModel(name: string): Promise<void> {
    const r = await this.pool.query("DELETE FROM registered_models WHERE name = $1", [name]);
    if (r.rowCount === 0) throw modelNotFound(name);
  }

  /** Sets (value) or deletes (null) a model tag. */
  async setModelTag(name: string, key: string, value: string | null): Promise<void> {
    checkTagKey(key);
    await this.tx(async (c) => {
      await this.lockModel(c, name);
      if (value === null) {
        const r = await c.query("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2", [
          name,
          key,
        ]);
        if (r.rowCount === 0) throw tagNotFound(key, name);
      } else {
        await c.query(
          `INSERT INTO registered_model_tags VALUES ($1, $2, $3)
           ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value`,
          [name, key, value],
        );
      }
      await this.touchModel(c, name, this.clock());
    });
  }

  // ---- versions ---------------------------------------------------------------------------------

  /**
   * Creates the next version of `name` (the model must exist) from resolved files, whose objects are
   * already in the objects store; returns it.
   */
  async createVersion(name: string, user: string, v: NewVersion): Promise<ModelVersion> {
    const tags = v.tags ?? {};
    for (const k of Object.keys(tags)) checkTagKey(k);
    const hash = contentHash(v.files);
    const size = v.files.reduce((n, f) => n + f.size, 0);
    const now = this.clock();
    const version = await this.tx(async (c) => {
      const { latest } = await this.lockModel(c, name);
      const n = latest + 1;
      for (const f of v.files) {
        await c.query("INSERT INTO model_contents VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", [
          hash,
          f.name,
          f.hash,
          f.size,
        ]);
      }
      await c.query(
        `INSERT INTO model_versions (name, version, source, run_id, model_id, content_hash, content_size,
           content_files, flavor, description, creation_time, last_updated_time, user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)`,
        [
          name,
          n,
          v.source,
          v.runId,
          v.modelId,
          hash,
          size,
          v.files.length,
          v.flavor,
          v.description ?? "",
          now,
          user,
        ],
      );
      for (const [k, val] of Object.entries(tags))
        await c.query("INSERT INTO model_version_tags VALUES ($1, $2, $3, $4)", [name, n, k, val]);
      await c.query(
        "UPDATE registered_models SET latest_version = $2, last_updated_time = $3 WHERE name = $1",
        [name, n, now],
      );
      return n;
    });
    return this.getVersion(name, version);
  }

  async updateVersion(name: string, version: number, description: string): Promise<ModelVersion> {
    await this.tx(async (c) => {
      await this.lockVersion(c, name, version);
      await c.query("UPDATE model_versions SET description = $3 WHERE name = $1 AND version = $2", [
        name,
        version,
        description,
      ]);
      await this.touchVersion(c, name, version, this.clock());
    });
    return this.getVersion(name, version);
  }

  /** Deletes a version (its number is never reused; aliases on it go too). */
  async deleteVersion(name: string, version: number): Promise<void> {
    await this.tx(async (c) => {
      await this.lockVersion(c, name, version);
      await c.query("DELETE FROM model_versions WHERE name = $1 AND version = $2", [name, version]);
      await this.touchModel(c, name, this.clock());
    });
  }

  async setVersionTag(name: string, version: number, key: string, value: string | null): Promise<void> {
    checkTagKey(key);
    await this.tx(async (c) => {
      await this.lockVersion(c, name, version);
      if (value === null) {
        const r = await c.query(
          "DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
          [name, version, key],
        );
        if (r.rowCount === 0) throw tagNotFound(key, `${name} version ${version}`);
      } else {
        await c.query(
          `INSERT INTO model_version_tags VALUES ($1, $2, $3, $4)
           ON CONFLICT (name, version, key) DO UPDATE SET value = EXCLUDED.value`,
          [name, version, key, value],
        );
      }
      await this.touchVersion(c, name, version, this.clock());
    });
  }

  /** Points `alias` at `version` (moving it from the version it was on). */
  async setAlias(name: string, alias: string, version: number): Promise<void> {
    validateAlias(alias);
    await this.tx(async (c) => {
      await this.lockVersion(c, name, version);
      await c.query(
        `INSERT INTO model_version_aliases VALUES ($1, $2, $3)
         ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version`,
        [name, alias, version],
      );
      await this.touchVersion(c, name, version, this.clock());
    });
  }

  /** Removes an alias; ERR_MTRACK_MODEL_NOT_FOUND when it is not set. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.tx(async (c) => {
      await this.lockModel(c, name);
      const r = await c.query("DELETE FROM model_version_aliases WHERE name = $1 AND alias = $2", [
        name,
        alias,
      ]);
      if (r.rowCount === 0) {
        throw new MtrackError(
          "ERR_MTRACK_MODEL_NOT_FOUND",
          `Alias ${JSON.stringify(alias)} of model ${JSON.stringify(name)} does not exist.`,
          { data: { name, alias } },
        );
      }
      await this.touchModel(c, name, this.clock());
    });
  }

  /**
   * MLflow's legacy stages as aliases, in one transaction: Staging / Production move the `staging` /
   * `production` alias to the version (taking the other stage's alias off it); None and Archived take
   * both off it.
   */
  async transitionStage(
    name: string,
    version: number,
    stage: "None" | "Staging" | "Production" | "Archived",
  ): Promise<ModelVersion> {
    await this.tx(async (c) => {
      await this.lockVersion(c, name, version);
      const all = Object.values(STAGE_ALIASES);
      await c.query(
        "DELETE FROM model_version_aliases WHERE name = $1 AND version = $2 AND alias = ANY($3)",
        [name, version, all],
      );
      if (stage === "Staging" || stage === "Production") {
        await c.query(
          `INSERT INTO model_version_aliases VALUES ($1, $2, $3)
           ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version`,
          [name, STAGE_ALIASES[stage], version],
        );
      }
      await this.touchVersion(c, name, version, this.clock());
    });
    return this.getVersion(name, version);
  }

  // ---- logged models ----------------------------------------------------------------------------

  /** Logged models (all, or those listed), deleted ones included. */
  async loggedModels(
    where: { ids?: string[]; experimentIds?: string[]; runId?: string; name?: string } = {},
  ): Promise<LoggedModel[]> {
    const r = await this.pool.query(
      `SELECT * FROM logged_models
       WHERE ($1::text[] IS NULL OR model_id = ANY($1)) AND ($2::text[] IS NULL OR experiment_id = ANY($2))
         AND ($3::text IS NULL OR source_run_id = $3) AND ($4::text IS NULL OR name = $4)`,
      [
        where.ids ?? null,
        where.experimentIds && where.experimentIds.length > 0 ? where.experimentIds : null,
        where.runId ?? null,
        where.name ?? null,
      ],
    );
    const ids = r.rows.map((m) => m.model_id as string);
    const out = new Map<string, LoggedModel>();
    for (const m of r.rows) {
      out.set(m.model_id, {
        modelId: m.model_id,
        experimentId: m.experiment_id,
        name: m.name,
        sourceRunId: m.source_run_id,
        modelType: m.model_type,
        status: m.status,
        statusMessage: m.status_message,
        params: {},
        tags: {},
        files: new Map(),
        createdAt: Number(m.creation_time),
        updatedAt: Number(m.last_updated_time),
        user: m.user_id,
        deleted: m.deleted,
      });
    }
    if (ids.length === 0) return [];
    const [tags, params, files] = await Promise.all([
      this.pool.query("SELECT model_id, key, value FROM logged_model_tags WHERE model_id = ANY($1)", [ids]),
      this.pool.query("SELECT model_id, key, value FROM logged_model_params WHERE model_id = ANY($1)", [ids]),
      this.pool.query(
        "SELECT model_id, path, hash, size FROM logged_model_files WHERE model_id = ANY($1) ORDER BY path",
        [ids],
      ),
    ]);
    for (const t of tags.rows) {
      const m = out.get(t.model_id);
      if (m) m.tags[t.key] = t.value;
    }
    for (const p of params.rows) {
      const m = out.get(p.model_id);
      if (m) m.params[p.key] = p.value;
    }
    for (const f of files.rows) {
      out.get(f.model_id)?.files.set(f.path, { path: f.path, hash: f.hash, size: Number(f.size) });
    }
    return [...out.values()];
  }

  /** One logged model; ERR_MTRACK_MODEL_NOT_FOUND when unknown (or deleted, unless `allowDeleted`). */
  async getLogged(modelId: string, allowDeleted = false): Promise<LoggedModel> {
    const [m] = await this.loggedModels({ ids: [modelId] });
    if (m === undefined || (m.deleted && !allowDeleted)) throw loggedNotFound(modelId);
    return m;
  }

  private async liveLogged(c: Q, modelId: string): Promise<void> {
    const r = await c.query("SELECT deleted FROM logged_models WHERE model_id = $1 FOR UPDATE", [modelId]);
    if (r.rowCount === 0 || r.rows[0].deleted) throw loggedNotFound(modelId);
  }

  private async touchLogged(c: Q, modelId: string): Promise<void> {
    await c.query("UPDATE logged_models SET last_updated_time = $2 WHERE model_id = $1", [
      modelId,
      this.clock(),
    ]);
  }

  async createLogged(
    user: string,
    input: {
      experimentId: string;
      name?: string;
      sourceRunId?: string | null;
      modelType?: string;
      params?: Record<string, string>;
      tags?: Record<string, string>;
    },
  ): Promise<LoggedModel> {
    const params = input.params ?? {};
    const tags = input.tags ?? {};
    checkEntries("param", params);
    checkEntries("tag", tags);
    const modelId = `m-${crypto.randomBytes(16).toString("hex")}`;
    if (!LOGGED_MODEL_ID.test(modelId)) throw new Error(`bad logged model id ${modelId}`);
    const name = input.name ?? `model-${modelId.slice(2, 10)}`;
    validateArtifactName(name);
    const now = this.clock();
    await this.tx(async (c) => {
      await c.query(
        `INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, model_type, status,
           creation_time, last_updated_time, user_id) VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $6, $7)`,
        [modelId, input.experimentId, name, input.sourceRunId ?? null, input.modelType ?? "", now, user],
      );
      for (const [k, v] of Object.entries(params))
        await c.query("INSERT INTO logged_model_params VALUES ($1, $2, $3)", [modelId, k, v]);
      for (const [k, v] of Object.entries(tags))
        await c.query("INSERT INTO logged_model_tags VALUES ($1, $2, $3)", [modelId, k, v]);
    });
    return this.getLogged(modelId);
  }

  async finalizeLogged(modelId: string, status: "READY" | "FAILED"): Promise<LoggedModel> {
    await this.tx(async (c) => {
      await this.liveLogged(c, modelId);
      await c.query("UPDATE logged_models SET status = $2 WHERE model_id = $1", [modelId, status]);
      await this.touchLogged(c, modelId);
    });
    return this.getLogged(modelId);
  }

  async deleteLogged(modelId: string): Promise<void> {
    await this.tx(async (c) => {
      await this.liveLogged(c, modelId);
      await c.query("UPDATE logged_models SET deleted = true WHERE model_id = $1", [modelId]);
      await this.touchLogged(c, modelId);
    });
  }

  async setLoggedTags(modelId: string, tags: Record<string, string>): Promise<void> {
    checkEntries("tag", tags);
    await this.tx(async (c) => {
      await this.liveLogged(c, modelId);
      for (const [k, v] of Object.entries(tags)) {
        await c.query(
          `INSERT INTO logged_model_tags VALUES ($1, $2, $3)
           ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value`,
          [modelId, k, v],
        );
      }
      await this.touchLogged(c, modelId);
    });
  }

  async deleteLoggedTag(modelId: string, key: string): Promise<void> {
    await this.tx(async (c) => {
      await this.liveLogged(c, modelId);
      const r = await c.query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2", [
        modelId,
        key,
      ]);
      if (r.rowCount === 0) {
        throw new MtrackError("ERR_MTRACK_TAG_NOT_FOUND", `Logged model '${modelId}' has no tag '${key}'.`, {
          data: { modelId, key },
        });
      }
      await this.touchLogged(c, modelId);
    });
  }

  async logLoggedParams(modelId: string, params: Record<string, string>): Promise<void> {
    checkEntries("param", params);
    await this.tx(async (c) => {
      await this.liveLogged(c, modelId);
      for (const [k, v] of Object.entries(params)) {
        await c.query(
          `INSERT INTO logged_model_params VALUES ($1, $2, $3)
           ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value`,
          [modelId, k, v],
        );
      }
      if (Object.keys(params).length > 0) await this.touchLogged(c, modelId);
    });
  }

  /** Records a file of a logged model whose object is already in the objects store. */
  async addLoggedFile(modelId: string, file: LoggedModelFile): Promise<void> {
    validateArtifactName(file.path);
    await this.tx(async (c) => {
      await this.liveLogged(c, modelId);
      await c.query(
        `INSERT INTO logged_model_files VALUES ($1, $2, $3, $4)
         ON CONFLICT (model_id, path) DO UPDATE SET hash = EXCLUDED.hash, size = EXCLUDED.size`,
        [modelId, file.path, file.hash, file.size],
      );
      await this.touchLogged(c, modelId);
    });
  }

  // ---- run inputs and outputs -------------------------------------------------------------------

  /** Links a run to models it took in or put out (logged again: the step is updated). */
  async linkRunModels(
    runId: string,
    role: "input" | "output",
    models: { modelId: string; step?: number }[],
  ): Promise<void> {
    await this.tx(async (c) => {
      for (const m of models) {
        await c.query(
          `INSERT INTO run_models VALUES ($1, $2, $3, $4)
           ON CONFLICT (run_id, role, model_id) DO UPDATE SET step = EXCLUDED.step`,
          [runId, m.modelId, role, m.step ?? null],
        );
      }
    });
  }

  /** The models of these runs: run id → inputs and outputs. */
  async runModels(
    runIds: string[],
  ): Promise<Map<string, { inputs: { modelId: string }[]; outputs: { modelId: string; step: number }[] }>> {
    const out = new Map<
      string,
      { inputs: { modelId: string }[]; outputs: { modelId: string; step: number }[] }
    >();
    if (runIds.length === 0) return out;
    const r = await this.pool.query(
      "SELECT run_id, model_id, role, step FROM run_models WHERE run_id = ANY($1) ORDER BY model_id",
      [runIds],
    );
    for (const row of r.rows) {
      const e = out.get(row.run_id) ?? { inputs: [], outputs: [] };
      if (row.role === "input") e.inputs.push({ modelId: row.model_id });
      else e.outputs.push({ modelId: row.model_id, step: Number(row.step ?? 0) });
      out.set(row.run_id, e);
    }
    return out;
  }
}
