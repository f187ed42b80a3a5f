/**
 * Child process for the tracking process tests. argv: <dir> <storeRoot> <mode>.
 * Starts a run, logs metrics, flushes, prints "ready", then misbehaves according to mode.
 */

import { startRun } from "../../../src/tracking/api.js";
import { FakeStore, fakeGit } from "./fake-store.js";

const [dir, storeRoot, mode] = process.argv.slice(2) as [string, string, string];
const store = new FakeStore(storeRoot);
const run = await startRun({
  dir,
  store,
  gitInfo: fakeGit,
  experiment: "proc",
  name: mode,
  params: { mode },
  flushIntervalMs: mode === "kill9" ? 60_000 : 50,
});
for (let step = 0; step < 100; step++) run.logMetric("loss", 1 / (step + 1), { step });
run.logText("flushed\n", "out.log", { append: true });
run.flush();
// Points after the last flush: lost on kill -9, kept on a signal (the handler flushes).
for (let step = 100; step < 110; step++) run.logMetric("loss", 0, { step });
process.stdout.write(`${run.id}\n`);

if (mode === "throw") {
  setTimeout(() => {
    throw new Error("boom");
  }, 10);
} else if (mode === "reject") {
  setTimeout(() => void Promise.reject(new Error("async boom")), 10);
} else if (mode === "finish") {
  for (let i = 0; i < 50; i++) run.logMetric("x", i, { step: i });
  await run.end();
} else if (mode === "forget") {
  // No end(): the event loop drains and the beforeExit hook seals the run.
} else {
  // Wait to be killed; the timer keeps the process alive (the run's own flush timer is unref'd).
  setInterval(() => {}, 1000);
}
