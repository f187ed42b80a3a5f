import { Args, Flags } from "@oclif/core";
import { CONFIG_KEYS, Config, configKeySpec, setConfigValue } from "../src/config.js";
// Registers the remote.<name>.* keys (url, endpoint, region, profile, jobs, token).
import "../src/remotes/config.js";
import { MtrackCommand } from "../cli/base.js";

export default class ConfigCmd extends MtrackCommand {
  static override summary = "Get or set repository settings.";
  static override description =
    `Settings live in .mtrack/config.yaml (committed) or, with --local, .mtrack/config.local.yaml (git-ignored; for machine-specific values and credentials).

Keys:
${Object.entries(CONFIG_KEYS)
  .map(([k, s]) => `  ${k}${s.default !== undefined ? ` (default ${s.default})` : ""}: ${s.description}`)
  .join("\n")}`;
  static override examples = [
    "<%= config.bin %> config cache.type",
    "<%= config.bin %> config cache.type hardlink",
    "<%= config.bin %> config --unset cache.type",
    "<%= config.bin %> config --list",
  ];
  static override args = {
    key: Args.string({ description: "setting name, e.g. cache.type" }),
    value: Args.string({ description: "new value (omit to print the current one)" }),
  };
  static override flags = {
    local: Flags.boolean({ description: "write to .mtrack/config.local.yaml (not committed)" }),
    unset: Flags.boolean({ description: "remove the key" }),
    list: Flags.boolean({ char: "l", description: "list every setting with its value and origin" }),
  };

  async run() {
    const { args, flags } = await this.parse(ConfigCmd);
    const repo = this.openRepo();
    const scope = flags.local ? "local" : "repo";
    if (flags.list || !args.key) {
      const entries = repo.config.entries();
      for (const e of entries) this.say(`${e.key}=${e.value}  (${e.scope})`);
      return { settings: entries };
    }
    configKeySpec(args.key);
    if (flags.unset) {
      setConfigValue(repo.paths.mtrackDir, args.key, undefined, { scope });
      return { key: args.key, value: null, scope };
    }
    if (args.value === undefined) {
      const value = Config.load(repo.paths.mtrackDir).get(args.key);
      this.say(value === undefined ? "" : String(value));
      return { key: args.key, value: value ?? null };
    }
    const value = setConfigValue(repo.paths.mtrackDir, args.key, args.value, { scope });
    this.say(
      `${args.key}=${value} (${scope === "local" ? ".mtrack/config.local.yaml" : ".mtrack/config.yaml"})`,
    );
    if (args.key === "cache.type" && value !== "copy") {
      this.say(
        "Run `mtrack checkout --force` to relink existing data; linked files become read-only (`mtrack unprotect` to edit).",
      );
    }
    return { key: args.key, value, scope };
  }
}
