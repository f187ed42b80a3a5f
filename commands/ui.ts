import { Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { plotsSource } from "../src/plots/collect.js";
import { registryDir } from "../src/registry/models.js";
import { openTracking } from "../src/tracking/context.js";
import { looseObjectOpener } from "../src/ui/models.js";
import { isLoopbackHost, startUiServer } from "../src/ui/server.js";

export default class Ui extends MtrackCommand {
  static override summary = "Open a local web page to explore, chart and compare runs.";
  static override description =
    "Serves a read-only single-page app and its JSON API (under /api/v1, see docs/ui.md) for this repository's runs: experiments, a fast runs table with the search grammar, metric charts comparing runs, grouped bands, run pages with artifacts, the model registry (models, versions, their files and source runs), and the pipeline's plots overlaid across git revisions (#/plots?revs=HEAD,workspace). Listens on 127.0.0.1 unless --host says otherwise (there is no authentication). Stops on Ctrl-C.";
  static override examples = [
    "<%= config.bin %> ui",
    "<%= config.bin %> ui --port 8000",
    "<%= config.bin %> ui --port 0   # any free port",
  ];
  static override enableJsonFlag = false;
  static override flags = {
    port: Flags.integer({
      char: "p",
      default: 5050,
      min: 0,
      max: 65535,
      description: "port (0 picks a free one)",
    }),
    host: Flags.string({ default: "127.0.0.1", description: "address to listen on" }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Ui);
    const repo = this.openRepo();
    const { dir, store } = openTracking(repo);
    if (!isLoopbackHost(flags.host)) {
      this.logToStderr(
        `Warning: listening on ${flags.host}: anyone who can reach it can read every run and artifact (mtrack ui has no authentication).`,
      );
    }
    const server = await startUiServer({
      dir,
      store,
      repoRoot: repo.root,
      registryDir: registryDir(repo),
      openObject: looseObjectOpener(repo.store),
      plots: plotsSource(repo),
      host: flags.host,
      port: flags.port,
    });
    this.log(`mtrack ui: ${server.url}`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        void server.close().then(resolve);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  }
}
