/**
 * The model registry, read-only: the registered models, one model's versions (source run linked to its
 * run page), and one version's files (each a download), signature and the URIs that load it, ready to
 * copy. Changes are made with `mtrack models ...`; the page only shows them.
 */

import {
  getJson,
  type ModelInfo,
  type ModelSummary,
  type ModelVersionInfo,
  type ModelVersionRow,
  modelFileUrl,
  modelPath,
} from "./api.js";
import type { AppContext, View } from "./app.js";
import { h, replace } from "./dom.js";
import { formatTime, shortCommit, sizeText } from "./model.js";
import { formatRoute, type ModelRoute, type ModelVersionRoute, type Route } from "./route.js";
import { kv } from "./run-view.js";

const localTime = (ms: number) => formatTime(ms, new Date(ms).getTimezoneOffset());

function table(cls: string, headers: string[], rows: HTMLElement[]): HTMLElement {
  return h(
    "table",
    { class: `grid ${cls}` },
    h("thead", {}, h("tr", {}, ...headers.map((c) => h("th", {}, c)))),
    h("tbody", {}, ...rows),
  );
}

function versionLink(name: string, version: number, text = `v${version}`): HTMLElement {
  return h("a", { href: formatRoute({ view: "model-version", name, version }), class: "version-link" }, text);
}

function aliasChips(name: string, aliases: Record<string, number>): HTMLElement {
  const entries = Object.entries(aliases).sort(([a], [b]) => a.localeCompare(b));
  return h(
    "span",
    { class: "aliases" },
    ...entries.map(([alias, v]) =>
      h(
        "a",
        {
          class: "alias",
          href: formatRoute({ view: "model-version", name, version: v }),
          "data-alias": alias,
        },
        `@${alias} → v${v}`,
      ),
    ),
  );
}

/** The source run of a version as a link to its run page (its name when the run is here). */
function runLink(v: ModelVersionRow): Node | string {
  if (v.runId === null) return "—";
  return h(
    "a",
    { href: formatRoute({ view: "run", id: v.runId }), class: "run-link", title: v.runId },
    v.runName ?? v.runId.slice(0, 8),
  );
}

function statusLine(): HTMLElement {
  return h("p", { class: "status-line" }, "Loading…");
}

function failed(status: HTMLElement, e: unknown): void {
  status.textContent = e instanceof Error ? e.message : String(e);
  status.classList.add("error");
}

/** Mounts the list of registered models. */
export function modelsView(_ctx: AppContext): View {
  const status = statusLine();
  const body = h("div", { class: "models-body" });
  const el = h("div", { class: "models-view" }, h("h1", {}, "Models"), status, body);
  void getJson<{ models: ModelSummary[] }>("/models")
    .then(({ models }) => {
      status.textContent = "";
      if (models.length === 0) {
        replace(
          body,
          h(
            "p",
            { class: "empty" },
            "No registered models. Register one with ",
            h("code", {}, "mtrack models register <name> <source>"),
            ".",
          ),
        );
        return;
      }
      replace(
        body,
        table(
          "models-table",
          ["model", "versions", "latest", "aliases", "updated"],
          models.map((m) =>
            h(
              "tr",
              { "data-model": m.name },
              h(
                "td",
                {},
                h("a", { href: formatRoute({ view: "model", name: m.name }), class: "model-link" }, m.name),
                m.description ? h("div", { class: "small" }, m.description) : null,
              ),
              h("td", { class: "num" }, String(m.versionCount)),
              h("td", {}, m.latestVersion === null ? "—" : versionLink(m.name, m.latestVersion)),
              h("td", {}, aliasChips(m.name, m.aliases)),
              h("td", {}, localTime(m.updatedAt)),
            ),
          ),
        ),
      );
    })
    .catch((e) => failed(status, e));
  return { el, update: (_next: Route) => false };
}

/** Mounts one model's page: description, tags, aliases and its versions table. */
export function modelView(_ctx: AppContext, route: ModelRoute): View {
  const status = statusLine();
  const body = h("div", { class: "model-body" });
  const el = h(
    "div",
    { class: "model-view" },
    h("p", { class: "crumbs" }, h("a", { href: formatRoute({ view: "models" }) }, "Models"), " /"),
    h("h1", {}, route.name),
    status,
    body,
  );
  void getJson<ModelInfo>(modelPath(route.name))
    .then((m) => {
      status.textContent = "";
      const tags = kv(Object.entries(m.tags).sort(([a], [b]) => a.localeCompare(b)));
      tags.classList.add("tags");
      const rows = m.versions.map((v) =>
        h(
          "tr",
          { "data-version": v.version },
          h("td", {}, versionLink(m.name, v.version)),
          h(
            "td",
            {},
            v.aliases.map((a) => h("span", { class: "alias" }, `@${a}`)),
            v.stage === "None" ? null : h("span", { class: "stage" }, v.stage),
          ),
          h("td", { class: "source", title: v.source }, v.source),
          h("td", {}, runLink(v)),
          h("td", {}, h("code", { title: v.commit ?? "" }, shortCommit(v.commit, false))),
          h("td", { class: "num" }, sizeText(v.size)),
          h("td", {}, v.flavor),
          h("td", {}, localTime(v.createdAt)),
        ),
      );
      replace(
        body,
        m.description ? h("p", { class: "description" }, m.description) : null,
        h(
          "div",
          { class: "run-info" },
          h(
            "div",
            { class: "panel" },
            h("h2", {}, "Model"),
            kv([
              ["versions", String(m.versionCount)],
              ["aliases", Object.keys(m.aliases).length ? aliasChips(m.name, m.aliases) : "—"],
              ["created", `${localTime(m.createdAt)}${m.user ? ` by ${m.user}` : ""}`],
              ["updated", localTime(m.updatedAt)],
            ]),
          ),
          Object.keys(m.tags).length ? h("div", { class: "panel" }, h("h2", {}, "Tags"), tags) : null,
        ),
        h("h2", {}, "Versions"),
        rows.length
          ? table(
              "versions-table",
              ["version", "aliases / stage", "source", "source run", "commit", "size", "flavor", "created"],
              rows,
            )
          : h("p", { class: "empty" }, "No versions."),
      );
    })
    .catch((e) => failed(status, e));
  return { el, update: (_next: Route) => false };
}

/** A URI with a button that copies it (selecting it when the clipboard is not available). */
function copyable(uri: string): HTMLElement {
  const code = h("code", { class: "uri" }, uri);
  const button = h("button", { type: "button", class: "copy", "data-uri": uri }, "Copy");
  button.addEventListener("click", () => {
    const select = () => {
      const range = document.createRange();
      range.selectNodeContents(code);
      window.getSelection()?.removeAllRanges();
      window.getSelection()?.addRange(range);
    };
    if (!navigator.clipboard) {
      select();
      return;
    }
    void navigator.clipboard.writeText(uri).then(() => {
      button.textContent = "Copied";
      setTimeout(() => {
        button.textContent = "Copy";
      }, 1500);
    }, select);
  });
  return h("div", { class: "uri-row" }, code, " ", button);
}

/** Mounts one version's page: provenance, URIs, signature and files. */
export function modelVersionView(_ctx: AppContext, route: ModelVersionRoute): View {
  const status = statusLine();
  const body = h("div", { class: "version-body" });
  const el = h(
    "div",
    { class: "model-version-view" },
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: formatRoute({ view: "models" }) }, "Models"),
      " / ",
      h("a", { href: formatRoute({ view: "model", name: route.name }) }, route.name),
      " /",
    ),
    h("h1", {}, `${route.name} v${route.version}`),
    status,
    body,
  );
  void getJson<ModelVersionInfo>(modelPath(route.name, route.version))
    .then((v) => {
      status.textContent = "";
      const tags = kv(Object.entries(v.tags).sort(([a], [b]) => a.localeCompare(b)));
      tags.classList.add("tags");
      const files = v.files.map((f) =>
        h(
          "li",
          {},
          h(
            "a",
            {
              href: modelFileUrl(v.name, v.version, f.path),
              download: "",
              class: "model-file",
              "data-path": f.path,
            },
            f.path,
          ),
          h("span", { class: "size" }, ` ${sizeText(f.size)}`),
        ),
      );
      replace(
        body,
        v.description ? h("p", { class: "description" }, v.description) : null,
        h(
          "div",
          { class: "run-info" },
          h(
            "div",
            { class: "panel" },
            h("h2", {}, "Version"),
            kv([
              ["aliases", v.aliases.length ? v.aliases.map((a) => `@${a}`).join(", ") : "—"],
              ["stage", v.stage],
              ["source", h("code", {}, v.source)],
              ["source run", runLink(v)],
              ["logged model", v.modelId ? h("code", {}, `models:/${v.modelId}`) : "—"],
              ["git commit", h("code", { title: v.commit ?? "" }, shortCommit(v.commit, false))],
              ["flavor", v.flavor],
              ["content", `${v.fileCount} files, ${sizeText(v.size)}`],
              ["created", `${localTime(v.createdAt)}${v.user ? ` by ${v.user}` : ""}`],
            ]),
          ),
          h("div", { class: "panel uris" }, h("h2", {}, "Load it as"), ...v.uris.map(copyable)),
          Object.keys(v.tags).length ? h("div", { class: "panel" }, h("h2", {}, "Tags"), tags) : null,
          h(
            "div",
            { class: "panel wide" },
            h("h2", {}, "Signature"),
            v.signature
              ? h("pre", { class: "signature" }, JSON.stringify(v.signature, null, 2))
              : h("p", { class: "empty" }, "No signature recorded."),
          ),
        ),
        h("h2", {}, "Files"),
        v.missing
          ? h(
              "p",
              { class: "empty" },
              "The files are not in this store: ",
              h("code", {}, "mtrack pull --runs"),
              " fetches them.",
            )
          : h("ul", { class: "artifact-list model-files" }, ...files),
      );
    })
    .catch((e) => failed(status, e));
  return { el, update: (_next: Route) => false };
}
