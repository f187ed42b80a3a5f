import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../../cli/base.js";
import { withDb } from "../../../cli/db.js";
import { PgUsers, ROLES, type Role } from "../../../src/server/pg/users.js";

export default class UserAdd extends MtrackCommand {
  static override summary = "Add a user of the team server's database, with a role (read, write or admin).";
  static override description =
    "Users live in the PostgreSQL database (--db, MTRACK_DB_URL or the server.db config key); give one a token with `mtrack server user token NAME`. See docs/server.md.";
  static override examples = [
    "<%= config.bin %> server user add ana --role write --db postgresql://mtrack@db/mtrack",
  ];
  static override args = { name: Args.string({ required: true, description: "user name" }) };
  static override flags = {
    role: Flags.string({ required: true, options: [...ROLES], description: "what the user may do" }),
    db: Flags.string({
      description: "PostgreSQL URL (default: MTRACK_DB_URL, then the server.db config key)",
    }),
  };

  async run(): Promise<{ name: string; role: string; created: number }> {
    const { args, flags } = await this.parse(UserAdd);
    const user = await withDb(flags.db, (pool) => new PgUsers(pool).addUser(args.name, flags.role as Role));
    this.say(`User ${user.name} (${user.role}) added.`);
    return user;
  }
}
