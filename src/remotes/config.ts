/**
 * Remote settings in the repository config: `remote.<name>.url` and its options in the committed
 * config.yaml; `remote.<name>.token` only in the git-ignored config.local.yaml (or MTRACK_REMOTE_TOKEN),
 * so a credential never lands in git. `core.remote` names the default.
 */
import * as path from "node:path";
import {
  CONFIG_PATTERNS,
  type Config,
  type ConfigKeySpec,
  type ConfigValue,
  setConfigValue,
} from "../config.js";
import { MtrackError } from "../errors.js";
import type { FsLike } from "../util/fs.js";

const NAME = "[A-Za-z0-9][A-Za-z0-9_-]{0,63}";
const NAME_RE = new RegExp(`^${NAME}$`);

/** The per-remote options, with what each one means. */
export const REMOTE_OPTIONS: Record<string, ConfigKeySpec> = {
  url: {
    description:
      "Where the remote is: a directory (/mnt/share/store, file://...), s3://bucket/prefix or http(s)://host:port of `mtrack server`.",
    parse: (raw, key) => {
      remoteKind(raw, key);
      return raw;
    },
  },
  endpoint: {
    description: "S3: endpoint URL of an S3-compatible service (MinIO, SeaweedFS, ...).",
    parse: (r) => r,
  },
  region: { description: "S3: the bucket's region.", parse: (r) => r },
  profile: { description: "S3: the AWS credentials profile to use.", parse: (r) => r },
  jobs: {
    description: "Parallel transfers for this remote.",
    parse: (raw, key) => {
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n <= 0 || n > 256) {
        throw new MtrackError(
          "ERR_MTRACK_CONFIG_INVALID",
          `Invalid value ${JSON.stringify(raw)} for ${key}.`,
          {
            hint: "Expected a whole number from 1 to 256.",
            data: { key, value: raw },
          },
        );
      }
      return n;
    },
  },
  token: {
    description: "HTTP: bearer token for `mtrack server` (config.local.yaml only; or MTRACK_REMOTE_TOKEN).",
    parse: (r) => r,
  },
};

/**
 * Adds the `remote.<name>.<option>` patterns to the config schema (idempotent), so `mtrack config` and
 * config.yaml validation know them.
 */
export function registerRemoteConfigKeys(): void {
  for (const [opt, spec] of Object.entries(REMOTE_OPTIONS)) {
    const re = new RegExp(`^remote\\.${NAME}\\.${opt}$`);
    if (!CONFIG_PATTERNS.some(([r]) => r.source === re.source)) CONFIG_PATTERNS.push([re, spec]);
  }
}
registerRemoteConfigKeys();

/** The backend a remote url needs. */
export type RemoteKind = "local" | "s3" | "http";

/** Which backend a url needs; throws ERR_MTRACK_CONFIG_INVALID for schemes mtrack cannot talk to. */
export function remoteKind(url: string, key = "url"): RemoteKind {
  if (/^s3:\/\/[^/]+/.test(url)) return "s3";
  if (/^https?:\/\//.test(url)) return "http";
  if (url.startsWith("file://") || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return "local";
  throw new MtrackError("ERR_MTRACK_CONFIG_INVALID", `Unsupported remote url ${JSON.stringify(url)}.`, {
    hint: "Use a directory path, file://..., s3://bucket/prefix or http(s)://host:port.",
    data: { key, value: url },
  });
}

/** Everything needed to open one remote. */
export interface RemoteSpec {
  name: string;
  url: string;
  kind: RemoteKind;
  endpoint?: string;
  region?: string;
  profile?: string;
  jobs?: number;
  token?: string;
}

function checkName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new MtrackError("ERR_MTRACK_INVALID_NAME", `Invalid remote name ${JSON.stringify(name)}.`, {
      hint: "Use letters, digits, '-' and '_' (up to 64 characters).",
      data: { name },
    });
  }
  return name;
}

/** Remote names configured (in either config file), sorted. */
export function remoteNames(config: Config): string[] {
  const names = new Set<string>();
  for (const key of [...Object.keys(config.repo), ...Object.keys(config.local)]) {
    const m = /^remote\.([^.]+)\.url$/.exec(key);
    if (m?.[1]) names.add(m[1]);
  }
  return [...names].sort();
}

function unknownRemote(name: string, config: Config): MtrackError {
  const known = remoteNames(config);
  return new MtrackError("ERR_MTRACK_CONFIG_INVALID", `No remote named ${JSON.stringify(name)}.`, {
    hint: known.length
      ? `Configured remotes: ${known.join(", ")}.`
      : "Add one with `mtrack remote add <name> <url> --default`.",
    data: { key: `remote.${name}.url`, remote: name },
  });
}

/**
 * The remote to use: `name`, else `core.remote`, else the only one configured.
 *
 * @example
 * resolveRemote(repo.config, { root: repo.root, env: process.env }) // { name: "origin", kind: "s3", ... }
 */
export function resolveRemote(
  config: Config,
  options: { name?: string; root: string; env?: NodeJS.ProcessEnv },
): RemoteSpec {
  let name = options.name ?? (config.get("core.remote") as string | undefined);
  if (!name) {
    const all = remoteNames(config);
    if (all.length !== 1) {
      throw new MtrackError("ERR_MTRACK_CONFIG_INVALID", "No default remote is set.", {
        hint: all.length
          ? `Pass -r <name> (one of ${all.join(", ")}) or set one with \`mtrack remote add --default\`.`
          : "Add one with `mtrack remote add <name> <url> --default`.",
        data: { key: "core.remote" },
      });
    }
    name = all[0]!;
  }
  checkName(name);
  const get = (opt: string): ConfigValue | undefined => config.get(`remote.${name}.${opt}`);
  const rawUrl = get("url");
  if (rawUrl === undefined) throw unknownRemote(name, config);
  if (config.repo[`remote.${name}.token`] !== undefined) {
    throw new MtrackError(
      "ERR_MTRACK_CONFIG_INVALID",
      `remote.${name}.token is set in the committed config.yaml; tokens belong in config.local.yaml.`,
      {
        hint: `Remove it from .mtrack/config.yaml (and revoke the token: it may be in git history), then \`mtrack remote modify ${name} token <token>\`.`,
        data: { key: `remote.${name}.token` },
      },
    );
  }
  let url = String(rawUrl);
  const kind = remoteKind(url);
  if (kind === "local") {
    const p = url.startsWith("file://") ? decodeURIComponent(url.slice("file://".length)) : url;
    // A relative directory is relative to the repository root, not to wherever the command runs.
    url = path.resolve(options.root, p);
  }
  const spec: RemoteSpec = { name, url, kind };
  const str = (opt: string) => {
    const v = get(opt);
    return v === undefined ? undefined : String(v);
  };
  const endpoint = str("endpoint");
  if (endpoint) spec.endpoint = endpoint;
  const region = str("region");
  if (region) spec.region = region;
  const profile = str("profile");
  if (profile) spec.profile = profile;
  const jobs = get("jobs");
  if (jobs !== undefined) spec.jobs = Number(jobs);
  const token = options.env?.MTRACK_REMOTE_TOKEN || str("token");
  if (token) spec.token = token;
  return spec;
}

/** One row of `mtrack remote list`. */
export interface RemoteListing {
  name: string;
  url: string;
  default: boolean;
  options: Record<string, ConfigValue>;
}

/** Every configured remote with its options (tokens masked). */
export function listRemotes(config: Config): RemoteListing[] {
  const def = config.get("core.remote");
  return remoteNames(config).map((name) => {
    const options: Record<string, ConfigValue> = {};
    for (const opt of Object.keys(REMOTE_OPTIONS)) {
      if (opt === "url") continue;
      const v = config.get(`remote.${name}.${opt}`);
      if (v !== undefined) options[opt] = opt === "token" ? "***" : v;
    }
    return { name, url: String(config.get(`remote.${name}.url`)), default: def === name, options };
  });
}

/**
 * Adds a remote to the committed config (`--default` also sets core.remote). Refuses an existing name.
 *
 * @example
 * addRemote(repo.paths.mtrackDir, repo.config, "origin", "s3://bucket/project", { makeDefault: true });
 */
export function addRemote(
  mtrackDir: string,
  config: Config,
  name: string,
  url: string,
  options: { makeDefault?: boolean; fs?: FsLike } = {},
): void {
  checkName(name);
  if (config.get(`remote.${name}.url`) !== undefined) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Remote ${JSON.stringify(name)} already exists.`, {
      hint: `Change it with \`mtrack remote modify ${name} url <url>\`, or remove it first.`,
      data: { remote: name },
    });
  }
  setConfigValue(mtrackDir, `remote.${name}.url`, url, { fs: options.fs });
  if (options.makeDefault) setConfigValue(mtrackDir, "core.remote", name, { fs: options.fs });
}

/** Sets one option of an existing remote; `token` goes to config.local.yaml, the rest to config.yaml. */
export function modifyRemote(
  mtrackDir: string,
  config: Config,
  name: string,
  option: string,
  value: string | undefined,
  options: { fs?: FsLike } = {},
): void {
  checkName(name);
  if (config.get(`remote.${name}.url`) === undefined) throw unknownRemote(name, config);
  if (!(option in REMOTE_OPTIONS)) {
    throw new MtrackError(
      "ERR_MTRACK_CONFIG_KEY_UNKNOWN",
      `Unknown remote option ${JSON.stringify(option)}.`,
      {
        hint: `Remote options: ${Object.keys(REMOTE_OPTIONS).join(", ")}.`,
        data: { key: `remote.${name}.${option}` },
      },
    );
  }
  const scope = option === "token" ? "local" : "repo";
  setConfigValue(mtrackDir, `remote.${name}.${option}`, value, { scope, fs: options.fs });
}

/** Removes a remote from both config files (and core.remote when it was the default). */
export function removeRemote(
  mtrackDir: string,
  config: Config,
  name: string,
  options: { fs?: FsLike } = {},
): void {
  checkName(name);
  if (config.get(`remote.${name}.url`) === undefined) throw unknownRemote(name, config);
  for (const opt of Object.keys(REMOTE_OPTIONS)) {
    if (config.repo[`remote.${name}.${opt}`] !== undefined)
      setConfigValue(mtrackDir, `remote.${name}.${opt}`, undefined, { fs: options.fs });
    if (config.local[`remote.${name}.${opt}`] !== undefined)
      setConfigValue(mtrackDir, `remote.${name}.${opt}`, undefined, { scope: "local", fs: options.fs });
  }
  if (config.repo["core.remote"] === name)
    setConfigValue(mtrackDir, "core.remote", undefined, { fs: options.fs });
  if (config.local["core.remote"] === name)
    setConfigValue(mtrackDir, "core.remote", undefined, { scope: "local", fs: options.fs });
}
