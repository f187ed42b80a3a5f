import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import {
  formatDuration,
  formatNumber,
  formatTime,
  renderTable,
  shortId,
  type Table,
  toCsv,
} from "../../cli/table.js";
import { MtrackError } from "../../src/errors.js";
import { openTracking } from "../../src/tracking/context.js";
import { listRuns } from "../../src/tracking/read.js";
import { sealPendingRuns } from "../../src/tracking/seal.js";
import {
  type FilterNode,
  parseFilter,
  parseOrderBy,
  type SearchKey,
  searchRuns,
} from "../../src/tracking/search.js";
import type { RunSummary } from "../../src/tracking/types.js";

const PREFIXES: Record<string, SearchKey["kind"]> = { metrics: "metric", params: "param", tags: "tag" };

/** `metrics.val_acc,params.lr` → keys; only metrics/params/tags can be columns. */
function parseColumns(spec: string): SearchKey[] {
  return spec
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "")
    .map((c) => {
      const dot = c.indexOf(".");
      const kind = dot > 0 ? PREFIXES[c.slice(0, dot)] : undefined;
      if (kind === undefined || dot === c.length - 1) {
        throw new MtrackError(
          "ERR_MTRACK_INVALID_ARGUMENT",
          `Column ${c} is not metrics.<key>, params.<key> or tags.<key>.`,
          {
            data: { column: c },
            hint: "Write columns like --columns metrics.val_acc,params.lr,tags.phase.",
          },
        );
      }
      return { kind, name: c.slice(dot + 1) };
    });
}

/** Metric/param/tag keys a filter mentions, in order, so the table shows what was filtered on. */
function filterKeys(node: FilterNode, out: SearchKey[] = []): SearchKey[] {
  if (node.type === "compare") {
    if (node.key.kind !== "attribute") out.push(node.key);
  } else if (node.type !== "all") {
    for (const child of node.children) filterKeys(child, out);
  }
  return out;
}

function label(k: SearchKey): string {
  return `${k.kind === "metric" ? "metrics" : k.kind === "param" ? "params" : "tags"}.${k.name}`;
}

function cell(run: RunSummary, k: SearchKey): string {
  if (k.kind === "metric") return formatNumber(run.metrics[k.name]?.last);
  const map = k.kind === "param" ? run.params : run.tags;
  return Object.hasOwn(map, k.name) ? (map[k.name] ?? "") : "";
}

export default class RunsList extends MtrackCommand {
  static override summary = "List runs, filtered and sorted with MLflow's search grammar.";
  static override description =
    `Newest first by default. --filter takes MLflow's search expressions plus \`or\` and parentheses, e.g.
  metrics.val_acc > 0.9 and (params.lr = '0.001' or tags.phase = 'final') and attributes.status = 'FINISHED'
with =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN. --sort takes "<key> [ASC|DESC]" (repeatable).
Columns: id, name, experiment, status, commit (* = dirty worktree), start (UTC), duration, then the metrics/params/tags of --columns (default: the keys the filter and sort use, else up to three metrics).`;
  static override examples = [
    `<%= config.bin %> runs list --filter "metrics.val_acc > 0.9 and params.lr = '0.001'" --sort "metrics.val_acc DESC" --limit 5`,
    "<%= config.bin %> runs list --experiment mnist --columns metrics.val_acc,params.lr --csv",
  ];
  static override flags = {
    experiment: Flags.string({ char: "e", description: "only this experiment (name or id)" }),
    filter: Flags.string({ char: "f", description: "search expression" }),
    sort: Flags.string({
      char: "s",
      description: 'order, e.g. "metrics.val_acc DESC" (repeatable)',
      multiple: true,
    }),
    limit: Flags.integer({ char: "l", description: "show at most N runs", min: 0 }),
    columns: Flags.string({ char: "c", description: "extra columns, e.g. metrics.val_acc,params.lr" }),
    all: Flags.boolean({ description: "include deleted runs" }),
    csv: Flags.boolean({ description: "print CSV instead of a table" }),
  };

  async run() {
    const { flags } = await this.parse(RunsList);
    // Parse first: a typo fails fast, before any disk work.
    const filter = parseFilter(flags.filter ?? "");
    const orderBy = parseOrderBy(flags.sort ?? []);
    const extra = flags.columns !== undefined ? parseColumns(flags.columns) : undefined;
    const { dir, store } = openTracking(this.openRepo());
    // Runs whose process died are sealed here, so they stop being re-read from their logs.
    await sealPendingRuns(dir, store);
    const all = listRuns(dir, store, { experiment: flags.experiment, includeDeleted: flags.all });
    const runs = searchRuns(all, { filter, orderBy, maxResults: flags.limit });
    let columns = extra;
    if (columns === undefined) {
      const seen = new Set<string>();
      columns = [
        ...filterKeys(filter),
        ...orderBy.map((o) => o.key).filter((k) => k.kind !== "attribute"),
      ].filter((k) => !seen.has(label(k)) && seen.add(label(k)));
      if (columns.length === 0) {
        const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort().slice(0, 3);
        columns = metricKeys.map((name) => ({ kind: "metric", name }));
      }
    }
    const table: Table = {
      headers: [
        "id",
        "name",
        "experiment",
        "status",
        "commit",
        "start",
        flags.csv ? "duration_ms" : "duration",
        ...columns.map(label),
      ],
      rows: runs.map((r) => [
        flags.csv ? r.runId : shortId(r.runId),
        r.name,
        r.experimentName,
        r.deleted ? `${r.status} (deleted)` : r.status,
        r.commit ? `${flags.csv ? r.commit : shortId(r.commit)}${r.dirty ? "*" : ""}` : "",
        flags.csv ? new Date(r.startTime).toISOString() : formatTime(r.startTime),
        r.endTime === null
          ? ""
          : flags.csv
            ? String(r.endTime - r.startTime)
            : formatDuration(r.endTime - r.startTime),
        ...columns.map((k) => cell(r, k)),
      ]),
    };
    if (flags.csv) {
      if (!this.jsonEnabled()) process.stdout.write(toCsv(table));
    } else if (runs.length === 0) {
      this.say(
        all.length === 0 ? "No runs yet. Start one with `mtrack run -- <command>`." : "No run matches.",
      );
    } else {
      this.say(renderTable(table));
    }
    return { runs };
  }
}
