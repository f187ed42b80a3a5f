/**
 * Repository settings: `.mtrack/config.yaml` (committed, shared with the team) overlaid by
 * `.mtrack/config.local.yaml` (git-ignored: machine-specific settings and credentials).
 * Keys are dotted (`cache.type`) and validated against a schema, so a typo is an error, not a no-op.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { MtrackError } from "./errors.js";
import { type FsLike, writeFileAtomic } from "./util/fs.js";

export type ConfigValue = string | number | boolean;

export interface ConfigKeySpec {
  description: string;
  default?: ConfigValue;
  /** Parses a CLI string into the stored value; throws ERR_MTRACK_CONFIG_INVALID when it is not valid. */
  parse: (raw: string, key: string) => ConfigValue;
}

function invalidValue(key: string, raw: string, expected: string): MtrackError {
  return new MtrackError("ERR_MTRACK_CONFIG_INVALID", `Invalid value ${JSON.stringify(raw)} for ${key}.`, {
    hint: `Expected ${expected}.`,
    data: { key, value: raw },
  });
}

const oneOf =
  (...allowed: string[]) =>
  (raw: string, key: string): ConfigValue => {
    if (!allowed.includes(raw)) throw invalidValue(key, raw, `one of ${allowed.join(", ")}`);
    return raw;
  };

const positiveNumber = (raw: string, key: string): ConfigValue => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw invalidValue(key, raw, "a positive number");
  return n;
};

const positiveInt = (raw: string, key: string): ConfigValue => {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw invalidValue(key, raw, "a positive whole number");
  return n;
};

const bool = (raw: string, key: string): ConfigValue => {
  if (["true", "yes", "1", "on"].includes(raw.toLowerCase())) return true;
  if (["false", "no", "0", "off"].includes(raw.toLowerCase())) return false;
  throw invalidValue(key, raw, "true or false");
};

const anyString = (raw: string): ConfigValue => raw;

/** The fixed keys. Patterned keys (e.g. `remote.<name>.url`) are in CONFIG_PATTERNS. */
export const CONFIG_KEYS: Record<string, ConfigKeySpec> = {
  "cache.type": {
    description:
      "How checkout puts data in the workspace: copy (reflink where the filesystem supports it, else a full copy; edits can never corrupt the store), hardlink or symlink (fast and space-saving; files are made read-only, use `mtrack unprotect` to edit).",
    default: "copy",
    parse: oneOf("copy", "hardlink", "symlink"),
  },
  "cache.pack_threshold": {
    description: "Files smaller than this many bytes are stored in packs instead of one store file each.",
    default: 262144,
    parse: positiveInt,
  },
  "core.lock_timeout": {
    description: "Seconds to wait for another mtrack process to release the repository lock before failing.",
    default: 10,
    parse: positiveNumber,
  },
  "core.fsync": {
    description:
      "fsync every stored object before it becomes visible (survives power loss; slower). Interrupted commands are safe either way.",
    default: false,
    parse: bool,
  },
  "core.remote": { description: "The default remote's name.", parse: anyString },
  "server.db": {
    description:
      "PostgreSQL URL of the team server's database (`mtrack server migrate`); put one with a password in config.local.yaml, or use MTRACK_DB_URL.",
    parse: anyString,
  },
};

/** Keys with a variable part: [regex, spec]. Other layers (remotes) register theirs here. */
export const CONFIG_PATTERNS: Array<[RegExp, ConfigKeySpec]> = [];

/** The spec for a key, or throws ERR_MTRACK_CONFIG_KEY_UNKNOWN. */
export function configKeySpec(key: string): ConfigKeySpec {
  const spec = CONFIG_KEYS[key] ?? CONFIG_PATTERNS.find(([re]) => re.test(key))?.[1];
  if (!spec) {
    throw new MtrackError("ERR_MTRACK_CONFIG_KEY_UNKNOWN", `Unknown config key ${JSON.stringify(key)}.`, {
      hint: `Known keys: ${Object.keys(CONFIG_KEYS).join(", ")}. See \`mtrack config --list\`.`,
      data: { key },
    });
  }
  return spec;
}

export type ConfigScope = "repo" | "local";

export function configFile(mtrackDir: string, scope: ConfigScope): string {
  return path.join(mtrackDir, scope === "repo" ? "config.yaml" : "config.local.yaml");
}

function flatten(obj: unknown, prefix: string, out: Record<string, ConfigValue>, file: string): void {
  if (obj === null || obj === undefined) return;
  if (typeof obj !== "object" || Array.isArray(obj)) {
    if (typeof obj === "string" || typeof obj === "number" || typeof obj === "boolean") {
      out[prefix] = obj;
      return;
    }
    throw new MtrackError("ERR_MTRACK_CONFIG_INVALID", `${file}: value of ${prefix} must be a scalar.`, {
      data: { file, key: prefix },
    });
  }
  for (const [k, v] of Object.entries(obj as Record<string, unknown>))
    flatten(v, prefix ? `${prefix}.${k}` : k, out, file);
}

/** Reads one config file into flat dotted keys (missing file → empty). */
export function readConfigFile(file: string, fs: FsLike = nodeFs): Record<string, ConfigValue> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return {};
  }
  return parseConfigText(text, file);
}

/**
 * Parses config.yaml text into flat dotted keys; `file` names it in errors (e.g. a file read from git).
 *
 * @example
 * parseConfigText("core:\n  remote: origin\n", "config.yaml") // { "core.remote": "origin" }
 */
export function parseConfigText(text: string, file: string): Record<string, ConfigValue> {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new MtrackError(
      "ERR_MTRACK_CONFIG_INVALID",
      `${file}${line ? `:${line}` : ""}: ${e.message.split("\n")[0]}`,
      {
        hint: "Fix the YAML syntax, or set values with `mtrack config <key> <value>`.",
        data: { file, line },
      },
    );
  }
  const out: Record<string, ConfigValue> = {};
  flatten(doc.toJS(), "", out, file);
  return out;
}

/** Effective settings: defaults < config.yaml < config.local.yaml. */
export class Config {
  constructor(
    readonly repo: Record<string, ConfigValue>,
    readonly local: Record<string, ConfigValue>,
  ) {}

  static load(mtrackDir: string, fs: FsLike = nodeFs): Config {
    return new Config(
      readConfigFile(configFile(mtrackDir, "repo"), fs),
      readConfigFile(configFile(mtrackDir, "local"), fs),
    );
  }

  /** The effective value of a key (default included), or undefined. */
  get(key: string): ConfigValue | undefined {
    return this.local[key] ?? this.repo[key] ?? CONFIG_KEYS[key]?.default;
  }

  getString(key: string): string {
    return String(this.get(key) ?? "");
  }

  getNumber(key: string): number {
    return Number(this.get(key));
  }

  getBool(key: string): boolean {
    return this.get(key) === true;
  }

  /** Every explicitly set key with its value and where it comes from. */
  entries(): Array<{ key: string; value: ConfigValue; scope: ConfigScope | "default" }> {
    const out = new Map<string, { key: string; value: ConfigValue; scope: ConfigScope | "default" }>();
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      if (spec.default !== undefined) out.set(key, { key, value: spec.default, scope: "default" });
    }
    for (const [key, value] of Object.entries(this.repo)) out.set(key, { key, value, scope: "repo" });
    for (const [key, value] of Object.entries(this.local)) out.set(key, { key, value, scope: "local" });
    return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  }
}

function setIn(obj: Record<string, unknown>, key: string, value: ConfigValue | undefined): void {
  const parts = key.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== "object" || next === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/**
 * Sets (or with value undefined, unsets) a key in one config file, validating key and value.
 *
 * @example
 * setConfigValue(".mtrack", "cache.type", "hardlink");
 */
export function setConfigValue(
  mtrackDir: string,
  key: string,
  raw: string | undefined,
  options: { scope?: ConfigScope; fs?: FsLike } = {},
): ConfigValue | undefined {
  const fs = options.fs ?? nodeFs;
  const spec = configKeySpec(key);
  const value = raw === undefined ? undefined : spec.parse(raw, key);
  const file = configFile(mtrackDir, options.scope ?? "repo");
  let doc: YAML.Document;
  try {
    doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
  } catch {
    doc = new YAML.Document({});
  }
  const obj = (doc.toJS() ?? {}) as Record<string, unknown>;
  setIn(obj, key, value);
  writeFileAtomic(file, YAML.stringify(obj), { fs });
  return value;
}
