import * as fs from "node:fs";
import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openModels } from "../../cli/models.js";
import { ioError, MtrackError } from "../../src/errors.js";
import { materializeModel } from "../../src/registry/content.js";
import { isModelUri } from "../../src/registry/uri.js";
import { Repo } from "../../src/repo.js";
import { ENGINE_FLAVOR, loadPredictor } from "../../src/serving/predictor.js";
import { DEFAULT_MAX_BODY_BYTES, type ScoringEvent, startScoringServer } from "../../src/serving/server.js";
import { mtrackVersion } from "../../src/tracking/context.js";

/** Where the files of the model to serve are, and how to let go of them when the server stops. */
export interface ServeTarget {
  /** The directory holding model.json and weights.bin. */
  dir: string;
  /** How the model is named in messages (the argument as given). */
  label: string;
  /** Removes whatever resolving created (nothing for a workspace path). */
  cleanup(): void;
}

/**
 * The model directory `arg` names: a directory path (relative to `cwd`; a model.json path means its
 * folder), or a model URI — `models:/<name>@<alias>`, `models:/<name>/<version>`, `models:/<name>/latest`,
 * `models:/m-<id>`, `runs:/<run>/<path>` — of the repository around `cwd`, whose files are written to a
 * fresh directory under `.mtrack/tmp` that `cleanup()` removes.
 *
 * @example
 * (await resolveServeTarget(process.cwd(), "results/model")).dir; // "/repo/results/model"
 * const t = await resolveServeTarget(process.cwd(), "models:/spirals@champion"); // t.dir: /repo/.mtrack/tmp/serve-XXXXXX
 * t.cleanup();
 */
export async function resolveServeTarget(cwd: string, arg: string): Promise<ServeTarget> {
  if (isModelUri(arg)) return materializeUri(Repo.open({ cwd }), arg);
  const dir = path.resolve(cwd, arg);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${arg} does not exist.`, {
      hint: "Name the directory the model was saved to (e.g. results/model), or a model URI (models:/<name>@<alias>).",
      data: { path: dir },
    });
  }
  // A model.json named directly means its folder.
  const modelDir = st.isFile() && path.basename(dir) === "model.json" ? path.dirname(dir) : dir;
  return { dir: modelDir, label: arg, cleanup: () => {} };
}

function materializeUri(repo: Repo, uri: string): ServeTarget {
  const resolved = openModels(repo).resolve(uri);
  if (resolved.flavor !== ENGINE_FLAVOR) {
    throw new MtrackError(
      "ERR_MTRACK_NOT_A_MODEL",
      `${uri} is not a model mtrack can serve: its flavor is ${resolved.flavor}, not ${ENGINE_FLAVOR}.`,
      {
        hint:
          resolved.flavor === "mlflow"
            ? "Serve MLflow models with `mlflow models serve` (`mtrack models get` writes the files)."
            : "Serve a version registered from the engine's saved model (results/model).",
        data: { uri, flavor: resolved.flavor },
      },
    );
  }
  let dir: string;
  try {
    fs.mkdirSync(repo.paths.tmpDir, { recursive: true });
    dir = fs.mkdtempSync(path.join(repo.paths.tmpDir, "serve-"));
  } catch (err) {
    throw ioError(err, `creating a directory under ${repo.paths.tmpDir}`);
  }
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    materializeModel(repo.store, resolved.content, dir);
  } catch (err) {
    cleanup();
    throw err;
  }
  const v = resolved.version;
  return { dir, label: v ? `${uri} (${v.name} version ${v.version})` : uri, cleanup };
}

export default class ModelsServe extends MtrackCommand {
  static override summary = "Serve a model over HTTP with MLflow's scoring protocol.";
  static override description =
    'Loads a model the engine saved (a directory with model.json and weights.bin, e.g. results/model, or a registered version by its URI, written to a temporary folder under .mtrack/tmp for as long as the server runs) and answers POST /invocations like `mlflow models serve`: JSON bodies with "inputs" or "instances" (a list of rows, or an object of columns), "dataframe_split" or "dataframe_records", or text/csv (a header line is optional); the answer is {"predictions": [class index per row]}. Every request is checked against the model\'s input width: a wrong number of features, a non-numeric value, ragged rows or an empty input answer 400 with {"error_code": "BAD_REQUEST", "message"} naming the row and column; other content types 415; bodies over --max-body-bytes 413. GET /ping and /health answer 200, /version the mtrack version. Listens on 127.0.0.1 unless --host says otherwise; stops on Ctrl-C or SIGTERM.';
  static override examples = [
    "<%= config.bin %> models serve results/model",
    "<%= config.bin %> models serve models:/morphogenetic-spirals@champion --port 8000 --host 0.0.0.0",
    `curl -s -H 'Content-Type: application/json' -d '{"inputs": [[0.5, -1.2, 0.3]]}' http://127.0.0.1:5001/invocations`,
  ];
  static override enableJsonFlag = false;
  static override args = {
    model: Args.string({
      description:
        "the model's directory (e.g. results/model), or models:/<name>@<alias>, models:/<name>/<version>, models:/<name>/latest, runs:/<run>/model",
      required: true,
    }),
  };
  static override flags = {
    port: Flags.integer({
      char: "p",
      default: 5001,
      min: 0,
      max: 65535,
      description: "port (0 picks a free one)",
    }),
    host: Flags.string({ default: "127.0.0.1", description: "address to listen on" }),
    "max-body-bytes": Flags.integer({
      min: 1,
      default: DEFAULT_MAX_BODY_BYTES,
      description: "largest request body accepted (larger ones answer 413)",
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ModelsServe);
    // Listen for the signals from the start: a Ctrl-C while the model loads still cleans up and exits 0.
    let onStop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => {
      onStop = () => {
        process.off("SIGINT", onStop);
        process.off("SIGTERM", onStop);
        resolve();
      };
      process.on("SIGINT", onStop);
      process.on("SIGTERM", onStop);
    });
    try {
      const target = await resolveServeTarget(process.cwd(), args.model);
      try {
        const predictor = await loadPredictor(target.dir);
        try {
          const server = await startScoringServer({
            predictor,
            host: flags.host,
            port: flags.port,
            maxBodyBytes: flags["max-body-bytes"],
            version: mtrackVersion(),
            logger: (e: ScoringEvent) => {
              // Client mistakes are the client's to read in the answer; only server faults are logged.
              if (e.status >= 500) this.logToStderr(`${e.method} ${e.path} ${e.status}: ${e.error ?? ""}`);
            },
          });
          this.log(
            `Serving ${target.label} on ${server.url} (flavor ${predictor.flavor}, ${predictor.inputDim} inputs, ${predictor.scalesInputs ? "raw features, standardised with the training scaler" : "features as the model takes them (no scaler saved)"}, backend ${predictor.backend})`,
          );
          await stopped;
          await server.close();
        } finally {
          predictor.dispose();
        }
      } finally {
        target.cleanup();
      }
    } finally {
      onStop();
    }
  }
}
