import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../../cli/base.js";
import { withDb } from "../../../cli/db.js";
import { PgUsers } from "../../../src/server/pg/users.js";

export default class UserToken extends MtrackCommand {
  static override summary =
    "Create a token for a user of the team server's database (shown once; only its hash is kept).";
  static override examples = ["<%= config.bin %> server user token ana --name laptop"];
  static override args = { user: Args.string({ required: true, description: "the user the token acts as" }) };
  static override flags = {
    name: Flags.string({ default: "", description: "what the token is for" }),
    revoke: Flags.string({ description: "instead revoke the token with this id" }),
    db: Flags.string({
      description: "PostgreSQL URL (default: MTRACK_DB_URL, then the server.db config key)",
    }),
  };

  async run(): Promise<{ token?: string; id: string; user: string; revoked?: boolean }> {
    const { args, flags } = await this.parse(UserToken);
    const revoke = flags.revoke;
    if (revoke !== undefined) {
      const n = await withDb(flags.db, (pool) => new PgUsers(pool).revokeToken(revoke, args.user));
      this.say(n > 0 ? `Token ${revoke} revoked.` : `No live token ${revoke}.`);
      return { id: revoke, user: args.user, revoked: n > 0 };
    }
    const { token, record } = await withDb(flags.db, (pool) =>
      new PgUsers(pool).createToken(args.user, flags.name),
    );
    this.say(token);
    this.logToStderr(`Token ${record.id} for ${record.user} created; it is shown only now.`);
    return { token, id: record.id, user: record.user };
  }
}
