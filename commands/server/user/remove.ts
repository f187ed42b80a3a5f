import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../../cli/base.js";
import { withDb } from "../../../cli/db.js";
import { PgUsers } from "../../../src/server/pg/users.js";

export default class UserRemove extends MtrackCommand {
  static override summary = "Remove a user of the team server's database and revoke all their tokens.";
  static override examples = ["<%= config.bin %> server user remove ana"];
  static override args = { name: Args.string({ required: true, description: "user name" }) };
  static override flags = {
    db: Flags.string({
      description: "PostgreSQL URL (default: MTRACK_DB_URL, then the server.db config key)",
    }),
  };

  async run(): Promise<{ removed: string }> {
    const { args, flags } = await this.parse(UserRemove);
    await withDb(flags.db, (pool) => new PgUsers(pool).removeUser(args.name));
    this.say(`User ${args.name} removed (with their tokens).`);
    return { removed: args.name };
  }
}
