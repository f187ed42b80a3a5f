/**
 * Model URIs, as MLflow writes them: `models:/<name>/<version>`, `models:/<name>@<alias>`,
 * `models:/<name>/latest`, `models:/<name>/<Stage>`, `models:/m-<id>` (a logged model) and
 * `runs:/<run-id>/<path>`. Pure parsing.
 */
import { MtrackError } from "../errors.js";
import { normaliseStage, parseVersion, validateAlias, validateModelName } from "./names.js";

/** What a model URI names. */
export type ModelUri =
  | { kind: "version"; name: string; version: number }
  | { kind: "alias"; name: string; alias: string }
  | { kind: "latest"; name: string }
  | { kind: "stage"; name: string; stage: "Staging" | "Production" }
  | { kind: "logged"; modelId: string }
  | { kind: "run"; runId: string; path: string };

/** A logged model id: `m-` and 32 hex digits. */
export const LOGGED_MODEL_ID = /^m-[0-9a-f]{32}$/;

function bad(uri: string, reason: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_MODEL_URI_INVALID",
    `Invalid model URI ${JSON.stringify(uri)}: ${reason}.`,
    {
      hint: "Use models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest or runs:/<run-id>/<path>.",
      data: { uri, reason },
    },
  );
}

/** True when the text looks like a model URI (rather than a workspace path). */
export function isModelUri(text: string): boolean {
  return text.startsWith("models:/") || text.startsWith("runs:/");
}

/**
 * Parses a model URI.
 *
 * @example
 * parseModelUri("models:/clf@champion"); // { kind: "alias", name: "clf", alias: "champion" }
 * parseModelUri("runs:/3f2a.../model");   // { kind: "run", runId: "3f2a...", path: "model" }
 */
export function parseModelUri(uri: string): ModelUri {
  if (uri.startsWith("runs:/")) {
    const rest = uri.slice("runs:/".length).replace(/^\/+/, "");
    const slash = rest.indexOf("/");
    const runId = slash < 0 ? rest : rest.slice(0, slash);
    const p = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
    if (!/^[0-9a-f]{4,32}$/.test(runId)) throw bad(uri, "the run id must be hex digits");
    if (p.split("/").some((s) => s === ".." || s === "."))
      throw bad(uri, "the path has '.' or '..' segments");
    return { kind: "run", runId, path: p };
  }
  if (!uri.startsWith("models:/")) throw bad(uri, "it starts with neither models:/ nor runs:/");
  const rest = uri.slice("models:/".length).replace(/^\/+/, "").replace(/\/+$/, "");
  if (LOGGED_MODEL_ID.test(rest)) return { kind: "logged", modelId: rest };
  const at = rest.lastIndexOf("@");
  if (at >= 0 && !rest.slice(at).includes("/")) {
    const name = rest.slice(0, at);
    const alias = rest.slice(at + 1);
    try {
      validateModelName(name);
      validateAlias(alias);
    } catch (err) {
      throw bad(uri, (err as Error).message);
    }
    return { kind: "alias", name, alias };
  }
  const slash = rest.lastIndexOf("/");
  if (slash < 0) throw bad(uri, "it names no version or alias");
  const name = rest.slice(0, slash);
  const which = rest.slice(slash + 1);
  try {
    validateModelName(name);
  } catch (err) {
    throw bad(uri, (err as Error).message);
  }
  if (which === "latest") return { kind: "latest", name };
  if (/^v?\d+$/.test(which)) return { kind: "version", name, version: parseVersion(which) };
  let stage: string;
  try {
    stage = normaliseStage(which);
  } catch {
    throw bad(uri, `${which} is neither a version number, 'latest', nor a stage`);
  }
  if (stage !== "Staging" && stage !== "Production")
    throw bad(uri, `no version is addressed by stage ${stage}`);
  return { kind: "stage", name, stage };
}

/**
 * The canonical text of a URI.
 *
 * @example
 * formatModelUri({ kind: "version", name: "clf", version: 3 }); // "models:/clf/3"
 */
export function formatModelUri(u: ModelUri): string {
  switch (u.kind) {
    case "version":
      return `models:/${u.name}/${u.version}`;
    case "alias":
      return `models:/${u.name}@${u.alias}`;
    case "latest":
      return `models:/${u.name}/latest`;
    case "stage":
      return `models:/${u.name}/${u.stage}`;
    case "logged":
      return `models:/${u.modelId}`;
    case "run":
      return `runs:/${u.runId}/${u.path}`;
  }
}
