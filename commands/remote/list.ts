import { MtrackCommand } from "../../cli/base.js";
import { listRemotes, type RemoteListing } from "../../src/remotes/config.js";

export default class RemoteList extends MtrackCommand {
  static override summary = "List the configured remotes.";
  static override examples = ["<%= config.bin %> remote list", "<%= config.bin %> remote list --json"];

  async run(): Promise<RemoteListing[]> {
    await this.parse(RemoteList);
    const remotes = listRemotes(this.openRepo().config);
    for (const r of remotes) {
      const opts = Object.entries(r.options).map(([k, v]) => `${k}=${v}`);
      this.say(`${r.default ? "* " : "  "}${r.name}\t${r.url}${opts.length ? `\t${opts.join(" ")}` : ""}`);
    }
    if (remotes.length === 0)
      this.say("No remotes. Add one with `mtrack remote add <name> <url> --default`.");
    return remotes;
  }
}
