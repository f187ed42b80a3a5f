/**
 * The store API of `mtrack server` (mounted under /v1): batched existence checks, batched small-object
 * upload and download, streamed large objects, whole packs for fetches (`GET /packs`, `GET
 * /packs/<id>.pack|idx`), and refs. Every id and name is validated before it
 * touches the filesystem, and every uploaded object is hashed before it is stored.
 */
import * as nodeFs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { errnoCode } from "../errors.js";
import type { LocalRemote } from "../remotes/local.js";
import { isRefKind, isRefName } from "../remotes/names.js";
import { BATCH_BYTES, SMALL_OBJECT_LIMIT } from "../remotes/types.js";
import { type BatchRecord, BatchStatus, decodeBatch, decodeHashList, encodeBatch } from "../remotes/wire.js";
import { hashBytes, isHash } from "../store/hash.js";
import type { Hash } from "../store/types.js";
import { receiveInto } from "../transfer/receive.js";
import { safeUnlink, tmpName } from "../util/fs.js";
import { readBody, sendBytes, sendJson } from "./http-util.js";
import { HttpError, Router } from "./router.js";

/** Body limits of the store API. */
export interface StoreApiLimits {
  /** Hash lists (has/get): default 200k hashes. */
  hashListBytes: number;
  /** One batch upload. */
  batchBytes: number;
  /** One streamed object. */
  objectBytes: number;
  /** One ref. */
  refBytes: number;
  /** The keep set of a collection (`gc --cloud`): default 64 MiB, 2M hashes. */
  collectBytes: number;
}

/** The limits `mtrack server` uses unless told otherwise. */
export const DEFAULT_LIMITS: StoreApiLimits = {
  hashListBytes: 200_000 * 32,
  batchBytes: 4 * BATCH_BYTES,
  objectBytes: 2 ** 40,
  refBytes: 64 << 10,
  collectBytes: 64 << 20,
};

function badId(what: string): HttpError {
  return new HttpError(400, `Invalid ${what}.`, "ERR_MTRACK_INVALID_NAME");
}

/**
 * Read size for streamed objects. The read stream's default (64 KiB) held `GET /objects/:hash` to about
 * 500 MB/s on loopback, a read and a socket write per 64 KiB; 2 MiB reads serve 1 GiB in ~0.5 s.
 */
const SEND_CHUNK = 2 << 20;

/** A file's size (from its open descriptor) and a stream of its bytes in SEND_CHUNK reads; undefined when absent. */
function openFile(file: string): { size: number; body: Readable } | undefined {
  let fd: number;
  try {
    fd = nodeFs.openSync(file, "r");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
  try {
    const size = nodeFs.fstatSync(fd).size;
    return { size, body: nodeFs.createReadStream("", { fd, highWaterMark: SEND_CHUNK }) };
  } catch (err) {
    nodeFs.closeSync(fd);
    throw err;
  }
}

/**
 * An object's size and a stream of its bytes, or undefined when absent. A loose object (every large one)
 * is opened once and sized from its descriptor, with large reads; a packed one comes from the remote.
 */
async function openObject(
  remote: LocalRemote,
  hash: Hash,
): Promise<{ size: number; body: Readable } | undefined> {
  const loose = openFile(remote.store.loosePath(hash));
  if (loose) return loose;
  const size = remote.sizeOf(hash);
  const body = size === undefined ? undefined : await remote.open(hash);
  return size === undefined || !body ? undefined : { size, body };
}

/** Answers 200 with a stream's bytes (HEAD: only the length). */
async function sendStream(
  req: IncomingMessage,
  res: ServerResponse,
  { size, body }: { size: number; body: Readable },
): Promise<void> {
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
  if (req.method === "HEAD") {
    body.destroy();
    res.end();
    return;
  }
  await pipeline(body, res);
}

/** What a server does besides storing (the team server records pushed runs in its database). */
export interface StoreApiHooks {
  /**
   * Called with a pushed ref before it is written (its objects are already stored); a throw refuses the
   * ref, so the client's push fails and a rerun sends it again.
   */
  beforeRefWrite?: (
    name: string,
    data: Buffer,
    user: string | undefined,
    remote: LocalRemote,
  ) => Promise<void>;
  /**
   * Objects a collection (`gc --cloud`) must keep besides the client's keep set: what only the server
   * knows refers to them (the team server's database: artifacts logged over the MLflow API).
   */
  alsoKeep?: () => Promise<Iterable<Hash>>;
  /**
   * Called before a listing of refs of one kind is answered (the team server appends to its registry
   * log the events the database's registry has and the log lacks); a throw answers the error.
   */
  beforeRefList?: (kind: string, remote: LocalRemote) => Promise<void>;
  /**
   * Refs the server serves besides the stored ones (the team server: its database runs as `runs/<id>`),
   * given the stored names of the kind; listed with them.
   */
  moreRefs?: (kind: string, stored: string[], remote: LocalRemote) => Promise<string[]>;
  /** The body of a ref the store lacks (one of `moreRefs`), or undefined. */
  readMoreRef?: (name: string, remote: LocalRemote) => Promise<Buffer | undefined>;
  /**
   * Objects served from elsewhere when the store lacks them (the team server's `s3://` objects: the
   * artifacts of runs logged over the MLflow API): their sizes (absent ones left out), and a stream of one.
   */
  elsewhere?: {
    sizes(hashes: Hash[]): Promise<Map<Hash, number>>;
    open(hash: Hash): Promise<Readable | undefined>;
  };
}

/**
 * The store routes over one store directory.
 *
 * @example
 * new Router().mount("/v1", storeApi(LocalRemote.open({ dir, create: true })));
 */
export function storeApi(
  remote: LocalRemote,
  limits: StoreApiLimits = DEFAULT_LIMITS,
  hooks: StoreApiHooks = {},
): Router {
  const store = remote.store;
  const router = new Router();
  router.add({
    method: "POST",
    pattern: "/objects/has",
    access: "read",
    handler: async ({ req, res }) => {
      const hashes = decodeHashList(await readBody(req, limits.hashListBytes));
      const present = await remote.has(hashes.map((hash) => ({ hash, size: 0 })));
      sendBytes(res, Buffer.from(hashes.map((h) => (present.has(h) ? 1 : 0))));
    },
  });
  router.add({
    method: "POST",
    pattern: "/objects/batch",
    access: "write",
    handler: async ({ req, res }) => {
      const records = decodeBatch(await readBody(req, limits.batchBytes));
      const objects = [];
      for (const r of records) {
        if (r.status !== BatchStatus.Data || !r.data)
          throw new HttpError(400, "Upload records must carry data.");
        if (hashBytes(r.data) !== r.hash) {
          throw new HttpError(
            400,
            `Object ${r.hash} does not match its content.`,
            "ERR_MTRACK_OBJECT_CORRUPT",
          );
        }
        objects.push({ hash: r.hash, data: r.data });
      }
      await remote.putBatch(objects);
      sendJson(res, 200, { stored: objects.length });
    },
  });
  router.add({
    method: "POST",
    pattern: "/objects/verify",
    access: "read",
    handler: async ({ req, res }) => {
      // `push --repair`: this server hashes its own copies; 1 marks an object with a damaged copy.
      const hashes = decodeHashList(await readBody(req, limits.hashListBytes));
      const bad = await remote.verify(hashes.map((hash) => ({ hash, size: 0 })));
      sendBytes(res, Buffer.from(hashes.map((h) => (bad.has(h) ? 1 : 0))));
    },
  });
  router.add({
    method: "POST",
    pattern: "/objects/drop-corrupt",
    access: "write",
    handler: async ({ req, res }) => {
      // Only copies that fail their hash here go (LocalRemote.dropObjects checks): a client cannot make
      // the server drop a good object, and what replaces a dropped one is hashed on upload like any other.
      const hashes = decodeHashList(await readBody(req, limits.hashListBytes));
      await remote.dropObjects(hashes);
      sendJson(res, 200, { ok: true });
    },
  });
  router.add({
    method: "POST",
    pattern: "/objects/get",
    access: "read",
    handler: async ({ req, res }) => {
      const hashes = decodeHashList(await readBody(req, limits.hashListBytes));
      const out: BatchRecord[] = [];
      let budget = BATCH_BYTES;
      const absent = hooks.elsewhere ? hashes.filter((h) => remote.sizeOf(h) === undefined) : [];
      const away = absent.length > 0 ? await hooks.elsewhere!.sizes(absent) : new Map<Hash, number>();
      for (const hash of hashes) {
        const size = remote.sizeOf(hash) ?? away.get(hash);
        if (size === undefined) out.push({ hash, status: BatchStatus.Absent });
        else if (size >= SMALL_OBJECT_LIMIT) out.push({ hash, status: BatchStatus.Large });
        else if (size > budget && budget < BATCH_BYTES) out.push({ hash, status: BatchStatus.Deferred });
        else if (away.has(hash)) {
          const body = await hooks.elsewhere!.open(hash);
          if (!body) out.push({ hash, status: BatchStatus.Absent });
          else {
            out.push({ hash, status: BatchStatus.Data, data: await buffer(body) });
            budget -= size;
          }
        } else {
          out.push({ hash, status: BatchStatus.Data, data: remote.read(hash) });
          budget -= size;
        }
      }
      sendBytes(res, encodeBatch(out));
    },
  });
  router.add({
    method: "GET",
    pattern: "/objects/:hash",
    access: "read",
    handler: async ({ req, res, params }) => {
      const hash = params.hash ?? "";
      if (!isHash(hash)) throw badId("object id");
      let object = await openObject(remote, hash);
      if (!object && hooks.elsewhere) {
        const size = (await hooks.elsewhere.sizes([hash])).get(hash);
        const body = size === undefined ? undefined : await hooks.elsewhere.open(hash);
        if (size !== undefined && body) object = { size, body };
      }
      if (!object) throw new HttpError(404, `No object ${hash}.`, "ERR_MTRACK_OBJECT_MISSING");
      await sendStream(req, res, object);
    },
  });
  router.add({
    method: "PUT",
    pattern: "/objects/:hash",
    access: "write",
    handler: async ({ req, res, params }) => {
      const hash = params.hash ?? "";
      if (!isHash(hash)) throw badId("object id");
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > limits.objectBytes) {
        throw new HttpError(413, `Object of ${declared} bytes is over the limit of ${limits.objectBytes}.`);
      }
      if (store.has(hash)) {
        req.resume();
        sendJson(res, 200, { stored: 0 });
        return;
      }
      const tmp = tmpName(store.tmpDir, "upload");
      let size = 0;
      try {
        const got = await receiveInto(req, tmp, {
          onChunk: (n) => {
            size += n;
            if (size > limits.objectBytes) throw new HttpError(413, "Object is over the size limit.");
          },
        });
        // A dropped upload ends the stream early: the hash check below refuses what arrived.
        if (got.hash !== hash) {
          throw new HttpError(400, `Object ${hash} does not match its content.`, "ERR_MTRACK_OBJECT_CORRUPT");
        }
        store.adoptVerifiedFile(tmp, hash);
      } finally {
        safeUnlink(tmp);
      }
      sendJson(res, 200, { stored: 1 });
    },
  });
  router.add({
    method: "POST",
    pattern: "/objects/collect",
    access: "write",
    handler: async ({ req, res, url }) => {
      const keepNewer = url.searchParams.get("keepNewerMs");
      if (keepNewer === null || !/^\d{1,15}$/.test(keepNewer))
        throw new HttpError(400, "keepNewerMs must be given as a whole number of milliseconds.");
      const keep = new Set(decodeHashList(await readBody(req, limits.collectBytes)));
      for (const h of (await hooks.alsoKeep?.()) ?? []) keep.add(h);
      const result = await remote.collect(keep, {
        keepNewerMs: Number(keepNewer),
        dryRun: url.searchParams.get("dry") === "1",
      });
      sendJson(res, 200, { result });
    },
  });
  router.add({
    method: "GET",
    pattern: "/packs",
    access: "read",
    handler: async ({ res }) => {
      sendJson(res, 200, { packs: remote.packIds() });
    },
  });
  router.add({
    method: "GET",
    pattern: "/packs/:file",
    access: "read",
    handler: async ({ req, res, params }) => {
      const m = /^(.*)\.(pack|idx)$/.exec(params.file ?? "");
      const file = m && remote.packFilePath(m[1]!, m[2] as "pack" | "idx");
      if (!file) throw badId("pack file name");
      const pack = openFile(file);
      if (!pack) throw new HttpError(404, `No pack file ${params.file}.`, "ERR_MTRACK_OBJECT_MISSING");
      await sendStream(req, res, pack);
    },
  });
  router.add({
    method: "GET",
    pattern: "/refs/:kind",
    access: "read",
    handler: async ({ res, params }) => {
      const kind = params.kind ?? "";
      if (!isRefKind(kind)) throw badId("ref kind");
      await hooks.beforeRefList?.(kind, remote);
      const stored = await remote.listRefs(kind);
      const more = (await hooks.moreRefs?.(kind, stored, remote)) ?? [];
      sendJson(res, 200, { refs: more.length === 0 ? stored : [...new Set([...stored, ...more])].sort() });
    },
  });
  router.add({
    method: "GET",
    pattern: "/refs/:kind/:id",
    access: "read",
    handler: async ({ res, params }) => {
      const name = `${params.kind}/${params.id}`;
      if (!isRefName(name)) throw badId("ref name");
      const data = (await remote.readRef(name)) ?? (await hooks.readMoreRef?.(name, remote));
      if (data === undefined) throw new HttpError(404, `No ref ${name}.`, "ERR_MTRACK_RUN_NOT_FOUND");
      sendBytes(res, data);
    },
  });
  router.add({
    method: "PUT",
    pattern: "/refs/:kind/:id",
    access: "write",
    handler: async ({ req, res, params, user }) => {
      const name = `${params.kind}/${params.id}`;
      if (!isRefName(name)) throw badId("ref name");
      const data = await readBody(req, limits.refBytes);
      await hooks.beforeRefWrite?.(name, data, user, remote);
      await remote.writeRef(name, data);
      sendJson(res, 200, { stored: 1 });
    },
  });
  return router;
}
