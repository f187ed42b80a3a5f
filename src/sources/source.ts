/**
 * Another mtrack repository read as a data source (`mtrack ls`, `mtrack get <repo> <path>`): its git
 * history gives pointers and config, its default remote gives the objects. A local work tree is read in
 * place; any other git URL (https://, ssh://, git@host:path, a bare repository) is fetched shallowly,
 * only the commit asked for, into a cache directory that later calls reuse.
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { Config, parseConfigText } from "../config.js";
import { isMtrackError, MtrackError } from "../errors.js";
import { type GitRepo, openGitRepo } from "../git/index.js";
import { type RemoteSpec, resolveRemote } from "../remotes/index.js";

/** A source repository opened at one commit. */
export interface Source {
  /** The repository as the user named it. */
  url: string;
  /** The revision asked for. */
  rev: string;
  /** The commit it resolved to. */
  commit: string;
  /** Read access to the source's git objects (its own work tree, or the cached shallow fetch). */
  git: GitRepo;
  /** Where relative paths of the source's config (a directory remote) are relative to. */
  root: string;
}

/** True when `url` names a repository that git must fetch (as opposed to a local work tree). */
function localWorkTree(url: string, fs: typeof nodeFs): string | undefined {
  let p = url;
  if (url.startsWith("file://")) p = decodeURIComponent(url.slice("file://".length));
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]+@[^/:]+:/.test(url)) return undefined;
  const abs = path.resolve(p);
  if (fs.existsSync(path.join(abs, ".git"))) return abs;
  return undefined;
}

function notARepo(url: string, detail: string): MtrackError {
  return new MtrackError("ERR_MTRACK_SOURCE_INVALID", `${url} is not a git repository (${detail}).`, {
    hint: "Pass a local work tree, file://..., https://... or git@host:path of a git repository that uses mtrack.",
    data: { url },
  });
}

function revNotFound(url: string, rev: string): MtrackError {
  return new MtrackError("ERR_MTRACK_GIT_REV_NOT_FOUND", `${url} has no revision ${JSON.stringify(rev)}.`, {
    hint: "Pass --rev with a branch, tag or commit of that repository (`git ls-remote <repo>` lists them).",
    data: { url, rev },
  });
}

/** Runs git (never prompting for credentials: a source that needs them must fail, not hang). */
function git(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync("git", args, {
    cwd,
    env: { ...env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "" },
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.error) {
    throw new MtrackError("ERR_MTRACK_GIT", `Could not run git: ${r.error.message}`, {
      hint: "Reading a repository by URL needs the git command on PATH.",
      data: { args },
    });
  }
  return { ok: r.status === 0, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

/**
 * The commit of `rev` in a shallow fetch of `url` kept in `cacheDir` (created on first use). A full
 * commit id already fetched is not fetched again; names (branches, tags, HEAD) are asked for each time,
 * since they move.
 */
function fetchShallow(url: string, rev: string, cacheDir: string, env: NodeJS.ProcessEnv, fs: typeof nodeFs) {
  if (!fs.existsSync(path.join(cacheDir, ".git"))) {
    fs.mkdirSync(path.dirname(cacheDir), { recursive: true });
    const tmp = `${cacheDir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const init = git(["init", "-q"], tmp, env);
    if (!init.ok)
      throw new MtrackError("ERR_MTRACK_GIT", `git init failed: ${init.stderr}`, { data: { url } });
    try {
      fs.renameSync(tmp, cacheDir);
    } catch {
      // Another process made it first: use theirs.
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (/^[0-9a-f]{40}$/.test(rev)) {
    const have = git(["cat-file", "-e", `${rev}^{commit}`], cacheDir, env);
    if (have.ok) return rev;
  }
  const fetched = git(["fetch", "-q", "--depth", "1", "--no-tags", url, rev], cacheDir, env);
  if (!fetched.ok) {
    const err = fetched.stderr;
    if (
      /couldn't find remote ref|not our ref|no such remote ref|unadvertised object|invalid refspec|not a valid/i.test(
        err,
      )
    )
      throw revNotFound(url, rev);
    if (
      /does not appear to be a git repository|not found|repository .* does not exist|not a git repository/i.test(
        err,
      )
    )
      throw notARepo(url, err.split("\n")[0] ?? "");
    throw new MtrackError(
      "ERR_MTRACK_REMOTE_UNREACHABLE",
      `Could not fetch ${url}: ${err.split("\n").find((l) => l.startsWith("fatal:")) ?? err.split("\n")[0]}`,
      {
        hint: "Check the URL, the network and your git credentials for that host (mtrack never prompts for them).",
        data: { url, rev },
      },
    );
  }
  const head = git(["rev-parse", "FETCH_HEAD^{commit}"], cacheDir, env);
  if (!head.ok) throw revNotFound(url, rev);
  return head.stdout;
}

/**
 * Opens `url` at `rev`. `cacheRoot` holds the shallow fetches of non-local repositories (one directory
 * per URL, reused across calls).
 *
 * @example
 * const src = await openSource({ url: "git@github.com:org/data.git", rev: "v2", cacheRoot: ".mtrack/sources" });
 */
export async function openSource(options: {
  url: string;
  rev?: string;
  cacheRoot: string;
  env?: NodeJS.ProcessEnv;
  fs?: typeof nodeFs;
}): Promise<Source> {
  const fs = options.fs ?? nodeFs;
  const env = options.env ?? process.env;
  const rev = options.rev ?? "HEAD";
  const url = options.url;
  const local = localWorkTree(url, fs);
  if (local) {
    const g = openGitRepo(local);
    let commit: string;
    try {
      commit = await g.resolveRev(rev);
    } catch (err) {
      if (isMtrackError(err, "ERR_MTRACK_GIT_REV_NOT_FOUND")) throw revNotFound(url, rev);
      throw err;
    }
    return { url, rev, commit, git: g, root: local };
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^[^/]+@[^/:]+:/.test(url) && !fs.existsSync(url)) {
    throw notARepo(url, "no such directory");
  }
  const key = crypto.createHash("sha256").update(url).digest("hex").slice(0, 16);
  const cacheDir = path.join(options.cacheRoot, key);
  const commit = fetchShallow(url, rev, cacheDir, env, fs);
  const root = url.startsWith("file://")
    ? decodeURIComponent(url.slice(7))
    : /^[a-z]+:\/\//i.test(url)
      ? cacheDir
      : path.resolve(url);
  return { url, rev, commit, git: openGitRepo(cacheDir), root };
}

/**
 * The source's default remote as its committed config names it, with the caller's own settings for the
 * same URL (tokens, profiles, endpoints in their config.local.yaml) laid over it: credentials never come
 * from the source.
 *
 * @example
 * const spec = await sourceRemote(src, { own: repo?.config, env: process.env });
 */
export async function sourceRemote(
  src: Source,
  options: { own?: Config; env?: NodeJS.ProcessEnv } = {},
): Promise<RemoteSpec> {
  const bytes = await src.git.readFileAtRev(src.commit, ".mtrack/config.yaml");
  const noRemote = (why: string) =>
    new MtrackError(
      "ERR_MTRACK_SOURCE_NO_REMOTE",
      `${src.url}@${src.rev} has no mtrack remote to download from (${why}).`,
      {
        hint: "The source repository must commit a default remote (`mtrack remote add <name> <url> --default` there, then commit .mtrack/config.yaml and `mtrack push`).",
        data: { url: src.url, rev: src.rev },
      },
    );
  if (!bytes) throw noRemote("no .mtrack/config.yaml");
  const repoValues = parseConfigText(bytes.toString("utf8"), `${src.url}:.mtrack/config.yaml`);
  // A token committed in the source is ignored, as resolveRemote would refuse it.
  for (const k of Object.keys(repoValues)) if (/\.token$/.test(k)) delete repoValues[k];
  let spec: RemoteSpec;
  try {
    spec = resolveRemote(new Config(repoValues, {}), { root: src.root, env: options.env });
  } catch (err) {
    if (isMtrackError(err, "ERR_MTRACK_CONFIG_INVALID")) throw noRemote("no default remote configured");
    throw err;
  }
  if (options.own) {
    // The user's own remote with the same URL lends its credentials and endpoint settings.
    for (const [key, value] of Object.entries(options.own.repo).concat(Object.entries(options.own.local))) {
      const m = /^remote\.([^.]+)\.url$/.exec(key);
      if (!m || String(value) !== String(repoValues[`remote.${spec.name}.url`] ?? "")) continue;
      const own = options.own;
      const opt = (o: string) => own.get(`remote.${m[1]}.${o}`);
      if (opt("token") !== undefined && !spec.token) spec.token = String(opt("token"));
      if (opt("profile") !== undefined) spec.profile = String(opt("profile"));
      if (opt("endpoint") !== undefined) spec.endpoint = String(opt("endpoint"));
      if (opt("region") !== undefined) spec.region = String(opt("region"));
    }
  }
  return spec;
}
