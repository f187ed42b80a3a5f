import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { S3Remote } from "../../../src/remotes/s3.js";
import type { Remote } from "../../../src/remotes/types.js";
import { PackFile } from "../../../src/store/pack.js";
import { pushObjects } from "../../../src/transfer/objects.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { remoteContract } from "./contract.js";
import { fillStore, makeStore } from "./fixtures.js";
import { S3_ENV, startWeed, type Weed, weedBinary } from "./weed.js";

test("s3 remote against SeaweedFS", {
  skip: weedBinary() ? false : "weed not installed (scripts/test-setup.sh)",
}, async (t) => {
  Object.assign(process.env, S3_ENV);
  const weed: Weed = await startWeed();
  const dir = makeTempDir();
  let n = 0;
  const bucketOf = new Map<Remote, string>();
  const make = async (prefix = "proj") => {
    const bucket = `mtrack-test-${++n}`;
    await weed.createBucket(bucket);
    const remote = new S3Remote({
      url: `s3://${bucket}/${prefix}`,
      endpoint: weed.endpoint,
      cacheDir: path.join(dir, `cache-${n}`),
      attempts: 2,
    });
    bucketOf.set(remote, bucket);
    return remote;
  };
  try {
    await remoteContract(t, {
      make: () => make(),
      async corrupt(remote, hash, kind) {
        const Bucket = bucketOf.get(remote)!;
        if (kind === "large") {
          const Key = `proj/objects/${hash.slice(0, 2)}/${hash.slice(2)}`;
          const got = await weed.client.send(new GetObjectCommand({ Bucket, Key }));
          const b = Buffer.from(await got.Body!.transformToByteArray());
          b[0] = (b[0] ?? 0) ^ 0xff;
          await weed.client.send(new PutObjectCommand({ Bucket, Key, Body: b }));
          return;
        }
        // Small objects live in packs: find the one whose index names the object, flip its first byte.
        const list = await weed.client.send(new ListObjectsV2Command({ Bucket, Prefix: "proj/packs/" }));
        const read = async (Key: string) =>
          Buffer.from(
            await (
              await weed.client.send(new GetObjectCommand({ Bucket, Key }))
            ).Body!.transformToByteArray(),
          );
        for (const o of list.Contents ?? []) {
          const id = /pack-([0-9a-f]+)\.idx$/.exec(o.Key ?? "")?.[1];
          if (!id) continue;
          const idxDir = path.join(dir, `idx-${id}`);
          fs.mkdirSync(idxDir, { recursive: true });
          fs.writeFileSync(path.join(idxDir, `pack-${id}.idx`), await read(o.Key!));
          const hit = PackFile.open(fs, idxDir, id).find(Buffer.from(hash, "hex"));
          if (!hit) continue;
          const Key = `proj/packs/pack-${id}.pack`;
          const b = await read(Key);
          b[hit.offset] = (b[hit.offset] ?? 0) ^ 0xff;
          await weed.client.send(new PutObjectCommand({ Bucket, Key, Body: b }));
          return;
        }
        throw new Error(`object ${hash} not found in any pack`);
      },
    });

    await t.test("a missing bucket is a not-found error", async () => {
      const remote = new S3Remote({
        url: "s3://no-such-bucket/x",
        endpoint: weed.endpoint,
        cacheDir: path.join(dir, "nb"),
        attempts: 1,
      });
      await assert.rejects(remote.has([]), { code: "ERR_MTRACK_REMOTE_NOT_FOUND" });
      await remote.close();
    });

    await t.test("an unreachable endpoint is a clear error", async () => {
      const remote = new S3Remote({
        url: "s3://b/x",
        endpoint: "http://127.0.0.1:1",
        cacheDir: path.join(dir, "un"),
        attempts: 1,
      });
      await assert.rejects(
        remote.listRefs("runs"),
        (err: { data: { reason: string } }) => err.data.reason === "unreachable",
      );
      await remote.close();
    });

    await t.test("a second client sees the first one's packs without listing objects", async () => {
      const a = makeStore(path.join(dir, "sa"));
      const { roots, small } = await fillStore(a, path.join(dir, "sa"), { count: 10 });
      const r1 = await make("shared");
      await pushObjects(a, r1, roots);
      const r2 = new S3Remote({
        url: r1.url,
        endpoint: weed.endpoint,
        cacheDir: path.join(dir, "other-client"),
      });
      const present = await r2.has(small.map((hash) => ({ hash, size: 10 })));
      assert.equal(present.size, small.length);
      await r1.close();
      await r2.close();
      // A damaged cached index is downloaded again: the objects are still found, and the cache mended.
      const cache = path.join(dir, "other-client", "packs");
      const [cached] = fs.readdirSync(cache);
      assert.ok(cached);
      const good = fs.readFileSync(path.join(cache, cached));
      fs.writeFileSync(path.join(cache, cached), "damaged");
      const r3 = new S3Remote({
        url: r1.url,
        endpoint: weed.endpoint,
        cacheDir: path.join(dir, "other-client"),
      });
      assert.equal((await r3.has(small.map((hash) => ({ hash, size: 10 })))).size, small.length);
      assert.deepEqual(fs.readFileSync(path.join(cache, cached)), good);
      await r3.close();
    });
  } finally {
    await weed.stop();
    removeTempDir(dir);
  }
});
