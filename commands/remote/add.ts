import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { addRemote } from "../../src/remotes/config.js";

export default class RemoteAdd extends MtrackCommand {
  static override summary =
    "Add a remote (a directory, s3://bucket/prefix, or http(s)://host:port of `mtrack server`).";
  static override description =
    "The remote goes in the committed .mtrack/config.yaml so every clone knows it. Credentials never do: use the AWS credential chain, or `mtrack remote modify <name> token <token>` (written to the git-ignored config.local.yaml).";
  static override examples = [
    "<%= config.bin %> remote add origin s3://my-bucket/project --default",
    "<%= config.bin %> remote add nas /mnt/share/mtrack",
    "<%= config.bin %> remote add team http://mtrack.internal:8080",
  ];
  static override args = {
    name: Args.string({ required: true, description: "remote name" }),
    url: Args.string({ required: true, description: "where the remote is" }),
  };
  static override flags = {
    default: Flags.boolean({ char: "d", description: "make it the default remote" }),
  };

  async run(): Promise<{ name: string; url: string; default: boolean }> {
    const { args, flags } = await this.parse(RemoteAdd);
    const repo = this.openRepo();
    addRemote(repo.paths.mtrackDir, repo.config, args.name, args.url, { makeDefault: flags.default });
    this.say(`Added remote ${args.name} → ${args.url}${flags.default ? " (default)" : ""}.`);
    return { name: args.name, url: args.url, default: flags.default };
  }
}
