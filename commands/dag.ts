import { Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { loadPipeline, resolvePipelineFile } from "../src/pipeline/load.js";
import { dagEdges, dagToDot, dagToMermaid, dagToText } from "../src/pipeline/render.js";

export default class Dag extends MtrackCommand {
  static override summary = "Show the pipeline's stages and how they depend on each other.";
  static override description =
    "Stages are listed in the order repro runs them, each with the stages whose outputs it reads. --dot prints Graphviz, --mermaid a Mermaid flowchart.";
  static override examples = [
    "<%= config.bin %> dag",
    "<%= config.bin %> dag --dot | dot -Tsvg > dag.svg",
    "<%= config.bin %> dag --mermaid",
  ];
  static override flags = {
    dot: Flags.boolean({ description: "Graphviz dot output", exclusive: ["mermaid"] }),
    mermaid: Flags.boolean({ description: "Mermaid flowchart output", exclusive: ["dot"] }),
    pipeline: Flags.string({
      char: "p",
      description: "pipeline file (default: pipeline.yaml at the repository root)",
    }),
  };

  async run() {
    const { flags } = await this.parse(Dag);
    const repo = this.openRepo();
    const { dag, file } = loadPipeline(repo, resolvePipelineFile(repo, process.cwd(), flags.pipeline));
    const text = flags.dot ? dagToDot(dag) : flags.mermaid ? dagToMermaid(dag) : dagToText(dag);
    if (!this.jsonEnabled()) process.stdout.write(text);
    return { pipeline: file, stages: dag.order.map((s) => s.name), edges: dagEdges(dag) };
  }
}
