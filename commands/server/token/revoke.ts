import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../../cli/base.js";
import { tokensFileOf } from "../../../src/server/server.js";
import { revokeToken } from "../../../src/server/tokens.js";

export default class TokenRevoke extends MtrackCommand {
  static override summary = "Revoke tokens by id or name (effective immediately, no restart).";
  static override examples = ["<%= config.bin %> server token revoke ci --store /srv/mtrack"];
  static override args = { token: Args.string({ required: true, description: "token id or name" }) };
  static override flags = {
    store: Flags.string({ description: "served store directory (default: this repository's store)" }),
  };

  async run(): Promise<{ revoked: number }> {
    const { args, flags } = await this.parse(TokenRevoke);
    const storeDir = flags.store ? path.resolve(flags.store) : this.openRepo().paths.cacheDir;
    const revoked = revokeToken(tokensFileOf(storeDir), args.token);
    this.say(`Revoked ${revoked} token(s).`);
    return { revoked };
  }
}
