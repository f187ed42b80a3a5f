/**
 * The runs table: experiments in a sidebar, a filter box (search grammar, errors inline with a caret),
 * server-side sort by any header, chosen param/metric/tag columns, and virtualised rows — fixed row
 * height, only the visible window rendered, rows fetched in blocks as the user scrolls — so 10,000 runs
 * scroll like 10.
 */

import { ApiError, type ExperimentInfo, getJson, type RunRow, type RunsPage } from "./api.js";
import type { AppContext, View } from "./app.js";
import { h, replace } from "./dom.js";
import {
  type Agg,
  apiColumns,
  BASE_COLUMNS,
  caretLine,
  columnId,
  type DataColumn,
  defaultColumns,
  formatDuration,
  formatTime,
  formatValue,
  nextSort,
  parseColumnId,
  type SortState,
  shortCommit,
  sortExpression,
  viewWindow,
} from "./model.js";
import type { Route, RunsRoute } from "./route.js";

const ROW_HEIGHT = 28;
const BLOCK = 200;
const OVERSCAN = 10;
// Fixed pixel widths: every absolutely positioned row must lay its cells out exactly like the header.
const BASE_WIDTHS = [32, 92, 240, 90, 172, 90];
const DATA_WIDTH = 150;

function sameQuery(a: RunsRoute, b: RunsRoute): boolean {
  const cols = (r: RunsRoute) => apiColumns(r.cols.map(parseColumnId).filter((c) => c !== undefined));
  return (
    a.filter === b.filter &&
    a.experiments.join("\n") === b.experiments.join("\n") &&
    a.sort?.column === b.sort?.column &&
    a.sort?.desc === b.sort?.desc &&
    cols(a) === cols(b)
  );
}

/** Mounts the runs table for a route. */
export function runsView(ctx: AppContext, initial: RunsRoute): View {
  let route = initial;
  let columns: DataColumn[] = route.cols.map(parseColumnId).filter((c) => c !== undefined);
  let total = 0;
  let keys: RunsPage["keys"] = { params: [], metrics: [], tags: [] };
  let blocks = new Map<number, RunRow[]>();
  let pending = new Set<number>();
  let generation = 0;
  let defaulted = route.cols.length > 0;
  let frame = 0;

  const filterInput = h("input", {
    class: "filter",
    type: "search",
    spellcheck: "false",
    placeholder: "filter, e.g. metrics.val_acc > 0.9 and params.lr = '0.001'",
    value: route.filter,
    "aria-label": "filter",
  });
  const filterError = h("pre", { class: "filter-error", hidden: true });
  const count = h("span", { class: "count" });
  const compareBtn = h("button", { class: "compare", type: "button" });
  const clearBtn = h("button", { class: "clear-selection", type: "button" }, "Clear");
  const addCol = h("select", { class: "add-col", "aria-label": "add column" });
  const experimentsList = h("ul", { class: "experiments" });
  const header = h("div", { class: "row head" });
  const rowsBox = h("div", { class: "rows" });
  const scroller = h("div", { class: "scroller" }, header, rowsBox);

  const el = h(
    "div",
    { class: "runs-view" },
    h("aside", { class: "sidebar" }, h("h2", {}, "Experiments"), experimentsList),
    h(
      "section",
      { class: "runs-main" },
      h(
        "div",
        { class: "toolbar" },
        filterInput,
        h("button", { type: "button", class: "apply", onclick: () => applyFilter() }, "Filter"),
        count,
        compareBtn,
        clearBtn,
        addCol,
        h("a", { class: "bands-link", href: "#/bands" }, "Group by…"),
      ),
      filterError,
      scroller,
    ),
  );

  filterInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") applyFilter();
  });
  compareBtn.addEventListener("click", () => {
    if (ctx.selection.size === 0) return;
    ctx.go({ view: "compare", runs: [...ctx.selection], x: "step", log: false, smooth: 0, pattern: "" });
  });
  clearBtn.addEventListener("click", () => {
    ctx.selection.clear();
    updateSelection();
    renderRows();
  });
  addCol.addEventListener("change", () => {
    const c = parseColumnId(addCol.value);
    addCol.value = "";
    if (c) setColumns([...columns, c]);
  });
  scroller.addEventListener("scroll", () => {
    if (!frame) frame = requestAnimationFrame(renderRows);
  });

  function applyFilter() {
    ctx.go({ ...route, filter: filterInput.value.trim() });
  }

  function setColumns(next: DataColumn[]) {
    ctx.go({ ...route, cols: next.map(columnId) });
  }

  function currentSort(): SortState | undefined {
    return route.sort;
  }

  function query(offset: number) {
    const sort = route.sort ? sortExpression(route.sort) : undefined;
    return {
      experiment: route.experiments,
      filter: route.filter,
      sort,
      offset,
      limit: BLOCK,
      columns: apiColumns(columns) || undefined,
    };
  }

  function showError(e: unknown) {
    filterError.hidden = false;
    if (e instanceof ApiError && e.code === "ERR_MTRACK_SEARCH_SYNTAX") {
      const col = typeof e.data?.column === "number" ? e.data.column : undefined;
      const expr = typeof e.data?.expr === "string" ? e.data.expr : route.filter;
      // The message's first line says what was expected; the server's own caret drawing is not reused.
      const what = e.message.split("\n")[0] ?? e.message;
      replace(filterError, `${what}\n`, h("span", { class: "expr" }, expr), "\n", caretLine(expr, col));
      filterError.dataset.code = e.code;
      if (col !== undefined) filterError.dataset.column = String(col);
    } else {
      replace(filterError, e instanceof Error ? e.message : String(e));
      filterError.dataset.code = e instanceof ApiError ? e.code : "";
    }
  }

  async function fetchBlock(offset: number) {
    if (pending.has(offset)) return;
    const gen = generation;
    pending.add(offset);
    try {
      const page = await getJson<RunsPage>("/runs", query(offset));
      if (gen !== generation) return;
      filterError.hidden = true;
      delete scroller.dataset.loading;
      // What the rows on screen answer (the bench and tests wait for a given filter to be applied).
      scroller.dataset.filter = route.filter;
      total = page.total;
      keys = page.keys;
      blocks.set(offset, page.runs);
      renderChrome();
      renderRows();
      if (!defaulted) {
        defaulted = true;
        void chooseDefaultColumns(gen).catch(showError);
      }
    } catch (e) {
      if (gen !== generation) return;
      delete scroller.dataset.loading;
      total = 0;
      blocks = new Map();
      showError(e);
      renderChrome();
      renderRows();
    } finally {
      if (gen === generation) pending.delete(offset);
    }
  }

  /**
   * Without columns in the URL, looks at the first block with every param to pick the ones that vary, then
   * refetches the visible blocks with those columns (the rows already shown stay up meanwhile).
   */
  async function chooseDefaultColumns(gen: number) {
    const probe = await getJson<RunsPage>("/runs", {
      ...query(0),
      columns: keys.params
        .slice(0, 50)
        .map((k) => `params.${k}`)
        .join(","),
    });
    if (gen !== generation) return;
    const cols = defaultColumns(keys, probe.runs);
    if (cols.length === 0) return;
    route = { ...route, cols: cols.map(columnId) };
    ctx.replace(route);
    columns = cols;
    generation++;
    pending = new Set();
    const visible = currentWindow().blocks;
    blocks = new Map([...blocks].filter(([b]) => visible.includes(b)));
    renderChrome();
    renderRows();
    for (const b of visible) void fetchBlock(b);
  }

  function currentWindow() {
    return viewWindow({
      scrollTop: Math.max(0, scroller.scrollTop - header.offsetHeight),
      height: scroller.clientHeight,
      rowHeight: ROW_HEIGHT,
      total,
      overscan: OVERSCAN,
      blockSize: BLOCK,
    });
  }

  function reset() {
    generation++;
    blocks = new Map();
    pending = new Set();
    scroller.scrollTop = 0;
    // Until the first block of the new query arrives the old rows stay up; tests and the bench wait on this.
    scroller.dataset.loading = "1";
    void fetchBlock(0);
  }

  function renderChrome() {
    const widths = [...BASE_WIDTHS, ...columns.map(() => DATA_WIDTH)];
    scroller.style.setProperty("--cols", widths.map((w) => `${w}px`).join(" "));
    scroller.style.setProperty("--row-width", `${widths.reduce((a, b) => a + b, 0)}px`);
    const sort = currentSort();
    const sortMark = (id: string) => (sort?.column === id ? (sort.desc ? " ▼" : " ▲") : "");
    const cells: HTMLElement[] = [h("div", { class: "cell check" })];
    for (const b of BASE_COLUMNS) {
      cells.push(
        h(
          "div",
          {
            class: `cell ${b.sortKey ? "sortable" : ""}`,
            "data-col": b.id,
            onclick: b.sortKey ? () => ctx.go({ ...route, sort: nextSort(sort, b.id) }) : undefined,
          },
          b.label + sortMark(b.id),
        ),
      );
    }
    columns.forEach((c, i) => {
      const id = columnId(c);
      const sortId = columnId({ ...c, agg: "last" });
      const agg =
        c.kind === "metric"
          ? h(
              "select",
              { class: "agg", "aria-label": `aggregate of ${c.key}` },
              ...(["last", "min", "max"] as Agg[]).map((a) =>
                h("option", { value: a, selected: (c.agg ?? "last") === a }, a),
              ),
            )
          : null;
      agg?.addEventListener("click", (e) => e.stopPropagation());
      agg?.addEventListener("change", () => {
        const next = columns.slice();
        next[i] = { ...c, agg: agg.value as Agg };
        setColumns(next);
      });
      const remove = h("button", { class: "remove-col", type: "button", title: "remove column" }, "×");
      remove.addEventListener("click", (e) => {
        e.stopPropagation();
        setColumns(columns.filter((_, j) => j !== i));
      });
      cells.push(
        h(
          "div",
          {
            class: `cell sortable data ${c.kind}`,
            "data-col": id,
            title: `${c.kind} ${c.key}`,
            onclick: () => ctx.go({ ...route, sort: nextSort(sort, sortId) }),
          },
          h("span", { class: "label" }, c.key + sortMark(sortId)),
          agg,
          remove,
        ),
      );
    });
    replace(header, cells);
    rowsBox.style.height = `${total * ROW_HEIGHT}px`;
    count.textContent = `${total} run${total === 1 ? "" : "s"}`;
    const shown = new Set(columns.map((c) => `${c.kind}:${c.key}`));
    const group = (label: string, kind: DataColumn["kind"], list: string[]) =>
      h(
        "optgroup",
        { label },
        ...list
          .filter((k) => !shown.has(`${kind}:${k}`))
          .map((k) => h("option", { value: columnId({ kind, key: k }) }, k)),
      );
    replace(
      addCol,
      h("option", { value: "" }, "+ column"),
      group("params", "param", keys.params),
      group("metrics", "metric", keys.metrics),
      group("tags", "tag", keys.tags),
    );
    updateSelection();
  }

  function updateSelection() {
    compareBtn.textContent = `Compare (${ctx.selection.size})`;
    compareBtn.disabled = ctx.selection.size === 0;
    clearBtn.hidden = ctx.selection.size === 0;
  }

  function rowAt(i: number): RunRow | undefined {
    const b = Math.floor(i / BLOCK) * BLOCK;
    return blocks.get(b)?.[i - b];
  }

  function renderRow(r: RunRow, i: number): HTMLElement {
    const check = h("input", {
      type: "checkbox",
      "aria-label": `select ${r.name}`,
      checked: ctx.selection.has(r.runId),
    });
    check.addEventListener("change", () => {
      if (check.checked) ctx.selection.add(r.runId);
      else ctx.selection.delete(r.runId);
      updateSelection();
    });
    const status = r.unfinished ? "KILLED" : r.status;
    const duration = r.durationMs ?? (r.status === "RUNNING" ? Date.now() - r.startTime : null);
    const row = h(
      "div",
      { class: `row${i % 2 ? " odd" : ""}`, "data-run-id": r.runId, "data-index": i },
      h("div", { class: "cell check" }, check),
      h("div", { class: "cell" }, h("span", { class: `status status-${status}` }, status.toLowerCase())),
      h("div", { class: "cell name" }, h("a", { href: `#/run/${r.runId}`, title: r.runId }, r.name)),
      h("div", { class: "cell mono", title: r.commit ?? "" }, shortCommit(r.commit, r.dirty)),
      h("div", { class: "cell" }, formatTime(r.startTime, new Date(r.startTime).getTimezoneOffset())),
      h("div", { class: "cell num" }, formatDuration(duration)),
      ...columns.map((c) => {
        if (c.kind === "metric") {
          const m = r.metrics?.[c.key];
          return h("div", { class: "cell num" }, m ? formatValue(m[c.agg ?? "last"]) : "");
        }
        const v = (c.kind === "param" ? r.params : r.tags)?.[c.key] ?? "";
        return h("div", { class: "cell", title: v }, v);
      }),
    );
    row.style.top = `${i * ROW_HEIGHT}px`;
    return row;
  }

  function renderRows() {
    frame = 0;
    const w = currentWindow();
    for (const b of w.blocks) if (!blocks.has(b)) void fetchBlock(b);
    const rows: HTMLElement[] = [];
    for (let i = w.first; i < w.last; i++) {
      const r = rowAt(i);
      if (r) rows.push(renderRow(r, i));
      else {
        const p = h("div", { class: "row loading" }, h("div", { class: "cell" }, "…"));
        p.style.top = `${i * ROW_HEIGHT}px`;
        rows.push(p);
      }
    }
    replace(rowsBox, rows);
  }

  function visibleRunning(): boolean {
    return rowsBox.querySelector(".status-RUNNING") !== null;
  }

  async function loadExperiments() {
    const { experiments } = await getJson<{ experiments: ExperimentInfo[] }>("/experiments");
    const all = experiments.reduce((n, e) => n + e.runCount, 0);
    const chosen = new Set(route.experiments);
    const item = (label: string, n: number, active: boolean, next: string[], title?: string) =>
      h(
        "li",
        { class: active ? "active" : "" },
        h(
          "a",
          {
            href: "#",
            title: title ?? label,
            onclick: (e: Event) => {
              e.preventDefault();
              ctx.go({ ...route, experiments: next });
            },
          },
          h("span", { class: "exp-name" }, label),
          h("span", { class: "exp-count" }, String(n)),
        ),
      );
    replace(
      experimentsList,
      item("All experiments", all, chosen.size === 0, []),
      ...experiments.map((e) =>
        item(
          e.name,
          e.runCount,
          chosen.has(e.id) || chosen.has(e.name),
          [e.id],
          `${e.name} (id ${e.id}), ${e.activeRunCount} running`,
        ),
      ),
    );
  }

  ctx.poll(visibleRunning, async () => {
    // The blocks in view are refetched in place (their rows stay up until the fresh block arrives); the
    // others are dropped, to be fetched again when scrolled to.
    const w = currentWindow();
    blocks = new Map([...blocks].filter(([b]) => w.blocks.includes(b)));
    await Promise.all([...w.blocks.map((b) => fetchBlock(b)), loadExperiments()]);
  });

  renderChrome();
  void loadExperiments().catch(showError);
  reset();

  return {
    el,
    update(next: Route): boolean {
      if (next.view !== "runs") return false;
      const prev = route;
      route = next;
      columns = route.cols.map(parseColumnId).filter((c) => c !== undefined);
      filterInput.value = route.filter;
      if (prev.experiments.join("\n") !== route.experiments.join("\n"))
        void loadExperiments().catch(showError);
      if (sameQuery(prev, route)) {
        renderChrome();
        renderRows();
      } else {
        defaulted = true;
        renderChrome();
        reset();
      }
      return true;
    },
  };
}
