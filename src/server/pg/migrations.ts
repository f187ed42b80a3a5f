/**
 * The versioned schema of the PostgreSQL backend. Each migration runs in one transaction together with
 * the row recording it in `mtrack_schema`, so an interrupted migration leaves nothing and completes when
 * rerun; a transaction-level advisory lock makes concurrent servers starting on one database apply each
 * migration once. A database whose schema is newer than this binary knows is refused.
 *
 * Append new migrations at the end; never edit one that has shipped.
 */
import type pg from "pg";
import { MtrackError } from "../../errors.js";

/** One schema step. */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** Key of the advisory lock serializing migrations (any constant; "mtrk" in ASCII). */
const MIGRATION_LOCK_KEY = 0x6d74726b;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description:
      "tracking: experiments, runs, params, tags, metrics (history and latest), inputs; users, tokens",
    sql: `
CREATE TABLE experiments (
  experiment_id     BIGSERIAL PRIMARY KEY,
  name              TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL DEFAULT '',
  lifecycle_stage   TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
  creation_time     BIGINT NOT NULL,
  last_update_time  BIGINT NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id BIGINT NOT NULL REFERENCES experiments ON DELETE CASCADE,
  key           TEXT NOT NULL,
  value         TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
  run_id          TEXT PRIMARY KEY,
  experiment_id   BIGINT NOT NULL REFERENCES experiments,
  name            TEXT NOT NULL DEFAULT '',
  user_id         TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
  start_time      BIGINT NOT NULL,
  end_time        BIGINT,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
  artifact_uri    TEXT NOT NULL DEFAULT '',
  git_commit      TEXT,
  owner_server    TEXT,
  deleted_time    BIGINT
);
CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time DESC, run_id);
CREATE INDEX runs_status ON runs (experiment_id, status);
CREATE TABLE params (
  run_id TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE INDEX params_key_value ON params (key, value) INCLUDE (run_id);
CREATE TABLE tags (
  run_id TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE INDEX tags_key_value ON tags (key, value) INCLUDE (run_id);
CREATE TABLE metrics (
  run_id    TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
  key       TEXT NOT NULL,
  value     DOUBLE PRECISION NOT NULL,
  timestamp BIGINT NOT NULL,
  step      BIGINT NOT NULL DEFAULT 0,
  seq       BIGSERIAL
);
CREATE INDEX metrics_history ON metrics (run_id, key, step, seq);
CREATE TABLE latest_metrics (
  run_id    TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
  key       TEXT NOT NULL,
  value     DOUBLE PRECISION NOT NULL,
  timestamp BIGINT NOT NULL,
  step      BIGINT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE INDEX latest_metrics_key_value ON latest_metrics (key, value) INCLUDE (run_id);
CREATE TABLE inputs (
  run_id      TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
  name        TEXT NOT NULL,
  digest      TEXT NOT NULL,
  source_type TEXT NOT NULL DEFAULT '',
  source      TEXT NOT NULL DEFAULT '',
  schema      TEXT,
  profile     TEXT,
  tags        JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, name, digest)
);
CREATE TABLE users (
  name    TEXT PRIMARY KEY,
  role    TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  created BIGINT NOT NULL
);
CREATE TABLE tokens (
  id        TEXT PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES users ON DELETE CASCADE,
  name      TEXT NOT NULL DEFAULT '',
  hash      TEXT NOT NULL UNIQUE,
  created   BIGINT NOT NULL,
  revoked   BIGINT
);
`,
  },
  {
    version: 2,
    description: "run artifacts: path -> content hash and size (the bytes are in the objects store)",
    sql: `
CREATE TABLE artifacts (
  run_id TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
  path   TEXT NOT NULL,
  hash   TEXT NOT NULL,
  size   BIGINT NOT NULL,
  PRIMARY KEY (run_id, path)
);
`,
  },
  {
    version: 3,
    description:
      "model registry: registered models, versions, aliases, tags, version contents; logged models; run outputs",
    sql: `
CREATE TABLE registered_models (
  name              TEXT PRIMARY KEY,
  description       TEXT NOT NULL DEFAULT '',
  creation_time     BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  user_id           TEXT NOT NULL DEFAULT '',
  latest_version    INT NOT NULL DEFAULT 0
);
CREATE INDEX registered_models_updated ON registered_models (last_updated_time);
CREATE TABLE registered_model_tags (
  name  TEXT NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
  key   TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
);
CREATE INDEX registered_model_tags_key_value ON registered_model_tags (key, value);
CREATE TABLE model_contents (
  content_hash TEXT NOT NULL,
  path         TEXT NOT NULL,
  hash         TEXT NOT NULL,
  size         BIGINT NOT NULL,
  PRIMARY KEY (content_hash, path)
);
CREATE TABLE model_versions (
  name              TEXT NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
  version           INT NOT NULL,
  source            TEXT NOT NULL,
  run_id            TEXT,
  model_id          TEXT,
  content_hash      TEXT NOT NULL,
  content_size      BIGINT NOT NULL,
  content_files     INT NOT NULL,
  flavor            TEXT NOT NULL DEFAULT 'files',
  description       TEXT NOT NULL DEFAULT '',
  creation_time     BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  user_id           TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_run ON model_versions (run_id);
CREATE INDEX model_versions_model_id ON model_versions (model_id);
CREATE INDEX model_versions_content ON model_versions (content_hash);
CREATE INDEX model_versions_updated ON model_versions (last_updated_time DESC);
CREATE TABLE model_version_tags (
  name    TEXT NOT NULL,
  version INT NOT NULL,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (name, version, key),
  FOREIGN KEY (name, version) REFERENCES model_versions ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE model_version_aliases (
  name    TEXT NOT NULL,
  alias   TEXT NOT NULL,
  version INT NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES model_versions ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE logged_models (
  model_id          TEXT PRIMARY KEY,
  experiment_id     TEXT NOT NULL,
  name              TEXT NOT NULL,
  source_run_id     TEXT,
  model_type        TEXT NOT NULL DEFAULT '',
  status            TEXT NOT NULL CHECK (status IN ('PENDING', 'READY', 'FAILED')),
  status_message    TEXT NOT NULL DEFAULT '',
  creation_time     BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  user_id           TEXT NOT NULL DEFAULT '',
  deleted           BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX logged_models_experiment ON logged_models (experiment_id, creation_time DESC);
CREATE INDEX logged_models_run ON logged_models (source_run_id, name);
CREATE TABLE logged_model_tags (
  model_id TEXT NOT NULL REFERENCES logged_models ON DELETE CASCADE,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (model_id, key)
);
CREATE TABLE logged_model_params (
  model_id TEXT NOT NULL REFERENCES logged_models ON DELETE CASCADE,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (model_id, key)
);
CREATE TABLE logged_model_files (
  model_id TEXT NOT NULL REFERENCES logged_models ON DELETE CASCADE,
  path     TEXT NOT NULL,
  hash     TEXT NOT NULL,
  size     BIGINT NOT NULL,
  PRIMARY KEY (model_id, path)
);
CREATE TABLE run_models (
  run_id   TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
  model_id TEXT NOT NULL,
  role     TEXT NOT NULL CHECK (role IN ('input', 'output')),
  step     BIGINT,
  PRIMARY KEY (run_id, role, model_id)
);
`,
  },
];

/** The newest schema version this binary knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/** What `migrate` did. */
export interface MigrationResult {
  /** The version before. */
  from: number;
  /** The version after (== SCHEMA_VERSION). */
  to: number;
  /** The versions applied now. */
  applied: number[];
}

/** The database's schema version (0 for an empty database). */
export async function schemaVersion(db: pg.Pool | pg.PoolClient): Promise<number> {
  const exists = await db.query("SELECT to_regclass('mtrack_schema') IS NOT NULL AS ok");
  if (!exists.rows[0]?.ok) return 0;
  const r = await db.query("SELECT COALESCE(MAX(version), 0)::int AS v FROM mtrack_schema");
  return Number(r.rows[0]?.v ?? 0);
}

/**
 * Brings the database to SCHEMA_VERSION; throws ERR_MTRACK_FORMAT_INVALID when it is newer than that.
 * Safe to run from many processes at once and to rerun after an interruption.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationResult> {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const client = await pool.connect();
  const applied: number[] = [];
  let from = 0;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS mtrack_schema (version INT PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    );
    await client.query("COMMIT");
    from = await schemaVersion(client);
    if (from > known) throw newerSchema(from, known);
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      const current = await schemaVersion(client);
      if (current > known) {
        await client.query("ROLLBACK");
        throw newerSchema(current, known);
      }
      if (current >= m.version) {
        await client.query("COMMIT");
        continue;
      }
      await client.query(m.sql);
      await client.query("INSERT INTO mtrack_schema (version, description) VALUES ($1, $2)", [
        m.version,
        m.description,
      ]);
      await client.query("COMMIT");
      applied.push(m.version);
    }
    const to = await schemaVersion(client);
    if (to > known) throw newerSchema(to, known);
    return { from, to, applied };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** Throws unless the database is exactly at SCHEMA_VERSION (for servers started with `--no-migrate`). */
export async function checkSchema(pool: pg.Pool): Promise<number> {
  const v = await schemaVersion(pool);
  if (v > SCHEMA_VERSION) throw newerSchema(v, SCHEMA_VERSION);
  if (v < SCHEMA_VERSION) {
    throw new MtrackError(
      "ERR_MTRACK_FORMAT_INVALID",
      `the database schema is at version ${v}; this mtrack needs ${SCHEMA_VERSION}`,
      {
        hint: "Run `mtrack server migrate --db URL`.",
        data: { schemaVersion: v, known: SCHEMA_VERSION },
      },
    );
  }
  return v;
}

function newerSchema(found: number, known: number): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_FORMAT_INVALID",
    `the database schema is at version ${found}, newer than this mtrack knows (${known})`,
    {
      hint: "Upgrade mtrack on this machine to the version the other servers on this database run; it will not write a schema it does not know.",
      data: { schemaVersion: found, known },
    },
  );
}
