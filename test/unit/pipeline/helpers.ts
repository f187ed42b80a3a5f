/** Shared helpers for the pipeline unit tests. */
import assert from "node:assert/strict";
import { type ErrorCode, isMtrackError, type MtrackError } from "../../../src/errors.js";
import { buildDag, type Dag } from "../../../src/pipeline/dag.js";
import { parsePipeline } from "../../../src/pipeline/parse.js";
import type { Pipeline } from "../../../src/pipeline/types.js";

/** Parses pipeline text with in-memory params/vars files. */
export function parse(text: string, files: Record<string, string> = {}): Pipeline {
  return parsePipeline({ text, file: "pipeline.yaml", readFile: (p) => files[p] });
}

/** Parses and builds the DAG; every dep is assumed to exist unless listed in `missing`. */
export function dagOf(text: string, files: Record<string, string> = {}, missing: string[] = []): Dag {
  return buildDag(parse(text, files), { exists: (p) => !missing.includes(p) });
}

/** Asserts that `fn` throws an MtrackError with `code` and returns it for further checks. */
export function throwsCode(fn: () => unknown, code: ErrorCode): MtrackError {
  try {
    fn();
  } catch (e) {
    assert.ok(isMtrackError(e), `expected an MtrackError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** Asserts an error's position (data and the `file:line:col` prefix of the message). */
export function assertPos(err: MtrackError, line: number, column: number, file = "pipeline.yaml"): void {
  assert.deepEqual(
    { file: err.data.file, line: err.data.line, column: err.data.column },
    { file, line, column },
  );
  assert.ok(err.message.startsWith(`${file}:${line}:${column}`), err.message);
}
