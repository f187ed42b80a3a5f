/** Shared by the MLflow service tests: a service over a temp tracking dir, and calls' outcomes. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { toMlflowError } from "../../../src/server/mlflow/errors.js";
import { MlflowService } from "../../../src/server/mlflow/service.js";
import { FakeStore } from "../tracking/fake-store.js";

/** A service over its own temp dir; `close()` ends its runs and removes the dir. */
export interface TempService {
  dir: string;
  store: FakeStore;
  service: MlflowService;
  close(): Promise<void>;
}

/**
 * An MlflowService over a fresh temp tracking dir and fake store.
 *
 * @example
 * const t = tempService({ clock: () => 1 }); ...; await t.close();
 */
export function tempService(options: { clock?: () => number } = {}): TempService {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-mlflow-"));
  const dir = path.join(tmp, ".mtrack", "runs");
  const store = new FakeStore(path.join(tmp, "objects"));
  const service = new MlflowService({ tracking: { dir, store }, tmpDir: path.join(tmp, "up"), ...options });
  return {
    dir,
    store,
    service,
    close: async () => {
      await service.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * The MLflow status and error code a call fails with (`"404 RESOURCE_DOES_NOT_EXIST"`), or "ok".
 *
 * @example
 * assert.equal(await outcome(() => service.getRun({ run_id: ghost })), "404 RESOURCE_DOES_NOT_EXIST");
 */
export async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    const { status, body } = toMlflowError(err);
    return `${status} ${body.error_code}`;
  }
  return "ok";
}
