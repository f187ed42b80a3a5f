/**
 * Runs logged through the MLflow API of a team server live in its database, not as sealed run records
 * in a store. So that `mtrack pull --runs` brings them like pushed runs, the server's `/v1` API lists
 * every finished, not deleted database run that has no pushed ref as `runs/<id>`, and reading that ref
 * builds the run's sealed record from the database on demand — with the sealing code of
 * src/tracking/seal.ts (`buildRecord`), so it is the one record format — and stores the record and its
 * metric series in the served store, where the client then fetches them by hash like any object. The
 * artifacts are the database's files by content hash; with `s3://` objects the store API serves them
 * from the bucket (`objectsElsewhere`). A pushed run (its ref in the store) is served as pushed, never rebuilt.
 */
import type { Readable } from "node:stream";
import type pg from "pg";
import type { LocalRemote } from "../../remotes/local.js";
import type { Remote } from "../../remotes/types.js";
import { hashBytes } from "../../store/hash.js";
import type { Hash } from "../../store/types.js";
import { newPackr } from "../../tracking/frames.js";
import { isRunId } from "../../tracking/names.js";
import type { RunLogState } from "../../tracking/runlog.js";
import { buildRecord } from "../../tracking/seal.js";
import type { ArtifactRef, MetricHistory, RunStatus } from "../../tracking/types.js";

/** Statuses of a database run that is over (a RUNNING one is not handed out: it may still change). */
const ENDED: readonly RunStatus[] = ["FINISHED", "FAILED", "KILLED"];

/**
 * The `runs/<id>` refs of the database runs the served store has no ref for: ended and not deleted.
 *
 * @example
 * const refs = [...stored, ...(await databaseRunRefs(pool, new Set(stored)))].sort();
 */
export async function databaseRunRefs(pool: pg.Pool, stored: ReadonlySet<string>): Promise<string[]> {
  const r = await pool.query(
    "SELECT run_id FROM runs WHERE status = ANY($1) AND lifecycle_stage = 'active' ORDER BY run_id",
    [ENDED],
  );
  return r.rows
    .map((x) => String(x.run_id))
    .filter((id) => isRunId(id) && !stored.has(`runs/${id}`))
    .map((id) => `runs/${id}`);
}

/**
 * The record hash of the database run `runId` (the body of its `runs/<id>` ref), after storing the
 * record and its series in the served store; undefined when the database has no such ended, active run.
 * The artifacts are served by hash from the objects store (`objectsElsewhere` when it is not the served
 * store).
 *
 * @example
 * const body = await exportRunRef(pool, served, runId); // "<hash>\n"
 */
export async function exportRunRef(
  pool: pg.Pool,
  served: LocalRemote,
  runId: string,
): Promise<Buffer | undefined> {
  if (!isRunId(runId)) return undefined;
  const run = await pool.query(
    `SELECT r.run_id, r.experiment_id, e.name AS experiment_name, r.name, r.status, r.start_time,
            r.end_time, r.git_commit
     FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
     WHERE r.run_id = $1 AND r.status = ANY($2) AND r.lifecycle_stage = 'active'`,
    [runId, ENDED],
  );
  const row = run.rows[0];
  if (!row) return undefined;
  const [params, tags, points, files] = await Promise.all([
    pool.query("SELECT key, value FROM params WHERE run_id = $1 ORDER BY key", [runId]),
    pool.query("SELECT key, value FROM tags WHERE run_id = $1 ORDER BY key", [runId]),
    pool.query("SELECT key, step, value, timestamp FROM metrics WHERE run_id = $1 ORDER BY key, seq", [
      runId,
    ]),
    pool.query("SELECT path, hash, size FROM artifacts WHERE run_id = $1 ORDER BY path", [runId]),
  ]);
  const tagMap: Record<string, string> = {};
  for (const t of tags.rows) tagMap[String(t.key)] = String(t.value);
  const paramMap: Record<string, string> = {};
  for (const p of params.rows) paramMap[String(p.key)] = String(p.value);
  const artifacts = new Map<string, ArtifactRef>();
  for (const f of files.rows) {
    const name = String(f.path);
    artifacts.set(name, { name, kind: "file", hash: String(f.hash), size: Number(f.size) });
  }
  const startTime = Number(row.start_time);
  const state: RunLogState = {
    start: {
      t: "start",
      runId,
      experimentId: String(row.experiment_id),
      experimentName: String(row.experiment_name),
      name: String(row.name ?? ""),
      startTime,
      git: {
        commit: row.git_commit ? String(row.git_commit) : (tagMap["mlflow.source.git.commit"] ?? null),
        branch: tagMap["mlflow.source.git.branch"] ?? null,
        dirty: false,
      },
      command: [],
      host: "",
      pid: 0,
      // Fixed, so every server on the database builds the same record (the same hash) for a run.
      mtrackVersion: "",
    },
    params: paramMap,
    tags: tagMap,
    metrics: metricHistories(points.rows),
    texts: new Map(),
    artifacts,
    models: new Map(),
    end: {
      status: String(row.status) as RunStatus,
      endTime: row.end_time === null ? startTime : Number(row.end_time),
      error: null,
    },
    torn: false,
  };
  const built = new Map<Hash, Buffer>();
  const collect = {
    putBuffer(data: Uint8Array) {
      const hash = hashBytes(data);
      built.set(hash, Buffer.from(data));
      return { hash, size: data.length, written: true };
    },
  };
  // The state has its end record, so liveness is never asked.
  const record = buildRecord(state, collect, { host: "", isPidAlive: () => false });
  const { hash } = collect.putBuffer(newPackr().pack(record));
  const present = await served.has([...built.keys()].map((h) => ({ hash: h, size: 0 })));
  await served.putBatch([...built].filter(([h]) => !present.has(h)).map(([h, data]) => ({ hash: h, data })));
  return Buffer.from(`${hash}\n`);
}

/** Per metric key, its points in logging order as one history chunk. */
function metricHistories(rows: Array<Record<string, unknown>>): Map<string, MetricHistory[]> {
  const byKey = new Map<string, Array<Record<string, unknown>>>();
  for (const r of rows) {
    const key = String(r.key);
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push(r);
  }
  const out = new Map<string, MetricHistory[]>();
  for (const [key, list] of byKey) {
    out.set(key, [
      {
        steps: Float64Array.from(list, (r) => Number(r.step)),
        values: Float64Array.from(list, (r) => Number(r.value)),
        timestamps: Float64Array.from(list, (r) => Number(r.timestamp)),
      },
    ]);
  }
  return out;
}

/**
 * Artifacts of database runs the served store lacks, served from the objects store (`s3://`): sizes from
 * the database, bytes from the objects store. Nothing is copied, so a `gc --cloud` (which reads every
 * run ref) does not pull the bucket into the store.
 *
 * @example
 * storeApi(remote, limits, { elsewhere: objectsElsewhere(pool, objects) });
 */
export function objectsElsewhere(
  pool: pg.Pool,
  objects: Remote,
): { sizes(hashes: Hash[]): Promise<Map<Hash, number>>; open(hash: Hash): Promise<Readable | undefined> } {
  return {
    sizes: async (hashes) => {
      const r = await pool.query("SELECT DISTINCT hash, size FROM artifacts WHERE hash = ANY($1)", [hashes]);
      return new Map(r.rows.map((x) => [String(x.hash), Number(x.size)]));
    },
    open: (hash) => objects.open(hash),
  };
}
