import * as path from "node:path";
import { Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { dbUrlIfAny } from "../cli/db.js";
import { MtrackError } from "../src/errors.js";
import { plotsSource } from "../src/plots/collect.js";
import { ModelRegistry } from "../src/registry/models.js";
import { startTeamServer } from "../src/server/pg/serve.js";
import { startServer, tokensFileOf } from "../src/server/server.js";
import { mtrackVersion, openTracking } from "../src/tracking/context.js";

export default class Server extends MtrackCommand {
  static override summary =
    "Serve a store over HTTP for push, fetch and pull, and runs to MLflow clients: this repository's, or a team's in PostgreSQL (--db).";
  static override description =
    "Every write needs a bearer token (`mtrack server token create`); reads too unless --public-read. Inside a repository (no --store) it also serves an MLflow-compatible tracking API: point MLFLOW_TRACKING_URI at the server and MLFLOW_TRACKING_TOKEN at a token, and runs logged with the `mlflow` client become mtrack runs (see docs/mlflow-api.md); runs still open when the server stops end as KILLED. It also serves the web UI of `mtrack ui` at / (read-only, with the same read-token rule: a browser asks for the token as the password), so the View run links the mlflow client prints open the run. Listens on 127.0.0.1 unless --host says otherwise; put it behind a TLS proxy to expose it. Stops on Ctrl-C.\n\nTeam server: with --db postgresql://... (or MTRACK_DB_URL, or the server.db config key) it applies the schema migrations and serves the MLflow tracking API over PostgreSQL: experiments, runs, params, tags, metrics (latest and history), dataset inputs, the paths of run artifacts, the model registry (registered models, versions, aliases, tags) and MLflow 3's logged models are in the database, the artifacts' bytes in --objects (required: a directory or s3://bucket/prefix, content-addressed). Tokens are checked against the database's users (`mtrack server user add/token --db`): role read may only read, write and admin may also write; runs and registry changes record their user; admins manage users and tokens over HTTP too (/api/mtrack/admin/users, /api/mtrack/admin/tokens). Any number of servers may share one database and one objects store. Push/pull (/v1) serves the --objects directory (with s3:// objects: --store DIR); a pushed run is recorded in the database, so the MLflow API reads it. The web UI is served at / over the database (read-only, for token holders). See docs/server.md.";
  static override examples = [
    "<%= config.bin %> server --store /srv/mtrack --port 8080",
    "<%= config.bin %> server --store /srv/mtrack --host 0.0.0.0 --public-read",
    "MTRACK_DB_URL=postgresql://mtrack:secret@db/mtrack <%= config.bin %> server --objects /srv/mtrack/objects --host 0.0.0.0",
  ];
  static override enableJsonFlag = false;
  static override flags = {
    store: Flags.string({
      description:
        "store directory to serve to push/pull (default: this repository's store; with --db: the --objects directory, none for s3://)",
    }),
    port: Flags.integer({
      char: "p",
      default: 8080,
      min: 0,
      max: 65535,
      description: "port (0 picks a free one)",
    }),
    host: Flags.string({ default: "127.0.0.1", description: "address to listen on" }),
    "read-only": Flags.boolean({ description: "refuse every write" }),
    "public-read": Flags.boolean({ description: "allow reads without a token" }),
    "max-object-bytes": Flags.integer({
      min: 1,
      description:
        "largest object accepted in one upload (store objects and MLflow artifacts; larger ones answer 413)",
    }),
    db: Flags.string({
      description:
        "PostgreSQL URL of a team server (default: MTRACK_DB_URL, then the server.db config key; pass the password in MTRACK_DB_URL)",
    }),
    objects: Flags.string({
      description:
        "with --db (required): where run artifacts go, a directory or s3://bucket/prefix (content-addressed; credentials from the AWS environment)",
    }),
    "objects-endpoint": Flags.string({
      description:
        "with --objects s3://...: endpoint URL of an S3-compatible service (MinIO, SeaweedFS, ...)",
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Server);
    const dbUrl = dbUrlIfAny(flags.db);
    if (dbUrl !== undefined) return this.team(dbUrl, flags);
    if (flags.objects !== undefined) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "--objects needs --db", {
        hint: "Without a database the runs and their artifacts live in this repository.",
      });
    }
    const repo = flags.store === undefined ? this.openRepo() : undefined;
    const storeDir = repo === undefined ? path.resolve(flags.store ?? ".") : repo.paths.cacheDir;
    const server = await startServer({
      storeDir,
      tracking: repo ? openTracking(repo) : undefined,
      repoRoot: repo?.root,
      plots: repo ? plotsSource(repo) : undefined,
      // Changes through the MLflow API are recorded as the name of the token that made them.
      openModels: repo ? (user) => ModelRegistry.open(repo, { user }) : undefined,
      mtrackVersion: mtrackVersion(),
      host: flags.host,
      port: flags.port,
      readOnly: flags["read-only"],
      publicRead: flags["public-read"],
      limits: flags["max-object-bytes"] ? { objectBytes: flags["max-object-bytes"] } : {},
    });
    this.log(
      `mtrack server listening on ${server.url} (store ${storeDir}, tokens ${tokensFileOf(storeDir)}${repo ? `, MLflow API and web UI at ${server.url}` : ""})`,
    );
    await untilStopped(server);
  }

  /** `--db`: the team server on PostgreSQL. */
  private async team(
    dbUrl: string,
    flags: {
      objects?: string;
      "objects-endpoint"?: string;
      store?: string;
      host: string;
      port: number;
      "read-only": boolean;
      "public-read": boolean;
      "max-object-bytes"?: number;
    },
  ): Promise<void> {
    if (flags.objects === undefined) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "--db needs --objects DIR", {
        hint: "Give the directory or s3://bucket/prefix where run artifacts go (shared by every server on this database).",
      });
    }
    const server = await startTeamServer({
      dbUrl,
      objects: flags.objects,
      ...(flags["objects-endpoint"] ? { objectsEndpoint: flags["objects-endpoint"] } : {}),
      ...(flags.store !== undefined ? { storeDir: path.resolve(flags.store) } : {}),
      mtrackVersion: mtrackVersion(),
      host: flags.host,
      port: flags.port,
      readOnly: flags["read-only"],
      publicRead: flags["public-read"],
      limits: flags["max-object-bytes"] ? { objectBytes: flags["max-object-bytes"] } : {},
    });
    this.log(
      `mtrack server listening on ${server.url} (database ${server.db}, objects ${server.objects}${server.storeDir ? `, store ${server.storeDir}` : ""}, MLflow API at ${server.url})`,
    );
    await untilStopped(server);
  }
}

/** Resolves when SIGINT or SIGTERM has stopped the server. */
function untilStopped(server: { close(): Promise<void> }): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      void server.close().then(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
