import { ExpTransferCommand } from "../../cli/exp-transfer.js";

export default class ExpPush extends ExpTransferCommand {
  static override summary =
    "Send experiments to a git remote (their refs) and their data to the mtrack remote.";
  static override description =
    "First the data: the objects the experiments' pointer files and pipeline.lock name, and (unless --no-runs / --no-run-cache) the sealed runs logged in those experiments (tag mtrack.exp) and the run-cache entries, go to the mtrack remote (-r, default core.remote; skipped when the repository has none). Then `git push <git-remote> refs/exps/...` sends each experiment's ref, so a ref on the git remote never names data the mtrack remote lacks. Another clone gets them with `mtrack exp pull`.";
  static override examples = [
    "<%= config.bin %> exp push origin swift-otter",
    "<%= config.bin %> exp push origin -A -r storage",
    "<%= config.bin %> exp push origin swift-otter --no-data",
  ];

  // Own statics: oclif's parse copies the class's own properties only, not inherited ones.
  static override strict = false;
  static override args = ExpTransferCommand.args;
  static override flags = ExpTransferCommand.flags;
  protected readonly direction = "push";
}
