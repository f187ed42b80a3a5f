import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { modifyRemote, REMOTE_OPTIONS } from "../../src/remotes/config.js";

export default class RemoteModify extends MtrackCommand {
  static override summary = "Set or unset one option of a remote.";
  static override description = `Options: ${Object.entries(REMOTE_OPTIONS)
    .map(([k, v]) => `${k} — ${v.description}`)
    .join(
      "\n",
    )}\n\n\`token\` is written to the git-ignored config.local.yaml; everything else to config.yaml.`;
  static override examples = [
    "<%= config.bin %> remote modify origin endpoint http://127.0.0.1:8333",
    "<%= config.bin %> remote modify team token mtk_...",
    "<%= config.bin %> remote modify origin jobs --unset",
  ];
  static override args = {
    name: Args.string({ required: true, description: "remote name" }),
    option: Args.string({ required: true, description: "option name", options: Object.keys(REMOTE_OPTIONS) }),
    value: Args.string({ description: "new value" }),
  };
  static override flags = { unset: Flags.boolean({ description: "remove the option" }) };

  async run(): Promise<{ name: string; option: string; value: string | null }> {
    const { args, flags } = await this.parse(RemoteModify);
    if (args.value === undefined && !flags.unset) this.error("Give a value, or --unset.", { exit: 2 });
    const repo = this.openRepo();
    modifyRemote(
      repo.paths.mtrackDir,
      repo.config,
      args.name,
      args.option,
      flags.unset ? undefined : args.value,
    );
    this.say(flags.unset ? `Unset ${args.name}.${args.option}.` : `Set ${args.name}.${args.option}.`);
    return {
      name: args.name,
      option: args.option,
      value: flags.unset ? null : args.option === "token" ? "***" : (args.value ?? null),
    };
  }
}
