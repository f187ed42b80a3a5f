/**
 * The model registry of one repository: registered models, their numbered versions, tags and aliases,
 * over the event log in `.mtrack/registry/` (registry.ts), with GTO's git tags written beside every
 * change (gto.ts) and model URIs resolved to stored content (uri.ts, content.ts).
 *
 * Every change is checked before anything is written: a registration resolves and stores its content
 * first, then writes one event under the registry lock, then tags git. A registration that fails leaves no
 * version and no tag.
 *
 * @example
 * const models = ModelRegistry.open(repo, { user: "alice" });
 * const { version } = await models.register("clf", "runs:/3f2a/model");
 * await models.setAlias("clf", "champion", version.version);
 * models.resolve("models:/clf@champion").content.hash;
 */
import * as path from "node:path";
import { MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { getRun, readManifest } from "../tracking/read.js";
import {
  contentFromLogged,
  contentFromPath,
  contentFromRun,
  inspectModel,
  materializeModel,
  modelEntries,
} from "./content.js";
import { type GitTagResult, type TagChange, tagChange } from "./gto.js";
import { normaliseStage, STAGE_ALIASES, stageOf, validateAlias, validateModelName } from "./names.js";
import { type EventBody, Registry } from "./registry.js";
import type {
  LoggedModel,
  ModelContent,
  ModelSignature,
  ModelVersion,
  RegisteredModel,
  RegistryState,
} from "./types.js";
import { isModelUri, type ModelUri, parseModelUri } from "./uri.js";

/** The registry directory of a repository. */
export function registryDir(repo: Repo): string {
  return path.join(repo.paths.mtrackDir, "registry");
}

/** Options of {@link ModelRegistry.open}. */
export interface ModelRegistryOptions {
  /** Who makes the changes (the OS user on the CLI, the token's name on the server). */
  user?: string;
  /** Write GTO's git tags for registry changes (default true). */
  gitTags?: boolean;
  clock?: () => number;
  lockTimeoutMs?: number;
}

/** What a model URI (or a version) resolved to. */
export interface ResolvedModel {
  /** The URI as given. */
  uri: string;
  content: ModelContent;
  flavor: string;
  signature: ModelSignature | null;
  runId: string | null;
  commit: string | null;
  /** The registered version, when the URI named one. */
  version?: ModelVersion;
  /** The logged model, when the URI named one (or a run's model is one). */
  logged?: LoggedModel;
}

/** A registry change and what happened on the git side. */
export interface Changed<T> {
  value: T;
  git: GitTagResult[];
}

function notFound(what: string, hint: string, data: Record<string, unknown>): MtrackError {
  return new MtrackError("ERR_MTRACK_MODEL_NOT_FOUND", `${what} does not exist.`, { hint, data });
}

/** ERR_MTRACK_MODEL_NOT_FOUND for a registered model (shared with the UI's read-only API). */
export function modelNotFound(name: string): MtrackError {
  return notFound(`Registered model ${JSON.stringify(name)}`, "List models with `mtrack models list`.", {
    name,
  });
}

/** ERR_MTRACK_MODEL_NOT_FOUND for a version of a model. */
export function versionNotFound(name: string, version: number): MtrackError {
  return notFound(
    `Version ${version} of model ${JSON.stringify(name)}`,
    `List its versions with \`mtrack models show ${name}\`.`,
    { name, version },
  );
}

/**
 * The model registry of a repository.
 */
export class ModelRegistry {
  readonly repo: Repo;
  readonly log: Registry;
  readonly user: string;
  private readonly gitTags: boolean;

  private constructor(repo: Repo, log: Registry, user: string, gitTags: boolean) {
    this.repo = repo;
    this.log = log;
    this.user = user;
    this.gitTags = gitTags;
  }

  /** Opens the registry of `repo` (nothing is created until the first change). */
  static open(repo: Repo, options: ModelRegistryOptions = {}): ModelRegistry {
    const user = options.user ?? "";
    const log = new Registry({
      dir: registryDir(repo),
      user,
      fs: repo.fs,
      clock: options.clock,
      lockTimeoutMs: options.lockTimeoutMs ?? repo.config.getNumber("core.lock_timeout") * 1000,
    });
    return new ModelRegistry(repo, log, user, options.gitTags ?? true);
  }

  /** The folded registry. */
  state(): RegistryState {
    return this.log.state();
  }

  /** Registered models, sorted by name. */
  listModels(): RegisteredModel[] {
    return [...this.state().models.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A registered model, or ERR_MTRACK_MODEL_NOT_FOUND. */
  getModel(name: string): RegisteredModel {
    const m = this.state().models.get(name);
    if (m === undefined) throw modelNotFound(name);
    return m;
  }

  /** A live version, or ERR_MTRACK_MODEL_NOT_FOUND. */
  getVersion(name: string, version: number): ModelVersion {
    const v = this.getModel(name).versions.get(version);
    if (v === undefined) throw versionNotFound(name, version);
    return v;
  }

  /** The version an alias points at, or ERR_MTRACK_MODEL_NOT_FOUND. */
  getVersionByAlias(name: string, alias: string): ModelVersion {
    const m = this.getModel(name);
    const n = m.aliases[alias];
    if (n === undefined) {
      throw notFound(
        `Alias ${JSON.stringify(alias)} of model ${JSON.stringify(name)}`,
        `Set it with \`mtrack models alias ${name} ${alias} <version>\`.`,
        { name, alias },
      );
    }
    return this.getVersion(name, n);
  }

  /** The highest live version, or ERR_MTRACK_MODEL_NOT_FOUND when the model has none. */
  latestVersion(name: string): ModelVersion {
    const m = this.getModel(name);
    const top = Math.max(0, ...m.versions.keys());
    if (top === 0) {
      throw notFound(
        `A version of model ${JSON.stringify(name)}`,
        `Register one: mtrack models register ${name} <source>`,
        {
          name,
        },
      );
    }
    return this.getVersion(name, top);
  }

  /** Creates a registered model; ERR_MTRACK_MODEL_EXISTS when the name is taken. */
  async createModel(
    name: string,
    options: { description?: string; tags?: Record<string, string> } = {},
  ): Promise<RegisteredModel> {
    validateModelName(name);
    await this.log.write(
      { op: "model.create", name, description: options.description, tags: options.tags },
      (s) => {
        if (s.models.has(name)) {
          throw new MtrackError(
            "ERR_MTRACK_MODEL_EXISTS",
            `Registered model ${JSON.stringify(name)} already exists.`,
            {
              hint: `Register a new version of it: mtrack models register ${name} <source>`,
              data: { name },
            },
          );
        }
        return undefined;
      },
    );
    return this.getModel(name);
  }

  /** Sets a model's description. */
  async updateModel(name: string, options: { description: string }): Promise<RegisteredModel> {
    await this.writeOnModel(name, { op: "model.update", name, description: options.description });
    return this.getModel(name);
  }

  /**
   * Renames a model (its versions and aliases follow). GTO's tags keep the old name: git tags are
   * history, and GTO has no rename.
   */
  async renameModel(name: string, newName: string): Promise<RegisteredModel> {
    validateModelName(newName);
    await this.log.write({ op: "model.rename", name, newName }, (s) => {
      if (!s.models.has(name)) throw modelNotFound(name);
      if (s.models.has(newName)) {
        throw new MtrackError(
          "ERR_MTRACK_MODEL_EXISTS",
          `Registered model ${JSON.stringify(newName)} already exists.`,
          { hint: "Choose another name, or delete that model first.", data: { name: newName } },
        );
      }
      return undefined;
    });
    return this.getModel(newName);
  }

  /** Deletes a model with all its versions and aliases (GTO: `<name>@deprecated#k`). */
  async deleteModel(name: string): Promise<Changed<RegisteredModel>> {
    const before = this.getModel(name);
    await this.writeOnModel(name, { op: "model.delete", name });
    return { value: before, git: await this.tag({ kind: "deprecate", model: name }) };
  }

  /** Sets (value) or deletes (null) a model tag. */
  async setModelTag(name: string, key: string, value: string | null): Promise<RegisteredModel> {
    checkTagKey(key);
    await this.writeOnModel(name, { op: "model.tag", name, key, value }, (m) => {
      if (value === null && m.tags[key] === undefined) throw tagNotFound(key, name);
    });
    return this.getModel(name);
  }

  /**
   * Registers a new version of `name` (creating the model when it does not exist yet) from a source:
   * `runs:/<run>/<path>`, `models:/...` (another version, or a logged model `models:/m-<id>`) or a file
   * or directory (absolute, or relative to the repository root). Prints nothing; returns the version and
   * the git tags written.
   *
   * @example
   * const { value } = await models.register("clf", "results/model");
   * value.version; // 1
   */
  async register(
    name: string,
    source: string,
    options: { description?: string; tags?: Record<string, string>; runId?: string | null } = {},
  ): Promise<Changed<ModelVersion>> {
    validateModelName(name);
    const resolved = await this.resolveSource(source);
    const entries = readManifest(this.repo.store, resolved.content.hash);
    const kind = inspectModel(this.repo.store, entries);
    const commit = resolved.commit ?? (resolved.runId === null ? await this.headCommit() : null);
    if (!this.state().models.has(name)) {
      try {
        await this.createModel(name);
      } catch (err) {
        // Another writer created it meanwhile: register into it.
        if ((err as MtrackError).code !== "ERR_MTRACK_MODEL_EXISTS") throw err;
      }
    }
    const body = (version: number): EventBody => ({
      op: "version.create",
      name,
      version,
      source: resolved.source,
      runId: options.runId ?? resolved.runId,
      modelId: resolved.logged?.modelId ?? null,
      commit,
      content: resolved.content,
      signature: resolved.signature ?? kind.signature,
      flavor: resolved.logged !== undefined && kind.flavor === "files" ? "mlflow" : kind.flavor,
      description: options.description,
      tags: options.tags,
    });
    const event = await this.log.write(body(0), (s) => {
      const m = s.models.get(name);
      if (m === undefined) throw modelNotFound(name);
      return body(m.latestVersion + 1);
    });
    const version = (event as { version: number }).version;
    const git = await this.tag({ kind: "register", model: name, version, commit });
    return { value: this.getVersion(name, version), git };
  }

  /** Sets a version's description. */
  async updateVersion(
    name: string,
    version: number,
    options: { description: string },
  ): Promise<ModelVersion> {
    await this.writeOnVersion(name, version, {
      op: "version.update",
      name,
      version,
      description: options.description,
    });
    return this.getVersion(name, version);
  }

  /** Deletes a version (its number is never reused; aliases on it go too). GTO: `<name>@vN.0.0!#k`. */
  async deleteVersion(name: string, version: number): Promise<Changed<ModelVersion>> {
    const before = this.getVersion(name, version);
    await this.writeOnVersion(name, version, { op: "version.delete", name, version });
    return { value: before, git: await this.tag({ kind: "deregister", model: name, version }) };
  }

  /** Sets (value) or deletes (null) a version tag. */
  async setVersionTag(
    name: string,
    version: number,
    key: string,
    value: string | null,
  ): Promise<ModelVersion> {
    checkTagKey(key);
    await this.writeOnVersion(name, version, { op: "version.tag", name, version, key, value }, (v) => {
      if (value === null && v.tags[key] === undefined) throw tagNotFound(key, `${name} version ${version}`);
    });
    return this.getVersion(name, version);
  }

  /**
   * Points `alias` at `version` (moving it from the version it was on). GTO: the old assignment is
   * cancelled (`<name>#<alias>!#k`) and the new one written (`<name>#<alias>#k`).
   */
  async setAlias(name: string, alias: string, version: number): Promise<Changed<ModelVersion>> {
    validateAlias(alias);
    const before = this.getModel(name).aliases[alias];
    await this.writeOnVersion(name, version, { op: "alias.set", name, alias, version });
    const git: GitTagResult[] = [];
    if (before !== undefined && before !== version)
      git.push(...(await this.tag({ kind: "unassign", model: name, alias, version: before })));
    if (before !== version) git.push(...(await this.tag({ kind: "assign", model: name, alias, version })));
    return { value: this.getVersion(name, version), git };
  }

  /** Removes an alias. GTO: `<name>#<alias>!#k`. */
  async deleteAlias(name: string, alias: string): Promise<Changed<RegisteredModel>> {
    const version = this.getVersionByAlias(name, alias).version;
    await this.writeOnModel(name, { op: "alias.delete", name, alias });
    return {
      value: this.getModel(name),
      git: await this.tag({ kind: "unassign", model: name, alias, version }),
    };
  }

  /**
   * MLflow's legacy stage transition, kept as aliases: Staging → alias `staging`, Production → alias
   * `production` (one version per stage, so the previous holder leaves it whatever `archiveExisting` says);
   * None and Archived remove both aliases from the version.
   */
  async transitionStage(name: string, version: number, stage: string): Promise<Changed<ModelVersion>> {
    const target = normaliseStage(stage);
    const v = this.getVersion(name, version);
    const git: GitTagResult[] = [];
    if (target === "Staging" || target === "Production") {
      const alias = STAGE_ALIASES[target] as string;
      const other = target === "Staging" ? "production" : "staging";
      if (v.aliases.includes(other)) git.push(...(await this.deleteAlias(name, other)).git);
      git.push(...(await this.setAlias(name, alias, version)).git);
    } else {
      for (const alias of Object.values(STAGE_ALIASES))
        if (this.getVersion(name, version).aliases.includes(alias))
          git.push(...(await this.deleteAlias(name, alias)).git);
    }
    return { value: this.getVersion(name, version), git };
  }

  /** The legacy stage of a version (from its aliases). */
  stageOf(v: ModelVersion): "Production" | "Staging" | "None" {
    return stageOf(v.aliases);
  }

  /**
   * What a model URI names: `models:/<name>/<version>`, `@<alias>`, `/latest`, `/<Stage>`, `models:/m-<id>`
   * or `runs:/<run>/<path>`.
   *
   * @example
   * models.resolve("models:/clf@champion").version?.version; // 3
   */
  resolve(uri: string): ResolvedModel {
    return this.resolveParsed(uri, parseModelUri(uri));
  }

  /** Writes the files of the model a URI names into `dest`; returns what was resolved. */
  materialize(uri: string, dest: string): ResolvedModel {
    const r = this.resolve(uri);
    materializeModel(this.repo.store, r.content, dest);
    return r;
  }

  /** The files of a version, as paths and sizes. */
  files(content: ModelContent): { name: string; size: number; hash: string }[] {
    return modelEntries(this.repo.store, content).map((e) => ({ name: e.name, size: e.size, hash: e.hash }));
  }

  private resolveParsed(uri: string, u: ModelUri): ResolvedModel {
    const fromVersion = (v: ModelVersion): ResolvedModel => ({
      uri,
      content: v.content,
      flavor: v.flavor,
      signature: v.signature,
      runId: v.runId,
      commit: v.commit,
      version: v,
    });
    switch (u.kind) {
      case "version":
        return fromVersion(this.getVersion(u.name, u.version));
      case "alias":
        return fromVersion(this.getVersionByAlias(u.name, u.alias));
      case "latest":
        return fromVersion(this.latestVersion(u.name));
      case "stage": {
        const alias = STAGE_ALIASES[u.stage] as string;
        const m = this.getModel(u.name);
        if (m.aliases[alias] === undefined) {
          throw notFound(
            `A version of ${JSON.stringify(u.name)} in stage ${u.stage}`,
            "Move one there first.",
            {
              name: u.name,
              stage: u.stage,
            },
          );
        }
        return fromVersion(this.getVersionByAlias(u.name, alias));
      }
      case "logged": {
        const lm = this.liveLogged(u.modelId);
        return this.fromLogged(uri, lm);
      }
      case "run": {
        // MLflow 3 logs a model as a logged model linked to the run (its files are not run artifacts).
        const lm = [...this.state().loggedModels.values()]
          .filter(
            (m) => !m.deleted && m.sourceRunId?.startsWith(u.runId) && m.name === u.path && m.files.size > 0,
          )
          .sort((a, b) => b.createdAt - a.createdAt)[0];
        let fromRun: ReturnType<typeof contentFromRun>;
        try {
          fromRun = contentFromRun(this.repo.paths.runsDir, this.repo.store, u.runId, u.path);
        } catch (err) {
          if (lm !== undefined) return this.fromLogged(uri, lm);
          throw err;
        }
        if (fromRun === undefined) {
          if (lm !== undefined) return this.fromLogged(uri, lm);
          throw new MtrackError(
            "ERR_MTRACK_MODEL_SOURCE_NOT_FOUND",
            `Run ${u.runId} has nothing at ${JSON.stringify(u.path)}.`,
            {
              hint: `List its artifacts and models with \`mtrack runs show ${u.runId}\`.`,
              data: { runId: u.runId, path: u.path },
            },
          );
        }
        const entries = readManifest(this.repo.store, fromRun.content.hash);
        const kind = inspectModel(this.repo.store, entries);
        return {
          uri,
          content: fromRun.content,
          flavor: kind.flavor,
          signature: fromRun.signature ?? kind.signature,
          runId: fromRun.runId,
          commit: fromRun.runId ? this.runCommit(fromRun.runId) : null,
        };
      }
    }
  }

  private liveLogged(modelId: string): LoggedModel {
    const lm = this.state().loggedModels.get(modelId);
    if (lm === undefined || lm.deleted) {
      throw notFound(`Logged model ${modelId}`, "Name a model logged to this repository's runs.", {
        modelId,
      });
    }
    return lm;
  }

  private fromLogged(uri: string, lm: LoggedModel): ResolvedModel {
    if (lm.files.size === 0) {
      throw new MtrackError("ERR_MTRACK_NOT_A_MODEL", `Logged model ${lm.modelId} has no files.`, {
        hint: "Its upload did not finish; log the model again.",
        data: { modelId: lm.modelId },
      });
    }
    const content = contentFromLogged(this.repo.store, lm);
    const kind = inspectModel(this.repo.store, readManifest(this.repo.store, content.hash));
    return {
      uri,
      content,
      flavor: kind.flavor,
      signature: kind.signature,
      runId: lm.sourceRunId,
      commit: lm.sourceRunId ? this.runCommit(lm.sourceRunId) : null,
      logged: lm,
    };
  }

  private runCommit(runId: string): string | null {
    try {
      return getRun(this.repo.paths.runsDir, this.repo.store, runId).commit;
    } catch {
      return null;
    }
  }

  /** Resolves a registration source to stored content (storing a workspace path first). */
  private async resolveSource(source: string): Promise<ResolvedModel & { source: string }> {
    if (isModelUri(source)) {
      const r = this.resolve(source);
      // Artifacts under a run's path prefix are collected into a new manifest, staged in memory until a
      // flush: it must be durable before an event names it, or other processes find no manifest.
      await this.repo.store.flush();
      return { ...r, source };
    }
    const abs = path.resolve(this.repo.root, source);
    const content = await contentFromPath(this.repo.store, abs);
    await this.repo.store.flush();
    const rel = path.relative(this.repo.root, abs).split(path.sep).join("/");
    const shown = rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
    return {
      uri: source,
      source: shown,
      content,
      flavor: "files",
      signature: null,
      runId: null,
      commit: null,
    };
  }

  private async headCommit(): Promise<string | null> {
    try {
      return await this.repo.git().headCommit();
    } catch {
      return null;
    }
  }

  private async tag(change: TagChange): Promise<GitTagResult[]> {
    if (!this.gitTags) return [];
    return [await tagChange(this.repo.root, change, this.user)];
  }

  private async writeOnModel(
    name: string,
    body: EventBody,
    check?: (m: RegisteredModel) => void,
  ): Promise<void> {
    await this.log.write(body, (s) => {
      const m = s.models.get(name);
      if (m === undefined) throw modelNotFound(name);
      check?.(m);
      return undefined;
    });
  }

  private async writeOnVersion(
    name: string,
    version: number,
    body: EventBody,
    check?: (v: ModelVersion) => void,
  ): Promise<void> {
    await this.log.write(body, (s) => {
      const m = s.models.get(name);
      if (m === undefined) throw modelNotFound(name);
      const v = m.versions.get(version);
      if (v === undefined) throw versionNotFound(name, version);
      check?.(v);
      return undefined;
    });
  }
}

function checkTagKey(key: string): void {
  if (typeof key !== "string" || key.length === 0 || key.length > 250) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Invalid tag key ${JSON.stringify(key)}.`, {
      hint: "A tag key is 1–250 characters.",
      data: { key },
    });
  }
}

function tagNotFound(key: string, on: string): MtrackError {
  return new MtrackError("ERR_MTRACK_TAG_NOT_FOUND", `Tag ${JSON.stringify(key)} is not set on ${on}.`, {
    hint: "List the tags with `mtrack models show`.",
    data: { key },
  });
}

/** A model as plain JSON (for `--json` and the UI). */
export function modelJson(m: RegisteredModel): Record<string, unknown> {
  return {
    name: m.name,
    description: m.description,
    tags: m.tags,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    user: m.user,
    aliases: m.aliases,
    latestVersion: Math.max(0, ...m.versions.keys()) || null,
    versions: [...m.versions.values()].sort((a, b) => a.version - b.version).map(versionJson),
  };
}

/** A version as plain JSON, with its MLflow stage and URI. */
export function versionJson(v: ModelVersion): Record<string, unknown> {
  return { ...v, uri: `models:/${v.name}/${v.version}`, stage: stageOf(v.aliases) };
}
