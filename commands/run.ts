import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { MtrackError } from "../src/errors.js";
import { captureOff, type MlflowCapture, startMlflowCapture } from "../src/server/mlflow/capture.js";
import { runCommand } from "../src/tracking/command.js";
import { mtrackVersion, PARENT_RUN_TAG } from "../src/tracking/context.js";

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

Zero-config MLflow capture: unless MLFLOW_TRACKING_URI is already set (or --no-capture / MTRACK_MLFLOW_CAPTURE=0), mtrack serves its MLflow-compatible API on a loopback port for the command's lifetime and sets MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN and MLFLOW_RUN_CONTEXT, so a program using the \`mlflow\` client logs its params, metrics, artifacts and models as mtrack runs of this repository (tagged mtrack.parent_run with this run's id; see docs/mlflow-api.md).

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
    "no-capture": Flags.boolean({
      description: "do not serve the MLflow API to the command (zero-config MLflow capture)",
    }),
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
    const capture: MlflowCapture | undefined =
      flags["no-capture"] || captureOff(process.env) !== undefined
        ? undefined
        : await startMlflowCapture(repo, { mtrackVersion: mtrackVersion() });
    let result: Awaited<ReturnType<typeof runCommand>>;
    try {
      result = await this.runIt(repo, command, flags, capture);
    } catch (err) {
      await capture?.close("FAILED");
      throw err;
    }
    // Runs the command's client left open end as its own run did: KILLED after a signal, else FAILED.
    await capture?.close(result.status === "KILLED" ? "KILLED" : "FAILED");
    this.logToStderr(`mtrack: run ${result.runId} ${result.status} (exit code ${result.exitCode})`);
    process.exitCode = result.exitCode;
    return { runId: result.runId, status: result.status, exitCode: result.exitCode, signal: result.signal };
  }

  private runIt(
    repo: ReturnType<Run["openRepo"]>,
    command: string[],
    flags: { experiment?: string; name?: string; param?: string[]; tag?: string[] },
    capture: MlflowCapture | undefined,
  ) {
    return runCommand({
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
      ...(capture ? { childEnv: (id: string) => capture.env({ [PARENT_RUN_TAG]: id }) } : {}),
    });
  }
}
