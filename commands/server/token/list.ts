import * as path from "node:path";
import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../../cli/base.js";
import { tokensFileOf } from "../../../src/server/server.js";
import { listTokens } from "../../../src/server/tokens.js";

export default class TokenList extends MtrackCommand {
  static override summary = "List the server's tokens (ids, names, scopes; never the tokens).";
  static override examples = ["<%= config.bin %> server token list --store /srv/mtrack"];
  static override flags = {
    store: Flags.string({ description: "served store directory (default: this repository's store)" }),
  };

  async run(): Promise<Array<{ id: string; name: string; scope: string; created: string }>> {
    const { flags } = await this.parse(TokenList);
    const storeDir = flags.store ? path.resolve(flags.store) : this.openRepo().paths.cacheDir;
    const rows = listTokens(tokensFileOf(storeDir)).map(({ id, name, scope, created }) => ({
      id,
      name,
      scope,
      created,
    }));
    for (const r of rows) this.say(`${r.id}\t${r.scope}\t${r.name}\t${r.created}`);
    if (rows.length === 0) this.say("No tokens.");
    return rows;
  }
}
