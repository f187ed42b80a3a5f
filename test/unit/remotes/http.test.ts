import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { test } from "node:test";
import { HttpRemote } from "../../../src/remotes/http.js";
import type { Remote } from "../../../src/remotes/types.js";
import { encodeBatch } from "../../../src/remotes/wire.js";
import { type RunningServer, startServer, tokensFileOf } from "../../../src/server/server.js";
import { createToken, revokeToken } from "../../../src/server/tokens.js";
import { hashBytes } from "../../../src/store/hash.js";
import { listPackIds } from "../../../src/store/pack.js";
import { fetchObjects, fetchProblems, pushObjects } from "../../../src/transfer/objects.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { corruptInStoreDir, remoteContract } from "./contract.js";
import { fillStore, makeStore } from "./fixtures.js";

/** A raw request, for what the client library would never send. */
function raw(
  url: string,
  method: string,
  pathname: string,
  options: { token?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = http.request(`${url}${pathname}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    // The server may close the connection before the whole body is sent (413, 401).
    req.on("error", (err) =>
      (err as { code?: string }).code === "EPIPE" || (err as { code?: string }).code === "ECONNRESET"
        ? undefined
        : reject(err),
    );
    req.end(options.body);
  });
}

test("http remote against mtrack server", async (t) => {
  const servers: Array<{ dir: string; server: RunningServer }> = [];
  const serve = async (opts: { readOnly?: boolean; publicRead?: boolean; objectBytes?: number } = {}) => {
    const dir = makeTempDir();
    const { token } = createToken(tokensFileOf(dir), { name: "test" });
    const server = await startServer({
      storeDir: dir,
      host: "127.0.0.1",
      port: 0,
      readOnly: opts.readOnly,
      publicRead: opts.publicRead,
      limits: opts.objectBytes ? { objectBytes: opts.objectBytes, batchBytes: opts.objectBytes } : {},
    });
    servers.push({ dir, server });
    return { dir, server, token };
  };
  try {
    const dirOf = new Map<Remote, string>();
    await remoteContract(t, {
      async make() {
        const { dir, server, token } = await serve();
        const remote = new HttpRemote({ url: server.url, token, attempts: 2 });
        dirOf.set(remote, dir);
        return remote;
      },
      async corrupt(remote, hash) {
        corruptInStoreDir(dirOf.get(remote)!, hash);
      },
    });

    await t.test("no token or a wrong token: 401 with reason auth, and nothing is written", async () => {
      const { dir, server } = await serve();
      const data = Buffer.from("hello");
      for (const token of [undefined, "mtk_wrong"]) {
        const remote = new HttpRemote({ url: server.url, token, attempts: 1 });
        await assert.rejects(
          remote.putBatch([{ hash: hashBytes(data), data }]),
          (err: { data: { reason: string; status: number } }) => {
            assert.equal(err.data.reason, "auth");
            assert.equal(err.data.status, 401);
            return true;
          },
        );
        await assert.rejects(remote.has([{ hash: hashBytes(data), size: 5 }]), {
          code: "ERR_MTRACK_REMOTE_AUTH",
        });
        await remote.close();
      }
      assert.deepEqual(fs.readdirSync(path.join(dir, "packs")), []);
      assert.deepEqual(fs.readdirSync(path.join(dir, "objects")), []);
      for (const p of ["/v1/packs", `/v1/packs/${"0".repeat(32)}.pack`, `/v1/packs/${"0".repeat(32)}.idx`]) {
        assert.equal((await raw(server.url, "GET", p)).status, 401, p);
      }
    });

    await t.test(
      "a pack download cut off mid-body fails the fetch (rerun to resume), leaves nothing, and the rerun completes",
      async () => {
        const { server, token } = await serve();
        const work = makeTempDir();
        let cut = true;
        let cuts = 0;
        // Forwards everything to the real server, but halves the body of pack data while `cut` holds.
        const proxy = await plainServer((req, res) => {
          const up = http.request(
            new URL(req.url ?? "/", server.url),
            { method: req.method, headers: req.headers },
            (r) => {
              res.writeHead(r.statusCode ?? 502, r.headers);
              if (!(cut && /^\/v1\/packs\/[0-9a-f]{32}\.pack$/.test(req.url ?? ""))) {
                r.pipe(res);
                return;
              }
              cuts++;
              const chunks: Buffer[] = [];
              r.on("data", (c: Buffer) => chunks.push(c));
              r.on("end", () => {
                const all = Buffer.concat(chunks);
                res.write(all.subarray(0, all.length >> 1), () => res.socket?.destroy());
              });
            },
          );
          req.pipe(up);
        });
        const remote = new HttpRemote({ url: proxy.url, token, attempts: 1 });
        try {
          const a = makeStore(path.join(work, "a"));
          const { roots, small } = await fillStore(a, work, { count: 1500 });
          await pushObjects(a, remote, roots);
          const b = makeStore(path.join(work, "b"));
          await assert.rejects(
            fetchObjects(b, remote, roots),
            (err: { message: string; data: { reason: string } }) => {
              assert.match(err.message, /cut off; rerun to resume/);
              assert.equal(err.data.reason, "unreachable");
              return true;
            },
          );
          assert.ok(cuts >= 1);
          assert.equal(b.has(small[10]!), false);
          assert.deepEqual(fs.readdirSync(b.tmpDir), []);
          cut = false;
          const rerun = await fetchObjects(b, remote, roots);
          assert.equal(fetchProblems(rerun), undefined);
          for (const h of small) assert.equal(b.has(h), true);
          assert.deepEqual(b.readObject(small[10]!), a.readObject(small[10]!));
        } finally {
          await remote.close();
          await proxy.close();
          removeTempDir(work);
        }
      },
    );

    await t.test("a fetch of many small objects copies the server's packs whole", async () => {
      const { dir, server, token } = await serve();
      const work = makeTempDir();
      const cacheDir = path.join(work, "cache");
      const remote = new HttpRemote({ url: server.url, token, attempts: 2, cacheDir });
      try {
        const a = makeStore(path.join(work, "a"));
        const { roots, small } = await fillStore(a, work, { count: 1500 });
        await pushObjects(a, remote, roots);
        const serverPacks = listPackIds(fs, path.join(dir, "packs")).complete;
        const listed = await remote.packList();
        assert.deepEqual(listed.map((p) => p.id).sort(), [...serverPacks].sort());
        const b = makeStore(path.join(work, "b"));
        const fetched = await fetchObjects(b, remote, roots);
        assert.equal(fetchProblems(fetched), undefined);
        assert.equal(fetched.objects, 1502);
        const local = listPackIds(fs, path.join(b.dir, "packs")).complete;
        assert.ok(
          serverPacks.some((id) => local.includes(id)),
          "a server pack arrived whole",
        );
        assert.deepEqual(b.readObject(small[42]!), a.readObject(small[42]!));
        // Indexes are cached by pack id; a damaged cached copy is downloaded again.
        const cached = fs.readdirSync(path.join(cacheDir, "packs")).sort();
        assert.deepEqual(cached, serverPacks.map((id) => `pack-${id}.idx`).sort());
        fs.writeFileSync(path.join(cacheDir, "packs", cached[0]!), "damaged");
        const again = new HttpRemote({ url: server.url, token, attempts: 2, cacheDir });
        assert.deepEqual((await again.packList()).map((p) => p.id).sort(), [...serverPacks].sort());
        await again.close();
        assert.deepEqual(
          fs.readFileSync(path.join(cacheDir, "packs", cached[0]!)),
          fs.readFileSync(path.join(dir, "packs", cached[0]!)),
        );
      } finally {
        await remote.close();
        removeTempDir(work);
      }
    });

    await t.test(
      "a revoked token is refused at once; a read token cannot write; --read-only refuses writes",
      async () => {
        const { dir, server, token } = await serve();
        const data = Buffer.from("x");
        revokeToken(tokensFileOf(dir), "test");
        const revoked = new HttpRemote({ url: server.url, token, attempts: 1 });
        await assert.rejects(revoked.putBatch([{ hash: hashBytes(data), data }]), {
          code: "ERR_MTRACK_REMOTE_AUTH",
        });
        await revoked.close();
        const { token: readToken } = createToken(tokensFileOf(dir), { name: "r", scope: "read" });
        const reader = new HttpRemote({ url: server.url, token: readToken, attempts: 1 });
        assert.equal((await reader.has([{ hash: hashBytes(data), size: 1 }])).size, 0);
        const r = await raw(server.url, "POST", "/v1/objects/batch", {
          token: readToken,
          body: encodeBatch([{ hash: hashBytes(data), data }]),
        });
        assert.equal(r.status, 403);
        await reader.close();

        const ro = await serve({ readOnly: true });
        const w = await raw(ro.server.url, "PUT", "/v1/refs/runs/abc", {
          token: ro.token,
          body: Buffer.from("x"),
        });
        assert.equal(w.status, 403);
      },
    );

    await t.test("public-read serves reads without a token but never writes", async () => {
      const { server } = await serve({ publicRead: true });
      assert.equal((await raw(server.url, "GET", "/v1/refs/runs")).status, 200);
      assert.equal(
        (await raw(server.url, "PUT", "/v1/refs/runs/abc", { body: Buffer.from("x") })).status,
        401,
      );
    });

    await t.test("path traversal in object ids and ref names is rejected and touches nothing", async () => {
      const { dir, server, token } = await serve();
      fs.writeFileSync(path.join(dir, "secret"), "s");
      const attempts: Array<[string, string]> = [
        ["GET", "/v1/objects/..%2F..%2Fsecret"],
        ["GET", "/v1/objects/..%2fsecret"],
        ["PUT", "/v1/objects/..%2F..%2Fevil"],
        ["GET", "/v1/refs/runs/..%2F..%2Fsecret"],
        ["PUT", "/v1/refs/runs/..%2F..%2Fevil"],
        ["PUT", "/v1/refs/..%2F..%2Fx/y"],
        ["GET", "/v1/refs/..%2F..%2F"],
        ["GET", "/v1/objects/../../secret"],
        ["GET", "/v1/packs/..%2F..%2Fsecret"],
        ["GET", "/v1/packs/..%2F..%2F..%2Fsecret.pack"],
        ["GET", "/v1/packs/0123456789abcdef0123456789abcdef.pack%2F..%2F..%2Fsecret"],
      ];
      for (const [method, p] of attempts) {
        const r = await raw(server.url, method, p, {
          token,
          body: method === "PUT" ? Buffer.from("evil") : undefined,
        });
        assert.ok(r.status === 400 || r.status === 404, `${method} ${p} → ${r.status}`);
        assert.ok(!r.body.includes('"s"'));
      }
      assert.deepEqual(
        fs.readdirSync(path.dirname(dir)).filter((n) => n === "evil"),
        [],
      );
      assert.equal(fs.existsSync(path.join(dir, "evil")), false);
    });

    await t.test("oversized bodies are refused with 413 (declared or streamed)", async () => {
      const { dir, server, token } = await serve({ objectBytes: 1000 });
      const big = Buffer.alloc(5000, 1);
      const r1 = await raw(server.url, "PUT", `/v1/objects/${hashBytes(big)}`, { token, body: big });
      assert.equal(r1.status, 413);
      const r2 = await raw(server.url, "POST", "/v1/objects/batch", {
        token,
        body: encodeBatch([{ hash: hashBytes(big), data: big }]),
      });
      assert.equal(r2.status, 413);
      const remote = new HttpRemote({ url: server.url, token, attempts: 1 });
      await assert.rejects(remote.putBatch([{ hash: hashBytes(big), data: big }]), {
        code: "ERR_MTRACK_INVALID_ARGUMENT",
      });
      await remote.close();
      assert.deepEqual(fs.readdirSync(path.join(dir, "packs")), []);
    });

    await t.test("an upload whose content does not match its id is refused", async () => {
      const { dir, server, token } = await serve();
      const data = Buffer.from("real content");
      const liar = Buffer.alloc(32, 7).toString("hex");
      const r = await raw(server.url, "POST", "/v1/objects/batch", {
        token,
        body: encodeBatch([{ hash: liar, data }]),
      });
      assert.equal(r.status, 400);
      const r2 = await raw(server.url, "PUT", `/v1/objects/${liar}`, { token, body: data });
      assert.equal(r2.status, 400);
      assert.deepEqual(fs.readdirSync(path.join(dir, "packs")), []);
      assert.deepEqual(fs.readdirSync(path.join(dir, "tmp")), []);
    });

    await t.test("two clients pushing at once: nothing lost", async () => {
      const dir = makeTempDir();
      try {
        const { server, token } = await serve();
        const a = makeStore(path.join(dir, "a"));
        const b = makeStore(path.join(dir, "b"));
        const fa = await fillStore(a, path.join(dir, "a"), { count: 30 });
        const fb = await fillStore(b, path.join(dir, "b"), { count: 45 });
        const ra = new HttpRemote({ url: server.url, token });
        const rb = new HttpRemote({ url: server.url, token });
        await Promise.all([
          pushObjects(a, ra, fa.roots, { jobs: 4 }),
          pushObjects(b, rb, fb.roots, { jobs: 4 }),
        ]);
        const all = [...fa.small, fa.large, ...fb.small, fb.large].map((hash) => ({ hash, size: 1 << 20 }));
        assert.equal((await ra.has(all)).size, new Set(all.map((o) => o.hash)).size);
        await ra.close();
        await rb.close();
      } finally {
        removeTempDir(dir);
      }
    });

    await t.test("an unreachable server is a clear error with reason unreachable", async () => {
      const remote = new HttpRemote({ url: "http://127.0.0.1:1", attempts: 2 });
      await assert.rejects(
        remote.listRefs("runs"),
        (err: { data: { reason: string } }) => err.data.reason === "unreachable",
      );
      await remote.close();
    });
  } finally {
    for (const s of servers) {
      await s.server.close();
      removeTempDir(s.dir);
    }
  }
});

/** A plain HTTP server standing in for a proxy in front of `mtrack server`: `serve` answers every request. */
async function plainServer(
  serve: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => serve(req, res, ++n));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test("http remote: large downloads read a plain 200 directly and leave anything else to the HTTP client", async () => {
  const data = Buffer.alloc(3 << 20);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  const hash = hashBytes(data);
  const collect = async (remote: HttpRemote, h: string) => {
    const chunks: Buffer[] = [];
    // Chunks are only valid during the call: copy them, as a consumer that keeps them must.
    const found = await remote.readChunks(h, (c) => chunks.push(Buffer.from(c)));
    return { found, bytes: Buffer.concat(chunks) };
  };
  const answers: string[] = [];
  const proxy = await plainServer((req, res) => {
    if (req.url === `/v1/objects/${hash}`) {
      if (req.headers.authorization !== "Bearer tok") {
        answers.push("401");
        res.writeHead(401).end();
        return;
      }
      // A chunked answer (no Content-Length), as some proxies send: the direct read gives way.
      answers.push("chunked");
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.write(data.subarray(0, 1000));
      res.end(data.subarray(1000));
      return;
    }
    answers.push("404");
    res
      .writeHead(404, { "content-type": "application/json" })
      .end('{"error":{"code":"ERR_MTRACK_OBJECT_MISSING"}}');
  });
  try {
    const remote = new HttpRemote({ url: proxy.url, token: "tok", attempts: 1 });
    const got = await collect(remote, hash);
    assert.equal(got.found, true);
    assert.ok(got.bytes.equals(data));
    assert.deepEqual(answers, ["chunked", "chunked"], "the direct try, then the HTTP client");
    assert.deepEqual(await collect(remote, "0".repeat(64)), { found: false, bytes: Buffer.alloc(0) });
    await remote.close();
    const anonymous = new HttpRemote({ url: proxy.url, attempts: 1 });
    await assert.rejects(
      collect(anonymous, hash),
      (err: { data: { reason: string } }) => err.data.reason === "auth",
    );
    await anonymous.close();
  } finally {
    await proxy.close();
  }
});

test("http remote: a large download cut off mid-body stores nothing and the rerun fetches it", async () => {
  const dir = makeTempDir();
  const origin = makeStore(path.join(dir, "origin"));
  const { roots, large } = await fillStore(origin, dir, { count: 2, largeBytes: 3 << 20 });
  const bytes = origin.readObject(large);
  let cut = true;
  const server = await plainServer((req, res) => {
    if (req.url !== `/v1/objects/${large}`) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
    if (!cut) {
      res.end(bytes);
      return;
    }
    // Half the body, then the connection drops.
    res.write(bytes.subarray(0, bytes.length >> 1), () => res.socket?.destroy());
  });
  try {
    const remote = new HttpRemote({ url: server.url, attempts: 1 });
    const b = makeStore(path.join(dir, "b"));
    const big = roots.filter((r) => r.hash === large);
    await assert.rejects(
      fetchObjects(b, remote, big),
      (err: { message: string; data: { reason: string } }) => {
        assert.match(err.message, /cut off; rerun to resume/);
        assert.equal(err.data.reason, "unreachable");
        return true;
      },
    );
    assert.equal(b.has(large), false);
    assert.deepEqual(fs.readdirSync(b.tmpDir), []);
    cut = false;
    const rerun = await fetchObjects(b, remote, big);
    assert.equal(rerun.objects, 1);
    assert.equal(b.verify(large), "ok");
    await remote.close();
  } finally {
    await server.close();
    removeTempDir(dir);
  }
});
