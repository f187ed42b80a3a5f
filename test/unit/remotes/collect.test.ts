/**
 * Remote garbage collection (`gc --cloud`): the pure plan, then the same scenario against each backend
 * (a directory, `mtrack server` over HTTP, SeaweedFS S3), the server's refusals, and a directory
 * collection interrupted between its steps.
 */
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { test } from "node:test";
import { type PackInfo, planCollect } from "../../../src/remotes/collect.js";
import { HttpRemote } from "../../../src/remotes/http.js";
import { LocalRemote } from "../../../src/remotes/local.js";
import type { ObjectData, Remote } from "../../../src/remotes/types.js";
import { encodeHashList } from "../../../src/remotes/wire.js";
import { type RunningServer, startServer, tokensFileOf } from "../../../src/server/server.js";
import { createToken } from "../../../src/server/tokens.js";
import { hashBytes } from "../../../src/store/hash.js";
import { parseDuration } from "../../../src/util/duration.js";
import type { FsLike } from "../../../src/util/fs.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { S3_ENV, startWeed, weedBinary } from "./weed.js";

const HOUR = 3_600_000;
const h = (n: number) => n.toString(16).padStart(64, "0");

test("planCollect: what goes and in which form", () => {
  const now = 10 * HOUR;
  const old = now - 2 * HOUR;
  const pack = (id: string, mtimeMs: number, hashes: number[]): PackInfo => ({
    id,
    mtimeMs,
    bytes: 8 + hashes.length * 10,
    entries: hashes.map((x, i) => ({ hash: h(x), offset: 8 + i * 10, length: 10 })),
  });
  const inventory = {
    packs: [
      pack("alllive", old, [1, 2]),
      pack("partly", old, [3, 4, 5]),
      pack("dead", old, [6, 7]),
      pack("young", now - 60_000, [8, 9]),
      // 7 again in a young pack: its old copy goes, the object stays.
      pack("young2", now - 1000, [7]),
    ],
    loose: [
      { hash: h(20), size: 1000, mtimeMs: old },
      { hash: h(21), size: 2000, mtimeMs: old },
      { hash: h(22), size: 4000, mtimeMs: now - 10 },
    ],
    leftovers: [
      { name: "packs/pack-orphan.pack", size: 50, mtimeMs: old },
      { name: "tmp/x", size: 5, mtimeMs: now - 10 },
    ],
  };
  const keep = new Set([h(1), h(2), h(3), h(20)]);
  const plan = planCollect(inventory, keep, { keepNewerMs: HOUR }, now);
  assert.deepEqual(
    plan.rewrite.map((r) => [r.pack.id, r.survivors.map((e) => e.hash)]),
    [["partly", [h(3)]]],
  );
  assert.deepEqual(
    plan.deletePacks.map((p) => p.id),
    ["dead"],
  );
  assert.deepEqual(
    plan.deleteLoose.map((o) => o.hash),
    [h(21)],
  );
  assert.deepEqual(
    plan.deleteLeftovers.map((l) => l.name),
    ["packs/pack-orphan.pack"],
  );
  // Gone: 4, 5, 6, 21 (7 stays in young2). Left: 1, 2, 3, 20 wanted; 7, 8, 9, 22 young. Freed: 20 (rewrite) + 28 (dead pack) + 2000 + 50.
  assert.deepEqual(plan.result, {
    dryRun: false,
    removed: 4,
    removedBytes: 20 + 28 + 2000 + 50,
    kept: 8,
    young: 4,
    packsRewritten: 1,
    packsDeleted: 1,
    leftovers: 1,
  });
  // A grace period of 0 leaves nothing young: the young packs go too.
  const all = planCollect(inventory, keep, { keepNewerMs: 0, dryRun: true }, now);
  assert.equal(all.result.dryRun, true);
  assert.deepEqual(all.deletePacks.map((p) => p.id).sort(), ["dead", "young", "young2"]);
  assert.equal(all.result.removed, 8);
  assert.equal(all.deleteLeftovers.length, 2);
  // ...even one whose file time has sub-millisecond digits past `now` (written in the same millisecond).
  const sameMs = planCollect(
    { packs: [pack("now", now + 0.4, [30])], loose: [], leftovers: [] },
    new Set(),
    {
      keepNewerMs: 0,
    },
    now,
  );
  assert.deepEqual(
    sameMs.deletePacks.map((p) => p.id),
    ["now"],
  );
});

test("parseDuration", () => {
  assert.equal(parseDuration("30m"), 30 * 60_000);
  assert.equal(parseDuration("2h"), 2 * HOUR);
  assert.equal(parseDuration("1.5h"), 1.5 * HOUR);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("7d"), 7 * 24 * HOUR);
  assert.equal(parseDuration("0"), 0);
  for (const bad of ["", "h", "10", "-1h", "1 week", "1y"])
    assert.throws(() => parseDuration(bad), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
});

function objects(tag: string, n: number): ObjectData[] {
  return Array.from({ length: n }, (_, i) => {
    const data = Buffer.from(`${tag} object ${i} ${"y".repeat(i * 7)}`);
    return { hash: hashBytes(data), data };
  });
}

/**
 * The scenario every backend passes: two pushed batches and two large objects; a grace period keeps
 * everything young; a dry run deletes nothing; the real run deletes exactly the unwanted objects,
 * rewriting the partly live pack, and the survivors still read back; a second run deletes a whole pack.
 * `settle` lets the remote's clock move past what was just written (S3 times have seconds).
 */
async function scenario(remote: Remote, dir: string, settle: () => Promise<void>): Promise<void> {
  const a = objects("a", 10);
  const b = objects("b", 10);
  await remote.putBatch(a);
  await remote.putBatch(b);
  const bigs = [1, 2].map((i) => {
    const file = path.join(dir, `big${i}.bin`);
    const data = crypto.randomBytes(300_000 + i);
    fs.writeFileSync(file, data);
    return { hash: hashBytes(data), size: data.length, file, data };
  });
  for (const big of bigs) await remote.putFile(big, big.file);
  const all = [...a, ...b].map((o) => ({ hash: o.hash, size: o.data.length }));
  for (const big of bigs) all.push({ hash: big.hash, size: big.size });
  const present = async () => [...(await remote.has(all))].sort();
  assert.equal((await present()).length, 22);
  await settle();

  const young = await remote.collect(new Set(), { keepNewerMs: HOUR });
  assert.equal(young.removed, 0);
  assert.equal(young.young, 22);
  assert.equal(young.kept, 22);
  assert.equal((await present()).length, 22);

  const keep = new Set([...a.slice(0, 5), ...b].map((o) => o.hash).concat(bigs[0]!.hash));
  const dry = await remote.collect(keep, { keepNewerMs: 0, dryRun: true });
  assert.deepEqual(
    [dry.dryRun, dry.removed, dry.kept, dry.packsRewritten, dry.packsDeleted],
    [true, 6, 16, 1, 0],
  );
  assert.ok(dry.removedBytes >= 300_002);
  assert.equal((await present()).length, 22);

  const real = await remote.collect(keep, { keepNewerMs: 0 });
  assert.deepEqual({ ...real, dryRun: true }, dry);
  assert.deepEqual(await present(), [...keep].sort());
  const back = new Map<string, Buffer>();
  const rest = await remote.getBatch(
    [...a.slice(0, 5), ...b].map((o) => o.hash),
    (o) => {
      back.set(o.hash, Buffer.from(o.data));
    },
  );
  assert.deepEqual(rest, []);
  for (const o of [...a.slice(0, 5), ...b]) assert.deepEqual(back.get(o.hash), o.data);
  const stream = await remote.open(bigs[0]!.hash);
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  assert.deepEqual(Buffer.concat(chunks), bigs[0]!.data);
  assert.equal(await remote.open(bigs[1]!.hash), undefined);

  await settle();
  const keep2 = new Set(a.slice(0, 5).map((o) => o.hash));
  const second = await remote.collect(keep2, { keepNewerMs: 0 });
  assert.deepEqual([second.removed, second.kept, second.packsDeleted, second.packsRewritten], [11, 5, 1, 0]);
  assert.deepEqual(await present(), [...keep2].sort());
}

test("directory remote: collect", async (t) => {
  const dir = makeTempDir();
  try {
    await t.test("the backend scenario", async () => {
      const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
      try {
        await scenario(remote, dir, async () => new Promise((r) => setTimeout(r, 20)));
      } finally {
        await remote.close();
      }
    });

    await t.test("the grace period is by the remote's own file times", async () => {
      const store = path.join(dir, "graced");
      const remote = LocalRemote.open({ dir: store, create: true });
      try {
        const oldOnes = objects("old", 3);
        const newOnes = objects("new", 3);
        await remote.putBatch(oldOnes);
        const past = new Date(Date.now() - 2 * HOUR);
        for (const f of fs.readdirSync(path.join(store, "packs")))
          fs.utimesSync(path.join(store, "packs", f), past, past);
        await remote.putBatch(newOnes);
        const r = await remote.collect(new Set(), { keepNewerMs: HOUR });
        assert.deepEqual([r.removed, r.kept, r.young, r.packsDeleted], [3, 3, 3, 1]);
        const left = await remote.has([...oldOnes, ...newOnes].map((o) => ({ hash: o.hash, size: 1 })));
        assert.deepEqual([...left].sort(), newOnes.map((o) => o.hash).sort());
      } finally {
        await remote.close();
      }
    });

    // A collection stopped at any step (a kill, a failing disk) leaves only complete packs behind.
    for (const failOn of [".idx", ".pack"]) {
      await t.test(`interrupted when deleting an old ${failOn}: survivors stay readable`, async () => {
        const store = path.join(dir, `interrupted${failOn}`);
        const seed = LocalRemote.open({ dir: store, create: true });
        const batch = objects(`i${failOn}`, 6);
        await seed.putBatch(batch);
        await seed.close();
        let tripped = false;
        const faulty = new Proxy(fs, {
          get(target, prop, receiver) {
            if (prop === "unlinkSync") {
              return (file: fs.PathLike) => {
                if (!tripped && String(file).endsWith(failOn) && String(file).includes("packs")) {
                  tripped = true;
                  throw Object.assign(new Error("EIO: injected"), { code: "EIO" });
                }
                return fs.unlinkSync(file);
              };
            }
            return Reflect.get(target, prop, receiver);
          },
        }) as FsLike;
        const remote = LocalRemote.open({ dir: store, fs: faulty });
        const keep = new Set(batch.slice(0, 2).map((o) => o.hash));
        await assert.rejects(remote.collect(keep, { keepNewerMs: 0 }), { code: "ERR_MTRACK_IO" });
        await remote.close();
        assert.ok(tripped);
        const packFiles = fs.readdirSync(path.join(store, "packs"));
        // Every index still has its data.
        for (const f of packFiles.filter((n) => n.endsWith(".idx")))
          assert.ok(packFiles.includes(f.replace(/\.idx$/, ".pack")), `${f} lost its data`);
        const fresh = LocalRemote.open({ dir: store });
        try {
          const got = new Map<string, Buffer>();
          await fresh.getBatch(
            batch.slice(0, 2).map((o) => o.hash),
            (o) => void got.set(o.hash, Buffer.from(o.data)),
          );
          for (const o of batch.slice(0, 2)) assert.deepEqual(got.get(o.hash), o.data);
          // Rerun: finishes the job (an orphaned old pack is a leftover).
          const again = await fresh.collect(keep, { keepNewerMs: 0 });
          assert.equal(again.leftovers + again.packsRewritten >= 1, true);
          const left = await fresh.has(batch.map((o) => ({ hash: o.hash, size: 1 })));
          assert.deepEqual([...left].sort(), [...keep].sort());
          assert.equal(fs.readdirSync(path.join(store, "packs")).length, 2);
        } finally {
          await fresh.close();
        }
      });
    }
  } finally {
    removeTempDir(dir);
  }
});

/** A raw POST, for what the client would never send. */
function post(
  url: string,
  pathname: string,
  body: Buffer,
  token?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { "content-length": body.length };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = http.request(`${url}${pathname}`, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", (err) =>
      ["EPIPE", "ECONNRESET"].includes((err as { code?: string }).code ?? "") ? undefined : reject(err),
    );
    req.end(body);
  });
}

test("mtrack server: collect over HTTP", async (t) => {
  const servers: Array<{ dir: string; server: RunningServer }> = [];
  const serve = async (opts: { readOnly?: boolean; collectBytes?: number } = {}) => {
    const dir = makeTempDir();
    const { token } = createToken(tokensFileOf(dir), { name: "test" });
    const read = createToken(tokensFileOf(dir), { name: "reader", scope: "read" });
    const server = await startServer({
      storeDir: dir,
      host: "127.0.0.1",
      port: 0,
      readOnly: opts.readOnly,
      limits: opts.collectBytes ? { collectBytes: opts.collectBytes } : {},
    });
    servers.push({ dir, server });
    return { dir, server, token, readToken: read.token };
  };
  const seed = async (dir: string) => {
    const local = LocalRemote.open({ dir });
    const batch = objects("seed", 4);
    await local.putBatch(batch);
    await local.close();
    return batch;
  };
  const count = (dir: string) => fs.readdirSync(path.join(dir, "packs")).length;
  try {
    await t.test("the backend scenario", async () => {
      const { dir, server, token } = await serve();
      const remote = new HttpRemote({ url: server.url, token, attempts: 2 });
      try {
        await scenario(remote, dir, async () => new Promise((r) => setTimeout(r, 20)));
      } finally {
        await remote.close();
      }
    });

    await t.test("no token, a wrong token, a read token: refused, nothing deleted", async () => {
      const { dir, server, readToken } = await serve();
      await seed(dir);
      for (const token of [undefined, "mtk_wrong", readToken]) {
        const remote = new HttpRemote({ url: server.url, token, attempts: 1 });
        await assert.rejects(
          remote.collect(new Set(), { keepNewerMs: 0 }),
          (err: { code: string; data: { status: number } }) => {
            assert.equal(err.code, "ERR_MTRACK_REMOTE_AUTH");
            assert.equal(err.data.status, token === readToken ? 403 : 401);
            return true;
          },
        );
        await remote.close();
      }
      assert.equal(count(dir), 2);
    });

    await t.test("a read-only server refuses with a clear message, nothing deleted", async () => {
      const { dir, server, token } = await serve({ readOnly: true });
      await seed(dir);
      const remote = new HttpRemote({ url: server.url, token, attempts: 1 });
      await assert.rejects(
        remote.collect(new Set(), { keepNewerMs: 0 }),
        (err: Error & { data: { status: number } }) => {
          assert.equal(err.data.status, 403);
          assert.match(err.message, /read-only/);
          return true;
        },
      );
      await remote.close();
      assert.equal(count(dir), 2);
    });

    await t.test(
      "a keep set over the route's limit: 413, nothing deleted; other limits unchanged",
      async () => {
        const { dir, server, token } = await serve({ collectBytes: 32 * 10 });
        await seed(dir);
        const big = encodeHashList(Array.from({ length: 11 }, (_, i) => h(i + 1)));
        const r = await post(server.url, "/v1/objects/collect?keepNewerMs=0", big, token);
        assert.equal(r.status, 413);
        assert.equal(count(dir), 2);
        const fine = await post(
          server.url,
          "/v1/objects/collect?keepNewerMs=0&dry=1",
          big.subarray(0, 320),
          token,
        );
        assert.equal(fine.status, 200, fine.body);
        assert.equal((JSON.parse(fine.body) as { result: { removed: number } }).result.removed, 4);
        const noGrace = await post(server.url, "/v1/objects/collect", Buffer.alloc(0), token);
        assert.equal(noGrace.status, 400);
        assert.equal(count(dir), 2);
      },
    );
  } finally {
    for (const s of servers) {
      await s.server.close();
      removeTempDir(s.dir);
    }
  }
});

test("s3 remote: collect against SeaweedFS", {
  skip: weedBinary() ? false : "weed not installed (scripts/test-setup.sh)",
}, async () => {
  Object.assign(process.env, S3_ENV);
  const weed = await startWeed();
  const dir = makeTempDir();
  try {
    await weed.createBucket("mtrack-gc");
    const { S3Remote } = await import("../../../src/remotes/s3.js");
    const remote = new S3Remote({
      url: "s3://mtrack-gc/proj",
      endpoint: weed.endpoint,
      cacheDir: path.join(dir, "cache"),
      attempts: 2,
    });
    try {
      // LastModified has whole seconds: wait until "now" is past what was just written.
      await scenario(remote, dir, async () => new Promise((r) => setTimeout(r, 1100)));
    } finally {
      await remote.close();
    }
  } finally {
    await weed.stop();
    removeTempDir(dir);
  }
});
