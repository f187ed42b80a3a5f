/**
 * The tracking data of a team server in PostgreSQL (schema: migrations.ts): experiments, runs, params,
 * tags, metrics (every point in `metrics`, the latest per key in `latest_metrics`) and dataset inputs.
 * Every method is one transaction on the shared database and keeps no state in the process, so any
 * number of servers on one database give the same answers.
 *
 * The shapes follow MLflow's REST messages (ids are strings, times are epoch milliseconds) so the
 * MLflow routes can sit on top of this store as they sit on the file store.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { MtrackError } from "../../errors.js";
import type { ComparisonNode, FilterNode } from "../../tracking/search.js";
import { inTransaction } from "./db.js";

export type PgRunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

export interface PgExperiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: "active" | "deleted";
  creationTime: number;
  lastUpdateTime: number;
  tags: Record<string, string>;
}

export interface PgMetric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface PgInput {
  name: string;
  digest: string;
  sourceType?: string;
  source?: string;
  schema?: string;
  profile?: string;
  tags?: Record<string, string>;
}

export interface PgRun {
  runId: string;
  experimentId: string;
  name: string;
  userId: string;
  status: PgRunStatus;
  startTime: number;
  endTime: number | null;
  lifecycleStage: "active" | "deleted";
  artifactUri: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** The latest point per metric key. */
  metrics: PgMetric[];
  inputs: PgInput[];
}

/** A filter term of `searchRuns` (an AND of them). */
export type PgRunFilter =
  | { kind: "metric"; key: string; op: "=" | "!=" | "<" | "<=" | ">" | ">="; value: number }
  | { kind: "param" | "tag"; key: string; op: "=" | "!=" | "LIKE" | "ILIKE"; value: string };

/** One order-by clause of `searchRuns`; attributes: start_time, end_time, run_name, status, run_id. */
export interface PgOrderBy {
  kind: "metric" | "param" | "tag" | "attribute";
  key: string;
  desc: boolean;
}

export interface PgSearch {
  experimentIds: string[];
  /** Simple terms, ANDed with `filter`. */
  filters?: PgRunFilter[];
  /** A parsed search expression (`parseFilter`, mtrack's superset of MLflow's grammar). */
  filter?: FilterNode;
  /** e.g. `{ kind: "metric", key: "loss", desc: false }`, or several; default: start time, newest first. */
  orderBy?: PgOrderBy | PgOrderBy[];
  /** Which lifecycle stages (default ACTIVE_ONLY). */
  view?: "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";
  maxResults?: number;
  /** Offset from a previous page. */
  offset?: number;
}

/** Run attributes a search may filter or order on, and their columns. */
const ATTRIBUTE_COLUMNS: Readonly<Record<string, string>> = {
  run_id: "run_id",
  run_name: "name",
  status: "status",
  start_time: "start_time",
  end_time: "end_time",
  lifecycle_stage: "lifecycle_stage",
  experiment_id: "experiment_id",
};

const DEFAULT_EXPERIMENT_NAME = "Default";

type Queryable = pg.Pool | pg.PoolClient;

/** The tracking store over one PostgreSQL database (already migrated). */
export class PgTrackingStore {
  constructor(
    private readonly pool: pg.Pool,
    /** Artifact root under which `<experiment>/<run>/artifacts` URIs are made (a directory or s3://). */
    private readonly artifactRoot: string,
  ) {}

  /** Runs `fn` in a transaction, retried when its connection was lost before COMMIT (see inTransaction). */
  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }

  /**
   * The Default experiment's id: "0", as MLflow's (clients that set no experiment send it), created on
   * first use; bigserial starts at 1, so 0 never collides with a created experiment.
   */
  async defaultExperimentId(now = Date.now()): Promise<string> {
    await this.pool.query(
      `INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time)
       VALUES (0, $1, $2, $3, $3) ON CONFLICT DO NOTHING`,
      [DEFAULT_EXPERIMENT_NAME, `${this.artifactRoot.replace(/\/+$/, "")}/0`, now],
    );
    const found = await this.pool.query("SELECT experiment_id FROM experiments WHERE name = $1", [
      DEFAULT_EXPERIMENT_NAME,
    ]);
    return String(found.rows[0].experiment_id);
  }

  async createExperiment(name: string, tags: Record<string, string> = {}, now = Date.now()): Promise<string> {
    return this.tx(async (c) => {
      let id: string;
      try {
        const r = await c.query(
          "INSERT INTO experiments (name, creation_time, last_update_time) VALUES ($1, $2, $2) RETURNING experiment_id",
          [name, now],
        );
        id = String(r.rows[0].experiment_id);
      } catch (e) {
        if (pgCode(e) === "23505") {
          throw new MtrackError("ERR_MTRACK_EXPERIMENT_EXISTS", `experiment "${name}" already exists`);
        }
        throw e;
      }
      await c.query("UPDATE experiments SET artifact_location = $2 WHERE experiment_id = $1", [
        id,
        `${this.artifactRoot.replace(/\/+$/, "")}/${id}`,
      ]);
      for (const [k, v] of Object.entries(tags)) {
        await c.query("INSERT INTO experiment_tags VALUES ($1, $2, $3)", [id, k, v]);
      }
      return id;
    });
  }

  async getExperiment(experimentId: string): Promise<PgExperiment> {
    const [exp] = await this.listExperiments([toBigint(experimentId)]);
    if (!exp)
      throw new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `no experiment with id ${experimentId}`);
    return exp;
  }

  /** The experiments with these ids (every experiment without `ids`), newest first, with their tags. */
  async listExperiments(ids?: string[]): Promise<PgExperiment[]> {
    const r = await this.pool.query(
      `SELECT e.*, COALESCE((SELECT jsonb_object_agg(t.key, t.value) FROM experiment_tags t
         WHERE t.experiment_id = e.experiment_id), '{}') AS tag_map
       FROM experiments e WHERE $1::bigint[] IS NULL OR e.experiment_id = ANY($1::bigint[])
       ORDER BY e.creation_time DESC, e.experiment_id`,
      [ids ?? null],
    );
    return r.rows.map((row) => ({
      experimentId: String(row.experiment_id),
      name: row.name,
      artifactLocation: row.artifact_location,
      lifecycleStage: row.lifecycle_stage,
      creationTime: Number(row.creation_time),
      lastUpdateTime: Number(row.last_update_time),
      tags: row.tag_map,
    }));
  }

  /** Renames an experiment (ERR_MTRACK_EXPERIMENT_EXISTS for a taken name). */
  async renameExperiment(experimentId: string, name: string, now = Date.now()): Promise<void> {
    try {
      const r = await this.pool.query(
        "UPDATE experiments SET name = $2, last_update_time = $3 WHERE experiment_id = $1",
        [toBigint(experimentId), name, now],
      );
      if (r.rowCount === 0) throw experimentNotFound(experimentId);
    } catch (e) {
      if (pgCode(e) === "23505")
        throw new MtrackError("ERR_MTRACK_EXPERIMENT_EXISTS", `experiment "${name}" already exists`);
      throw e;
    }
  }

  /** Deletes (soft: lifecycle_stage) or restores an experiment, and its runs with it (as MLflow does). */
  async setExperimentDeleted(experimentId: string, deleted: boolean, now = Date.now()): Promise<void> {
    await this.tx(async (c) => {
      const stage = deleted ? "deleted" : "active";
      const r = await c.query(
        "UPDATE experiments SET lifecycle_stage = $2, last_update_time = $3 WHERE experiment_id = $1",
        [toBigint(experimentId), stage, now],
      );
      if (r.rowCount === 0) throw experimentNotFound(experimentId);
      await c.query("UPDATE runs SET lifecycle_stage = $2, deleted_time = $3 WHERE experiment_id = $1", [
        experimentId,
        stage,
        deleted ? now : null,
      ]);
    });
  }

  /** Sets (`value` given) or deletes one experiment tag; deleting a missing tag is ERR_MTRACK_TAG_NOT_FOUND. */
  async setExperimentTag(experimentId: string, key: string, value: string | undefined): Promise<void> {
    const exp = await this.getExperiment(experimentId);
    if (value === undefined) {
      const r = await this.pool.query("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2", [
        exp.experimentId,
        key,
      ]);
      if (r.rowCount === 0)
        throw new MtrackError("ERR_MTRACK_TAG_NOT_FOUND", `experiment ${experimentId} has no tag "${key}"`);
      return;
    }
    await this.pool.query(
      `INSERT INTO experiment_tags VALUES ($1, $2, $3)
       ON CONFLICT (experiment_id, key) DO UPDATE SET value = EXCLUDED.value`,
      [exp.experimentId, key, value],
    );
  }

  async getExperimentByName(name: string): Promise<PgExperiment | undefined> {
    const r = await this.pool.query("SELECT experiment_id FROM experiments WHERE name = $1", [name]);
    return r.rows[0] ? this.getExperiment(String(r.rows[0].experiment_id)) : undefined;
  }

  /** Creates a RUNNING run; `ownerServer` records which server holds it open. */
  async createRun(o: {
    experimentId: string;
    name?: string;
    userId?: string;
    startTime?: number;
    tags?: Record<string, string>;
    ownerServer?: string;
  }): Promise<PgRun> {
    const runId = randomBytes(16).toString("hex");
    const exp = await this.getExperiment(o.experimentId);
    if (exp.lifecycleStage !== "active") {
      throw new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_ACTIVE", `experiment ${o.experimentId} is deleted`);
    }
    await this.tx(async (c) => {
      await c.query(
        `INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, artifact_uri, owner_server)
         VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7)`,
        [
          runId,
          toBigint(o.experimentId),
          o.name ?? "",
          o.userId ?? "",
          o.startTime ?? Date.now(),
          `${exp.artifactLocation}/${runId}/artifacts`,
          o.ownerServer ?? null,
        ],
      );
      await upsertTags(c, runId, o.tags ?? {});
    });
    return this.getRun(runId);
  }

  /**
   * Params (set once: a different value for a logged key is ERR_MTRACK_PARAM_IMMUTABLE), tags (last
   * wins) and metric points in one transaction: all of the batch or none of it.
   */
  async logBatch(
    runId: string,
    batch: { params?: Record<string, string>; tags?: Record<string, string>; metrics?: PgMetric[] },
  ): Promise<void> {
    await this.tx(async (c) => {
      await activeRun(c, runId);
      for (const [k, v] of Object.entries(batch.params ?? {})) {
        const r = await c.query(
          "INSERT INTO params VALUES ($1, $2, $3) ON CONFLICT (run_id, key) DO UPDATE SET value = params.value RETURNING value",
          [runId, k, v],
        );
        if (r.rows[0].value !== v) {
          throw new MtrackError(
            "ERR_MTRACK_PARAM_IMMUTABLE",
            `param "${k}" of run ${runId} is already "${r.rows[0].value}"`,
          );
        }
      }
      await upsertTags(c, runId, batch.tags ?? {});
      const metrics = batch.metrics ?? [];
      if (metrics.length > 0) {
        await c.query(
          `INSERT INTO metrics (run_id, key, value, timestamp, step)
           SELECT $1, * FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[])`,
          [
            runId,
            metrics.map((m) => m.key),
            metrics.map((m) => m.value),
            metrics.map((m) => m.timestamp),
            metrics.map((m) => m.step),
          ],
        );
        // Latest per key: the highest step, then the newest timestamp (MLflow's rule).
        const latest = new Map<string, PgMetric>();
        for (const m of metrics) {
          const cur = latest.get(m.key);
          if (!cur || m.step > cur.step || (m.step === cur.step && m.timestamp >= cur.timestamp))
            latest.set(m.key, m);
        }
        for (const m of latest.values()) {
          await c.query(
            `INSERT INTO latest_metrics VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, timestamp = EXCLUDED.timestamp, step = EXCLUDED.step
             WHERE (EXCLUDED.step, EXCLUDED.timestamp) >= (latest_metrics.step, latest_metrics.timestamp)`,
            [runId, m.key, m.value, m.timestamp, m.step],
          );
        }
      }
    });
  }

  async logInputs(runId: string, inputs: PgInput[]): Promise<void> {
    await this.tx(async (c) => {
      await activeRun(c, runId);
      for (const i of inputs) {
        await c.query(
          `INSERT INTO inputs VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (run_id, name, digest) DO UPDATE SET tags = inputs.tags || EXCLUDED.tags`,
          [
            runId,
            i.name,
            i.digest,
            i.sourceType ?? "",
            i.source ?? "",
            i.schema ?? null,
            i.profile ?? null,
            JSON.stringify(i.tags ?? {}),
          ],
        );
      }
    });
  }

  /**
   * Records artifact `path` of a run as the stored object `hash` (the caller has put the object in the
   * objects store first, so a recorded artifact always has its bytes); a path logged again is replaced.
   */
  async recordArtifact(runId: string, file: { path: string; hash: string; size: number }): Promise<void> {
    await this.tx(async (c) => {
      await activeRun(c, runId);
      await c.query(
        `INSERT INTO artifacts VALUES ($1, $2, $3, $4)
         ON CONFLICT (run_id, path) DO UPDATE SET hash = EXCLUDED.hash, size = EXCLUDED.size`,
        [runId, file.path, file.hash, file.size],
      );
    });
  }

  /** A run's artifact files, by path. */
  async listArtifacts(runId: string): Promise<{ name: string; hash: string; size: number }[]> {
    const r = await this.pool.query(
      "SELECT path, hash, size FROM artifacts WHERE run_id = $1 ORDER BY path",
      [runId],
    );
    return r.rows.map((a) => ({ name: a.path, hash: a.hash, size: Number(a.size) }));
  }

  /** Deletes one tag of a run; a missing one is ERR_MTRACK_TAG_NOT_FOUND. */
  async deleteTag(runId: string, key: string): Promise<void> {
    await this.tx(async (c) => {
      await activeRun(c, runId);
      const r = await c.query("DELETE FROM tags WHERE run_id = $1 AND key = $2", [runId, key]);
      if (r.rowCount === 0)
        throw new MtrackError("ERR_MTRACK_TAG_NOT_FOUND", `run ${runId} has no tag "${key}"`);
    });
  }

  async updateRun(
    runId: string,
    o: { status?: PgRunStatus; endTime?: number; name?: string },
  ): Promise<PgRun> {
    await this.tx(async (c) => {
      await runRow(c, runId);
      const terminal = o.status !== undefined && o.status !== "RUNNING" && o.status !== "SCHEDULED";
      await c.query(
        `UPDATE runs SET status = COALESCE($2, status), name = COALESCE($3, name),
           end_time = CASE WHEN $4::boolean THEN COALESCE($5, end_time, $6) ELSE end_time END,
           owner_server = CASE WHEN $4::boolean THEN NULL ELSE owner_server END
         WHERE run_id = $1`,
        [runId, o.status ?? null, o.name ?? null, terminal, o.endTime ?? null, Date.now()],
      );
    });
    return this.getRun(runId);
  }

  async deleteRun(runId: string, deleted = true): Promise<void> {
    const r = await this.pool.query(
      "UPDATE runs SET lifecycle_stage = $2, deleted_time = $3 WHERE run_id = $1",
      [runId, deleted ? "deleted" : "active", deleted ? Date.now() : null],
    );
    if (r.rowCount === 0) throw runNotFound(runId);
  }

  async getRun(runId: string): Promise<PgRun> {
    const [run] = await this.getRuns([runId]);
    if (!run) throw runNotFound(runId);
    return run;
  }

  /** The runs with these ids, in that order (unknown ids left out): five queries however many runs. */
  async getRuns(runIds: string[]): Promise<PgRun[]> {
    if (runIds.length === 0) return [];
    const ids = [runIds];
    const [runs, params, tags, metrics, inputs] = await Promise.all([
      this.pool.query("SELECT * FROM runs WHERE run_id = ANY($1)", ids),
      this.pool.query("SELECT run_id, key, value FROM params WHERE run_id = ANY($1) ORDER BY key", ids),
      this.pool.query("SELECT run_id, key, value FROM tags WHERE run_id = ANY($1) ORDER BY key", ids),
      this.pool.query(
        "SELECT run_id, key, value, timestamp, step FROM latest_metrics WHERE run_id = ANY($1) ORDER BY key",
        ids,
      ),
      this.pool.query("SELECT * FROM inputs WHERE run_id = ANY($1) ORDER BY name, digest", ids),
    ]);
    const byId = new Map<string, PgRun>();
    for (const row of runs.rows) {
      byId.set(row.run_id, {
        runId: row.run_id,
        experimentId: String(row.experiment_id),
        name: row.name,
        userId: row.user_id,
        status: row.status,
        startTime: Number(row.start_time),
        endTime: row.end_time === null ? null : Number(row.end_time),
        lifecycleStage: row.lifecycle_stage,
        artifactUri: row.artifact_uri,
        params: {},
        tags: {},
        metrics: [],
        inputs: [],
      });
    }
    for (const p of params.rows) {
      const run = byId.get(p.run_id);
      if (run) run.params[p.key] = p.value;
    }
    for (const t of tags.rows) {
      const run = byId.get(t.run_id);
      if (run) run.tags[t.key] = t.value;
    }
    for (const m of metrics.rows) byId.get(m.run_id)?.metrics.push(metricOf(m));
    for (const i of inputs.rows) {
      byId.get(i.run_id)?.inputs.push({
        name: i.name,
        digest: i.digest,
        sourceType: i.source_type,
        source: i.source,
        ...(i.schema === null ? {} : { schema: i.schema }),
        ...(i.profile === null ? {} : { profile: i.profile }),
        tags: i.tags,
      });
    }
    return runIds.flatMap((id) => byId.get(id) ?? []);
  }

  /** Every point of one metric, in step order then arrival order. */
  async getMetricHistory(runId: string, key: string): Promise<PgMetric[]> {
    await runRow(this.pool, runId);
    const r = await this.pool.query(
      "SELECT key, value, timestamp, step FROM metrics WHERE run_id = $1 AND key = $2 ORDER BY step, seq",
      [runId, key],
    );
    return r.rows.map(metricOf);
  }

  /** Run ids matching every filter, ordered and paged in the database (indexes: migrations.ts). */
  /** How many runs a search matches (its filters and view; order and paging ignored). */
  async countRuns(s: PgSearch): Promise<number> {
    const { where, args } = searchWhere(s);
    const r = await this.pool.query(
      `SELECT count(*)::int AS n FROM runs r WHERE ${where.join(" AND ")}`,
      args,
    );
    return Number(r.rows[0].n);
  }

  async searchRuns(s: PgSearch): Promise<{ runIds: string[]; nextOffset?: number }> {
    const { where, args, arg } = searchWhere(s);
    const required = requiredKeys(s);
    const joins: string[] = [];
    const order: string[] = [];
    const clauses = s.orderBy === undefined ? [] : Array.isArray(s.orderBy) ? s.orderBy : [s.orderBy];
    for (const [i, o] of clauses.entries()) {
      const dir = o.desc ? "DESC" : "ASC";
      if (o.kind === "attribute") {
        const col = ATTRIBUTE_COLUMNS[o.key];
        if (!col) throw new MtrackError("ERR_MTRACK_SEARCH_SYNTAX", `cannot order by attribute ${o.key}`);
        order.push(`r.${col} ${dir} NULLS LAST`);
      } else {
        const table = o.kind === "metric" ? "latest_metrics" : o.kind === "param" ? "params" : "tags";
        if (required.has(`${o.kind}\u0000${o.key}`)) {
          // The filter already requires the key: an inner join ordered as the (key, value) index is, so
          // the plan walks that index in order and stops at the page instead of sorting every match.
          joins.push(`JOIN ${table} o${i} ON o${i}.run_id = r.run_id AND o${i}.key = ${arg(o.key)}`);
          order.push(`o${i}.value ${dir}`);
        } else {
          joins.push(`LEFT JOIN ${table} o${i} ON o${i}.run_id = r.run_id AND o${i}.key = ${arg(o.key)}`);
          order.push(`o${i}.value ${dir} NULLS LAST`);
        }
      }
    }
    order.push("r.start_time DESC", "r.run_id");
    const limit = s.maxResults ?? 1000;
    const offset = s.offset ?? 0;
    const r = await this.pool.query(
      `SELECT r.run_id FROM runs r ${joins.join(" ")} WHERE ${where.join(" AND ")} ORDER BY ${order.join(", ")} LIMIT ${arg(limit + 1)} OFFSET ${arg(offset)}`,
      args,
    );
    const ids = r.rows.map((x) => x.run_id as string);
    return ids.length > limit ? { runIds: ids.slice(0, limit), nextOffset: offset + limit } : { runIds: ids };
  }
}

/** The WHERE terms of a search on `runs r`, with their parameters ($1: the experiment ids). */
function searchWhere(s: PgSearch): { where: string[]; args: unknown[]; arg: (v: unknown) => string } {
  const args: unknown[] = [s.experimentIds.map(toBigint)];
  const arg = (v: unknown): string => {
    args.push(v);
    return `$${args.length}`;
  };
  const where = ["r.experiment_id = ANY($1::bigint[])"];
  const view = s.view ?? "ACTIVE_ONLY";
  if (view !== "ALL") where.push(`r.lifecycle_stage = '${view === "ACTIVE_ONLY" ? "active" : "deleted"}'`);
  for (const f of s.filters ?? []) {
    const table = f.kind === "metric" ? "latest_metrics" : f.kind === "param" ? "params" : "tags";
    where.push(
      `EXISTS (SELECT 1 FROM ${table} f WHERE f.run_id = r.run_id AND f.key = ${arg(f.key)} AND f.value ${f.op} ${arg(f.value)})`,
    );
  }
  if (s.filter !== undefined) where.push(filterSql(s.filter, arg));
  return { where, args, arg };
}

/**
 * The metric/param/tag keys (`kind\0key`) every run a search matches has: those of its simple filters and
 * of the comparisons ANDed at the top of its expression (each is an EXISTS on the key's row).
 */
function requiredKeys(s: PgSearch): Set<string> {
  const out = new Set<string>();
  for (const f of s.filters ?? []) out.add(`${f.kind}\u0000${f.key}`);
  const walk = (n: FilterNode): void => {
    if (n.type === "and") n.children.forEach(walk);
    else if (n.type === "compare" && n.key.kind !== "attribute") out.add(`${n.key.kind}\u0000${n.key.name}`);
  };
  if (s.filter !== undefined) walk(s.filter);
  return out;
}

/**
 * A parsed search expression as a SQL condition on `runs r`; values go through `arg` as parameters,
 * never into the text. Attributes outside ATTRIBUTE_COLUMNS (commit, branch, dirty, experiment_name)
 * are ERR_MTRACK_SEARCH_SYNTAX: the database does not keep them.
 */
export function filterSql(node: FilterNode, arg: (v: unknown) => string): string {
  if (node.type === "all") return "TRUE";
  if (node.type === "and" || node.type === "or") {
    const sep = node.type === "and" ? " AND " : " OR ";
    return `(${node.children.map((c) => filterSql(c, arg)).join(sep)})`;
  }
  return comparisonSql(node, arg);
}

function comparisonSql(c: ComparisonNode, arg: (v: unknown) => string): string {
  let column: string;
  let from = "";
  if (c.key.kind === "attribute") {
    if (c.key.name === "deleted") {
      return `(r.lifecycle_stage = 'deleted') ${c.op === "!=" ? "<>" : "="} ${arg(c.value === true)}`;
    }
    const col = ATTRIBUTE_COLUMNS[c.key.name];
    if (!col) {
      throw new MtrackError(
        "ERR_MTRACK_SEARCH_SYNTAX",
        `the attribute ${c.key.name} cannot be searched on a PostgreSQL server`,
        { hint: `Searchable attributes: ${Object.keys(ATTRIBUTE_COLUMNS).join(", ")}.` },
      );
    }
    column = c.key.name === "experiment_id" ? "r.experiment_id::text" : `r.${col}`;
  } else {
    const table = c.key.kind === "metric" ? "latest_metrics" : c.key.kind === "param" ? "params" : "tags";
    from = `SELECT 1 FROM ${table} f WHERE f.run_id = r.run_id AND f.key = ${arg(c.key.name)} AND `;
    column = "f.value";
  }
  let cond: string;
  if (c.op === "IN" || c.op === "NOT IN") {
    cond = `${c.op === "NOT IN" ? "NOT " : ""}(${column} = ANY(${arg(c.value)}::text[]))`;
  } else {
    cond = `${column} ${c.op === "!=" ? "<>" : c.op} ${arg(c.value)}`;
  }
  return from === "" ? cond : `EXISTS (${from}${cond})`;
}

async function upsertTags(c: Queryable, runId: string, tags: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(tags)) {
    await c.query(
      "INSERT INTO tags VALUES ($1, $2, $3) ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
      [runId, k, v],
    );
    if (k === "mlflow.runName") await c.query("UPDATE runs SET name = $2 WHERE run_id = $1", [runId, v]);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a pg result row
async function runRow(c: Queryable, runId: string): Promise<any> {
  const r = await c.query("SELECT * FROM runs WHERE run_id = $1", [runId]);
  if (!r.rows[0]) throw runNotFound(runId);
  return r.rows[0];
}

/** Locks the run's row for the transaction and checks it can be written. */
async function activeRun(c: pg.PoolClient, runId: string): Promise<void> {
  const r = await c.query("SELECT lifecycle_stage FROM runs WHERE run_id = $1 FOR SHARE", [runId]);
  if (!r.rows[0]) throw runNotFound(runId);
  if (r.rows[0].lifecycle_stage !== "active") {
    throw new MtrackError("ERR_MTRACK_RUN_NOT_ACTIVE", `run ${runId} is deleted`);
  }
}

function experimentNotFound(id: string): MtrackError {
  return new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `no experiment with id ${id}`);
}

function runNotFound(runId: string): MtrackError {
  return new MtrackError("ERR_MTRACK_RUN_NOT_FOUND", `no run ${runId}`);
}

function metricOf(m: { key: string; value: number; timestamp: string; step: string }): PgMetric {
  return { key: m.key, value: Number(m.value), timestamp: Number(m.timestamp), step: Number(m.step) };
}

function toBigint(id: string): string {
  if (!/^\d{1,18}$/.test(id))
    throw new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `no experiment with id ${id}`);
  return id;
}

function pgCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e
    ? String((e as { code: unknown }).code)
    : undefined;
}
