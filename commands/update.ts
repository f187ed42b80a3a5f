import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { sourceVersion } from "../src/sources/import.js";
import { updateImports } from "../src/sources/update.js";

export default class Update extends MtrackCommand {
  static override summary = "Move imported paths to their source's newest version.";
  static override description =
    'For a path written by `mtrack import`: fetches the recorded revision of the source repository (or --rev, which is then recorded) and, when it resolves to another commit, writes that version of the data and its pointer. For a path written by `mtrack import-url`: asks the URL for its ETag / Last-Modified / size and downloads it again when they changed. For a model imported by URI (models:/<name>@<alias>): resolves the URI again in the source registry and writes the version it names now. Says "up to date" when nothing moved. --rev applies to repository paths only (refused for URL and model imports).\n\nLocal modifications of an imported path are not overwritten without --force.';
  static override examples = [
    "<%= config.bin %> update images",
    "<%= config.bin %> update images --rev v2",
    "<%= config.bin %> update data/remote.csv",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "imported paths", required: true }) };
  static override flags = {
    rev: Flags.string({
      char: "r",
      description: "another revision of the source to follow (imports of a repository's path only)",
    }),
    force: Flags.boolean({ char: "f", description: "discard local modifications of the imported paths" }),
    jobs: Flags.integer({ char: "j", description: "parallel downloads", min: 1, max: 256 }),
  };

  async run() {
    const { argv, flags } = await this.parse(Update);
    const repo = this.openRepo();
    const targets = (argv as string[]).map((t) => path.resolve(t));
    const results = await repo.withLock("update", () =>
      this.withProgress((onProgress) =>
        updateImports(repo, targets, {
          rev: flags.rev,
          force: flags.force,
          jobs: flags.jobs,
          onProgress,
          env: process.env,
        }),
      ),
    );
    for (const r of results) {
      if (!r.changed) {
        this.say(`${r.path}: up to date`);
        continue;
      }
      this.say(
        `${r.path}: ${sourceVersion(r.from)} -> ${sourceVersion(r.source)}${r.dataChanged ? `, ${r.files} file(s), ${formatBytes(r.size)}` : " (same data)"}`,
      );
    }
    return { updated: results };
  }
}
