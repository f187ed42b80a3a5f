import { Args, Flags } from "@oclif/core";
import { MtrackError } from "../../src/errors.js";
import { runCommand } from "../../src/tracking/command.js";
import { mtrackVersion } from "../../src/tracking/context.js";
import { MtrackCommand } from "../base.js";

/** `k=v` pairs from repeated flags; the value may itself contain `=`. */
function keyValues(flag: string, pairs: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `--${flag} ${pair} is not key=value.`, {
        data: { flag, value: pair },
        hint: `Write it as --${flag} name=value, e.g. --${flag} lr=0.01.`,
      });
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export default class Run extends MtrackCommand {
  static override summary = "Run any command as a tracked run: output captured, exit status recorded.";
  static override description =
    `Starts a run (git commit, branch and dirty flag, the command line), runs the command with MTRACK_RUN_ID, MTRACK_RUNS_DIR and MTRACK_REPO in its environment (so it can \`mtrack log metric ...\` or use the library), passes its output through and captures it as the artifact logs/output.txt.

Exit 0 ends the run FINISHED; a non-zero exit FAILED (tag mtrack.exit_code); a signal KILLED. SIGINT and SIGTERM are forwarded to the command. mtrack exits with the command's exit code (128 + n for signal n). Put the command after \`--\`.`;
  static override examples = [
    "<%= config.bin %> run -- python train.py --epochs 5",
    "<%= config.bin %> run --experiment mnist --name baseline --param lr=0.01 --tag phase=1 -- ./train.sh",
  ];
  static override strict = false;
  static override flags = {
    experiment: Flags.string({ char: "e", description: "experiment name (created on first use)" }),
    name: Flags.string({ char: "n", description: "run name (default: run-<short id>)" }),
    param: Flags.string({ char: "p", description: "param key=value (repeatable)", multiple: true }),
    tag: Flags.string({ char: "t", description: "tag key=value (repeatable)", multiple: true }),
  };
  static override args = { command: Args.string({ description: "the command and its arguments, after --" }) };

  async run() {
    const { argv, flags } = await this.parse(Run);
    const command = argv as string[];
    if (command.length === 0) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "No command to run.", {
        data: { argv: command },
        hint: "Give the command after --, e.g. `mtrack run -- python train.py`.",
      });
    }
    const repo = this.openRepo();
    const result = await runCommand({
      repo,
      command,
      env: process.env,
      cwd: process.cwd(),
      stdout: process.stdout,
      stderr: process.stderr,
      signals: process,
      experiment: flags.experiment,
      name: flags.name,
      params: keyValues("param", flags.param),
      tags: keyValues("tag", flags.tag),
      mtrackVersion: mtrackVersion(),
      onStart: (id) => this.logToStderr(`mtrack: run ${id} started`),
    });
    this.logToStderr(`mtrack: run ${result.runId} ${result.status} (exit code ${result.exitCode})`);
    process.exitCode = result.exitCode;
    return { runId: result.runId, status: result.status, exitCode: result.exitCode, signal: result.signal };
  }
}
