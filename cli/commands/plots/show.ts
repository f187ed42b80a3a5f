import * as path from "node:path";
import { Flags } from "@oclif/core";
import { buildReport, loadReportAssets, renderReportHtml } from "../../../src/ui/report.js";
import { writeFileAtomic } from "../../../src/util/fs.js";
import { MtrackCommand } from "../../base.js";

export default class PlotsShow extends MtrackCommand {
  static override summary = "Write a static HTML report of the pipeline's metrics and plots.";
  static override description =
    "Reads the metrics files and the `plots:` files declared in pipeline.yaml (CSV/TSV with a header, or JSON/YAML lists of rows; PNG/JPEG/GIF/WebP images) in the workspace or at --rev, and writes one self-contained HTML file: metrics as tables, plots as line charts (x = the plot's `x`, else `step`, else the first column; one line per numeric column). The file needs no server and no network, so it can be mailed or attached to a review.";
  static override examples = [
    "<%= config.bin %> plots show",
    "<%= config.bin %> plots show --rev HEAD~1 --out before.html",
  ];
  static override flags = {
    out: Flags.string({ char: "o", default: "mtrack-report.html", description: "HTML file to write" }),
    rev: Flags.string({ char: "r", description: "a git revision (default: the workspace)" }),
  };

  async run() {
    const { flags } = await this.parse(PlotsShow);
    const data = await buildReport(this.openRepo(), { rev: flags.rev ?? null });
    const out = path.resolve(flags.out);
    writeFileAtomic(out, renderReportHtml(data, loadReportAssets()));
    const drawn = data.plots.filter((p) => p.kind !== "missing").length;
    this.say(
      `Wrote ${out} (${data.revision}: ${Object.keys(data.metrics).length} metrics files, ${drawn} of ${data.plots.length} plots)`,
    );
    for (const p of data.plots) if (p.kind === "missing") this.warn(`${p.file}: ${p.reason}`);
    return {
      out,
      revision: data.revision,
      commit: data.commit,
      metrics: Object.keys(data.metrics),
      plots: data.plots.map((p) => ({ file: p.file, kind: p.kind })),
    };
  }
}
