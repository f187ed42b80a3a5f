import { MtrackCommand } from "../../cli/base.js";
import { listExpRefs } from "../../src/experiments/refs.js";

export default class ExpList extends MtrackCommand {
  static override summary = "List experiments by baseline commit.";
  static override examples = ["<%= config.bin %> exp list"];

  async run() {
    await this.parse(ExpList);
    const refs = listExpRefs(this.openRepo().root);
    let base = "";
    for (const r of [...refs].sort((a, b) => a.baseline.localeCompare(b.baseline))) {
      if (r.baseline !== base) this.say(`${((base = r.baseline)).slice(0, 7)}:`);
      this.say(`\t${r.name}  ${r.state}`);
    }
    return { experiments: refs };
  }
}
