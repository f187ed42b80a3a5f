import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { formatTime, renderTable } from "../../cli/table.js";
import { readQueue } from "../../src/experiments/queue-store.js";
import { type ExpRow, expShow, sortRows } from "../../src/experiments/show.js";
import { openRev, pipelineFilesAt } from "../../src/pipeline/compare.js";

function cell(v: unknown): string {
  if (v === undefined || v === null) return "-";
  if (typeof v === "number" && !Number.isInteger(v)) return String(Number(v.toPrecision(5)));
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

export default class ExpShow extends MtrackCommand {
  static override summary =
    "Show the workspace, baseline commits and their experiments (queued and running ones too) with every metric and param.";
  static override examples = [
    "<%= config.bin %> exp show",
    "<%= config.bin %> exp show -A --sort-by acc --sort-order desc",
    "<%= config.bin %> exp show --only-changed --drop 'seed' --csv",
  ];
  static override flags = {
    "all-commits": Flags.boolean({ char: "A", description: "every baseline commit that has experiments" }),
    num: Flags.integer({ char: "n", description: "the N newest experiments of each baseline", min: 0 }),
    "sort-by": Flags.string({ description: "metric or param to sort experiments by ([file:]key)" }),
    "sort-order": Flags.string({ options: ["asc", "desc"], default: "asc" }),
    "only-changed": Flags.boolean({ description: "only columns whose value differs between rows" }),
    keep: Flags.string({ description: "keep columns matching this regex (wins over --drop)" }),
    drop: Flags.string({ description: "drop columns matching this regex" }),
    csv: Flags.boolean({ exclusive: ["md"] }),
    md: Flags.boolean({ exclusive: ["csv"] }),
  };

  async run() {
    const { flags } = await this.parse(ExpShow);
    const repo = this.openRepo();
    const files = await pipelineFilesAt(await openRev(repo, null));
    let rows: ExpRow[] = expShow({
      root: repo.root,
      paramsFiles: files.params,
      metricsFiles: files.metrics,
      all: flags["all-commits"],
      limit: flags.num,
      queue: readQueue(repo),
    });
    if (flags["sort-by"]) rows = sortRows(rows, flags["sort-by"], flags["sort-order"] as "asc" | "desc");
    const keep = flags.keep ? new RegExp(flags.keep) : undefined;
    const drop = flags.drop ? new RegExp(flags.drop) : undefined;
    const pick = (cols: Set<string>, get: (r: ExpRow) => Record<string, unknown>) =>
      [...cols].sort().filter((c) => {
        if (keep?.test(c)) return true;
        if (drop?.test(c)) return false;
        if (flags["only-changed"]) return new Set(rows.map((r) => cell(get(r)[c]))).size > 1;
        return true;
      });
    const metricCols = pick(new Set(rows.flatMap((r) => Object.keys(r.metrics))), (r) => r.metrics);
    const paramCols = pick(new Set(rows.flatMap((r) => Object.keys(r.params))), (r) => r.params);
    if (this.jsonEnabled()) return { rows };
    const headers = ["Experiment", "Created", "State", ...metricCols, ...paramCols];
    const body = rows.map((r, i) => {
      const last = rows[i + 1]?.kind !== "experiment";
      const name =
        r.kind === "experiment"
          ? `${last ? "└──" : "├──"} ${r.name} [${r.commit?.slice(0, 7) ?? r.state}]`
          : r.name;
      return [
        name,
        r.created ? formatTime(r.created * 1000) : "",
        r.state,
        ...metricCols.map((c) => cell(r.metrics[c])),
        ...paramCols.map((c) => cell(r.params[c])),
      ];
    });
    if (flags.csv) {
      const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
      this.log([headers, ...body].map((l) => l.map(q).join(",")).join("\n"));
    } else if (flags.md) {
      this.log(
        [
          `| ${headers.join(" | ")} |`,
          `|${headers.map(() => "---").join("|")}|`,
          ...body.map((l) => `| ${l.join(" | ")} |`),
        ].join("\n"),
      );
    } else this.log(renderTable({ headers, rows: body }));
    return { rows };
  }
}
