/**
 * What push, fetch, pull and exp push/pull share: the sync flags, their library options, and the summary
 * lines of a transfer.
 */
import * as path from "node:path";
import { Flags } from "@oclif/core";
import type { SyncOptions, SyncResult } from "../src/transfer/sync.js";
import { formatBytes } from "./progress.js";

/** Flags shared by push, fetch and pull. */
export const syncFlags = {
  remote: Flags.string({ char: "r", description: "remote name (default: core.remote)" }),
  "all-branches": Flags.boolean({ char: "a", description: "also the data at the tip of every branch" }),
  "all-tags": Flags.boolean({ char: "T", description: "also the data of every tag" }),
  "all-commits": Flags.boolean({ char: "A", description: "also the data of every commit" }),
  runs: Flags.boolean({
    description: "also sealed runs (records, metrics, artifacts) and the model registry (like --models)",
  }),
  models: Flags.boolean({
    description: "also the model registry: its events and the files of live model versions and logged models",
  }),
  "run-cache": Flags.boolean({ description: "also run-cache entries and the outputs they name" }),
  jobs: Flags.integer({ char: "j", min: 1, max: 256, description: "parallel transfers (default 8)" }),
};

/** The library options from parsed sync flags. */
export function syncOptions(flags: Record<string, unknown>, argv: readonly unknown[]): SyncOptions {
  return {
    targets: (argv as string[]).map((p) => path.resolve(p)),
    remote: flags.remote as string | undefined,
    allBranches: flags["all-branches"] === true,
    allTags: flags["all-tags"] === true,
    allCommits: flags["all-commits"] === true,
    runs: flags.runs === true,
    models: flags.models === true,
    runCache: flags["run-cache"] === true,
    jobs: flags.jobs as number | undefined,
    env: process.env,
  };
}

/** Human summary lines of a push or fetch. */
export function describeSync(verb: string, r: SyncResult): string[] {
  const o = r.objects;
  const lines = [
    `${verb} ${o.objects} object(s), ${formatBytes(o.bytes)} (${o.present} already there) — ${r.remote} ${r.url}, ${o.seconds.toFixed(1)} s`,
  ];
  const what = { runs: "run(s)", registry: "registry event(s)", runcache: "run-cache entr(ies)" };
  for (const refs of [r.runs, r.registry, r.runCache]) {
    if (refs)
      lines.push(
        `${verb} ${refs.transferred} ${what[refs.kind]}, ${refs.objects.objects} object(s)${refs.annotations ? `, ${refs.annotations} annotation(s)` : ""}`,
      );
  }
  if (o.repaired.length) {
    lines.push(
      `Replaced ${o.repaired.length} damaged object(s) on the remote, e.g. ${o.repaired[0]?.label} (${o.repaired[0]?.hash.slice(0, 12)})`,
    );
  }
  const held = r.registry?.held ?? [];
  if (held.length > 0) {
    lines.push(
      `${held.length} registry event(s) held back: an object they need is missing, e.g. ${held[0]?.event} (${held[0]?.missing[0]?.slice(0, 12)})`,
    );
  }
  const damaged = r.registry?.damaged ?? [];
  if (damaged.length > 0)
    lines.push(`${damaged.length} damaged registry ref(s) on the remote were skipped, e.g. ${damaged[0]}`);
  if (o.missingLocal.length) {
    lines.push(
      `${o.missingLocal.length} object(s) are not in the local store and were not sent, e.g. ${o.missingLocal[0]?.label}`,
    );
  }
  return lines;
}
