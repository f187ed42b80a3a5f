/**
 * Child process for the live-run tests: appends to a run another process owns. argv: <dir> <storeRoot>
 * <runId> <writer name> <points>. Logs <points> points of metric `<name>`, a param and a text line each.
 */

import { openLiveRun } from "../../../src/tracking/external.js";
import { FakeStore } from "./fake-store.js";

const [dir, storeRoot, runId, name, points] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const live = openLiveRun(dir, new FakeStore(storeRoot), runId);
live.logParams({ [`writer.${name}`]: "yes" });
for (let step = 0; step < Number(points); step++) {
  live.logMetric(name, step, { step });
  if (step % 10 === 0) live.logText(`${name} ${step}\n`, "writers.log", { append: true });
}
