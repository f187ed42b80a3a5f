import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { reportWarnings, writeReport } from "../../cli/plots.js";
import { collectPlots, plotRevisions } from "../../src/plots/collect.js";

export default class PlotsDiff extends MtrackCommand {
  static override summary =
    "Overlay the pipeline's plots across git revisions and experiments in a static HTML report.";
  static override description =
    "Reads the plots declared in pipeline.yaml at each revision (default: HEAD and the workspace; a revision is a commit id (full or short), a branch, a tag, HEAD, any of them followed by ~N or ^N, an experiment's name as `mtrack exp show` lists it, or `workspace`) — committed files from git, tracked ones (`mtrack add` pointers, pipeline.lock outputs) from the store through that commit's hashes — and draws them overlaid: one line per revision with the revision in the legend, one confusion matrix or image per revision side by side, metrics in a table with a column per revision. A file missing at a revision is noted, not an error. Writes one self-contained HTML file (-o: a file ending in .html, else a directory for index.html; default mtrack_plots/index.html). With --json, prints the data per revision instead (and writes the HTML only when -o is given).";
  static override examples = [
    "<%= config.bin %> plots diff",
    "<%= config.bin %> plots diff HEAD~1 HEAD workspace",
    "<%= config.bin %> plots diff main feature -o compare.html",
    "<%= config.bin %> plots diff HEAD lr-1 lr-2   # experiments of a sweep, by name",
    "<%= config.bin %> plots diff v1 --json",
  ];
  static override strict = false;
  static override args = {
    revs: Args.string({
      description: "revisions or experiments to overlay, in legend order (default: HEAD workspace)",
    }),
  };
  static override flags = {
    out: Flags.string({
      char: "o",
      description:
        "HTML file to write, or a directory for index.html (default mtrack_plots; with --json, none)",
    }),
  };

  async run() {
    const { argv, flags } = await this.parse(PlotsDiff);
    const revs = plotRevisions(argv as string[]);
    const data = await collectPlots(this.openRepo(), revs);
    const target = flags.out ?? (this.jsonEnabled() ? undefined : "mtrack_plots");
    const out = target === undefined ? null : writeReport(data, target);
    if (out !== null) {
      const drawn = data.plots.filter((p) => p.kind !== "missing").length;
      const names = data.revisions.map((r) => r.name).join(", ");
      this.say(`Wrote ${out} (${names}: ${drawn} of ${data.plots.length} plots)`);
    }
    for (const w of reportWarnings(data)) this.warn(w);
    return { out, ...data };
  }
}
