import { ExpTransferCommand } from "../../cli/exp-transfer.js";

export default class ExpPull extends ExpTransferCommand {
  static override summary =
    "Bring experiments from a git remote (their refs) and their data from the mtrack remote.";
  static override description =
    "Finds the experiments on the git remote by name (one `git ls-remote`), fetches their git objects, then their data from the mtrack remote (-r, default core.remote; skipped when the repository has none) into the store, with sealed runs and run-cache entries unless --no-runs / --no-run-cache, and only then writes their refs under refs/exps/. Missing or corrupt data writes no ref. `mtrack exp apply <exp>` then brings one into the workspace.";
  static override examples = [
    "<%= config.bin %> exp pull origin swift-otter",
    "<%= config.bin %> exp pull origin -A",
  ];

  // Own statics: oclif's parse copies the class's own properties only, not inherited ones.
  static override strict = false;
  static override args = ExpTransferCommand.args;
  static override flags = ExpTransferCommand.flags;
  protected readonly direction = "pull";
}
