import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../../cli/base.js";
import { withDb } from "../../../cli/db.js";
import { type PgUser, PgUsers } from "../../../src/server/pg/users.js";

export default class UserList extends MtrackCommand {
  static override summary = "List the users of the team server's database with their roles and live tokens.";
  static override examples = ["<%= config.bin %> server user list --json"];
  static override flags = {
    db: Flags.string({
      description: "PostgreSQL URL (default: MTRACK_DB_URL, then the server.db config key)",
    }),
  };

  async run(): Promise<Array<PgUser & { tokens: number }>> {
    const { flags } = await this.parse(UserList);
    const rows = await withDb(flags.db, async (pool) => {
      const users = new PgUsers(pool);
      const tokens = await users.listTokens();
      return (await users.listUsers()).map((u) => ({
        ...u,
        tokens: tokens.filter((t) => t.user === u.name && t.revoked === null).length,
      }));
    });
    for (const u of rows)
      this.say(`${u.name}\t${u.role}\t${u.tokens} token(s)\t${new Date(u.created).toISOString()}`);
    if (rows.length === 0) this.say("No users.");
    return rows;
  }
}
