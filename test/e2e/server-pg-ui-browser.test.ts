/**
 * The web UI of the PostgreSQL team server in headless Chromium (issue #17: "the web UI, which `mtrack
 * server` serves itself (read-only, for token holders), over the database"): the browser signs in with a
 * read token as the Basic password, the runs table lists the database's runs, a filter narrows it, and a
 * run's page shows its params, metric chart and artifact text.
 */
import assert from "node:assert/strict";
import * as os from "node:os";
import { test } from "node:test";
import { launchBrowser } from "../helpers/browser.js";
import { runCli } from "../helpers/cli.js";
import { startPostgres } from "../helpers/postgres.js";
import { startListening, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

// biome-ignore lint/suspicious/noExplicitAny: page globals, typed loosely on purpose
declare const document: any;

async function token(db: string, user: string, role: string): Promise<string> {
  const env = { ...process.env, MTRACK_DB_URL: db };
  const cwd = os.tmpdir();
  assert.equal((await runCli(["server", "user", "add", user, "--role", role], { cwd, env })).code, 0);
  const t = await runCli(["server", "user", "token", user, "--json"], { cwd, env });
  assert.equal(t.code, 0, t.stderr);
  return (t.json as { token: string }).token;
}

test("mtrack server --db: the web UI in headless Chromium over the database", async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  const pg = await startPostgres(t);
  if (!pg) {
    await browser.close();
    return;
  }
  const objects = makeTempDir();
  let server: Awaited<ReturnType<typeof startListening>> | undefined;
  try {
    const db = await pg.createDatabase();
    const writer = await token(db, "ana", "write");
    const reader = await token(db, "viewer", "read");
    server = await startListening(
      ["server", "--db", db, "--objects", objects, "--port", "0"],
      os.tmpdir(),
      process.env,
    );
    const url = server.url;
    const call = async (p: string, body: unknown, method = "POST") => {
      const r = await fetch(`${url}${p}`, {
        method,
        headers: { authorization: `Bearer ${writer}`, "content-type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      assert.equal(r.status, 200, await r.clone().text());
      const text = await r.text();
      return text === "" ? {} : (JSON.parse(text) as { run?: { info: { run_id: string } } });
    };
    for (const [name, lr] of [
      ["alpha", "0.1"],
      ["beta", "0.01"],
    ] as const) {
      const created = await call("/api/2.0/mlflow/runs/create", {
        experiment_id: "0",
        run_name: name,
        start_time: Date.now(),
      });
      const id = created.run?.info.run_id ?? "";
      const metrics = Array.from({ length: 20 }, (_, i) => ({
        key: "loss",
        value: 1 / (i + 1),
        timestamp: 1000 + i,
        step: i,
      }));
      await call("/api/2.0/mlflow/runs/log-batch", {
        run_id: id,
        metrics,
        params: [{ key: "lr", value: lr }],
      });
      await call(
        `/api/2.0/mlflow-artifacts/artifacts/0/${id}/artifacts/notes.txt`,
        `notes of ${name}\n`,
        "PUT",
      );
      await call("/api/2.0/mlflow/runs/update", { run_id: id, status: "FINISHED", end_time: Date.now() });
    }

    const context = await browser.newContext({ httpCredentials: { username: "viewer", password: reader } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${url}/`);
    await page.waitForFunction(
      () => document.querySelectorAll(".rows .row[data-run-id]").length === 2,
      undefined,
      {
        timeout: 20_000,
      },
    );
    const names = await page.$$eval(".rows .row[data-run-id] .name a", (as) =>
      as.map((a) => a.textContent ?? ""),
    );
    assert.deepEqual([...names].sort(), ["alpha", "beta"]);
    await page.fill("input.filter", "params.lr = '0.01'");
    await page.press("input.filter", "Enter");
    await page.waitForFunction(
      () => document.querySelectorAll(".rows .row[data-run-id]").length === 1,
      undefined,
      {
        timeout: 20_000,
      },
    );
    await page.click(".rows .row[data-run-id] .name a");
    await page.waitForSelector(".run-view .params");
    assert.match((await page.textContent(".run-view .params")) ?? "", /0\.01/);
    await page.waitForSelector(".run-view .metric-charts .chart[data-key='loss'] canvas");
    await page.click("a.artifact.text[data-path='notes.txt']");
    await page.waitForSelector("pre.artifact-text");
    assert.equal((await page.textContent("pre.artifact-text"))?.trim(), "notes of beta");
    assert.deepEqual(errors, []);
    await context.close();

    // Without credentials the page's API answers 401 with a Basic challenge (the browser asks for the token).
    const anon = await fetch(`${url}/api/v1/runs`);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get("www-authenticate") ?? "", /^Basic/);
  } finally {
    if (server) await stopProcess(server.child);
    await browser.close();
    await pg.stop();
    removeTempDir(objects);
  }
});
