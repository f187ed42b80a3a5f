import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { dbUrlOf } from "../../cli/db.js";
import { openPool, redactDbUrl } from "../../src/server/pg/db.js";
import { migrate } from "../../src/server/pg/migrations.js";

export default class ServerMigrate extends MtrackCommand {
  static override summary = "Create or upgrade the team server's PostgreSQL schema (versioned migrations).";
  static override description =
    "Applies the schema migrations this mtrack knows to the database, each in one transaction (an interrupted migration completes when rerun; several servers starting at once apply each once). A database whose schema is newer than this mtrack knows is refused. The URL comes from --db, else MTRACK_DB_URL, else the server.db config key; its password is never printed. See docs/server.md.";
  static override examples = [
    "MTRACK_DB_URL=postgresql://mtrack:secret@db:5432/mtrack <%= config.bin %> server migrate",
    "<%= config.bin %> server migrate --db postgresql://mtrack@127.0.0.1/mtrack --json",
  ];
  static override flags = {
    db: Flags.string({
      description: "PostgreSQL URL (default: MTRACK_DB_URL, then the server.db config key)",
    }),
  };

  async run(): Promise<{ url: string; from: number; to: number; applied: number[] }> {
    const { flags } = await this.parse(ServerMigrate);
    const url = dbUrlOf(flags.db);
    const pool = await openPool(url, { max: 1 });
    try {
      const r = await migrate(pool);
      const shown = redactDbUrl(url);
      if (r.applied.length === 0) this.say(`Database ${shown} is at schema version ${r.to} (up to date).`);
      else this.say(`Database ${shown}: schema ${r.from} -> ${r.to} (applied ${r.applied.join(", ")}).`);
      return { url: shown, from: r.from, to: r.to, applied: r.applied };
    } finally {
      await pool.end();
    }
  }
}
