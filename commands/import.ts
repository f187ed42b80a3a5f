import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { isModelUri } from "../src/registry/uri.js";
import { describeSource, importFromSource } from "../src/sources/import.js";
import { importModel } from "../src/sources/model.js";

export default class Import extends MtrackCommand {
  static override summary =
    "Import a tracked path (or git file, or registered model) of another repository, recording its source.";
  static override description =
    "Like `mtrack get <repo> <path>`, but into this repository as a tracked path whose pointer records the source: the repository, the revision asked for (--rev, default HEAD), the commit it resolved to and the path there. Commit the pointer; `mtrack update <out>` later moves it to the newest commit of that revision, `mtrack status --check-updates` tells whether the source has moved on, and `mtrack pull` fetches its objects from this project's remote or, when they were never pushed there, from the source's remote.\n\nA model URI (models:/<name>@<alias>, /<version>, /latest) imports that version of a registered model of the source's model registry (read from its default remote, where `mtrack push --models` put it) as a tracked directory named after the model; the pointer records the URI and the version, and `mtrack update` follows the alias.\n\nThe objects come from the source's default remote through the local store. Nothing is written unless all of it is (no data without its pointer, no pointer without its data; a kill in between is completed by the next command).";
  static override examples = [
    "<%= config.bin %> import ../dataset-registry data/images --rev v1",
    "<%= config.bin %> import git@github.com:org/registry.git models/model.bin -o models/base.bin",
    "<%= config.bin %> import ../model-registry models:/clf@champion -o models/clf",
  ];
  static override args = {
    repo: Args.string({
      description: "the source repository: a path, file://, https://, ssh:// or git@host:path",
      required: true,
    }),
    path: Args.string({
      description:
        "the path in that repository, or a model of its registry: models:/<name>@<alias>, models:/<name>/<version>, models:/<name>/latest",
      required: true,
    }),
  };
  static override flags = {
    rev: Flags.string({
      char: "r",
      description: "revision of the source to import and follow (default: HEAD)",
    }),
    out: Flags.string({
      char: "o",
      description: "where to write it (default: the path's basename, or the model's name)",
    }),
    force: Flags.boolean({ char: "f", description: "replace data or a pointer already at the output path" }),
    jobs: Flags.integer({ char: "j", description: "parallel downloads", min: 1, max: 256 }),
  };

  async run() {
    const { args, flags } = await this.parse(Import);
    const repo = this.openRepo();
    const model = isModelUri(args.path);
    // A model goes to a directory named after it (models:/clf@champion -> clf) unless -o says otherwise.
    const base = model
      ? (/^models:\/+([^/@]+)/.exec(args.path)?.[1] ?? "model")
      : path.posix.basename(args.path.replace(/\/+$/, ""));
    const outAbs = path.resolve(flags.out ?? base);
    const options = { rev: flags.rev, outAbs, force: flags.force, jobs: flags.jobs, env: process.env };
    const r = await repo.withLock("import", () =>
      this.withProgress((onProgress) =>
        model
          ? importModel(repo, args.repo, args.path, { ...options, onProgress })
          : importFromSource(repo, args.repo, args.path, { ...options, onProgress }),
      ),
    );
    this.say(
      `Imported ${describeSource(r.source)} -> ${r.path}: ${r.files} file(s), ${formatBytes(r.size)} (${r.downloaded} object(s) downloaded)`,
    );
    this.say(`Commit ${r.pointer} (and .gitignore) to record it.`);
    return r;
  }
}
