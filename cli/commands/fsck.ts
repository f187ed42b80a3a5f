import { fsckStore } from "../../src/workspace/fsck.js";
import { MtrackCommand } from "../base.js";
import { formatBytes } from "../progress.js";

export default class Fsck extends MtrackCommand {
  static override summary = "Verify the store: rehash every object and check every pointer's objects.";
  static override description = "Exit code 0 when the store is sound, 1 when objects are corrupt or missing.";
  static override examples = ["<%= config.bin %> fsck", "<%= config.bin %> fsck --json"];

  async run() {
    await this.parse(Fsck);
    const repo = this.openRepo();
    const r = await this.withProgress((onProgress) => fsckStore(repo, { onProgress }));
    this.say(`Checked ${r.objects} objects (${formatBytes(r.bytes)}).`);
    for (const c of r.corrupt) this.say(`corrupt: ${c.hash} (${c.location})`);
    for (const p of r.damagedPacks) this.say(`damaged pack: ${p.id}: ${p.error}`);
    for (const m of r.missing.slice(0, 50)) this.say(`missing: ${m.path} (${m.hash.slice(0, 12)})`);
    if (r.missing.length > 50) this.say(`... and ${r.missing.length - 50} more missing`);
    for (const d of r.damaged.slice(0, 50)) this.say(`damaged: ${d.path} (${d.hash.slice(0, 12)})`);
    if (r.damaged.length > 50) this.say(`... and ${r.damaged.length - 50} more damaged`);
    if (r.leftovers > 0)
      this.say(`${r.leftovers} leftover(s) of interrupted writes (harmless; \`mtrack gc\` removes them).`);
    this.say(r.ok ? "No problems found." : "Problems found: re-add the data, or fetch it from a remote.");
    if (r.damaged.length > 0)
      this.say(
        "A damaged path's stored copy no longer matches what was added (with cache.type hardlink, a write through the link changes it): `mtrack add` it again if its current content is what you want, or restore it from its source. Do not push it: push refuses damaged objects.",
      );
    if (!r.ok) process.exitCode = 1;
    return r;
  }
}
