/**
 * Temp directories for tests: every test gets its own, removed afterwards.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A fresh directory under the OS temp dir (`mtrack-XXXXXX`).
 *
 * @example
 * const dir = makeTempDir(); try { ... } finally { removeTempDir(dir); }
 */
export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
}

/** Removes a temp dir, first making read-only store files and directories removable. */
export function removeTempDir(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // Non-root users cannot unlink inside read-only directories: make everything writable, then retry.
    const chmodAll = (p: string) => {
      try {
        const st = fs.lstatSync(p);
        if (st.isSymbolicLink()) return;
        fs.chmodSync(p, st.mode | 0o700);
        if (st.isDirectory()) for (const n of fs.readdirSync(p)) chmodAll(path.join(p, n));
      } catch {
        // gone already
      }
    };
    chmodAll(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with a fresh temp dir that is removed afterwards, whatever happens.
 *
 * @example
 * test("x", () => withTempDir((dir) => { ... }));
 */
export async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = makeTempDir();
  try {
    return await fn(dir);
  } finally {
    removeTempDir(dir);
  }
}

/** Writes files given as `{ relativePath: content }` under `root` (parents created). */
export function writeTree(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, ...rel.split("/"));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/**
 * Every regular file under `root` as `{ posixRelPath: bytes }`, skipping `.git` and `.mtrack`
 * (for byte-for-byte comparisons of workspaces).
 */
export function readTree(root: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const visit = (dir: string, prefix: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      if (d.name === ".git" || d.name === ".mtrack") continue;
      const abs = path.join(dir, d.name);
      const rel = prefix ? `${prefix}/${d.name}` : d.name;
      if (d.isDirectory()) visit(abs, rel);
      else out[rel] = fs.readFileSync(abs);
    }
  };
  visit(root, "");
  return out;
}
