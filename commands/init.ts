import { MtrackCommand } from "../cli/base.js";
import { initRepo } from "../src/repo.js";

export default class Init extends MtrackCommand {
  static override summary = "Set up mtrack in the current git repository.";
  static override description =
    "Creates .mtrack/ at the root of the git work tree: config.yaml (commit it) and the object store (ignored by git). Running it again keeps the existing setup.";
  static override examples = [
    "<%= config.bin %> init",
    "git init && <%= config.bin %> init && git add .mtrack && git commit -m 'mtrack'",
  ];

  async run() {
    await this.parse(Init);
    const r = initRepo({ cwd: process.cwd() });
    this.say(
      r.created ? `Initialized mtrack in ${r.mtrackDir}` : `mtrack is already set up in ${r.mtrackDir}`,
    );
    if (r.created)
      this.say("Next: `mtrack add <data>` and commit the .mtrack file it writes, plus .mtrack/config.yaml.");
    return r;
  }
}
