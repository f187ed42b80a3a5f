import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { reportWarnings, writeReport } from "../../cli/plots.js";
import { buildReport } from "../../src/ui/report.js";

export default class PlotsShow extends MtrackCommand {
  static override summary = "Write a static HTML report of the pipeline's metrics and plots.";
  static override description =
    "Reads the metrics files and the plots declared in pipeline.yaml (stage `plots:` outputs and the top-level `plots:` list: files, directories of plots files, or named plots over columns of several files; CSV/TSV with a header, JSON/YAML lists of rows, PNG/JPEG/GIF/WebP images) in the workspace or at --rev, and writes one self-contained HTML file: metrics as tables, plots as line charts (x = the plot's `x`, else `step`, else the first column; one line per numeric column or per `y` column), points (`template: scatter`) or confusion matrices (`template: confusion` / `confusion_normalized` over rows of `x: actual` and `y: predicted`). The file needs no server and no network, so it can be mailed or attached to a review. `-o` names the file, or a directory to write index.html into. To overlay revisions, use `mtrack plots diff`.";
  static override examples = [
    "<%= config.bin %> plots show",
    "<%= config.bin %> plots show --rev HEAD~1 --out before.html",
    "<%= config.bin %> plots show -o reports/   # reports/index.html",
  ];
  static override flags = {
    out: Flags.string({
      char: "o",
      default: "mtrack-report.html",
      description: "HTML file to write (a path not ending in .html is a directory for index.html)",
    }),
    rev: Flags.string({ char: "r", description: "a git revision (default: the workspace)" }),
  };

  async run() {
    const { flags } = await this.parse(PlotsShow);
    const data = await buildReport(this.openRepo(), { rev: flags.rev ?? null });
    const out = writeReport(data, flags.out);
    const rev = data.revisions[0]!;
    const drawn = data.plots.filter((p) => p.kind !== "missing").length;
    this.say(
      `Wrote ${out} (${rev.name}: ${Object.keys(rev.metrics).length} metrics files, ${drawn} of ${data.plots.length} plots)`,
    );
    for (const w of reportWarnings(data)) this.warn(w);
    return {
      out,
      revision: rev.name,
      commit: rev.commit,
      metrics: Object.keys(rev.metrics),
      plots: data.plots.map((p) => ({ id: p.id, kind: p.kind, notes: p.notes })),
    };
  }
}
