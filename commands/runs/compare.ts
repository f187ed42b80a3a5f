import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { formatNumber, renderTable, shortId } from "../../cli/table.js";
import { MtrackError } from "../../src/errors.js";
import { openTracking } from "../../src/tracking/context.js";
import { getRun } from "../../src/tracking/read.js";
import type { RunDetails } from "../../src/tracking/types.js";

/** One compared key: its value in each run (null where missing) and whether they differ. */
export interface ComparedRow {
  key: string;
  values: (string | number | null)[];
  differs: boolean;
}

function compareRows<T extends string | number>(
  runs: RunDetails[],
  pick: (r: RunDetails) => Record<string, T>,
): ComparedRow[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(pick(r))))].sort();
  return keys.map((key) => {
    const values = runs.map((r) => (Object.hasOwn(pick(r), key) ? (pick(r)[key] ?? null) : null));
    const differs = values.some((v) => !Object.is(v, values[0]));
    return { key, values, differs };
  });
}

export default class RunsCompare extends MtrackCommand {
  static override summary = "Compare runs side by side: params and last metric values, differences marked.";
  static override description = "Rows whose values differ between the runs start with *.";
  static override examples = ["<%= config.bin %> runs compare 3f2a 9c1d"];
  static override strict = false;
  static override args = {
    ids: Args.string({ description: "two or more run ids or prefixes", required: true }),
  };

  async run() {
    const { argv } = await this.parse(RunsCompare);
    const ids = argv as string[];
    if (ids.length < 2) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "Compare needs at least two runs.", {
        data: { runs: ids },
        hint: "Give two or more run ids, e.g. `mtrack runs compare 3f2a 9c1d`.",
      });
    }
    const { dir, store } = openTracking(this.openRepo());
    const runs = ids.map((id) => getRun(dir, store, id));
    const params = compareRows(runs, (r) => r.params);
    const metrics = compareRows(runs, (r) =>
      Object.fromEntries(Object.entries(r.metrics).map(([k, m]) => [k, m.last])),
    );
    const show = (v: string | number | null) =>
      v === null ? "-" : typeof v === "number" ? formatNumber(v) : v;
    const rows = [
      ["", "name", ...runs.map((r) => r.name)],
      ["", "status", ...runs.map((r) => r.status)],
      ["", "commit", ...runs.map((r) => `${shortId(r.commit)}${r.dirty ? "*" : ""}`)],
      ...params.map((p) => [p.differs ? "*" : "", `params.${p.key}`, ...p.values.map(show)]),
      ...metrics.map((m) => [m.differs ? "*" : "", `metrics.${m.key}`, ...m.values.map(show)]),
    ];
    this.say(renderTable({ headers: ["", "run", ...runs.map((r) => shortId(r.runId))], rows }));
    return {
      runs: runs.map((r) => ({
        runId: r.runId,
        name: r.name,
        status: r.status,
        commit: r.commit,
        dirty: r.dirty,
      })),
      params,
      metrics,
    };
  }
}
