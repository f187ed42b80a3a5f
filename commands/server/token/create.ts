import * as path from "node:path";
import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../../cli/base.js";
import { tokensFileOf } from "../../../src/server/server.js";
import { createToken } from "../../../src/server/tokens.js";

export default class TokenCreate extends MtrackCommand {
  static override summary = "Create a bearer token for `mtrack server` (shown once; only its hash is kept).";
  static override examples = [
    "<%= config.bin %> server token create --store /srv/mtrack --name ci",
    "<%= config.bin %> server token create --store /srv/mtrack --name dashboards --read",
  ];
  static override flags = {
    store: Flags.string({ description: "served store directory (default: this repository's store)" }),
    name: Flags.string({ required: true, description: "what the token is for" }),
    read: Flags.boolean({ description: "a read-only token" }),
  };

  async run(): Promise<{ token: string; id: string; name: string; scope: string }> {
    const { flags } = await this.parse(TokenCreate);
    const storeDir = flags.store ? path.resolve(flags.store) : this.openRepo().paths.cacheDir;
    const { token, record } = createToken(tokensFileOf(storeDir), {
      name: flags.name,
      scope: flags.read ? "read" : "write",
    });
    this.say(token);
    this.logToStderr(
      `Token ${record.id} (${record.scope}) created; it is shown only now. Clients: \`mtrack remote modify <name> token <token>\`.`,
    );
    return { token, id: record.id, name: record.name, scope: record.scope };
  }
}
