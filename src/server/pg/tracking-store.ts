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
import { isRetryableDbError } from "./db.js";

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

export interface PgSearch {
  experimentIds: string[];
  filters?: PgRunFilter[];
  /** e.g. `{ kind: "metric", key: "loss", desc: false }`; default: start time, newest first. */
  orderBy?: { kind: "metric" | "param" | "attribute"; key: string; desc: boolean };
  maxResults?: number;
  /** Offset from a previous page. */
  offset?: number;
}

const DEFAULT_EXPERIMENT_NAME = "Default";

type Queryable = pg.Pool | pg.PoolClient;

/** The tracking store over one PostgreSQL database (already migrated). */
export class PgTrackingStore {
  constructor(
    private readonly pool: pg.Pool,
    /** Artifact root under which `<experiment>/<run>/artifacts` URIs are made (a directory or s3://). */
    private readonly artifactRoot: string,
  ) {}

  /**
   * Runs `fn` in a transaction. A connection lost before COMMIT was sent (the database restarted and the
   * pool handed out a dead connection) rolled everything back on the server, so it is retried once on a
   * fresh connection; a failure during COMMIT is not (its outcome is unknown) and reaches the caller.
   */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.pool.connect();
      let committing = false;
      try {
        await c.query("BEGIN");
        const out = await fn(c);
        committing = true;
        await c.query("COMMIT");
        c.release();
        return out;
      } catch (e) {
        const lost = isRetryableDbError(e);
        if (lost) c.release(e instanceof Error ? e : new Error(String(e)));
        else {
          await c.query("ROLLBACK").catch(() => {});
          c.release();
        }
        if (!lost || committing || attempt > 0) throw e;
      }
    }
  }

  /** The Default experiment's id, created on first use (id 0 is not assumed: bigserial starts at 1). */
  async defaultExperimentId(): Promise<string> {
    const found = await this.pool.query("SELECT experiment_id FROM experiments WHERE name = $1", [
      DEFAULT_EXPERIMENT_NAME,
    ]);
    if (found.rows[0]) return String(found.rows[0].experiment_id);
    return this.createExperiment(DEFAULT_EXPERIMENT_NAME).catch(async (e) => {
      if (!isMtrackErrorCode(e, "ERR_MTRACK_EXPERIMENT_EXISTS")) throw e;
      const again = await this.pool.query("SELECT experiment_id FROM experiments WHERE name = $1", [
        DEFAULT_EXPERIMENT_NAME,
      ]);
      return String(again.rows[0].experiment_id);
    });
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
    const r = await this.pool.query("SELECT * FROM experiments WHERE experiment_id = $1", [
      toBigint(experimentId),
    ]);
    const row = r.rows[0];
    if (!row)
      throw new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `no experiment with id ${experimentId}`);
    const tags = await this.pool.query("SELECT key, value FROM experiment_tags WHERE experiment_id = $1", [
      row.experiment_id,
    ]);
    return {
      experimentId: String(row.experiment_id),
      name: row.name,
      artifactLocation: row.artifact_location,
      lifecycleStage: row.lifecycle_stage,
      creationTime: Number(row.creation_time),
      lastUpdateTime: Number(row.last_update_time),
      tags: Object.fromEntries(tags.rows.map((t) => [t.key, t.value])),
    };
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
    const row = await runRow(this.pool, runId);
    const [params, tags, metrics, inputs] = await Promise.all([
      this.pool.query("SELECT key, value FROM params WHERE run_id = $1 ORDER BY key", [runId]),
      this.pool.query("SELECT key, value FROM tags WHERE run_id = $1 ORDER BY key", [runId]),
      this.pool.query(
        "SELECT key, value, timestamp, step FROM latest_metrics WHERE run_id = $1 ORDER BY key",
        [runId],
      ),
      this.pool.query("SELECT * FROM inputs WHERE run_id = $1 ORDER BY name, digest", [runId]),
    ]);
    return {
      runId,
      experimentId: String(row.experiment_id),
      name: row.name,
      userId: row.user_id,
      status: row.status,
      startTime: Number(row.start_time),
      endTime: row.end_time === null ? null : Number(row.end_time),
      lifecycleStage: row.lifecycle_stage,
      artifactUri: row.artifact_uri,
      params: Object.fromEntries(params.rows.map((p) => [p.key, p.value])),
      tags: Object.fromEntries(tags.rows.map((t) => [t.key, t.value])),
      metrics: metrics.rows.map(metricOf),
      inputs: inputs.rows.map((i) => ({
        name: i.name,
        digest: i.digest,
        sourceType: i.source_type,
        source: i.source,
        ...(i.schema === null ? {} : { schema: i.schema }),
        ...(i.profile === null ? {} : { profile: i.profile }),
        tags: i.tags,
      })),
    };
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
  async searchRuns(s: PgSearch): Promise<{ runIds: string[]; nextOffset?: number }> {
    const args: unknown[] = [s.experimentIds.map(toBigint)];
    const where = ["r.experiment_id = ANY($1::bigint[])", "r.lifecycle_stage = 'active'"];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    for (const f of s.filters ?? []) {
      const table = f.kind === "metric" ? "latest_metrics" : f.kind === "param" ? "params" : "tags";
      where.push(
        `EXISTS (SELECT 1 FROM ${table} f WHERE f.run_id = r.run_id AND f.key = ${arg(f.key)} AND f.value ${f.op} ${arg(f.value)})`,
      );
    }
    let order = "r.start_time DESC, r.run_id";
    let join = "";
    if (s.orderBy) {
      const dir = s.orderBy.desc ? "DESC" : "ASC";
      if (s.orderBy.kind === "attribute") {
        const col = { start_time: "start_time", end_time: "end_time", run_name: "name", status: "status" }[
          s.orderBy.key
        ];
        if (!col)
          throw new MtrackError("ERR_MTRACK_SEARCH_SYNTAX", `cannot order by attribute ${s.orderBy.key}`);
        order = `r.${col} ${dir} NULLS LAST, r.run_id`;
      } else {
        const table = s.orderBy.kind === "metric" ? "latest_metrics" : "params";
        join = `LEFT JOIN ${table} o ON o.run_id = r.run_id AND o.key = ${arg(s.orderBy.key)}`;
        order = `o.value ${dir} NULLS LAST, r.start_time DESC, r.run_id`;
      }
    }
    const limit = s.maxResults ?? 1000;
    const offset = s.offset ?? 0;
    const r = await this.pool.query(
      `SELECT r.run_id FROM runs r ${join} WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ${arg(limit + 1)} OFFSET ${arg(offset)}`,
      args,
    );
    const ids = r.rows.map((x) => x.run_id as string);
    return ids.length > limit ? { runIds: ids.slice(0, limit), nextOffset: offset + limit } : { runIds: ids };
  }
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

function isMtrackErrorCode(e: unknown, code: string): boolean {
  return e instanceof MtrackError && e.code === code;
}
