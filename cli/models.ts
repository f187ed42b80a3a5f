/**
 * What the `mtrack models ...` commands share: opening the registry as the OS user, reading
 * `name`, `name/<version>` and `name@<alias>` references, and describing the git tags a change wrote.
 */
import os from "node:os";
import type { GitTagResult } from "../src/registry/gto.js";
import { type ModelRegistry, ModelRegistry as Models } from "../src/registry/models.js";
import { parseVersion, validateAlias, validateModelName } from "../src/registry/names.js";
import type { ModelVersion } from "../src/registry/types.js";
import { isModelUri } from "../src/registry/uri.js";
import type { Repo } from "../src/repo.js";

/** The OS user name, recorded with every registry change made from the CLI. */
export function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "";
  }
}

/** The repository's registry, changes recorded as the OS user. */
export function openModels(repo: Repo): ModelRegistry {
  return Models.open(repo, { user: osUser() });
}

/** A model named on the command line: the model, or one of its versions by number or alias. */
export type ModelRef =
  | { name: string; version?: undefined; alias?: undefined }
  | { name: string; version: number; alias?: undefined }
  | { name: string; alias: string; version?: undefined };

/**
 * Reads `name`, `name/3`, `name@champion` (or the same as `models:/` URIs). Pure.
 *
 * @example
 * parseModelRef("clf/3"); // { name: "clf", version: 3 }
 */
export function parseModelRef(text: string): ModelRef {
  const t = text.startsWith("models:/") ? text.slice("models:/".length) : text;
  const at = t.lastIndexOf("@");
  if (at > 0 && !t.slice(at).includes("/")) {
    const name = t.slice(0, at);
    const alias = t.slice(at + 1);
    validateModelName(name);
    validateAlias(alias);
    return { name, alias };
  }
  const slash = t.lastIndexOf("/");
  if (slash > 0) {
    const name = t.slice(0, slash);
    validateModelName(name);
    return { name, version: parseVersion(t.slice(slash + 1)) };
  }
  validateModelName(t);
  return { name: t };
}

/** The version a reference names (an error when it names only the model). */
export function versionOf(models: ModelRegistry, ref: ModelRef): ModelVersion | undefined {
  if (ref.version !== undefined) return models.getVersion(ref.name, ref.version);
  if (ref.alias !== undefined) return models.getVersionByAlias(ref.name, ref.alias);
  return undefined;
}

/** Lines describing the git side of a change: the tags written, or why none was. */
export function gitLines(results: readonly GitTagResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    for (const t of r.tags) lines.push(`  git tag ${t}`);
    if (r.tags.length === 0 && r.skipped) lines.push(`  no git tag: ${r.skipped}`);
  }
  return lines;
}

/** True when a command-line source is a model URI rather than a path. */
export { isModelUri };
