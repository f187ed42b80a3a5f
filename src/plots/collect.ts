/**
 * Gathering plots at one or more revisions (`mtrack plots show` / `plots diff`, the UI's plots view):
 * each revision's pipeline says which plots exist, each plot file is read at each revision (the
 * workspace, git, or the store through the pointer or lock hashes of that commit), and the pure
 * functions of data.ts turn the rows into overlays. A file missing at a revision becomes a note on its
 * plot, not an error.
 */

import type { Dirent } from "node:fs";
import { isMtrackError } from "../errors.js";
import { type ExpRef, listExpRefs } from "../experiments/refs.js";
import {
  type DataState,
  dataAtCommit,
  metricsAt,
  openRev,
  pipelineFilesAt,
  type Rev,
  type RevReader,
  trackedFileAt,
} from "../pipeline/compare.js";
import { DEFAULT_PIPELINE_FILE } from "../pipeline/load.js";
import type { Repo } from "../repo.js";
import { decodeTree } from "../store/tree.js";
import { POINTER_SUFFIX } from "../workspace/pointer.js";
import { isPlotFile, type PlotFile, plotFromFiles } from "./data.js";
import { type PlotDefinition, plotDefinitions } from "./definitions.js";
import type { PlotsReport, ReportPlot, ReportRevision, RevisionChoice } from "./types.js";

export type { PlotsReport, ReportRevision, RevisionChoice } from "./types.js";

/** The name `plots diff` and the UI take for the working tree (as DVC does). */
export const WORKSPACE = "workspace";

/**
 * The revisions a list of names stands for: `workspace` is the working tree (null), anything else a
 * git revision or an experiment's name (see resolveRevision); none given means HEAD and the workspace, as `dvc plots diff` does. Names given twice
 * are kept once.
 *
 * @example
 * plotRevisions([]); // ["HEAD", null]
 * plotRevisions(["main", "workspace"]); // ["main", null]
 */
export function plotRevisions(names: readonly string[]): Rev[] {
  if (names.length === 0) return ["HEAD", null];
  return [...new Set(names)].map((n) => (n === WORKSPACE ? null : n));
}

/** A file at one revision: its bytes, or why there are none. */
type FileAt = { bytes: Buffer } | { reason: string };

/** The files of one revision: a file's bytes, and the files under a directory (for directory plots). */
interface RevisionFiles {
  read(rel: string): Promise<FileAt>;
  /** Repo-relative files under `dir` at this revision, sorted; empty when it is no directory. */
  list(dir: string): Promise<string[]>;
}

const NOT_FOUND = "file not found";

function workspaceFiles(repo: Repo): RevisionFiles {
  const fs = repo.fs;
  return {
    async read(rel) {
      try {
        return { bytes: fs.readFileSync(repo.abs(rel)) as Buffer };
      } catch {
        return { reason: NOT_FOUND };
      }
    },
    async list(dir) {
      const out: string[] = [];
      const walk = (rel: string) => {
        let entries: Dirent[];
        try {
          entries = fs.readdirSync(repo.abs(rel), { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const child = `${rel}/${e.name}`;
          if (e.isDirectory()) walk(child);
          else if (e.isFile()) out.push(child);
        }
      };
      walk(dir);
      return out.sort();
    },
  };
}

const isPointer = (p: string) => p.endsWith(POINTER_SUFFIX);

/**
 * Files at a commit: committed to git, or tracked by mtrack (a pointer file, or an output in the
 * commit's pipeline.lock, possibly a directory holding the file), read from the store.
 */
async function commitFiles(repo: Repo, reader: RevReader): Promise<RevisionFiles> {
  const commit = reader.commit;
  if (commit === null) return { read: async () => ({ reason: NOT_FOUND }), list: async () => [] };
  const git = repo.git();
  const store = repo.store;
  let trackedAt: Promise<DataState[]> | undefined;
  // A damaged lock in an old commit only means its tracked outputs are not found.
  const tracked = () => (trackedAt ??= dataAtCommit(repo, reader).catch(() => []));
  const entriesOf = (s: DataState) =>
    s.type === "directory" && store.has(s.hash) ? decodeTree(store.readObject(s.hash)) : [];
  return {
    async read(rel) {
      const inGit = await git.readFileAtRev(commit, rel);
      if (inGit !== null) return { bytes: inGit };
      return trackedFileAt(repo, await tracked(), rel) ?? { reason: NOT_FOUND };
    },
    async list(dir) {
      const prefix = `${dir}/`;
      const files = new Set<string>();
      for (const f of await git.findFilesInCommit(commit, (p) => p.startsWith(prefix) && !isPointer(p))) {
        files.add(f.path);
      }
      for (const s of await tracked()) {
        if (s.path.startsWith(prefix) && s.type === "file") files.add(s.path);
        else if (s.path.startsWith(prefix) || s.path === dir || dir.startsWith(`${s.path}/`)) {
          for (const e of entriesOf(s)) {
            const rel = `${s.path}/${e.path}`;
            if (rel.startsWith(prefix)) files.add(rel);
          }
        }
      }
      return [...files].sort();
    },
  };
}

interface RevisionState {
  info: ReportRevision;
  defs: PlotDefinition[];
  files: RevisionFiles;
}

async function openRevision(repo: Repo, rev: Rev): Promise<RevisionState> {
  const reader = await openRev(repo, rev);
  const info: ReportRevision = { name: reader.label, commit: reader.commit, metrics: {} };
  const text = (await reader.read(DEFAULT_PIPELINE_FILE)) ?? "";
  let defs: PlotDefinition[];
  try {
    const files = await pipelineFilesAt(reader);
    defs = plotDefinitions(text, files.pipeline?.stages.flatMap((s) => s.outs) ?? []);
    info.metrics = await metricsAt(reader);
  } catch (err) {
    // The workspace's pipeline is the one being edited: its errors are the user's to see. An old
    // commit's broken pipeline only leaves that revision with its top-level plots.
    if (rev === null || !isMtrackError(err)) throw err;
    info.error = { code: err.code, message: err.message };
    defs = plotDefinitions(text, []);
  }
  return { info, defs, files: rev === null ? workspaceFiles(repo) : await commitFiles(repo, reader) };
}

/** Definitions of every revision by id; the newest (last) revision's definition of an id wins. */
function mergeDefinitions(states: readonly RevisionState[]): PlotDefinition[] {
  const defs = new Map<string, PlotDefinition>();
  for (const s of [...states].reverse()) for (const d of s.defs) if (!defs.has(d.id)) defs.set(d.id, d);
  return [...defs.values()];
}

/**
 * A plot naming a directory (DVC's `plots: - dvclive/plots/`) stands for each plots file under it at any
 * of the revisions, with the directory's options; a plot over named files is left as it is.
 */
async function expandDirectories(
  defs: readonly PlotDefinition[],
  states: readonly RevisionState[],
): Promise<PlotDefinition[]> {
  const out = new Map<string, PlotDefinition>();
  // A file given its own entry keeps it, whatever directory entry also covers it.
  const named = new Set(defs.map((d) => d.id));
  for (const d of defs) {
    const only = d.sources.length === 1 && d.sources[0]!.file === d.id ? d.sources[0]! : undefined;
    const dir = d.id.replace(/\/+$/, "");
    const files = new Set<string>();
    // A plots file's name is never a directory's: only other names cost a listing.
    if (only !== undefined && !isPlotFile(dir)) {
      for (const s of states) for (const f of await s.files.list(dir)) if (isPlotFile(f)) files.add(f);
    }
    if (files.size === 0) {
      if (!out.has(d.id)) out.set(d.id, d);
      continue;
    }
    for (const f of [...files].sort()) {
      if (out.has(f) || named.has(f)) continue;
      const def: PlotDefinition = { ...d, id: f, sources: [{ ...only!, file: f }] };
      if (d.title !== undefined) def.title = `${d.title} · ${f.slice(dir.length + 1)}`;
      out.set(f, def);
    }
  }
  return [...out.values()];
}

/** Reads one definition's files at every revision, then draws them ({@link plotFromFiles}). */
async function plotOver(def: PlotDefinition, states: readonly RevisionState[]): Promise<ReportPlot> {
  const files: PlotFile[] = [];
  for (const s of states) {
    for (const source of def.sources)
      files.push({ rev: s.info.name, source, ...(await s.files.read(source.file)) });
  }
  return plotFromFiles(def, files, states.length);
}

/**
 * The plots of the pipeline at each revision (null: the workspace), overlaid: one line per revision (and
 * per file and column), one confusion matrix or image per revision. Throws ERR_MTRACK_GIT_REV_NOT_FOUND
 * for an unknown revision before drawing anything.
 *
 * @example
 * const report = await collectPlots(repo, ["HEAD", null]);
 * report.plots[0]?.kind; // "lines"
 */
export async function collectPlots(
  repo: Repo,
  revs: readonly Rev[],
  options: { clock?: () => number } = {},
): Promise<PlotsReport> {
  const states: RevisionState[] = [];
  for (const rev of revs) states.push(await openRevision(repo, rev));
  const plots: ReportPlot[] = [];
  for (const def of await expandDirectories(mergeDefinitions(states), states)) {
    plots.push(await plotOver(def, states));
  }
  return {
    revisions: states.map((s) => s.info),
    generatedAt: (options.clock ?? Date.now)(),
    plots,
  };
}

/**
 * The revisions worth offering to overlay: the workspace, HEAD, branches, tags, experiments (HEAD's
 * first; 50 at most) and the most recent commits behind HEAD (by short id).
 *
 * @example
 * (await revisionChoices(repo)).map((c) => c.name); // ["workspace", "HEAD", "main", "v1", "lr-1", "3f2a9c1", ...]
 */
export async function revisionChoices(
  repo: Repo,
  options: { commits?: number; experiments?: number } = {},
): Promise<RevisionChoice[]> {
  const git = repo.git();
  const out: RevisionChoice[] = [{ name: WORKSPACE, kind: "workspace", commit: null }];
  const head = await git.headCommit();
  if (head === null) return out;
  out.push({ name: "HEAD", kind: "head", commit: head });
  for (const b of await git.listBranches()) out.push({ name: b.name, kind: "branch", commit: b.oid });
  for (const t of await git.listTags()) out.push({ name: t.name, kind: "tag", commit: t.oid });
  // Experiments (as `exp show` lists them): HEAD's first, then the other baselines', newest first.
  let exps: ExpRef[] = [];
  try {
    exps = listExpRefs(repo.root);
  } catch {
    // No git CLI: the picker still takes typed names.
  }
  const seen = new Set(out.map((c) => c.name));
  const ordered = [...exps.filter((e) => e.baseline === head), ...exps.filter((e) => e.baseline !== head)];
  for (const e of ordered.slice(0, options.experiments ?? 50)) {
    if (seen.has(e.name)) continue;
    seen.add(e.name);
    out.push({ name: e.name, kind: "experiment", commit: e.commit });
  }
  let left = options.commits ?? 20;
  for await (const c of git.walkCommits([head])) {
    if (left-- <= 0) break;
    out.push({ name: c.slice(0, 10), kind: "commit", commit: c });
  }
  return out;
}

/** Plots at named revisions for a server: what the UI's /api/v1/plots routes call. */
export interface PlotsSource {
  /** The report over `names` (see {@link plotRevisions}; `workspace` is the working tree). */
  report(names: readonly string[]): Promise<PlotsReport>;
  revisions(): Promise<RevisionChoice[]>;
}

/**
 * The plots of `repo` for the UI's API.
 *
 * @example
 * startUiServer({ ...openTracking(repo), repoRoot: repo.root, plots: plotsSource(repo) });
 */
export function plotsSource(repo: Repo): PlotsSource {
  return {
    report: (names) => collectPlots(repo, plotRevisions(names)),
    revisions: () => revisionChoices(repo),
  };
}
