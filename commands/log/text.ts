import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { MtrackError } from "../../src/errors.js";
import { openLiveRunFor } from "../../src/tracking/context.js";

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "No text given.", {
      data: { option: "text" },
      hint: "Pass --text '...' or pipe the text in, e.g. `python eval.py | mtrack log text eval.log`.",
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export default class LogText extends MtrackCommand {
  static override summary = "Log a text artifact to the current run, from --text or stdin.";
  static override examples = [
    "<%= config.bin %> log text notes.md --text 'tried a larger batch'",
    "python eval.py | <%= config.bin %> log text eval.log --append",
  ];
  static override args = {
    name: Args.string({ description: "artifact name (a relative path)", required: true }),
  };
  static override flags = {
    text: Flags.string({ description: "the text (default: read stdin)" }),
    append: Flags.boolean({ description: "add to the artifact instead of replacing it" }),
    run: Flags.string({ description: "run id or unique prefix (default $MTRACK_RUN_ID)" }),
  };

  async run() {
    const { args, flags } = await this.parse(LogText);
    const live = openLiveRunFor({ run: flags.run, cwd: process.cwd() });
    const text = flags.text ?? (await readStdin());
    live.logText(text, args.name, { append: flags.append });
    return { runId: live.id, name: args.name, bytes: Buffer.byteLength(text), append: flags.append };
  }
}
