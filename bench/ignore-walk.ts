/**
 * The cost of .mtrackignore support in the directory walk (listDir, what every `status` runs): 100k small
 * files in 100 directories, walked with no ignore file, with a prunable one (`d5/`, `*.tmp`) and with a
 * negation (no pruning, every path filtered). Prints the median of 15 walks.
 *
 *   node --import tsx bench/ignore-walk.ts [path/to/src/workspace/scan.ts]   (another build's, for A/B)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const modPath = path.resolve(process.argv[2] ?? "src/workspace/scan.ts");
const { listDir } = await import(modPath);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "ignore-walk-"));
try {
  for (let d = 0; d < 100; d++) {
    fs.mkdirSync(path.join(root, "data", `d${d}`), { recursive: true });
    for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(root, "data", `d${d}`, `f${i}`), String(i));
  }
  const cases: Array<[string, string | undefined]> = [
    ["no ignore file", undefined],
    ["d5/ and *.tmp (pruned)", "d5/\n*.tmp\n"],
    ["d5/, *.tmp, !keep.tmp (filtered)", "d5/\n*.tmp\n!keep.tmp\n"],
  ];
  console.log(`| walk of 100k files (${path.relative(process.cwd(), modPath)}) | files | median ms |`);
  console.log("|---|---:|---:|");
  for (const [name, text] of cases) {
    const file = path.join(root, ".mtrackignore");
    if (text === undefined) fs.rmSync(file, { force: true });
    else fs.writeFileSync(file, text);
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      n = listDir(path.join(root, "data"), root, fs).count;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`| ${name} | ${n} | ${times[7]!.toFixed(1)} |`);
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
