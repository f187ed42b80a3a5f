/**
 * Child process for the crash tests (test/e2e/import-crash.test.ts): runs one import-url or update
 * in-process with an fs that SIGKILLs the process just before a chosen rename.
 *
 *   node --import tsx test/helpers/crash-import.ts <repoDir> <before-pointer|before-data> import-url <url> <out>
 *   node --import tsx test/helpers/crash-import.ts <repoDir> <before-pointer|before-data> update <target>
 */
import * as path from "node:path";
import { Repo } from "../../src/repo.js";
import { updateImports } from "../../src/sources/update.js";
import { importUrl } from "../../src/sources/url.js";
import { killBeforeRename } from "./fault-fs.js";

const [repoDir, when, op, a, b] = process.argv.slice(2) as [string, string, string, string, string?];
const target = path.resolve(repoDir, op === "import-url" ? b! : a);
const fs = killBeforeRename((dest) =>
  when === "before-pointer" ? dest === `${target}.mtrack` : dest === target,
);
const repo = Repo.open({ cwd: repoDir, fs });
if (op === "import-url")
  await repo.withLock("import-url", () => importUrl(repo, a, target, { env: process.env }));
else await repo.withLock("update", () => updateImports(repo, [target], { env: process.env }));
console.log("finished without being killed");
