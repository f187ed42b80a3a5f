/**
 * Runs pushed to a team server (`mtrack push --runs` to `mtrack server --db`) become database runs, so
 * the MLflow API (and the web UI) of every server on the database sees them like runs logged through
 * the API: the sealed run record (by its hash, from the pushed objects) is written into the tracking
 * tables in one transaction — params, tags, every metric point, the latest value per key, and the
 * artifact files (a directory artifact or a model expanded to its files) by content hash. The artifacts'
 * bytes are copied into the objects store first when it is another place than the pushed store (s3://),
 * so a recorded artifact always has its bytes. Ingesting a run the database already has does nothing
 * (idempotent: a push retried, two servers, a restart).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { MtrackError } from "../../errors.js";
import type { Remote } from "../../remotes/types.js";
import type { Hash } from "../../store/types.js";
import type { Annotation } from "../../tracking/annotations.js";
import { newPackr } from "../../tracking/frames.js";
import { decodeSeries } from "../../tracking/runlog.js";
import type { DirEntry, RunRecord } from "../../tracking/types.js";
import { PgTrackingStore } from "./tracking-store.js";

/** Where the pushed objects are read from (the served store). */
export interface PushedObjects {
  /** The bytes of a small object (a record, a series, a manifest); undefined when absent. */
  read(hash: Hash): Buffer | undefined;
  /** The path of an object's bytes on disk (loose file), or undefined when packed (then `read` it). */
  filePath?(hash: Hash): string | undefined;
}

/** What `ingestRun` did. */
export interface IngestResult {
  runId: string;
  /** False when the database already had the run. */
  ingested: boolean;
  /** Artifact objects copied into the objects store. */
  copied: number;
}

const DEFAULT_EXPERIMENT_NAME = "Default";

/**
 * Writes the sealed run `runId` (record `recordHash`) into the database unless it is there already.
 * `objects` is the server's objects store; `sameStore` says the pushed store is that store itself (a
 * directory), so nothing is copied.
 *
 * @example
 * await ingestRun(pool, { read: (h) => remote.store.readObject(h) }, objects, true, runId, hash, "ana");
 */
export async function ingestRun(
  pool: pg.Pool,
  pushed: PushedObjects,
  objects: Remote,
  sameStore: boolean,
  runId: string,
  recordHash: Hash,
  user: string,
): Promise<IngestResult> {
  const known = await pool.query("SELECT 1 FROM runs WHERE run_id = $1", [runId]);
  if (known.rows.length > 0) return { runId, ingested: false, copied: 0 };
  const packr = newPackr();
  const recordBytes = pushed.read(recordHash);
  if (!recordBytes) throw notPushed(`the record ${recordHash} of run ${runId} was not pushed`);
  const record = packr.unpack(recordBytes) as RunRecord;
  if (record.runId !== runId) throw notPushed(`ref runs/${runId} names the record of run ${record.runId}`);

  // Artifact files: a file as itself; a directory artifact or a model as its manifest's files.
  const files: Array<{ path: string; hash: Hash; size: number }> = [];
  const manifest = (hash: Hash): DirEntry[] => {
    const bytes = pushed.read(hash);
    if (!bytes) throw notPushed(`the manifest ${hash} of run ${runId} was not pushed`);
    return packr.unpack(bytes) as DirEntry[];
  };
  for (const a of record.artifacts) {
    if (a.kind === "file") files.push({ path: a.name, hash: a.hash, size: a.size });
    else
      for (const e of manifest(a.hash))
        files.push({ path: `${a.name}/${e.name}`, hash: e.hash, size: e.size });
  }
  for (const m of record.models) {
    for (const e of manifest(m.hash)) files.push({ path: `${m.name}/${e.name}`, hash: e.hash, size: e.size });
  }
  const copied = sameStore ? 0 : await copyObjects(pushed, objects, files);

  const tracking = new PgTrackingStore(pool, "mlflow-artifacts:");
  const experimentId =
    record.experimentName === DEFAULT_EXPERIMENT_NAME || record.experimentId === "0"
      ? await tracking.defaultExperimentId()
      : ((await tracking.getExperimentByName(record.experimentName))?.experimentId ??
        (await tracking
          .createExperiment(record.experimentName)
          .catch(
            async () => (await tracking.getExperimentByName(record.experimentName))?.experimentId ?? "0",
          )));
  const exp = await tracking.getExperiment(experimentId);

  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const inserted = await client.query(
      `INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, git_commit)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (run_id) DO NOTHING`,
      [
        runId,
        experimentId,
        record.name,
        user,
        record.status === "RUNNING" ? "KILLED" : record.status,
        record.startTime,
        record.endTime ?? record.startTime,
        `${exp.artifactLocation}/${runId}/artifacts`,
        record.git.commit,
      ],
    );
    if (inserted.rowCount === 0) {
      await client.query("ROLLBACK");
      return { runId, ingested: false, copied };
    }
    const tags: Record<string, string> = {
      ...record.tags,
      "mlflow.runName": record.name,
      "mlflow.user": user,
      "mtrack.pushed_by": user,
      ...(record.git.commit ? { "mlflow.source.git.commit": record.git.commit } : {}),
      ...(record.git.branch ? { "mlflow.source.git.branch": record.git.branch } : {}),
    };
    const kv = (o: Record<string, string>) => [Object.keys(o), Object.values(o)];
    await client.query(
      "INSERT INTO params SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT DO NOTHING",
      [runId, ...kv(record.params)],
    );
    await client.query(
      "INSERT INTO tags SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT DO NOTHING",
      [runId, ...kv(tags)],
    );
    for (const [key, m] of Object.entries(record.metrics)) {
      const series = pushed.read(m.hash);
      if (!series) throw notPushed(`the series of metric ${key} of run ${runId} was not pushed`);
      const h = decodeSeries(series, packr);
      const steps = Array.from(h.steps);
      const values = Array.from(h.values);
      const stamps = Array.from(h.timestamps, (t) => Math.round(t));
      if (steps.length === 0) continue;
      await client.query(
        `INSERT INTO metrics (run_id, key, value, timestamp, step)
         SELECT $1, $2, * FROM unnest($3::float8[], $4::bigint[], $5::bigint[])`,
        [runId, key, values, stamps, steps.map((s) => Math.round(s))],
      );
      // Latest: the highest step, then the newest timestamp (MLflow's rule), as logBatch keeps it.
      let best = 0;
      for (let i = 1; i < steps.length; i++) {
        const s = steps[i] as number;
        const b = steps[best] as number;
        if (s > b || (s === b && (stamps[i] as number) >= (stamps[best] as number))) best = i;
      }
      await client.query("INSERT INTO latest_metrics VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", [
        runId,
        key,
        values[best],
        stamps[best],
        Math.round(steps[best] as number),
      ]);
    }
    if (files.length > 0) {
      await client.query(
        "INSERT INTO artifacts SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING",
        [runId, files.map((f) => f.path), files.map((f) => f.hash), files.map((f) => f.size)],
      );
    }
    await client.query("COMMIT");
    return { runId, ingested: true, copied };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** Copies the files' objects the objects store lacks into it; returns how many. */
async function copyObjects(
  pushed: PushedObjects,
  objects: Remote,
  files: ReadonlyArray<{ hash: Hash; size: number }>,
): Promise<number> {
  const specs = [...new Map(files.map((f) => [f.hash, { hash: f.hash, size: f.size }])).values()];
  if (specs.length === 0) return 0;
  const present = await objects.has(specs);
  let n = 0;
  for (const s of specs) {
    if (present.has(s.hash)) continue;
    // Each as its own object (putFile), as uploaded artifacts are: the server opens artifacts by key.
    const file = pushed.filePath?.(s.hash);
    if (file) await objects.putFile(s, file);
    else {
      const data = pushed.read(s.hash);
      if (!data) throw notPushed(`the artifact object ${s.hash} was not pushed`);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-ingest-"));
      try {
        const tmp = path.join(dir, "object");
        fs.writeFileSync(tmp, data);
        await objects.putFile(s, tmp);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    n++;
  }
  return n;
}

function notPushed(what: string): MtrackError {
  return new MtrackError("ERR_MTRACK_OBJECT_MISSING", `Cannot record the pushed run: ${what}.`, {
    hint: "Push again: `mtrack push --runs` sends a run's objects before its ref.",
  });
}

/**
 * Applies a pushed annotation (`annotations/<runId>.<id>`: tags set or removed and datasets added after
 * the run ended) to the database run, in one transaction; false when the database has no such run (its
 * ref was refused or not pushed yet: the annotation is kept in the store and applied on the next start).
 * Applied as they arrive (push sends a run's annotations in their order).
 */
export async function applyAnnotation(pool: pg.Pool, a: Annotation): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const run = await client.query("SELECT 1 FROM runs WHERE run_id = $1 FOR UPDATE", [a.runId]);
    if (run.rows.length === 0) {
      await client.query("ROLLBACK");
      return false;
    }
    for (const [k, v] of Object.entries(a.tags ?? {})) {
      await client.query(
        "INSERT INTO tags VALUES ($1, $2, $3) ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
        [a.runId, k, v],
      );
      if (k === "mlflow.runName")
        await client.query("UPDATE runs SET name = $2 WHERE run_id = $1", [a.runId, v]);
    }
    if ((a.deleteTags ?? []).length > 0) {
      await client.query("DELETE FROM tags WHERE run_id = $1 AND key = ANY($2)", [a.runId, a.deleteTags]);
    }
    for (const d of a.datasets ?? []) {
      await client.query(
        `INSERT INTO inputs VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (run_id, name, digest) DO NOTHING`,
        [
          a.runId,
          d.dataset.name,
          d.dataset.digest,
          d.dataset.sourceType,
          d.dataset.source,
          d.dataset.schema ?? null,
          d.dataset.profile ?? null,
          JSON.stringify(d.tags),
        ],
      );
    }
    await client.query("COMMIT");
    return true;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
