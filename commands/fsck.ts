import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { fsckRegistry } from "../src/registry/fsck.js";
import { fsckStore } from "../src/workspace/fsck.js";

export default class Fsck extends MtrackCommand {
  static override summary =
    "Verify the store: rehash every object, check every pointer's objects and the model registry.";
  static override description =
    "Checks the model registry too: event files that are not events, files of live model versions and logged models that are missing or corrupt, and registry changes that did not apply (two clones changed one thing at once). A pointer file that cannot be parsed is reported as damage (the other pointers are still checked). Exit code 0 when everything is sound, 1 when anything is corrupt, missing, unparseable or in conflict.";
  static override examples = ["<%= config.bin %> fsck", "<%= config.bin %> fsck --json"];

  async run() {
    await this.parse(Fsck);
    const repo = this.openRepo();
    const store = await this.withProgress((onProgress) => fsckStore(repo, { onProgress }));
    const registry = fsckRegistry(repo, { corrupt: new Set(store.corrupt.map((c) => c.hash)) });
    const r = { ...store, registry, ok: store.ok && registry.ok };
    this.say(
      `Checked ${r.objects} objects (${formatBytes(r.bytes)}) and ${registry.events} registry event(s).`,
    );
    for (const c of r.corrupt) this.say(`corrupt: ${c.hash} (${c.location})`);
    for (const p of r.damagedPacks) this.say(`damaged pack: ${p.id}: ${p.error}`);
    for (const m of r.missing.slice(0, 50)) this.say(`missing: ${m.path} (${m.hash.slice(0, 12)})`);
    if (r.missing.length > 50) this.say(`... and ${r.missing.length - 50} more missing`);
    for (const d of r.damaged.slice(0, 50)) this.say(`damaged: ${d.path} (${d.hash.slice(0, 12)})`);
    if (r.damaged.length > 50) this.say(`... and ${r.damaged.length - 50} more damaged`);
    for (const b of r.invalidPointers) {
      this.say(`invalid pointer: ${b.pointer}: ${b.message}`);
      if (b.hint) this.say(`  hint: ${b.hint}`);
    }
    for (const p of registry.problems.slice(0, 50)) {
      const what = p.label ? ` ${p.label}${p.hash ? ` (${p.hash.slice(0, 12)})` : ""}` : "";
      this.say(`registry ${p.kind}: ${p.file}:${what} ${p.reason}`);
      this.say(`  hint: ${p.hint}`);
    }
    if (registry.problems.length > 50)
      this.say(`... and ${registry.problems.length - 50} more registry problems`);
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
