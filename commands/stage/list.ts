import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { loadPipeline, resolvePipelineFile } from "../../src/pipeline/load.js";
import { planLoaded } from "../../src/pipeline/status.js";

export default class StageList extends MtrackCommand {
  static override summary = "List the pipeline's stages, and which are stale and why.";
  static override description =
    "One line per stage in execution order: name, description or command, number of deps and outputs, and whether `mtrack repro` would run it (with the reasons).";
  static override examples = ["<%= config.bin %> stage list", "<%= config.bin %> stage list --json"];
  static override flags = {
    pipeline: Flags.string({
      char: "p",
      description: "pipeline file (default: pipeline.yaml at the repository root)",
    }),
  };

  async run() {
    const { flags } = await this.parse(StageList);
    const repo = this.openRepo();
    const loaded = loadPipeline(repo, resolvePipelineFile(repo, process.cwd(), flags.pipeline));
    const plan = new Map((await planLoaded(repo, loaded)).map((p) => [p.name, p]));
    const stages = loaded.dag.order.map((s) => {
      const p = plan.get(s.name);
      return {
        name: s.name,
        cmd: s.cmd,
        desc: s.desc,
        deps: s.deps.length,
        outs: s.outs.length,
        frozen: s.frozen,
        stale: p?.action === "run" || p?.action === "maybe",
        action: p?.action ?? "skip",
        reasons: p?.reasons ?? [],
      };
    });
    const width = Math.max(0, ...stages.map((s) => s.name.length));
    for (const s of stages) {
      const what = s.desc ?? (Array.isArray(s.cmd) ? s.cmd.join(" && ") : s.cmd);
      const state =
        s.action === "run"
          ? `stale: ${s.reasons.join(", ")}`
          : s.action === "maybe"
            ? `may run: ${s.reasons.join(", ")}`
            : s.frozen
              ? "frozen"
              : "up to date";
      this.say(`${s.name.padEnd(width)}  ${what}  (${s.deps} deps, ${s.outs} outs)  ${state}`);
    }
    if (stages.length === 0) this.say(`${loaded.file} has no stages.`);
    return { pipeline: loaded.file, stages };
  }
}
