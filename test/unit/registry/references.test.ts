/**
 * What the registry names in the store and the order its events travel in (pure: no disk).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { foldEvents } from "../../../src/registry/fold.js";
import {
  eventReferences,
  expandReferences,
  planEventTransfer,
  stateReferences,
} from "../../../src/registry/references.js";
import type { RegistryEvent } from "../../../src/registry/types.js";

const h = (c: string) => c.repeat(64);

let seq = 0;
function ev(body: Record<string, unknown>): RegistryEvent {
  seq++;
  const id = `${String(seq).padStart(13, "0")}-0000abcd`;
  return { id, time: seq, user: "me", ...body } as RegistryEvent;
}

function version(name: string, n: number, manifest: string): RegistryEvent {
  return ev({
    op: "version.create",
    name,
    version: n,
    source: "results/model",
    runId: null,
    modelId: null,
    commit: null,
    content: { hash: manifest, size: 1, files: 1 },
    signature: null,
    flavor: "files",
  });
}

/** Manifest → entries, as a store would give them. */
const entries = new Map([
  [h("1"), [{ name: "model.json", hash: h("a") }]],
  [h("2"), [{ name: "model.json", hash: h("b") }]],
  [h("3"), [{ name: "weights.bin", hash: h("c") }]],
]);
const entriesOf = (m: string) => entries.get(m);

test("stateReferences: live versions and logged models only; deleted ones need nothing", () => {
  const events = [
    ev({ op: "model.create", name: "clf" }),
    version("clf", 1, h("1")),
    version("clf", 2, h("2")),
    ev({ op: "version.delete", name: "clf", version: 2 }),
    ev({ op: "model.create", name: "gone" }),
    version("gone", 1, h("3")),
    ev({ op: "model.delete", name: "gone" }),
    ev({ op: "logged.create", modelId: "m-1", experimentId: "0", name: "a", sourceRunId: null }),
    ev({ op: "logged.file", modelId: "m-1", path: "MLmodel", hash: h("d"), size: 3 }),
    ev({ op: "logged.create", modelId: "m-2", experimentId: "0", name: "b", sourceRunId: null }),
    ev({ op: "logged.file", modelId: "m-2", path: "MLmodel", hash: h("e"), size: 3 }),
    ev({ op: "logged.delete", modelId: "m-2" }),
  ];
  const refs = stateReferences(foldEvents(events));
  assert.deepEqual([...refs.manifests], [[h("1"), "models:/clf/1"]]);
  assert.deepEqual([...refs.objects], [[h("d"), "logged model m-1/MLmodel"]]);
  assert.deepEqual([...expandReferences(refs, entriesOf).keys()].sort(), [h("1"), h("a"), h("d")].sort());
  assert.equal(expandReferences(refs, entriesOf).get(h("a")), "models:/clf/1/model.json");
  // A manifest that is not at hand counts alone (its entries are unknown).
  assert.deepEqual([...expandReferences(refs, () => undefined).keys()].sort(), [h("1"), h("d")].sort());
  assert.equal(eventReferences(events[0]!).manifests.size + eventReferences(events[0]!).objects.size, 0);
});

test("planEventTransfer: available first in id order, a deleted version's event after, a needed missing one held", () => {
  const create = ev({ op: "model.create", name: "clf" });
  const v1 = version("clf", 1, h("1"));
  const v2 = version("clf", 2, h("2"));
  const del = ev({ op: "version.delete", name: "clf", version: 2 });
  const v3 = version("clf", 3, h("3"));
  const alias = ev({ op: "alias.set", name: "clf", alias: "champion", version: 3 });
  const needed = new Set([h("1"), h("a"), h("3"), h("c")]);
  // v2 was deleted and collected (h("2") and h("b") are gone); v3's weights are missing.
  const available = (x: string) => [h("1"), h("a"), h("3")].includes(x);
  const plan = planEventTransfer([alias, v3, del, v2, v1, create], { available, needed, entriesOf });
  assert.deepEqual(
    plan.now.map((e) => e.id),
    [create, v1, del, alias].map((e) => e.id),
  );
  assert.deepEqual(
    plan.after.map((e) => e.id),
    [v2.id],
  );
  assert.deepEqual(plan.held, [{ event: v3, missing: [h("c")] }]);
  // A missing manifest that is needed holds its event back even though its entries are unknown.
  const bare = planEventTransfer([v1], { available: () => false, needed, entriesOf: () => undefined });
  assert.deepEqual(bare.held, [{ event: v1, missing: [h("1")] }]);
  // Shared content: a deleted version whose manifest a live one also uses travels in order.
  const same = version("clf", 4, h("1"));
  assert.deepEqual(
    planEventTransfer([same], { available, needed, entriesOf }).now.map((e) => e.id),
    [same.id],
  );
});
