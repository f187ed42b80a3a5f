import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { pipelineStatus } from "../src/pipeline/status.js";
import { describeSource } from "../src/sources/import.js";
import { checkImports, listImports } from "../src/sources/update.js";
import { healInterruptedWrites } from "../src/workspace/pending.js";
import { statusPaths } from "../src/workspace/status.js";
import { selectTracked } from "../src/workspace/tracked.js";

export default class Status extends MtrackCommand {
  static override summary = "Show tracked paths that changed, are missing, or are not in the store.";
  static override description =
    `Compares the workspace with the pointer files. For directories, lists the files added, modified and deleted inside. Without targets, also lists pipeline stages whose command, dependencies, parameters or outputs changed since pipeline.lock (what \`mtrack repro\` would run).

Imported paths (\`mtrack import\`, \`mtrack import-url\`) are listed with their source; --check-updates asks each source whether it has a newer version (then exit code 1).

A pointer file that cannot be parsed is reported for its path (the others are still compared); so is a pipeline file that cannot be parsed (with its file and line), after the data status.

Exit code: 0 when everything is up to date, 1 when something changed or is missing or a pointer or pipeline file is unreadable (like \`git diff --exit-code\`), 2 on error.`;
  static override examples = [
    "<%= config.bin %> status",
    "<%= config.bin %> status data/ --json",
    "<%= config.bin %> status --remote",
    "<%= config.bin %> status --check-updates",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths (default: all)" }) };
  static override flags = {
    remote: Flags.boolean({ description: "compare with a remote instead: what is not pushed, not fetched" }),
    "remote-name": Flags.string({ char: "r", description: "the remote for --remote (default: core.remote)" }),
    "check-updates": Flags.boolean({
      description: "ask the source of each imported path whether it has moved on (`mtrack update` takes it)",
    }),
  };

  async run() {
    const { argv, flags } = await this.parse(Status);
    const repo = this.openRepo();
    // An import killed between its data and its pointer is finished before status looks.
    await healInterruptedWrites(repo);
    if (flags.remote || flags["remote-name"]) {
      const targets = (argv as string[]).map((p) => path.resolve(p));
      // Loaded on demand: the remote backends pull in the AWS SDK, which plain `status` must not pay for.
      const { remoteStatus } = await import("../src/transfer/sync.js");
      const r = await remoteStatus(repo, { targets, remote: flags["remote-name"], env: process.env });
      for (const p of r.paths) {
        if (p.notPushed) this.say(`${p.label}: ${p.notPushed} object(s) not pushed to ${r.remote}`);
        if (p.notLocal) this.say(`${p.label}: ${p.notLocal} object(s) only on ${r.remote} (fetch them)`);
        if (p.lost) this.say(`${p.label}: ${p.lost} object(s) neither here nor on ${r.remote}`);
      }
      if (r.inSync) this.say(`Everything is on ${r.remote} and here.`);
      else process.exitCode = 1;
      return r;
    }
    const rels = selectTracked(
      repo,
      (argv as string[]).map((p) => path.resolve(p)),
    );
    const result = await statusPaths(repo, rels);
    for (const bad of result.invalid) {
      this.say(`${bad.path}: pointer file unreadable: ${bad.message}`);
      if (bad.hint) this.say(`    hint: ${bad.hint}`);
    }
    for (const p of result.paths) {
      if (p.workspace === "modified") {
        this.say(`${p.path}: modified`);
        const c = p.changes;
        if (c) {
          const show = (label: string, list: string[]) => {
            for (const f of list.slice(0, 20)) this.say(`    ${label}: ${p.path}/${f}`);
            if (list.length > 20) this.say(`    ... and ${list.length - 20} more ${label}`);
          };
          show("added", c.added);
          show("modified", c.modified);
          show("deleted", c.deleted);
        }
      } else if (p.workspace === "missing") {
        this.say(`${p.path}: missing from the workspace (restore with \`mtrack checkout ${p.path}\`)`);
      }
      if (p.notInStore) {
        this.say(
          `${p.path}: not in the local store (${p.missingObjects} object(s) missing; fetch them from a remote)`,
        );
      }
    }
    const imports = listImports(repo, rels);
    for (const { rel, pointer } of imports)
      this.say(`${rel}: imported from ${describeSource(pointer.source!)}`);
    const updates = flags["check-updates"] ? await checkImports(repo, rels, process.env) : undefined;
    for (const c of updates ?? []) {
      if (c.error) this.say(`${c.path}: could not ask its source (${c.error})`);
      else if (c.moved) this.say(`${c.path}: the source has a newer version (\`mtrack update ${c.path}\`)`);
    }
    // Stale pipeline stages (only when no specific paths were asked about).
    const pipeline = argv.length === 0 ? await pipelineStatus(repo) : undefined;
    for (const st of pipeline?.stale ?? []) {
      this.say(`${st.name}: ${st.action === "run" ? "changed" : "may change"} (${st.reasons.join(", ")})`);
    }
    if (pipeline?.error) {
      this.say(
        `${pipeline.file}: cannot tell which stages changed: [${pipeline.error.code}] ${pipeline.error.message}`,
      );
      if (pipeline.error.hint) this.say(`    hint: ${pipeline.error.hint}`);
    }
    const clean =
      result.clean &&
      (pipeline?.stale.length ?? 0) === 0 &&
      !pipeline?.error &&
      !(updates ?? []).some((c) => c.moved);
    if (clean) {
      this.say(
        rels.length === 0 && !pipeline?.file ? "No tracked paths." : "Data and pipelines are up to date.",
      );
    }
    if (!clean) process.exitCode = 1;
    return {
      ...result,
      clean,
      pipeline,
      imports: imports.map((i) => ({ path: i.rel, source: i.pointer.source })),
      ...(updates ? { updates } : {}),
    };
  }
}
