import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { importUrl } from "../src/sources/url.js";

export default class ImportUrl extends MtrackCommand {
  static override summary =
    "Download a file from a URL into a tracked path, recording the URL and its version.";
  static override description =
    "For data that lives outside any repository: https:// or http://, s3://bucket/key (credentials and endpoint from the AWS environment: AWS_PROFILE, AWS_ENDPOINT_URL, ...), file:// or a local path. The file streams to a temporary file of the store and is stored; then the data and a pointer recording the URL with its ETag, Last-Modified and size are written. A failed download leaves nothing behind.\n\n`mtrack update <out>` downloads it again when the URL describes another version; `mtrack status --check-updates` tells when it does.";
  static override examples = [
    "<%= config.bin %> import-url https://example.com/data/train.csv data/train.csv",
    "<%= config.bin %> import-url s3://bucket/raw/events.parquet data/events.parquet",
  ];
  static override args = {
    url: Args.string({
      description: "https://, http://, s3://bucket/key, file:// or a local path",
      required: true,
    }),
    out: Args.string({ description: "where to write it in this repository", required: true }),
  };
  static override flags = {
    force: Flags.boolean({ char: "f", description: "replace data or a pointer already at the output path" }),
  };

  async run() {
    const { args, flags } = await this.parse(ImportUrl);
    const repo = this.openRepo();
    const r = await repo.withLock("import-url", () =>
      this.withProgress((onProgress) =>
        importUrl(repo, args.url, path.resolve(args.out), {
          force: flags.force,
          env: process.env,
          onProgress,
        }),
      ),
    );
    this.say(`Imported ${args.url} -> ${r.path}: ${formatBytes(r.size)}`);
    this.say(`Commit ${r.pointer} (and .gitignore) to record it.`);
    return r;
  }
}
